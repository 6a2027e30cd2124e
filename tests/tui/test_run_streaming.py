"""A test run streams into the Tests pane without the pane's work growing with the suite, and
without the run waiting for the screen (its latencies were the UI's wait, stored as results)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import ProgressBar, Static
from tui_helpers import clock, commit, select, settle

from workbench.tui.app import make_app
from workbench.tui.panes.tests import CaseLine, CaseResult, TestsPane

CASES = 40


def many_cases(root: Path, n: int) -> None:
    lines = ["description: many cases", "inputs:", "  v: {type: string, required: true}", "messages:"]
    lines += ["  - role: user", '    content: "{{ v }}"', "tests:"]
    for i in range(n):
        lines += [f"  - description: case {i}", f'    vars: {{v: "val {i}"}}', "    assert:"]
        lines += ["      - type: contains", "        value: val"]
    (root / "prompts" / "many.yaml").write_text("\n".join(lines) + "\n")
    commit(root, "Many cases", "2026-01-12T10:00:00Z")


class CountingLines(dict[str, CaseLine]):
    """The pane's lines, counting every line a walk over them visits (views typed Any: dict's own are private)."""

    walked = 0

    def values(self) -> Any:
        self.walked += len(self)
        return super().values()

    def items(self) -> Any:
        self.walked += len(self)
        return super().items()

    def keys(self) -> Any:
        self.walked += len(self)
        return super().keys()

    def __iter__(self) -> Iterator[str]:
        self.walked += len(self)
        return super().__iter__()


async def test_a_finished_case_costs_the_pane_the_same_work_whatever_the_suites_size(app_repo: Path) -> None:
    """Each case walked every line (the fit and the progress): 1000 cases took 40 s to show."""
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        pane = app.query_one(TestsPane)
        n = 600
        pane.start("many", ("A v1", "B v2"), [(f"c{i}", f"case {i}") for i in range(n)])
        lines = pane.lines = CountingLines(pane.lines)
        for i in range(n):
            pane.case_finished(f"c{i}", 0, CaseResult(True, 1.0, latency_ms=float(i % 500), tokens=7))
        await pilot.pause()
        progress = app.query_one(ProgressBar)
        assert (progress.progress, progress.total) == (n, 2 * n)
        for i in range(n // 2):
            pane.case_finished(f"c{i}", 1, CaseResult(i % 2 == 0, 0.5, latency_ms=12_000.0 if i == 7 else 5.0))
        pane.arm_finished(1)  # the rest of B's cases are absent from its suite
        pane.arm_finished(0)
        assert lines.walked <= 20 * n, f"{lines.walked} lines walked for {n} cases"
        await pilot.pause()
        assert (progress.progress, progress.total) == (n + n // 2, n + n // 2)
        shown = [[cell.plain for cell in pane.table.get_row_at(row)] for row in range(pane.table.row_count)]
        pane._redraw()  # what a table filled at once shows
        assert shown == [[cell.plain for cell in pane.table.get_row_at(row)] for row in range(pane.table.row_count)]
        assert "12.0 s" in shown[7][2] and shown[-1][2].startswith("— ") and "0.5 s" in shown[499][1]


async def test_the_run_does_not_wait_for_the_screen(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's thread handed each case to the UI and waited for it (`call_from_thread`): a busy
    screen held its event loop, so requests waited and the wait was measured as their latency."""
    many_cases(app_repo, CASES)
    app = make_app(app_repo, clock=clock)
    recorded: list[int] = []
    shown_first = TestsPane.case_finished

    def busy_screen(pane: TestsPane, *args: Any) -> None:
        if not recorded:  # the screen is busy until the run has every result, or 10 s
            deadline = time.monotonic() + 10
            while len(app.runs.results[0]) < CASES and time.monotonic() < deadline:
                time.sleep(0.01)
            recorded.append(len(app.runs.results[0]))
        shown_first(pane, *args)

    monkeypatch.setattr(TestsPane, "case_finished", busy_screen)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "many")
        await pilot.press("t")
        await settle(pilot)
        assert recorded == [CASES], "the run waited for the screen"
        pane = app.query_one(TestsPane)
        assert all(len(line.results) == 1 for line in pane.lines.values()) and len(pane.lines) == CASES
        assert f"{CASES}/{CASES}" in str(app.query_one("#tests-summary", Static).render())


def test_a_row_of_its_own_for_each_case_whatever_its_description_holds() -> None:
    """A description holding a NUL (YAML's `"\\0"`) and a digit read as the row of the second
    test described alike: `same\\x001` was both, and one row showed two cases."""
    from workbench.tui.panes.tests import row_key

    cases = [("same", 0), ("same", 1), ("same\x001", 0), ("same\x001", 1), ("same\x00", 0), ("same\x001\x000", 0)]
    assert len({row_key(*case) for case in cases}) == len(cases)
    assert row_key("same") == "same"  # a case's row is its case id, as before
