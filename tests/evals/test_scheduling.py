"""How the runner schedules requests: slots, waits, retries first, shared budgets, the cache path.

Order and counts only (what the real local server saw, in which order cases finished); never
wall-clock limits: speed is measured by `benchmarks/`.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from workbench.core.loader import load_prompt
from workbench.core.model import ModelSpec
from workbench.evals.cache import ResponseCache
from workbench.evals.providers import Completion, ModelRequest, OpenAIProvider
from workbench.evals.runner import CaseFinished, EndpointHealth, RunOptions, Slots, SuiteRun

QUICK = dict(max_attempts=8, timeout_s=5, backoff_base_s=0.01, rate_limit_base_s=0.01, backoff_cap_s=0.05, healthy_backoff_base_s=0.005)


def _prompt(cases: int):  # type: ignore[no-untyped-def]
    text = (
        "model: {provider: openai, name: gpt-4o-mini}\ninputs:\n  q: {type: string, required: true}\n"
        'messages:\n  - {role: user, content: "{{ q }}"}\ntests:\n'
        + "".join(f"  - description: case {i}\n    vars: {{q: question {i}}}\n    assert: [{{type: contains, value: 'question {i}'}}]\n" for i in range(cases))
    )
    result = load_prompt(text, "prompts/q.yaml")
    assert result.prompt is not None, result.problems
    return result.prompt


def _provider(server: FakeOpenAI) -> OpenAIProvider:
    return OpenAIProvider(ModelSpec("openai", "gpt-4o-mini", server.base_url, "FAKE_KEY"), timeout_s=5)


class _CountedProvider(OpenAIProvider):
    """The real provider, counting the attempts it is asked to send."""

    calls = 0

    async def complete(self, request: ModelRequest) -> Completion:
        self.calls += 1
        return await super().complete(request)


def _port_with_nothing_listening() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test-not-a-real-key")


def _finish_order(events: list[object]) -> list[str]:
    return [e.result.vars["q"] for e in events if isinstance(e, CaseFinished)]


async def test_a_request_told_to_wait_gives_its_slot_to_the_others() -> None:
    """429 + Retry-After: only that request waits; with one slot, the other cases go meanwhile."""
    events: list[object] = []
    prompt = _prompt(4)
    with FakeOpenAI(latency_s=0.05, script=["429:0.4"]) as server:
        run = SuiteRun(prompt, _provider(server), prompt.tests, RunOptions(concurrency=1, **QUICK), on_event=events.append)
        results = await run.run()
        told_to_wait = server.log[0]["content"]
    assert all(r.passed for r in results)
    order = _finish_order(events)
    assert order[0] != told_to_wait, order  # before: it kept the only slot through its wait
    assert order[-1] == told_to_wait, order


async def test_a_retry_goes_before_cases_that_have_not_started() -> None:
    events: list[object] = []
    prompt = _prompt(6)
    with FakeOpenAI(latency_s=0.2, script=["500"]) as server:
        run = SuiteRun(prompt, _provider(server), prompt.tests, RunOptions(concurrency=1, **QUICK), on_event=events.append)
        await run.run()
        failed_first = server.log[0]["content"]
    # It gave up its slot while backing off (a case ran meanwhile), then went ahead of the cases
    # still waiting: second (third if the machine stalled), not first (kept its slot) and not
    # last (queued behind every case not started yet).
    assert _finish_order(events).index(failed_first) in (1, 2), _finish_order(events)


async def test_requests_in_flight_never_exceed_the_concurrency_and_reach_it_under_faults() -> None:
    prompt = _prompt(30)
    with FakeOpenAI(latency_s=0.02, fault_rate=0.3, faults=("429:0.05", "500", "503"), seed=5) as server:
        results = await SuiteRun(prompt, _provider(server), prompt.tests, RunOptions(concurrency=3, **QUICK)).run()
        assert server.max_in_flight == 3
    assert len(results) == 30 and all(r.passed for r in results), [r.error for r in results if not r.passed]


async def test_two_suites_share_one_budget_of_slots() -> None:
    prompt = _prompt(12)
    slots = Slots(4)
    import asyncio

    with FakeOpenAI(latency_s=0.03) as server:
        provider = _provider(server)
        runs = [SuiteRun(prompt, provider, prompt.tests, RunOptions(concurrency=4, **QUICK), arm=arm, slots=slots) for arm in (0, 1)]
        await asyncio.gather(*(run.run() for run in runs))
        assert server.max_in_flight == 4 and server.requests == 24


def test_endpoint_health_calls_it_overloaded_only_when_most_recent_attempts_fail() -> None:
    health = EndpointHealth(window=20)
    assert not health.overloaded
    for i in range(20):
        health.record(ok=i % 10 >= 3)  # 30% random failures: healthy
    assert not health.overloaded
    for _ in range(15):
        health.record(ok=False)
    assert health.overloaded
    for _ in range(15):
        health.record(ok=True)
    assert not health.overloaded


async def test_a_cached_run_reads_the_cache_in_one_query_and_calls_nothing(tmp_path: Path) -> None:
    prompt = _prompt(40)
    cache = ResponseCache(tmp_path / "cache.sqlite")
    with FakeOpenAI() as server:
        await SuiteRun(prompt, _provider(server), prompt.tests, RunOptions(concurrency=8, **QUICK), cache=cache).run()
        cache.close()
        cache = ResponseCache(tmp_path / "cache.sqlite")
        statements: list[str] = []
        assert cache._db is not None
        cache._db.set_trace_callback(statements.append)
        results = await SuiteRun(prompt, _provider(server), prompt.tests, RunOptions(concurrency=8, **QUICK), cache=cache).run()
        assert server.requests == 40
    assert all(r.cached and r.passed for r in results)
    assert sum(s.lstrip().upper().startswith("SELECT") for s in statements) == 1, statements
    cache.close()


async def test_new_answers_are_written_to_the_cache_in_few_transactions(tmp_path: Path) -> None:
    prompt = _prompt(40)
    cache = ResponseCache(tmp_path / "cache.sqlite")
    assert cache._db is not None
    commits: list[str] = []
    cache._db.set_trace_callback(lambda s: commits.append(s) if s.strip().upper().startswith("COMMIT") else None)
    with FakeOpenAI() as server:
        await SuiteRun(prompt, _provider(server), prompt.tests, RunOptions(concurrency=8, **QUICK), cache=cache).run()
    cache.close()
    assert len(commits) <= 5, len(commits)  # before: one commit (one fsync) per answer
    rows = sqlite3.connect(tmp_path / "cache.sqlite").execute("SELECT count(*) FROM responses").fetchone()[0]
    assert rows == 40


async def test_a_suites_results_are_in_case_order_whatever_order_they_finish_in() -> None:
    """Results were listed as cases finished: a case graded off the event loop (a regex) came
    after the cases below it, and reports and cached reruns changed order from run to run."""
    from workbench.evals.providers import EchoProvider

    text = (
        "inputs:\n  q: {type: string, required: true}\nmessages:\n  - {role: user, content: \"{{ q }}\"}\ntests:\n"
        "  - {description: slow, vars: {q: 'aaaaaaaaaaaaaaaaaaaa!'}, assert: [{type: regex, value: '^(a+)+!$'}]}\n"
        + "".join(f"  - {{description: case {i}, vars: {{q: question {i}}}, assert: [{{type: contains, value: 'question'}}]}}\n" for i in range(5))
    )
    loaded = load_prompt(text, "prompts/q.yaml")
    assert loaded.prompt is not None, loaded.problems
    events: list[object] = []
    results = await SuiteRun(loaded.prompt, EchoProvider(), loaded.prompt.tests, RunOptions(concurrency=8, **QUICK), on_event=events.append).run()
    assert _finish_order(events)[-1] == "aaaaaaaaaaaaaaaaaaaa!"  # it did finish last
    assert [r.case_id for r in results] == ["slow", *(f"case {i}" for i in range(5))]
    assert all(r.passed for r in results)


async def test_an_endpoint_that_accepts_no_connection_gets_a_few_attempts_not_every_cases_budget() -> None:
    """Nothing listening: every case retried its whole budget with backoff (40 cases at -j 16:
    83 s). Once a few attempts in a row have failed to connect and nothing ever answered, the
    rest of the run's calls to that endpoint fail at once, without being sent."""
    prompt = _prompt(40)
    base_url = f"http://127.0.0.1:{_port_with_nothing_listening()}/v1"
    provider = _CountedProvider(ModelSpec("openai", "gpt-4o-mini", base_url, "FAKE_KEY"), timeout_s=5)
    results = await SuiteRun(prompt, provider, prompt.tests, RunOptions(concurrency=4, **QUICK)).run()
    assert len(results) == 40 and all(r.status == "error" for r in results)
    assert provider.calls < 16, provider.calls  # before: 40 cases x 8 attempts = 320 sent
    for result in results:
        assert result.error is not None and "All connection attempts failed" in result.error
        assert "the endpoint answered nothing in this run" in result.error and "the rest were not sent" in result.error


