"""Commit graph lanes, in the manner of `git log --graph` and lazygit's graph: pure data.

Input: commits newest first (each with its parents, as `git log --parents` gives them, or
rewritten to the commits shown when the log is limited to a path). Output: one row per commit
with the lane the commit sits in and the characters that draw every lane at that row, so a
list widget can show the graph in a narrow column. Lanes are reused left to right; a merge
opens a lane for its second parent; lanes that meet at a fork close into the commit's lane.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

COMMIT = "●"
MERGE = "◎"
LINE = "│"


@dataclass(frozen=True)
class GraphRow:
    commit: str
    lane: int
    cells: str  # one character per lane, space-separated (`╮` a lane opens, `╯` a lane ends here)

    @property
    def width(self) -> int:
        return len(self.cells)


def graph_rows(commits: Sequence[tuple[str, Sequence[str]]], max_lanes: int = 8) -> list[GraphRow]:
    """Lanes for `commits` (sha, parents), newest first.

    Past `max_lanes` open lanes, further branches share the last lane (the column stays
    narrow on a repository with many branches; the commits are all still listed).
    """
    lanes: list[str | None] = []  # the commit each lane waits for
    rows: list[GraphRow] = []
    for sha, parents in commits:
        waiting = [index for index, expected in enumerate(lanes) if expected == sha]
        if waiting:
            lane = waiting[0]
        else:
            lane = _free_lane(lanes, max_lanes)
            if lane == len(lanes):
                lanes.append(sha)
        closing = set(waiting[1:])  # branches that forked from this commit end here
        cells = []
        for index, expected in enumerate(lanes):
            if index == lane:
                cells.append(MERGE if len(parents) > 1 else COMMIT)
            elif index in closing:
                cells.append("╯")
            else:
                cells.append(LINE if expected is not None else " ")
        for index in closing:
            lanes[index] = None
        lanes[lane] = parents[0] if parents else None
        for parent in parents[1:]:
            if parent in lanes:
                continue  # that parent already has a lane: the merge line joins it
            target = _free_lane(lanes, max_lanes)
            if target == len(lanes):
                lanes.append(parent)
                cells.append("╮")
            else:
                lanes[target] = parent
                if target < len(cells) and cells[target] == " ":
                    cells[target] = "╮"
        while lanes and lanes[-1] is None:
            lanes.pop()
        rows.append(GraphRow(sha, lane, " ".join(cells).rstrip()))
    return rows


def _free_lane(lanes: list[str | None], max_lanes: int) -> int:
    for index, expected in enumerate(lanes):
        if expected is None:
            return index
    return len(lanes) if len(lanes) < max_lanes else max_lanes - 1
