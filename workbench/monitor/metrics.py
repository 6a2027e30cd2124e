"""Per-version production metrics and the verdict "regressed / improved / within noise".

All aggregates are computed in SQL (counts, sums and sums of squares), so a million events
cost one indexed scan per version; latency percentiles come from a systematic sample of the
sorted latencies (every k-th value, computed by SQLite's window functions), which is exact
to within 1/1000 of the distribution.

The verdict compares the current version with the one before it:
- error rate: two-proportion z-test;
- mean latency and mean score: Welch's z-test on the means (large samples);
a difference counts when p < 0.01 (and, for latency, when it is also at least 10%).
Regressed if any metric got worse; improved if none got worse and one got better.
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from workbench.core.stats import percentile, two_proportion_p, wilson_interval

ALPHA = 0.01
MIN_CALLS = 30
LATENCY_MARGIN = 0.10
QUANTILE_SAMPLE = 1000


@dataclass(frozen=True)
class VersionMetrics:
    version: str
    arm: str | None
    calls: int
    errors: int
    first_seen: float
    last_seen: float
    latency_mean: float | None
    latency_sd: float | None
    latency_p50: float | None
    latency_p95: float | None
    latency_n: int
    tokens: int
    cost: float
    score_mean: float | None
    score_sd: float | None
    score_n: int
    feedback: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    @property
    def error_interval(self) -> tuple[float, float]:
        return wilson_interval(self.errors, self.calls)

    @property
    def feedback_rate(self) -> float:
        return self.feedback / self.calls if self.calls else 0.0

    def mean_interval(self, mean: float | None, sd: float | None, n: int) -> tuple[float, float] | None:
        if mean is None or sd is None or n < 2:
            return None
        half = 1.96 * sd / math.sqrt(n)
        return mean - half, mean + half

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "arm": self.arm,
            "calls": self.calls,
            "error_rate": self.error_rate,
            "error_rate_interval95": list(self.error_interval),
            "latency_p50_ms": self.latency_p50,
            "latency_p95_ms": self.latency_p95,
            "latency_mean_ms": self.latency_mean,
            "latency_mean_interval95": self.mean_interval(self.latency_mean, self.latency_sd, self.latency_n),
            "tokens": self.tokens,
            "cost": self.cost,
            "score_mean": self.score_mean,
            "score_mean_interval95": self.mean_interval(self.score_mean, self.score_sd, self.score_n),
            "feedback_rate": self.feedback_rate,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
        }


@dataclass(frozen=True)
class Verdict:
    status: str  # regressed | improved | within noise | not enough traffic
    current: str
    previous: str
    reasons: tuple[str, ...] = field(default=())

    @property
    def regressed(self) -> bool:
        return self.status == "regressed"

    @property
    def text(self) -> str:
        detail = "; ".join(self.reasons)
        return f"{self.current} vs {self.previous}: {self.status}" + (f" ({detail})" if detail else "")

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "current": self.current, "previous": self.previous, "reasons": list(self.reasons), "text": self.text}


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """`7d`, `12h`, `30m`, `2w` -> a unix timestamp; None for no limit."""
    if not text:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([mhdw])", text.strip())
    if not match:
        raise ValueError(f"--since {text!r}: use a number and m, h, d or w (e.g. 7d)")
    seconds = float(match.group(1)) * {"m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
    return (now or time.time()) - seconds


def version_metrics(db: sqlite3.Connection, prompt: str, env: str | None = None, since: float | None = None) -> list[VersionMetrics]:
    """One row per (version, arm) that served traffic, oldest first."""
    where, args = ["prompt = ?"], list[Any]([prompt])
    if env:
        where.append("env = ?")
        args.append(env)
    if since:
        where.append("ts >= ?")
        args.append(since)
    clause = " AND ".join(where)
    rows = db.execute(
        f"""SELECT coalesce(version, '(unknown)'), arm, count(*), sum(error IS NOT NULL), min(ts), max(ts),
                  avg(latency_ms), sum(latency_ms * latency_ms), count(latency_ms),
                  coalesce(sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)), 0), coalesce(sum(cost), 0),
                  avg(score), sum(score * score), count(score), count(feedback)
           FROM events WHERE {clause} GROUP BY 1, 2 ORDER BY min(ts)""",
        args,
    ).fetchall()
    metrics = []
    for version, arm, calls, errors, first, last, lat_mean, lat_sq, lat_n, tokens, cost, score_mean, score_sq, score_n, feedback in rows:
        p50 = p95 = None
        if lat_n:
            sample = _latency_sample(db, clause, args, version, arm, lat_n)
            p50, p95 = percentile(sample, 50), percentile(sample, 95)
        metrics.append(
            VersionMetrics(
                version, arm, calls, errors or 0, first, last,
                lat_mean, _sd(lat_mean, lat_sq, lat_n), p50, p95, lat_n,
                int(tokens), float(cost), score_mean, _sd(score_mean, score_sq, score_n), score_n, feedback,
            )
        )
    return metrics


def _sd(mean: float | None, sum_sq: float | None, n: int) -> float | None:
    if mean is None or sum_sq is None or n < 2:
        return None
    variance = max(0.0, (sum_sq - n * mean * mean) / (n - 1))
    return math.sqrt(variance)


def _latency_sample(db: sqlite3.Connection, clause: str, args: list[Any], version: str, arm: str | None, n: int) -> list[float]:
    step = max(1, n // QUANTILE_SAMPLE)
    arm_clause = "arm IS NULL" if arm is None else "arm = ?"
    arm_args = [] if arm is None else [arm]
    rows = db.execute(
        f"""SELECT latency_ms FROM (
              SELECT latency_ms, row_number() OVER (ORDER BY latency_ms) AS rn FROM events
              WHERE {clause} AND coalesce(version, '(unknown)') = ? AND {arm_clause} AND latency_ms IS NOT NULL)
            WHERE (rn - 1) % ? = 0""",
        [*args, version, *arm_args, step],
    ).fetchall()
    return [r[0] for r in rows]


def _welch_p(mean_a: float, sd_a: float, n_a: int, mean_b: float, sd_b: float, n_b: int) -> float:
    se = math.sqrt(sd_a * sd_a / n_a + sd_b * sd_b / n_b)
    if se == 0:
        return 1.0 if mean_a == mean_b else 0.0
    return math.erfc(abs(mean_b - mean_a) / se / math.sqrt(2))


def compare_versions(previous: VersionMetrics, current: VersionMetrics) -> Verdict:
    """The verdict for `current` against `previous` (rules in the module docstring)."""
    if previous.calls < MIN_CALLS or current.calls < MIN_CALLS:
        return Verdict("not enough traffic", current.version, previous.version, (f"need {MIN_CALLS} calls per version",))
    worse: list[str] = []
    better: list[str] = []
    p = two_proportion_p(previous.errors, previous.calls, current.errors, current.calls)
    if p < ALPHA:
        change = f"error rate {previous.error_rate:.1%} → {current.error_rate:.1%} (p={p:.2g})"
        (worse if current.error_rate > previous.error_rate else better).append(change)
    if previous.latency_sd is not None and current.latency_sd is not None and previous.latency_mean and current.latency_mean is not None:
        p = _welch_p(previous.latency_mean, previous.latency_sd, previous.latency_n, current.latency_mean, current.latency_sd, current.latency_n)
        relative = current.latency_mean / previous.latency_mean - 1
        if p < ALPHA and abs(relative) >= LATENCY_MARGIN:
            change = f"mean latency {previous.latency_mean:.0f} → {current.latency_mean:.0f} ms ({relative:+.0%}, p={p:.2g})"
            (worse if relative > 0 else better).append(change)
    if previous.score_sd is not None and current.score_sd is not None and previous.score_mean is not None and current.score_mean is not None:
        p = _welch_p(previous.score_mean, previous.score_sd, previous.score_n, current.score_mean, current.score_sd, current.score_n)
        if p < ALPHA:
            change = f"mean score {previous.score_mean:.2f} → {current.score_mean:.2f} (p={p:.2g})"
            (worse if current.score_mean < previous.score_mean else better).append(change)
    if worse:
        return Verdict("regressed", current.version, previous.version, tuple(worse))
    if better:
        return Verdict("improved", current.version, previous.version, tuple(better))
    return Verdict("within noise", current.version, previous.version)


def daily_series(db: sqlite3.Connection, prompt: str, env: str | None, since: float | None = None) -> list[tuple[float, int, float, float | None, float | None]]:
    """(day start, calls, error rate, mean latency, mean score) per day, for the charts."""
    where, args = ["prompt = ?"], list[Any]([prompt])
    if env:
        where.append("env = ?")
        args.append(env)
    if since:
        where.append("ts >= ?")
        args.append(since)
    rows = db.execute(
        f"""SELECT cast(ts / 86400 AS INTEGER) * 86400, count(*), avg(error IS NOT NULL), avg(latency_ms), avg(score)
            FROM events WHERE {' AND '.join(where)} GROUP BY 1 ORDER BY 1""",
        args,
    ).fetchall()
    return [(float(r[0]), int(r[1]), float(r[2]), r[3], r[4]) for r in rows]
