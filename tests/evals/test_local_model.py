"""The local demo model's request options, and how the runner treats a provider it cannot interrupt."""

from __future__ import annotations

import asyncio

import pytest

from workbench.evals.local_model import LOCAL_MAX_TOKENS, local_request_options
from workbench.evals.model_io import Completion, ModelRequest
from workbench.evals.runner import RunOptions, call_with_retries


def test_the_demo_model_answers_in_at_most_its_cap() -> None:
    assert local_request_options({"max_tokens": 500, "temperature": 0.2}) == {"max_tokens": LOCAL_MAX_TOKENS, "temperature": 0.2}
    assert local_request_options({"max_tokens": 5}) == {"max_tokens": 5, "temperature": 0.0}
    assert local_request_options({})["max_tokens"] == LOCAL_MAX_TOKENS


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
    ("cores", "load", "threads"),
    [(2, 0.0, 2), (2, 0.7, 2), (2, 1.0, 1), (2, 1.9, 1), (2, 3.5, 1), (8, 2.2, 6), (1, 0.0, 1), (4, 9.0, 1)],
)
def test_the_model_computes_on_the_cores_the_machine_leaves_idle(cores: int, load: float, threads: int) -> None:
    """All cores but one was 1.6x slower than two threads on an idle 2-core machine."""
    from workbench.evals.local_model import runtime_threads

    assert runtime_threads(cores, load) == threads
