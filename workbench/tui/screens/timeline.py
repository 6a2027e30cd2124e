"""`6`: the repository's timeline: every release, promotion, split, finish, rollback and merge
across all prompts, newest first, filtered by environment and prompt. `enter` opens the
prompt at that version (diffed against the version it replaced); `R` on a prod event starts
the rollback flow of its prompt."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from workbench.core.safe_text import clean, one_line
from workbench.services.timeline import TimelineEvent, epoch
from workbench.tui.actions import TABLE_MOVE_BINDINGS
from workbench.tui.footer import KeyFooter
from workbench.tui.text import relative_time

KIND_STYLES = {"rollback": "bold red", "promote": "bold green", "split": "yellow", "finish": "green", "release": "cyan", "merge": "magenta"}
COLUMNS = ("when", "what", "env", "prompt", "version", "tests", "who", "why")
# Which columns give way when the terminal is narrow, first to last.
EXPENDABLE = ("who", "tests")
CELL_PADDING = 1  # DataTable's default, on each side of every cell
SCROLLBAR = 2
MIN_WHY = 16
MIN_PROMPT = 16
MIN_CUT = 4  # narrower than the columns left need: the table scrolls sideways

TimelineChoice = tuple[str, TimelineEvent]  # ("open" | "rollback", the event)


def event_cells(event: TimelineEvent, now: datetime | None) -> list[Text]:
    """One table row, a cell per COLUMNS; every value from Git (names, messages) as plain text."""
    version = clean(_label(event.version) or event.commit[:7])
    if event.previous_version or event.previous_commit:
        version = f"{clean(_label(event.previous_version) or (event.previous_commit or '')[:7])} → {version}"
    if event.canary:
        version += f" ({clean(event.canary)})"
    prompts = ", ".join(clean(name) for name in event.prompts)
    tests = clean(event.tests or "")
    return [
        Text(relative_time(epoch(event.when), now)),
        Text(event.kind, style=KIND_STYLES.get(event.kind, "")),
        Text(clean(event.env or ""), style="reverse" if event.env == "prod" else ""),
        Text(one_line(prompts, 60)),
        Text(one_line(version, 60)),
        Text(tests, style="green" if tests.startswith("✓") else "red" if tests.startswith("✗") else ""),
        Text(one_line(clean(event.who.split(" <")[0]), 30)),  # the name; the address is in --json
        _why(event),
    ]


def _why(event: TimelineEvent) -> Text:
    """The event's reason, after what its message held that could not be read (as the CLI says)."""
    why = Text(one_line(clean(event.why), 80))
    if not event.problem:
        return why
    return Text.assemble((f"⚠ malformed: {one_line(clean(event.problem), 60)}", "yellow"), (" · " if event.why else ""), why)


def fit_columns(rows: Sequence[Sequence[Text]], width: int) -> tuple[list[int], dict[int, int]]:
    """Which COLUMNS to show in `width` cells (their indexes), and the widths of those cut to fit.

    The expendable columns give way first, one at a time, while `why` would be narrower than
    MIN_WHY; then `prompt` is cut (down to MIN_PROMPT), and `why` gets what is left."""

    def natural(index: int) -> int:
        return max([len(COLUMNS[index]), *(row[index].cell_len for row in rows)])

    shown = list(range(len(COLUMNS)))
    why, prompt = COLUMNS.index("why"), COLUMNS.index("prompt")
    for dropping in (None, *EXPENDABLE):
        if dropping is not None:
            shown.remove(COLUMNS.index(dropping))
        used = sum(natural(i) + 2 * CELL_PADDING for i in shown if i != why) + 2 * CELL_PADDING + SCROLLBAR
        if width - used >= MIN_WHY:
            break
    room = width - used
    cuts: dict[int, int] = {}
    shrink = min(MIN_WHY - room, natural(prompt) - MIN_PROMPT)
    if shrink > 0:
        cuts[prompt] = natural(prompt) - shrink
        room += shrink
    room = max(MIN_CUT, room)
    if natural(why) > room:
        cuts[why] = room
    return shown, cuts


def _label(version: str | None) -> str:
    return version.rsplit("@", 1)[-1] if version else ""


class TimelineTable(DataTable[Text]):
    BINDINGS: ClassVar = TABLE_MOVE_BINDINGS


