"""Tests pane: a live test run (one version, or A/B), filled in as results stream."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable, ProgressBar, Static

from workbench.core.safe_text import clean, one_line
from workbench.tui.actions import TABLE_MOVE_BINDINGS, bindings
from workbench.tui.layout import Column, Fit, fit_columns
from workbench.tui.messages import CaseOpened, PaneContentChanged
from workbench.tui.text import cell


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
    case_id: str  # the row's key (`row_key`)
    description: str
    results: dict[str, CaseResult] = field(default_factory=dict)


def row_key(case_id: str, occurrence: int = 0) -> str:
    """A case's row: its case id, and for the second of two tests described alike (`occurrence`
    1) a row of its own, not the first's: `id NUL occurrence`, which a case id holding a NUL
    always is too, so no description reads as another case's row."""
    return f"{case_id}\x00{occurrence}" if occurrence or "\x00" in case_id else case_id


IDLE_HINT = "t runs the tests of the selected version · T runs an A/B: the base (m) against the selected version"
CASE_WANTED = 20  # cells of case description before the arms lose their secondary fields


@dataclass(frozen=True)
class CellWidths:
    """The widths of a result's fields, shared by every row so that numbers line up."""

    latency: int = 1
    tokens: int = 1
    cached: bool = False
    errors: bool = False
    seconds: bool = False  # one unit for the whole table: seconds once any case takes 10 s or more
    absent: bool = False  # some case is not in one version's suite: room for `— absent`

    def form(self, index: int) -> int:
        """The cells of form 0 (✓ 1.00 · 212 ms · 72 tok), 1 (no tokens), 2 (verdict and score), 3 (verdict)."""
        widths = (
            6 + 3 + self.latency + 3 + 3 + self.tokens + 4 + (2 if self.cached else 0),
            6 + 3 + self.latency + 3,
            7 if self.errors else 6,  # `! error`
            1,
        )
        return max(widths[index], 8) if self.absent and index < 3 else widths[index]


def _latency(ms: float, seconds: bool) -> tuple[str, str]:
    return (f"{ms / 1000:.1f}", "s") if seconds else (f"{ms:.0f}", "ms")


@dataclass
class ResultTally:
    """What the shared field widths depend on, added up one result at a time: the Tests pane keeps
    one per run, as recomputing it from every line for each finished case made a run quadratic."""

    slowest_ms: float | None = None  # a field's text only grows with its number: the largest decides
    most_tokens: int = 0
    cached: bool = False
    errors: bool = False

    def add(self, result: CaseResult) -> None:
        if result.passed is None:
            self.errors = True
            return
        if result.latency_ms is not None:
            self.slowest_ms = max(self.slowest_ms or 0.0, result.latency_ms)
        self.most_tokens = max(self.most_tokens, result.tokens or 0)
        self.cached = self.cached or result.cached

    def widths(self, absent: bool = False) -> CellWidths:
        seconds = self.slowest_ms is not None and self.slowest_ms >= 10_000
        return CellWidths(
            latency=len(_latency(self.slowest_ms, seconds)[0]) if self.slowest_ms is not None else 1,
            tokens=len(str(self.most_tokens)) if self.most_tokens else 1,
            cached=self.cached,
            errors=self.errors,
            seconds=seconds,
            absent=absent,
        )


def cell_widths(results: list[CaseResult], absent: bool = False) -> CellWidths:
    tally = ResultTally()
    for result in results:
        tally.add(result)
    return tally.widths(absent)


