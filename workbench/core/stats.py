"""Statistics for comparing prompt versions and production metrics: pure, dependency-free.

- Wilson score interval for a pass rate (good at small n and at 0% / 100%).
- Exact McNemar test on paired pass/fail outcomes: only the discordant pairs carry
  information; under "no difference" they split 50/50 (a two-sided binomial test).
- Paired bootstrap for the difference of means (scores), with a fixed seed so that
  reports are reproducible.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054


def wilson_interval(successes: float, total: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval of successes/total; (0, 1) when total is 0. `successes` may be
    a rate times `total` (a rate seen over fewer independent trials than its samples)."""
    if total <= 0:
        return 0.0, 1.0
    p = successes / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of k successes in n fair coin flips."""
    if n == 0:
        return 1.0
    k = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def mcnemar_exact(fixed: int, regressed: int) -> float:
    """p-value of the exact McNemar test: `fixed` = fail->pass pairs, `regressed` = pass->fail."""
    return binomial_two_sided(fixed, fixed + regressed)


@dataclass(frozen=True)
class BootstrapResult:
    mean_difference: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def paired_bootstrap(a: Sequence[float], b: Sequence[float], resamples: int = 2000, seed: int = 7) -> BootstrapResult:
    """95% percentile interval of mean(b - a) over paired samples."""
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    if not diffs:
        return BootstrapResult(0.0, 0.0, 0.0)
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return BootstrapResult(sum(diffs) / n, percentile(means, 2.5), percentile(means, 97.5))


def bootstrap_mean_interval(values: Sequence[float], resamples: int = 1000, seed: int = 7) -> tuple[float, float]:
    """95% percentile interval of the mean of `values`."""
    if not values:
        return 0.0, 0.0
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return percentile(means, 2.5), percentile(means, 97.5)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of already sorted or unsorted values."""
    if not values:
        return 0.0
    data = sorted(values)
    if len(data) == 1:
        return float(data[0])
    rank = (len(data) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return float(data[low] + (data[high] - data[low]) * (rank - low))


def two_proportion_p(successes_a: int, total_a: int, successes_b: int, total_b: int) -> float:
    """Two-sided p-value of a pooled two-proportion z-test (large samples, e.g. error rates)."""
    if total_a == 0 or total_b == 0:
        return 1.0
    pooled = (successes_a + successes_b) / (total_a + total_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / total_a + 1 / total_b))
    if se == 0:
        return 1.0
    z = (successes_b / total_b - successes_a / total_a) / se
    return math.erfc(abs(z) / math.sqrt(2))


def pass_hat_k(passes: int, trials: int, k: int) -> float:
    """pass^k: the chance that k samples drawn without replacement all pass (tau-bench's estimator)."""
    if trials < k or k <= 0:
        return 0.0
    return math.comb(passes, k) / math.comb(trials, k)
