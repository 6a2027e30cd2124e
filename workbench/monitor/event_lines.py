"""One event log line into a typed row: field rules (types, ranges, lengths), JSONL decoded and checked in C by msgspec, and OTLP JSON spans; a bad line becomes a 'file:line: field: reason' problem."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import msgspec

from workbench.monitor.limits import MAX_TEXT_CHARS
from workbench.monitor.log_lines import MAX_DOCUMENT_BYTES, TOO_LONG, EventLog, LineChunks

UNKNOWN_VERSION = "(unknown)"


@dataclass
class IngestReport:
    files: int = 0
    lines: int = 0
    added: int = 0
    duplicates: int = 0
    feedback: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    warnings: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # files that could not be opened: an input error

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files, "lines": self.lines, "added": self.added, "duplicates": self.duplicates, "feedback": self.feedback,
            "problems": self.problems, "problem_count": self.problem_count, "warnings": self.warnings, "unreadable": self.unreadable,
        }


MAX_PROBLEMS = 1000  # problems kept in the report (all are counted)
MAX_TS = 1e11  # year 5138: anything larger is not unix seconds


MAX_TOKENS = 2**53


MAX_NUMBER = 1e300


_Whole = Annotated[int, msgspec.Meta(ge=0, le=2**53)]


_WholeFloat = Annotated[float, msgspec.Meta(ge=0, le=2**53)]


class BadField(ValueError):
    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"{name}: {why}")


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _number(value: Any, name: str, low: float, high: float, *, whole: bool = False) -> float | int:
    """The slow path of a numeric field: ints, integral floats, ranges, with a message naming the field."""
    if type(value) not in (int, float):  # bool is not a number here
        raise BadField(name, f"needs a number, got {type_name(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadField(name, "needs a finite number")
    if not low <= value <= high:
        raise BadField(name, f"{value!r} is out of range")
    if whole:
        if isinstance(value, float) and not value.is_integer():
            raise BadField(name, "needs a whole number")
        return int(value)
    return float(value)


def _text(value: Any, name: str) -> str | None:
    if value is None or type(value) is str:
        return value
    raise BadField(name, f"needs a string or null, got {type_name(value)}")


def error_text(value: Any) -> str | None:
    """The stored error: text (non-text as its JSON), cut to MAX_TEXT_CHARS; None for no error."""
    if value is None or value is False or value == "":
        return None
    if type(value) is str:
        return value[:MAX_TEXT_CHARS]
    return json.dumps(value, separators=(",", ":"), default=str)[:MAX_TEXT_CHARS]


def feedback_text(value: Any) -> str | None:
    """The stored feedback: text, cut to MAX_TEXT_CHARS; numbers and booleans as text."""
    if value is None:
        return None
    if type(value) is str:
        return value[:MAX_TEXT_CHARS]
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) in (int, float):
        return repr(value)
    raise BadField("feedback", f"needs a string, number or boolean, got {type_name(value)}")


def convert_event(event: dict[str, Any]) -> tuple[Any, ...]:
    """(call_id, ts, identity key, latency, tokens in, tokens out, cost, error, score, feedback), or BadField.

    Hot path of ingest (a million calls): the common types are checked inline, the rest go
    through `_number` / `_text`, which name the field in their error.
    """
    get = event.get
    call_id, ts, name = get("call_id"), get("ts"), get("name")
    if type(call_id) is not str or not call_id:
        raise BadField("call_id", f"needs a non-empty string, got {type_name(call_id)}")
    if type(name) is not str or not name:
        raise BadField("name", f"needs a non-empty string, got {type_name(name)}")
    if type(ts) is not float or not 0.0 <= ts <= MAX_TS:
        ts = _number(ts, "ts", 0, MAX_TS)
    version, commit, env, arm = get("version"), get("commit"), get("env"), get("arm")
    if version is not None and type(version) is not str:
        _text(version, "version")
    if commit is not None and type(commit) is not str:
        _text(commit, "commit")
    if env is not None and type(env) is not str:
        _text(env, "env")
    if arm is not None and type(arm) is not str:
        _text(arm, "arm")
    latency, tokens_in, tokens_out, cost, score = get("latency_ms"), get("input_tokens"), get("output_tokens"), get("cost"), get("score")
    if latency is not None and (type(latency) is not float or not 0.0 <= latency <= MAX_NUMBER):
        latency = _number(latency, "latency_ms", 0, MAX_NUMBER)
    if tokens_in is not None and (type(tokens_in) is not int or not 0 <= tokens_in <= MAX_TOKENS):
        tokens_in = _number(tokens_in, "input_tokens", 0, MAX_TOKENS, whole=True)
    if tokens_out is not None and (type(tokens_out) is not int or not 0 <= tokens_out <= MAX_TOKENS):
        tokens_out = _number(tokens_out, "output_tokens", 0, MAX_TOKENS, whole=True)
    if cost is not None and (type(cost) is not float or not -MAX_NUMBER <= cost <= MAX_NUMBER):
        cost = _number(cost, "cost", -MAX_NUMBER, MAX_NUMBER)
    if score is not None and (type(score) is not float or not -MAX_NUMBER <= score <= MAX_NUMBER):
        score = _number(score, "score", -MAX_NUMBER, MAX_NUMBER)
    error, feedback = get("error"), get("feedback")
    if error is not None and (type(error) is not str or not error or len(error) > MAX_TEXT_CHARS):
        error = error_text(error)
    if feedback is not None and (type(feedback) is not str or len(feedback) > MAX_TEXT_CHARS):
        feedback = feedback_text(feedback)
    key = (name, version or UNKNOWN_VERSION, commit or "", env or "", arm or "")
    return call_id, ts, key, latency, tokens_in, tokens_out, cost, error, score, feedback


def convert_feedback(event: dict[str, Any]) -> tuple[Any, ...]:
    """(call_id, ts, feedback, score) of a `{"type": "feedback"}` line, or BadField."""
    call_id, ts = event.get("call_id"), event.get("ts")
    if type(call_id) is not str or not call_id:
        raise BadField("call_id", f"needs a non-empty string, got {type_name(call_id)}")
    ts = None if ts is None else _number(ts, "ts", 0, MAX_TS)
    score = event.get("score")
    score = None if score is None else _number(score, "score", -MAX_NUMBER, MAX_NUMBER)
    return call_id, ts, feedback_text(event.get("feedback")), score


class EventLine(msgspec.Struct, gc=False):
    """One JSONL line, parsed and type-checked by msgspec in one pass (in C)."""

    call_id: Annotated[str, msgspec.Meta(min_length=1)]
    ts: Annotated[float, msgspec.Meta(ge=0, le=1e11)] | None = None
    name: str | None = None
    version: str | None = None
    commit: str | None = None
    env: str | None = None
    arm: str | None = None
    latency_ms: Annotated[float, msgspec.Meta(ge=0)] | None = None
    input_tokens: _Whole | _WholeFloat | None = None  # 12.0 is a whole number too
    output_tokens: _Whole | _WholeFloat | None = None
    cost: float | None = None
    error: Any = None
    score: float | None = None
    feedback: str | int | float | bool | None = None
    type: str | None = None


def whole(value: int | float | None, name: str) -> int | None:
    if type(value) is float:
        if not value.is_integer():
            raise BadField(name, "needs a whole number")
        return int(value)
    return value  # type: ignore[return-value]


def validation_message(err: Exception) -> str:
    """msgspec's "Expected `float`, got `str` - at `$.ts`" as "ts: expected `float`, got `str`"."""
    text = str(err)
    what, _, where = text.rpartition(" - at `$.")
    if not what:
        return f"not a workbench event ({text[:120]})"
    field = where.rstrip("`")
    return f"{field}: {what[:1].lower()}{what[1:120]}"


