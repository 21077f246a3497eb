"""Planning a two-sided test with equal allocation: units per variant, power, and minimum
detectable effect, for proportions (the normal approximation of the two-proportion z-test:
pooled variance under H0, unpooled under H1) and means (Welch/Student t, noncentral t power).
Formulas in docs/experiments.md.

>>> sample_size_proportions(0.10, 0.10, alpha=0.05, power=0.8)
14751
>>> round(power_means(400, sd=1.0, mde=0.2), 4)
0.8065
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from omnimetrics.errors import ConfigError

_MAX_UNITS = 1e12


def _check(alpha: float, power: float | None = None) -> None:
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1); got {alpha}.")
    if power is not None and not alpha < power < 1:
        raise ConfigError(f"power must be in (alpha, 1), e.g. 0.8; got {power}.")


def _effect(baseline: float, mde: float, relative: bool) -> float:
    delta = baseline * mde if relative else mde
    if delta == 0:
        raise ConfigError("The minimum detectable effect must not be 0.")
    return abs(delta)


# -- proportions -----------------------------------------------------------------------------
def power_proportions(
    units: float, baseline: float, mde: float, *, relative: bool = True, alpha: float = 0.05
) -> float:
    """Power of the two-sided two-proportion z-test with `units` per variant to detect a lift of
    `mde` (relative to `baseline` by default, else absolute) from the rate `baseline`:
    Phi((|d| - z sigma0) / sigma1) + Phi((-|d| - z sigma0) / sigma1)."""
    _check(alpha)
    if not 0 < baseline < 1:
        raise ConfigError(f"The baseline rate must be in (0, 1); got {baseline}.")
    delta = _effect(baseline, mde, relative)
    p1, p2 = baseline, baseline + (delta if mde > 0 else -delta)
    if not 0 < p2 < 1:
        raise ConfigError(
            f"The baseline {baseline} plus the effect gives the rate {p2}, not in (0, 1)."
        )
    z = stats.norm.ppf(1 - alpha / 2)
    pooled = (p1 + p2) / 2
    sigma0 = math.sqrt(2 * pooled * (1 - pooled) / units)
    sigma1 = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / units)
    return float(
        stats.norm.cdf((delta - z * sigma0) / sigma1)
        + stats.norm.cdf((-delta - z * sigma0) / sigma1)
    )


def sample_size_proportions(
    baseline: float,
    mde: float,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Units per variant (rounded up) for `power_proportions` to reach `power`."""
    _check(alpha, power)
    return _solve_units(
        lambda n: power_proportions(n, baseline, mde, relative=relative, alpha=alpha), power
    )


