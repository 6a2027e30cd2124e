"""The Prompt Workbench app: prompt tree, history, diff and live tests, from the keyboard.

Git runs in thread workers (one lock serialises the session's `Workspace`: it owns one
persistent `git cat-file --batch`); model calls run in async workers. Workers never touch
widgets: they post messages or hop back with `call_from_thread`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Static, Tree

from workbench.core.safe_text import clean
from workbench.errors import WorkbenchError
from workbench.tui.actions import ACTIONS
from workbench.tui.commands import WorkbenchCommands
from workbench.tui.flows import FlowsMixin
from workbench.tui.messages import CaseOpened, PromptSelected, VersionSelected
from workbench.tui.panes.diff import DiffPane
from workbench.tui.panes.history import HistoryPane, HistoryRow
from workbench.tui.panes.prompts import PromptRow, PromptsPane
from workbench.tui.panes.tests import TestsPane
from workbench.tui.runs import RunController
from workbench.tui.screens.error import ErrorScreen
from workbench.tui.screens.help import HelpScreen

T = TypeVar("T")

PANES = ("prompts", "history", "diff", "tests")
NARROW_WIDTH = 100
HISTORY_PAGE = 200


@dataclass
class TreeLoaded(Message):
    rows: list[PromptRow]
    branch: str | None
    ahead: int
    behind: int
    dirty: int


@dataclass
class HistoryLoaded(Message):
    name: str
    rows: list[HistoryRow]
    deployed: dict[str, str]  # env -> version label


@dataclass
class DiffLoaded(Message):
    name: str
    diff: Any = None
    problems: Any = None
    title: str = ""
    message: str | None = None


@dataclass
class WorkerFailed(Message):
    error: BaseException


class WorkbenchApp(FlowsMixin, App[None]):
    """The main screen. Flows (commit, branches, promote, rollback…) come from FlowsMixin."""

    CSS_PATH = "app.tcss"
    TITLE = "Prompt Workbench"
    COMMANDS: ClassVar = {WorkbenchCommands}
    BINDINGS: ClassVar = [act.binding() for act in ACTIONS if act.scope == "app"]
    ENABLE_COMMAND_PALETTE = True
    AUTO_FOCUS = "#prompt-tree"

    def __init__(
        self,
        root: Path,
        *,
        provider_override: str | None = None,
        model_override: str | None = None,
        base_url_override: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.root = Path(root)
        self.workspace: Any = None
        self.config: Any = None
        self.selected_prompt: str | None = None
        self.selected_rev: str | None = None
        self.base_rev: str | None = None
        self.base_marked = False
        self.clock = clock
        self.provider_override = provider_override
        self.model_override = model_override
        self.base_url_override = base_url_override
        self._git_lock = threading.Lock()
        self._history_rows: list[HistoryRow] = []
        self._deployed: dict[str, str] = {}
        self._status: dict[str, Any] = {}
        self._states: dict[str, str] = {}
        self._current_pane = "prompts"
        self.mouse_enabled = True
        self.runs = RunController(self)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static("", id="pane-tabs")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield PromptsPane()
                yield HistoryPane(clock=self.clock)
            with Vertical(id="right"):
                yield DiffPane()
                yield TestsPane()
        yield Static("", id="status-bar", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        self.query_one(DiffPane).show_message(Text("opening repository…", style="dim"))
        self._apply_narrow(self.size.width)
        self.call_after_refresh(self._open_workspace)

    # ------------------------------------------------------------------ git plumbing
    def git(self, fn: Callable[[], T]) -> T:
        """Run one Workspace call under the session lock (thread workers only)."""
        with self._git_lock:
            return fn()

    def show_error(self, err: BaseException) -> None:
        """Short errors as a notification, long ones (YAML, provider) in a modal."""
        if isinstance(err, WorkbenchError):
            title, text = err.title, str(err)
        else:
            title, text = "Unexpected error", f"{type(err).__name__}: {err}"
        text = clean(text)
        if len(text) > 160 or text.count("\n") > 2:
            self.push_screen(ErrorScreen(title, text))
        else:
            self.notify(text, title=title, severity="error", markup=False, timeout=8)

    @on(WorkerFailed)
    def _worker_failed(self, event: WorkerFailed) -> None:
        self.show_error(event.error)

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def _open_workspace(self) -> None:
        from workbench.services.workspace import Workspace

        try:
            workspace = self.git(lambda: Workspace.open(self.root))
        except Exception as err:
            self.call_from_thread(self._open_failed, err)
            return
        self.call_from_thread(self._opened, workspace)

    def _open_failed(self, err: BaseException) -> None:
        self.query_one(DiffPane).show_message(Text(f"✗ cannot open {clean(self.root)}:\n{clean(err)}", style="bold"))
        self.show_error(err)

    def _opened(self, workspace: Any) -> None:
        self.workspace = workspace
        self.config = workspace.config
        self.root = Path(workspace.root)
        self._apply_keymap()
        self.refresh_scopes("tree")

    def _apply_keymap(self) -> None:
        keymap = getattr(self.config, "keymap", None)
        if keymap:
            self.set_keymap(dict(keymap))

    def on_unmount(self) -> None:
        if self.workspace is not None:
            self.workspace.close()

    def refresh_scopes(self, *scopes: str) -> None:
        """Reload the named parts of the screen from Git and disk, in workers."""
        if self.workspace is None:
            return
        wanted = set(scopes)
        if "all" in wanted or "tree" in wanted or "status" in wanted:
            self._load_tree()
        if ("all" in wanted or "history" in wanted) and self.selected_prompt:
            self._load_history(self.selected_prompt)
        elif "diff" in wanted and self.selected_prompt:
            self._load_diff(self.selected_prompt, self.selected_rev)

    def action_refresh_all(self) -> None:
        self.refresh_scopes("all")
        self.notify("reloaded", timeout=2)

    def on_app_focus(self) -> None:
        # The repository may have changed in another terminal.
        self.refresh_scopes("all")

    # ------------------------------------------------------------------ loaders (thread workers)
    @work(thread=True, exclusive=True, group="tree", exit_on_error=False)
    def _load_tree(self) -> None:
        ws = self.workspace
        try:
            states = self.git(ws.working_states)
            status = self.git(ws.status)
            branch = self.git(ws.current_branch)
            ahead = behind = 0
            if branch:
                info = next((b for b in self.git(ws.branches) if b.name == branch), None)
                if info is not None:
                    ahead, behind = info.ahead, info.behind
        except Exception as err:
            self.post_message(WorkerFailed(err))
            return
        envs: dict[str, list[str]] = {}
        self._status = {row.name: row for row in status.rows}
        for row in status.rows:
            envs[row.name] = [cell.env for cell in row.cells if cell.event is not None]
        rows = [PromptRow(name, str(state.value), tuple(envs.get(name, ()))) for name, state in states.items()]
        dirty = sum(1 for r in rows if r.state != "clean")
        self.post_message(TreeLoaded(rows, branch, ahead, behind, dirty))

    @on(TreeLoaded)
    def _tree_loaded(self, event: TreeLoaded) -> None:
        self._branch_info = (event.branch, event.ahead, event.behind, event.dirty)
        self._states = {row.name: row.state for row in event.rows}
        pane = self.query_one(PromptsPane)
        pane.set_rows(event.rows, self.selected_prompt)
        if not event.rows:
            self.query_one(DiffPane).show_message("No prompts yet. Create prompts/<name>.yaml or run `workbench init`.")
        self._update_status_bar()
        if not any(r.name == self.selected_prompt for r in event.rows):
            self.selected_prompt = event.rows[0].name if event.rows else None
        if self.selected_prompt:
            self._load_history(self.selected_prompt)

    @on(PromptSelected)
    def _prompt_selected(self, event: PromptSelected) -> None:
        if event.name == self.selected_prompt and self._history_rows:
            return
        self.selected_prompt = event.name
        self.selected_rev = None
        self.base_marked = False
        self.base_rev = None
        self._load_history(event.name)

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def _load_history(self, name: str) -> None:
        ws = self.workspace
        try:
            entries = self.git(lambda: ws.history(name, limit=HISTORY_PAGE))
            releases = self.git(lambda: ws.releases(name))
            status_row = self._status.get(name)
            # A tag points at whatever commit was HEAD; the version it names is the file's
            # content there, i.e. the newest history entry with the same blob.
            attach = self.git(lambda: _attach_by_content(ws, name, entries, releases, status_row))
        except Exception as err:
            self.post_message(WorkerFailed(err))
            return
        release_at, deployed_at, deployed = attach
        rows: list[HistoryRow] = []
        state = self._states.get(name)  # from the tree load that triggered this one: no second `git status`
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
                    releases=tuple(release_at.get(info.sha, ())),
                    deployments=tuple(deployed_at.get(info.sha, ())),
                )
            )
        self.post_message(HistoryLoaded(name, rows, deployed))
        self._load_summaries(name, [r.rev for r in rows if r.rev])

    @on(HistoryLoaded)
    def _history_loaded(self, event: HistoryLoaded) -> None:
        if event.name != self.selected_prompt:
            return
        self._history_rows = event.rows
        self._deployed = event.deployed
        pane = self.query_one(HistoryPane)
        known = {r.rev for r in event.rows}
        if self.selected_rev not in known:
            self.selected_rev = event.rows[0].rev if event.rows else None
        if self.base_marked and self.base_rev not in known:
            self.base_marked = False
        pane.set_rows(event.rows, self.selected_rev, self.base_rev, self.base_marked)
        pane.border_title = f"2 History · {clean(event.name)}"
        self._update_status_bar()
        self._load_diff(event.name, self.selected_rev)

    @work(thread=True, exclusive=True, group="summaries", exit_on_error=False)
    def _load_summaries(self, name: str, commits: list[str]) -> None:
        import importlib

        try:
            eval_services = importlib.import_module("workbench.services.evals")
        except ImportError:
            return
        summary_for = getattr(eval_services, "latest_summary", None)
        if summary_for is None:
            return
        for commit in commits[:50]:
            try:
                summary = self.git(partial(summary_for, self.workspace, name, commit))
            except Exception:
                continue
            if summary:
                self.call_from_thread(self.query_one(HistoryPane).set_tests, commit, summary)

    @on(VersionSelected)
    def _version_selected(self, event: VersionSelected) -> None:
        self.selected_rev = event.rev
        if self.selected_prompt:
            self._load_diff(self.selected_prompt, event.rev)

    def comparison_pair(self) -> tuple[str | None, str | None]:
        """(left, right) revisions for the diff: the marked base, else the previous version."""
        right = self.selected_rev
        if self.base_marked:
            return self.base_rev, right
        revs = [r.rev for r in self._history_rows]
        if right in revs:
            index = revs.index(right)
            older = [r for r in revs[index + 1 :] if r is not None]
            if older:
                return older[0], right
        return (right, right) if right is not None else ("HEAD", None)

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def _load_diff(self, name: str, rev: str | None) -> None:
        ws = self.workspace
        left, right = self.comparison_pair()
        try:
            result = self.git(lambda: ws.prompt_at(name, rev))
            if not result.ok and result.errors:
                where = "working copy" if rev is None else rev[:10]
                self.post_message(DiffLoaded(name, problems=result.problems, title=f"{name} ({where})"))
                return
            if left == right and left is not None:
                text = self.git(lambda: ws.read_text(name, rev)) or ""
                diff = self.git(lambda: _first_version_diff(name, text, rev))
            else:
                diff = self.git(lambda: ws.diff(name, left, right))
        except Exception as err:
            self.post_message(DiffLoaded(name, message=f"✗ {err}"))
            return
        self.post_message(DiffLoaded(name, diff=replace(diff, left_label=self.version_label(left), right_label=self.version_label(right))))

    @on(DiffLoaded)
    def _diff_loaded(self, event: DiffLoaded) -> None:
        if event.name != self.selected_prompt:
            return
        pane = self.query_one(DiffPane)
        if event.problems is not None:
            pane.show_problems(event.title, event.problems)
        elif event.diff is not None:
            pane.show_diff(event.diff)
        else:
            pane.show_message(Text(clean(event.message or "")))

    def version_label(self, rev: str | None) -> str:
        """`v2 · 07c6d38` for a released commit in the history, else the short commit."""
        if rev is None:
            return "working copy"
        row = next((r for r in self._history_rows if r.rev == rev), None)
        if row is None:
            return rev[:10]
        release = row.releases[0].split("@")[-1] if row.releases else None
        return f"{release} · {row.short}" if release else row.short

    # ------------------------------------------------------------------ status bar
    def provider_label(self) -> str:
        provider = self.provider_override or getattr(self.config, "provider", None) or "echo"
        model = self.model_override or getattr(self.config, "model", None)
        if provider == "echo":
            return "echo (no model: returns the rendered prompt; set provider in workbench.yaml)"
        if provider == "local":
            return "local · tiny demo model SmolLM2-135M"
        return f"{provider}/{model}" if model else str(provider)

    def _update_status_bar(self) -> None:
        branch, ahead, behind, dirty = getattr(self, "_branch_info", (None, 0, 0, 0))
        bar = Text()
        bar.append(f" {clean(self.root.name)} ", style="reverse")
        bar.append(f" ⎇ {clean(branch) if branch else 'detached HEAD'}")
        if ahead or behind:
            bar.append(f" ↑{ahead} ↓{behind}")
        bar.append(f" · {dirty} changed" if dirty else " · clean")
        bar.append(f" · {clean(self.provider_label())}")
        if self.selected_prompt:
            deployed = "  ".join(f"{env}={clean(v.split('@')[-1])}" for env, v in self._deployed.items())
            bar.append(f" · {deployed or 'not deployed'}")
        self.query_one("#status-bar", Static).update(bar)

    # ------------------------------------------------------------------ panes and focus
    def _pane_widget(self, pane: str) -> Widget:
        if pane == "prompts":
            return self.query_one(PromptsPane).prompt_tree
        if pane == "history":
            return self.query_one(HistoryPane)
        if pane == "diff":
            return self.query_one(DiffPane)
        if pane == "tests":
            return self.query_one(TestsPane).table
        raise KeyError(pane)

    def _pane_container(self, pane: str) -> Widget:
        return {
            "prompts": self.query_one(PromptsPane),
            "history": self.query_one(HistoryPane),
            "diff": self.query_one(DiffPane),
            "tests": self.query_one(TestsPane),
        }[pane]

    def action_focus_pane(self, pane: str) -> None:
        if pane not in PANES:
            self.notify(f"no {pane} pane in this build", severity="warning")
            return
        self._current_pane = pane
        self._pane_widget(pane).focus()
        self._apply_narrow(self.size.width)

    def action_cycle_pane(self, step: int) -> None:
        index = PANES.index(self._current_pane) if self._current_pane in PANES else 0
        self.action_focus_pane(PANES[(index + step) % len(PANES)])

    def on_descendant_focus(self, event: Any) -> None:
        for pane in PANES:
            if self._pane_container(pane) in event.widget.ancestors_with_self:
                if pane != self._current_pane:
                    self._current_pane = pane
                    self._apply_narrow(self.size.width)
                break

    def on_resize(self, event: Any) -> None:
        self._apply_narrow(event.size.width)

    def _apply_narrow(self, width: int) -> None:
        """Below NARROW_WIDTH columns only the focused pane is shown; 1-4 switch panes."""
        narrow = width < NARROW_WIDTH
        self.screen.set_class(narrow, "-narrow")
        for pane in PANES:
            self._pane_container(pane).set_class(narrow and pane != self._current_pane, "-hidden-narrow")
        left_visible = not narrow or self._current_pane in ("prompts", "history")
        self.query_one("#left").set_class(not left_visible, "-hidden-narrow")
        self.query_one("#right").set_class(left_visible and narrow, "-hidden-narrow")
        tabs = Text()
        for index, pane in enumerate(PANES, 1):
            style = "reverse bold" if pane == self._current_pane else ""
            tabs.append(f" {index} {pane.capitalize()} ", style=style)
            tabs.append("▸" if pane == self._current_pane else " ")
        self.query_one("#pane-tabs", Static).update(tabs)

    def action_toggle_mouse(self) -> None:
        self.mouse_enabled = not self.mouse_enabled
        self.notify(f"mouse {'on' if self.mouse_enabled else 'off'}", timeout=2)

    async def on_event(self, event: Any) -> None:
        from textual import events

        if not self.mouse_enabled and isinstance(event, events.MouseEvent):
            return
        await super().on_event(event)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self._current_pane))

    # ------------------------------------------------------------------ mark / diff
    def action_mark_base(self) -> None:
        if not self.selected_prompt:
            self.notify("select a prompt first", severity="warning")
            return
        self.base_rev = self.selected_rev
        self.base_marked = True
        self.query_one(HistoryPane).mark_base(self.base_rev)
        label = "working copy" if self.base_rev is None else self.base_rev[:7]
        self.notify(f"base: {label} — select another version and press d", timeout=3)

    def action_diff(self) -> None:
        if self.selected_prompt:
            self._load_diff(self.selected_prompt, self.selected_rev)
            self.action_focus_pane("diff")

    # ------------------------------------------------------------------ production
    def action_monitor(self) -> None:
        name = self.selected_prompt
        if self.workspace is None or not name:
            self.notify("select a prompt first", severity="warning")
            return
        env = "prod" if "prod" in self.workspace.environments else self.workspace.environments[-1]

        def load() -> None:
            from workbench.services.monitor import report

            try:
                result = self.git(lambda: report(self.workspace, name, env, series=True))
            except Exception as err:
                self.post_message(WorkerFailed(err))
                return
            self.call_from_thread(self._show_monitor, result)

        self.run_worker(load, thread=True, group="monitor", exit_on_error=False)

    def _show_monitor(self, report: Any) -> None:
        from workbench.tui.screens.monitor import MonitorScreen

        def closed(choice: str | None) -> None:
            if choice == "rollback":
                self.action_rollback()

        self.push_screen(MonitorScreen(report), closed)

    # ------------------------------------------------------------------ tests
    def action_run_tests(self) -> None:
        self.runs.run_single()

    def action_run_ab(self) -> None:
        self.runs.run_ab()

    def action_cancel(self) -> None:
        if not self.runs.cancel():
            self.action_focus_pane(self._current_pane)

    @on(CaseOpened)
    def _case_opened(self, event: CaseOpened) -> None:
        self.runs.open_case(event.case_id)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "tests-table" and event.row_key.value is not None:
            self.runs.open_case(event.row_key.value)

    @on(Tree.NodeSelected)
    def _node_selected(self, event: Tree.NodeSelected[str]) -> None:
        if event.node.data is not None:
            self.action_focus_pane("history")

    async def action_quit(self) -> None:
        self.runs.cancel()
        await super().action_quit()


def _attach_by_content(
    ws: Any, name: str, entries: list[Any], releases: list[Any], status_row: Any
) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
    """Release labels and current deployments per history entry, matched by file content."""
    entry_blobs: dict[str, str | None] = {}

    def entry_for(commit: str) -> str | None:
        target = ws.blob_sha(name, commit)
        if target is None:
            return None
        for entry in entries:
            sha = entry.commit.sha
            if sha not in entry_blobs:
                entry_blobs[sha] = ws.blob_sha(name, sha)
            if entry_blobs[sha] == target:
                return str(sha)
        return None

    release_at: dict[str, list[str]] = {}
    for tag in releases:
        sha = entry_for(tag.commit)
        if sha:
            release_at.setdefault(sha, []).append(tag.label)
    deployed_at: dict[str, list[str]] = {}
    deployed: dict[str, str] = {}
    for cell in status_row.cells if status_row is not None else ():
        if cell.event is None:
            continue
        deployed[cell.env] = cell.event.version or cell.event.commit[:10]
        sha = entry_for(cell.event.commit)
        if sha:
            deployed_at.setdefault(sha, []).append(cell.env)
    return release_at, deployed_at, deployed


def _first_version_diff(name: str, text: str, rev: str | None) -> Any:
    from workbench.core.diff import diff_prompt_texts

    label = "(none)"
    return diff_prompt_texts(None, text, name=name, left_label=label, right_label=rev[:10] if rev else "working copy")


def make_app(
    root: Path | str,
    *,
    provider_override: str | None = None,
    model_override: str | None = None,
    base_url_override: str | None = None,
    clock: Callable[[], datetime] | None = None,
) -> WorkbenchApp:
    """The one way tests and the CLI build the app."""
    return WorkbenchApp(
        Path(root),
        provider_override=provider_override,
        model_override=model_override,
        base_url_override=base_url_override,
        clock=clock,
    )


__all__ = ["WorkbenchApp", "make_app"]
