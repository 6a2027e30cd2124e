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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import Server, fake_openai

from workbench.core.loader import load_prompt
from workbench.core.model import ModelSpec
from workbench.evals.cache import ResponseCache
from workbench.evals.providers import OpenAIProvider
from workbench.evals.runner import RunOptions, SuiteRun

CASES = 100
CONCURRENCY = 16
LATENCY = 0.2
LIMIT = math.ceil(2 * CASES / CONCURRENCY) * LATENCY
FakeOpenAI = fake_openai


def prompt(version: int):  # type: ignore[no-untyped-def]
    tests = "".join(f"  - description: case {i}\n    vars: {{q: 'question {i}'}}\n    assert: [{{type: icontains, value: 'question {i}'}}]\n" for i in range(CASES))
    text = f"model: {{provider: openai, name: gpt-4o-mini}}\ninputs:\n  q: {{type: string}}\nmessages:\n  - {{role: user, content: 'v{version}: {{{{ q }}}}'}}\ntests:\n{tests}"
    result = load_prompt(text, "prompts/bench.yaml")
    assert result.prompt is not None, result.problems
    return result.prompt


PROMPTS = {v: prompt(v) for v in (1, 2)}  # parsed once, outside the timings


async def run_both(server: Server, cache: ResponseCache | None, options: RunOptions) -> list:  # type: ignore[type-arg]
    """Both versions at once, sharing one budget of 16 requests in flight (as `workbench test a b`)."""
    from workbench.evals.runner import EndpointHealth, Slots

    provider = OpenAIProvider(ModelSpec("openai", "gpt-4o-mini", server.base_url, None), timeout_s=30)
    slots, health = Slots(options.concurrency), EndpointHealth(window=2 * options.concurrency)
    runs = [SuiteRun(PROMPTS[v], provider, PROMPTS[v].tests, options, cache=cache, slots=slots, health=health) for v in (1, 2)]
    results = await asyncio.gather(*(run.run() for run in runs))
    await provider.aclose()
    return [r for rs in results for r in rs]


def measure(label: str, fault_rate: float = 0.0, faults: tuple[str, ...] = ("500",), repeats: int = 3) -> None:
    options = RunOptions(concurrency=CONCURRENCY, max_attempts=8)
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
    import httpx2  # noqa: F401  the HTTP client import is start-up, not per-run work

    print(f"limit: ceil({2 * CASES}/{CONCURRENCY}) x {LATENCY:.1f} s = {LIMIT:.1f} s")
    measure("clean (median of 3)")
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(latency_s=LATENCY) as server:
        cache = ResponseCache(Path(tmp) / "cache.sqlite")
        asyncio.run(run_both(server, cache, RunOptions(concurrency=CONCURRENCY)))
        cache.flush()
        before = server.requests
        t0 = time.perf_counter()
        asyncio.run(run_both(server, cache, RunOptions(concurrency=CONCURRENCY)))
        print(f"{'cached rerun':<34} wall {time.perf_counter() - t0:6.2f} s  requests reaching the server: {server.requests - before}")
    measure("2% 429 without Retry-After", 0.02, ("429",), repeats=1)
    measure("10% 500", 0.10, ("500",), repeats=1)
    measure("30% random transient faults", 0.30, ("429", "500", "503", "drop"), repeats=1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS) {peak:.0f} MiB   (pid {os.getpid()})")


if __name__ == "__main__":
    main()
