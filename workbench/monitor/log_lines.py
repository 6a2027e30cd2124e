"""Lines of an event log, read once (a pipe or `<(zcat log.gz)` too) and bounded in length, and
whether the log is JSONL events or an OTLP JSON trace export.

`readlines()` held a line of any length: a 150 MB line took about 1 GB and, under a memory
cap, a MemoryError lost every good line of the file. Here the stream is read in blocks of
READ_BYTES, a line longer than the limit is never held whole (its rest is read and dropped) and
stands in the chunk as TOO_LONG, so the caller reports it with its line number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import msgspec

from workbench.monitor.limits import MAX_LINE_BYTES

READ_BYTES = 1 << 20  # never more than the smallest limit: only a block's first line can exceed it
MAX_DOCUMENT_BYTES = 256 << 20  # one OTLP export (a whole file, or one per line): a collector batch is a few MB
TOO_LONG = b"\x00 too long"  # stands for a line over the limit; not JSON, so the hot loop's decode refuses it


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class LineChunks:
    """The stream's lines, without their newline, in lists of about READ_BYTES.

    `torn` is the last line when the stream does not end with a newline (a write cut off)."""

    def __init__(self, handle: Readable, limit: int = MAX_LINE_BYTES) -> None:
        assert limit >= READ_BYTES
        self.handle = handle
        self.limit = limit
        self.torn: bytes | None = None

    def __iter__(self) -> Iterator[list[bytes]]:
        read, limit = self.handle.read, self.limit
        tail = b""  # the unfinished line carried to the next block (at most `limit`)
        skipping = False  # inside a line already given as TOO_LONG: drop up to its newline
        while block := read(READ_BYTES):
            if skipping:
                end = block.find(b"\n")
                if end < 0:
                    continue
                block, skipping = block[end + 1 :], False
            lines = block.split(b"\n")
            if tail:
                lines[0] = tail + lines[0]
            tail = lines.pop()
            if lines and len(lines[0]) > limit:  # the others are shorter than READ_BYTES
                lines[0] = TOO_LONG
            if len(tail) > limit:
                lines.append(TOO_LONG)
                tail, skipping = b"", True
            if lines:
                yield lines
        if tail:
            self.torn = tail
            yield [tail]


class Prefixed:
    """`read()` of the bytes already read to tell the format, then of the rest of the stream."""

    def __init__(self, head: bytes | bytearray, handle: BinaryIO) -> None:
        self.head, self.handle = memoryview(head), handle

    def read(self, size: int) -> bytes:
        if not self.head:
            return self.handle.read(size)
        part, self.head = bytes(self.head[:size]), self.head[size:]
        return part


class _OtlpProbe(msgspec.Struct):
    """Only whether a document has a top-level `resourceSpans`: the rest is checked, never built."""

    resourceSpans: msgspec.Raw = msgspec.Raw()  # OTLP's spelling


_probe = msgspec.json.Decoder(_OtlpProbe).decode


_BOM = b"\xef\xbb\xbf"


def _is_otlp(document: bytes | bytearray | memoryview) -> bool | None:
    """True: a JSON object with `resourceSpans`; None: JSON cut short (the start of a longer document)."""
    try:
        return len(_probe(document).resourceSpans) > 0
    except msgspec.ValidationError:  # JSON, not an object
        return False
    except msgspec.DecodeError as err:
        return None if "truncated" in str(err) else False
    except RecursionError:
        return False


@dataclass
class EventLog:
    """An opened log: JSONL lines, or OTLP exports one per line (`otlp`), in `stream`; or one
    whole-file OTLP export (`document`)."""

    stream: Prefixed
    otlp: bool = False
    document: bytearray | None = None


def open_log(handle: BinaryIO) -> EventLog:
    """Tell JSONL from OTLP by what the first document is, reading the stream once (no seek).

    Guessing from a leading `{` and the text `resourceSpans` in the first 200 bytes lost every
    event of a JSONL log whose first error mentioned resourceSpans, and read an OTLP export
    with a leading newline as JSONL. Now: the first non-blank line is an object with a top-level
    `resourceSpans` (an export per line), or the whole file is one such object (pretty-printed),
    or it is JSONL. Only a first line that is JSON cut short (`{`) makes the whole file be read
    (at most MAX_DOCUMENT_BYTES); otherwise at most the first line is held.
    """
    head = bytearray()
    start = -1  # where the first non-blank line starts, once known
    searched = 0  # no newline after `start` before this
    whole_file = False  # the first line is JSON cut short: the file may be one document
    while len(head) <= MAX_DOCUMENT_BYTES:
        block = handle.read(READ_BYTES)
        if not head and block.startswith(_BOM):  # Windows tools write one: it is not JSON
            block = block[len(_BOM) :]
        if not block:  # the whole file is in `head`
            if _is_otlp(head):
                return EventLog(Prefixed(b"", handle), otlp=True, document=head)
            return EventLog(Prefixed(head, handle))  # a first line cut short is not an export either
        head += block
        if whole_file:
            continue
        if start < 0:
            stripped = block.lstrip()
            if not stripped:
                continue
            start = len(head) - len(stripped)
            searched = start
        end = head.find(b"\n", searched)
        if end < 0:
            searched = len(head)
            continue
        with memoryview(head) as view, view[start:end] as line:  # no copy of a long line; released before head grows
            kind = _is_otlp(line)
        if kind is not None:
            return EventLog(Prefixed(head, handle), otlp=kind)
        whole_file = True  # cut short: a pretty-printed document, or a broken first line; read on to tell
    return EventLog(Prefixed(head, handle))  # a first line or document over the limit: JSONL reports it
