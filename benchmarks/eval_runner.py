"""Evaluation engine speed: 2 versions x 100 cases against a local OpenAI-compatible server.

The server answers after 200 ms; at concurrency 16 the physical limit is
ceil(200/16) x 0.2 s = 2.6 s. Prints the median wall time of several runs and its ratio to
that limit (target <= 1.10), engine CPU per case, peak memory, a fully cached rerun (0
requests must reach the server) and fault runs (2% 429 without Retry-After, 10% 500, 30%
random transient failures), where every case must still end with a result.

Run: python benchmarks/eval_runner.py
"""

from __future__ import annotations

import asyncio
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from workbench.core.loader import load_prompt
from workbench.core.model import ModelSpec
from workbench.evals.cache import ResponseCache
from workbench.evals.providers import OpenAIProvider
from workbench.evals.runner import RunOptions, SuiteRun

CASES = 100
CONCURRENCY = 16
LATENCY = 0.2
LIMIT = math.ceil(2 * CASES / CONCURRENCY) * LATENCY


@dataclass
class Server:
    """The fake OpenAI server in its own process, so that it does not share the engine's GIL."""

    base_url: str

    @property
    def requests(self) -> int:
        with urllib.request.urlopen(self.base_url + "/stats") as response:
            return int(json.loads(response.read())["requests"])


@contextmanager
def FakeOpenAI(latency_s: float, fault_rate: float = 0.0, faults: tuple[str, ...] = ("500",), seed: int = 1) -> Iterator[Server]:
    tests_dir = str(Path(__file__).resolve().parent.parent / "tests")
    code = f"import sys; sys.path.insert(0, {tests_dir!r}); import fake_openai; fake_openai.serve_forever_in_this_process({latency_s}, {fault_rate}, {faults!r}, {seed})"
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield Server(process.stdout.readline().strip())
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)


def prompt(version: int):  # type: ignore[no-untyped-def]
    tests = "".join(f"  - description: case {i}\n    vars: {{q: 'question {i}'}}\n    assert: [{{type: icontains, value: 'question {i}'}}]\n" for i in range(CASES))
    text = f"model: {{provider: openai, name: gpt-4o-mini}}\ninputs:\n  q: {{type: string}}\nmessages:\n  - {{role: user, content: 'v{version}: {{{{ q }}}}'}}\ntests:\n{tests}"
    result = load_prompt(text, "prompts/bench.yaml")
    assert result.prompt is not None, result.problems
    return result.prompt


PROMPTS = {v: prompt(v) for v in (1, 2)}  # parsed once, outside the timings


async def run_both(server: Server, cache: ResponseCache | None, options: RunOptions) -> list:  # type: ignore[type-arg]
    """Both versions at once, each with half of the concurrency budget (16 requests in flight)."""
    provider = OpenAIProvider(ModelSpec("openai", "gpt-4o-mini", server.base_url, None), timeout_s=30)
    runs = [SuiteRun(PROMPTS[v], provider, PROMPTS[v].tests, options, cache=cache) for v in (1, 2)]
    # Two suites at once, each with half of the concurrency budget, saturate the endpoint like one run of 200.
    results = await asyncio.gather(*(run.run() for run in runs))
    await provider.aclose()
    return [r for rs in results for r in rs]


def measure(label: str, fault_rate: float = 0.0, faults: tuple[str, ...] = ("500",), repeats: int = 3) -> None:
    options = RunOptions(concurrency=CONCURRENCY // 2, max_attempts=8)
    walls, cpus = [], []
    for _ in range(repeats):
        with FakeOpenAI(latency_s=LATENCY, fault_rate=fault_rate, faults=faults, seed=len(walls) + 1) as server:
            cpu0, t0 = time.process_time(), time.perf_counter()
            results = asyncio.run(run_both(server, None, options))
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - cpu0)
            ended = sum(1 for r in results if r.status in ("pass", "fail", "error"))
            errors = sum(1 for r in results if r.status == "error")
            requests = server.requests
    wall = statistics.median(walls)
    print(
        f"{label:<34} wall {wall:6.2f} s  ratio {wall / LIMIT:5.2f}  CPU/case {statistics.median(cpus) / (2 * CASES) * 1000:5.2f} ms"
        f"  cases ended {ended}/{2 * CASES}  errors {errors}  requests {requests}"
    )


def main() -> None:
    import openai  # noqa: F401  the SDK import (~0.4 s) is start-up, not per-run work

    print(f"limit: ceil({2 * CASES}/{CONCURRENCY}) x {LATENCY:.1f} s = {LIMIT:.1f} s")
    measure("clean (median of 3)")
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(latency_s=LATENCY) as server:
        cache = ResponseCache(Path(tmp) / "cache.sqlite")
        asyncio.run(run_both(server, cache, RunOptions(concurrency=CONCURRENCY // 2)))
        before = server.requests
        t0 = time.perf_counter()
        asyncio.run(run_both(server, cache, RunOptions(concurrency=CONCURRENCY // 2)))
        print(f"{'cached rerun':<34} wall {time.perf_counter() - t0:6.2f} s  requests reaching the server: {server.requests - before}")
    measure("2% 429 without Retry-After", 0.02, ("429",), repeats=1)
    measure("10% 500", 0.10, ("500",), repeats=1)
    measure("30% random transient faults", 0.30, ("429", "500", "503", "drop"), repeats=1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS) {peak:.0f} MiB   (pid {os.getpid()})")


if __name__ == "__main__":
    main()
