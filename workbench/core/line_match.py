"""Which lines of two texts match: difflib, cut first at anchor lines when the texts are long.

difflib's `SequenceMatcher` looks for the longest matching block over the whole range, then again
on each side of it. On a prompt whose many test cases all changed, every block is a line or two
long and lines such as `assert:` repeat once per case, so each look scans the rest of the file:
400 changed cases took 10 s and 2,000 did not finish in minutes. Past `_DIRECT_AREA`, the texts
are first cut at anchors: the lines that occur as many times on each side (once, as patience diff
has it, or once per case, like `assert:`), the k-th occurrence paired with the k-th, keeping the
longest run of them in the same order; difflib matches only the short stretches in between, and a
stretch still long (no anchors in it) with difflib's own junk heuristic for popular lines.
Smaller texts are matched by difflib alone, exactly as before.
"""

from __future__ import annotations

import bisect
import difflib
from collections import Counter
from collections.abc import Hashable, Iterator, Sequence

# Up to about 500 lines a side, difflib alone is quick enough (a quarter of a second at worst).
_DIRECT_AREA = 250_000


class LineMatcher(difflib.SequenceMatcher[Hashable]):
    """A `SequenceMatcher` whose matching blocks are cut at anchor lines first for long inputs.

    `get_opcodes` and `get_grouped_opcodes` are difflib's, so every diff built on it reads the same.
    """

    def __init__(self, a: Sequence[Hashable], b: Sequence[Hashable], autojunk: bool = True) -> None:
        super().__init__(None, a, b, autojunk)
        self._lines_a, self._lines_b, self._autojunk = a, b, autojunk
        self._blocks: list[difflib.Match] | None = None

    def get_matching_blocks(self) -> list[difflib.Match]:
        if self._blocks is None:
            self._blocks = self._matching_blocks()
        return self._blocks

    def _matching_blocks(self) -> list[difflib.Match]:
        a, b = self._lines_a, self._lines_b
        if len(a) * len(b) <= _DIRECT_AREA:
            return super().get_matching_blocks()
        blocks: list[tuple[int, int, int]] = []
        start_a = start_b = 0
        for anchor_a, anchor_b in [*_anchors(a, b), (len(a), len(b))]:
            if anchor_a > start_a and anchor_b > start_b:
                long_stretch = (anchor_a - start_a) * (anchor_b - start_b) > _DIRECT_AREA
                stretch = difflib.SequenceMatcher(
                    None, a[start_a:anchor_a], b[start_b:anchor_b], self._autojunk or long_stretch
                )
                blocks.extend((start_a + i, start_b + j, size) for i, j, size in stretch.get_matching_blocks() if size)
            if anchor_a < len(a):
                blocks.append((anchor_a, anchor_b, 1))
            start_a, start_b = anchor_a + 1, anchor_b + 1
        merged: list[tuple[int, int, int]] = []
        for i, j, size in blocks:  # adjacent blocks become one, as difflib's own are
            if merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
                merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + size)
            else:
                merged.append((i, j, size))
        return [difflib.Match(*m) for m in [*merged, (len(a), len(b), 0)]]


def _anchors(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[tuple[int, int]]:
    """(index in a, index in b) of lines found as often on each side, k-th with k-th, in the same order."""
    count_a, count_b = Counter(a), Counter(b)
    positions_b: dict[Hashable, list[int]] = {}
    for j, line in enumerate(b):
        if count_a[line] == count_b[line]:
            positions_b.setdefault(line, []).append(j)
    seen: Counter[Hashable] = Counter()
    candidates: list[tuple[int, int]] = []
    for i, line in enumerate(a):
        if line in positions_b:
            candidates.append((i, positions_b[line][seen[line]]))
            seen[line] += 1
    # Longest increasing run of b positions (patience sorting): tails[k] ends the best run of length k+1.
    tails: list[int] = []
    tail_index: list[int] = []
    previous: list[int] = []
    for index, (_, j) in enumerate(candidates):
        k = bisect.bisect_left(tails, j)
        if k == len(tails):
            tails.append(j)
            tail_index.append(index)
        else:
            tails[k] = j
            tail_index[k] = index
        previous.append(tail_index[k - 1] if k else -1)
    run: list[tuple[int, int]] = []
    index = tail_index[-1] if tail_index else -1
    while index >= 0:
        run.append(candidates[index])
        index = previous[index]
    return run[::-1]


def unified_lines(
    a: Sequence[str], b: Sequence[str], fromfile: str, tofile: str, fromfiledate: str = "", tofiledate: str = "", n: int = 3
) -> Iterator[str]:
    """`difflib.unified_diff` over `LineMatcher` (difflib's own builds a plain `SequenceMatcher`)."""
    from_date = f"\t{fromfiledate}" if fromfiledate else ""
    to_date = f"\t{tofiledate}" if tofiledate else ""
    for index, group in enumerate(LineMatcher(a, b).get_grouped_opcodes(n)):
        if index == 0:
            yield f"--- {fromfile}{from_date}\n"
            yield f"+++ {tofile}{to_date}\n"
        first, last = group[0], group[-1]
        yield f"@@ -{_hunk_range(first[1], last[2])} +{_hunk_range(first[3], last[4])} @@\n"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            if tag in {"replace", "delete"}:
                yield from ("-" + line for line in a[i1:i2])
            if tag in {"replace", "insert"}:
                yield from ("+" + line for line in b[j1:j2])


def _hunk_range(start: int, stop: int) -> str:
    """A hunk header's range: 1-based start, and the length unless it is 1 (an empty range starts before)."""
    length = stop - start
    if length == 1:
        return f"{start + 1}"
    return f"{start + 1 if length else start},{length}"
