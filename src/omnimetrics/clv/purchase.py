"""Purchase-frequency models as plain functions on arrays: BG/NBD, modified BG/NBD, Pareto/NBD.

A customer's likelihood splits into a part both histories share (`common`), the history "still
alive at T" (`alive`) and "dropped out after the last purchase" (`dead`), all in logs:
log L = common + logaddexp(alive, dead) and P(alive) = exp(alive - logaddexp(alive, dead)).
`frequency` is the number of repeat purchases x, `recency` the time of the last one t_x and `T`
the time since the first purchase, in one time unit; each may be given as `Levels`.
Parameters are tuples in the papers' order. Formulas and sources: docs/clv.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from scipy.special import betaln, digamma, gammaln, hyp2f1

from omnimetrics.clv.estimation import Levels, dot, level_sums, per_pair, per_value, rows_of

Array = np.ndarray | Levels


class Parts(NamedTuple):
    """The three log terms of each customer's likelihood."""

    common: np.ndarray
    alive: np.ndarray
    dead: np.ndarray


def log_likelihood(parts: Parts) -> np.ndarray:
    """Each customer's log-likelihood."""
    return parts.common + log_sum(parts.alive, parts.dead)


def alive_probability(parts: Parts) -> np.ndarray:
    """Each customer's probability of being alive at T, given the history."""
    return np.exp(parts.alive - log_sum(parts.alive, parts.dead))


def log_sum(alive: np.ndarray, dead: np.ndarray) -> np.ndarray:
    """log(exp(alive) + exp(dead)) for finite `alive` (`dead` may be -inf), as numpy's logaddexp
    but about five times faster; log(1 + e) for e in [0, 1] loses at most 1e-16 against log1p."""
    high = np.maximum(alive, dead)
    return high + np.log(1 + np.exp(np.minimum(alive, dead) - high))


# --- BG/NBD and modified BG/NBD ------------------------------------------------------------


def bg_nbd_parts(params: Sequence[float], frequency: Array, recency: Array, T: Array) -> Parts:
    """BG/NBD (Fader, Hardie and Lee 2005, eq. 6); params (r, alpha, a, b)."""
    return _beta_geometric_parts(params, frequency, recency, T, first_dropout=0)


def mbg_nbd_parts(params: Sequence[float], frequency: Array, recency: Array, T: Array) -> Parts:
    """Modified BG/NBD (Batislam, Denizel and Filiztekin 2007): may also drop out at time 0."""
    return _beta_geometric_parts(params, frequency, recency, T, first_dropout=1)


def bg_nbd_loglik(params: Sequence[float], frequency: Array, recency: Array, T: Array):
    """Each customer's BG/NBD log-likelihood."""
    return log_likelihood(bg_nbd_parts(params, frequency, recency, T))


def mbg_nbd_loglik(params: Sequence[float], frequency: Array, recency: Array, T: Array):
    """Each customer's modified BG/NBD log-likelihood."""
    return log_likelihood(mbg_nbd_parts(params, frequency, recency, T))


def _beta_geometric_parts(params, frequency, recency, T, first_dropout: int) -> Parts:
    """`first_dropout` 1: a coin is also tossed at the first purchase (MBG/NBD), 0: not (BG/NBD).

    The customer has survived x + k tosses if alive, and dropped at the last of them if not:
    Beta(a, b + x + k) and Beta(a + 1, b + x + k - 1) integrals over the dropout probability p.
    """
    r, alpha, a, b = params
    k = first_dropout
    base = betaln(a, b)

    def common(x):
        return gammaln(r + x) - gammaln(r) + r * np.log(alpha)

    def alive_p(x):
        return betaln(a, b + x + k) - base

    def dead_p(x):
        tosses = x + k
        safe = np.where(tosses > 0, b + tosses - 1, 1.0)  # no dead history without a toss
        return np.where(tosses > 0, betaln(a + 1, safe) - base, -np.inf)

    shape = per_value(lambda x: r + x, frequency)
    return Parts(
        common=per_value(common, frequency),
        alive=per_value(alive_p, frequency) - shape * per_value(lambda y: np.log(alpha + y), T),
        dead=per_value(dead_p, frequency) - shape * per_value(lambda y: np.log(alpha + y), recency),
    )


def bg_nbd_score(params, frequency, recency, T, weights) -> tuple[float, np.ndarray]:
    """The weighted BG/NBD log-likelihood and its gradient in (r, alpha, a, b)."""
    return _beta_geometric_score(params, frequency, recency, T, weights, first_dropout=0)


def mbg_nbd_score(params, frequency, recency, T, weights) -> tuple[float, np.ndarray]:
    """The weighted modified BG/NBD log-likelihood and its gradient in (r, alpha, a, b)."""
    return _beta_geometric_score(params, frequency, recency, T, weights, first_dropout=1)


