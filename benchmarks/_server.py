"""The fake OpenAI server (tests/fake_openai.py) in its own process, for benchmarks.

Its own process, so that it does not share the measured program's GIL or CPU accounting.
`/stats` counts requests; `/log` lists every request with its behaviour and server-side
start and end times (monotonic clock, the same on both sides of the pipe on Linux).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS_DIR = str(Path(__file__).resolve().parent.parent / "tests")


@dataclass
class Server:
    base_url: str

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base_url + path) as response:
            return json.loads(response.read())

    @property
    def requests(self) -> int:
        return int(self._get("/stats")["requests"])

    @property
    def max_in_flight(self) -> int:
        return int(self._get("/stats")["max_in_flight"])

    def log(self) -> list[dict[str, Any]]:
        return list(self._get("/log"))


@contextmanager
def fake_openai(latency_s: float, fault_rate: float = 0.0, faults: tuple[str, ...] = ("500",), seed: int = 1) -> Iterator[Server]:
    code = (
        f"import sys; sys.path.insert(0, {TESTS_DIR!r}); import fake_openai; "
        f"fake_openai.serve_forever_in_this_process({latency_s}, {fault_rate}, {faults!r}, {seed})"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield Server(process.stdout.readline().strip())
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)


def ideal_schedule(log: list[dict[str, Any]], concurrency: int, *, clairvoyant: bool = False, key: str = "content") -> float:
    """The shortest run the server's answers allow: every attempt's latency plus every mandated wait.

    Each case is a chain of attempts (the server's log, grouped by what was asked, in order of
    arrival): an attempt occupies one of `concurrency` slots for its server-side latency; a
    429 with Retry-After makes the next attempt of that chain wait exactly that long, without
    holding a slot; any other failure mandates no wait (the retry may go at once). The chains
    are packed greedily: whenever a slot is free, the next attempt goes, retries that are due
    before cases not started yet, cases in the order the run started them. That is what an
    ideal client achieves (one that cannot know which request will fail). `clairvoyant=True`
    packs the chains longest-remaining-first instead, knowing every fault in advance: a lower
    bound no client can reach. Returns the makespan in seconds.
    """
    import heapq

    chains: dict[str, list[tuple[float, float]]] = {}
    for entry in sorted(log, key=lambda e: e["start"]):
        wait = 0.0
        behaviour = str(entry["behaviour"])
        if behaviour.startswith("429:"):
            wait = float(behaviour.split(":", 1)[1])
        chains.setdefault(str(entry[key]), []).append((float(entry["end"]) - float(entry["start"]), wait))

    def priority(name: str, step: int, order: int) -> tuple[float, int]:
        if clairvoyant:
            return (-sum(lat + wait for lat, wait in chains[name][step:]), order)
        return (0.0 if step else 1.0, order)  # due retries first, then cases in their order

    ready = [(*priority(name, 0, i), name, 0) for i, name in enumerate(chains)]
    heapq.heapify(ready)
    later: list[tuple[float, int, str, int]] = []
    running: list[tuple[float, str, int]] = []
    now, free, makespan, order = 0.0, concurrency, 0.0, len(chains)
    while ready or later or running:
        while later and later[0][0] <= now:
            _, _, name, step = heapq.heappop(later)
            heapq.heappush(ready, (*priority(name, step, order), name, step))
            order += 1
        while free and ready:
            *_, name, step = heapq.heappop(ready)
            latency, _ = chains[name][step]
            heapq.heappush(running, (now + latency, name, step))
            free -= 1
        candidates = [t for t in (running[0][0] if running else None, later[0][0] if later else None) if t is not None]
        if not candidates:
            break
        now = min(candidates)
        while running and running[0][0] <= now:
            end, name, step = heapq.heappop(running)
            free += 1
            makespan = max(makespan, end)
            if step + 1 < len(chains[name]):
                heapq.heappush(later, (end + chains[name][step][1], order, name, step + 1))
                order += 1
    return makespan
