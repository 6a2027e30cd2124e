"""Browsing: the prompt tree, the selected prompt's history, the diff, and their test summaries."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text

from workbench.core.safe_text import clean
from workbench.core.versions import DeploymentEvent, HistoryEntry
from workbench.services import env_status, history, parse_cache, upkeep
from workbench.services.env_status import StatusRow
from workbench.tui.controllers.base import Controller, FlowAborted
from workbench.tui.first_screen import (
    HISTORY_PAGE,
    TreeData,
    diff_read,
    is_deleted_copy,
    previous_pair,
    shows_working_copy,
    tree_data,
)
from workbench.tui.messages import DiffLoaded, HistoryLoaded, TreeLoaded
from workbench.tui.panes.diff import DiffPane
from workbench.tui.panes.history import HistoryPane, HistoryRow
from workbench.tui.panes.prompts import PromptRow, PromptsPane

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp

def warm_up_validation() -> None:
    """Import the loader and build the prompt validator (jsonschema, jinja2: 0.1-0.5 s)."""
    import workbench.core.loader  # noqa: F401
    from workbench.core.schema import prepare

    prepare()


FIRST_PAINT_WAIT_S = 3.0  # environments load after the first diff, or after this long
SUMMARY_ROWS = 50
BROKEN_CHECK_BATCH = 64  # prompts checked per call after the first paint: ~40 ms warm, the session then free


def history_rows(entries: list[HistoryEntry], status_row: StatusRow | None, state: str | None) -> tuple[list[HistoryRow], dict[str, DeploymentEvent]]:
    """History rows with release badges and the environments that run each version now."""
    current = {cell.event.tag: cell.env for cell in (status_row.cells if status_row else ()) if cell.event is not None}
    troubled = {cell.event.tag: cell.env for cell in (status_row.cells if status_row else ()) if cell.event is not None and cell.event.problem}
    stages = [cell.env for cell in (status_row.cells if status_row else ())]  # the configured order: dev, staging, prod
    deployed = {cell.env: cell.event for cell in (status_row.cells if status_row else ()) if cell.event is not None}
    # A running split's canary: on the row whose release it is (the version `get` hands that share of keys).
    canaries: dict[str, list[tuple[str, float]]] = {}
    for cell in status_row.cells if status_row else ():
        canary = cell.event.canary if cell.event is not None else None
        if canary is not None:
            canaries.setdefault(canary.version or canary.commit, []).append((cell.env, canary.percent))
    rows: list[HistoryRow] = []
    if shows_working_copy(entries, state):
        rows.append(HistoryRow(None, "working", None, "you", f"working copy ({state or 'new'})"))
    for entry in entries:
        info = entry.commit
        rows.append(
            HistoryRow(
                rev=info.sha,
                short=info.sha[:7],
                timestamp=float(info.author_time),
                author=info.author_name,
                subject=info.subject,
                releases=tuple(r.label for r in entry.releases),
                deployments=tuple(sorted((current[e.tag] for e in entry.deployments if e.tag in current), key=stages.index)),
                troubled=tuple(troubled[e.tag] for e in entry.deployments if e.tag in troubled),
                canaries=tuple(split for key in (*(r.label for r in entry.releases), info.sha) for split in canaries.get(key, ())),
            )
        )
    return rows, deployed


def with_graph(rows: list[HistoryRow], found: history.BranchHistory) -> list[HistoryRow]:
    """All-branches rows: each commit's lanes, the branch heads at it and its own previous version."""
    graph = {row.commit: row.cells for row in found.graph}
    previous = {entry.commit.sha: (entry.commit.parents[0] if entry.commit.parents else None) for entry in found.entries}
    return [
        replace(row, graph=graph.get(row.rev, ""), heads=found.heads.get(row.rev, ()), previous=previous.get(row.rev)) if row.rev else row
        for row in rows
    ]