async def test_an_endpoint_that_never_completes_a_connection_is_given_up_on_after_the_connect_timeout() -> None:
    """A firewall that drops packets (a VPN that is down): the connection never completes. Each
    attempt waited the whole request timeout (60 s by default) before it counted as a failure,
    and was not seen as a connection that never happened: 8 attempts a case. The SDK's own
    default, a 5 s connect timeout, makes it one, so the rule above ends the run."""
    prompt = _prompt(8)
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(0)  # never accepted: one connection fills the queue, the next ones hang
        filler = socket.create_connection(blackhole.getsockname())
        try:
            base_url = f"http://127.0.0.1:{blackhole.getsockname()[1]}/v1"
            provider = _CountedProvider(ModelSpec("openai", "gpt-4o-mini", base_url, "FAKE_KEY"), timeout_s=60)
            options = RunOptions(concurrency=4, **{**QUICK, "timeout_s": 60})
            async with asyncio.timeout(40):  # before: 60 s for the first attempts alone
                results = await SuiteRun(prompt, provider, prompt.tests, options).run()
        finally:
            filler.close()
    assert [r.status for r in results] == ["error"] * 8
    assert provider.calls <= 8, provider.calls
    assert all(r.error and "the endpoint answered nothing in this run" in r.error for r in results), [r.error for r in results]


