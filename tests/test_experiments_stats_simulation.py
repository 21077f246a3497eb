"""Simulated tests with known truth: A/A false-positive rates at the nominal level (with and without
CUPED), the interval's coverage of a true lift, and daily peeking: the naive test's error rate
grows, the always-valid one's does not. Figures in docs/experiments.md; benchmarks/
experiments_stats.py prints them for more runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from omnimetrics.experiments import analyse, summarise_units
from omnimetrics.experiments.frequentist import arm_estimates, compare
from omnimetrics.experiments.sequential import always_valid, mixing_variance

RUNS = 1000
ALPHA = 0.05
# 1,000 runs at a true rate of 5%: the rate lies in [3.5%, 6.5%] with probability 0.97.
LOW, HIGH = 0.035, 0.065


def stacked(**columns: np.ndarray) -> pd.DataFrame:
    """A totals table of many runs, two rows (A then B) per run: columns of shape (runs, 2)."""
    runs = next(iter(columns.values())).shape[0]
    frame = {"variant": np.tile(["A", "B"], runs)}
    frame.update({name: values.reshape(-1) for name, values in columns.items()})
    return pd.DataFrame(frame)


def rejections(totals: pd.DataFrame, metric: str) -> tuple[np.ndarray, list]:
    """The p-value of B against A of each run, and the comparisons."""
    estimates = arm_estimates(totals, metric)
    p, comparisons = [], []
    for run in range(len(totals) // 2):
        comparison = compare(estimates, 2 * run, [2 * run + 1], ALPHA)
        p.append(comparison.p_value[0])
        comparisons.append(comparison)
    return np.array(p), comparisons


def unit_sums(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return values.sum(axis=-1), (values**2).sum(axis=-1)


def test_aa_proportions_false_positive_rate():
    rng = np.random.default_rng(101)
    units = np.full((RUNS, 2), 3000)
    conversions = rng.binomial(units, 0.04)
    p, _ = rejections(stacked(units=units, conversions=conversions), "proportion")
    assert LOW <= np.mean(p < ALPHA) <= HIGH


def test_aa_means_false_positive_rate_with_and_without_cuped():
    rng = np.random.default_rng(102)
    n = 1000
    covariate = rng.gamma(1.5, 20.0, (RUNS, 2, n))
    value = 0.8 * covariate + rng.gamma(2.0, 5.0, (RUNS, 2, n))  # skewed, like revenue
    sums, squares = unit_sums(value)
    p_raw, _ = rejections(
        stacked(units=np.full((RUNS, 2), n), sum=sums, sum_squares=squares), "mean"
    )
    p_cuped = []
    for run in range(RUNS):
        totals = pd.DataFrame(
            {
                "variant": ["A", "B"],
                "units": [n, n],
                "sum": sums[run],
                "sum_squares": squares[run],
                "covariate_sum": covariate[run].sum(axis=-1),
                "covariate_sum_squares": (covariate[run] ** 2).sum(axis=-1),
                "covariate_cross_sum": (covariate[run] * value[run]).sum(axis=-1),
            }
        )
        p_cuped.append(compare(arm_estimates(totals, "mean", cuped=True), 0, [1], ALPHA).p_value[0])
    assert LOW <= np.mean(p_raw < ALPHA) <= HIGH
    assert LOW <= np.mean(np.array(p_cuped) < ALPHA) <= HIGH


def test_intervals_cover_the_true_lift():
    # A 3% relative lift of a 5% rate, and of a ratio metric (revenue per order).
    rng = np.random.default_rng(103)
    units = np.full((RUNS, 2), 20000)
    rates = np.array([0.05, 0.05 * 1.03])
    conversions = rng.binomial(units, rates)
    _, comparisons = rejections(stacked(units=units, conversions=conversions), "proportion")
    low = np.array([c.ci_low[0] for c in comparisons])
    high = np.array([c.ci_high[0] for c in comparisons])
    rel_low = np.array([c.rel_ci_low[0] for c in comparisons])
    rel_high = np.array([c.rel_ci_high[0] for c in comparisons])
    assert 0.935 <= np.mean((low <= 0.0015) & (high >= 0.0015)) <= 0.965
    assert 0.935 <= np.mean((rel_low <= 0.03) & (rel_high >= 0.03)) <= 0.965
    n = 500
    orders = rng.poisson(1.5, (RUNS, 2, n)) + 1
    basket = np.array([40.0, 44.0])[None, :, None]
    revenue = orders * rng.gamma(2.0, basket / 2.0, (RUNS, 2, n))
    ratio = stacked(
        units=np.full((RUNS, 2), n),
        sum=revenue.sum(-1),
        sum_squares=(revenue**2).sum(-1),
        denominator_sum=orders.sum(-1).astype(float),
        denominator_sum_squares=(orders**2).sum(-1).astype(float),
        cross_sum=(revenue * orders).sum(-1),
    )
    _, comparisons = rejections(ratio, "ratio")
    low = np.array([c.ci_low[0] for c in comparisons])
    high = np.array([c.ci_high[0] for c in comparisons])
    assert 0.935 <= np.mean((low <= 4.0) & (high >= 4.0)) <= 0.965


def peeking_rates(runs: int, looks: int, per_look: int, seed: int) -> tuple[float, float, float]:
    """A/A tests watched at each of `looks` periods: the share of runs the naive Welch test
    rejects at some look, the share the always-valid p rejects at some look, and the naive
    test's rate at the last look only."""
    rng = np.random.default_rng(seed)
    value = rng.gamma(2.0, 5.0, (runs, 2, looks, per_look))
    sums = np.cumsum(value.sum(-1), axis=-1)  # (runs, 2, looks)
    squares = np.cumsum((value**2).sum(-1), axis=-1)
    units = np.broadcast_to(per_look * np.arange(1, looks + 1), sums.shape)
    frame = pd.DataFrame(
        {
            "variant": np.tile(np.repeat(["A", "B"], looks), runs),
            "units": units.reshape(-1),
            "sum": sums.reshape(-1),
            "sum_squares": squares.reshape(-1),
        }
    )
    estimates = arm_estimates(frame, "mean")
    mean = estimates.mean.reshape(runs, 2, looks)
    var = estimates.var_mean.reshape(runs, 2, looks)
    lift, variance = mean[:, 1] - mean[:, 0], var[:, 1] + var[:, 0]
    n = units[:, 0]
    naive = stats.ttest_ind_from_stats(
        mean[:, 1], np.sqrt(var[:, 1] * n), n, mean[:, 0], np.sqrt(var[:, 0] * n), n, False
    ).pvalue
    always = np.empty((runs, looks))
    for run in range(runs):
        tau2 = mixing_variance(variance[run, -1], 2 * n[run, -1], None, ALPHA)
        always[run] = always_valid(lift[run], variance[run], ALPHA, tau2)[0]
    return (
        float(np.mean((naive < ALPHA).any(axis=1))),
        float(np.mean((always < ALPHA).any(axis=1))),
        float(np.mean(naive[:, -1] < ALPHA)),
    )


