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
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.core.jsvalues import coerce_output
from workbench.core.model import Assertion, Prompt, TestCase
from workbench.core.render import RenderedPrompt, render_prompt
from workbench.core.safe_text import well_formed
from workbench.errors import WorkbenchError
from workbench.evals.assert_values import FilesAt
from workbench.evals.assertions import CaseVerdict, GradingContext, grade
from workbench.evals.cache import ResponseCache, cache_key
from workbench.evals.model_io import cut_off_note
from workbench.evals.off_loop import in_thread_off_the_loop
from workbench.evals.providers import (
    CallError,
    Completion,
    EchoProvider,
    ModelRequest,
    Provider,
    local_embeddings,
)
from workbench.evals.run_model import (
    CaseFinished,
    CaseResult,
    EventHandler,
    RunFinished,
    RunOptions,
    RunStarted,
    RunSummary,
    occurrences,
    repeat_stats,
    summarize,
)
from workbench.evals.scheduling import EndpointHealth, Slots, call_with_retries
from workbench.evals.secrets import scrub

# ---------------------------------------------------------------- events


# ---------------------------------------------------------------- scheduling


# ---------------------------------------------------------------- running


@dataclass
class _Job:
    """One case × repeat and, once rendered, its request and cache key (None: not cacheable or
    render failed) or the error it cannot render with."""

    case: TestCase
    repeat: int
    rendered: bool = False
    request: ModelRequest | None = None
    key: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class SuitePlan:
    """What running a suite would send, known before anything is sent (`SuiteRun.plan`)."""

    jobs: int  # cases x repeats
    calls: int  # requests for answers the cache does not hold
    cached: int  # answers the cache holds
    render_errors: int  # cases that cannot render: they error without a call
    grader_calls: int  # model-graded assertions (llm-rubric, similar) of the cases that render: they call a model on every run, cached answer or not
    input_chars: int  # characters of the uncached requests (messages, text, tools, format)
    max_tokens: int | None  # the answer cap of the prompt's parameters, when set


MODEL_GRADED = ("llm-rubric", "similar")


def _graded_calls(asserts: Sequence[Assertion]) -> int:
    return sum(_graded_calls(a.children) if a.children else int(a.base_type in MODEL_GRADED) for a in asserts)


def _request_chars(request: ModelRequest) -> int:
    import json

    chars = sum(len(str(m.get("content") or "")) for m in request.as_messages())
    return chars + (len(json.dumps(dict(request.fields), default=str)) if request.fields else 0)


