"""Test and compare prompt versions: the use cases behind `workbench test`, `compare` and the app.

A version is any revision the Workspace understands (commit, branch, `<name>@vN`, an
environment) or the working copy (None). Results go to the results store; a run of a
committed version also leaves a one-line git note so the result travels with the repo.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from workbench.core.model import Prompt, TestCase
from workbench.errors import EvalError, WorkbenchError
from workbench.evals.cache import ResponseCache
from workbench.evals.compare import Comparison, compare_results
from workbench.evals.providers import Provider, make_provider, prefetch_http_client, resolve_model
from workbench.evals.reports import SuiteReport
from workbench.evals.runner import (
    CaseFinished,
    CaseResult,
    EndpointHealth,
    EventHandler,
    RunFinished,
    RunOptions,
    RunStarted,
    RunSummary,
    Slots,
    SuiteRun,
    shard_of,
    summarize,
)
from workbench.evals.store import ResultsStore
from workbench.services.workspace import Workspace

__all__ = [
    "CaseFinished",
    "EvalSettings",
    "RunFinished",
    "RunStarted",
    "SuiteOutcome",
    "compare_versions",
    "latest_summary",
    "run_suites",
    "run_tests",
]

STATE_DIR = ".workbench"
NOTE_PREFIX = "workbench:"


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


def state_dir(ws: Workspace) -> Path:
    return Path(ws.root) / STATE_DIR


def open_store(ws: Workspace) -> ResultsStore:
    return ResultsStore(state_dir(ws) / "results.sqlite")


def _options(ws: Workspace, settings: EvalSettings) -> RunOptions:
    config = ws.config
    return RunOptions(
        concurrency=settings.concurrency or config.concurrency,
        max_attempts=settings.max_attempts or config.max_attempts,
        timeout_s=settings.timeout_s or config.timeout_s,
        repeat=max(1, settings.repeat),
        use_cache=settings.use_cache,
    )


def _load(ws: Workspace, name: str, rev: str | None, commit: str | None = None) -> tuple[Prompt, str | None, str | None, str]:
    """The prompt at `rev`, its commit (`commit` when the caller resolved it already) and blob."""
    result = ws.prompt_at(name, rev)
    if result.prompt is None or not result.ok:
        detail = "\n".join(p.format() for p in result.errors[:10])
        raise EvalError(f"{name} at {ws.describe(rev)} is invalid:\n{detail}", hint=f"workbench validate {result.path}")
    if rev is not None and commit is None:
        commit = ws.resolve(rev, name)
    blob = ws.blob_sha(name, commit if commit is not None else rev)
    return result.prompt, commit, blob, ws.describe(rev)


def select_cases(prompt: Prompt, settings: EvalSettings, failed: set[str] | None) -> list[TestCase]:
    cases = list(prompt.tests)
    if settings.shard is not None:
        index, count = settings.shard
        cases = [c for c in cases if shard_of(prompt.name, c.case_id, count) == index - 1]
    if settings.rerun_failed and failed is not None:
        cases = [c for c in cases if c.case_id in failed]
    return cases


def make_run_provider(ws: Workspace, prompt: Prompt, settings: EvalSettings) -> Provider:
    spec = resolve_model(prompt.model, ws.config, provider=settings.provider, model=settings.model, base_url=settings.base_url)
    return make_provider(spec, root=Path(ws.root), timeout_s=settings.timeout_s or ws.config.timeout_s, stream=settings.stream)


@dataclass
class _Suite:
    """One (prompt, revision) of a run, loaded and ready to start."""

    name: str
    rev: str | None
    prompt: Prompt
    commit: str | None
    blob: str | None
    label: str
    cases: list[TestCase]
    provider: Provider
    run: SuiteRun | None = None


def _will_call_an_endpoint(ws: Workspace, settings: EvalSettings) -> bool:
    """Whether this run will surely send HTTP requests: an OpenAI-compatible endpoint, and no cache to answer."""
    provider = settings.provider or ws.config.provider
    endpoint = provider == "openai" or (provider is None and settings.base_url is not None)
    return endpoint and (not settings.use_cache or not (state_dir(ws) / "cache.sqlite").exists())


def _read_target(ws: Workspace, name: str, rev: str | None, resolved: dict[str, str]) -> tuple[Prompt, str | None, str | None, str]:
    """One target's prompt, commit, blob and label; each revision is resolved once per run."""
    if rev is not None and rev not in ws.environments and rev not in resolved:
        resolved[rev] = ws.resolve(rev)  # (an environment names a different commit per prompt)
    return _load(ws, name, rev, resolved.get(rev) if rev is not None else None)