def test_daily_peeking_breaks_the_naive_test_not_the_sequential_one():
    naive_any, sequential_any, naive_last = peeking_rates(RUNS, looks=20, per_look=100, seed=104)
    assert LOW <= naive_last <= HIGH
    assert naive_any > 0.15  # about 25% with 20 looks
    assert sequential_any <= HIGH


@pytest.mark.slow
def test_aa_end_to_end_with_periods_and_cuped():
    """The whole `analyse` on 1,000 A/A tests of 20 daily looks: the fixed-horizon p with and
    without CUPED, the always-valid p and the naive p at every look."""
    rng = np.random.default_rng(105)
    fixed, cuped, sequential, naive = [], [], [], []
    for _ in range(RUNS):
        n = 4000
        variant = np.where(rng.random(n) < 0.5, "A", "B")
        covariate = rng.gamma(1.5, 20.0, n)
        value = 0.8 * covariate + rng.gamma(2.0, 5.0, n)
        day = rng.integers(0, 20, n)
        frame = summarise_units(variant, value, covariate=covariate, period=day)
        with_cuped = analyse(frame, draws=1000)
        without = analyse(frame, cuped=False, draws=1000)
        fixed.append(without.comparisons.p_value[0])
        cuped.append(with_cuped.comparisons.p_value[0])
        sequential.append(with_cuped.looks.seq_p_value.min())
        naive.append(with_cuped.looks.naive_p_value.min())
    assert LOW <= np.mean(np.array(fixed) < ALPHA) <= HIGH
    assert LOW <= np.mean(np.array(cuped) < ALPHA) <= HIGH
    assert np.mean(np.array(sequential) < ALPHA) <= HIGH
    assert np.mean(np.array(naive) < ALPHA) > 0.15
