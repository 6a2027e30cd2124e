"""History pane: the versions of the selected prompt, newest first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from rich.text import Text
from textual import on
from textual.widgets import DataTable

from workbench.core.safe_text import clean, one_line
from workbench.tui.actions import TABLE_MOVE_BINDINGS, bindings
from workbench.tui.messages import VersionSelected
from workbench.tui.text import relative_time

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
    tests: str | None = None  # e.g. "✓ 12/12"


class HistoryPane(DataTable[Text]):
    BINDINGS = [*TABLE_MOVE_BINDINGS, *bindings("history")]

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(id="history-pane", cursor_type="row", zebra_stripes=False)
        self.border_title = "2 History"
        self._entries: list[HistoryRow] = []
        self._all: list[HistoryRow] = []
        self._filter = ""
        self._announced: str | None = None  # the version last announced as selected
        self._announced_once = False
        self.base_rev: str | None = None
        self._base_marked = False
        self._clock = clock

    def on_mount(self) -> None:
        self.add_column(" ", key="mark", width=1)
        self.add_column("commit", key="commit", width=8)
        self.add_column("when", key="when", width=8)
        self.add_column("author", key="author", width=10)
        self.add_column("tests", key="tests", width=7)
        self.add_column("message", key="message")

    def set_rows(self, rows: list[HistoryRow], select: str | None, base: str | None, base_marked: bool) -> None:
        known = {row.rev: row.tests for row in self._all if row.tests}
        self._all = [replace(row, tests=known.get(row.rev)) if row.tests is None and row.rev in known else row for row in rows]
        self.base_rev = base
        self._base_marked = base_marked
        self._show(select)

    def _show(self, select: str | None) -> None:
        """Fill the table with the rows that match the filter, keeping `select` selected."""
        needle = self._filter.casefold()
        self._entries = [row for row in self._all if not needle or needle in _haystack(row)]
        self.clear()
        for row in self._entries:
            self.add_row(*self._cells(row), key=row.rev or WORKING_COPY_KEY)
        self.border_subtitle = Text(f"/ {clean(self._filter)} · {len(self._entries)} of {len(self._all)}") if needle else None
        if self._entries:
            index = next((i for i, r in enumerate(self._entries) if r.rev == select), 0)
            self.move_cursor(row=index, animate=False)

    def action_start_filter(self) -> None:
        """`/`: keep the versions whose message, author, commit or badges contain the text."""
        from workbench.tui.screens.dialogs import TextPromptScreen

        def chosen(text: str | None) -> None:
            if text is not None:
                self._filter = text
                self._show(self.selected_rev)

        body = "Keep the versions whose commit, author, message, release or environment contains this text (empty: all)."
        self.app.push_screen(TextPromptScreen("Filter history", body, "text", required=False, value=self._filter), chosen)

    def set_tests(self, rev: str | None, summary: str | None) -> None:
        key = rev or WORKING_COPY_KEY
        for i, row in enumerate(self._entries):
            if (row.rev or WORKING_COPY_KEY) == key:
                self._entries[i] = row = HistoryRow(**{**row.__dict__, "tests": summary})
                self.update_cell(key, "tests", _tests_cell(summary))

    def mark_base(self, rev: str | None) -> None:
        self.base_rev = rev
        self._base_marked = True
        for row in self._entries:
            self.update_cell(row.rev or WORKING_COPY_KEY, "mark", self._mark(row))

    def _mark(self, row: HistoryRow) -> Text:
        if self._base_marked and row.rev == self.base_rev:
            return Text("◆", style="bold")
        return Text(" ")

    def _cells(self, row: HistoryRow) -> list[Text]:
        now = self._clock() if self._clock else None
        when = relative_time(row.timestamp, now) if row.timestamp is not None else ""
        # Badges first: they are what a reader scans for, and the message may be cut.
        message = Text()
        for label in row.releases:
            message.append(f"‹{clean(label.split('@')[-1])}› ", style="bold cyan")
        for env in row.deployments:
            message.append(f"[{clean(env)}]", style="reverse" if env == "prod" else "bold")
            message.append(" ")
        message.append(one_line(row.subject, 120))
        commit = Text(row.short, style="italic" if row.rev is None else "")
        return [self._mark(row), commit, Text(when), Text(one_line(row.author, 10)), _tests_cell(row.tests), message]

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
            if rev != self._announced or not self._announced_once:  # redrawn rows: same selection, no new diff
                self._announced, self._announced_once = rev, True
                self.post_message(VersionSelected(rev))


def _haystack(row: HistoryRow) -> str:
    return " ".join([row.short, row.rev or "", row.author, row.subject, *row.releases, *row.deployments, row.tests or ""]).casefold()


def _tests_cell(summary: str | None) -> Text:
    if not summary:
        return Text("")
    style = "green" if summary.startswith("✓") else "red" if summary.startswith("✗") else ""
    return Text(clean(summary), style=style)
