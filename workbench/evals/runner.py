"""The async test runner: bounded concurrency, retries with backoff, timeouts, cancellation.

Every case ends with a result (passed, failed or errored); one failure never stops the run.
Transient failures (429, 5xx, timeouts, dropped connections, malformed responses) are
retried with capped exponential backoff and jitter, honouring `Retry-After`; the default
budget of 8 attempts carries a suite through an endpoint where 30% of calls fail at random.
A request holds a concurrency slot only while it is on the wire, retries go before cases
that have not started, and the long backoff applies only when the endpoint looks
overloaded (see `Slots` and `EndpointHealth`). The cache is read once per suite (one
query) and written in batches. Progress is reported as events, which the CLI turns into a
progress bar and the app into live rows.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from workbench.core.model import Prompt, TestCase
from workbench.core.render import RenderedPrompt, render_prompt
from workbench.core.stats import pass_hat_k, percentile, wilson_interval
from workbench.errors import WorkbenchError
from workbench.evals.assertions import AssertionResult, GradingContext, check, grade_case
from workbench.evals.cache import ResponseCache, cache_key
from workbench.evals.providers import (
    CallError,
    Completion,
    EchoProvider,
    ModelRequest,
    Provider,
    local_embeddings,
)


@dataclass(frozen=True)
class RunOptions:
    concurrency: int = 8
    max_attempts: int = 8
    timeout_s: float = 60.0
    backoff_base_s: float = 0.5  # 5xx, timeouts, dropped connections, while the endpoint is overloaded
    rate_limit_base_s: float = 1.0  # 429 without Retry-After, while the endpoint is overloaded
    healthy_backoff_base_s: float = 0.1  # any transient failure while most attempts succeed
    backoff_cap_s: float = 10.0
    retry_after_cap_s: float = 60.0
    repeat: int = 1
    use_cache: bool = True


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    description: str
    repeat: int
    passed: bool | None  # None: errored (no output to judge)
    score: float
    output: str = ""
    asserts: tuple[AssertionResult, ...] = ()
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    error: str | None = None
    cached: bool = False
    attempts: int = 1
    vars: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)

    @property
    def status(self) -> str:
        return "error" if self.passed is None else "pass" if self.passed else "fail"

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "description": self.description,
            "repeat": self.repeat,
            "status": self.status,
            "score": self.score,
            "output": self.output,
            "asserts": [a.to_dict() for a in self.asserts],
            "latency_ms": self.latency_ms,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": self.cost,
            "error": self.error,
            "cached": self.cached,
            "attempts": self.attempts,
            "vars": self.vars,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseResult:
        status = data.get("status")
        return cls(
            case_id=data["case_id"],
            description=data.get("description", data["case_id"]),
            repeat=int(data.get("repeat", 0)),
            passed=None if status == "error" else status == "pass",
            score=float(data.get("score", 0.0)),
            output=data.get("output", ""),
            asserts=tuple(
                AssertionResult(a["type"], bool(a["pass"]), float(a["score"]), a.get("reason", ""), float(a.get("weight", 1.0)))
                for a in data.get("asserts", [])
            ),
            latency_ms=data.get("latency_ms"),
            input_tokens=data.get("input_tokens"),
            output_tokens=data.get("output_tokens"),
            cost=data.get("cost"),
            error=data.get("error"),
            cached=bool(data.get("cached", False)),
            attempts=int(data.get("attempts", 1)),
            vars=dict(data.get("vars") or {}),
        )


@dataclass(frozen=True)
class RunSummary:
    total: int
    passed: int
    failed: int
    errors: int
    pass_rate: float
    interval: tuple[float, float]
    latency_p50: float | None
    latency_p95: float | None
    tokens: int
    cost: float | None

    @property
    def symbol(self) -> str:
        return "✓" if self.total and self.passed == self.total else "✗"

    @property
    def short(self) -> str:
        """`✓ 12/12` or `✗ 9/12`: what the history shows."""
        return f"{self.symbol} {self.passed}/{self.total}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "pass_rate": self.pass_rate,
            "interval95": list(self.interval),
            "latency_p50_ms": self.latency_p50,
            "latency_p95_ms": self.latency_p95,
            "tokens": self.tokens,
            "cost": self.cost,
        }


def repeat_stats(results: Sequence[CaseResult]) -> list[dict[str, Any]]:
    """With --repeat K: per case, its pass rate over the K samples and pass^K (all K passed)."""
    by_case: dict[str, list[CaseResult]] = {}
    for result in results:
        by_case.setdefault(result.case_id, []).append(result)
    rows = []
    for case_id, samples in by_case.items():
        passes = sum(1 for r in samples if r.passed)
        rows.append(
            {
                "case_id": case_id,
                "trials": len(samples),
                "passes": passes,
                "pass_rate": passes / len(samples),
                "pass_hat_k": pass_hat_k(passes, len(samples), len(samples)),
            }
        )
    return rows


def summarize(results: Sequence[CaseResult]) -> RunSummary:
    total = len(results)
    passed = sum(1 for r in results if r.passed)
    errors = sum(1 for r in results if r.passed is None)
    latencies = [r.latency_ms for r in results if r.latency_ms is not None and not r.cached]
    costs = [r.cost for r in results if r.cost is not None]
    return RunSummary(
        total=total,
        passed=passed,
        failed=total - passed - errors,
        errors=errors,
        pass_rate=passed / total if total else 0.0,
        interval=wilson_interval(passed, total),
        latency_p50=percentile(latencies, 50) if latencies else None,
        latency_p95=percentile(latencies, 95) if latencies else None,
        tokens=sum(r.tokens or 0 for r in results),
        cost=sum(costs) if costs else None,
    )


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class RunStarted:
    arm: int
    label: str
    total: int
    cases: tuple[tuple[str, str], ...]  # (case_id, description)


@dataclass(frozen=True)
class CaseFinished:
    arm: int
    result: CaseResult


@dataclass(frozen=True)
class RunFinished:
    arm: int
    summary: RunSummary
    cancelled: bool = False


Event = RunStarted | CaseFinished | RunFinished
EventHandler = Callable[[Event], None]


# ---------------------------------------------------------------- scheduling


class Slots:
    """At most `limit` requests in flight, shared by every suite of a run; retries go first.

    A request holds a slot only while it is on the wire: a request told to wait (429 with
    Retry-After, or a backoff) gives its slot back, so the others keep flowing up to the
    limit. When a slot frees, the waiter with the highest priority gets it (a retry's
    priority is its attempt number; a new case has 0), first come first served among equals:
    a retried case does not queue behind every case that has not started yet.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.busy = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, priority: int = 0) -> None:
        if self.busy < self.limit and not self._waiters:
            self.busy += 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (-priority, next(self._order), granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, granted = heapq.heappop(self._waiters)
            if not granted.done():
                granted.set_result(None)  # the slot changes hands; `busy` stays the same
                return
        self.busy -= 1


class EndpointHealth:
    """Recent attempt outcomes against one endpoint: is it overloaded, or are failures isolated?

    The rule is client-side adaptive throttling from Google's SRE book ("Handling Overload"),
    with K = 2: the endpoint counts as overloaded when fewer than half of the recent attempts
    succeeded. While it is healthy, a failed request retries after a short jittered backoff and
    gives up its slot meanwhile; once it is overloaded, the long backoff applies and waiting
    requests keep their slots, so the run slows down instead of piling onto the endpoint.
    """

    def __init__(self, window: int = 32, min_samples: int = 10) -> None:
        self._outcomes: deque[bool] = deque(maxlen=max(1, window))
        self._min_samples = min_samples

    def record(self, ok: bool) -> None:
        self._outcomes.append(ok)

    @property
    def overloaded(self) -> bool:
        seen = len(self._outcomes)
        if seen < min(self._min_samples, self._outcomes.maxlen or 1):
            return False
        return 2 * sum(self._outcomes) < seen


def _wait(options: RunOptions, health: EndpointHealth) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:  # mandated by the endpoint: exactly that, capped
            return float(min(max(retry_after, 0.0), options.retry_after_cap_s))
        if not health.overloaded:  # an isolated failure: retry soon ("full jitter")
            ceiling = min(options.backoff_cap_s, options.healthy_backoff_base_s * 2 ** (state.attempt_number - 1))
            return random.uniform(0, ceiling)
        base = options.rate_limit_base_s if getattr(error, "status", None) == 429 else options.backoff_base_s
        ceiling = min(options.backoff_cap_s, base * 2 ** (state.attempt_number - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter": never a hot retry loop

    return wait


def _retryable(error: BaseException) -> bool:
    return bool(getattr(error, "retryable", False))


async def call_with_retries(
    provider: Provider,
    request: ModelRequest,
    options: RunOptions,
    *,
    slots: Slots | None = None,
    health: EndpointHealth | None = None,
) -> tuple[Completion, int]:
    """One model call with timeout and retries; returns the completion and the attempts used.

    Each attempt holds one of `slots` (none given: no limit) only while it is on the wire;
    see `Slots` and `EndpointHealth` for who waits and how long. The retry budget is
    `options.max_attempts` attempts per call.

    Raises:
        CallError: a non-retryable error, or the last error once the budget is spent.
    """
    health = health or EndpointHealth()
    # A provider whose requests cannot be interrupted (the in-process model) gets no timeout.
    timeout_s = options.timeout_s if getattr(provider, "interruptible", True) else None
    attempts = 0
    held = False
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(max(1, options.max_attempts)),
            wait=_wait(options, health),
            retry=retry_if_exception(_retryable),
            reraise=True,
        ):
            with attempt:
                if slots is not None and not held:
                    await slots.acquire(priority=attempts)
                    held = True
                attempts += 1
                try:
                    async with asyncio.timeout(timeout_s):  # no extra task per call, unlike wait_for
                        completion = await provider.complete(request)
                except (TimeoutError, CallError) as err:
                    retryable = isinstance(err, TimeoutError) or _retryable(err)
                    if retryable:
                        health.record(ok=False)
                    if held and slots is not None and not (retryable and health.overloaded):
                        slots.release()  # wait (or give up) without blocking the others
                        held = False
                    if isinstance(err, TimeoutError):
                        raise CallError(f"no answer within {options.timeout_s:g} s", retryable=True) from None
                    raise
                health.record(ok=True)
    finally:
        if held and slots is not None:
            slots.release()
    return completion, attempts


# ---------------------------------------------------------------- running


@dataclass
class _Job:
    """One case × repeat, rendered, with its cache key (None: not cacheable or render failed)."""

    case: TestCase
    repeat: int
    request: ModelRequest | None = None
    key: str | None = None
    error: str | None = None


class SuiteRun:
    """One prompt version × its cases on one provider. `results` fills in as cases finish.

    `slots` and `health` may be shared by several suites of one run (one concurrency budget,
    one view of the endpoint); by default the suite has its own.
    """

    def __init__(
        self,
        prompt: Prompt,
        provider: Provider,
        cases: Sequence[TestCase],
        options: RunOptions,
        *,
        arm: int = 0,
        label: str = "",
        cache: ResponseCache | None = None,
        on_event: EventHandler | None = None,
        root: Path | None = None,
        grader: Provider | None = None,
        slots: Slots | None = None,
        health: EndpointHealth | None = None,
    ) -> None:
        self.prompt = prompt
        self.provider = provider
        self.cases = list(cases)
        self.options = options
        self.arm = arm
        self.label = label or prompt.name
        self.cache = cache
        self.on_event = on_event or (lambda event: None)
        self.root = root
        self.grader = grader or provider
        self.slots = slots or Slots(options.concurrency)
        self.health = health or EndpointHealth(window=max(20, 2 * options.concurrency))
        self.results: list[CaseResult] = []
        self.cancelled = False

    async def run(self) -> list[CaseResult]:
        jobs = [self._prepare(case, repeat) for case in self.cases for repeat in range(max(1, self.options.repeat))]
        self.on_event(RunStarted(self.arm, self.label, len(jobs), tuple((c.case_id, c.description) for c in self.cases)))
        hits: dict[str, Completion] = {}
        if self.cache is not None and self.options.use_cache:
            hits = self.cache.get_many([job.key for job in jobs if job.key is not None])  # one query for the suite
        if any(job.request is not None and (job.key is None or job.key not in hits) for job in jobs):
            warm = getattr(self.provider, "warm", None)
            if warm is not None:
                warm()  # get the client ready while the cached cases are graded

        async def one(job: _Job) -> None:
            result = await self._run_case(job, hits.get(job.key) if job.key is not None else None)
            self.results.append(result)
            self.on_event(CaseFinished(self.arm, result))

        tasks = [asyncio.ensure_future(one(job)) for job in jobs]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            self.cancelled = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.on_event(RunFinished(self.arm, summarize(self.results), cancelled=True))
            raise
        finally:
            if self.cache is not None:
                self.cache.flush()
        self.on_event(RunFinished(self.arm, summarize(self.results)))
        return self.results

    def _request(self, rendered: RenderedPrompt) -> ModelRequest:
        return ModelRequest(messages=rendered.messages, text=rendered.text)

    def _prepare(self, case: TestCase, repeat: int) -> _Job:
        job = _Job(case, repeat)
        try:
            rendered = render_prompt(self.prompt, case.vars)
        except WorkbenchError as err:
            job.error = str(err)
            return job
        job.request = self._request(rendered)
        if self.cache is not None and self.options.use_cache:
            job.key = cache_key(self.provider.id, dict(self.prompt.model.parameters), rendered.to_dict(), repeat)
        return job

    async def _run_case(self, job: _Job, completion: Completion | None) -> CaseResult:
        case = job.case
        base: dict[str, Any] = {"case_id": case.case_id, "description": case.description, "repeat": job.repeat, "vars": dict(case.vars)}
        if job.request is None:
            return CaseResult(passed=None, score=0.0, error=job.error, **base)
        attempts = 0
        if completion is None:
            try:
                completion, attempts = await call_with_retries(self.provider, job.request, self.options, slots=self.slots, health=self.health)
            except CallError as err:
                return CaseResult(passed=None, score=0.0, error=str(err), attempts=max(attempts, 1), **base)
            except WorkbenchError as err:
                return CaseResult(passed=None, score=0.0, error=str(err), **base)
            if job.key is not None and self.cache is not None:
                self.cache.put(job.key, completion)
        ctx = GradingContext(
            vars=dict(case.vars),
            latency_ms=completion.latency_ms,
            cost=completion.cost,
            cached=completion.cached,
            root=self.root,
            embed=self._embed,
            grade=self._grade,
        )
        results = [await check(assertion, completion.text, ctx) for assertion in case.asserts]
        verdict = grade_case(case, results)
        return CaseResult(
            passed=verdict.passed,
            score=verdict.score,
            output=completion.text,
            asserts=verdict.results,
            latency_ms=completion.latency_ms,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            cost=completion.cost,
            cached=completion.cached,
            attempts=max(attempts, 1),
            **base,
        )

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        if isinstance(self.provider, EchoProvider):
            try:  # offline embeddings when the local extra is installed
                return await asyncio.to_thread(local_embeddings, texts)
            except WorkbenchError:
                return await self.provider.embed(texts)
        return await self.provider.embed(texts)

    async def _grade(self, prompt: str) -> str:
        request = ModelRequest(messages=[{"role": "user", "content": prompt}])
        health = self.health if self.grader is self.provider else None
        completion, _ = await call_with_retries(self.grader, request, self.options, slots=self.slots, health=health)
        return completion.text


def shard_of(prompt: str, case_id: str, shards: int) -> int:
    """Deterministic shard (0-based) of a case: the same on every machine and Python version."""
    import hashlib

    digest = hashlib.sha256(f"{prompt}\0{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards

