"""The async test runner: bounded concurrency, retries with backoff, timeouts, cancellation.

Every case ends with a result (passed, failed or errored); one failure never stops the run.
Transient failures (429, 5xx, timeouts, dropped connections, malformed responses) are
retried with capped exponential backoff and jitter, honouring `Retry-After`; the default
budget of 8 attempts carries a suite through an endpoint where 30% of calls fail at random.
Progress is reported as events, which the CLI turns into a progress bar and the app into
live rows.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from workbench.core.jsvalues import coerce_output
from workbench.core.model import Assertion, Prompt, TestCase
from workbench.core.render import RenderedPrompt, render_prompt
from workbench.core.safe_text import well_formed
from workbench.core.stats import pass_hat_k, percentile, wilson_interval
from workbench.core.tool_calls import tool_calls_in
from workbench.errors import WorkbenchError
from workbench.evals.assertions import AssertionResult, GradingContext, grade
from workbench.evals.cache import ResponseCache, cache_key
from workbench.evals.providers import (
    CallError,
    Completion,
    EchoProvider,
    ModelRequest,
    Provider,
    local_embeddings,
)
from workbench.evals.secrets import scrub


@dataclass(frozen=True)
class RunOptions:
    concurrency: int = 8
    max_attempts: int = 8
    timeout_s: float = 60.0
    backoff_base_s: float = 0.5
    rate_limit_base_s: float = 1.0
    backoff_cap_s: float = 10.0
    retry_after_cap_s: float = 60.0
    repeat: int = 1
    use_cache: bool = True
    python_assertions: bool = True  # `python` assertions run code from prompt files (core.trust)
    python_assertions_source: str = ""


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
            **({"tool_calls": [{"name": n, "arguments": a} for n, a in calls]} if (calls := tool_calls_in(self.output)) else {}),
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


# ---------------------------------------------------------------- running


def _wait(options: RunOptions) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(min(max(retry_after, 0.0), options.retry_after_cap_s))
        base = options.rate_limit_base_s if getattr(error, "status", None) == 429 else options.backoff_base_s
        ceiling = min(options.backoff_cap_s, base * 2 ** (state.attempt_number - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter": never a hot retry loop

    return wait


def _retryable(error: BaseException) -> bool:
    return bool(getattr(error, "retryable", False))


async def call_with_retries(provider: Provider, request: ModelRequest, options: RunOptions) -> tuple[Completion, int]:
    """One model call with timeout and retries; returns the completion and the attempts used.

    Raises:
        CallError: a non-retryable error, or the last error once the budget is spent.
    """
    attempts = 0
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(max(1, options.max_attempts)),
        wait=_wait(options),
        retry=retry_if_exception(_retryable),
        reraise=True,
    ):
        with attempt:
            attempts += 1
            try:
                completion = await asyncio.wait_for(provider.complete(request), options.timeout_s)
            except TimeoutError:
                raise CallError(f"no answer within {options.timeout_s:g} s", retryable=True) from None
    return completion, attempts


class SuiteRun:
    """One prompt version × its cases on one provider. `results` fills in as cases finish."""

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
        self.results: list[CaseResult] = []
        self.cancelled = False

    async def run(self) -> list[CaseResult]:
        jobs = [(case, repeat) for case in self.cases for repeat in range(max(1, self.options.repeat))]
        self.on_event(RunStarted(self.arm, self.label, len(jobs), tuple((c.case_id, c.description) for c in self.cases)))
        semaphore = asyncio.Semaphore(max(1, self.options.concurrency))

        async def one(case: TestCase, repeat: int) -> None:
            async with semaphore:
                result = await self._run_case(case, repeat)
            self.results.append(result)
            self.on_event(CaseFinished(self.arm, result))

        tasks = [asyncio.ensure_future(one(case, repeat)) for case, repeat in jobs]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            self.cancelled = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.on_event(RunFinished(self.arm, summarize(self.results), cancelled=True))
            raise
        self.on_event(RunFinished(self.arm, summarize(self.results)))
        return self.results

    def _request(self, rendered: RenderedPrompt) -> ModelRequest:
        return ModelRequest(messages=rendered.messages, text=rendered.text, fields=rendered.request_fields())

    async def _run_case(self, case: TestCase, repeat: int) -> CaseResult:
        return _scrubbed(await self._run_case_raw(case, repeat))

    async def _run_case_raw(self, case: TestCase, repeat: int) -> CaseResult:
        base: dict[str, Any] = {"case_id": case.case_id, "description": case.description, "repeat": repeat, "vars": dict(case.vars)}
        try:
            rendered = render_prompt(self.prompt, case.vars)
        except WorkbenchError as err:
            return CaseResult(passed=None, score=0.0, error=str(err), **base)
        request = self._request(rendered)
        key = None
        completion: Completion | None = None
        attempts = 0
        if self.cache is not None and self.options.use_cache:
            key = cache_key(self.provider.id, dict(self.prompt.model.parameters), rendered.to_dict(), repeat)
            completion = self.cache.get(key)
        if completion is None:
            try:
                completion, attempts = await call_with_retries(self.provider, request, self.options)
            except CallError as err:
                return CaseResult(passed=None, score=0.0, error=str(err), attempts=max(attempts, 1), **base)
            except WorkbenchError as err:
                return CaseResult(passed=None, score=0.0, error=str(err), **base)
            # What a model says may repeat what it was sent (a key in an echoed header): the
            # answer is scrubbed once, before it is cached, graded, stored or shown.
            completion = replace(completion, text=scrub(completion.text))
            if key is not None and self.cache is not None:
                self.cache.put(key, completion)
        ctx = GradingContext(
            vars=dict(case.vars),
            latency_ms=completion.latency_ms,
            cost=completion.cost,
            cached=completion.cached,
            root=self.root,
            embed=self._embed,
            grade=self._grade,
            python_assertions=self.options.python_assertions,
            python_assertions_source=self.options.python_assertions_source,
            logprobs=completion.logprobs,
            tools=_definitions(self.prompt, "tools"),
            functions=_definitions(self.prompt, "functions"),
        )
        graded_case = with_response_format_check(self.prompt, case, completion)
        verdict = await grade(graded_case, completion.graded_output, ctx)
        if graded_case is not case and verdict.results:  # its own row, named for what it checks
            verdict = replace(verdict, results=(replace(verdict.results[0], type=RESPONSE_FORMAT_CHECK), *verdict.results[1:]))
        return CaseResult(
            passed=None if verdict.error else verdict.passed,
            error=verdict.error,
            score=verdict.score,
            output=coerce_output(completion.graded_output),
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
        completion, _ = await call_with_retries(self.grader, ModelRequest(messages=[{"role": "user", "content": prompt}]), self.options)
        return completion.text


RESPONSE_FORMAT_CHECK = "response_format"


def with_response_format_check(prompt: Prompt, case: TestCase, completion: Completion) -> TestCase:
    """The case with one more assertion first when the prompt declares a JSON `response_format`:
    the answer must parse (and match the schema, when there is one). An answer made of tool
    calls is not checked: the format applies to text answers."""
    response_format = prompt.response_format
    if not isinstance(response_format, dict) or response_format.get("type") not in ("json_schema", "json_object"):
        return case
    if completion.structured is not None and not completion.text:
        return case
    check = Assertion(type="is-json", value=prompt.response_schema, metric=RESPONSE_FORMAT_CHECK)
    return replace(case, asserts=(check, *case.asserts))


def _scrubbed(result: CaseResult) -> CaseResult:
    """The result with no known secret in its output, error or assertion reasons."""
    return replace(
        result,
        output=well_formed(scrub(result.output)),
        error=scrub(result.error) if result.error else result.error,
        asserts=tuple(replace(a, reason=scrub(a.reason)) for a in result.asserts),
    )


def _definitions(prompt: Prompt, key: str) -> tuple[Any, ...] | None:
    """The prompt's OpenAI `tools` / `functions` for tool-call assertions (`Prompt.tools`: the
    top-level `tools:`, else `model.parameters.tools`)."""
    if key == "tools" and prompt.tools:
        return tuple(prompt.tools)
    for source in (prompt.raw.get(key), (prompt.raw.get("model") or {}).get("parameters", {}).get(key) if isinstance(prompt.raw.get("model"), dict) else None):
        if isinstance(source, list):
            return tuple(source)
    return None


def shard_of(prompt: str, case_id: str, shards: int) -> int:
    """Deterministic shard (0-based) of a case: the same on every machine and Python version."""
    import hashlib

    digest = hashlib.sha256(f"{prompt}\0{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards

