"""One call analyses a test: every variant against control (frequentist, Bayesian, sequential),
the sample ratio mismatch check, CUPED when a covariate is given, a decision in plain words per
variant with its caveats.

>>> import pandas as pd
>>> summary = pd.DataFrame({"variant": ["A", "B"], "units": [10000, 10000],
...                         "conversions": [1000, 1100]})
>>> result = analyse(summary)
>>> row = result.comparisons.iloc[0]
>>> round(float(row.lift_abs), 4), round(float(row.p_value), 4)
(0.01, 0.0211)
>>> row.decision
'B beats A: +10.0% conversion rate (95% CI +1.4% to +19.3%; p = 0.021)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from omnimetrics.errors import ConfigError
from omnimetrics.experiments.bayesian import beta_binomial_lift, normal_lift
from omnimetrics.experiments.frequentist import (
    ArmEstimates,
    SrmCheck,
    arm_estimates,
    benjamini_hochberg,
    compare,
    holm,
    srm_check,
)
from omnimetrics.experiments.sequential import always_valid, mixing_variance
from omnimetrics.experiments.summary import ExperimentSummary, validate_summary

COLUMNS = (
    "variant",
    "control",
    "metric",
    "control_units",
    "variant_units",
    "control_mean",
    "variant_mean",
    "lift_abs",
    "ci_low",
    "ci_high",
    "lift_rel",
    "rel_ci_low",
    "rel_ci_high",
    "test",
    "statistic",
    "df",
    "p_value",
    "p_holm",
    "p_bh",
    "significant",
    "chance_to_win",
    "expected_loss",
    "expected_loss_control",
    "cred_low",
    "cred_high",
    "rel_cred_low",
    "rel_cred_high",
    "seq_p_value",
    "seq_ci_low",
    "seq_ci_high",
    "power",
    "cuped_variance_reduction",
    "srm_p_value",
    "error",
    "decision",
)
"""The columns of `ExperimentResult.comparisons`, one row per variant against control."""
LABELS = {"proportion": "conversion rate", "mean": "mean per unit", "ratio": "ratio"}


@dataclass(frozen=True)
class ExperimentResult:
    """Everything about one test. `comparisons`: one row per variant against control (`COLUMNS`);
    `variants`: each variant's units, estimate and shares; `looks`: the sequential path (one row
    per variant and look: cumulative units, lift, the naive z p-value of that look, which is not
    safe to stop on, the always-valid p-value and the confidence sequence); `srm`: the sample
    ratio mismatch check."""

    metric: str
    control: str
    alpha: float
    comparisons: pd.DataFrame
    variants: pd.DataFrame
    looks: pd.DataFrame
    srm: SrmCheck
    notes: tuple[str, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The stated choices: test, prior, mixing variance, CUPED theta, adjustments..."""

    def to_result(self, name: str = "experiment", title: str = "Experiment") -> Any:
        """An `omnimetrics.results.Result` with the parts variants, srm and looks."""
        from omnimetrics.results import Result

        parts = (
            Result.of(f"{name}_variants", "Variants", self.variants),
            Result.of(f"{name}_srm", "Sample ratio mismatch", self.srm.table),
            Result.of(f"{name}_looks", "Sequential looks", self.looks),
        )
        figures = {
            "srm_p_value": self.srm.p_value,
            "srm_chi2": self.srm.chi2,
            "srm_alarm": self.srm.alarm,
            "alpha": self.alpha,
            **{k: v for k, v in self.settings.items() if isinstance(v, int | float | str | bool)},
        }
        figures = {  # no NaN in figures: they go to JSON as they are
            k: v for k, v in figures.items() if not (isinstance(v, float) and not np.isfinite(v))
        }
        return Result.of(
            name, title, self.comparisons, parts=parts, figures=figures, notes=self.notes
        )


def analyse(
    summary: Any,
    *,
    metric: str | None = None,
    control: str | None = None,
    weights: Sequence[float] | Mapping[str, float] | None = None,
    alpha: float = 0.05,
    cuped: bool | None = None,
    prior: tuple[float, float] = (1.0, 1.0),
    higher_is_better: bool = True,
    min_effect: float = 0.05,
    sequential_tuning_units: float | None = None,
    srm_threshold: float = 0.001,
    label: str | None = None,
    seed: int = 0,
    draws: int = 100_000,
) -> ExperimentResult:
    """Analyse a summary table (`validate_summary`): each variant against `control`.

    alpha: for every interval (1 - alpha) and the significance calls (Holm-adjusted when there
    are several variants). cuped: use the covariate columns (default: when present).
    prior: Beta prior of conversion rates. min_effect: the relative lift the power is computed
    for, in the decision ("underpowered for a 5% lift"). sequential_tuning_units: the total units
    at which the confidence sequence is tightest (default: the units at the last look; set it to
    the planned sample size when watching a running test). label: the metric's name in the
    decisions. seed, draws: the Monte Carlo of the credible intervals of the relative lift.
    """
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1), e.g. 0.05; got {alpha}.")
    if min(prior) <= 0:
        raise ConfigError(f"The Beta prior's parameters must be positive; got {prior}.")
    checked = validate_summary(summary, metric=metric, control=control, weights=weights)
    if cuped and not checked.has_covariate:
        raise ConfigError(
            "cuped=True needs the columns covariate_sum, covariate_sum_squares and "
            "covariate_cross_sum (a pre-period value per unit)."
        )
    use_cuped = checked.has_covariate if cuped is None else cuped
    label = label or LABELS[checked.metric]
    totals = checked.totals()
    estimates = arm_estimates(totals, checked.metric, cuped=use_cuped)
    c = checked.variants.index(checked.control)
    treatments = [i for i in range(len(checked.variants)) if i != c]
    comparison = compare(estimates, c, treatments, alpha)
    srm = srm_check(checked.variants, estimates.units, checked.weights, srm_threshold)
    rng = np.random.default_rng(seed)
    p_holm = holm(comparison.p_value)
    p_bh = benjamini_hochberg(comparison.p_value)
    decisive = p_holm if len(treatments) > 1 else comparison.p_value
    sequential, looks = _sequential(
        checked, use_cuped, c, treatments, alpha, sequential_tuning_units
    )
    rows = []
    for j, i in enumerate(treatments):
        error = comparison.error[j]
        bayes = _bayes(estimates, c, i, prior, alpha, higher_is_better, rng, draws, error)
        se = comparison.se[j]
        power = _power(estimates.mean[c], se, min_effect, alpha)
        reduction = (
            1.0
            - (estimates.var_mean[i] + estimates.var_mean[c])
            / (estimates.var_mean_raw[i] + estimates.var_mean_raw[c])
            if use_cuped
            else np.nan
        )
        row = {
            "variant": checked.variants[i],
            "control": checked.control,
            "metric": checked.metric,
            "control_units": int(estimates.units[c]),
            "variant_units": int(estimates.units[i]),
            "control_mean": estimates.mean[c],
            "variant_mean": estimates.mean[i],
            "lift_abs": comparison.lift_abs[j],
            "ci_low": comparison.ci_low[j],
            "ci_high": comparison.ci_high[j],
            "lift_rel": comparison.lift_rel[j],
            "rel_ci_low": comparison.rel_ci_low[j],
            "rel_ci_high": comparison.rel_ci_high[j],
            "test": comparison.test,
            "statistic": comparison.statistic[j],
            "df": comparison.df[j],
            "p_value": comparison.p_value[j],
            "p_holm": p_holm[j],
            "p_bh": p_bh[j],
            "significant": bool(np.isfinite(decisive[j]) and decisive[j] < alpha),
            **bayes,
            **sequential[j],
            "power": power,
            "cuped_variance_reduction": reduction,
            "srm_p_value": srm.p_value,
            "error": error,
        }
        row["decision"] = _decision(
            row, decisive[j], alpha, label, min_effect, srm, higher_is_better, checked
        )
        rows.append(row)
    comparisons = pd.DataFrame(rows, columns=list(COLUMNS))
    variants = srm.table.assign(
        mean=estimates.mean,
        mean_unadjusted=estimates.mean_raw,
        se=np.sqrt(estimates.var_mean),
        is_control=[v == checked.control for v in checked.variants],
    )
    notes = _notes(checked, comparison.test, srm, use_cuped, estimates, comparisons, alpha)
    settings = {
        "test": comparison.test,
        "alpha": alpha,
        "bayesian_model": (
            f"beta-binomial, prior Beta({prior[0]:g}, {prior[1]:g})"
            if checked.metric == "proportion" and not use_cuped
            else "normal, flat prior on each mean"
        ),
        "relative_interval": "delta method on log(variant / control)",
        "multiple_comparisons": "Holm (significance) and Benjamini-Hochberg (p_bh)",
        "sequential": "mSPRT, normal mixture N(0, tau^2) (Johari et al. 2022)",
        "sequential_tuning_units": float(
            sequential_tuning_units
            if sequential_tuning_units is not None
            else estimates.units.sum()
        ),
        "looks": len(checked.period_labels()),
        "cuped": use_cuped,
        "cuped_theta": estimates.theta if estimates.theta is not None else float("nan"),
        "min_effect": min_effect,
        "srm_threshold": srm_threshold,
        "seed": seed,
    }
    return ExperimentResult(
        checked.metric, checked.control, alpha, comparisons, variants, looks, srm, notes, settings
    )