def _otlp_value(value: Any) -> Any:
    if not isinstance(value, dict):
        raise BadField("value", "needs an object like {\"stringValue\": ...}")
    for key in ("stringValue", "doubleValue", "boolValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        raw = value["intValue"]
        try:
            return int(raw)  # OTLP JSON writes 64-bit integers as strings
        except (TypeError, ValueError):
            raise BadField("intValue", f"needs an integer, got {str(raw)[:40]!r}") from None
    return None


def _otlp_attributes(span: dict[str, Any]) -> dict[str, Any]:
    attributes = span.get("attributes", [])
    if not isinstance(attributes, list):
        raise BadField("attributes", "needs a list")
    out = {}
    for attribute in attributes:
        if not isinstance(attribute, dict) or not isinstance(attribute.get("key"), str):
            raise BadField("attribute", "needs a \"key\" string and a \"value\"")
        out[attribute["key"]] = _otlp_value(attribute.get("value", {}))
    return out


class _OtlpScope(msgspec.Struct):
    spans: list[msgspec.Raw] = []


class _OtlpResource(msgspec.Struct):
    scopeSpans: list[_OtlpScope] = []  # OTLP JSON spelling


class _OtlpExport(msgspec.Struct):
    """An OTLP trace export as far as ingest reads it: each span stays the bytes it is until its
    turn, and what no span needs is checked, never built (the whole export decoded at once took
    ~9x its size: 2.3 GB for the 256 MiB the limit allows)."""

    resourceSpans: list[_OtlpResource]


_OTLP_EXPORT = msgspec.json.Decoder(_OtlpExport)


def _otlp_documents(path: Path, log: EventLog, report: IngestReport) -> Iterator[tuple[int, _OtlpExport]]:
    """The export (a whole file), or one per line; a line that is not one is reported."""
    if log.document is not None:
        lines: Iterator[bytes | bytearray] = iter([log.document])
    else:
        lines = (raw for chunk in LineChunks(log.stream, MAX_DOCUMENT_BYTES) for raw in chunk)
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            if raw is TOO_LONG:
                raise msgspec.DecodeError(f"over {MAX_DOCUMENT_BYTES >> 20} MiB")
            document = _OTLP_EXPORT.decode(raw)
        except msgspec.ValidationError:  # JSON, but no resourceSpans/scopeSpans/spans: reported, never quietly empty
            report.lines += 1
            report.problem(f"{path}:{number}: not an OTLP trace export (resourceSpans/scopeSpans/spans), skipped")
            continue
        except (msgspec.DecodeError, RecursionError) as err:
            report.lines += 1
            report.problem(f"{path}:{number}: OTLP export is not valid JSON ({str(err)[:120]}), skipped")
            continue
        yield number, document


def _decoded_span(raw: msgspec.Raw) -> Any:
    """One span, built when its turn comes (None, reported as no object, if it cannot be)."""
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None


def otlp_events(path: Path, log: EventLog, report: IngestReport) -> Iterator[tuple[str, dict[str, Any]]]:
    """Spans of an OTLP JSON export that carry `prompt.name` become events."""
    for number, document in _otlp_documents(path, log, report):
        for span in (_decoded_span(raw) for resource in document.resourceSpans for scope in resource.scopeSpans for raw in scope.spans):
            report.lines += 1
            span_id = str(span.get("spanId", "?"))[:40] if isinstance(span, dict) else "?"
            where = f"{number}: span {span_id}"
            try:
                if not isinstance(span, dict):
                    raise BadField("span", "needs an object")
                attributes = _otlp_attributes(span)
                start = _number(_otlp_value({"intValue": span.get("startTimeUnixNano", 0)}), "startTimeUnixNano", 0, 2**63)
                end = _number(_otlp_value({"intValue": span.get("endTimeUnixNano", 0)}), "endTimeUnixNano", 0, 2**63)
            except BadField as err:
                report.problem(f"{path}:{where}: {err}, skipped")
                continue
            if "prompt.name" not in attributes:
                report.problem(f"{path}:{where}: has no prompt.name, skipped")
                continue
            yield where, {
                "call_id": attributes.get("workbench.call_id") or span.get("spanId"),
                "ts": end / 1e9,
                "name": attributes["prompt.name"],
                "version": attributes.get("prompt.version"),
                "commit": attributes.get("prompt.commit"),
                "env": attributes.get("prompt.env"),
                "arm": attributes.get("prompt.arm"),
                "latency_ms": (end - start) / 1e6 if end and start and end >= start else None,
                "input_tokens": attributes.get("gen_ai.usage.input_tokens"),
                "output_tokens": attributes.get("gen_ai.usage.output_tokens"),
                "cost": attributes.get("workbench.cost"),
                "error": attributes.get("error.type"),
                "score": attributes.get("workbench.score"),
            }
