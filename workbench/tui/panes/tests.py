"""Tests pane: a live test run (one version, or A/B), filled in as results stream."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable, ProgressBar, Static

from workbench.core.safe_text import clean, one_line
from workbench.tui.actions import TABLE_MOVE_BINDINGS, bindings
from workbench.tui.messages import CaseOpened


@dataclass
class CaseResult:
    passed: bool | None  # None: errored
    score: float | None = None
    latency_ms: float | None = None
    tokens: int | None = None
    error: str | None = None
    cached: bool = False


@dataclass
class CaseLine:
    case_id: str
    description: str
    results: dict[str, CaseResult] = field(default_factory=dict)


def result_cell(result: CaseResult | None) -> Text:
    if result is None:
        return Text("…", style="dim")
    if result.passed is None:
        return Text("! error", style="bold yellow")
    text = Text("✓" if result.passed else "✗", style="bold green" if result.passed else "bold red")
    if result.score is not None:
        text.append(f" {result.score:.2f}")
    if result.latency_ms is not None:
        text.append(f" {result.latency_ms / 1000:.1f}s" if result.latency_ms >= 1000 else f" {result.latency_ms:.0f}ms", style="dim")
    if result.tokens:
        text.append(f" {result.tokens}t", style="dim")
    if result.cached:
        text.append(" ⟲", style="dim")
    return text


class CaseTable(DataTable[Text]):
    BINDINGS = [*TABLE_MOVE_BINDINGS, *bindings("tests")]

    def action_open_case(self) -> None:
        if self.row_count and self.cursor_row >= 0:
            key = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value
            if key is not None:
                self.post_message(CaseOpened(key))


class TestsPane(Vertical):
    """Progress bar, a row per case with one column per arm, and a summary line."""

    __test__ = False

    def __init__(self) -> None:
        super().__init__(id="tests-pane")
        self.border_title = "4 Tests"
        self.arms: tuple[str, ...] = ()
        self.lines: dict[str, CaseLine] = {}
        self.finished_arms: set[int] = set()
        self.running = False

    def compose(self) -> ComposeResult:
        yield Static(Text("press t to run the tests of the selected version, T for base vs selected", style="dim"), id="tests-header")
        yield ProgressBar(total=1, id="tests-progress", show_eta=False)
        yield CaseTable(id="tests-table", cursor_type="row")
        yield Static("", id="tests-summary")

    @property
    def table(self) -> CaseTable:
        return self.query_one(CaseTable)

    def start(self, title: str, arms: tuple[str, ...], cases: list[tuple[str, str]]) -> None:
        """A new run: `arms` are column labels (e.g. ('A abc123', 'B working copy'))."""
        self.arms = arms
        self.running = True
        self.finished_arms = set()
        self.lines = {}
        self.query_one("#tests-header", Static).update(Text(clean(title)))
        self.query_one("#tests-summary", Static).update(Text("running… (esc cancels, results so far are kept)", style="dim"))
        table = self.table
        table.clear(columns=True)
        table.add_column("case", key="case")
        for index, arm in enumerate(arms):
            table.add_column(clean(arm), key=f"arm{index}")
        self.set_cases(cases)
        self.set_class(True, "-running")

    def set_cases(self, cases: list[tuple[str, str]]) -> None:
        """The cases of the run, as soon as they are known: one pending row each."""
        for case_id, description in cases:
            if case_id not in self.lines:
                self.lines[case_id] = CaseLine(case_id, description)
                self.table.add_row(Text(one_line(description, 60)), *[result_cell(None) for _ in self.arms], key=case_id)
        self._update_progress()

    def case_finished(self, case_id: str, arm_index: int, result: CaseResult) -> None:
        line = self.lines.get(case_id)
        if line is None:
            line = self.lines[case_id] = CaseLine(case_id, case_id)
            self.table.add_row(Text(one_line(case_id, 60)), *[result_cell(None) for _ in self.arms], key=case_id)
        line.results[self.arms[arm_index]] = result
        self.table.update_cell(case_id, f"arm{arm_index}", result_cell(result), update_width=True)
        self._update_progress()

    def arm_finished(self, arm_index: int) -> None:
        """Cases this version does not have (an older suite) are marked as absent, not pending."""
        self.finished_arms.add(arm_index)
        for line in self.lines.values():
            if self.arms[arm_index] not in line.results:
                self.table.update_cell(line.case_id, f"arm{arm_index}", Text("— not in this version", style="dim"), update_width=True)
        self._update_progress()

    def _update_progress(self) -> None:
        """Done cells over done plus pending cells of arms still running (never 100% while running)."""
        done = sum(len(line.results) for line in self.lines.values())
        pending = sum(
            1
            for line in self.lines.values()
            for index, arm in enumerate(self.arms)
            if index not in self.finished_arms and arm not in line.results
        )
        self.query_one(ProgressBar).update(total=max(1, done + pending), progress=done)

    def finish(self, summary: Text | str, cancelled: bool = False) -> None:
        self.running = False
        self.set_class(False, "-running")
        text = summary if isinstance(summary, Text) else Text(clean(summary))
        if cancelled:
            text = Text("cancelled — partial results kept. ", style="bold yellow") + text
        self.query_one("#tests-summary", Static).update(text)
