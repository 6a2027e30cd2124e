"""A realistic production event log for the demo: traffic for every deployed version of a
prompt in prod, where one release (a bad one) pushed errors and latency up and scores down."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Period:
    """A version serving prod from `start` to `end` (unix seconds)."""

    prompt: str
    version: str
    commit: str
    start: float
    end: float
    bad: bool = False


def generate_demo_events(path: Path, periods: Sequence[Period], *, calls_per_hour: float = 12.0, seed: int = 42) -> int:
    """Write JSONL events (the format `workbench.monitor.record` writes); returns how many."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for period in periods:
            ts = period.start
            while True:
                ts += rng.expovariate(calls_per_hour / 3600)
                if ts >= period.end:
                    break
                error_rate, latency, score = (0.09, 1900.0, 0.62) if period.bad else (0.015, 820.0, 0.86)
                failed = rng.random() < error_rate
                event = {
                    "name": period.prompt,
                    "version": period.version,
                    "commit": period.commit,
                    "env": "prod",
                    "arm": None,
                    "call_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                    "ts": round(ts, 3),
                    "latency_ms": round(rng.lognormvariate(0, 0.35) * latency, 1),
                    "input_tokens": rng.randint(150, 400),
                    "output_tokens": rng.randint(40, 220 if period.bad else 120),
                    "cost": None,
                    "error": "timeout" if failed else None,
                    "score": None if failed else round(min(1.0, max(0.0, rng.gauss(score, 0.12))), 3),
                    "feedback": rng.choice(["up", "down"]) if rng.random() < 0.05 else None,
                }
                handle.write(json.dumps(event, separators=(",", ":")) + "\n")
                count += 1
    return count
