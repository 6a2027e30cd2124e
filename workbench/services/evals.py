"""Test and compare prompt versions: the use cases behind `workbench test`, `compare` and the app.

A version is any revision the Workspace understands (commit, branch, `<name>@vN`, an
environment) or the working copy (None). Results go to the results store; a run of a
committed version also leaves a one-line git note so the result travels with the repo.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.model import Prompt, TestCase
from workbench.core.trust import TrustPolicy, policy_for
from workbench.errors import EvalError, WorkbenchError
from workbench.evals.cache import ResponseCache
from workbench.evals.compare import Comparison, compare_results
from workbench.evals.providers import Provider, make_provider, resolve_model
from workbench.evals.reports import SuiteReport
from workbench.evals.runner import (
    CaseFinished,
    CaseResult,
    EventHandler,
    RunFinished,
    RunOptions,
    RunStarted,
    RunSummary,
    SuiteRun,
    shard_of,
    summarize,
)
from workbench.services import prompt_files, revisions
from workbench.services.diffing import merge_base
from workbench.services.session import RepoSession
from workbench.services.test_results import note_line, open_store, record_note, state_dir

__all__ = [
    "CaseFinished",
    "EvalSettings",
    "RunFinished",
    "RunStarted",
    "SuiteOutcome",
    "compare_versions",
    "run_tests",
]

@dataclass(frozen=True)
class EvalSettings:
    """What the user chose for a run (command-line flags or the app)."""

    provider: str | None = None
    model: str | None = None
    base_url: str | None = None
    concurrency: int | None = None
    repeat: int = 1
    use_cache: bool = True
    rerun_failed: bool = False
    shard: tuple[int, int] | None = None  # (index 1-based, count)
    timeout_s: float | None = None
    max_attempts: int | None = None
    stream: bool = False


@dataclass
class SuiteOutcome:
    prompt: str
    revision: str  # what the user asked for, e.g. "working copy", "main", "support/summarize@v2"
    commit: str | None
    blob: str | None
    provider_label: str
    provider_id: str
    results: list[CaseResult]
    cancelled: bool = False
    warnings: list[str] = field(default_factory=list)
    run_id: int | None = None

    @property
    def summary(self) -> RunSummary:
        return summarize(self.results)

    def report(self) -> SuiteReport:
        return SuiteReport(self.prompt, self.revision, self.provider_id, list(self.results), self.cancelled)


def _options(session: RepoSession, settings: EvalSettings) -> RunOptions:
    config = session.config
    policy = trust_policy(session)
    return RunOptions(
        python_assertions=policy.python_assertions,
        python_assertions_source=policy.python_assertions_source,
        concurrency=settings.concurrency or config.concurrency,
        max_attempts=settings.max_attempts or config.max_attempts,
        timeout_s=settings.timeout_s or config.timeout_s,
        repeat=max(1, settings.repeat),
        use_cache=settings.use_cache,
    )


def _load(session: RepoSession, name: str, rev: str | None) -> tuple[Prompt, str | None, str | None, str]:
    result = prompt_files.prompt_at(session, name, rev)
    if result.prompt is None or not result.ok:
        detail = "\n".join(p.format() for p in result.errors[:10])
        raise EvalError(f"{name} at {revisions.describe(rev)} is invalid:\n{detail}", hint=f"workbench validate {result.path}")
    commit = revisions.resolve(session, rev, name) if rev is not None else None
    blob = prompt_files.content_id(session, name, rev)
    return result.prompt, commit, blob, revisions.describe(rev)


def select_cases(prompt: Prompt, settings: EvalSettings, failed: set[str] | None) -> list[TestCase]:
    cases = list(prompt.tests)
    if settings.shard is not None:
        index, count = settings.shard
        cases = [c for c in cases if shard_of(prompt.name, c.case_id, count) == index - 1]
    if settings.rerun_failed and failed is not None:
        cases = [c for c in cases if c.case_id in failed]
    return cases


def trust_policy(session: RepoSession) -> TrustPolicy:
    """The allow-lists of workbench.yaml plus those pinned in the environment (CI)."""
    return policy_for(session.config, os.environ)


def make_run_provider(session: RepoSession, prompt: Prompt, settings: EvalSettings) -> Provider:
    spec = resolve_model(prompt.model, session.config, provider=settings.provider, model=settings.model, base_url=settings.base_url)
    timeout = settings.timeout_s or session.config.timeout_s
    return make_provider(spec, root=Path(session.root), timeout_s=timeout, stream=settings.stream, policy=trust_policy(session))


async def run_tests(
    session: RepoSession,
    name: str,
    rev: str | None = None,
    settings: EvalSettings | None = None,
    on_event: EventHandler | None = None,
    *,
    arm: int = 0,
    git_lock: Callable[[Callable[[], Any]], Any] | None = None,
) -> SuiteOutcome:
    """Run the test suite of `name` at `rev` (None = working copy) and store the results.

    Cancellation (task cancel) keeps the results so far: they are stored and re-raised as
    cancelled; the caller's events have already shown them.

    Raises:
        EvalError: the prompt is invalid; ProviderError: the provider cannot start.
    """
    settings = settings or EvalSettings()
    git = git_lock or (lambda fn: fn())
    prompt, commit, blob, label = git(lambda: _load(session, name, rev))
    store = open_store(session)
    try:
        cases = select_cases(prompt, settings, store.failed_case_ids(name) if settings.rerun_failed else None)
        provider = make_run_provider(session, prompt, settings)
        cache = ResponseCache(state_dir(session) / "cache.sqlite") if settings.use_cache else None
        run = SuiteRun(prompt, provider, cases, _options(session, settings), arm=arm, label=f"{name} @ {label}", cache=cache, on_event=on_event, root=Path(session.root))
        started = time.time()
        cancelled = False
        try:
            await run.run()
        except BaseException:
            cancelled = True
            raise
        finally:
            outcome = SuiteOutcome(name, label, commit, blob, provider.label, provider.id, list(run.results), cancelled, [*store.warnings, *(cache.warnings if cache else [])])
            if run.results:
                outcome.run_id = store.record(
                    prompt=name, revision=label, commit=commit, blob=blob, provider=provider.id, model=prompt.model.name,
                    parameters=dict(prompt.model.parameters), results=run.results, started=started, cancelled=cancelled,
                )
                outcome.warnings.extend(w for w in store.warnings if w not in outcome.warnings)  # a store recovered while writing
            if commit is not None and not cancelled and run.results and settings.shard is None and not settings.rerun_failed:
                note = note_line(name, outcome.summary.short, provider.id)
                try:
                    git(lambda: record_note(session, commit, note))
                except WorkbenchError as err:
                    outcome.warnings.append(f"could not write the git note: {err}")
            if cache is not None:
                cache.close()
            await provider.aclose()
        return outcome
    finally:
        store.close()


async def compare_versions(
    session: RepoSession,
    name: str,
    a: str | None,
    b: str | None,
    settings: EvalSettings | None = None,
    on_event: EventHandler | None = None,
    *,
    git_lock: Callable[[Callable[[], Any]], Any] | None = None,
) -> tuple[Comparison, SuiteOutcome, SuiteOutcome]:
    """Run versions A and B at the same time (each with half the concurrency) and compare them."""
    import asyncio
    from dataclasses import replace

    settings = settings or EvalSettings()
    concurrency = settings.concurrency or session.config.concurrency
    half = replace(settings, concurrency=max(1, concurrency // 2))
    outcome_a, outcome_b = await asyncio.gather(
        run_tests(session, name, a, half, on_event, arm=0, git_lock=git_lock),
        run_tests(session, name, b, half, on_event, arm=1, git_lock=git_lock),
    )
    comparison = compare_results(name, outcome_a.revision, outcome_a.results, outcome_b.revision, outcome_b.results)
    return comparison, outcome_a, outcome_b


def merge_base_with(session: RepoSession, base_branch: str) -> str:
    """The commit where HEAD left `base_branch` (the PR's base), e.g. `main` or `origin/main`."""
    return merge_base(session, base_branch) or revisions.resolve(session, base_branch)


def record_results(session: RepoSession, name: str, commit: str, provider: str, results: list[CaseResult], *, started: float) -> int:
    """Store a run directly (the demo builds its past results this way, without a model)."""
    store = open_store(session)
    try:
        return store.record(
            prompt=name, revision=commit[:10], commit=commit, blob=prompt_files.content_id(session, name, commit), provider=provider, model=None,
            parameters={}, results=results, started=started, finished=started + 30,
        )
    finally:
        store.close()