def _beta_geometric_score(params, frequency, recency, T, weights, first_dropout: int):
    """d log L = d common + P(alive) d alive + (1 - P(alive)) d dead, term by term: digammas
    from the gamma and beta functions, -log(alpha + y) and -(r + x) / (alpha + y). Each sum over
    customers is a sum over the distinct values of one column (`level_sums`)."""
    r, alpha, a, b = params
    k = first_dropout
    parts = _beta_geometric_parts(params, frequency, recency, T, k)
    total = log_sum(parts.alive, parts.dead)
    on_alive = weights * np.exp(parts.alive - total)  # weight x P(alive)
    on_dead = weights - on_alive
    shape = per_value(lambda x: r + x, frequency)

    x, counts = level_sums(frequency, weights)
    _, alive_counts = level_sums(frequency, on_alive)
    dead_counts = counts - alive_counts
    tosses = x + k
    end = digamma(a + b + tosses)
    base_a, base_b = digamma(a + b) - digamma(a), digamma(a + b) - digamma(b)
    last_b = digamma(np.where(tosses > 0, b + tosses - 1, 1.0))  # no dead term without tosses

    ends, alive_at_end = level_sums(T, on_alive)
    _, shape_at_end = level_sums(T, on_alive * shape)
    lasts, dead_at_last = level_sums(recency, on_dead)
    _, shape_at_last = level_sums(recency, on_dead * shape)
    gradient = np.array([
        dot(digamma(r + x) - digamma(r) + np.log(alpha), counts)
        - dot(np.log(alpha + ends), alive_at_end) - dot(np.log(alpha + lasts), dead_at_last),
        r / alpha * counts.sum()
        - dot(shape_at_end, 1 / (alpha + ends)) - dot(shape_at_last, 1 / (alpha + lasts)),
        dot(base_a - end, counts) + digamma(a + 1) * dead_counts.sum()
        + digamma(a) * alive_counts.sum(),
        dot(base_b - end, counts) + dot(digamma(b + tosses), alive_counts)
        + dot(last_b, dead_counts),
    ])  # fmt: skip
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    return dot(common, counts) + dot(weights, total), gradient


def bg_nbd_expected(params, t, frequency, recency, T) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] under BG/NBD (Fader, Hardie and Lee 2005, eq. 10)."""
    return _beta_geometric_expected(params, t, frequency, recency, T, first_dropout=0)


def mbg_nbd_expected(params, t, frequency, recency, T) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] under the modified BG/NBD (Batislam et al. 2007)."""
    return _beta_geometric_expected(params, t, frequency, recency, T, first_dropout=1)


def _beta_geometric_expected(params, t, frequency, recency, T, first_dropout: int) -> np.ndarray:
    """P(alive) times the expectation of a new customer with the posterior (r + x, alpha + T,
    a, b + x + k), whose 2F1 is taken through Euler's transformation:
    ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+k; c; z) = (1-z)^(a-1) 2F1(a+b+k-1-r, a-1; c; z),
    with c = a+b+x+k-1 and z = t/(alpha+T+t): no power of (r + x) left to overflow."""
    r, alpha, a, b = params
    k = first_dropout
    alive = alive_probability(_beta_geometric_parts(params, frequency, recency, T, k))
    t = np.asarray(t, dtype=float)

    def if_alive(x, age):  # depends on (x, T) only: computed once per distinct pair
        log_kept = np.log(alpha + age) - np.log(alpha + age + t)  # log(1 - z)
        c = a + b + x + k - 1
        z = t / (alpha + age + t)
        with np.errstate(invalid="ignore", over="ignore"):
            value = (
                c
                / (a - 1)
                * (1 - np.exp((a - 1) * log_kept) * hyp2f1(a + b + k - 1 - r, a - 1, c, z))
            )
        # A fit with dropout vanishing (b in the tens of thousands) overflows 2F1: there the
        # expectation is its limit without dropout, (r + x) t / (alpha + T).
        return np.where(np.isfinite(value), value, (r + x) * t / (alpha + age))

    return per_pair(if_alive, frequency, T) * alive


def bg_nbd_expected_new(params: Sequence[float], t) -> np.ndarray:
    """E[X(t)]: expected purchases of a new customer in (0, t] (Fader, Hardie, Lee 2005, eq. 9)."""
    r, alpha, a, b = params
    t = np.asarray(t, dtype=float)
    kept = (alpha / (alpha + t)) ** r
    return (a + b - 1) / (a - 1) * (1 - kept * hyp2f1(r, b, a + b - 1, t / (alpha + t)))


def mbg_nbd_expected_new(params: Sequence[float], t) -> np.ndarray:
    """E[X(t)] for a new customer under the modified BG/NBD (Batislam et al. 2007)."""
    r, alpha, a, b = params
    t = np.asarray(t, dtype=float)
    kept = (alpha / (alpha + t)) ** r
    return b / (a - 1) * (1 - kept * hyp2f1(r, b + 1, a + b, t / (alpha + t)))


