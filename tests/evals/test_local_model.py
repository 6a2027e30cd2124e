"""The local demo model's request options, and how the runner treats a provider it cannot interrupt."""

from __future__ import annotations

import asyncio
import os

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
