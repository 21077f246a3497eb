"""Fixed-horizon tests on sufficient statistics: each variant's estimate and its variance
(proportion, mean, ratio by the delta method, CUPED), the lift against control with its
intervals and p-value, multiple-comparison adjustments, the sample ratio mismatch check.
Formulas and sources in docs/experiments.md.

>>> import numpy as np
>>> np.round(holm([0.01, 0.04, 0.03]), 4).tolist()
[0.03, 0.06, 0.06]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class ArmEstimates:
    """Each variant's metric estimate and the variance of that estimate, in variant order."""

    metric: str
    variants: tuple[str, ...]
    units: np.ndarray
    mean: np.ndarray
    """Conversion rate, mean per unit, or ratio of sums; CUPED-adjusted when `theta` is set."""
    var_mean: np.ndarray
    """Variance of `mean` (after CUPED when used)."""
    var_mean_raw: np.ndarray
    """Variance of the unadjusted estimate (equal to `var_mean` without CUPED)."""
    mean_raw: np.ndarray
    conversions: np.ndarray | None = None
    """Counts of a proportion metric (for the pooled test and the beta posteriors)."""
    theta: float | None = None
    """The CUPED coefficient, pooled within variants (None: no covariate used)."""


def arm_estimates(totals: pd.DataFrame, metric: str, *, cuped: bool = False) -> ArmEstimates:
    """The estimates of each row of a totals table (one row per variant)."""
    n = totals["units"].to_numpy(dtype=float)
    safe_n = np.maximum(n, 1.0)
    dof = np.maximum(n - 1.0, 1.0)
    conversions = None
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "proportion":
            conversions = totals["conversions"].to_numpy(dtype=float)
            y_sum, y_squares = conversions, conversions
            mean = conversions / safe_n
            var_unit = mean * (1.0 - mean)  # the binomial variance, as the z-test's interval
        else:
            y_sum = totals["sum"].to_numpy(dtype=float)
            y_squares = totals["sum_squares"].to_numpy(dtype=float)
            var_y = np.maximum(y_squares - y_sum**2 / safe_n, 0.0) / dof
            if metric == "mean":
                mean, var_unit = y_sum / safe_n, var_y
            else:  # ratio of sums, delta method
                d_sum = totals["denominator_sum"].to_numpy(dtype=float)
                d_squares = totals["denominator_sum_squares"].to_numpy(dtype=float)
                cross = totals["cross_sum"].to_numpy(dtype=float)
                var_d = np.maximum(d_squares - d_sum**2 / safe_n, 0.0) / dof
                cov_yd = (cross - y_sum * d_sum / safe_n) / dof
                mean = y_sum / d_sum
                d_mean = d_sum / safe_n
                var_unit = np.maximum(var_y - 2 * mean * cov_yd + mean**2 * var_d, 0.0) / d_mean**2
        var_mean = np.where(n > 0, var_unit / safe_n, np.nan)
    mean = np.where(n > 0, mean, np.nan)
    variants = tuple(totals["variant"].astype(str))
    if not cuped:
        return ArmEstimates(metric, variants, n, mean, var_mean, var_mean, mean, conversions)
    x_sum = totals["covariate_sum"].to_numpy(dtype=float)
    x_squares = totals["covariate_sum_squares"].to_numpy(dtype=float)
    xy = totals["covariate_cross_sum"].to_numpy(dtype=float)
    # Within-variant centred sums, pooled: the regression of y on x with one intercept per variant.
    sxx = x_squares - x_sum**2 / safe_n
    sxy = xy - x_sum * y_sum / safe_n
    pooled_sxx = float(np.sum(sxx))
    theta = float(np.sum(sxy)) / pooled_sxx if pooled_sxx > 0 else 0.0
    x_all = float(np.sum(x_sum) / np.sum(n))
    with np.errstate(invalid="ignore", divide="ignore"):
        x_mean = x_sum / safe_n
        adjusted = mean - theta * (x_mean - x_all)
        var_y = (
            var_unit
            if metric == "mean"
            else np.maximum(y_squares - y_sum**2 / safe_n, 0.0) / dof  # proportion: ddof 1
        )
        var_adj = np.maximum(var_y + theta**2 * sxx / dof - 2 * theta * sxy / dof, 0.0)
        var_adjusted_mean = np.where(n > 0, var_adj / safe_n, np.nan)
        var_raw = np.where(n > 0, var_y / safe_n, np.nan)
    return ArmEstimates(
        metric,
        variants,
        n,
        np.where(n > 0, adjusted, np.nan),
        var_adjusted_mean,
        var_raw,
        mean,
        conversions,
        theta,
    )


@dataclass(frozen=True)
class Comparison:
    """Each treatment against the control: arrays in treatment order."""

    lift_abs: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    lift_rel: np.ndarray
    rel_ci_low: np.ndarray
    rel_ci_high: np.ndarray
    statistic: np.ndarray
    df: np.ndarray
    """Welch degrees of freedom (means), NaN for z-tests."""
    p_value: np.ndarray
    test: str
    error: list[str | None]


