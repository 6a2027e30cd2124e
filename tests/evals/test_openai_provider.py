"""The runner and the openai provider (HTTP through httpx2) against a real local HTTP server."""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import replace
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, self_signed_certificate

from workbench.core.loader import load_prompt
from workbench.core.model import ModelSpec
from workbench.errors import ProviderError
from workbench.evals.providers import CallError, Completion, ModelRequest, OpenAIProvider
from workbench.evals.runner import CaseFinished, RunOptions, SuiteRun, call_with_retries

FAST = RunOptions(concurrency=4, max_attempts=8, timeout_s=5, backoff_base_s=0.01, rate_limit_base_s=0.01, backoff_cap_s=0.05)
PROMPT_TEXT = """\
model: {provider: openai, name: gpt-4o-mini}
inputs:
  q: {type: string, required: true}
messages:
  - {role: user, content: "{{ q }}"}
tests:
""" + "".join(f"  - description: case {i}\n    vars: {{q: question {i}}}\n    assert: [{{type: contains, value: 'question {i}'}}]\n" for i in range(10))


def _prompt():  # type: ignore[no-untyped-def]
    result = load_prompt(PROMPT_TEXT, "prompts/q.yaml")
    assert result.prompt is not None, result.problems
    return result.prompt


def _provider(server: FakeOpenAI, *, stream: bool = False, timeout_s: float = 5.0) -> OpenAIProvider:
    return OpenAIProvider(ModelSpec("openai", "gpt-4o-mini", server.base_url, "FAKE_KEY"), timeout_s=timeout_s, stream=stream)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test-not-a-real-key")


async def test_plain_completion_with_usage_and_cost() -> None:
    with FakeOpenAI() as server:
        completion = await _provider(server).complete(ModelRequest(messages=[{"role": "user", "content": "hello there"}]))
    assert completion.text == "OK: hello there"
    assert (completion.input_tokens, completion.output_tokens) == (2, 3)
    assert completion.cost is not None and completion.cost > 0


async def test_a_plain_completion_builds_no_sdk_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's typed layer (params transformed by their TypedDicts, the answer built into
    pydantic models) took a third of the client's CPU per request (2.7 -> 1.8 ms): the request
    goes through the SDK's client (auth, base URL, Azure paths, status errors) with the body as
    the prompt file gave it, and the answer is read as the JSON it is."""
    import openai._base_client
    import openai._models

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an SDK model or transform was built for a plain completion")

    monkeypatch.setattr(openai._models, "construct_type", refuse)
    monkeypatch.setattr(openai._base_client, "construct_type", refuse)
    monkeypatch.setattr("openai.resources.chat.completions.completions.async_maybe_transform", refuse)
    with FakeOpenAI() as server:
        request = ModelRequest(messages=[{"role": "user", "content": "hello there"}], parameters={"temperature": 0, "logprobs": True})
        completion = await _provider(server).complete(request)
        assert server.bodies[0] == {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}], "temperature": 0, "logprobs": True}
    assert completion.text == "OK: hello there"
    assert (completion.input_tokens, completion.output_tokens) == (2, 3)
    assert completion.logprobs == pytest.approx((-0.1, -0.2, -0.3))


@pytest.mark.parametrize("body", ["[]", '{"choices": "x"}', '{"choices": [{"message": 3}]}', '{"choices": [{"message": {"content": 5}}]}', "not json"])
async def test_a_malformed_answer_is_a_retryable_call_error(body: str) -> None:
    from workbench.evals.model_io import CallError

    with FakeOpenAI() as server:
        server.raw_body = body
        with pytest.raises(CallError) as err:
            await _provider(server).complete(ModelRequest(messages=[{"role": "user", "content": "hi"}]))
    assert err.value.retryable and ("malformed" in err.value.message or "without choices" in err.value.message)


@pytest.mark.parametrize("depth", [60, 900, 50_000])
async def test_a_deeply_nested_answer_is_a_call_error_not_a_crash(depth: int) -> None:
    """A hostile endpoint's tool calls nested thousands deep raised RecursionError out of the
    provider (JSON decoding, or copying the calls), which no case handler expects."""
    from workbench.evals.model_io import CallError

    nested = '{"a":' * depth + "1" + "}" * depth
    with FakeOpenAI() as server:
        server.raw_body = '{"choices": [{"message": {"content": null, "tool_calls": [' + nested + "]}}]}"
        provider = _provider(server)
        if depth <= 60:  # deep, but as deep as real tool arguments get: kept
            completion = await provider.complete(ModelRequest(messages=[{"role": "user", "content": "hi"}]))
            assert completion.structured is not None
            return
        with pytest.raises(CallError) as err:
            await provider.complete(ModelRequest(messages=[{"role": "user", "content": "hi"}]))
    assert err.value.retryable and "malformed" in err.value.message


async def test_streamed_completion_collects_text_and_usage() -> None:
    with FakeOpenAI() as server:
        completion = await _provider(server, stream=True).complete(ModelRequest(messages=[{"role": "user", "content": "one two three"}]))
        assert server.bodies[0]["stream"] is True and server.bodies[0]["stream_options"] == {"include_usage": True}
    assert completion.text == "OK: one two three"
    assert completion.output_tokens == 4


async def test_a_stream_ending_in_an_error_event_is_a_retried_server_error() -> None:
    """A stream that carries `data: {"error": ...}` made the SDK raise its base `APIError`,
    which no handler caught: "unexpected error", exit 2, no results, no report. The server
    failed after its 200, as a 5xx says before it: retried like one, then the case's error."""
    from workbench.evals.model_io import CallError

    with FakeOpenAI(script=["stream-error"]) as server:
        with pytest.raises(CallError) as err:
            await _provider(server, stream=True).complete(ModelRequest(messages=[{"role": "user", "content": "one two"}]))
        assert err.value.retryable and "server overloaded" in err.value.message
    with FakeOpenAI(script=["stream-error", "stream-error"]) as server:
        completion, attempts = await call_with_retries(_provider(server, stream=True), ModelRequest(text="hi"), FAST)
    assert completion.text == "OK: hi" and attempts == 3