def mde_proportions(
    units: float,
    baseline: float,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """The smallest upward lift (relative by default) detected with `power` by `units` per
    variant."""
    _check(alpha, power)
    top = (1 - baseline) * 0.999999
    top = top / baseline if relative else top

    def gap(effect: float) -> float:
        return power_proportions(units, baseline, effect, relative=relative, alpha=alpha) - power

    if gap(top) < 0:
        raise ConfigError(f"{units:g} units per variant cannot reach power {power}: add units.")
    return float(optimize.brentq(gap, top * 1e-9, top, xtol=1e-12))


# -- means -----------------------------------------------------------------------------------
def power_means(
    units: float,
    sd: float,
    mde: float,
    *,
    baseline: float | None = None,
    alpha: float = 0.05,
) -> float:
    """Power of the two-sided two-sample t-test with `units` per variant, unit standard deviation
    `sd`, to detect a lift `mde` (absolute; relative to `baseline` when given): noncentral t with
    df = 2 units - 2 and noncentrality d / (sd sqrt(2 / units))."""
    _check(alpha)
    if sd <= 0:
        raise ConfigError(f"The standard deviation must be positive; got {sd}.")
    delta = _effect(baseline, mde, True) if baseline is not None else abs(mde)
    df = 2 * units - 2
    noncentrality = delta / (sd * math.sqrt(2 / units))
    critical = stats.t.ppf(1 - alpha / 2, df)
    if noncentrality > 30:  # beyond it scipy's noncentral t is unreliable; power is 1 anyway
        return float(stats.norm.cdf(noncentrality - critical))
    return float(
        stats.nct.sf(critical, df, noncentrality) + stats.nct.cdf(-critical, df, noncentrality)
    )


def sample_size_means(
    sd: float,
    mde: float,
    *,
    baseline: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Units per variant (rounded up) for `power_means` to reach `power`."""
    _check(alpha, power)
    return _solve_units(lambda n: power_means(n, sd, mde, baseline=baseline, alpha=alpha), power)


def mde_means(
    units: float,
    sd: float,
    *,
    baseline: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """The smallest lift (absolute; relative to `baseline` when given) detected with `power`."""
    _check(alpha, power)
    if units < 2:
        raise ConfigError("A t-test needs at least 2 units per variant.")
    scale = abs(baseline) if baseline is not None else 1.0
    if scale == 0:
        raise ConfigError("A relative effect needs a non-zero baseline.")

    def gap(effect: float) -> float:
        return power_means(units, sd, effect * scale, alpha=alpha) - power

    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    top = 2 * z * sd * np.sqrt(2 / units) / scale  # twice the normal approximation
    while gap(top) < 0:
        top *= 2
    return float(optimize.brentq(gap, 1e-12, top, xtol=1e-14))


def _solve_units(power_at: Any, power: float) -> int:
    def gap(n: float) -> float:
        return power_at(n) - power

    low, high = 2.0, 4.0
    while gap(high) < 0:
        low, high = high, high * 2
        if high > _MAX_UNITS:
            raise ConfigError("The effect is too small to detect with any realistic sample.")
    n = optimize.brentq(gap, low, high, xtol=1e-6)
    return math.ceil(n - 1e-9)


# -- one call for `omnimetrics experiment plan` ----------------------------------------------
@dataclass(frozen=True)
class Plan:
    """A test's plan: units per variant, the effect and the power, with the inputs."""

    metric: str
    baseline: float
    sd: float | None
    mde: float
    relative: bool
    alpha: float
    power: float
    units_per_variant: int
    variants: int
    total_units: int
    comparisons: int
    """Treatments against control; alpha is divided by it (Bonferroni) when above 1."""
    solved_for: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan(
    metric: str,
    baseline: float,
    *,
    sd: float | None = None,
    mde: float | None = None,
    units: int | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    relative: bool = True,
    variants: int = 2,
    bonferroni: bool = True,
) -> Plan:
    """Give two of `mde`, `units` (per variant) and `power` (default 0.8 when `units` or `mde`
    is missing); the third is solved. `metric` is "proportion" (baseline rate) or "mean"
    (baseline mean, needs `sd` of the unit value). With more than two variants, each treatment
    is tested against control at alpha / (variants - 1) when `bonferroni`."""
    if metric not in ("proportion", "mean"):
        raise ConfigError(f"Plan a 'proportion' or a 'mean' metric; got {metric!r}.")
    if metric == "mean" and sd is None:
        raise ConfigError("A mean metric needs `sd`, the standard deviation of the unit value.")
    if variants < 2:
        raise ConfigError(f"A test has at least 2 variants; got {variants}.")
    given = [
        name for name, v in (("mde", mde), ("units", units), ("power", power)) if v is not None
    ]
    if len(given) == 3:
        raise ConfigError("Give two of mde, units and power; the third is computed.")
    if power is None and (mde is None or units is None):
        power = 0.8
    comparisons = variants - 1
    level = alpha / comparisons if bonferroni and comparisons > 1 else alpha
    base = baseline if relative else None
    assert sd is not None or metric == "proportion"
    if mde is not None and units is not None:
        solved = "power"
        if metric == "proportion":
            power = power_proportions(units, baseline, mde, relative=relative, alpha=level)
        else:
            power = power_means(units, sd, mde, baseline=base, alpha=level)  # type: ignore[arg-type]
    elif mde is not None:
        solved = "units"
        assert power is not None
        if metric == "proportion":
            units = sample_size_proportions(
                baseline, mde, relative=relative, alpha=level, power=power
            )
        else:
            units = sample_size_means(sd, mde, baseline=base, alpha=level, power=power)  # type: ignore[arg-type]
    elif units is not None:
        solved = "mde"
        assert power is not None
        if metric == "proportion":
            mde = mde_proportions(units, baseline, relative=relative, alpha=level, power=power)
        else:
            mde = mde_means(units, sd, baseline=base, alpha=level, power=power)  # type: ignore[arg-type]
    else:
        raise ConfigError("Give the minimum detectable effect (mde) or the units per variant.")
    assert units is not None and mde is not None and power is not None
    return Plan(
        metric=metric,
        baseline=baseline,
        sd=sd,
        mde=float(mde),
        relative=relative,
        alpha=alpha,
        power=float(np.round(power, 12)),
        units_per_variant=int(units),
        variants=variants,
        total_units=int(units) * variants,
        comparisons=comparisons,
        solved_for=solved,
    )
