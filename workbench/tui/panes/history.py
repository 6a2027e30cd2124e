"""History pane: the versions of the selected prompt, newest first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.widgets import DataTable

from workbench.core.safe_text import clean, one_line
from workbench.tui.actions import TABLE_MOVE_BINDINGS, bindings
from workbench.tui.layout import Column, Fit, fit_columns, plainest_width, widest
from workbench.tui.messages import PaneContentChanged, VersionSelected
from workbench.tui.text import cell, env_badges, initials, relative_time

if TYPE_CHECKING:  # the results' module is imported after the first paint (`controllers.browse`)
    from workbench.services.test_results import ResultMark

WORKING_COPY_KEY = "__worktree__"


@dataclass(frozen=True)
class HistoryRow:
    rev: str | None  # commit sha; None = the working copy
    short: str
    timestamp: float | None
    author: str
    subject: str
    releases: tuple[str, ...] = ()
    deployments: tuple[str, ...] = ()  # env names currently or ever deployed at this commit
    troubled: tuple[str, ...] = ()  # of `deployments`: those whose event is malformed
    canaries: tuple[tuple[str, float], ...] = ()  # (env, percent): a running split serves this version to that share
    mark: ResultMark | None = None  # its test result, recorded or local (`services.test_results.history_marks`)
    graph: str = ""  # all-branches mode: the lanes at this commit (`core.graph`)
    heads: tuple[str, ...] = ()  # all-branches mode: the branches whose version this is
    previous: str | None = None  # all-branches mode: the version before it on its own line

    @property
    def tests(self) -> str | None:
        """`✓ 12/12`, or `✓ 12/12 local` for a local run only: what `workbench log` prints too."""
        return self.mark.label if self.mark is not None else None


MESSAGE_WANTED = 40  # cells of badges + message History asks the layout for


def history_columns(rows: list[HistoryRow], ages: list[tuple[str, str]]) -> list[Column]:
    """The History table's columns, in order, with their forms and when they degrade.

    Add a column by adding a `Column` here (key, form widths, degrade ranks) and its cell in
    `HistoryPane._cells`; `fit_columns` decides per width which form shows or whether it shows.
    """
    graph = widest((len(r.graph) for r in rows), 0)
    tests = widest((len(r.mark.summary) for r in rows if r.mark is not None), 5) + tag_slot(rows)
    return [
        Column("mark", (1,), gap=0),
        *([Column("graph", (graph,))] if graph else []),
        Column("commit", (widest((len(r.short) for r in rows), 6),)),
        Column("when", (widest((len(a) for a, _ in ages), 4), widest((len(s) for _, s in ages), 3)), degrade=(1, 4)),
        Column("author", (min(16, widest((len(r.author) for r in rows), 6)), 2), degrade=(2, 3)),
        Column("tests", (tests,)),
        Column("message", (0,), flex=MESSAGE_WANTED, flex_min=MESSAGE_WANTED // 2, gap=0),
    ]


def tag_slot(rows: list[HistoryRow]) -> int:
    """Cells kept after the counts of every row for a ` local` tag when some row has one: the
    counts of a local run end in the same column as those of a recorded one."""
    return widest((len(r.mark.tag) + 1 for r in rows if r.mark is not None and r.mark.tag), 0)


HEADERS = {"mark": ("",), "graph": ("",), "commit": ("commit",), "when": ("when", "age"), "author": ("author", "by"), "tests": ("tests",), "message": ("message",)}


class HistoryPane(DataTable[Text]):
    BINDINGS = [*TABLE_MOVE_BINDINGS, *bindings("history")]

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(id="history-pane", cursor_type="row", zebra_stripes=False, cell_padding=0)
        self.border_title = "2 History"
        self._entries: list[HistoryRow] = []
        self._all: list[HistoryRow] = []
        self._filter = ""
        self._announced: str | None = None  # the version last announced as selected
        self._announced_once = False
        self.base_rev: str | None = None
        self._base_marked = False
        self._clock = clock
        self._fit: Fit | None = None
        self.prompt: str | None = None  # whose versions the rows are
        self.cut: str | None = None  # a shallow clone cuts these versions: said below them
        # The test results read for one prompt, by commit: a result belongs to a prompt at a
        # commit, and one commit holds many prompts' versions.
        self._tests: dict[str, ResultMark] = {}
        self._tests_of: str | None = None

    def wanted_width(self) -> int:
        """Columns in their plainest forms and MESSAGE_WANTED cells of message, border and scrollbar included."""
        return plainest_width(self._columns(), MESSAGE_WANTED) + 3

    def wanted_height(self) -> int:
        return len(self._entries) + 3  # header and border

    def set_rows(self, rows: list[HistoryRow], select: str | None, base: str | None, base_marked: bool, *, prompt: str | None) -> None:
        """Show `prompt`'s versions. Its test results already read stay on its rows (redrawn
        badges, a reload: no blink until they are read again); another prompt's never do."""
        if prompt != self._tests_of:
            self._tests, self._tests_of = {}, prompt
        self.prompt = prompt
        self._all = [self._with_tests(row) for row in rows]
        self.base_rev = base
        self._base_marked = base_marked
        self._show(select)

    def _ages(self, rows: list[HistoryRow]) -> list[tuple[str, str]]:
        now = self._clock() if self._clock else None
        return [
            (relative_time(r.timestamp, now), relative_time(r.timestamp, now, short=True)) if r.timestamp is not None else ("", "")
            for r in rows
        ]

    def _columns(self) -> list[Column]:
        return history_columns(self._all, self._ages(self._all))

    def _show(self, select: str | None) -> None:
        """Fill the table with the rows that match the filter, keeping `select` selected."""
        needle = self._filter.casefold()
        self._entries = [row for row in self._all if not needle or needle in _haystack(row)]
        columns = self._columns()
        self._fit = fit = fit_columns(columns, self._table_width())
        self.clear(columns=True)
        for column in columns:
            if fit.has(column.key):
                label = HEADERS[column.key][min(fit.forms[column.key], len(HEADERS[column.key]) - 1)]
                self.add_column(cell(label, fit.widths[column.key], gap=column.gap), key=column.key, width=fit.widths[column.key] + column.gap)
        ages = self._ages(self._entries)
        slot = tag_slot(self._all)  # once per render, not per row
        for row, age in zip(self._entries, ages, strict=True):
            self.add_row(*self._cells(row, age, columns, slot), key=row.rev or WORKING_COPY_KEY)
        if needle:
            self.border_subtitle = Text(f"/ {clean(self._filter)} · {len(self._entries)} of {len(self._all)}")
        else:
            self.border_subtitle = Text(f"⚠ {self.cut}", style="yellow") if self.cut else None
        if self._entries:
            index = next((i for i, r in enumerate(self._entries) if r.rev == select), 0)
            self.move_cursor(row=index, animate=False)
        self.post_message(PaneContentChanged("history"))

    def _table_width(self) -> int:
        return max(20, self.size.width or 60)  # the content width: border and scrollbar gutter excluded

    def on_resize(self) -> None:
        if self._fit is not None and self._fit != fit_columns(self._columns(), self._table_width()):
            self._show(self.selected_rev)

    def action_start_filter(self) -> None:
        """`/`: keep the versions whose message, author, commit or badges contain the text."""
        from workbench.tui.screens.dialogs import TextPromptScreen

        def chosen(text: str | None) -> None:
            if text is not None:
                self._filter = text
                self._show(self.selected_rev)

        body = "Keep the versions whose commit, author, message, release or environment contains this text (empty: all)."
        self.app.push_screen(TextPromptScreen("Filter history", body, "text", required=False, value=self._filter), chosen)

    def set_tests(self, prompt: str, marks: dict[str, ResultMark]) -> None:
        """`prompt`'s test result at each commit (`✓ 6/6`, or `✓ 6/6 local` for a run not
        recorded on the commit), once they are read; kept for its rows when they come later,
        shown at once when they are on screen."""
        if prompt != self._tests_of:
            self._tests, self._tests_of = {}, prompt
        self._tests.update(marks)
        if prompt == self.prompt:
            self._all = [self._with_tests(row) for row in self._all]
            self._show(self.selected_rev)

    def _with_tests(self, row: HistoryRow) -> HistoryRow:
        mark = self._tests.get(row.rev) if row.rev and self._tests_of == self.prompt else None
        if mark is None or mark == row.mark:
            return row
        return replace(row, mark=mark)

    def mark_base(self, rev: str | None) -> None:
        self.base_rev = rev
        self._base_marked = True
        if self._fit is None or not self._fit.has("mark"):
            return
        for row in self._entries:
            self.update_cell(row.rev or WORKING_COPY_KEY, "mark", self._mark(row))

    def _mark(self, row: HistoryRow) -> Text:
        if self._base_marked and row.rev == self.base_rev:
            return Text("◆", style="bold")
        return Text(" ")

    def _cells(self, row: HistoryRow, age: tuple[str, str], columns: list[Column], slot: int) -> list[Text]:
        fit = self._fit
        assert fit is not None
        # Badges first: they are what a reader scans for, and the message may be cut.
        message = Text()
        for head in row.heads:
            message.append(f"({clean(head)})", style="bold magenta")
            message.append(" ")
        for label in row.releases:
            message.append(f"‹{clean(label.split('@')[-1])}›", style="bold cyan")
            message.append(" ")
        if row.deployments:
            message.append(env_badges(row.deployments, row.troubled))
            message.append(" ")
        for env, percent in row.canaries:
            message.append(f"[{clean(env)} {percent:g}%]", style="bold magenta")
            message.append(" ")
        message.append(one_line(row.subject, 200))
        author = clean(row.author)
        content = {
            "mark": self._mark(row),
            "graph": _graph_cell(row.graph),
            "commit": Text(row.short, style="italic" if row.rev is None else ""),
            "when": Text(age[fit.forms.get("when", 0)]),
            "author": Text(initials(author) if fit.forms.get("author") == 1 else one_line(author, 40)),
            "tests": _tests_cell(row.mark, fit.widths.get("tests", 0), slot),
            "message": message,
        }
        return [
            cell(content[c.key], fit.widths[c.key], gap=c.gap)
            for c in columns
            if fit.has(c.key)
        ]

    @property
    def selected_rev(self) -> str | None:
        if not self._entries or self.cursor_row < 0 or self.cursor_row >= len(self._entries):
            return None
        return self._entries[self.cursor_row].rev

    @property
    def entries(self) -> list[HistoryRow]:
        return list(self._entries)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if 0 <= event.cursor_row < len(self._entries):
            rev = self._entries[event.cursor_row].rev
            if rev != self._announced or not self._announced_once:  # redrawn rows (resize, zoom, filter): no new diff
                self._announced, self._announced_once = rev, True
                self.post_message(VersionSelected(rev))


