"""The Prompt Workbench app: prompt tree, history, diff and live tests, from the keyboard.

The app holds the screen, the selection and one `RepoSession`. Each key's action hands over
to the controller of its context (`tui/controllers/`), whose flows call the same services as
the CLI. Every service call leaves the UI thread through `run_in_session` (a thread, the
session lock, errors shown); test runs have their own event loop in a thread worker.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar, cast

from rich.text import Text
from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static, Tree

from workbench import start_up
from workbench.core.safe_text import clean
from workbench.errors import WorkbenchError
from workbench.services.prompt_files import first_prompt
from workbench.services.session import RepoSession
from workbench.tui.actions import ACTIONS
from workbench.tui.arranger import PaneArranger
from workbench.tui.commands import WorkbenchCommands
from workbench.tui.controllers.base import FlowAborted
from workbench.tui.controllers.browse import BrowseController
from workbench.tui.controllers.lazy import LazyControllers
from workbench.tui.first_screen import ReadsAhead, answer
from workbench.tui.footer import KeyFooter
from workbench.tui.layout import PANES
from workbench.tui.messages import (
    CaseOpened,
    DiffLoaded,
    HistoryLoaded,
    PaneContentChanged,
    PromptSelected,
    RepoChanged,
    TreeLoaded,
    VersionSelected,
)
from workbench.tui.panes.diff import DiffPane
from workbench.tui.panes.history import HistoryPane
from workbench.tui.panes.prompts import PromptsPane
from workbench.tui.panes.tests import TestsPane
from workbench.tui.readonly import ReadOnlyGate
from workbench.tui.screens.error import ErrorScreen
from workbench.tui.status_bar import status_line
from workbench.tui.termination import Termination

DEFAULT_THEME = "textual-dark"
START_UP_GC_PAUSE_S = 3.0  # the collector resumes at the first paint, or after this long (workbench/start_up.py)
R = TypeVar("R")
P = ParamSpec("P")


class WorkbenchApp(LazyControllers, ReadOnlyGate, App[None]):
    """The main screen; the flows live in the controllers."""

    CSS_PATH = "app.tcss"
    TITLE = "Prompt Workbench"
    COMMANDS: ClassVar = App.COMMANDS | {WorkbenchCommands}  # Textual's system commands give "Theme"
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
        read_only: bool = False,
        theme: str | None = None,
        reads_ahead: ReadsAhead | None = None,
    ) -> None:
        super().__init__()
        self.reads_ahead = reads_ahead  # the first screen's answers, read while Textual loaded
        self.initial_theme = theme
        self.root = Path(root)
        self.read_only = read_only  # `workbench serve` without --write: every flow that writes is refused
        self.session: RepoSession | None = None
        self.selected_prompt: str | None = None
        self.selected_rev: str | None = None
        self.base_rev: str | None = None
        self.base_marked = False
        self.clock = clock
        self.provider_override = provider_override
        self.model_override = model_override
        self.base_url_override = base_url_override
        self.mouse_enabled = True
        self.calls_in_flight = 0
        self.termination = Termination(self)
        self.left_for_elsewhere = False  # the terminal reported the app's window losing focus
        self.branch_info: tuple[str | None, int, int, int] = (None, 0, 0, 0)  # branch, ahead, behind, changed files
        self.arranger = PaneArranger(self)
        self.browse = BrowseController(self)  # the other controllers (and their screens) load on first use

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
        yield KeyFooter()

    def on_load(self) -> None:
        self.termination.install()  # `kill`: ends as `q` does, from before Textual takes the screen

    def on_mount(self) -> None:
        self._choose_theme(self.initial_theme or os.environ.get("WORKBENCH_THEME") or DEFAULT_THEME)
        self.query_one(DiffPane).show_message(Text("opening repository…", style="dim"))
        self.arranger.apply()
        if self.reads_ahead is not None:  # opened, or opening, since the command started
            self.start_worker(self._open_session, group="open")
        else:
            self.call_after_refresh(lambda: self.start_worker(self._open_session, group="open"))
        self.set_timer(START_UP_GC_PAUSE_S, start_up.resume)  # no first paint (no repository, an error): still resumed

    def _choose_theme(self, name: str) -> None:
        """Any of Textual's themes (the palette's "Theme" switches while the app runs)."""
        if name not in self.available_themes:
            self.notify(f"unknown theme {name!r}; using {DEFAULT_THEME}", severity="warning", markup=False)
            name = DEFAULT_THEME
        self.theme = name

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Of Textual's own commands, only the theme switch: every other action is in ACTIONS."""
        yield from (command for command in super().get_system_commands(screen) if command.title == "Theme")

    async def _open_session(self) -> None:
        try:
            # Read-only from the start: opening writes the verdict of workbench.yaml otherwise.
            opening = self.reads_ahead.session if self.reads_ahead else None
            session = await (answer(opening) if opening else asyncio.to_thread(partial(RepoSession.open, self.root, read_only=self.read_only or None)))
        except Exception as err:
            self.query_one(DiffPane).show_message(Text(f"✗ cannot open {clean(self.root)}:\n{clean(err)}", style="bold"))
            self.show_error(err)
            return
        if self.clock is not None:
            session.clock = self.clock
        self.read_only = session.store.read_only  # a read-only process (WORKBENCH_READ_ONLY): its flows refuse too
        if session.store.terminal_prompts:  # read ahead: set already; setting waits for a git running there
            session.store.terminal_prompts = False  # git, ssh and helpers may not ask on the screen the app draws
        self.session = session
        self.root = session.root
        if session.config.keymap:
            self.set_keymap(dict(session.config.keymap))
        self.browse.load_tree()  # the first pass: the answers read ahead are taken on it

    def on_unmount(self) -> None:
        self.termination.remove()
        self._cancel_runs()
        if self.reads_ahead is not None:
            self.reads_ahead.stop(unclaimed=self.session is None)
        if self.session is not None:
            self.session.store.end_processes()  # a push waiting on the network would hold the lock
            with self.session.lock:
                self.session.close()

    # ------------------------------------------------------------------ leaving the UI thread
    def require_session(self) -> RepoSession:
        if self.session is None:
            self.notify("the repository is not open", severity="warning")
            raise FlowAborted
        return self.session

    async def run_in_session(self, fn: Callable[Concatenate[RepoSession, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call a service function with the session in a thread, holding the session lock.

        The one way the app leaves the UI thread for Git or the stores. A failure is shown
        to the user and raised as `FlowAborted`, which ends the calling flow quietly.
        """
        session = self.require_session()

        def call() -> R:
            with session.lock:
                return fn(session, *args, **kwargs)

        ahead = self.reads_ahead.take(fn, args, kwargs) if self.reads_ahead else None
        self.calls_in_flight += 1
        try:
            return await (answer(ahead) if ahead else asyncio.to_thread(call))
        except Exception as err:
            self.show_error(err)
            raise FlowAborted from err
        finally:
            self.calls_in_flight -= 1

    def run_flow(self, flow: Callable[[], Coroutine[Any, Any, None]], group: str = "flow") -> None:
        """Run a controller's flow as a worker; its failures are shown, never raised."""

        async def guarded() -> None:
            try:
                await flow()
            except FlowAborted:
                pass
            except Exception as err:
                self.show_error(err)

        self.start_worker(guarded, group=group)

    def start_worker(self, work: Callable[[], Coroutine[Any, Any, None]], *, group: str, exclusive: bool = False) -> None:
        """Start an async worker from a function (never a coroutine object: a worker an exclusive
        group cancels before it starts would leave it un-awaited)."""
        # Textual's WorkType infers a result type mypy cannot bind for an async function.
        self.run_worker(cast(Any, work), group=group, exclusive=exclusive, exit_on_error=False)

    def show_error(self, err: BaseException) -> None:
        """Short errors as a notification, long ones (YAML, provider) in a modal."""
        known = err if isinstance(err, WorkbenchError) else None
        title, text = (known.title, clean(str(known))) if known else ("Unexpected error", clean(f"{type(err).__name__}: {err}"))
        if len(text) > 160 or text.count("\n") > 2:
            self.push_screen(ErrorScreen(title, text))
        else:
            self.notify(text, title=clean(title), severity="error", markup=False, timeout=8)

    # ------------------------------------------------------------------ loading the panes
    def refresh_scopes(self, *scopes: str) -> None:
        """Reload the named parts of the screen from Git and disk."""
        if self.session is None:
            return
        self.browse.end_reads_ahead()
        wanted = set(scopes)
        if wanted & {"all", "tree", "status"}:
            self.browse.load_tree()
        elif wanted & {"history"} and self.selected_prompt:
            self.browse.load_history(self.selected_prompt)
        elif "diff" in wanted and self.selected_prompt:
            self.browse.load_diff(self.selected_prompt, self.selected_rev)

    @on(RepoChanged)
    def _repo_changed(self, event: RepoChanged) -> None:
        self.refresh_scopes(*event.scopes)

    def action_refresh_all(self) -> None:
        self.refresh_scopes("all")
        self.notify("reloaded", timeout=2)

    def on_app_blur(self) -> None:
        self.left_for_elsewhere = True

    def on_app_focus(self) -> None:
        if self.left_for_elsewhere:  # not a terminal's first report: reloading lost the reads ahead
            self.refresh_scopes("all")  # the repository may have changed in another terminal

    @on(TreeLoaded)
    def _tree_loaded(self, event: TreeLoaded) -> None:
        if not self.is_running:  # the answer of a loader that outlived the panes (the app is closing)
            return
        self.branch_info = (event.branch, event.ahead, event.behind, event.dirty)
        if not event.statuses and not any(r.name == self.selected_prompt for r in event.rows):
            self.selected_prompt = first_prompt(self.browse.states, self.browse.broken)  # the rows' states, in their order
        self.query_one(PromptsPane).set_rows(event.rows, self.selected_prompt)
        if event.statuses:
            self.browse.statuses_loaded(self.selected_prompt)
            return
        if not event.rows:
            self.query_one(DiffPane).show_message("No prompts yet. Create prompts/<name>.yaml or run `workbench init`.")
        self.refresh_status_bar()
        if self.selected_prompt:
            self.browse.load_history(self.selected_prompt)

    @on(PromptSelected)
    def _prompt_selected(self, event: PromptSelected) -> None:
        if event.name == self.selected_prompt and (self.browse.history_asked == event.name or self.browse.wanted_rev):
            return  # the tree announcing the selection the app made (selected, then highlighted)
        if self.selected_prompt is not None and event.name != self.selected_prompt:
            self.browse.end_reads_ahead()
        self.selected_prompt = event.name
        self.selected_rev = None
        self.base_marked = False
        self.base_rev = None
        self.browse.load_history(event.name)

    @on(HistoryLoaded)
    def _history_loaded(self, event: HistoryLoaded) -> None:
        if not self.is_running:
            return
        if event.name != self.selected_prompt:
            return
        if not self.browse.history_loaded(event):
            return
        known = {r.rev for r in event.rows}
        if self.selected_rev not in known:
            self.selected_rev = event.rows[0].rev if event.rows else None
        if self.base_marked and self.base_rev not in known:
            self.base_marked = False
        pane = self.query_one(HistoryPane)
        pane.cut = event.cut
        pane.set_rows(event.rows, self.selected_rev, self.base_rev, self.base_marked, prompt=event.name)
        pane.border_title = Text(f"2 History · {clean(event.name)}" + (" · all branches (a)" if event.all_branches else ""))
        self.refresh_status_bar()
        self.browse.load_diff(event.name, self.selected_rev)

    @on(VersionSelected)
    def _version_selected(self, event: VersionSelected) -> None:
        self.selected_rev = event.rev
        if self.selected_prompt and self.browse.diff_wanted(self.selected_prompt, event.rev):
            self.browse.load_diff(self.selected_prompt, event.rev)

    @on(DiffLoaded)
    def _diff_loaded(self, event: DiffLoaded) -> None:
        if not self.is_running:
            return
        if event.name != self.selected_prompt:
            return
        self.browse.first_paint.set()
        start_up.resume()
        self.browse.end_reads_ahead()
        pane = self.query_one(DiffPane)
        if event.problems is not None:
            pane.show_problems(event.title, event.problems)
        elif event.diff is not None:
            pane.show_diff(event.diff)
        else:
            pane.show_message(Text(clean(event.message or "")))

    # ------------------------------------------------------------------ status bar (tui/status_bar.py)
    def refresh_status_bar(self) -> None:
        self.query_one("#status-bar", Static).update(status_line(self))

    # ------------------------------------------------------------------ panes, focus and zoom (tui/arranger.py)
    @property
    def _current_pane(self) -> str:
        return self.arranger.current

    def action_focus_pane(self, pane: str) -> None:
        if pane not in PANES:
            self.notify(f"no {pane} pane in this build", severity="warning")
            return
        self.arranger.focus(pane)

    def action_cycle_pane(self, step: int) -> None:
        self.arranger.cycle(step)

    def action_zoom(self, step: int) -> None:
        self.arranger.zoom(step)
        self.refresh_status_bar()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Over a dialog, tab and shift+tab move inside the dialog (the screen's own focus keys)."""
        if action == "cycle_pane" and self.screen is not self.screen_stack[0]:
            return False
        return super().check_action(action, parameters)  # the read-only gate greys out writing actions

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.arranger.focused(event.widget)

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self.arranger.apply)  # Textual records the new size after this handler

    @on(PaneContentChanged)
    def _pane_content_changed(self, event: PaneContentChanged) -> None:
        self.arranger.apply()

    def action_toggle_mouse(self) -> None:
        self.mouse_enabled = not self.mouse_enabled
        self.notify(f"mouse {'on' if self.mouse_enabled else 'off'}", timeout=2)

    async def on_event(self, event: events.Event) -> None:
        if not self.mouse_enabled and isinstance(event, events.MouseEvent):
            return
        await super().on_event(event)

    def action_help(self) -> None:
        from textual.binding import Binding

        from workbench.tui.screens.help import HelpScreen

        screen = self.screen
        if screen is self.screen_stack[0]:
            self.push_screen(HelpScreen(self._current_pane))
            return
        # Another screen (the timeline, a case, the monitor): its own keys, those it shows.
        keys = [b for b in getattr(screen, "BINDINGS", ()) if isinstance(b, Binding) and b.description]
        name = type(screen).__name__.removesuffix("Screen").lower()
        self.push_screen(HelpScreen(self._current_pane, screen=name, screen_keys=keys))

    # ------------------------------------------------------------------ actions: one hop to a controller
    def action_mark_base(self) -> None:
        self.browse.mark_base()

    def action_diff(self) -> None:
        if self.selected_prompt:
            self.browse.load_diff(self.selected_prompt, self.selected_rev)
            self.action_focus_pane("diff")

    def action_edit(self) -> None:
        self.edit.edit_external()

    def action_edit_inline(self) -> None:
        self.edit.edit_inline()

    def action_commit(self) -> None:
        self.commits.commit()

    def action_branches(self) -> None:
        self.branching.branches()

    def action_release_tag(self) -> None:
        self.releases.release()

    def action_promote(self) -> None:
        self.deploy.promote()

    def action_rollback(self) -> None:
        self.deploy.rollback()

    def action_canary_split(self) -> None:
        self.deploy.split()

    def action_finish_split(self) -> None:
        self.deploy.finish()

    def action_environments(self) -> None:
        self.deploy.environments()

    def action_push(self) -> None:
        self.remote.push()

    def action_fetch(self) -> None:
        self.remote.fetch()

    def action_review(self) -> None:
        self.reviews.review()

    def action_monitor(self) -> None:
        self.production.show()

    def action_timeline(self) -> None:
        self.timeline.show()

    def action_toggle_branches(self) -> None:
        self.browse.toggle_branches()

    def action_run_tests(self) -> None:
        self.runs.run_single()

    def action_run_ab(self) -> None:
        self.runs.run_ab()

    def action_cancel(self) -> None:
        if not self._cancel_runs():
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
        if not self._quit_held():  # every quit: ctrl+q, q, the palette
            self._quit_now()

    # ------------------------------------------------------------------ for tests and scripts
    def comparison_pair(self) -> tuple[str | None, str | None]:
        return self.browse.comparison_pair()

    def version_label(self, rev: str | None) -> str:
        return self.browse.version_label(rev)

    @property
    def idle(self) -> bool:
        """No service call, no loader running and no run's result waiting to be shown (flows waiting for
        the user do not count)."""
        busy = [w for w in self.workers if w.is_running and w.group not in ("flow", "remote", "monitor", "timeline")]
        return self.calls_in_flight == 0 and not busy and not self.runs.updates_pending


def make_app(
    root: Path | str,
    *,
    provider_override: str | None = None,
    model_override: str | None = None,
    base_url_override: str | None = None,
    clock: Callable[[], datetime] | None = None,
    read_only: bool = False,
    theme: str | None = None,
    reads_ahead: ReadsAhead | None = None,
) -> WorkbenchApp:
    """The one way tests and the CLI build the app."""
    return WorkbenchApp(
        Path(root),
        provider_override=provider_override,
        model_override=model_override,
        base_url_override=base_url_override,
        clock=clock,
        read_only=read_only,
        theme=theme,
        reads_ahead=reads_ahead,
    )


__all__ = ["WorkbenchApp", "make_app"]
