"""Bayesian summaries of a lift: the chance to beat control, the expected loss of each choice and
credible intervals. Conversions: beta-binomial with a stated Beta(a, b) prior (Beta(1, 1) by
default), the chance and the loss by one-dimensional numeric integration. Means, ratios and
CUPED-adjusted metrics: a normal model (flat prior on each variant's mean, its variance taken as
the estimate's), in closed form. Credible intervals of the relative lift by Monte Carlo with a
fixed seed. Formulas in docs/experiments.md.

>>> round(beta_chance_to_beat(20 + 1, 80 + 1, 10 + 1, 90 + 1), 4)
0.9752
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import special, stats

_TAIL = 1e-12


@cache
def _gauss_legendre() -> tuple[np.ndarray, np.ndarray]:
    """The 512 Gauss-Legendre nodes and weights, computed at the first use (an eigenvalue
    problem: at import it slowed every command that merely loads the package)."""
    return np.polynomial.legendre.leggauss(512)


def beta_chance_to_beat(a_t: float, b_t: float, a_c: float, b_c: float) -> float:
    """P(T > C) for independent T ~ Beta(a_t, b_t), C ~ Beta(a_c, b_c): the integral of one
    density times the other's distribution function, over the narrower posterior's range
    (its 1e-12 and 1 - 1e-12 quantiles), by Gauss-Legendre quadrature."""
    if _spread(a_t, b_t) <= _spread(a_c, b_c):
        return float(np.clip(_density_times_cdf(a_t, b_t, a_c, b_c), 0.0, 1.0))
    return float(np.clip(1.0 - _density_times_cdf(a_c, b_c, a_t, b_t), 0.0, 1.0))


def _spread(a: float, b: float) -> float:
    return a * b / ((a + b) ** 2 * (a + b + 1))


def _density_times_cdf(a: float, b: float, a_other: float, b_other: float) -> float:
    """The integral of Beta(a, b)'s density times Beta(a_other, b_other)'s distribution."""
    low = float(special.betaincinv(a, b, _TAIL))
    high = float(special.betaincinv(a, b, 1.0 - _TAIL))
    nodes, weights = _gauss_legendre()
    x = 0.5 * (high - low) * nodes + 0.5 * (high + low)
    log_pdf = (a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - special.betaln(a, b)
    integrand = np.exp(log_pdf) * special.betainc(a_other, b_other, x)
    # The mass beyond `high` (at most 1e-12) sees F_other <= 1: counted as 1.
    return float(0.5 * (high - low) * np.sum(weights * integrand)) + _TAIL * float(
        special.betainc(a_other, b_other, high)
    )


def beta_expected_loss(a_t: float, b_t: float, a_c: float, b_c: float) -> float:
    """E[max(C - T, 0)]: what choosing T loses on average (in conversion rate) if C is better.
    E[C 1{C>T}] = E[C] P(C' > T) with C' ~ Beta(a_c + 1, b_c), and E[T 1{T<C}] likewise."""
    mean_c, mean_t = a_c / (a_c + b_c), a_t / (a_t + b_t)
    c_beats_t = 1.0 - beta_chance_to_beat(a_t, b_t, a_c + 1, b_c)
    t_loses = beta_chance_to_beat(a_c, b_c, a_t + 1, b_t)  # P(T' < C), T' ~ Beta(a_t + 1, b_t)
    return max(mean_c * c_beats_t - mean_t * t_loses, 0.0)


def normal_chance_to_beat(lift: float, sd: float) -> float:
    """P(D > 0) for D ~ N(lift, sd^2)."""
    return float(stats.norm.cdf(lift / sd))


def normal_expected_loss(lift: float, sd: float) -> float:
    """E[max(-D, 0)] for D ~ N(lift, sd^2): sd * phi(lift/sd) - lift * Phi(-lift/sd)."""
    z = lift / sd
    return float(sd * stats.norm.pdf(z) - lift * stats.norm.cdf(-z))


@dataclass(frozen=True)
class BayesianLift:
    chance_to_win: float
    expected_loss: float
    """Of choosing the variant: what is lost on average if the control is in fact better."""
    expected_loss_control: float
    """Of keeping the control: what is lost on average if the variant is in fact better."""
    cred_low: float
    cred_high: float
    rel_cred_low: float
    rel_cred_high: float
    model: str


def beta_binomial_lift(
    conversions_t: float,
    units_t: float,
    conversions_c: float,
    units_c: float,
    *,
    prior: tuple[float, float] = (1.0, 1.0),
    alpha: float = 0.05,
    higher_is_better: bool = True,
    rng: np.random.Generator,
    draws: int = 100_000,
) -> BayesianLift:
    """The beta-binomial summary of a variant against control; intervals by Monte Carlo."""
    a, b = prior
    a_t, b_t = a + conversions_t, b + units_t - conversions_t
    a_c, b_c = a + conversions_c, b + units_c - conversions_c
    win = beta_chance_to_beat(a_t, b_t, a_c, b_c)
    loss_t = beta_expected_loss(a_t, b_t, a_c, b_c)  # E[(C - T)+]
    loss_c = beta_expected_loss(a_c, b_c, a_t, b_t)  # E[(T - C)+]
    t = rng.beta(a_t, b_t, draws)
    c = rng.beta(a_c, b_c, draws)
    low, high = np.quantile(t - c, [alpha / 2, 1 - alpha / 2])
    rel_low, rel_high = np.quantile(t / c - 1.0, [alpha / 2, 1 - alpha / 2])
    if not higher_is_better:
        win, loss_t, loss_c = 1.0 - win, loss_c, loss_t
    model = f"beta-binomial, prior Beta({a:g}, {b:g})"
    return BayesianLift(win, loss_t, loss_c, low, high, rel_low, rel_high, model)


def normal_lift(
    mean_t: float,
    var_t: float,
    mean_c: float,
    var_c: float,
    *,
    alpha: float = 0.05,
    higher_is_better: bool = True,
    rng: np.random.Generator,
    draws: int = 100_000,
) -> BayesianLift:
    """The normal-model summary: each variant's mean ~ N(estimate, its variance) a posteriori
    (flat prior), so the lift D ~ N(mean_t - mean_c, var_t + var_c)."""
    lift, sd = mean_t - mean_c, float(np.sqrt(var_t + var_c))
    sign = 1.0 if higher_is_better else -1.0
    win = normal_chance_to_beat(sign * lift, sd)
    loss_t = normal_expected_loss(sign * lift, sd)
    loss_c = normal_expected_loss(-sign * lift, sd)
    q = stats.norm.ppf(1 - alpha / 2)
    t = rng.normal(mean_t, np.sqrt(var_t), draws)
    c = rng.normal(mean_c, np.sqrt(var_c), draws)
    if mean_c != 0:
        rel_low, rel_high = np.quantile(t / c - 1.0, [alpha / 2, 1 - alpha / 2])
    else:
        rel_low = rel_high = float("nan")
    model = "normal, flat prior on each mean"
    return BayesianLift(win, loss_t, loss_c, lift - q * sd, lift + q * sd, rel_low, rel_high, model)