def _haystack(row: HistoryRow) -> str:
    return " ".join([row.short, row.rev or "", row.author, row.subject, *row.heads, *row.releases, *row.deployments, *(env for env, _ in row.canaries), row.tests or ""]).casefold()


LANE_STYLES = ("green", "yellow", "magenta", "cyan", "blue", "red")


def _graph_cell(cells: str) -> Text:
    """Each lane in its own colour (lanes are two cells apart), as lazygit colours its graph."""
    text = Text()
    for index, char in enumerate(cells):
        text.append(char, style=LANE_STYLES[(index // 2) % len(LANE_STYLES)] if char.strip() else "")
    return text


def _tests_cell(mark: ResultMark | None, width: int, slot: int) -> Text:
    """`✓ 6/6` in `width` cells: the symbol first, the counts right-aligned under each other
    before a `slot` of cells that holds the tag of a local run (`✓ 6/6 local`, not recorded on
    the commit), which is dimmed as well as named."""
    if mark is None or not mark.summary:
        return Text("")
    summary = mark.summary
    style = "green" if summary.startswith("✓") else "red" if summary.startswith("✗") else ""
    if mark.tag:
        style = f"dim {style}".strip()
    symbol, _, counts = clean(summary).partition(" ")
    tag = f" {mark.tag}" if mark.tag else ""
    if not counts:
        return Text(f"{symbol}{tag}", style=style)
    return Text(f"{symbol} {counts:>{max(0, width - len(symbol) - 1 - slot)}}{tag:<{slot}}", style=style)