async def run_suites(
    ws: Workspace,
    targets: Sequence[tuple[str, str | None]],
    settings: EvalSettings | None = None,
    on_event: EventHandler | None = None,
    *,
    arm: int = 0,
    git_lock: Callable[[Callable[[], Any]], Any] | None = None,
) -> list[SuiteOutcome]:
    """Run the suites of several (prompt, revision) targets at once and store the results.

    All suites share one concurrency budget (`settings.concurrency` requests in flight for the
    whole run, retries first) and, per endpoint, one view of its health; target i reports its
    events as arm `arm + i`. Revisions are resolved once, each file is read once (in a worker
    thread, so the event loop keeps sending), and each suite starts as soon as its file is
    read: its first requests are on the wire while the next file is parsed. The cache is read
    once per suite; each commit gets one git note for all its prompts.

    Cancellation (task cancel) keeps the results so far: they are stored and re-raised as
    cancelled; the caller's events have already shown them. A target that cannot be read
    stops the run before anything is stored.

    Raises:
        EvalError: a prompt is invalid; ProviderError: a provider cannot start.
    """
    settings = settings or EvalSettings()
    git = git_lock or (lambda fn: fn())
    options = _options(ws, settings)
    if _will_call_an_endpoint(ws, settings):
        prefetch_http_client()  # its import overlaps with reading the files
    store = open_store(ws)
    cache: ResponseCache | None = None
    slots = Slots(options.concurrency)
    health: dict[str, EndpointHealth] = {}
    resolved: dict[str, str] = {}
    root = Path(ws.root)
    suites: list[_Suite] = []
    tasks: list[asyncio.Future[list[CaseResult]]] = []
    started = time.time()
    try:
        cache = ResponseCache(state_dir(ws) / "cache.sqlite") if settings.use_cache else None
        try:
            for index, (name, rev) in enumerate(targets):
                prompt, commit, blob, label = await asyncio.to_thread(git, partial(_read_target, ws, name, rev, resolved))
                cases = select_cases(prompt, settings, store.failed_case_ids(name) if settings.rerun_failed else None)
                provider = make_run_provider(ws, prompt, settings)
                suite = _Suite(name, rev, prompt, commit, blob, label, cases, provider)
                suites.append(suite)
                endpoint = health.setdefault(provider.id, EndpointHealth(window=max(20, 2 * options.concurrency)))
                suite.run = SuiteRun(
                    prompt, provider, cases, options, arm=arm + index, label=f"{name} @ {label}",
                    cache=cache, on_event=on_event, root=root, slots=slots, health=endpoint,
                )
                tasks.append(asyncio.ensure_future(suite.run.run()))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        cancelled = False
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            cancelled = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            outcomes = _record(ws, store, suites, settings, started, cancelled, git, warnings=cache.warnings if cache else [])
        return outcomes
    finally:
        if cache is not None:
            cache.close()
        for suite in suites:
            await suite.provider.aclose()
        store.close()


def _record(
    ws: Workspace,
    store: ResultsStore,
    suites: Sequence[_Suite],
    settings: EvalSettings,
    started: float,
    cancelled: bool,
    git: Callable[[Callable[[], Any]], Any],
    warnings: list[str],
) -> list[SuiteOutcome]:
    """Store every suite's results, then write one git note per commit for all its prompts."""
    outcomes: list[SuiteOutcome] = []
    notes: dict[str, list[str]] = {}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for suite in suites:
        results = list(suite.run.results) if suite.run is not None else []
        outcome = SuiteOutcome(suite.name, suite.label, suite.commit, suite.blob, suite.provider.label, suite.provider.id, results, cancelled, [*store.warnings, *warnings])
        if results:
            outcome.run_id = store.record(
                prompt=suite.name, revision=suite.label, commit=suite.commit, blob=suite.blob, provider=suite.provider.id,
                model=suite.prompt.model.name, parameters=dict(suite.prompt.model.parameters), results=results,
                started=started, cancelled=cancelled,
            )
        if suite.commit is not None and not cancelled and results and settings.shard is None and not settings.rerun_failed:
            notes.setdefault(suite.commit, []).append(f"{NOTE_PREFIX} {suite.name} {outcome.summary.short} {suite.provider.id} {now}")
        outcomes.append(outcome)
    for commit, lines in notes.items():
        text = "\n".join(lines)
        try:
            git(partial(ws.add_note, commit, text))
        except WorkbenchError as err:
            for outcome in outcomes:
                if outcome.commit == commit:
                    outcome.warnings.append(f"could not write the git note: {err}")
    return outcomes


async def run_tests(
    ws: Workspace,
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
    (outcome,) = await run_suites(ws, [(name, rev)], settings, on_event, arm=arm, git_lock=git_lock)
    return outcome


async def compare_versions(
    ws: Workspace,
    name: str,
    a: str | None,
    b: str | None,
    settings: EvalSettings | None = None,
    on_event: EventHandler | None = None,
    *,
    git_lock: Callable[[Callable[[], Any]], Any] | None = None,
) -> tuple[Comparison, SuiteOutcome, SuiteOutcome]:
    """Run versions A and B at the same time, sharing one concurrency budget, and compare them."""
    outcome_a, outcome_b = await run_suites(ws, [(name, a), (name, b)], settings, on_event, git_lock=git_lock)
    comparison = compare_results(name, outcome_a.revision, outcome_a.results, outcome_b.revision, outcome_b.results)
    return comparison, outcome_a, outcome_b


def merge_base_with(ws: Workspace, base_branch: str) -> str:
    """The commit where HEAD left `base_branch` (the PR's base), e.g. `main` or `origin/main`."""
    return ws.merge_base(base_branch) or ws.resolve(base_branch)


def latest_summary(ws: Workspace, name: str, commit: str) -> str | None:
    """`✓ 12/12` for the newest stored run of that version, else from its git note."""
    path = state_dir(ws) / "results.sqlite"
    if path.is_file():
        store = ResultsStore(path)
        try:
            run = store.latest(name, blob=ws.blob_sha(name, commit), commit=commit)
        finally:
            store.close()
        if run is not None:
            return str(run.summary.short)
    note = ws.read_notes([commit]).get(commit, "")
    for line in reversed(note.splitlines()):
        parts = line.split()
        if len(parts) >= 4 and parts[0] == NOTE_PREFIX and parts[1] == name:
            return f"{parts[2]} {parts[3]}"
    return None


def record_results(ws: Workspace, name: str, commit: str, provider: str, results: list[CaseResult], *, started: float) -> int:
    """Store a run directly (the demo builds its past results this way, without a model)."""
    store = open_store(ws)
    try:
        return store.record(
            prompt=name, revision=commit[:10], commit=commit, blob=ws.blob_sha(name, commit), provider=provider, model=None,
            parameters={}, results=results, started=started, finished=started + 30,
        )
    finally:
        store.close()
