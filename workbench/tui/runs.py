"""Test runs in the app: one version (`t`) or base vs selected (`T`), streamed into TestsPane.

The evaluation services do the work in an async worker; each progress event updates one
row. `escape` cancels the worker; results that arrived stay on screen (and in the store).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from workbench.core.safe_text import clean
from workbench.tui.panes.tests import CaseResult as RowResult
from workbench.tui.panes.tests import TestsPane
from workbench.tui.screens.case import CaseScreen

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp


class RunController:
    """Starts, streams, cancels and explains test runs for the app."""

    def __init__(self, app: WorkbenchApp) -> None:
        self.app = app
        self.worker: Any = None
        self.results: dict[int, dict[str, Any]] = {0: {}, 1: {}}  # arm -> case_id -> evals CaseResult
        self.labels: tuple[str, ...] = ()
        self.comparison: Any = None

    @property
    def pane(self) -> TestsPane:
        return self.app.query_one(TestsPane)

    def _busy(self) -> bool:
        if self.worker is not None and self.worker.is_running:
            self.app.notify("a test run is in progress (esc cancels it)", severity="warning")
            return True
        if self.app.workspace is None or not self.app.selected_prompt:
            self.app.notify("select a prompt first", severity="warning")
            return True
        return False

    def run_single(self) -> None:
        if self._busy():
            return
        rev = self.app.selected_rev
        self.labels = (self.app.version_label(rev),)
        self.worker = self.app.run_worker(self._run([rev]), group="tests", exclusive=True, exit_on_error=False)
        self.app.action_focus_pane("tests")

    def run_ab(self) -> None:
        if self._busy():
            return
        base, selected = self.app.comparison_pair()
        if base == selected:
            self.app.notify("mark a base version first (m), then select another version and press T", severity="warning")
            return
        self.labels = (f"A {self.app.version_label(base)}", f"B {self.app.version_label(selected)}")
        self.worker = self.app.run_worker(self._run([base, selected]), group="tests", exclusive=True, exit_on_error=False)
        self.app.action_focus_pane("tests")

    def cancel(self) -> bool:
        if self.worker is not None and self.worker.is_running:
            self.worker.cancel()
            self.pane.finish(self._summary_text(), cancelled=True)
            return True
        return False

    def settings(self) -> Any:
        from workbench.services.evals import EvalSettings

        app = self.app
        return EvalSettings(provider=app.provider_override, model=app.model_override, base_url=app.base_url_override)

    async def _run(self, revs: list[str | None]) -> None:
        from workbench.services.evals import compare_versions, run_tests

        app = self.app
        name = app.selected_prompt
        assert name is not None
        self.results = {0: {}, 1: {}}
        self.comparison = None
        prompt = app.workspace.prompt_at(name, revs[-1]).prompt
        cases = [(c.case_id, c.description) for c in prompt.tests] if prompt else []
        self.pane.start(f"{name}: {' vs '.join(self.labels)} · {app.provider_label()}", self.labels, cases)
        try:
            if len(revs) == 2:
                self.comparison, *outcomes = await compare_versions(app.workspace, name, revs[0], revs[1], self.settings(), self._on_event, git_lock=app.git)
            else:
                outcomes = [await run_tests(app.workspace, name, revs[0], self.settings(), self._on_event, git_lock=app.git)]
        except Exception as err:
            self.pane.finish(Text(f"✗ {clean(err)}", style="bold red"))
            app.show_error(err)
            return
        for outcome in outcomes:
            for warning in outcome.warnings:
                app.notify(warning, severity="warning", markup=False)
        self.pane.finish(self._summary_text())
        app.refresh_scopes("history")

    def _on_event(self, event: Any) -> None:
        from workbench.evals.runner import CaseFinished, RunFinished

        if isinstance(event, RunFinished) and not event.cancelled:
            self.pane.arm_finished(event.arm)
        elif isinstance(event, CaseFinished):
            result = event.result
            self.results[event.arm][result.case_id] = result
            row = RowResult(result.passed, result.score, result.latency_ms, result.tokens, result.error, result.cached)
            self.pane.case_finished(result.case_id, event.arm, row)

    def _summary_text(self) -> Text:
        from workbench.core.stats import wilson_interval

        text = Text()
        for arm, label in enumerate(self.labels):
            results = list(self.results.get(arm, {}).values())
            passed = sum(1 for r in results if r.passed)
            low, high = wilson_interval(passed, len(results))
            symbol = "✓" if results and passed == len(results) else "✗"
            text.append(f"{clean(label)}: {symbol} {passed}/{len(results)} (95% CI {low:.0%}–{high:.0%})  ")
        if self.comparison is not None:
            style = "bold red" if self.comparison.regression else "bold"
            text.append("\n" + clean(self.comparison.verdict), style=style)
        return text

    def open_case(self, case_id: str) -> None:
        arms = [self.results.get(arm, {}).get(case_id) for arm in range(len(self.labels))]
        if not any(arms):
            self.app.notify("no result for this case yet", severity="warning")
            return
        self.app.push_screen(CaseScreen(case_id, list(self.labels), arms))