class BrowseController(Controller):
    """Loads what the main screen shows; every load is an exclusive worker (newest wins)."""

    def __init__(self, app: WorkbenchApp) -> None:
        super().__init__(app)
        self.rows: list[HistoryRow] = []
        self.deployed: dict[str, DeploymentEvent] = {}  # env -> what it runs of the selected prompt
        self.status: dict[str, StatusRow] = {}
        self.states: dict[str, str] = {}
        self.broken: set[str] = set()  # clean prompts whose content does not load (marked as found)
        self.entries: list[HistoryEntry] = []  # of the prompt `entries_of`, to redraw its badges
        self.entries_of: str | None = None
        self.wanted_rev: str | None = None  # a version opened from elsewhere (the timeline), until History shows it
        self.history_asked: str | None = None  # the prompt whose history is loading or shown
        self.diff_asked: tuple[str, str | None, tuple[str | None, str | None]] | None = None  # loading or shown
        self.all_branches = False  # History: the current branch (False) or every branch, with a graph
        self.first_paint = asyncio.Event()  # set once the first diff is on screen
        self.upkeep_started = False
        self.upkeep_job: object = None  # kept until git ends it (dropping it stops git)
        self.warming: asyncio.Task[None] | None = None

    def end_reads_ahead(self) -> None:
        """The app's first pass is over (its first diff drawn, a reload, another prompt selected):
        answers read ahead and not taken could be stale from now on, Git is asked again."""
        if self.app.reads_ahead is not None:
            self.app.reads_ahead.stop()

    # ------------------------------------------------------------------ tree
    def load_tree(self) -> None:
        self.app.start_worker(self._load_tree, group="tree", exclusive=True)

    async def _load_tree(self) -> None:
        """The tree first (working copy and branch: fast), then what each environment runs
        (status reads every deployment tag: the slow part on a big repository)."""
        try:
            data = await self.call(tree_data)
        except FlowAborted:
            return
        self.states = {name: str(state.value) for name, state in data.states.items()}
        self.broken = set(data.broken)
        dirty = sum(1 for state in self.states.values() if state != "clean")
        self.app.post_message(TreeLoaded(self._prompt_rows(), data.branch, data.ahead, data.behind, dirty))
        if not self.first_paint.is_set():  # the first prompt's history and diff go first
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.first_paint.wait(), FIRST_PAINT_WAIT_S)
        if self.warming is None:  # after the first paint: the first edit or check does not wait for it
            self.warming = asyncio.create_task(asyncio.to_thread(warm_up_validation))
        try:
            status = await self.call(env_status.status)
        except FlowAborted:
            return
        self.status = {row.name: row for row in status.rows}
        self.app.post_message(TreeLoaded(self._prompt_rows(), data.branch, data.ahead, data.behind, dirty, statuses=True))
        if not self.upkeep_started:  # once per session, after the tree is on screen
            self.upkeep_started = True
            self.upkeep_job = await self.call(upkeep.speed_up_history_later)
        await self._mark_broken(data)

    async def _mark_broken(self, data: TreeData) -> None:
        """Check the clean prompts' content after the first paint, a few at a time (the session
        is free between them), and mark in the tree those that do not load as they are found.
        Checking them all first cost seconds of a big repository's first paint."""
        unchecked = [name for name, state in self.states.items() if state == "clean" and name not in self.broken]
        for start in range(0, len(unchecked), BROKEN_CHECK_BATCH):
            try:
                found = await self.call(parse_cache.does_not_load, unchecked[start : start + BROKEN_CHECK_BATCH])
            except FlowAborted:
                return
            if found:
                self.broken.update(found)
                dirty = sum(1 for state in self.states.values() if state != "clean")
                self.app.post_message(TreeLoaded(self._prompt_rows(), data.branch, data.ahead, data.behind, dirty, statuses=True))

    def _prompt_rows(self) -> list[PromptRow]:
        envs = {row.name: tuple(cell.env for cell in row.cells if cell.event is not None) for row in self.status.values()}
        troubled = {row.name: tuple(cell.env for cell in row.cells if cell.event is not None and cell.event.problem) for row in self.status.values()}
        rows = [
            PromptRow(name, "invalid" if name in self.broken else state, envs.get(name, ()), troubled.get(name, ()))
            for name, state in self.states.items()
        ]
        # Served under a name this branch no longer has (renamed, deleted): `R` must reach it.
        gone = sorted(name for name, found in envs.items() if found and name not in self.states)
        return rows + [PromptRow(name, "gone", envs[name], troubled.get(name, ())) for name in gone]

    def statuses_loaded(self, name: str | None) -> None:
        """Environments arrived after History: redraw its deployment badges (no Git needed)."""
        if name is not None and self.entries_of == name:
            known = {row.rev: row for row in self.rows}
            rows, self.deployed = history_rows(self.entries, self.status.get(name), self.states.get(name))
            # Only the badges change: the lanes, heads and previous versions stay.
            self.rows = [replace(row, graph=k.graph, heads=k.heads, previous=k.previous) if (k := known.get(row.rev)) else row for row in rows]
            app = self.app
            app.query_one(HistoryPane).set_rows(self.rows, app.selected_rev, app.base_rev, app.base_marked, prompt=name)
            app.refresh_status_bar()

    # ------------------------------------------------------------------ history
    def load_history(self, name: str) -> None:
        self.history_asked = name
        self.app.start_worker(partial(self._load_history, name), group="history", exclusive=True)

    def toggle_branches(self) -> None:
        """`a`: the selected prompt's history on the current branch, or on every branch with lanes."""
        self.all_branches = not self.all_branches
        if self.app.selected_prompt:
            self.load_history(self.app.selected_prompt)

    async def _load_history(self, name: str) -> None:
        all_branches = self.all_branches
        try:
            if all_branches:
                found = await self.call(history.branch_history, name, limit=HISTORY_PAGE)
                entries = list(found.entries)
            else:
                entries = await self.call(history.history, name, limit=HISTORY_PAGE)
            cut = await self.call(history.cut_short, entries)
        except FlowAborted as aborted:
            self._history_failed(name, aborted.__cause__)
            return
        self.entries, self.entries_of = entries, name
        rows, deployed = history_rows(entries, self.status.get(name), self.states.get(name))
        if all_branches:
            rows = with_graph(rows, found)
        self.app.post_message(HistoryLoaded(name, rows, deployed, all_branches, cut))
        commits = [r.rev for r in rows if r.rev][:SUMMARY_ROWS]
        from workbench.services import test_results  # the results store: not needed before the first paint

        try:
            marks = await self.call(test_results.history_marks, name, commits)
        except FlowAborted:
            return
        if self.app.selected_prompt == name:
            self.app.query_one(HistoryPane).set_tests(name, marks)

    def _history_failed(self, name: str, error: BaseException | None) -> None:
        """History could not be read (the error is shown): no rows of the prompt selected
        before stay under this one, and the Diff pane says why it is empty."""
        app = self.app
        if self.history_asked == name:
            self.history_asked = None  # selecting it again tries again
        if error is None or app.selected_prompt != name:
            return
        self.rows, self.entries, self.entries_of = [], [], None
        app.selected_rev = None
        pane = app.query_one(HistoryPane)
        pane.cut = None
        pane.set_rows([], None, app.base_rev, app.base_marked, prompt=None)
        pane.border_title = Text(f"2 History · {clean(name)}")
        app.query_one(DiffPane).show_message(Text(clean(f"the history of {name} could not be read: {error}")))

    def history_loaded(self, event: HistoryLoaded) -> bool:
        """Take the new rows; False when they lack the version wanted and all branches load instead."""
        self.rows = event.rows
        self.deployed = event.deployed
        wanted, self.wanted_rev = self.wanted_rev, None
        if wanted is not None and not event.all_branches and wanted not in {row.rev for row in event.rows}:
            self.all_branches, self.wanted_rev = True, wanted  # a version of another branch
            self.load_history(event.name)
            return False
        return True

    def open_version(self, name: str, version: str | None, replaced: str | None) -> None:
        """Show `version` of `name` in History, diffed against `replaced` (the timeline's `enter`)."""
        if version is None:
            self.app.notify(f"{name} has no such version on any branch", severity="warning", markup=False)
            return
        app = self.app
        app.selected_prompt, app.selected_rev = name, version
        app.base_rev, app.base_marked = replaced, replaced is not None
        self.wanted_rev = version
        app.query_one(PromptsPane).show_prompt(name)
        self.load_history(name)
        app.action_focus_pane("history")

    # ------------------------------------------------------------------ diff
    def comparison_pair(self) -> tuple[str | None, str | None]:
        """(left, right) revisions for the diff: the marked base, else the previous version."""
        app = self.app
        right = app.selected_rev
        if app.base_marked:
            return app.base_rev, right
        row = next((r for r in self.rows if r.rev == right), None)
        if row is not None and row.previous is not None:  # all branches: its own line's previous version
            return row.previous, right
        return previous_pair([r.rev for r in self.rows], right)

    def load_diff(self, name: str, rev: str | None) -> None:
        self.diff_asked = (name, rev, self.comparison_pair())
        self.app.query_one(DiffPane).show_pending()
        self.app.start_worker(partial(self._load_diff, name, rev), group="diff", exclusive=True)

    async def _load_diff(self, name: str, rev: str | None) -> None:
        left, right = self.comparison_pair()
        try:
            if not self._deleted_at(name, rev):
                result = await self.call(parse_cache.check_at, name, rev)  # a version checked before is not parsed again
                if not result.ok and result.errors:
                    where = "working copy" if rev is None else rev[:10]
                    self.app.post_message(DiffLoaded(name, problems=result.problems, title=f"{name} ({where})"))
                    return
            fn, args = diff_read(name, rev, left, right)
            diff = await self.call(fn, *args)
        except FlowAborted:
            self.diff_asked = None  # selecting it again tries again
            self.app.post_message(DiffLoaded(name, message="✗ the diff could not be made (see the message)"))
            return
        left_label = "(none)" if left == right else self.version_label(left)
        labelled = replace(diff, left_label=left_label, right_label=self.version_label(right))
        self.app.post_message(DiffLoaded(name, diff=labelled))

    def _deleted_at(self, name: str, rev: str | None) -> bool:
        """The prompt's file is gone at `rev` (the working copy of a deleted file, the commit that
        deleted or renamed it away): the Diff pane shows the deletion, not "does not exist"."""
        if is_deleted_copy(self.states.get(name), rev):
            return True
        return self.entries_of == name and any(e.commit.sha == rev and e.change == "D" for e in self.entries)

    def diff_wanted(self, name: str, rev: str | None) -> bool:
        """Whether the diff of `rev` is not already loading or shown (History announcing the
        version the app put its cursor on asks for the same diff again)."""
        return self.diff_asked != (name, rev, self.comparison_pair())

    def version_label(self, rev: str | None) -> str:
        """`v2 · 07c6d38` for a released commit in the history, else the short commit."""
        if rev is None:
            return "working copy"
        row = next((r for r in self.rows if r.rev == rev), None)
        if row is None:
            return rev[:10]
        release = row.releases[0].split("@")[-1] if row.releases else None
        return f"{release} · {row.short}" if release else row.short

    def mark_base(self) -> None:
        app = self.app
        if not app.selected_prompt:
            app.notify("select a prompt first", severity="warning")
            return
        app.base_rev = app.selected_rev
        app.base_marked = True
        app.query_one(HistoryPane).mark_base(app.base_rev)
        label = "working copy" if app.base_rev is None else app.base_rev[:7]
        app.notify(f"base: {label} — select another version and press d", timeout=3, markup=False)