class TimelineScreen(Screen[TimelineChoice | None]):
    # The table takes what the title leaves: sized to its rows, it pushed the title off the top.
    DEFAULT_CSS = """
    #timeline-title { height: auto; }
    #timeline-table { height: 1fr; }
    """
    BINDINGS: ClassVar = [
        Binding("escape,q,6", "close", "Close"),
        Binding("enter", "open", "Open at this version"),
        Binding("R", "rollback", "Roll back (prod)"),
        Binding("e", "next_env", "Environment"),
        Binding("slash", "filter_prompt", "Prompt"),
    ]

    def __init__(self, events: Sequence[TimelineEvent], envs: Sequence[str], clock: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.events = list(events)
        self.envs = list(envs)
        self.env: str | None = None
        self.prompt_filter = ""
        self.clock = clock
        self.shown: list[TimelineEvent] = []
        self._columns: list[int] = []

    def compose(self) -> ComposeResult:
        yield Static(id="timeline-title")
        yield TimelineTable(id="timeline-table", cursor_type="row", zebra_stripes=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self._show()
        self.query_one(TimelineTable).focus()

    def on_resize(self) -> None:
        table = self.query_one(TimelineTable)
        row = table.cursor_row
        self._show()
        if self.shown:
            table.move_cursor(row=min(row, len(self.shown) - 1))

    def _show(self) -> None:
        needle = self.prompt_filter.casefold()
        self.shown = [
            e
            for e in self.events
            if (self.env is None or e.env == self.env) and (not needle or any(needle in name.casefold() for name in e.prompts))
        ]
        table = self.query_one(TimelineTable)
        now = self.clock() if self.clock else None
        rows = [event_cells(event, now) for event in self.shown]
        columns, cuts = fit_columns(rows, self.app.size.width)
        table.clear(columns=columns != self._columns)
        if columns != self._columns:
            self._columns = columns
            for index in columns:
                table.add_column(COLUMNS[index], key=COLUMNS[index])
        for index, cells in enumerate(rows):
            for column, cut in cuts.items():
                cells[column].truncate(cut, overflow="ellipsis")
            table.add_row(*(cells[i] for i in columns), key=str(index))
        title = Text("6 Timeline", style="bold")
        title.append(self._title_line(self.app.size.width - title.cell_len))
        if not self.shown:
            title.append("\nno events: release with `r`, promote with `p`", style="dim")
        self.query_one("#timeline-title", Static).update(title)

    def _title_line(self, width: int) -> str:
        """The filters and counts, in the fullest form that fits on the title's line (at 80
        columns "newest first" wrapped onto a line of its own)."""
        env = f"{clean(self.env) if self.env else 'all'} (e)"
        prompt = f"prompt: {clean(self.prompt_filter) or 'all'} (/)"
        counts = f"{len(self.shown)} of {len(self.events)} events"
        forms = [
            f" · environment: {env} · {prompt} · {counts}, newest first",
            f" · environment: {env} · {prompt} · {counts}",
            f" · env: {env} · {prompt} · {counts}",
        ]
        return next((form for form in forms if cell_len(form) <= width), forms[-1])

    @property
    def current(self) -> TimelineEvent | None:
        row = self.query_one(TimelineTable).cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def action_close(self) -> None:
        self.dismiss(None)

    def action_open(self) -> None:
        if self.current is not None:
            self.dismiss(("open", self.current))

    def action_rollback(self) -> None:
        event = self.current
        if event is None:
            return
        if event.env != "prod":
            self.notify("R rolls back a prod event: choose one (e filters by environment)", severity="warning")
            return
        self.dismiss(("rollback", event))

    def action_next_env(self) -> None:
        cycle: list[str | None] = [None, *self.envs]
        self.env = cycle[(cycle.index(self.env) + 1) % len(cycle)] if self.env in cycle else None
        self._show()

    def action_filter_prompt(self) -> None:
        from workbench.tui.screens.dialogs import TextPromptScreen

        def chosen(text: str | None) -> None:
            if text is not None:
                self.prompt_filter = text.strip()
                self._show()

        body = "Keep the events of prompts whose name contains this text (empty: all prompts)."
        self.app.push_screen(TextPromptScreen("Filter the timeline", body, "prompt", required=False, value=self.prompt_filter), chosen)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()