async def test_a_stream_cut_off_before_its_finish_reason_is_a_retried_error() -> None:
    """A stream whose body ended after "Hello " (no finish reason, no usage, no [DONE]) was taken
    as the whole answer, cached, and served to plain runs. It is a retryable error now."""
    from workbench.evals.model_io import CallError

    with FakeOpenAI(script=["stream-cut"]) as server, pytest.raises(CallError) as err:
        await _provider(server, stream=True).complete(ModelRequest(messages=[{"role": "user", "content": "one two"}]))
    assert err.value.retryable and "ended before" in err.value.message
    with FakeOpenAI(script=["stream-cut", "stream-cut"]) as server:
        completion, attempts = await call_with_retries(_provider(server, stream=True), ModelRequest(text="hi"), FAST)
    assert completion.text == "OK: hi" and attempts == 3


@pytest.mark.parametrize("stream", [False, True])
async def test_the_run_alone_decides_streaming(stream: bool) -> None:
    """`stream`/`stream_options` among the parameters (the Python API, a file read without validate)
    were sent twice ("multiple values for keyword argument", the whole run died) or made a plain
    request ask for a stream it cannot read. The provider's `stream` decides them."""
    request = ModelRequest(messages=[{"role": "user", "content": "hi"}], parameters={"stream": not stream, "stream_options": {"include_usage": False}})
    with FakeOpenAI() as server:
        completion = await _provider(server, stream=stream).complete(request)
        body = server.bodies[0]
    assert completion.text == "OK: hi" and completion.output_tokens == 2
    assert bool(body.get("stream")) is stream and body.get("stream_options") == ({"include_usage": True} if stream else None)


async def test_a_streamed_answer_is_the_plain_answer() -> None:
    """`--stream` kept only `delta.content`: a tool-calling answer came back empty (and was cached,
    then served to plain runs). The chunks are put back into the answer a plain request gets:
    tool calls assembled from their deltas (index, id, name, argument fragments), logprobs,
    finish reason and usage; so both share one cache entry safely."""
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "lookup_order", "arguments": '{"order_id": "A-1", "note": "fragmented"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "refund_order", "arguments": '{"order_id": "A-1"}'}},
    ]
    requests = [
        ModelRequest(messages=[{"role": "user", "content": "look up order A-1"}]),
        ModelRequest(messages=[{"role": "user", "content": "one  two three"}], parameters={"logprobs": True}),
        ModelRequest(messages=[{"role": "user", "content": "a b a"}], parameters={"max_tokens": 2}),
    ]
    answers = []
    with FakeOpenAI(tool_calls=lambda body: calls if "order" in json.dumps(body["messages"]) else None) as server:
        for request in requests:
            plain = await _provider(server).complete(request)
            streamed = await _provider(server, stream=True).complete(request)
            assert replace(streamed, latency_ms=0) == replace(plain, latency_ms=0), request
            answers.append(streamed)
    tools, logprobs, cut = answers
    assert tools.structured == calls and tools.finish_reason == "tool_calls"
    assert logprobs.logprobs == pytest.approx((-0.1, -0.2, -0.3, -0.4))
    assert cut.text == "OK: a" and cut.finish_reason == "length"


async def test_missing_key_is_named_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAKE_KEY")
    with FakeOpenAI() as server, pytest.raises(ProviderError) as err:
        _provider(server)
    assert "FAKE_KEY" in str(err.value) and server.requests == 0


@pytest.mark.parametrize("fault", ["429", "429:0.05", "500", "503", "malformed", "drop"])
async def test_transient_faults_are_retried(fault: str) -> None:
    with FakeOpenAI(script=[fault, fault]) as server:
        completion, attempts = await call_with_retries(_provider(server), ModelRequest(text="hi"), FAST)
    assert completion.text == "OK: hi" and attempts == 3 and server.requests == 3


async def test_retry_after_is_honoured() -> None:
    with FakeOpenAI(script=["429:0.3"]) as server:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await call_with_retries(_provider(server), ModelRequest(text="hi"), FAST)
        assert loop.time() - start >= 0.3


