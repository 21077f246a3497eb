"""Always-valid inference for a lift watched at every look: the mixture sequential probability
ratio test with a normal mixing distribution (Johari, Koomen, Pekelis & Walsh 2017/2022), whose
inverted test is the normal-mixture confidence sequence of Howard, Ramdas, McAuliffe & Sekhon
(2021). Peeking daily keeps the error rate at alpha. Formulas in docs/experiments.md.

>>> round(float(mixture_ratio(lift=0.02, variance=1e-4, tau2=1e-4)), 3)
1.922
"""

from __future__ import annotations

import numpy as np


def optimal_mixing_ratio(alpha: float) -> float:
    """r = tau^2 / V* that makes the confidence sequence narrowest when the estimate's variance
    is V*: the root of r = log(1 + r) - 2 log(alpha) (Howard et al. 2021 and Waudby-Smith et al.
    2021 use the approximation -2 log(alpha) + log(1 - 2 log(alpha)))."""
    c = -2.0 * np.log(alpha)
    r = c + np.log1p(c)
    for _ in range(50):
        r = c + np.log1p(r)
    return float(r)


def mixture_ratio(
    lift: float | np.ndarray, variance: float | np.ndarray, tau2: float
) -> np.ndarray:
    """The mSPRT statistic for H0: lift = 0 with the estimate ~ N(lift, variance) and the mixing
    prior lift ~ N(0, tau2): sqrt(V / (V + tau2)) exp(lift^2 tau2 / (2 V (V + tau2)))."""
    v = np.asarray(variance, dtype=float)
    d = np.asarray(lift, dtype=float)
    log_ratio = 0.5 * np.log(v / (v + tau2)) + d**2 * tau2 / (2 * v * (v + tau2))
    return np.exp(np.minimum(log_ratio, 700.0))


def half_width(variance: float | np.ndarray, tau2: float, alpha: float) -> np.ndarray:
    """Half-width of the confidence sequence at a look: the lifts the mSPRT does not reject,
    sqrt(V (V + tau2) / tau2 * (log((V + tau2) / V) - 2 log alpha))."""
    v = np.asarray(variance, dtype=float)
    return np.sqrt(v * (v + tau2) / tau2 * (np.log((v + tau2) / v) - 2 * np.log(alpha)))


def always_valid(
    lift: np.ndarray,
    variance: np.ndarray,
    alpha: float,
    tau2: float,
    null_variance: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per look (in order): the always-valid p-value (running minimum of 1 / mixture ratio) and
    the confidence sequence (running intersection of the per-look intervals). `null_variance`
    (default `variance`) is the estimate's variance under H0 for the p-value, e.g. the pooled one
    of two proportions, as the fixed-horizon test has it. Looks with an undefined variance leave
    the previous values."""
    lift = np.asarray(lift, dtype=float)
    variance = np.asarray(variance, dtype=float)
    null = variance if null_variance is None else np.asarray(null_variance, dtype=float)
    usable = np.isfinite(lift) & np.isfinite(variance) & (variance > 0)
    testable = usable & np.isfinite(null) & (null > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = mixture_ratio(lift, null, tau2)
        p_look = np.where(testable, np.minimum(1.0, 1.0 / ratio), 1.0)
        width = np.where(usable, half_width(variance, tau2, alpha), np.inf)
    low = np.where(usable, lift - width, -np.inf)
    high = np.where(usable, lift + width, np.inf)
    p = np.minimum.accumulate(p_look)
    low, high = np.maximum.accumulate(low), np.minimum.accumulate(high)
    # An empty intersection (possible with probability <= alpha) keeps the last interval.
    empty = low > high
    low = np.where(empty, lift - width, low)
    high = np.where(empty, lift + width, high)
    undefined = ~np.isfinite(low) | ~np.isfinite(high)
    return p, np.where(undefined, np.nan, low), np.where(undefined, np.nan, high)


def mixing_variance(
    variance_last: float, units_last: float, tuning_units: float | None, alpha: float
) -> float:
    """tau^2 for a sequence tightest when `tuning_units` units are in (default: the last look's):
    V* = variance_last * units_last / tuning_units, tau^2 = r(alpha) V*."""
    target = units_last if tuning_units is None else tuning_units
    v_star = variance_last * units_last / target
    return optimal_mixing_ratio(alpha) * v_star
