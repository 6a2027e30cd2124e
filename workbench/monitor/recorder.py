"""Recording production calls: one event per model call, stamped with the prompt's identity.

`record()` never blocks the caller and never raises into the request path: it puts a small
dict on a queue; a background thread writes whole JSON lines (one `write` each, so a crash
leaves at most a torn last line, which ingest skips and reports). When OpenTelemetry is
installed and enabled, each call also becomes a span with the `gen_ai.*` attributes.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger("workbench.monitor")

DEFAULT_PATH = Path(".workbench") / "events" / "events.jsonl"
IDENTITY_FIELDS = ("name", "version", "commit", "env", "arm")


def identity_of(prompt: Any) -> dict[str, Any]:
    """name/version/commit/env/arm of what `PromptRepo.get` returned, or of its render() output."""
    source = getattr(prompt, "identity", None) or prompt
    if isinstance(source, dict):
        return {key: source.get(key) for key in IDENTITY_FIELDS}
    return {key: getattr(source, key, None) for key in IDENTITY_FIELDS}


class Recorder:
    """A JSONL sink with a writer thread, plus optional OpenTelemetry spans."""

    def __init__(self, path: Path | str | None = None, *, otel: bool | None = None, model: str | None = None) -> None:
        self.path = Path(path or os.environ.get("WORKBENCH_EVENTS") or DEFAULT_PATH)
        self.model = model
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._flushed = threading.Condition()
        self._pending = 0
        self._tracer: Any = None
        if otel is not False:
            self._tracer = _tracer() if otel or _otel_available() else None

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_loop, name="workbench-monitor", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def record(
        self,
        prompt: Any,
        *,
        latency_ms: float | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost: float | None = None,
        error: str | None = None,
        score: float | None = None,
        feedback: float | str | None = None,
        call_id: str | None = None,
    ) -> str:
        """Queue one event and return its call id (for `record_feedback` later)."""
        event = identity_of(prompt)
        event["call_id"] = call_id or uuid.uuid4().hex
        event["ts"] = time.time()
        event["latency_ms"] = latency_ms
        event["input_tokens"] = input_tokens
        event["output_tokens"] = output_tokens
        event["cost"] = cost
        event["error"] = error
        event["score"] = score
        event["feedback"] = feedback
        self._enqueue(event)
        if self._tracer is not None:
            self._span(event)
        return str(event["call_id"])

    def record_feedback(self, call_id: str, *, feedback: float | str | None = None, score: float | None = None) -> None:
        self._enqueue({"type": "feedback", "call_id": call_id, "ts": time.time(), "feedback": feedback, "score": score})

    def _enqueue(self, event: dict[str, Any]) -> None:
        if self._thread is None:
            self._start()
        with self._flushed:
            self._pending += 1
        self._queue.put(event)

    def _write_loop(self) -> None:
        handle = None
        while True:
            event = self._queue.get()
            batch = [event]
            while True:  # drain what is there: one write per batch of lines
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch
            lines = "".join(json.dumps(e, separators=(",", ":"), default=str) + "\n" for e in batch if e is not None)
            try:
                if handle is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    handle = self.path.open("a", encoding="utf-8")
                handle.write(lines)
                handle.flush()
            except OSError as err:  # never raise into the application
                log.warning("workbench monitor: cannot write %s: %s", self.path, err)
                handle = None
            with self._flushed:
                self._pending -= sum(1 for e in batch if e is not None)
                self._flushed.notify_all()
            if stop:
                if handle is not None:
                    handle.close()
                return

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued event is written."""
        deadline = time.monotonic() + timeout
        with self._flushed:
            while self._pending > 0 and time.monotonic() < deadline:
                self._flushed.wait(0.05)

    def _span(self, event: dict[str, Any]) -> None:
        try:
            end = time.time_ns()
            start = end - int((event.get("latency_ms") or 0) * 1_000_000)
            span = self._tracer.start_span(f"chat {event.get('name')}", start_time=start)
            attributes = {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": self.model or "",
                "gen_ai.usage.input_tokens": event.get("input_tokens"),
                "gen_ai.usage.output_tokens": event.get("output_tokens"),
                "prompt.name": event.get("name"),
                "prompt.version": event.get("version"),
                "prompt.commit": event.get("commit"),
                "prompt.env": event.get("env"),
                "prompt.arm": event.get("arm"),
                "workbench.call_id": event.get("call_id"),
                "workbench.cost": event.get("cost"),
                "workbench.score": event.get("score"),
            }
            if event.get("error"):
                attributes["error.type"] = str(event["error"])
            span.set_attributes({k: v for k, v in attributes.items() if v is not None})
            span.end(end_time=end)
        except Exception as err:  # tracing must never break a request
            log.warning("workbench monitor: span failed: %s", err)


def _otel_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("opentelemetry") is not None and os.environ.get("WORKBENCH_OTEL", "1") != "0"


def _tracer() -> Any:
    from opentelemetry import trace

    return trace.get_tracer("workbench.monitor")


_default: Recorder | None = None
_default_lock = threading.Lock()


def configure(path: Path | str | None = None, *, otel: bool | None = None, model: str | None = None) -> Recorder:
    """Set where `record()` writes (and whether it emits spans); returns the recorder."""
    global _default
    with _default_lock:
        if _default is not None:
            _default.flush()
        _default = Recorder(path, otel=otel, model=model)
        return _default


def _recorder() -> Recorder:
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Recorder()
    return _default


def record(prompt: Any, **fields: Any) -> str:
    """Record one model call made with `prompt` (see `Recorder.record`). Never raises."""
    try:
        return _recorder().record(prompt, **fields)
    except Exception as err:
        log.warning("workbench monitor: record failed: %s", err)
        return ""


def record_feedback(call_id: str, *, feedback: float | str | None = None, score: float | None = None) -> None:
    try:
        _recorder().record_feedback(call_id, feedback=feedback, score=score)
    except Exception as err:
        log.warning("workbench monitor: feedback failed: %s", err)


def flush() -> None:
    if _default is not None:
        _default.flush()
