"""Test and compare prompt versions: the use cases behind `workbench test`, `compare` and the app.

A version is any revision of the revision grammar (commit, branch, `<name>@vN`, an
environment; see `services.revisions`) or the working copy (None). Results go to the results store; a run of a
committed version also leaves a one-line git note so the result travels with the repo.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from workbench.core.model import Prompt, TestCase
from workbench.core.model_choice import resolve_model
from workbench.core.run_limits import MAX_CONCURRENCY, MAX_REPEAT
from workbench.core.trust import TrustPolicy, policy_for
from workbench.errors import EvalError, WorkbenchError
from workbench.evals.assert_values import FilesAt
from workbench.evals.cache import ResponseCache
from workbench.evals.compare import Comparison, compare_results
from workbench.evals.providers import Provider, cost_of, make_provider
from workbench.evals.reports import SuiteReport
from workbench.evals.run_model import occurrences
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
    SuitePlan,
    SuiteRun,
    shard_of,
    summarize,
)
from workbench.evals.sdk_import import prefetch_http_client
from workbench.evals.store import ResultsStore
from workbench.services import parse_cache, revisions
from workbench.services.session import RepoSession
from workbench.services.suite_files import assertion_files_at, content_id
from workbench.services.test_results import note_line, open_store, record_note, state_dir

__all__ = [
    "CaseFinished",
    "EvalSettings",
    "RunFinished",
    "RunStarted",
    "SuiteEstimate",
    "SuiteOutcome",
    "compare_versions",
    "estimate_suite",
    "run_suites",
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

    def __post_init__(self) -> None:
        # Every job is built before the first call: `--repeat 100000000` took 7 GB, then the
        # OOM killer. pass^k is read at k of a few; 1,000 samples of a case is already a study.
        if not 1 <= self.repeat <= MAX_REPEAT:
            raise EvalError(f"repeat must be between 1 and {MAX_REPEAT} (got {self.repeat})", hint="--repeat K samples each case K times")
        # `-j 99999999999999999999` crashed with OverflowError (the health window's deque); the
        # range is workbench.yaml's, so a flag cannot ask for what the file may not.
        if self.concurrency is not None and not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise EvalError(
                f"concurrency must be between 1 and {MAX_CONCURRENCY} (got {self.concurrency})", hint="-j N keeps N requests in flight"
            )


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
        repeat=settings.repeat,
        use_cache=settings.use_cache,
    )


def _load(session: RepoSession, name: str, rev: str | None, commit: str | None = None) -> tuple[Prompt, str | None, str | None, str]:
    """The prompt at `rev`, its commit (`commit` when the caller resolved it already) and blob."""
    result = parse_cache.load_checked_at(session, name, rev)
    if result.prompt is None or not result.ok:
        detail = "\n".join(p.format() for p in result.errors[:10])
        raise EvalError(f"{name} at {revisions.describe(rev)} is invalid:\n{detail}", hint=f"workbench validate {result.path}")
    if rev is not None and commit is None:
        commit = revisions.resolve(session, rev, name)
    blob = content_id(session, name, commit if commit is not None else rev, prompt=result.prompt)
    return result.prompt, commit, blob, revisions.describe(rev)


def select_cases(prompt: Prompt, settings: EvalSettings, failed: set[tuple[str, int]] | None) -> list[TestCase]:
    """The cases a run takes: its shard's, and with --rerun-failed those in `failed` ((case id,
    occurrence), `ResultsStore.failed_cases`)."""
    cases = list(prompt.tests)
    places = dict(zip(map(id, cases), occurrences(c.case_id for c in cases), strict=True))
    if settings.shard is not None:
        index, count = settings.shard
        cases = [c for c in cases if shard_of(prompt.name, c.case_id, count) == index - 1]
    if settings.rerun_failed and failed is not None:
        cases = [c for c in cases if (c.case_id, places[id(c)]) in failed]
    return cases


def trust_policy(session: RepoSession) -> TrustPolicy:
    """The allow-lists of workbench.yaml plus those pinned in the environment (CI)."""
    return policy_for(session.config, os.environ)


def make_run_provider(session: RepoSession, prompt: Prompt, settings: EvalSettings, shared: dict[str, Provider] | None = None) -> Provider:
    """The provider for `prompt`'s suite; with `shared`, the one an earlier suite of the run made
    for the same model, endpoint and settings: one client, one connection pool, one TLS set-up
    (two suites built two at once, 60-100 ms each, before the first request), one local model."""
    spec = resolve_model(prompt.model, session.config, provider=settings.provider, model=settings.model, base_url=settings.base_url)
    timeout = settings.timeout_s or session.config.timeout_s
    key = repr((spec, timeout, settings.stream))
    if shared is not None and key in shared:
        return shared[key]
    provider = make_provider(spec, root=Path(session.root), timeout_s=timeout, stream=settings.stream, policy=trust_policy(session))
    if shared is not None:
        shared[key] = provider
    return provider


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


def _will_call_an_endpoint(session: RepoSession, settings: EvalSettings) -> bool:
    """Whether this run will surely send HTTP requests: an OpenAI-compatible endpoint, and no cache to answer."""
    provider = settings.provider or session.config.provider
    endpoint = provider == "openai" or (provider is None and settings.base_url is not None)
    return endpoint and (not settings.use_cache or not (state_dir(session) / "cache.sqlite").exists())


def _read_target(session: RepoSession, name: str, rev: str | None, resolved: dict[str, str]) -> tuple[Prompt, str | None, str | None, str, FilesAt | None]:
    """One target's prompt, commit, blob and label, and, for a revision, the files its assertions
    name as they are there (`suite_files.assertion_files_at`); each revision is resolved once per run."""
    if rev is not None and not revisions.depends_on_prompt(session, rev) and rev not in resolved:
        resolved[rev] = revisions.resolve(session, rev)
    prompt, commit, blob, label = _load(session, name, rev, resolved.get(rev) if rev is not None else None)
    files_at = FilesAt(label, assertion_files_at(session, prompt, commit)) if commit is not None else None
    return prompt, commit, blob, label, files_at


async def run_suites(
    session: RepoSession,
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
    options = _options(session, settings)
    if _will_call_an_endpoint(session, settings):
        prefetch_http_client()  # its import overlaps with reading the files
    store = open_store(session)
    cache: ResponseCache | None = None
    slots = Slots(options.concurrency)
    health: dict[str, EndpointHealth] = {}
    resolved: dict[str, str] = {}
    providers: dict[str, Provider] = {}
    root = Path(session.root)
    suites: list[_Suite] = []
    tasks: list[asyncio.Future[list[CaseResult]]] = []
    started = time.time()
    try:
        cache = ResponseCache(state_dir(session) / "cache.sqlite") if settings.use_cache else None
        try:
            for index, (name, rev) in enumerate(targets):
                prompt, commit, blob, label, files_at = await asyncio.to_thread(git, partial(_read_target, session, name, rev, resolved))
                cases = select_cases(prompt, settings, store.failed_cases(name) if settings.rerun_failed else None)
                provider = make_run_provider(session, prompt, settings, providers)
                suite = _Suite(name, rev, prompt, commit, blob, label, cases, provider)
                suites.append(suite)
                endpoint = health.setdefault(provider.id, EndpointHealth(window=max(20, 2 * options.concurrency)))
                suite.run = SuiteRun(
                    prompt, provider, cases, options, arm=arm + index, label=f"{name} @ {label}",
                    cache=cache, on_event=on_event, root=root, slots=slots, health=endpoint, files_at=files_at,
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
            outcomes = _record(session, store, suites, settings, started, cancelled, git, warnings=cache.warnings if cache else [])
        return outcomes
    finally:
        if cache is not None:
            cache.close()
        for provider in providers.values():
            await provider.aclose()
        store.close()


def _record(
    session: RepoSession,
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
    for suite in suites:
        results = list(suite.run.results) if suite.run is not None else []
        outcome = SuiteOutcome(suite.name, suite.label, suite.commit, suite.blob, suite.provider.label, suite.provider.id, results, cancelled, [*store.warnings, *warnings])
        if results:
            outcome.run_id = store.record(
                prompt=suite.name, revision=suite.label, commit=suite.commit, blob=suite.blob, provider=suite.provider.id,
                model=suite.prompt.model.name, parameters=dict(suite.prompt.model.parameters), results=results,
                started=started, cancelled=cancelled,
            )
            outcome.warnings.extend(w for w in store.warnings if w not in outcome.warnings)  # a store recovered while writing
        if suite.commit is not None and not cancelled and results and settings.shard is None and not settings.rerun_failed:
            notes.setdefault(suite.commit, []).append(note_line(suite.name, outcome.summary.short, suite.provider.id))
        outcomes.append(outcome)
    for commit, lines in notes.items():
        try:
            git(partial(record_note, session, commit, "\n".join(lines)))
        except WorkbenchError as err:
            for outcome in outcomes:
                if outcome.commit == commit:
                    outcome.warnings.append(f"could not write the git note: {err}")
    return outcomes


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
    (outcome,) = await run_suites(session, [(name, rev)], settings, on_event, arm=arm, git_lock=git_lock)
    return outcome


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
    """Run versions A and B at the same time, sharing one concurrency budget, and compare them."""
    outcome_a, outcome_b = await run_suites(session, [(name, a), (name, b)], settings, on_event, git_lock=git_lock)
    comparison = compare_results(name, outcome_a.revision, outcome_a.results, outcome_b.revision, outcome_b.results)
    return comparison, outcome_a, outcome_b


# An answer's length when the prompt does not cap it (`max_tokens`): a rough guess, said so in reports.
ASSUMED_OUTPUT_TOKENS = 500
FREE_PROVIDERS = ("echo", "local")


@dataclass(frozen=True)
class SuiteEstimate:
    """What running one (prompt, revision) would cost now, before anything is sent."""

    prompt: str
    revision: str
    provider_id: str
    provider: str  # openai | echo | local | python:module:function
    model: str | None
    plan: SuitePlan

    @property
    def calls(self) -> int:
        """Model calls: uncached answers plus model-graded assertions (retries not counted)."""
        return self.plan.calls + self.plan.grader_calls

    @property
    def cost(self) -> float | None:
        """Estimated USD (`evals.providers.cost_of`): input ~ characters / 4 tokens, output =
        `max_tokens` when set, else ASSUMED_OUTPUT_TOKENS; 0 for echo and local; None when the
        model's prices are not known."""
        if self.provider in FREE_PROVIDERS or self.calls == 0:
            return 0.0
        if self.provider != "openai":
            return None
        output = self.plan.max_tokens or ASSUMED_OUTPUT_TOKENS
        per_call_input = -(-self.plan.input_chars // 4) / max(1, self.plan.calls)
        return cost_of(self.model, round(per_call_input * self.calls), output * self.calls)


def estimate_suite(
    session: RepoSession, name: str, rev: str | None, settings: EvalSettings | None = None, cache: ResponseCache | None = None
) -> SuiteEstimate:
    """How many calls the suite of `name` at `rev` would make now (the cache consulted, nothing sent).

    Raises:
        EvalError: the prompt is invalid there; ProviderError: its provider cannot start (not
            allowed here, a missing key, an unknown provider).
    """
    settings = settings or EvalSettings()
    prompt, _commit, _blob, label = _load(session, name, rev)
    provider = make_run_provider(session, prompt, settings)
    spec = resolve_model(prompt.model, session.config, provider=settings.provider, model=settings.model, base_url=settings.base_url)
    cases = select_cases(prompt, settings, None)
    run = SuiteRun(prompt, provider, cases, _options(session, settings), cache=cache if settings.use_cache else None, root=Path(session.root))
    return SuiteEstimate(name, label, provider.id, spec.provider or "echo", spec.name, run.plan())


def merge_base_with(session: RepoSession, base_branch: str) -> str:
    """The commit where HEAD left `base_branch` (the PR's base), e.g. `main` or `origin/main`."""
    return revisions.merge_base(session, base_branch) or revisions.resolve(session, base_branch)


def record_results(session: RepoSession, name: str, commit: str, provider: str, results: list[CaseResult], *, started: float) -> int:
    """Store a run of `commit` directly and record it on the commit's note, as a run of a commit
    does (the demo builds its past results this way, without a model)."""
    store = open_store(session)
    try:
        run_id = store.record(
            prompt=name, revision=commit[:10], commit=commit, blob=content_id(session, name, commit), provider=provider, model=None,
            parameters={}, results=results, started=started, finished=started + 30,
        )
    finally:
        store.close()
    record_note(session, commit, note_line(name, summarize(results).short, provider, when=started + 30))
    return run_id
