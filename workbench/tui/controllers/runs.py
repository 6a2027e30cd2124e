"""Test runs (t: one version, T: base vs selected), streamed into the Tests pane.

A run has its own event loop in a thread worker: rendering templates, grading answers and
reading the stores never happen on the UI thread, so the screen stays live whatever a
prompt's template or a model's answer costs. Progress comes back one case at a time;
`escape` cancels the run's task, and results that arrived stay on screen (and in the store).

The run's thread never waits for the screen: it queues what to show and the UI thread applies
the queue in order, at most every UPDATE_INTERVAL_S. (It waited in `call_from_thread` for each
case: a busy screen held the run's event loop, requests waited, and the wait was measured and
stored as their latency.)
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from rich.text import Text
from textual.worker import Worker

from workbench.core.safe_text import clean
from workbench.services import prompt_files
from workbench.tui.controllers.base import Controller
from workbench.tui.messages import RepoChanged
from workbench.tui.panes.tests import CaseResult as RowResult
from workbench.tui.panes.tests import TestsPane, row_key
from workbench.tui.screens.case import CaseScreen

if TYPE_CHECKING:
    from workbench.evals.compare import Comparison
    from workbench.evals.runner import CaseResult
    from workbench.tui.app import WorkbenchApp

T = TypeVar("T")
UPDATE_INTERVAL_S = 0.05  # the screen follows a run in steps this long: one redraw for many fast cases


class RunController(Controller):
    """Starts, streams, cancels and explains test runs for the app."""

    def __init__(self, app: WorkbenchApp) -> None:
        super().__init__(app)
        self.worker: Worker[None] | None = None
        self.results: dict[int, dict[str, CaseResult]] = {0: {}, 1: {}}  # arm -> case's row (`row_key`) -> result
        self.names: dict[str, str] = {}  # case's row -> its name (`case_names`, as the reports name it)
        self.labels: tuple[str, ...] = ()
        self.models: dict[int, str] = {}  # arm -> what its run calls, as each run starts
        self.prompt = ""  # the prompt of the last run started
        self.comparison: Comparison | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ui_loop: asyncio.AbstractEventLoop | None = None
        self._ui_context: contextvars.Context | None = None  # Textual's timers need the app's context
        self._updates: list[Callable[[], object]] = []  # for the UI thread, in the order they happened
        self._updates_lock = threading.Lock()
        self._update_due = False  # the UI thread has been asked to apply the updates
        self._last_update = 0.0

    @property
    def updates_pending(self) -> bool:
        with self._updates_lock:
            return bool(self._updates)

    @property
    def pane(self) -> TestsPane:
        return self.app.query_one(TestsPane)

    def _busy(self) -> bool:
        if self.worker is not None and self.worker.is_running:
            self.app.notify("a test run is in progress (esc cancels it)", severity="warning")
            return True
        return self.selected_prompt() is None

    def run_single(self) -> None:
        if self._busy():
            return
        rev = self.app.selected_rev
        self.labels = (self.app.browse.version_label(rev),)
        self._start([rev])

    def run_ab(self) -> None:
        if self._busy():
            return
        base, selected = self.app.browse.comparison_pair()
        if base == selected:
            self.app.notify("mark a base version first (m), then select another version and press T", severity="warning")
            return
        label = self.app.browse.version_label
        self.labels = (f"A {label(base)}", f"B {label(selected)}")
        self._start([base, selected])

    def _start(self, revs: list[str | None]) -> None:
        # Every run starts here, whatever asked for it (a key, the palette, the review screen):
        # a read-only app calls no model and writes no result, cache or note.
        if self.app.refuse_write("a test run"):
            return
        name = self.app.selected_prompt
        assert name is not None
        self.results = {0: {}, 1: {}}
        self.names = {}
        self.models = {}
        self.prompt = name
        self.comparison = None
        self._ui_loop, self._ui_context = asyncio.get_running_loop(), contextvars.copy_context()
        self._apply_updates()  # the end of the run before, if it is still queued
        self.pane.start(self._title(), self.labels, [])
        self.worker = self.app.run_worker(lambda: self._thread_main(name, revs), thread=True, group="tests", exit_on_error=False)
        self.app.action_focus_pane("tests")

    def cancel(self) -> bool:
        if self.worker is None or not self.worker.is_running:
            return False
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            loop.call_soon_threadsafe(task.cancel)
        self._apply_updates()  # the summary counts every result that arrived
        self.pane.finish(self._summary_text(), cancelled=True)
        return True

    # ------------------------------------------------------------------ in the run's thread
    def _thread_main(self, name: str, revs: list[str | None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self._run(name, revs))
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            self._task = None
            self._loop = None
            loop.close()

    def _show(self, update: Callable[[], object]) -> None:
        """Queue `update` for the UI thread without waiting for it (it looks up the pane there)."""
        with self._updates_lock:
            self._updates.append(update)
            if self._update_due:
                return
            self._update_due = True
        if self._ui_loop is not None:
            with contextlib.suppress(RuntimeError):  # the app has closed its loop: nothing is shown any more
                self._ui_loop.call_soon_threadsafe(self._schedule_updates, context=self._ui_context)

    def _locked(self, fn: Callable[[], T]) -> T:
        with self.session.lock:
            return fn()

    async def _run(self, name: str, revs: list[str | None]) -> None:
        # The evaluation engine (~0.5 s of imports) loads with the first run, not with the app.
        from workbench.evals.run_model import case_names, occurrences
        from workbench.services.evals import EvalSettings, compare_versions, run_tests

        app = self.app
        session = self.session
        settings = EvalSettings(provider=app.provider_override, model=app.model_override, base_url=app.base_url_override)
        try:
            # a row per case, and one each for tests described alike (`same`, `same (2)`), as
            # the comparison pairs them: the n-th so described in A with the n-th in B; named
            # as the reports name them (`case_names`), among the cases of both versions
            rows: dict[str, tuple[str, int, int]] = {}  # row -> (description, occurrence, repeat), the shown version's first
            shown: list[str] = []
            for index, rev in enumerate(reversed(revs)):
                prompt = self._locked(partial(prompt_files.prompt_at, session, name, rev)).prompt
                tests = prompt.tests if prompt else ()
                for case, n in zip(tests, occurrences(c.case_id for c in tests), strict=True):
                    rows.setdefault(row_key(case.case_id, n), (case.description, n, 0))
                shown = shown if index else list(rows)
            self.names = names = dict(zip(rows, case_names(list(rows.values())), strict=True))
            cases = [(row, names[row]) for row in shown]
            self._show(lambda: self.pane.set_cases(cases))
            if len(revs) == 2:
                self.comparison, *outcomes = await compare_versions(session, name, revs[0], revs[1], settings, self._on_event, git_lock=self._locked)
            else:
                outcomes = [await run_tests(session, name, revs[0], settings, self._on_event, git_lock=self._locked)]
        except asyncio.CancelledError:
            raise
        except Exception as err:
            failure = Text(f"✗ {clean(err)}", style="bold red")
            self._show(lambda: self.pane.finish(failure))
            self._show(partial(app.show_error, err))
            return
        for outcome in outcomes:
            for warning in outcome.warnings:
                self._show(partial(app.notify, warning, severity="warning", markup=False))
        summary = self._summary_text()
        self._show(lambda: self.pane.finish(summary))
        self._show(partial(app.post_message, RepoChanged(frozenset({"history"}))))

    def _title(self) -> str:
        """`support/summarize: A v1 vs B v2 · openai/gpt-4o-mini at https://host/v1`: the models
        as the runs report them, not the repository's default (a prompt may name its own)."""
        models = " vs ".join(dict.fromkeys(self.models[arm] for arm in sorted(self.models)))
        return f"{self.prompt}: {' vs '.join(self.labels)}" + (f" · {models}" if models else "")

    def _on_event(self, event: Any) -> None:
        from workbench.evals.run_model import case_names
        from workbench.evals.runner import CaseFinished, RunFinished, RunStarted

        if isinstance(event, RunStarted):
            self.models[event.arm] = event.model
            title = self._title()
            self._show(lambda: self.pane.set_title(title))
        elif isinstance(event, RunFinished) and not event.cancelled:
            self._show(lambda: self.pane.arm_finished(event.arm))
        elif isinstance(event, CaseFinished):
            result = event.result
            key = row_key(result.case_id, result.occurrence)
            if key not in self.names:  # not in either version's file as read before the run
                self.names[key] = case_names([(result.description, result.occurrence, 0)], taken=set(self.names.values()))[0]
            shown = self.names[key]
            self.results[event.arm][key] = result
            row = RowResult(result.passed, result.score, result.latency_ms, result.tokens, result.error, result.cached)
            self._show(lambda: self.pane.case_finished(key, event.arm, row, shown))

    # ------------------------------------------------------------------ on the UI thread
    def _schedule_updates(self) -> None:
        wait = self._last_update + UPDATE_INTERVAL_S - time.monotonic()
        if wait > 0:
            self.app.set_timer(wait, self._apply_updates)
        else:
            self._apply_updates()

    def _apply_updates(self) -> None:
        with self._updates_lock:
            updates, self._updates = self._updates, []
            self._update_due = False
        self._last_update = time.monotonic()
        if not self.app.is_running:  # quitting: the panes are going
            return
        for update in updates:
            update()

    def _summary_text(self) -> Text:
        """One line per arm (`A v3 · 5adb74c  ✓ 5/6  95% CI 44–97%`), then the verdict."""
        from workbench.evals.run_model import summarize  # the run's own summary: one rule for the interval

        lines = []
        for arm, label in enumerate(self.labels):
            results = list(self.results.get(arm, {}).values())
            passed = sum(1 for r in results if r.passed)
            low, high = summarize(results).interval
            symbol = "✓" if results and passed == len(results) else "✗"
            line = Text(f"{clean(label)}  ")
            line.append(f"{symbol} {passed}/{len(results)}", style="bold")
            line.append(f"  95% CI {low:.0%}–{high:.0%}", style="dim")
            lines.append(line)
        if self.comparison is not None:
            style = "bold red" if self.comparison.failed else "bold"
            symbol = "✗ " if self.comparison.failed else ""
            lines.append(Text(symbol + clean(self.comparison.verdict), style=style))
        return Text("\n").join(lines)

    def open_case(self, case_id: str) -> None:
        arms = [self.results.get(arm, {}).get(case_id) for arm in range(len(self.labels))]
        if not any(arms):
            self.app.notify("no result for this case yet", severity="warning")
            return
        self.app.push_screen(CaseScreen(self.names.get(case_id, case_id), list(self.labels), arms))