def compare(
    estimates: ArmEstimates, control: int, treatments: list[int], alpha: float
) -> Comparison:
    """The lift of each treatment over the control: two-proportion z-test (pooled standard error
    for the test, unpooled for the interval), Welch t-test for means, z-test for ratios and
    CUPED-adjusted proportions; the relative lift's interval by the delta method on the log."""
    t = np.asarray(treatments, dtype=int)
    m_c, v_c, n_c = estimates.mean[control], estimates.var_mean[control], estimates.units[control]
    m_t, v_t, n_t = estimates.mean[t], estimates.var_mean[t], estimates.units[t]
    lift = m_t - m_c
    se = np.sqrt(v_t + v_c)
    cuped = estimates.theta is not None
    errors: list[str | None] = []
    for i in range(len(t)):
        if n_c < 2 or n_t[i] < 2:
            errors.append("too_few_units")
        elif not np.isfinite(se[i]) or se[i] <= 0:
            errors.append("zero_variance")
        elif estimates.metric == "ratio" and (not np.isfinite(m_c) or not np.isfinite(m_t[i])):
            errors.append("zero_denominator")
        else:
            errors.append(None)
    ok = np.array([e is None for e in errors])
    df = np.full(len(t), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        if estimates.metric == "proportion" and not cuped:
            test = "two-proportion z-test"
            assert estimates.conversions is not None
            x_c, x_t = estimates.conversions[control], estimates.conversions[t]
            pooled = (x_c + x_t) / (n_c + n_t)
            se0 = np.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
            statistic = lift / se0
            p_value = 2 * stats.norm.sf(np.abs(statistic))
            quantile = np.full(len(t), stats.norm.ppf(1 - alpha / 2))
        elif estimates.metric == "mean":
            test = "Welch t-test" + (" (CUPED)" if cuped else "")
            df = (v_t + v_c) ** 2 / (v_t**2 / (n_t - 1) + v_c**2 / (n_c - 1))
            statistic = lift / se
            p_value = 2 * stats.t.sf(np.abs(statistic), df)
            quantile = stats.t.ppf(1 - alpha / 2, df)
        else:
            test = "z-test (delta method)" if estimates.metric == "ratio" else "z-test (CUPED)"
            statistic = lift / se
            p_value = 2 * stats.norm.sf(np.abs(statistic))
            quantile = np.full(len(t), stats.norm.ppf(1 - alpha / 2))
        ci_low, ci_high = lift - quantile * se, lift + quantile * se
        rel, rel_low, rel_high = relative_lift(m_t, v_t, m_c, v_c, quantile)
    nan = np.where(ok, 1.0, np.nan)
    return Comparison(
        lift_abs=lift * nan,
        se=se * nan,
        ci_low=ci_low * nan,
        ci_high=ci_high * nan,
        lift_rel=rel * nan,
        rel_ci_low=rel_low * nan,
        rel_ci_high=rel_high * nan,
        statistic=statistic * nan,
        df=df * nan,
        p_value=np.clip(p_value, 0.0, 1.0) * nan,
        test=test,
        error=errors,
    )


def relative_lift(
    m_t: np.ndarray, v_t: np.ndarray, m_c: float, v_c: float, quantile: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """m_t / m_c - 1 with its interval: the delta method on log(m_t / m_c) when both means are
    positive (an interval that stays above -100%), on the ratio itself otherwise."""
    m_t = np.asarray(m_t, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        rel = m_t / m_c - 1.0
        positive = (m_t > 0) & (m_c > 0)
        log_ratio = np.log(np.where(positive, m_t / m_c, 1.0))
        se_log = np.sqrt(v_t / m_t**2 + v_c / m_c**2)
        log_low = np.exp(log_ratio - quantile * se_log) - 1.0
        log_high = np.exp(log_ratio + quantile * se_log) - 1.0
        se_ratio = np.sqrt(v_t / m_c**2 + m_t**2 * v_c / m_c**4)
        low = np.where(positive, log_low, rel - quantile * se_ratio)
        high = np.where(positive, log_high, rel + quantile * se_ratio)
    undefined = ~np.isfinite(rel) | (m_c == 0)
    return (
        np.where(undefined, np.nan, rel),
        np.where(undefined, np.nan, low),
        np.where(undefined, np.nan, high),
    )


def holm(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error); NaN stays NaN and is not counted."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = len(valid)
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


def benjamini_hochberg(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = len(valid)
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = m * p[order] / np.arange(1, m + 1)
    out[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return out


@dataclass(frozen=True)
class SrmCheck:
    """Sample ratio mismatch: observed units against the planned split, Pearson's chi-square."""

    chi2: float
    df: int
    p_value: float
    alarm: bool
    threshold: float
    table: pd.DataFrame
    """variant, units, observed_share, planned_share, expected_units."""

    @property
    def message(self) -> str:
        if self.alarm:
            return (
                f"sample ratio mismatch (chi-square p = {self.p_value:.2g} < {self.threshold:g}): "
                "the split differs from the plan, so assignment or logging is broken; do not "
                "trust this test"
            )
        return f"no sample ratio mismatch (chi-square p = {self.p_value:.3g})"


def srm_check(
    variants: tuple[str, ...] | list[str],
    units: np.ndarray,
    weights: np.ndarray,
    threshold: float = 0.001,
) -> SrmCheck:
    """Pearson's chi-square of the units per variant against `weights` (df = variants with a
    planned share - 1); the alarm rings below `threshold`."""
    observed = np.asarray(units, dtype=float)
    weights = np.asarray(weights, dtype=float)
    total = observed.sum()
    expected = total * weights
    planned = weights > 0
    if total == 0 or planned.sum() < 2:
        chi2, p = float("nan"), float("nan")
    else:
        unplanned = observed[~planned].sum()
        chi2 = float(np.sum((observed[planned] - expected[planned]) ** 2 / expected[planned]))
        p = 0.0 if unplanned > 0 else float(stats.chi2.sf(chi2, int(planned.sum()) - 1))
    table = pd.DataFrame(
        {
            "variant": list(variants),
            "units": observed.astype(np.int64),
            "observed_share": observed / total if total else np.nan,
            "planned_share": weights,
            "expected_units": expected,
        }
    )
    alarm = bool(np.isfinite(p) and p < threshold)
    return SrmCheck(chi2, int(planned.sum()) - 1, p, alarm, threshold, table)
