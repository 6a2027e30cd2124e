"""Browsing: the prompt tree, the selected prompt's history, the diff, and their test summaries."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from workbench.core.versions import HistoryEntry, WorkingState
from workbench.services import branches, diffing, env_status, history, prompt_files, test_results
from workbench.services.env_status import EnvStatus, StatusRow
from workbench.services.session import RepoSession
from workbench.tui.controllers.base import Controller, FlowAborted
from workbench.tui.messages import DiffLoaded, HistoryLoaded, TreeLoaded
from workbench.tui.panes.history import HistoryPane, HistoryRow
from workbench.tui.panes.prompts import PromptRow

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp

HISTORY_PAGE = 200
SUMMARY_ROWS = 50


@dataclass(frozen=True)
class _TreeData:
    states: dict[str, WorkingState]
    status: EnvStatus
    branch: str | None
    ahead: int
    behind: int


def _tree_data(session: RepoSession) -> _TreeData:
    states = prompt_files.working_states(session)
    status = env_status.status(session)
    branch = branches.current_branch(session)
    info = next((b for b in branches.branches(session) if b.name == branch), None) if branch else None
    return _TreeData(states, status, branch, info.ahead if info else 0, info.behind if info else 0)


def history_rows(entries: list[HistoryEntry], status_row: StatusRow | None, state: str | None) -> tuple[list[HistoryRow], dict[str, str]]:
    """History rows with release badges and the environments that run each version now."""
    current = {cell.event.tag: cell.env for cell in (status_row.cells if status_row else ()) if cell.event is not None}
    stages = [cell.env for cell in (status_row.cells if status_row else ())]  # the configured order: dev, staging, prod
    deployed = {
        cell.env: cell.event.version or cell.event.commit[:10]
        for cell in (status_row.cells if status_row else ())
        if cell.event is not None
    }
    rows: list[HistoryRow] = []
    if (state is not None and state != "clean") or not entries:
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
            )
        )
    return rows, deployed


class BrowseController(Controller):
    """Loads what the main screen shows; every load is an exclusive worker (newest wins)."""

    def __init__(self, app: WorkbenchApp) -> None:
        super().__init__(app)
        self.rows: list[HistoryRow] = []
        self.deployed: dict[str, str] = {}
        self.status: dict[str, StatusRow] = {}
        self.states: dict[str, str] = {}

    # ------------------------------------------------------------------ tree
    def load_tree(self) -> None:
        self.app.start_worker(self._load_tree, group="tree", exclusive=True)

    async def _load_tree(self) -> None:
        try:
            data = await self.call(_tree_data)
        except FlowAborted:
            return
        self.status = {row.name: row for row in data.status.rows}
        envs = {row.name: tuple(cell.env for cell in row.cells if cell.event is not None) for row in data.status.rows}
        rows = [PromptRow(name, str(state.value), envs.get(name, ())) for name, state in data.states.items()]
        self.states = {row.name: row.state for row in rows}
        dirty = sum(1 for r in rows if r.state != "clean")
        self.app.post_message(TreeLoaded(rows, data.branch, data.ahead, data.behind, dirty))

    # ------------------------------------------------------------------ history
    def load_history(self, name: str) -> None:
        self.app.start_worker(partial(self._load_history, name), group="history", exclusive=True)

    async def _load_history(self, name: str) -> None:
        try:
            entries = await self.call(history.history, name, limit=HISTORY_PAGE)
        except FlowAborted:
            return
        rows, deployed = history_rows(entries, self.status.get(name), self.states.get(name))
        self.app.post_message(HistoryLoaded(name, rows, deployed))
        commits = [r.rev for r in rows if r.rev][:SUMMARY_ROWS]
        try:
            summaries = await self.call(test_results.latest_summaries, name, commits)
        except FlowAborted:
            return
        if self.app.selected_prompt == name:
            self.app.query_one(HistoryPane).set_tests(summaries)

    def history_loaded(self, event: HistoryLoaded) -> None:
        self.rows = event.rows
        self.deployed = event.deployed

    # ------------------------------------------------------------------ diff
    def comparison_pair(self) -> tuple[str | None, str | None]:
        """(left, right) revisions for the diff: the marked base, else the previous version."""
        app = self.app
        right = app.selected_rev
        if app.base_marked:
            return app.base_rev, right
        revs = [r.rev for r in self.rows]
        if right in revs:
            older = [r for r in revs[revs.index(right) + 1 :] if r is not None]
            if older:
                return older[0], right
        return (right, right) if right is not None else ("HEAD", None)

    def load_diff(self, name: str, rev: str | None) -> None:
        self.app.start_worker(partial(self._load_diff, name, rev), group="diff", exclusive=True)

    async def _load_diff(self, name: str, rev: str | None) -> None:
        left, right = self.comparison_pair()
        try:
            result = await self.call(prompt_files.prompt_at, name, rev)
            if not result.ok and result.errors:
                where = "working copy" if rev is None else rev[:10]
                self.app.post_message(DiffLoaded(name, problems=result.problems, title=f"{name} ({where})"))
                return
            if left == right and left is not None:
                diff = await self.call(diffing.introduction, name, rev)
            else:
                diff = await self.call(diffing.diff, name, left, right)
        except FlowAborted:
            self.app.post_message(DiffLoaded(name, message="✗ the diff could not be made (see the message)"))
            return
        left_label = "(none)" if left == right else self.version_label(left)
        labelled = replace(diff, left_label=left_label, right_label=self.version_label(right))
        self.app.post_message(DiffLoaded(name, diff=labelled))

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

