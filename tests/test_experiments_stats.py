"""The experiments' statistics on sufficient statistics: golden numbers from scipy and statsmodels,
hand-computed small cases, Bayesian results against Monte Carlo, the delta method against a
bootstrap, the refusals of bad input."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats

from omnimetrics.errors import ConfigError, OmnimetricsError, SchemaError
from omnimetrics.experiments import (
    COLUMNS,
    analyse,
    analysis,
    bayesian,
    benjamini_hochberg,
    factorial_effects,
    factorial_variant_names,
    frequentist,
    holm,
    mde_means,
    mde_proportions,
    plan,
    planning,
    pool_variants,
    power_means,
    power_proportions,
    sample_size_means,
    sample_size_proportions,
    sequential,
    srm_check,
    summarise_units,
    summary,
    validate_summary,
)
from omnimetrics.experiments.bayesian import (
    beta_chance_to_beat,
    beta_expected_loss,
    normal_expected_loss,
)
from omnimetrics.experiments.sequential import (
    always_valid,
    half_width,
    mixture_ratio,
    optimal_mixing_ratio,
)


def proportions(a: tuple[int, int], b: tuple[int, int], **kwargs) -> pd.DataFrame:
    return pd.DataFrame(
        {"variant": ["A", "B"], "units": [a[1], b[1]], "conversions": [a[0], b[0]], **kwargs}
    )


def units_frame(seed: int = 1, n: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    variant = np.where(rng.random(n) < 0.5, "A", "B")
    covariate = rng.gamma(2.0, 10.0, n)
    value = 0.7 * covariate + rng.normal(0, 6, n) + 1.5 * (variant == "B")
    return variant, value, covariate


@pytest.mark.parametrize("module", [analysis, bayesian, frequentist, planning, sequential, summary])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


# -- frequentist: golden numbers ---------------------------------------------------------------
# statsmodels 0.15.0 (a throw-away venv): proportions_ztest([x_b, x_a], [n_b, n_a]) and
# confint_proportions_2indep(x_b, n_b, x_a, n_a, method="wald", compare="diff").
PROPORTIONS_ZTEST = [
    (
        (1000, 10000),
        (1100, 10000),
        2.3066347738170103,
        0.021075189273797826,
        0.0015040591315121105,
        0.01849594086848788,
    ),
    (
        (52, 510),
        (37, 480),
        -1.367639968700684,
        0.17142479915103226,
        -0.060360390908377574,
        0.010605488947593271,
    ),
    (
        (3, 35),
        (5, 40),
        0.5498533919739381,
        0.5824199342738734,
        -0.09893611052101736,
        0.17750753909244593,
    ),
]


@pytest.mark.parametrize(("a", "b", "z", "p", "low", "high"), PROPORTIONS_ZTEST)
def test_two_proportion_test_equals_statsmodels(a, b, z, p, low, high):
    row = analyse(proportions(a, b)).comparisons.iloc[0]
    assert row.statistic == pytest.approx(z, rel=1e-10)
    assert row.p_value == pytest.approx(p, rel=1e-9)
    assert (row.ci_low, row.ci_high) == pytest.approx((low, high), rel=1e-9)
    assert row.test == "two-proportion z-test"


def test_welch_equals_scipy():
    variant, value, _ = units_frame()
    row = analyse(summarise_units(variant, value)).comparisons.iloc[0]
    expected = stats.ttest_ind(value[variant == "B"], value[variant == "A"], equal_var=False)
    assert row.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert row.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert row.df == pytest.approx(expected.df, rel=1e-9)
    low, high = expected.confidence_interval(0.95)
    assert (row.ci_low, row.ci_high) == pytest.approx((low, high), rel=1e-9)


def test_multiple_comparisons_equal_statsmodels():
    # statsmodels 0.15.0: multipletests(p, method="holm") and method="fdr_bh".
    p = [0.01, 0.04, 0.03, 0.2, 0.005]
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.2, 0.025])
    assert benjamini_hochberg(p) == pytest.approx([0.025, 0.05, 0.05, 0.2, 0.025])
    assert np.isnan(holm([0.01, np.nan])[1]) and holm([0.01, np.nan])[0] == pytest.approx(0.01)


def test_srm_equals_scipy_chisquare():
    check = srm_check(("A", "B", "C"), np.array([5000, 5100, 4700]), np.array([0.3, 0.4, 0.3]))
    expected = stats.chisquare([5000, 5100, 4700], np.array([0.3, 0.4, 0.3]) * 14800)
    assert check.chi2 == pytest.approx(expected.statistic)
    assert check.p_value == pytest.approx(expected.pvalue)
    assert check.alarm and "do not trust" in check.message


# -- frequentist: by hand ------------------------------------------------------------------------
def test_proportion_by_hand():
    # A: 10/100, B: 20/100. Lift 0.1; unpooled se sqrt(.09/100 + .16/100) = 0.05;
    # pooled p 0.15, se0 sqrt(.15 * .85 * 2 / 100) = 0.0504975; z = 1.980295.
    row = analyse(proportions((10, 100), (20, 100))).comparisons.iloc[0]
    assert row.lift_abs == pytest.approx(0.1)
    assert row.ci_high - row.lift_abs == pytest.approx(1.959963985 * 0.05)
    assert row.statistic == pytest.approx(0.1 / np.sqrt(0.15 * 0.85 * 0.02))
    # Relative: log(2) +- z sqrt(.09/100/.2^2 ... ) on the log scale = sqrt(0.0009/0.01 + 0.0016/0.04)
    se_log = np.sqrt(0.0009 / 0.01 + 0.0016 / 0.04)
    assert row.lift_rel == pytest.approx(1.0)
    assert row.rel_ci_low == pytest.approx(2 * np.exp(-1.959963985 * se_log) - 1)
    assert row.rel_ci_high == pytest.approx(2 * np.exp(1.959963985 * se_log) - 1)


def test_mean_by_hand():
    # A: values 1, 2, 3 (mean 2, var 1); B: 2, 4, 6 (mean 4, var 4). se = sqrt(1/3 + 4/3).
    frame = summarise_units(["A"] * 3 + ["B"] * 3, [1, 2, 3, 2, 4, 6])
    assert frame["sum_squares"].tolist() == [14.0, 56.0]
    row = analyse(frame).comparisons.iloc[0]
    se = np.sqrt(5 / 3)
    df = (5 / 3) ** 2 / ((1 / 3) ** 2 / 2 + (4 / 3) ** 2 / 2)
    assert row.statistic == pytest.approx(2 / se)
    assert row.df == pytest.approx(df)
    assert row.ci_high == pytest.approx(2 + stats.t.ppf(0.975, df) * se)


def test_ratio_delta_method_by_hand():
    # Basket = revenue / orders. A: units (y, d) = (10, 1), (30, 2), (0, 1) -> R = 40 / 4 = 10.
    y = np.array([10.0, 30.0, 0.0])
    d = np.array([1.0, 2.0, 1.0])
    frame = summarise_units(
        ["A"] * 3 + ["B"] * 3, np.r_[y, y * 2], metric="ratio", denominator=np.r_[d, d]
    )
    checked = validate_summary(frame)
    estimates = frequentist.arm_estimates(checked.totals(), "ratio")
    r = 10.0
    var_y, var_d = np.var(y, ddof=1), np.var(d, ddof=1)
    cov = np.cov(y, d, ddof=1)[0, 1]
    expected = (var_y - 2 * r * cov + r**2 * var_d) / d.mean() ** 2 / 3
    assert estimates.mean.tolist() == pytest.approx([10.0, 20.0])
    assert estimates.var_mean[0] == pytest.approx(expected)
    # The same as the variance of the linearised values (y - R d) / mean(d).
    assert estimates.var_mean[0] == pytest.approx(np.var((y - r * d) / d.mean(), ddof=1) / 3)


def test_ratio_delta_method_against_a_bootstrap():
    rng = np.random.default_rng(7)
    n = 4000
    orders = rng.poisson(2.0, n) + 1
    revenue = orders * rng.gamma(4.0, 12.0, n) + rng.normal(0, 5, n)
    frame = summarise_units(np.array(["A"] * n), revenue, metric="ratio", denominator=orders)
    estimates = frequentist.arm_estimates(frame, "ratio")
    draws = rng.integers(0, n, (2000, n))
    ratios = revenue[draws].sum(axis=1) / orders[draws].sum(axis=1)
    assert estimates.var_mean[0] == pytest.approx(ratios.var(ddof=1), rel=0.1)


def test_cuped_equals_the_regression_with_variant_intercepts():
    variant, value, covariate = units_frame()
    result = analyse(summarise_units(variant, value, covariate=covariate))
    row = result.comparisons.iloc[0]
    # OLS of y on [1, is_b, x]: the coefficient of is_b is the CUPED lift.
    design = np.column_stack([np.ones(len(value)), variant == "B", covariate])
    coefficients = np.linalg.lstsq(design, value, rcond=None)[0]
    assert row.lift_abs == pytest.approx(coefficients[1], rel=1e-9)
    assert result.settings["cuped_theta"] == pytest.approx(coefficients[2], rel=1e-9)
    raw = analyse(summarise_units(variant, value)).comparisons.iloc[0]
    reduction = 1 - ((row.ci_high - row.ci_low) / (raw.ci_high - raw.ci_low)) ** 2
    assert row.cuped_variance_reduction == pytest.approx(reduction, abs=0.01)
    assert row.cuped_variance_reduction > 0.7
    assert any("CUPED" in note for note in result.notes)


def test_cuped_on_a_proportion():
    rng = np.random.default_rng(3)
    n = 5000
    variant = np.where(rng.random(n) < 0.5, "A", "B")
    before = (rng.random(n) < 0.3).astype(float)
    converted = (rng.random(n) < 0.1 + 0.4 * before).astype(float)
    frame = summarise_units(variant, converted, metric="proportion", covariate=before)
    row = analyse(frame).comparisons.iloc[0]
    assert row.test == "z-test (CUPED)"
    assert 0.1 < row.cuped_variance_reduction < 0.5


def test_pooling_variants_adds_sufficient_statistics():
    frame = pd.DataFrame(
        {"variant": ["A", "V1", "V2"], "units": [100, 60, 40], "conversions": [10, 9, 5]}
    )
    pooled = pool_variants(frame, ["V1", "V2"])
    assert pooled.to_dict("list") == {
        "variant": ["A", "V1+V2"],
        "units": [100, 100],
        "conversions": [10, 14],
    }
    row = analyse(pooled, weights=[0.5, 0.5]).comparisons.iloc[0]
    assert row.variant == "V1+V2" and row.lift_abs == pytest.approx(0.04)
    with pytest.raises(ConfigError, match=r"unknown variant\(s\) \['V3'\]"):
        pool_variants(frame, ["V1", "V3"])


def test_several_variants_use_holm_and_bh():
    frame = pd.DataFrame(
        {"variant": ["A", "B", "C"], "units": [5000] * 3, "conversions": [500, 560, 505]}
    )
    table = analyse(frame).comparisons
    assert table.variant.tolist() == ["B", "C"]
    assert table.p_holm.tolist() == pytest.approx(holm(table.p_value))
    assert table.p_bh.tolist() == pytest.approx(benjamini_hochberg(table.p_value))
    assert all(table.p_holm >= table.p_value)
    assert "Holm-adjusted" in table.decision[1]


# -- result, decisions ---------------------------------------------------------------------------
def test_result_columns_and_conversion():
    result = analyse(proportions((1000, 10000), (1100, 10000)))
    assert list(result.comparisons.columns) == list(COLUMNS)
    converted = result.to_result()
    assert converted.columns == list(COLUMNS)
    assert [p.name for p in converted.parts] == [
        "experiment_variants",
        "experiment_srm",
        "experiment_looks",
    ]
    assert converted.figures["srm_p_value"] == pytest.approx(1.0)
    assert converted.to_dict()["rows"][0]["variant"] == "B"
    assert converted.notes == result.notes


def test_decisions_in_plain_words():
    wins = analyse(proportions((1000, 10000), (1100, 10000))).comparisons.decision[0]
    assert wins.startswith("B beats A: +10.0% conversion rate (95% CI +1.4% to +19.3%")
    loses = analyse(proportions((1100, 10000), (1000, 10000)), higher_is_better=True)
    assert loses.comparisons.decision[0].startswith("B loses to A: -9.1%")
    flat = analyse(proportions((100, 1000), (104, 1000)), min_effect=0.02).comparisons.iloc[0]
    assert "not significant" in flat.decision
    assert f"underpowered for a 2% lift (power {flat.power * 100:.0f}%)" in flat.decision
    srm = analyse(proportions((100, 1000), (130, 1300))).comparisons.decision[0]
    assert srm.startswith("sample ratio mismatch (p = ")
    assert "do not trust this test" in srm


def test_lower_is_better_flips_the_bayesian_side():
    # An unsubscribe rate: B's higher rate loses.
    row = analyse(proportions((100, 10000), (150, 10000)), higher_is_better=False).comparisons
    assert row.chance_to_win[0] < 0.01
    assert row.decision[0].startswith("B loses to A")


def test_degenerate_comparisons_carry_an_error_code():
    row = analyse(proportions((0, 100), (0, 100))).comparisons.iloc[0]
    assert row.error == "zero_variance"
    assert np.isnan(row.p_value) and np.isnan(row.chance_to_win)
    assert "cannot be tested" in row.decision
    one = pd.DataFrame(
        {"variant": ["A", "B"], "units": [1, 100], "sum": [1.0, 50.0], "sum_squares": [1.0, 60.0]}
    )
    assert analyse(one).comparisons.error[0] == "too_few_units"


# -- Bayesian ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        (21, 81, 11, 91),
        (1101, 8901, 1001, 9001),
        (3, 40, 5, 30),
        (1, 1, 1, 1),
        (40001, 960001, 40501, 959501),
    ],
)
def test_beta_chance_and_loss_against_monte_carlo(params):
    a_t, b_t, a_c, b_c = params
    rng = np.random.default_rng(11)
    t, c = rng.beta(a_t, b_t, 2_000_000), rng.beta(a_c, b_c, 2_000_000)
    assert beta_chance_to_beat(*params) == pytest.approx((t > c).mean(), abs=2e-3)
    loss = np.maximum(c - t, 0).mean()
    assert beta_expected_loss(*params) == pytest.approx(loss, rel=0.02, abs=1e-7)


def test_beta_chance_by_hand():
    # T ~ Beta(1, 1), C ~ Beta(10001, 1): P(T > C) = integral of x^10001 = 1 / 10002.
    assert beta_chance_to_beat(1, 1, 10001, 1) == pytest.approx(1 / 10002, rel=1e-6)
    # Beta(2, 1) vs uniform: P(T > C) = integral of 2x * x = 2/3.
    assert beta_chance_to_beat(2, 1, 1, 1) == pytest.approx(2 / 3, rel=1e-9)
    # Peaked posteriors far apart in units of their width: the normal approximation holds.
    mean_t, mean_c = 1e6 / 1.1e7, 1.003e6 / 1.1003e7
    sd = np.sqrt(mean_t * (1 - mean_t) / 1.1e7 + mean_c * (1 - mean_c) / 1.1003e7)
    chance = beta_chance_to_beat(1e6, 1e7, 1.003e6, 1e7)
    assert chance == pytest.approx(stats.norm.cdf((mean_t - mean_c) / sd), rel=1e-3)


def test_normal_model_against_monte_carlo():
    rng = np.random.default_rng(5)
    lift = rng.normal(0.3, 0.5, 2_000_000)
    assert normal_expected_loss(0.3, 0.5) == pytest.approx(np.maximum(-lift, 0).mean(), rel=0.01)
    frame = pd.DataFrame(
        {
            "variant": ["A", "B"],
            "units": [400, 400],
            "sum": [400.0, 440.0],
            "sum_squares": [800.0, 884.0],
        }
    )
    row = analyse(frame).comparisons.iloc[0]
    sd = np.sqrt(1 / 400 + 1.0 / 400)  # unit variances (800 - 400) / 399 and (884 - 484) / 399
    sd = np.sqrt((800 - 400) / 399 / 400 + (884 - 440**2 / 400) / 399 / 400)
    assert row.chance_to_win == pytest.approx(stats.norm.cdf(0.1 / sd))
    assert (row.cred_low, row.cred_high) == pytest.approx(
        (0.1 - 1.959963985 * sd, 0.1 + 1.959963985 * sd)
    )


def test_credible_interval_of_proportions_is_seeded_and_close_to_the_ci():
    summary_table = proportions((1000, 10000), (1100, 10000))
    one, two = analyse(summary_table, seed=3), analyse(summary_table, seed=3)
    assert one.comparisons.rel_cred_low[0] == two.comparisons.rel_cred_low[0]
    row = one.comparisons.iloc[0]
    assert row.cred_low == pytest.approx(row.ci_low, abs=5e-4)
    assert row.rel_cred_high == pytest.approx(row.rel_ci_high, abs=0.01)


# -- sequential ----------------------------------------------------------------------------------
def test_mixture_ratio_and_width_by_hand():
    # V = tau^2 = 1e-4, lift 0.02: sqrt(1/2) * exp(0.02^2 * 1e-4 / (2 * 1e-4 * 2e-4)) = e / sqrt(2).
    assert mixture_ratio(0.02, 1e-4, 1e-4) == pytest.approx(np.e / np.sqrt(2))
    # The half-width is where the ratio equals 1 / alpha.
    width = half_width(1e-4, 3e-4, 0.05)
    assert mixture_ratio(width, 1e-4, 3e-4) == pytest.approx(20.0)
    r = optimal_mixing_ratio(0.05)
    assert r == pytest.approx(np.log1p(r) - 2 * np.log(0.05))


def test_always_valid_p_is_a_running_minimum_and_the_sequence_shrinks():
    lift = np.array([0.5, -0.2, 0.1, 0.05])
    variance = np.array([1.0, 0.5, 0.2, 0.1])
    p, low, high = always_valid(lift, variance, 0.05, tau2=0.5)
    assert np.all(np.diff(p) <= 0) and np.all(np.diff(low) >= 0) and np.all(np.diff(high) <= 0)
    assert p[0] == pytest.approx(min(1.0, 1 / mixture_ratio(0.5, 1.0, 0.5)))


def test_periods_give_the_sequential_path():
    rng = np.random.default_rng(2)
    n = 6000
    variant = np.where(rng.random(n) < 0.5, "A", "B")
    value = rng.normal(10 + 0.4 * (variant == "B"), 3.0)
    day = rng.integers(0, 12, n)
    result = analyse(summarise_units(variant, value, period=day))
    looks = result.looks
    assert looks.look.tolist() == list(range(1, 13)) and looks.units.is_monotonic_increasing
    final = analyse(summarise_units(variant, value)).comparisons.iloc[0]
    row = result.comparisons.iloc[0]
    assert row.lift_abs == pytest.approx(final.lift_abs)  # the fixed-horizon test uses the totals
    assert row.seq_p_value == looks.seq_p_value.iloc[-1] >= row.p_value
    assert row.seq_ci_low <= row.lift_abs <= row.seq_ci_high
    assert row.seq_ci_high - row.seq_ci_low > row.ci_high - row.ci_low


# -- planning ------------------------------------------------------------------------------------
def test_power_equals_statsmodels():
    # statsmodels 0.15.0: TTestIndPower().power(effect, nobs1, alpha) and .solve_power(...),
    # power_proportions_2indep(diff, prop2, nobs1, alpha=0.05).power.
    assert power_means(400, 1.0, 0.2) == pytest.approx(0.8064972788078826, rel=1e-8)
    assert power_means(1000, 2.0, 0.2, alpha=0.01) == pytest.approx(0.36632012553750826, rel=1e-8)
    assert sample_size_means(1.0, 0.2) == 394  # 393.4056930002526
    assert sample_size_means(1.0, 0.05, power=0.9) == 8407  # 8406.896008340045
    assert mde_means(500, 1.0) == pytest.approx(0.17735842172853922, rel=1e-6)
    assert power_proportions(14751, 0.10, 0.01, relative=False) == pytest.approx(
        0.8000065290879337, rel=1e-9
    )
    assert power_proportions(20000, 0.03, 0.005, relative=False) == pytest.approx(
        0.8050570247837714, rel=1e-9
    )
    assert power_proportions(3000, 0.5, -0.02, relative=False) == pytest.approx(
        0.3409277938052635, rel=1e-9
    )
    # samplesize_proportions_2indep_onetail(0.01, 0.10, 0.8) = 14750.79 (ignores the far tail).
    assert sample_size_proportions(0.10, 0.10) == 14751


def test_planning_by_hand_and_round_trip():
    # The textbook formula, far tail ignored: n = (z_a sqrt(2 pq) + z_b sqrt(p1q1 + p2q2))^2 / d^2.
    p1, p2 = 0.2, 0.25
    z_a, z_b = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    pooled = (p1 + p2) / 2
    n = (
        z_a * np.sqrt(2 * pooled * (1 - pooled)) + z_b * np.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    ) ** 2 / 0.05**2
    assert sample_size_proportions(0.2, 0.05, relative=False) == int(np.ceil(n))
    mde = mde_proportions(5000, 0.1)
    assert power_proportions(5000, 0.1, mde) == pytest.approx(0.8, abs=1e-8)
    solved = plan("proportion", 0.1, mde=0.05)
    assert solved.solved_for == "units" and solved.total_units == 2 * solved.units_per_variant
    assert plan("proportion", 0.1, units=solved.units_per_variant, mde=0.05).power >= 0.8
    three = plan("proportion", 0.1, mde=0.05, variants=3)
    assert three.units_per_variant == sample_size_proportions(0.1, 0.05, alpha=0.025)
    means = plan("mean", 50.0, sd=20.0, units=1000)
    assert means.mde * 50 == pytest.approx(mde_means(1000, 20.0))


def test_planning_refuses_bad_settings():
    with pytest.raises(ConfigError, match="needs `sd`"):
        plan("mean", 10.0, mde=0.1)
    with pytest.raises(ConfigError, match="Give two of"):
        plan("proportion", 0.1, mde=0.1, units=100, power=0.8)
    with pytest.raises(ConfigError, match="baseline rate must be in"):
        power_proportions(100, 1.5, 0.1)
    with pytest.raises(ConfigError, match="power must be in"):
        sample_size_means(1.0, 0.1, power=1.2)


# -- factorial -----------------------------------------------------------------------------------
def test_factorial_effects_by_hand():
    names = ["subject=A|cta=blue", "subject=B|cta=blue", "subject=A|cta=red", "subject=B|cta=red"]
    frame = pd.DataFrame(
        {"variant": names, "units": [1000] * 4, "conversions": [100, 150, 120, 200]}
    )
    effects = factorial_effects(frame).set_index("levels")
    # Cell rates: a0b0 .10, a1b0 .15, a0b1 .12, a1b1 .20.
    assert effects.loc["subject=B", "estimate"] == pytest.approx(
        ((0.15 - 0.10) + (0.20 - 0.12)) / 2
    )
    assert effects.loc["cta=red", "estimate"] == pytest.approx(((0.12 - 0.10) + (0.20 - 0.15)) / 2)
    interaction = effects.loc["subject=B|cta=red"]
    assert interaction.estimate == pytest.approx(0.20 - 0.15 - 0.12 + 0.10)
    variances = [p * (1 - p) / 1000 for p in (0.10, 0.15, 0.12, 0.20)]
    assert interaction.se == pytest.approx(np.sqrt(sum(variances)))
    assert effects.loc["subject=B", "se"] == pytest.approx(np.sqrt(sum(variances)) / 2)
    assert interaction.effect == "subject x cta" and interaction.against == "subject=A|cta=blue"


def test_factorial_names_from_factor_columns_and_refusals():
    names = factorial_variant_names({"subject": ["A", "B"], "cta": ["red", "blue"]})
    assert names.tolist() == ["subject=A|cta=red", "subject=B|cta=blue"]
    frame = pd.DataFrame(
        {
            "variant": ["subject=A|cta=blue", "subject=B|cta=blue", "subject=A|cta=red"],
            "units": [10] * 3,
            "conversions": [1, 2, 3],
        }
    )
    with pytest.raises(SchemaError, match=r"Missing cells: \['subject=B\|cta=red'\]"):
        factorial_effects(frame)
    frame = pd.DataFrame({"variant": ["A", "B"], "units": [10] * 2, "conversions": [1, 2]})
    with pytest.raises(SchemaError, match="not a factorial cell name"):
        factorial_effects(frame)


# -- input: building and refusing ----------------------------------------------------------------
def test_summary_from_units_with_periods_and_arrow_input():
    frame = summarise_units(["B", "A", "B", "A"], [1.0, 2.0, 3.0, 4.0], period=[2, 1, 1, 2])
    assert frame.to_dict("list") == {
        "variant": ["A", "B", "A", "B"],
        "period": [1, 1, 2, 2],
        "units": [1, 1, 1, 1],
        "sum": [2.0, 3.0, 4.0, 1.0],
        "sum_squares": [4.0, 9.0, 16.0, 1.0],
    }
    checked = validate_summary(pa.Table.from_pandas(frame))
    assert checked.has_periods and checked.totals()["sum"].tolist() == [6.0, 4.0]
    assert [look["units"].tolist() for look in checked.looks()] == [[1, 1], [2, 2]]


BAD_SUMMARIES = [
    ({"variant": ["A", "B"], "units": [10, 10]}, SchemaError, "none of the metric columns"),
    (
        {"variant": ["A", "B"], "units": [10, 10], "sum": [1.0, 2.0]},
        SchemaError,
        r"lacks the column\(s\) \['sum_squares'\]",
    ),
    (
        {"variant": ["A", "B"], "unit": [10, 10], "conversions": [1, 2]},
        SchemaError,
        "Did you mean 'unit'",
    ),
    (
        {"variant": ["A", "B"], "units": [10, -1], "conversions": [1, 0]},
        SchemaError,
        r"`units` is negative for variant\(s\) \['B'\]",
    ),
    (
        {"variant": ["A", "B"], "units": [10, 10], "conversions": [1, 11]},
        SchemaError,
        "`conversions` exceeds `units`",
    ),
    (
        {"variant": ["A", "A"], "units": [10, 10], "conversions": [1, 2]},
        SchemaError,
        "one variant only|appear in several rows",
    ),
    ({"variant": ["A"], "units": [10], "conversions": [1]}, SchemaError, "one variant only"),
    (
        {"variant": ["A", "B"], "units": [10, 10], "conversions": [1, None]},
        SchemaError,
        "not a finite number",
    ),
    (
        {"variant": ["A", "B"], "units": [10, 10], "sum": [10.0, 2.0], "sum_squares": [5.0, 4.0]},
        SchemaError,
        "sum of squared values",
    ),
    (
        {"variant": ["A", "B"], "units": [10.5, 10], "conversions": [1, 2]},
        SchemaError,
        "whole number",
    ),
    (
        {
            "variant": ["A", "B"],
            "units": [10, 10],
            "conversions": [1, 2],
            "covariate_sum": [1.0, 2.0],
        },
        SchemaError,
        "CUPED column",
    ),
]


@pytest.mark.parametrize(("columns", "error", "message"), BAD_SUMMARIES)
def test_bad_summaries_are_refused_with_a_message(columns, error, message):
    with pytest.raises(error, match=message):
        validate_summary(pd.DataFrame(columns))


def test_bad_settings_are_refused_with_a_message():
    frame = proportions((10, 100), (12, 100))
    with pytest.raises(ConfigError, match=r"Unknown control 'BB'\. Did you mean 'B'"):
        validate_summary(frame, control="BB")
    with pytest.raises(ConfigError, match="3 weight"):
        validate_summary(frame, weights=[0.3, 0.3, 0.4])
    with pytest.raises(ConfigError, match="sum to 1"):
        validate_summary(frame, weights=[0.5, 0.6])
    with pytest.raises(ConfigError, match="unknown variant"):
        validate_summary(frame, weights={"A": 0.5, "C": 0.5})
    with pytest.raises(ConfigError, match="Unknown metric"):
        validate_summary(frame, metric="proportions")
    with pytest.raises(ConfigError, match="alpha"):
        analyse(frame, alpha=5)
    with pytest.raises(ConfigError, match="cuped=True needs"):
        analyse(frame, cuped=True)
    with pytest.raises(SchemaError, match="must be 0 or 1"):
        summarise_units(["A", "B"], [0.5, 1.0], metric="proportion")
    with pytest.raises(SchemaError, match="not finite for 1 unit"):
        summarise_units(["A", "B"], [np.nan, 1.0])
    with pytest.raises(OmnimetricsError):
        validate_summary("variant,units")


def test_the_control_and_the_weights_are_honoured():
    frame = pd.DataFrame(
        {"variant": ["A", "B", "C"], "units": [2000, 1000, 1000], "conversions": [200, 100, 130]}
    )
    result = analyse(frame, control="B", weights={"A": 0.5, "B": 0.25, "C": 0.25})
    assert result.control == "B" and result.comparisons.variant.tolist() == ["A", "C"]
    assert result.srm.p_value == pytest.approx(1.0) and not result.srm.alarm
    assert analyse(frame).srm.alarm  # against the equal split
    assert frame.units.tolist() == [2000, 1000, 1000]  # the input is not mutated


def test_public_api_is_sorted_and_complete():
    import omnimetrics.experiments as experiments

    def style(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert list(experiments.__all__) == sorted(experiments.__all__, key=style)
    assert all(hasattr(experiments, name) for name in experiments.__all__)


def test_a_win_on_a_peek_carries_the_caveat():
    frame = pd.DataFrame(
        {
            "variant": ["A", "B", "A", "B"],
            "period": [1, 1, 2, 2],
            "units": [5000, 5000, 5000, 5000],
            "conversions": [500, 550, 500, 550],
        }
    )
    row = analyse(frame).comparisons.iloc[0]
    assert row.p_value < 0.05 < row.seq_p_value
    assert row.decision.startswith("B beats A")
    assert "not significant by the always-valid test" in row.decision
    looks = analyse(frame).looks
    assert looks.units.tolist() == [10000, 20000]
    assert looks.naive_p_value.iloc[-1] == pytest.approx(row.p_value)