def result_cell(result: CaseResult | None, form: int = 0, widths: CellWidths | None = None) -> Text:
    """A result as `✓ 1.00 · 212 ms · 72 tok`, fields right-aligned to `widths`; plainer forms drop fields from the right."""
    widths = widths or CellWidths()
    if result is None:
        return Text("…", style="dim")
    if result.passed is None:
        return Text("! error" if form < 3 else "!", style="bold yellow")
    text = Text()
    text.append("✓" if result.passed else "✗", style="bold green" if result.passed else "bold red")
    if form >= 3:
        return text
    text.append(f" {result.score:4.2f}" if result.score is not None else "     ")
    if form >= 2:
        return text
    number, unit = _latency(result.latency_ms, widths.seconds) if result.latency_ms is not None else ("", "")
    text.append(" · ")
    text.append(f"{number:>{widths.latency}} {unit:<2}" if number else " " * (widths.latency + 3))
    if form >= 1:
        return text
    text.append(" · ")
    text.append(f"{result.tokens:>{widths.tokens}} tok" if result.tokens else " " * (widths.tokens + 4))
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
    """A one-line title with the progress, a row per case with one column per arm, and a summary."""

    __test__ = False

    def __init__(self) -> None:
        super().__init__(id="tests-pane")
        self.border_title = "4 Tests"
        self.arms: tuple[str, ...] = ()
        self.lines: dict[str, CaseLine] = {}
        self.finished_arms: set[int] = set()
        self.running = False
        self._fit: tuple[Fit, CellWidths] | None = None
        self._progress_due = False
        self._count_lines()

    def _count_lines(self) -> None:
        """What the fit and the progress depend on, from every line; then kept up to date per case
        (walking every line for each finished case made 1000 cases take 40 s to show)."""
        self._tally = ResultTally()
        self._done = 0  # results shown
        self._missing = [0] * len(self.arms)  # per arm: lines without its result
        self._longest = 4  # the longest case description, in cells
        for line in self.lines.values():
            self._longest = max(self._longest, len(one_line(line.description, 200)))
            for index, arm in enumerate(self.arms):
                if (result := line.results.get(arm)) is None:
                    self._missing[index] += 1
                else:
                    self._done += 1
                    self._tally.add(result)

    def compose(self) -> ComposeResult:
        with Horizontal(id="tests-top", classes="hidden"):
            yield Static("", id="tests-header", markup=False)
            yield ProgressBar(total=1, id="tests-progress", show_eta=False)
        yield CaseTable(id="tests-table", cursor_type="row", cell_padding=0, classes="hidden")
        yield Static(Text(IDLE_HINT, style="dim"), id="tests-summary")

    @property
    def table(self) -> CaseTable:
        return self.query_one(CaseTable)

    def wanted_height(self) -> int:
        """Border, title, the table's header and rows, and the summary's lines at the current width."""
        summary = self.query_one("#tests-summary", Static)
        width = max(10, self.size.width or 40)
        plain = str(summary.render())  # Text or Content: str() is the plain text
        summary_lines = sum(max(1, -(-len(line) // width)) for line in plain.split("\n")) if plain else 0
        if not self.arms:
            return 2 + summary_lines
        return 2 + 1 + 1 + len(self.lines) + summary_lines

    def on_click(self) -> None:
        """A click anywhere on the pane (title, progress, summary) focuses its table."""
        if not self.table.has_focus:
            self.table.focus()

    def start(self, title: str, arms: tuple[str, ...], cases: list[tuple[str, str]]) -> None:
        """A new run: `arms` are column labels (e.g. ('A v3 · abc123', 'B working copy'))."""
        self.arms = arms
        self.running = True
        self.finished_arms = set()
        self.lines = {}
        self._fit = None
        self._count_lines()
        self.set_title(title)
        self.query_one("#tests-top").remove_class("hidden")
        self.table.remove_class("hidden")
        self.query_one("#tests-summary", Static).update(Text("running… (esc cancels, results so far are kept)", style="dim"))
        self.set_cases(cases)
        self.set_class(True, "-running")

    def set_title(self, title: str) -> None:
        self.query_one("#tests-header", Static).update(Text(clean(title)))

    def set_cases(self, cases: list[tuple[str, str]]) -> None:
        """The cases of the run, as soon as they are known: one pending row each."""
        for case_id, description in cases:
            if case_id not in self.lines:
                self._add_line(case_id, description)
        self._redraw()

    def _add_line(self, case_id: str, description: str) -> CaseLine:
        line = self.lines[case_id] = CaseLine(case_id, description)
        self._longest = max(self._longest, len(one_line(description, 200)))
        self._missing = [missing + 1 for missing in self._missing]
        return line

    def case_finished(self, case_id: str, arm_index: int, result: CaseResult, description: str | None = None) -> None:
        """Updates the case's cell and the progress; the whole table is filled again only when the
        fit changes (a wider number, a narrower pane), which a run does a few times at most. A case
        not listed by `set_cases` (one the other version does not have) is shown as `description`."""
        line = self.lines.get(case_id)
        new_row = line is None
        if line is None:
            line = self._add_line(case_id, description if description is not None else case_id)
        arm = self.arms[arm_index]
        replaced = arm in line.results
        line.results[arm] = result
        if replaced:  # a tally cannot take a result back: count again (a case is not reported twice)
            self._count_lines()
        else:
            self._done += 1
            self._missing[arm_index] -= 1
            self._tally.add(result)
        fitted = self._fitted()
        if self._fit is None or self._fit != fitted:
            self._redraw()
            return
        fit, widths = fitted
        if new_row:
            self._add_row(line, fit, widths)
            self.post_message(PaneContentChanged("tests"))
        elif fit.has(key := f"arm{arm_index}"):
            self.table.update_cell(case_id, key, self._arm_cell(line, arm_index, fit, widths))
        self._update_progress()

    def arm_finished(self, arm_index: int) -> None:
        """Cases this version does not have (an older suite) are marked as absent, not pending."""
        self.finished_arms.add(arm_index)
        if self._missing[arm_index] or self._fit is None or self._fit != self._fitted():
            self._redraw()
        else:  # every case has this arm's result: nothing to mark
            self._update_progress()

    def on_resize(self) -> None:
        if self._fit is not None and self._fit != self._fitted():
            self._redraw()

    # ------------------------------------------------------------------ the table
    def _headers(self) -> list[str]:
        """`A v3` or `A 5adb74c`: the title line carries the full labels."""
        return [clean(arm).split(" · ")[0] for arm in self.arms]

    def _fitted(self) -> tuple[Fit, CellWidths]:
        absent = any(self._missing[i] for i in self.finished_arms)
        widths = self._tally.widths(absent)
        forms = tuple(widths.form(i) for i in range(4))
        columns = [Column("case", (self._longest,), flex=CASE_WANTED)]
        for index, header in enumerate(self._headers()):
            columns.append(Column(f"arm{index}", tuple(max(w, len(header)) for w in forms), degrade=(1, 2, 3), gap=1))
        available = max(20, (self.size.width or 41) - 1)  # the scrollbar gutter
        return fit_columns(columns, available), widths

    def _arm_cell(self, line: CaseLine, index: int, fit: Fit, widths: CellWidths) -> Text:
        key = f"arm{index}"
        result = line.results.get(self.arms[index])
        if result is None and index in self.finished_arms:  # a case this version's suite does not have
            words = next((w for w in ("— not in this version", "— absent") if len(w) <= fit.widths[key]), "—")
            return cell(Text(words, style="dim"), fit.widths[key])
        return cell(result_cell(result, fit.forms[key], widths), fit.widths[key])

    def _redraw(self) -> None:
        """Fill the table again (the fitted forms or the field widths changed)."""
        table = self.table
        row = table.cursor_row
        self._fit = fit, widths = self._fitted()
        table.clear(columns=True)
        table.add_column(cell("case", fit.widths["case"]), key="case", width=fit.widths["case"] + 1)
        for index, header in enumerate(self._headers()):
            key = f"arm{index}"
            if fit.has(key):
                table.add_column(cell(header, fit.widths[key]), key=key, width=fit.widths[key] + 1)
        for line in self.lines.values():
            self._add_row(line, fit, widths)
        if 0 <= row < table.row_count:
            table.move_cursor(row=row, animate=False)
        self._update_progress()
        self.post_message(PaneContentChanged("tests"))

    def _add_row(self, line: CaseLine, fit: Fit, widths: CellWidths) -> None:
        cells = [self._arm_cell(line, i, fit, widths) for i in range(len(self.arms)) if fit.has(f"arm{i}")]
        self.table.add_row(cell(one_line(line.description, 200), fit.widths["case"]), *cells, key=line.case_id)

    def _update_progress(self) -> None:
        """Once for the results that arrive together (the bar's update costs ~1 ms: once per case,
        it was half the time a fast run took to show)."""
        if not self._progress_due:
            self._progress_due = True
            self.call_after_refresh(self._show_progress)

    def _show_progress(self) -> None:
        """Done cells over done plus pending cells of arms still running (never 100% while running)."""
        self._progress_due = False
        pending = sum(missing for index, missing in enumerate(self._missing) if index not in self.finished_arms)
        self.query_one(ProgressBar).update(total=max(1, self._done + pending), progress=self._done)

    def finish(self, summary: Text | str, cancelled: bool = False) -> None:
        self.running = False
        self.set_class(False, "-running")
        text = summary if isinstance(summary, Text) else Text(clean(summary))
        if cancelled:
            text = Text("cancelled — partial results kept. ", style="bold yellow") + text
        self.query_one("#tests-summary", Static).update(text)
        self.post_message(PaneContentChanged("tests"))
