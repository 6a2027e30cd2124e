"""Recording production calls: one event per model call, stamped with the prompt's identity.

`record()` never blocks the caller and never raises into the request path: it puts a small
dict on a queue; a background thread writes whole JSON lines (one `write` each, so a crash
leaves at most a torn last line, which ingest skips and reports). When the file is opened and
ends in such a fragment, a newline ends it first: only the torn event is lost, never the next.
When OpenTelemetry is installed and enabled, each call also becomes a span with the `gen_ai.*`
attributes.

A write that fails (a full disk, a folder that cannot be written) loses nothing that was
queued: the lines that reached the file whole are counted as `written`, the rest (a line cut
short included: it is written again whole, after the newline that ends its fragment) stay
queued and are written again every `retry_s` (1 s) with whatever came meanwhile, until a write
succeeds. Each failed write is counted (`stats()["write_errors"]`) and closes the file, so the
next attempt opens the path again. The first failure is logged at once with its cause in words
(a parent that is a file, not a folder; no space left; a read-only file system; no
permission); while writes keep failing, at most one warning per minute (`warn_every_s`, or at
once when the cause changes) says how many failed since, and the first write that works again
says so.

Bad input never stops recording:
- values are coerced to what ingest accepts: `error` and `feedback` to text (`str()`, or
  `"<unprintable>"`, cut to MAX_TEXT_CHARS), lone surrogates in any text to `?`, numbers that
  are not numbers (a string, NaN, an object) to null, a NaN or infinite `feedback` to null (JSON
  has no NaN: it was written as the text "nan"), whole numbers for tokens (above 2**53, ingest's
  limit, null); the call id and the identity fields to text of at most MAX_TEXT_CHARS, a longer
  one cut and ended with `~` and 16 hex digits of a hash of the whole (two ids that differ
  after the cut stay two; `record_feedback` cuts the same way). Every text field capped, a line
  stays far below ingest's MAX_LINE_BYTES; a missing or empty prompt name (`record()` given
  rendered text, not the prompt) to "(unknown)". Each coercion is counted (`stats()["coerced"]`);
- a line that still cannot be written as JSON is dropped and counted (`dropped_bad`);
- the writer thread survives anything, and is restarted if it ever stops.

The queue is bounded (`max_queue`, default 100,000 events not yet written, those kept after a
failed write included). When the writer falls that far behind (a stalled or full disk), the
**newest** events are dropped and counted (`stats()["dropped_queue_full"]`, one warning logged
per 10,000): the application's memory stays bounded and what was already queued is still
written once the disk takes it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import math
import os
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from workbench.core.after_fork import renew_after_fork
from workbench.core.state_folder import STATE_FOLDER, make_store_folder
from workbench.monitor.limits import MAX_TEXT_CHARS
from workbench.monitor.log_writes import (
    WARN_EVERY_S,
    FailureWarnings,
    WriteFailed,
    append,
    ends_torn,
    whole_lines,
)

log = logging.getLogger("workbench.monitor")

DEFAULT_PATH = Path(STATE_FOLDER) / "events" / "events.jsonl"
IDENTITY_FIELDS = ("name", "version", "commit", "env", "arm")
MAX_QUEUE = 100_000
UNPRINTABLE = "<unprintable>"
UNKNOWN_NAME = "(unknown)"  # the name of a call recorded without one (ingest shows a missing version so)


def identity_of(prompt: Any) -> dict[str, Any]:
    """name/version/commit/env/arm of what `PromptRepo.get` returned, or of its render() output."""
    source = getattr(prompt, "identity", None) or prompt
    if isinstance(source, dict):
        return {key: source.get(key) for key in IDENTITY_FIELDS}
    return {key: getattr(source, key, None) for key in IDENTITY_FIELDS}


class Recorder:
    """A JSONL sink with a writer thread, plus optional OpenTelemetry spans."""

    retry_s = 1.0  # after a failed write its events are written again this much later
    warn_every_s = WARN_EVERY_S  # while writes keep failing: at most one warning this often

    def __init__(
        self, path: Path | str | None = None, *, otel: bool | None = None, model: str | None = None, max_queue: int = MAX_QUEUE
    ) -> None:
        self.path = Path(path or os.environ.get("WORKBENCH_EVENTS") or DEFAULT_PATH)
        self.model = model
        self.max_queue = max(1, max_queue)
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._flushed = threading.Condition()
        self._pending = 0
        self._handle: Any = None
        self._unwritten: list[str] = []
        self._retry_at = 0.0
        self._warnings = FailureWarnings(log, self.path)
        self._counts = {"written": 0, "dropped_queue_full": 0, "dropped_bad": 0, "write_errors": 0, "coerced": 0}
        self._tracer: Any = None
        if otel is not False:
            self._tracer = _tracer() if otel or _otel_available() else None
        renew_after_fork(self)

    def renew_after_fork(self) -> None:
        """In a forked worker: its own locks, queue and writer thread (started at its first
        event). A lock the parent's writer held at the fork was held for ever in the child, whose
        every `record()` then hung the request; the parent's queued events stay the parent's."""
        self._lock = threading.Lock()
        self._flushed = threading.Condition()
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._pending = 0
        self._unwritten = []
        self._retry_at = 0.0
        self._warnings = FailureWarnings(log, self.path)  # not the parent's failures
        self._handle = None  # this copy of the parent's file dropped; opened again at the next write
        self._counts = dict.fromkeys(self._counts, 0)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                first = self._thread is None
                self._thread = threading.Thread(target=self._write_loop, name="workbench-monitor", daemon=True)
                self._thread.start()
                if first:
                    atexit.register(self.flush)

    def stats(self) -> dict[str, int]:
        """Counters: written (lines that reached the file whole), queued (not yet written, those a
        failed write kept included), dropped_queue_full, dropped_bad, write_errors (failed writes,
        not events: their events stay queued), coerced."""
        with self._flushed:
            return {**self._counts, "queued": self._pending}

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
        for key in IDENTITY_FIELDS:
            value = event[key]
            if value is not None and (type(value) is not str or not value.isascii() or len(value) > MAX_TEXT_CHARS):
                event[key] = self._key(value)
        if not event["name"]:  # ingest refuses a call without a name: it was lost
            self._coerced()
            event["name"] = UNKNOWN_NAME
        event["call_id"] = call_id if type(call_id) is str and call_id.isascii() and 0 < len(call_id) <= MAX_TEXT_CHARS else (self._key(call_id) if call_id else uuid.uuid4().hex)
        event["ts"] = time.time()
        event["latency_ms"] = latency_ms if type(latency_ms) is float and latency_ms >= 0 else self._number(latency_ms, 0.0)
        event["input_tokens"] = input_tokens if type(input_tokens) is int and 0 <= input_tokens <= 2**53 else self._whole(input_tokens)
        event["output_tokens"] = output_tokens if type(output_tokens) is int and 0 <= output_tokens <= 2**53 else self._whole(output_tokens)
        event["cost"] = cost if type(cost) is float and math.isfinite(cost) else self._number(cost, None)
        event["error"] = error if error is None or _plain(error) else self._text(error, MAX_TEXT_CHARS)
        event["score"] = score if type(score) is float and math.isfinite(score) else self._number(score, None)
        event["feedback"] = feedback if feedback is None or _plain(feedback) else self._feedback(feedback)
        self._enqueue(event)
        if self._tracer is not None:
            self._span(event)
        return str(event["call_id"])

    def record_feedback(self, call_id: str, *, feedback: float | str | None = None, score: float | None = None) -> None:
        self._enqueue(
            {
                "type": "feedback",
                "call_id": call_id if type(call_id) is str and call_id.isascii() and len(call_id) <= MAX_TEXT_CHARS else self._key(call_id),
                "ts": time.time(),
                "feedback": feedback if feedback is None or _plain(feedback) else self._feedback(feedback),
                "score": score if type(score) is float and math.isfinite(score) else self._number(score, None),
            }
        )

    # Coercions (the slow path: only for values of an unexpected type), each one counted.
    def _coerced(self) -> None:
        with self._flushed:
            self._counts["coerced"] += 1

    def _text(self, value: Any, cap: int | None = None) -> str:
        """Any value as text ingest accepts: `str()` (or UNPRINTABLE), lone surrogates as `?`
        (JSON wrote them as \\ud800, which ingest refuses: the call was lost), cut to `cap`."""
        if type(value) is not str:
            self._coerced()
            try:
                value = str(value)
            except Exception:
                return UNPRINTABLE
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self._coerced()
            value = value.encode("utf-8", "replace").decode("utf-8")
        if cap is not None and len(value) > cap:
            self._coerced()
            value = value[:cap]
        return str(value)

    def _key(self, value: Any) -> str:
        """A call id or identity field as text ingest accepts, at most MAX_TEXT_CHARS: a longer one
        is cut and ends in `~` and a hash of the whole (16 hex digits), so two that differ only
        after the cut stay two, and `record_feedback` with the same long id finds its call."""
        text = self._text(value)
        if len(text) <= MAX_TEXT_CHARS:
            return text
        import hashlib

        self._coerced()
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()
        return f"{text[: MAX_TEXT_CHARS - 17]}~{digest}"

    def _feedback(self, value: Any) -> str | float | None:
        if type(value) is float and not math.isfinite(value):  # JSON has no NaN: it was written as the text "nan"
            self._coerced()
            return None
        if type(value) in (int, float, bool):
            return value
        return self._text(value, MAX_TEXT_CHARS)

    def _number(self, value: Any, low: float | None) -> float | None:
        if value is None:
            return None
        if type(value) is not bool:
            try:
                number = float(value)
                if math.isfinite(number) and (low is None or number >= low):
                    if type(value) is not int:
                        self._coerced()
                    return number
            except Exception:
                pass
        self._coerced()
        return None

    def _whole(self, value: Any) -> int | None:
        if type(value) is int and value > 2**53:  # ingest's limit (a float holds whole numbers up to it)
            self._coerced()
            return None
        number = self._number(value, 0.0)
        if number is None:
            return None
        if not number.is_integer() or number > 2**53:
            self._coerced()
            return None
        return int(number)

    def _enqueue(self, event: dict[str, Any]) -> None:
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._start()
        with self._flushed:
            if self._pending >= self.max_queue:
                self._counts["dropped_queue_full"] += 1
                dropped = self._counts["dropped_queue_full"]
                if dropped % 10_000 == 1:
                    log.warning("workbench monitor: the event queue is full (%d not yet written); dropped %d new event(s) so far", self._pending, dropped)
                return
            self._pending += 1
        self._queue.put(event)

    def _write_loop(self) -> None:
        unwritten = self._unwritten  # lines a failed write left (counted in `queued`), oldest first
        while True:
            if unwritten:  # a write failed: try again `retry_s` later, with what came meanwhile
                time.sleep(max(0.0, self._retry_at - time.monotonic()))
                batch: list[dict[str, Any] | None] = []
            else:
                batch = [self._queue.get()]
            while True:  # drain what is there: one write per batch of lines
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            bad = 0
            for event in batch:
                if event is not None:
                    line = _dumps(event)
                    if line is None:
                        bad += 1
                    else:
                        unwritten.append(line)
            written = self._write_lines(unwritten) if unwritten else 0
            del unwritten[:written]
            with self._flushed:
                self._pending -= written + bad
                self._counts["written"] += written
                self._counts["dropped_bad"] += bad
                self._flushed.notify_all()
            if None in batch:
                self._close()
                return

    def _write_lines(self, lines: list[str]) -> int:
        """Write `lines` (one `write`); how many reached the file whole. The writer never dies:
        a failure is counted and logged (rarely), the file closed, the rest kept for `retry_s`."""
        try:
            self._write("".join(lines))
        except Exception as err:
            self._close()
            self._retry_at = time.monotonic() + self.retry_s
            with self._flushed:
                self._counts["write_errors"] += 1
                kept = self._pending
            written = whole_lines(lines, err.done) if isinstance(err, WriteFailed) else 0
            self._warnings.failed(err, kept - written, self.retry_s, self.warn_every_s)
            return written  # a line cut short is written again whole, after a newline
        self._warnings.recovered(len(lines))
        return len(lines)

    def _write(self, lines: str) -> None:
        """Append `lines`; if that fails, `WriteFailed` says how many characters reached the file."""
        if self._handle is not None and not self._still_the_path(self._handle):
            self._close()
        torn = False
        if self._handle is None:
            self._handle = self._open()
            torn = ends_torn(self.path)
        append(self._handle, lines, torn=torn)

    def _open(self) -> Any:
        """The log, opened to append without a buffer: each write says how many bytes it wrote."""
        make_store_folder(self.path.parent)
        return open(self.path, "ab", buffering=0)

    def _still_the_path(self, handle: Any) -> bool:
        """Whether the path still names the open file, as logging's WatchedFileHandler checks.

        A kept handle wrote on into a rotated (renamed) or deleted log, counted as written, and
        the path was never created again. One stat per batch of lines, not per event."""
        try:
            named, opened = os.stat(self.path), os.fstat(handle.fileno())
        except OSError:  # the path is gone (or unreadable): open it again
            return False
        return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)

    def _close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued event is written, or a write fails (its events are kept and
        written again `retry_s` later: waiting longer would only hold up the caller)."""
        deadline = time.monotonic() + timeout
        with self._flushed:
            failures = self._counts["write_errors"]
            while self._pending > 0 and self._counts["write_errors"] == failures and time.monotonic() < deadline:
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


def _plain(text: Any) -> bool:
    """Text written as it is (the common case, no copy): ASCII, so no lone surrogate, and not too long."""
    return type(text) is str and text.isascii() and len(text) <= MAX_TEXT_CHARS


def _dumps(event: dict[str, Any]) -> str | None:
    """One JSON line; values JSON cannot hold become text; None if even that fails."""
    try:
        return json.dumps(event, separators=(",", ":"), default=str, allow_nan=False) + "\n"
    except Exception:
        pass
    try:
        safe = {str(k): (v if v is None or type(v) in (str, int, bool) or (type(v) is float and math.isfinite(v)) else str(v)) for k, v in event.items()}
        return json.dumps(safe, separators=(",", ":")) + "\n"
    except Exception:
        return None


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