async def test_an_endpoint_that_answered_once_is_retried_while_it_restarts() -> None:
    """The rule above is for endpoints that never answered: one that answered, then stops
    accepting connections for a while (a restart), is ridden out by the retries as before."""
    prompt = _prompt(40)
    options = RunOptions(concurrency=1, **{**QUICK, "max_attempts": 400})
    with FakeOpenAI(latency_s=0.02) as first:  # slow enough that the run is still going when it stops
        provider = _CountedProvider(ModelSpec("openai", "gpt-4o-mini", first.base_url, "FAKE_KEY"), timeout_s=5)
        port = int(first.base_url.rsplit(":", 1)[1].split("/")[0])
        run = asyncio.ensure_future(SuiteRun(prompt, provider, prompt.tests, options).run())
        for _ in range(1000):  # until one case is answered: the SDK's first import can take a second
            if first.completed:
                break
            await asyncio.sleep(0.01)
    answered_before = first.requests  # the server is stopped: its connections are closed
    for _ in range(500):  # refused attempts pile up while nothing listens (a loaded machine is slow)
        if provider.calls - answered_before >= 5:
            break
        await asyncio.sleep(0.01)
    refused = provider.calls - answered_before
    with FakeOpenAI(port=port) as restarted:
        results = await run
    assert refused >= 5, refused  # well past the few that stop an endpoint that never answered
    assert [r.status for r in results] == ["pass"] * 40, [r.error for r in results]
    assert restarted.completed == 40 - first.completed


def test_endpoint_health_stops_sending_only_to_an_endpoint_that_never_answered() -> None:
    from workbench.evals.providers import CallError
    from workbench.evals.scheduling import UNREACHABLE_AFTER

    refused = CallError("connection failed: All connection attempts failed", retryable=True, unreached=True)
    health = EndpointHealth()
    for _ in range(UNREACHABLE_AFTER - 1):
        health.record_failure(refused)
    assert health.unreachable() is None  # one or two lost connections can be chance
    health.record_failure(refused)
    stop = health.unreachable()
    assert stop is not None and not stop.retryable
    assert stop.message.startswith("connection failed: All connection attempts failed — the endpoint answered nothing")

    answered = EndpointHealth()
    answered.record_failure(CallError("server error (500): down", retryable=True, status=500))  # an answer
    for _ in range(10 * UNREACHABLE_AFTER):
        answered.record_failure(refused)
    assert answered.unreachable() is None

    answered_late = EndpointHealth()  # a request sent before the rule applied, answered after
    for _ in range(UNREACHABLE_AFTER):
        answered_late.record_failure(refused)
    answered_late.record(ok=True)
    assert answered_late.unreachable() is None