def _bayes(
    estimates: ArmEstimates,
    c: int,
    i: int,
    prior: tuple[float, float],
    alpha: float,
    higher_is_better: bool,
    rng: np.random.Generator,
    draws: int,
    error: str | None,
) -> dict[str, float]:
    names = (
        "chance_to_win",
        "expected_loss",
        "expected_loss_control",
        "cred_low",
        "cred_high",
        "rel_cred_low",
        "rel_cred_high",
    )
    if error is not None:
        return dict.fromkeys(names, np.nan)
    if estimates.conversions is not None and estimates.theta is None:
        lift = beta_binomial_lift(
            estimates.conversions[i],
            estimates.units[i],
            estimates.conversions[c],
            estimates.units[c],
            prior=prior,
            alpha=alpha,
            higher_is_better=higher_is_better,
            rng=rng,
            draws=draws,
        )
    else:
        lift = normal_lift(
            estimates.mean[i],
            estimates.var_mean[i],
            estimates.mean[c],
            estimates.var_mean[c],
            alpha=alpha,
            higher_is_better=higher_is_better,
            rng=rng,
            draws=draws,
        )
    return {name: float(getattr(lift, name)) for name in names}


def _power(control_mean: float, se: float, min_effect: float, alpha: float) -> float:
    """Power of the two-sided z-test with the achieved standard error against a lift of
    `min_effect` times the control mean (design power at the achieved size, not observed power)."""
    if not np.isfinite(se) or se <= 0 or control_mean == 0 or not np.isfinite(control_mean):
        return float("nan")
    shift = abs(min_effect * control_mean) / se
    z = stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z))


