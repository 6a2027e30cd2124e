"""Graph lanes: forks, merges and parallel branches drawn like `git log --graph`."""

from __future__ import annotations

from workbench.core.graph import graph_rows


def test_a_branch_that_forked_and_merged() -> None:
    # C merges D (a feature branch that left main at B).
    rows = graph_rows([("C", ["B", "D"]), ("D", ["B"]), ("B", ["A"]), ("A", [])])
    assert [r.cells for r in rows] == ["◎ ╮", "│ ●", "● ╯", "●"]
    assert [r.lane for r in rows] == [0, 1, 0, 0]


def test_two_unmerged_branches_side_by_side() -> None:
    rows = graph_rows([("F2", ["F1"]), ("M2", ["M1"]), ("F1", ["M1"]), ("M1", [])])
    assert [r.lane for r in rows] == [0, 1, 0, 0]
    assert [r.cells for r in rows] == ["●", "│ ●", "● │", "● ╯"]


def test_a_linear_history_is_one_lane() -> None:
    rows = graph_rows([(str(i), [str(i - 1)] if i else []) for i in range(5, -1, -1)])
    assert {r.cells for r in rows} == {"●"} and {r.lane for r in rows} == {0}


def test_lanes_are_capped() -> None:
    tips = [(f"t{i}", ["root"]) for i in range(20)]
    rows = graph_rows([*tips, ("root", [])], max_lanes=4)
    assert max(r.lane for r in rows) <= 3 and all(len(r.cells.split(" ")) <= 4 for r in rows)