@pytest.mark.parametrize(("fault", "text"), [("401", "authentication failed (401)"), ("quota", "quota exhausted")])
async def test_permanent_errors_fail_at_once(fault: str, text: str) -> None:
    with FakeOpenAI(script=[fault]) as server:
        with pytest.raises(ProviderError) as err:
            await call_with_retries(_provider(server), ModelRequest(text="hi"), FAST)
        assert server.requests == 1
    assert text in str(err.value) and "sk-test" not in str(err.value)


async def test_timeout_is_retried_then_reported() -> None:
    options = RunOptions(max_attempts=2, timeout_s=0.2, backoff_base_s=0.01, backoff_cap_s=0.02)
    with FakeOpenAI(latency_s=0.5) as server:
        provider = _provider(server, timeout_s=5)
        # The SDK imported and the client built first: in a process that had not imported it yet,
        # the first attempt's 0.2 s went to that and it sent nothing (one request seen, the test
        # failed alone and passed after another test had imported the SDK).
        await asyncio.to_thread(provider._sdk_client)
        with pytest.raises(ProviderError) as err:
            await call_with_retries(provider, ModelRequest(text="hi"), options)
        assert server.requests == 2
    assert "no answer within 0.2 s" in str(err.value)


async def test_a_suite_survives_30_percent_random_failures() -> None:
    with FakeOpenAI(fault_rate=0.3, faults=("429", "500", "503", "drop"), seed=3) as server:
        run = SuiteRun(_prompt(), _provider(server), _prompt().tests * 3, FAST)
        results = await run.run()
    assert len(results) == 30
    assert all(r.passed for r in results), [r.error for r in results if not r.passed]
    assert server.requests > 30


async def test_one_erroring_case_does_not_stop_the_run() -> None:
    with FakeOpenAI(script=["401"]) as server:
        run = SuiteRun(_prompt(), _provider(server), _prompt().tests, RunOptions(concurrency=1, max_attempts=2, backoff_base_s=0.01))
        results = await run.run()
    statuses = sorted(r.status for r in results)
    assert statuses.count("error") == 1 and statuses.count("pass") == 9


async def test_cancellation_keeps_partial_results() -> None:
    events: list[object] = []
    with FakeOpenAI(latency_s=0.15) as server:
        run = SuiteRun(_prompt(), _provider(server), _prompt().tests, RunOptions(concurrency=2), on_event=events.append)
        task = asyncio.ensure_future(run.run())
        for _ in range(600):  # until a case has finished: the SDK's first import can take a second
            if any(isinstance(e, CaseFinished) for e in events):
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert run.cancelled and 0 < len(run.results) < 10
    assert sum(isinstance(e, CaseFinished) for e in events) == len(run.results)


async def test_concurrency_is_bounded() -> None:
    with FakeOpenAI(latency_s=0.1) as server:
        await SuiteRun(_prompt(), _provider(server), _prompt().tests, RunOptions(concurrency=5)).run()
        assert server.max_in_flight == 5  # five at once: not ten at once, not one at a time


async def test_embeddings_endpoint_for_similar() -> None:
    with FakeOpenAI() as server:
        vectors = await _provider(server).embed(["refund please", "refund please"])
    assert vectors[0] == vectors[1] and len(vectors[0]) == 32


class _CountedProvider(OpenAIProvider):
    """The real provider, counting the attempts it is asked to send."""

    calls = 0

    async def complete(self, request: ModelRequest) -> Completion:
        self.calls += 1
        return await super().complete(request)


@pytest.fixture(scope="module")
def untrusted_tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server-side context with a self-signed certificate that no trusted bundle holds."""
    folder: Path = tmp_path_factory.mktemp("tls")
    key, cert = self_signed_certificate(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


async def test_an_untrusted_certificate_fails_at_once_and_says_how_to_trust_it(
    untrusted_tls: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A certificate that fails verification fails the same way every time: it was retried through
    the whole budget (a 5-case run took 28 s) and the error said nothing of what to do."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with FakeOpenAI(tls=untrusted_tls) as server:
        provider = _CountedProvider(ModelSpec("openai", "gpt-4o-mini", server.base_url, "FAKE_KEY"), timeout_s=5)
        with pytest.raises(CallError) as err:
            await call_with_retries(provider, ModelRequest(text="hi"), FAST)
        assert server.requests == 0  # nothing got through the handshake
    assert provider.calls == 1 and not err.value.retryable
    assert "CERTIFICATE_VERIFY_FAILED" in err.value.message
    assert err.value.hint is not None and "certificate is not trusted" in err.value.hint and "SSL_CERT_FILE" in err.value.hint


async def test_a_connection_broken_after_it_was_made_is_retried_past_any_count_of_failures() -> None:
    """Answers broken mid-way and 5xx statuses are the endpoint answering: however many in a row,
    they are retried through the budget, never cut short as an endpoint that cannot be reached."""
    with FakeOpenAI(script=["drop", "500", "drop", "503", "drop", "500"]) as server:
        completion, attempts = await call_with_retries(_provider(server), ModelRequest(text="hi"), FAST)
    assert completion.text == "OK: hi" and attempts == 7 and server.requests == 7
