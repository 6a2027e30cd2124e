"""Lines of an event log, read once (a pipe or `<(zcat log.gz)` too) and bounded in length.

`readlines()` held a line of any length: a 150 MB line took about 1 GB and, under a memory
cap, a MemoryError lost every good line of the file. Here the stream is read in blocks of
READ_BYTES, a line longer than the limit is never held whole (its rest is read and dropped) and
stands in the chunk as TOO_LONG, so the caller reports it with its line number.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

MAX_LINE_BYTES = 1 << 20  # 1 MiB: a recorded event is well under 10 KB (error and feedback text are capped)
READ_BYTES = 1 << 20  # never more than the smallest limit: only a block's first line can exceed it
TOO_LONG = b"\x00 too long"  # stands for a line over the limit; not JSON, so the hot loop's decode refuses it


class LineChunks:
    """The stream's lines, without their newline, in lists of about READ_BYTES.

    `torn` is the last line when the stream does not end with a newline (a write cut off)."""

    def __init__(self, handle: BinaryIO, limit: int = MAX_LINE_BYTES) -> None:
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