SLOW_PYTHON = {
    "assertion": "assert: [{type: python, value: \"__import__('time').sleep(2) or 'question' in output\"}]",
    "transform": "options: {transform: \"__import__('time').sleep(2) or output\"}, assert: [{type: contains, value: question}]",
    "busy assertion": "assert: [{type: python, value: \"all(sum(range(200)) for _ in range(1_000_000)) and 'question' in output\"}]",
}


@pytest.mark.parametrize("slow", list(SLOW_PYTHON))
async def test_a_slow_python_assertion_or_transform_does_not_stall_the_other_requests(slow: str) -> None:
    """A user's `python` assertion or transform ran on the event loop's thread: while it slept
    (or looped) 2 s, no other case's request was sent nor its answer read, nor Ctrl-C handled.
    It runs off the loop now: the other cases go to the server and finish meanwhile."""
    text = (
        "model: {provider: openai, name: gpt-4o-mini}\ninputs:\n  q: {type: string, required: true}\n"
        'messages:\n  - {role: user, content: "{{ q }}"}\ntests:\n'
        f"  - {{description: slow, vars: {{q: question slow}}, {SLOW_PYTHON[slow]}}}\n"
        + "".join(f"  - {{description: case {i}, vars: {{q: question {i}}}, assert: [{{type: contains, value: question}}]}}\n" for i in range(6))
    )
    loaded = load_prompt(text, "prompts/q.yaml")
    assert loaded.prompt is not None, loaded.problems
    events: list[object] = []
    with FakeOpenAI(latency_s=0.05) as server:
        run = SuiteRun(loaded.prompt, _provider(server), loaded.prompt.tests, RunOptions(concurrency=2, **QUICK), on_event=events.append)
        results = await run.run()
    assert server.requests == 7
    assert _finish_order(events)[-1] == "question slow", _finish_order(events)  # before: it finished first, the others waited
    assert [r.case_id for r in results] == ["slow", *(f"case {i}" for i in range(6))]
    assert all(r.passed for r in results), [(r.case_id, r.error) for r in results]