def _sequential(
    checked: ExperimentSummary,
    use_cuped: bool,
    c: int,
    treatments: list[int],
    alpha: float,
    tuning_units: float | None,
) -> tuple[list[dict[str, float]], pd.DataFrame]:
    looks = checked.looks()
    labels = checked.period_labels()
    k = len(treatments)
    lifts = np.full((len(looks), k), np.nan)
    variances = np.full((len(looks), k), np.nan)
    null_variances = np.full((len(looks), k), np.nan)
    units = np.zeros(len(looks))
    pooled = checked.metric == "proportion" and not use_cuped
    for n, look in enumerate(looks):
        est = arm_estimates(look, checked.metric, cuped=use_cuped)
        units[n] = est.units.sum()
        enough = (est.units[treatments] >= 2) & (est.units[c] >= 2)
        lifts[n] = np.where(enough, est.mean[treatments] - est.mean[c], np.nan)
        variances[n] = np.where(enough, est.var_mean[treatments] + est.var_mean[c], np.nan)
        null_variances[n] = variances[n]
        if pooled:  # the p-value under H0 uses the pooled rate, as the z-test does
            assert est.conversions is not None
            n_t, n_c = est.units[treatments], est.units[c]
            with np.errstate(invalid="ignore", divide="ignore"):
                rate = (est.conversions[treatments] + est.conversions[c]) / (n_t + n_c)
                null_variances[n] = np.where(
                    enough, rate * (1 - rate) * (1 / n_t + 1 / n_c), np.nan
                )
    out, frames = [], []
    for j, i in enumerate(treatments):
        last = variances[-1, j]
        if not np.isfinite(last) or last <= 0:
            out.append({"seq_p_value": np.nan, "seq_ci_low": np.nan, "seq_ci_high": np.nan})
            continue
        tau2 = mixing_variance(last, units[-1], tuning_units, alpha)
        p, low, high = always_valid(lifts[:, j], variances[:, j], alpha, tau2, null_variances[:, j])
        out.append({"seq_p_value": float(p[-1]), "seq_ci_low": low[-1], "seq_ci_high": high[-1]})
        frames.append(
            pd.DataFrame(
                {
                    "variant": checked.variants[i],
                    "look": np.arange(1, len(looks) + 1),
                    "period": labels,
                    "units": units.astype(np.int64),
                    "lift_abs": lifts[:, j],
                    "naive_p_value": 2
                    * stats.norm.sf(np.abs(lifts[:, j]) / np.sqrt(null_variances[:, j])),
                    "seq_p_value": p,
                    "seq_ci_low": low,
                    "seq_ci_high": high,
                    "tau2": tau2,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return out, table


def _percent(x: float) -> str:
    return f"{x * 100:+.1f}%"


def _decision(
    row: dict[str, Any],
    p_decisive: float,
    alpha: float,
    label: str,
    min_effect: float,
    srm: SrmCheck,
    higher_is_better: bool,
    checked: ExperimentSummary,
) -> str:
    variant, control = row["variant"], row["control"]
    level = f"{(1 - alpha) * 100:g}%"
    if row["error"] is not None:
        reasons = {
            "too_few_units": "fewer than 2 units in a variant",
            "zero_variance": "the metric does not vary in either variant",
            "zero_denominator": "a ratio's denominator sums to 0",
        }
        text = f"{variant}: cannot be tested ({reasons.get(row['error'], row['error'])})"
    else:
        if np.isfinite(row["lift_rel"]):
            effect = (
                f"{_percent(row['lift_rel'])} {label} ({level} CI {_percent(row['rel_ci_low'])} "
                f"to {_percent(row['rel_ci_high'])}"
            )
        else:
            effect = (
                f"{row['lift_abs']:+.4g} {label} ({level} CI {row['ci_low']:+.4g} to "
                f"{row['ci_high']:+.4g}"
            )
        adjusted = "Holm-adjusted " if len(checked.variants) > 2 else ""
        if row["significant"]:
            better = (row["lift_abs"] > 0) == higher_is_better
            verb = "beats" if better else "loses to"
            text = f"{variant} {verb} {control}: {effect}; {adjusted}p = {p_decisive:.2g})"
            looks = len(checked.period_labels())
            if looks > 1 and not (row["seq_p_value"] < alpha):
                text += (
                    f"; caveat: not significant by the always-valid test (p = "
                    f"{row['seq_p_value']:.2g}), so only trust this if the test was not stopped on "
                    "a peek"
                )
        else:
            text = (
                f"{variant} vs {control}: not significant ({adjusted}p = {p_decisive:.2g}); "
                f"{effect})"
            )
            power = row["power"]
            if np.isfinite(power):
                if power < 0.8:
                    text += (
                        f"; underpowered for a {min_effect * 100:g}% lift "
                        f"(power {power * 100:.0f}%)"
                    )
                else:
                    text += (
                        f"; a {min_effect * 100:g}% lift would likely have been detected (power "
                        f"{power * 100:.0f}%)"
                    )
    if srm.alarm:
        text = f"sample ratio mismatch (p = {srm.p_value:.2g}): do not trust this test. " + text
    return text


def _notes(
    checked: ExperimentSummary,
    test: str,
    srm: SrmCheck,
    use_cuped: bool,
    estimates: ArmEstimates,
    comparisons: pd.DataFrame,
    alpha: float,
) -> tuple[str, ...]:
    notes = [srm.message[0].upper() + srm.message[1:] + "."]
    notes.append(
        f"{test}; intervals at {(1 - alpha) * 100:g}%; relative lift by the delta method on the "
        "log of the ratio."
    )
    if checked.metric == "proportion" and not use_cuped:
        notes.append(
            "The p-value uses the pooled standard error (no difference under H0), the interval "
            "the unpooled one: at the edge they can disagree."
        )
    if len(checked.variants) > 2:
        notes.append(
            f"{len(checked.variants) - 1} variants against control: significance is called on "
            "Holm-adjusted p-values (p_holm); p_bh controls the false discovery rate instead."
        )
    if use_cuped:
        reduction = comparisons["cuped_variance_reduction"]
        notes.append(
            f"CUPED with the pre-period covariate: theta = {estimates.theta:.4g} (pooled within "
            f"variants); variance of the lift reduced by {np.nanmean(reduction) * 100:.1f}%."
        )
    if not checked.has_periods:
        notes.append(
            "No period column: the sequential p-value and interval treat the data as one look."
        )
    errors = comparisons["error"].dropna()
    if len(errors):
        notes.append(f"Some comparisons cannot be tested: {sorted(set(errors))}.")
    return tuple(notes)