# --- Pareto/NBD -----------------------------------------------------------------------------


def pareto_nbd_parts(params: Sequence[float], frequency: Array, recency: Array, T: Array) -> Parts:
    """Pareto/NBD (Schmittlein, Morrison and Colombo 1987; Fader and Hardie 2005, eqs. 22-23).

    `dead` is log(s / (r+s+x) * A0) with A0 = F(t_x) - F(T), computed as
    log F(t_x) + log(1 - F(T) / F(t_x)); F is the published 2F1 form with its branch on
    alpha >= beta, its 2F1 taken in logs through Euler's transformation (see `_pareto_log_f`).
    """
    r, alpha, s, beta = params

    def common(x):
        return gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)

    alive = -per_value(lambda x: r + x, frequency) * per_value(
        lambda y: np.log(alpha + y), T
    ) - s * per_value(lambda y: np.log(beta + y), T)
    x = rows_of(frequency)
    log_f_recency = _pareto_log_f(params, x, rows_of(recency))
    log_f_end = _pareto_log_f(params, x, rows_of(T))
    with np.errstate(divide="ignore"):  # A0 = 0 where recency == T: log 0 = -inf is right
        log_a0 = log_f_recency + np.log(-np.expm1(np.minimum(log_f_end - log_f_recency, 0.0)))
    dead = per_value(lambda v: np.log(s) - np.log(r + s + v), frequency) + log_a0
    return Parts(common=per_value(common, frequency), alive=alive, dead=dead)


def pareto_nbd_loglik(params: Sequence[float], frequency: Array, recency: Array, T: Array):
    """Each customer's Pareto/NBD log-likelihood."""
    return log_likelihood(pareto_nbd_parts(params, frequency, recency, T))


def _pareto_log_f(params, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log F(y), F(y) = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+y)) / (alpha+y)^(r+s+x) if
    alpha >= beta, else 2F1(r+s+x, r+x; r+s+x+1; (beta-alpha)/(beta+y)) / (beta+y)^(r+s+x).

    Euler's transformation 2F1(a, b; c; z) = (1-z)^(c-a-b) 2F1(c-a, c-b; c; z) turns both into a
    2F1 whose first argument is 1 (a series of positive, shrinking terms): the published 2F1 of
    the alpha < beta branch grows like (1-z)^(1-r-x), which overflows for frequent buyers.
    """
    r, alpha, s, beta = params
    c = r + s + x + 1
    log_alpha, log_beta = np.log(alpha + y), np.log(beta + y)
    if alpha >= beta:
        z = (alpha - beta) / (alpha + y)
        return -(r + x) * log_alpha - s * log_beta + np.log(hyp2f1(1.0, r + x, c, z))
    z = (beta - alpha) / (beta + y)
    return (1 - r - x) * log_alpha - (s + 1) * log_beta + np.log(hyp2f1(1.0, s + 1, c, z))


def pareto_nbd_expected(params, t, frequency, recency, T) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] under Pareto/NBD (Fader and Hardie 2005):
    P(alive) (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]."""
    r, alpha, s, beta = params
    alive = alive_probability(pareto_nbd_parts(params, frequency, recency, T))
    x, T = rows_of(frequency), rows_of(T)
    return (r + x) * (beta + T) / (alpha + T) * _lifetime_share(s, t, beta + T) * alive


def pareto_nbd_expected_new(params: Sequence[float], t) -> np.ndarray:
    """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)] for a new customer."""
    r, alpha, s, beta = params
    return r * beta / alpha * _lifetime_share(s, t, beta)


def _lifetime_share(s: float, t, scale) -> np.ndarray:
    """[1 - (scale/(scale+t))^(s-1)] / (s-1), and its limit log(1 + t/scale) at s = 1."""
    growth = np.log1p(np.asarray(t, dtype=float) / scale)
    if abs(s - 1) < 1e-12:
        return growth
    return -np.expm1(-(s - 1) * growth) / (s - 1)


class Functions(NamedTuple):
    """The plain functions of one purchase model, named for the class that binds them."""

    parts: Callable[..., Parts]
    score: Callable[..., tuple[float, np.ndarray]] | None
    """The weighted log-likelihood and its gradient; None: central differences of `parts`."""
    expected: Callable[..., np.ndarray]
    expected_new: Callable[..., np.ndarray]


BG_NBD = Functions(bg_nbd_parts, bg_nbd_score, bg_nbd_expected, bg_nbd_expected_new)
MBG_NBD = Functions(mbg_nbd_parts, mbg_nbd_score, mbg_nbd_expected, mbg_nbd_expected_new)
PARETO_NBD = Functions(pareto_nbd_parts, None, pareto_nbd_expected, pareto_nbd_expected_new)