async def test_without_a_cache_to_read_a_case_is_rendered_when_a_slot_is_free_for_its_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case was rendered before the first request left (issue 13: a 200-case run rendered
    all 200 on the way to its first request). Without a cache to read, nothing needs all of them
    at once: a case is rendered when its call has a slot, and one that cannot render still ends
    with its own error and no call."""
    from workbench.evals import runner
    from workbench.evals.providers import EchoProvider

    renders: list[object] = []
    real_render = runner.render_prompt

    def counted(*args: object, **kwargs: object) -> object:
        renders.append(args)
        return real_render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "render_prompt", counted)
    rendered_at_first_call: list[int] = []

    class Watching(EchoProvider):
        async def complete(self, request: ModelRequest) -> Completion:
            rendered_at_first_call.append(len(renders))
            await asyncio.sleep(0.01)
            return await super().complete(request)

    text = (
        "inputs:\n  q: {type: string, required: true}\n  n: {type: number, default: 1}\n"
        "messages:\n  - {role: user, content: \"{{ q }}{{ '' if 1 // n else '' }}\"}\ntests:\n"
        "  - {description: cannot render, vars: {q: x, n: 0}, assert: [{type: contains, value: x}]}\n"
        + "".join(f"  - {{description: case {i}, vars: {{q: question {i}}}, assert: [{{type: contains, value: 'question {i}'}}]}}\n" for i in range(12))
    )
    loaded = load_prompt(text, "prompts/q.yaml")
    assert loaded.prompt is not None, loaded.problems
    results = await SuiteRun(loaded.prompt, Watching(), loaded.prompt.tests, RunOptions(concurrency=2, **QUICK)).run()
    assert rendered_at_first_call[0] <= 3  # the case that cannot render, and the first two calls
    assert len(renders) == 13 and len(rendered_at_first_call) == 12
    assert results[0].error and "division" in results[0].error and results[0].passed is None
    assert all(r.passed for r in results[1:])


async def test_once_a_render_outlasts_a_gil_turn_the_suite_renders_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendered just in time, every render ran on the event loop while other requests were in
    flight: a template near its 2 s limit stalled them, and their measured latency (a `latency`
    assertion) grew by the render's time. A suite whose render took longer than a GIL turn
    renders its later cases in a thread; quick renders stay on the loop (a thread each would
    cost more than the render)."""
    import threading
    import time

    from workbench.evals import runner
    from workbench.evals.providers import EchoProvider

    on_loop: list[tuple[str, bool]] = []
    real_render = runner.render_prompt
    slow = {"case 0", "case 1"}

    def watched(prompt: object, variables: dict[str, object], *args: object, **kwargs: object) -> object:
        on_loop.append((str(variables["q"]), threading.current_thread() is threading.main_thread()))
        if variables["q"] in slow:
            time.sleep(0.02)  # four GIL turns: a heavy template
        return real_render(prompt, variables, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "render_prompt", watched)
    text = (
        "inputs:\n  q: {type: string, required: true}\nmessages:\n  - {role: user, content: \"{{ q }}\"}\ntests:\n"
        + "".join(f"  - {{description: d{i}, vars: {{q: case {i}}}, assert: [{{type: contains, value: 'case {i}'}}]}}\n" for i in range(6))
    )
    loaded = load_prompt(text, "prompts/q.yaml")
    assert loaded.prompt is not None, loaded.problems
    quick = await SuiteRun(loaded.prompt, EchoProvider(), loaded.prompt.tests[2:], RunOptions(concurrency=1, **QUICK)).run()
    assert all(r.passed for r in quick) and all(main for _, main in on_loop), on_loop  # quick renders: on the loop
    on_loop.clear()
    results = await SuiteRun(loaded.prompt, EchoProvider(), loaded.prompt.tests, RunOptions(concurrency=1, **QUICK)).run()
    assert all(r.passed for r in results), [(r.case_id, r.error) for r in results]
    assert on_loop[0] == ("case 0", True)  # the first slow render is found on the loop
    assert [main for _, main in on_loop[1:]] == [False] * 5, on_loop  # the rest of the suite: off it


async def test_a_case_that_cannot_render_says_so_when_the_endpoint_is_unreachable_too() -> None:
    """Rendered just in time, a case that cannot render reported the unreachable endpoint found
    by the cases before it, not its own template error (which needs no endpoint to fix)."""
    text = (
        "model: {provider: openai, name: gpt-4o-mini}\ninputs:\n  q: {type: string, required: true}\n  n: {type: number, default: 1}\n"
        "messages:\n  - {role: user, content: \"{{ q }}{{ '' if 1 // n else '' }}\"}\ntests:\n"
        + "".join(f"  - {{description: case {i}, vars: {{q: question {i}}}, assert: [{{type: contains, value: question}}]}}\n" for i in range(6))
        + "  - {description: cannot render, vars: {q: x, n: 0}, assert: [{type: contains, value: x}]}\n"
    )
    loaded = load_prompt(text, "prompts/q.yaml")
    assert loaded.prompt is not None, loaded.problems
    base_url = f"http://127.0.0.1:{_port_with_nothing_listening()}/v1"
    provider = _CountedProvider(ModelSpec("openai", "gpt-4o-mini", base_url, "FAKE_KEY"), timeout_s=5)
    results = await SuiteRun(loaded.prompt, provider, loaded.prompt.tests, RunOptions(concurrency=1, **QUICK)).run()
    assert "the rest were not sent" in (results[5].error or "")
    assert results[6].error is not None and "division" in results[6].error, results[6].error


async def test_a_suite_with_nothing_to_send_does_not_warm_its_provider() -> None:
    """Warming imports the SDK in a thread (0.3 s of CPU): for a suite with no case, for nothing."""
    warmed: list[bool] = []

    class Watching(OpenAIProvider):
        def warm(self) -> None:
            warmed.append(True)

    prompt = _prompt(1)
    provider = Watching(ModelSpec("openai", "gpt-4o-mini", "http://127.0.0.1:9/v1", "FAKE_KEY"))
    assert await SuiteRun(prompt, provider, [], RunOptions(**QUICK)).run() == []
    assert warmed == []
