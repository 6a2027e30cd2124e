"""Per-version production metrics and the verdict "regressed / improved / within noise".

Aggregates (counts, sums and sums of squares) come from an hourly rollup written at ingest,
so a report over a million events reads a few hundred rows; latency p50/p95 are exact, read
off an index ordered by latency (one OFFSET query each).

The verdict compares the current version with the one before it, each over its own window
(the service picks the windows: the current version since it was deployed, the previous one
while it was deployed, both within `--since`):
- error rate: two-proportion z-test;
- mean latency and mean score: Welch's z-test on the means (large samples);
a difference counts when p < 0.01 (and, for latency, when it is also at least 10%).
Regressed if any metric got worse; improved if none got worse and one got better.

"Enough traffic" (otherwise the verdict is "not enough traffic yet", never a regression):
each version has at least 30 calls in its window, and with these call counts the error-rate
test (two-sided, alpha = 0.01) would detect a rise of 5 percentage points over the previous
version's error rate with 80% power (normal approximation, unequal sizes allowed). With a
previous version of thousands of calls at 0-2% errors that is about 220-300 calls of the new one.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from workbench.core.stats import two_proportion_p, wilson_interval

ALPHA = 0.01
MIN_CALLS = 30
LATENCY_MARGIN = 0.10
DETECT_RISE = 0.05  # error-rate rise (absolute) the comparison must be able to see...
POWER = 0.80  # ...with this probability
Z_ALPHA = 2.5758293035489004  # two-sided, ALPHA = 0.01
Z_POWER = 0.8416212335729143  # one-sided, POWER = 0.80
NOT_ENOUGH = "not enough traffic yet"


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
    status: str  # regressed | improved | within noise | not enough traffic yet
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


def _rollup_filter(
    prompt: str, env: str | None, since: float | None, until: float | None = None, version: str | None = None
) -> tuple[str, list[Any]]:
    """Windows are whole hours (the rollup's grain): `since` rounds down, `until` up."""
    where, args = ["prompt = ?"], list[Any]([prompt])
    if env:
        where.append("env = ?")
        args.append(env)
    if since:
        where.append("hour >= ?")
        args.append(int(since // 3600))
    if until is not None:
        where.append("hour <= ?")
        args.append(int(until // 3600))
    if version is not None:
        where.append("version = ?")
        args.append(version)
    return " AND ".join(where), args


def version_metrics(
    db: sqlite3.Connection, prompt: str, env: str | None = None, since: float | None = None, until: float | None = None, version: str | None = None
) -> list[VersionMetrics]:
    """One row per (version, arm) that served traffic, oldest first (from the hourly rollup)."""
    clause, args = _rollup_filter(prompt, env, since, until, version)
    rows = db.execute(
        f"""SELECT version, arm, sum(calls), sum(errors), min(first_ts), max(last_ts), sum(lat_sum), sum(lat_sq), sum(lat_n),
                  sum(tokens), sum(cost), sum(score_sum), sum(score_sq), sum(score_n), sum(feedback)
           FROM rollup WHERE {clause} GROUP BY 1, 2 ORDER BY min(first_ts)""",
        args,
    ).fetchall()
    metrics = []
    for version, arm, calls, errors, first, last, lat_sum, lat_sq, lat_n, tokens, cost, score_sum, score_sq, score_n, feedback in rows:
        lat_mean = lat_sum / lat_n if lat_n else None
        score_mean = score_sum / score_n if score_n else None
        p50 = p95 = None
        if lat_n:
            p50, p95 = _latency_percentiles(db, prompt, env, version, arm, since, until, lat_n)
        metrics.append(
            VersionMetrics(
                version, arm or None, calls, errors or 0, first, last,
                lat_mean, _sd(lat_mean, lat_sq, lat_n), p50, p95, lat_n,
                int(tokens or 0), float(cost or 0), score_mean, _sd(score_mean, score_sq, score_n), score_n, feedback,
            )
        )
    return metrics


def _sd(mean: float | None, sum_sq: float | None, n: int) -> float | None:
    if mean is None or sum_sq is None or n < 2:
        return None
    variance = max(0.0, (sum_sq - n * mean * mean) / (n - 1))
    return math.sqrt(variance)


def _latency_percentiles(
    db: sqlite3.Connection, prompt: str, env: str | None, version: str, arm: str, since: float | None, until: float | None, n: int
) -> tuple[float | None, float | None]:
    """p50 and p95, read straight off the (identity, latency) index."""
    ident_where, ident_args = ["prompt = ?", "version = ?", "arm = ?"], [prompt, version, arm or ""]
    if env:
        ident_where.append("env = ?")
        ident_args.append(env)
    idents = [r[0] for r in db.execute(f"SELECT id FROM idents WHERE {' AND '.join(ident_where)}", ident_args)]
    if not idents:
        return None, None
    where = ["ident = ?" if len(idents) == 1 else f"ident IN ({','.join('?' * len(idents))})", "latency_ms IS NOT NULL"]
    args: list[Any] = list(idents)
    if since or until is not None:  # a time window cannot use the index order: count within it first
        if since:
            where.append("ts >= ?")
            args.append(since // 3600 * 3600)
        if until is not None:
            where.append("ts < ?")
            args.append((until // 3600 + 1) * 3600)
        n = db.execute(f"SELECT count(*) FROM events WHERE {' AND '.join(where)}", args).fetchone()[0]
    values = []
    for q in (0.50, 0.95):
        row = db.execute(
            f"SELECT latency_ms FROM events WHERE {' AND '.join(where)} ORDER BY latency_ms LIMIT 1 OFFSET ?",
            [*args, max(0, min(n - 1, round(q * (n - 1))))],
        ).fetchone()
        values.append(row[0] if row else None)
    return values[0], values[1]


def _welch_p(mean_a: float, sd_a: float, n_a: int, mean_b: float, sd_b: float, n_b: int) -> float:
    se = math.sqrt(sd_a * sd_a / n_a + sd_b * sd_b / n_b)
    if se == 0:
        return 1.0 if mean_a == mean_b else 0.0
    return math.erfc(abs(mean_b - mean_a) / se / math.sqrt(2))


def can_detect(previous_calls: int, previous_errors: int, current_calls: int) -> bool:
    """Would the error-rate test see a DETECT_RISE rise over the previous rate with POWER?"""
    if previous_calls < MIN_CALLS or current_calls < MIN_CALLS:
        return False
    n1, n2 = previous_calls, current_calls
    p1 = previous_errors / n1
    p2 = min(1.0, p1 + DETECT_RISE)
    pooled = (n1 * p1 + n2 * p2) / (n1 + n2)
    null_se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    alt_se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return Z_ALPHA * null_se + Z_POWER * alt_se <= (p2 - p1)


def calls_needed(previous_calls: int, previous_errors: int) -> int | None:
    """The fewest calls of the new version for `can_detect` (None: the previous version has too few)."""
    if not can_detect(previous_calls, previous_errors, 10**9):
        return None
    low, high = MIN_CALLS - 1, MIN_CALLS
    while not can_detect(previous_calls, previous_errors, high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if can_detect(previous_calls, previous_errors, middle) else (middle, high)
    return high


def enough_traffic(previous: VersionMetrics, current: VersionMetrics) -> Verdict | None:
    """None when both versions have enough traffic to compare; else the "not enough traffic yet" verdict."""
    if can_detect(previous.calls, previous.errors, current.calls):
        return None
    needed = calls_needed(previous.calls, previous.errors)
    if needed is None:
        reason = f"{previous.version} has only {previous.calls} call(s) in its window, too few to compare against"
    else:
        reason = f"{current.version} has {current.calls} call(s) in its window; about {needed} are needed"
    return Verdict(NOT_ENOUGH, current.version, previous.version, (reason,))


def compare_versions(previous: VersionMetrics, current: VersionMetrics) -> Verdict:
    """The verdict for `current` against `previous` (rules in the module docstring)."""
    too_little = enough_traffic(previous, current)
    if too_little is not None:
        return too_little
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
    clause, args = _rollup_filter(prompt, env, since)
    rows = db.execute(
        f"""SELECT (hour / 24) * 86400, sum(calls), 1.0 * sum(errors) / sum(calls), sum(lat_sum) / nullif(sum(lat_n), 0),
                   sum(score_sum) / nullif(sum(score_n), 0)
            FROM rollup WHERE {clause} GROUP BY hour / 24 ORDER BY 1""",
        args,
    ).fetchall()
    return [(float(r[0]), int(r[1]), float(r[2]), r[3], r[4]) for r in rows]
