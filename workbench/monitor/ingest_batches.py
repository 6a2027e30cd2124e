"""Event log files into batches of rows for the store.

JSONL lines are decoded and type-checked by msgspec in one C pass (`EventLine`); the common
line (a plain event: text or null error and feedback, integer token counts) becomes a row with
no further Python work, every other line takes the slow path that applies the field rules of
`event_lines` and reports problems as `file:line: reason`. OTLP spans go through
`convert_event`. Identities (prompt, version, commit, env, arm) get provisional ids while
parsing; the writer turns them into stored ids (see `MonitorStore._store_batch`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from workbench.monitor.event_lines import (
    UNKNOWN_VERSION,
    BadField,
    EventLine,
    IngestReport,
    convert_event,
    error_text,
    feedback_text,
    otlp_events,
    validation_message,
    whole,
)
from workbench.monitor.limits import MAX_TEXT_CHARS
from workbench.monitor.log_lines import TOO_LONG, LineChunks, Readable, open_log

BATCH = 100_000  # lines per transaction
ROWS_PER_INSERT = 500  # rows per multi-row INSERT (5,000 values; SQLite allows 32,766 since 3.32)

WIDTH = 10  # values per row of the events table


@dataclass
class Batch:
    values: list[Any] = field(default_factory=list)  # rows of the events table one after the other, WIDTH values each (ident: a provisional id)
    feedback: list[tuple[Any, ...]] = field(default_factory=list)
    new_idents: list[tuple[Any, ...]] = field(default_factory=list)  # (provisional id, prompt, version, commit, env, arm) first seen here

    @property
    def events(self) -> list[tuple[Any, ...]]:
        """The rows as tuples."""
        values = self.values
        return [tuple(values[i : i + WIDTH]) for i in range(0, len(values), WIDTH)]

    @property
    def count(self) -> int:
        return len(self.values) // WIDTH


class Idents:
    """Identity (prompt, version, commit, env, arm) -> provisional id, owned by the parser.

    Identities already stored keep their stored id; a new one gets the next free number and is
    listed in the batch that first uses it, so the writer stores it in that batch's transaction
    (where another ingest may already have taken the number: the writer then maps it)."""

    def __init__(self, ids: dict[tuple[Any, ...], int]) -> None:
        self.ids = ids  # normalised identity -> id
        self.raw: dict[tuple[Any, ...], int] = {}  # identity as the line spelled it (None for "") -> id
        self.next = max(ids.values(), default=0) + 1

    def of(self, key: tuple[Any, ...], batch: Batch) -> int:
        """The id of a normalised identity (`convert_event`'s key)."""
        ident = self.ids.get(key)
        if ident is None:
            ident = self.ids[key] = self.next
            self.next += 1
            batch.new_idents.append((ident, *key))
        return ident

    def of_line(self, name: str, version: str | None, commit: str | None, env: str | None, arm: str | None, batch: Batch) -> int:
        ident = self.raw[(name, version, commit, env, arm)] = self.of((name, version or UNKNOWN_VERSION, commit or "", env or "", arm or ""), batch)
        return ident


def file_batches(paths: list[Path], report: IngestReport, idents: Idents) -> Iterator[Batch]:
    """Every file in turn, in batches of exactly BATCH rows (the last one of each file smaller)."""
    for path in paths:
        report.files += 1
        try:
            handle = path.open("rb")
        except OSError as err:
            report.problem(f"{path}: cannot read ({err.strerror or err})")
            report.unreadable.append(str(path))
            continue
        with handle:  # read once, front to back: a pipe or `<(zcat log.gz)` works as a file does
            log = open_log(handle)
            if log.otlp or log.document is not None:
                yield from otlp_batches(path, otlp_events(path, log, report), report, idents)
            else:
                yield from jsonl_batches(path, log.stream, report, idents)


def jsonl_batches(path: Path, handle: Readable, report: IngestReport, idents: Idents) -> Iterator[Batch]:
    decode = msgspec.json.Decoder(EventLine).decode
    failed = (msgspec.DecodeError, RecursionError)  # ValidationError is a DecodeError
    known = idents.raw.get
    batch = Batch()
    number = 0
    lines = LineChunks(handle)
    for chunk in lines:
        done = 0
        while done < len(chunk):
            room = BATCH - len(batch.values) // WIDTH - len(batch.feedback)
            if not room:  # exactly BATCH rows per transaction
                yield batch
                batch = Batch()
                continue
            part = chunk[done : done + room]  # each line adds at most one row
            done += len(part)
            extend = batch.values.extend  # flat: no tuple per row to keep, and INSERT parameters are plain slices
            blank = 0
            for number, raw in enumerate(part, number + 1):  # noqa: B020 - number carries on from part to part
                try:
                    e = decode(raw)
                except failed as err:
                    blank += _bad_line(path, number, raw, err, report, lines.torn)
                    continue
                name, ts, error, fb, tokens_in, tokens_out = e.name, e.ts, e.error, e.feedback, e.input_tokens, e.output_tokens
                if (
                    e.type is None and name and ts is not None
                    and (error is None or (error.__class__ is str and error and len(error) <= MAX_TEXT_CHARS))
                    and (fb is None or (fb.__class__ is str and len(fb) <= MAX_TEXT_CHARS))
                    and tokens_in.__class__ is not float and tokens_out.__class__ is not float
                ):  # the common line: already a row
                    version, commit, env, arm = e.version, e.commit, e.env, e.arm
                    ident = known((name, version, commit, env, arm)) or idents.of_line(name, version, commit, env, arm, batch)
                    extend((e.call_id, ts, ident, e.latency_ms, tokens_in, tokens_out, e.cost, error, e.score, fb))
                else:
                    _unusual_line(path, number, e, batch, idents, report)
            report.lines += len(part) - blank
    if batch.values or batch.feedback:
        yield batch


def _bad_line(path: Path, number: int, raw: bytes, err: Exception, report: IngestReport, torn: bytes | None) -> int:
    """Report a line msgspec refused; 1 for a blank line (not counted, not reported)."""
    if raw is TOO_LONG:
        report.problem(f"{path}:{number}: too long, skipped")
        return 0
    if isinstance(err, msgspec.ValidationError):
        report.problem(f"{path}:{number}: {validation_message(err)}, skipped")
        return 0
    if not raw.strip():
        return 1
    if isinstance(err, RecursionError):
        what = "nested too deeply"
    elif raw is torn:
        what = "torn last line (a write was cut off)"
    else:
        what = f"not JSON ({str(err)[:120]})"
    report.problem(f"{path}:{number}: {what}, skipped")
    return 0


def _unusual_line(path: Path, number: int, e: EventLine, batch: Batch, idents: Idents, report: IngestReport) -> None:
    """Feedback lines, unknown types, missing name or time, non-text errors or feedback, float token counts."""
    name, ts, error, fb = e.name, e.ts, e.error, e.feedback
    if e.type is not None:
        if e.type == "feedback":
            try:
                batch.feedback.append((e.call_id, ts, feedback_text(fb), e.score))
            except BadField as bad:
                report.problem(f"{path}:{number}: {bad}, skipped")
        else:
            report.problem(f"{path}:{number}: unknown event type {e.type[:40]!r}, skipped")
        return
    if not name or ts is None:
        report.problem(f"{path}:{number}: {'name: needs a non-empty string' if not name else 'ts: needs a number (unix seconds)'}, skipped")
        return
    error, fb = error_text(error), feedback_text(fb)  # msgspec let only text, numbers and booleans through as feedback
    try:
        tokens_in, tokens_out = whole(e.input_tokens, "input_tokens"), whole(e.output_tokens, "output_tokens")
    except BadField as bad:
        report.problem(f"{path}:{number}: {bad}, skipped")
        return
    ident = idents.raw.get((name, e.version, e.commit, e.env, e.arm)) or idents.of_line(name, e.version, e.commit, e.env, e.arm, batch)
    batch.values.extend((e.call_id, ts, ident, e.latency_ms, tokens_in, tokens_out, e.cost, error, e.score, fb))


def otlp_batches(path: Path, events: Iterator[tuple[str, dict[str, Any]]], report: IngestReport, idents: Idents) -> Iterator[Batch]:
    batch = Batch()
    for where, event in events:
        try:
            call_id, ts, key, *rest = convert_event(event)
        except BadField as err:
            report.problem(f"{path}:{where}: {err}, skipped")
            continue
        batch.values.extend((call_id, ts, idents.of(key, batch), *rest))
        if len(batch.values) >= BATCH * WIDTH:
            yield batch
            batch = Batch()
    if batch.values:
        yield batch