class SuiteRun:
    """One prompt version × its cases on one provider. `results` fills in as cases finish, then is put in the suite's order.

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
        files_at: FilesAt | None = None,
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
        self.files_at = files_at  # a run of a revision: the files its assertions name, read there
        self.grader = grader or provider
        self.slots = slots or Slots(options.concurrency)
        self.health = health or EndpointHealth(window=max(20, 2 * options.concurrency))
        self.results: list[CaseResult] = []
        self._renders_off_loop = False  # see `_render_in_time`
        self.cancelled = False
        # Each case's place among the file's cases with its case_id (`CaseResult.occurrence`);
        # a case not in the file (a suite made by hand) among this suite's own.
        places = dict(zip(map(id, prompt.tests), occurrences(c.case_id for c in prompt.tests), strict=True))
        own = occurrences(c.case_id for c in self.cases)
        self._occurrence = {id(case): places.get(id(case), n) for case, n in zip(self.cases, own, strict=True)}
        # The parameters requests are sent with, for the cache key: workbench.yaml's under the
        # prompt's, as `resolve_model` gave the provider (the prompt's alone let a changed
        # temperature in workbench.yaml be answered from the cache).
        spec = getattr(provider, "spec", None)
        self._key_parameters = {**(spec.parameters if spec is not None else {}), **prompt.model.parameters}

    async def run(self) -> list[CaseResult]:
        # With a cache to read, every case is rendered first: the suite's keys make one query.
        # Without one, each case is rendered when its call has a slot (`call_with_retries`), so
        # the first requests leave before the rest of the suite is rendered.
        reads_cache = self.cache is not None and self.options.use_cache
        pairs = [(case, repeat) for case in self.cases for repeat in range(max(1, self.options.repeat))]
        jobs = [self._prepare(case, repeat) if reads_cache else _Job(case, repeat) for case, repeat in pairs]
        self.on_event(RunStarted(self.arm, self.label, len(jobs), tuple((c.case_id, c.description) for c in self.cases), self.provider.label))
        hits: dict[str, Completion] = {}
        if reads_cache and self.cache is not None:
            hits = self.cache.get_many([job.key for job in jobs if job.key is not None])  # one query for the suite
        if any(not job.rendered or (job.request is not None and (job.key is None or job.key not in hits)) for job in jobs):
            warm = getattr(self.provider, "warm", None)
            if warm is not None:
                warm()  # get the client ready while the cached cases are graded

        place: dict[int, int] = {}  # id(result) -> its job's place in the suite

        async def one(index: int, job: _Job) -> None:
            result = _scrubbed(await self._run_case(job, hits.get(job.key) if job.key is not None else None))
            place[id(result)] = index
            self.results.append(result)
            self.on_event(CaseFinished(self.arm, result))

        tasks = [asyncio.ensure_future(one(index, job)) for index, job in enumerate(jobs)]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            self.cancelled = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.results.sort(key=lambda result: place[id(result)])
            self.on_event(RunFinished(self.arm, summarize(self.results), cancelled=True))
            raise
        finally:
            if self.cache is not None:
                self.cache.flush()
        # In the suite's order, not the order cases finished in: a case graded in a thread (a
        # regex) came after those below it, and reports of cached reruns changed order.
        self.results.sort(key=lambda result: place[id(result)])
        self.on_event(RunFinished(self.arm, summarize(self.results)))
        return self.results

    def plan(self) -> SuitePlan:
        """How many calls `run` would make now: every case rendered and looked up in the cache
        (one query), nothing sent."""
        jobs = [self._prepare(case, repeat) for case in self.cases for repeat in range(max(1, self.options.repeat))]
        hits: dict[str, Completion] = {}
        if self.cache is not None and self.options.use_cache:
            hits = self.cache.get_many([job.key for job in jobs if job.key is not None])
        sent = [job for job in jobs if job.request is not None and (job.key is None or job.key not in hits)]
        rendered = [job for job in jobs if job.request is not None]
        parameters = self.prompt.model.parameters
        cap = parameters.get("max_tokens", parameters.get("max_completion_tokens"))
        return SuitePlan(
            jobs=len(jobs),
            calls=len(sent),
            cached=len(rendered) - len(sent),
            render_errors=len(jobs) - len(rendered),
            grader_calls=sum(_graded_calls(job.case.asserts) for job in rendered),
            input_chars=sum(_request_chars(job.request) for job in sent if job.request is not None),
            max_tokens=cap if isinstance(cap, int) and not isinstance(cap, bool) else None,
        )

    def _request(self, rendered: RenderedPrompt) -> ModelRequest:
        return ModelRequest(messages=rendered.messages, text=rendered.text, fields=rendered.request_fields())

    async def _render_in_time(self, case: TestCase) -> ModelRequest:
        """A case's request, rendered as its call gets a slot, while other calls are in flight: on
        the loop, until a render of this suite outlasts a GIL turn; from then on in a thread, so
        a heavy template (up to its 2 s limit) stalls neither the answers nor their latency."""
        if self._renders_off_loop:
            return await in_thread_off_the_loop(self._rendered_request, case)
        started = time.perf_counter()
        try:
            return self._rendered_request(case)
        finally:
            if time.perf_counter() - started > sys.getswitchinterval():
                self._renders_off_loop = True

    def _rendered_request(self, case: TestCase) -> ModelRequest:
        return self._request(render_prompt(self.prompt, case.vars))

    def _prepare(self, case: TestCase, repeat: int) -> _Job:
        job = _Job(case, repeat, rendered=True)
        try:
            rendered = render_prompt(self.prompt, case.vars)
        except WorkbenchError as err:
            job.error = str(err)
            return job
        job.request = self._request(rendered)
        if self.cache is not None and self.options.use_cache:
            scope = getattr(self.provider, "cache_scope", None)
            job.key = cache_key(self.provider.id, self._key_parameters, rendered.to_dict(), repeat, scope(job.request) if scope else None)
        return job

    async def _run_case(self, job: _Job, completion: Completion | None) -> CaseResult:
        case = job.case
        base: dict[str, Any] = {"case_id": case.case_id, "description": case.description, "repeat": job.repeat, "vars": dict(case.vars), "occurrence": self._occurrence.get(id(case), 0)}
        if job.rendered and job.request is None:
            return CaseResult(passed=None, score=0.0, error=job.error, **base)
        attempts = 0
        if completion is None:
            request = job.request or (lambda: self._render_in_time(case))
            try:
                completion, attempts = await call_with_retries(self.provider, request, self.options, slots=self.slots, health=self.health)
            except CallError as err:
                return CaseResult(passed=None, score=0.0, error=str(err), attempts=max(attempts, 1), **base)
            except WorkbenchError as err:
                return CaseResult(passed=None, score=0.0, error=str(err), **base)
            # What a model says may repeat what it was sent (a key in an echoed header): the
            # answer is scrubbed once, before it is cached, graded, stored or shown.
            completion = replace(completion, text=scrub(completion.text))
            if job.key is not None and self.cache is not None:
                self.cache.put(job.key, completion)
        ctx = GradingContext(
            vars=dict(case.vars),
            latency_ms=completion.latency_ms,
            cost=completion.cost,
            cached=completion.cached,
            root=self.root,
            files_at=self.files_at,
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
        note = cut_off_note(completion, self.provider.id.split(":", 1)[0])
        if note is not None and (verdict.error or not verdict.passed):
            verdict = with_cut_off_note(verdict, note)
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
            finish_reason=completion.finish_reason,
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


RESPONSE_FORMAT_CHECK = "response_format"


def with_cut_off_note(verdict: CaseVerdict, note: str) -> CaseVerdict:
    """The verdict of an answer cut at its token limit, each failure and the error starting by
    saying so (`cut_off_note`): an answer cut mid-JSON otherwise fails as invalid JSON, or as no
    valid-looking tool call, with no word of the limit."""
    results = tuple(r if r.passed else replace(r, reason=f"{note} — {r.reason}") for r in verdict.results)
    return replace(verdict, results=results, error=f"{note} — {verdict.error}" if verdict.error else None)


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


__all__ = [
    "CaseFinished",
    "CaseResult",
    "EndpointHealth",
    "EventHandler",
    "RunFinished",
    "RunOptions",
    "RunStarted",
    "RunSummary",
    "Slots",
    "SuitePlan",
    "SuiteRun",
    "call_with_retries",
    "repeat_stats",
    "shard_of",
    "summarize",
]
