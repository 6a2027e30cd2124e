"""Statistics against values computed by hand."""

from __future__ import annotations

import pytest

from workbench.core.stats import (
    binomial_two_sided,
    mcnemar_exact,
    paired_bootstrap,
    pass_hat_k,
    percentile,
    two_proportion_p,
    wilson_interval,
)


def test_wilson_interval() -> None:
    # p=0.5, n=10: centre 0.5, half-width 1.96*sqrt(0.025+0.0096)/1.384 = 0.2659
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0) and wilson_interval(10, 10)[0] == pytest.approx(0.7225, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_exact_mcnemar() -> None:
    # 0 fixed vs 4 regressed: 2 * (1/16) = 0.125
    assert mcnemar_exact(0, 4) == pytest.approx(0.125)
    # 1 vs 9: 2 * (1 + 10) / 1024
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact(0, 0) == 1.0
    assert binomial_two_sided(5, 10) == 1.0


def test_paired_bootstrap_is_reproducible_and_sensible() -> None:
    a = [0.0] * 20
    b = [1.0] * 20
    result = paired_bootstrap(a, b)
    assert result.mean_difference == 1.0 and result.excludes_zero
    same = paired_bootstrap([0.5, 0.7, 0.2, 0.9], [0.5, 0.7, 0.2, 0.9])
    assert same.mean_difference == 0 and not same.excludes_zero
    assert paired_bootstrap([0, 1, 0, 1], [1, 1, 0, 0]) == paired_bootstrap([0, 1, 0, 1], [1, 1, 0, 0])


def test_percentile_and_proportions() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert two_proportion_p(10, 100, 10, 100) == 1.0
    assert two_proportion_p(5, 1000, 50, 1000) < 1e-6
    assert pass_hat_k(3, 4, 2) == pytest.approx(0.5)
