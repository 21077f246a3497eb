"""Purchase histories drawn from the CLV models themselves, for recovery tests and benchmarks.

Each draw is vectorised over customers: a customer's Poisson purchase count in (0, T] and the
order statistics of its uniform purchase times give frequency and recency without drawing every
purchase; the holdout count is what the same customer buys in (T, T + holdout].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class History(NamedTuple):
    """Simulated RFM columns, the holdout purchases, and each customer's true state at T."""

    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    holdout: np.ndarray
    alive: np.ndarray


def simulate_bg_nbd(
    params: Sequence[float],
    T: np.ndarray,
    holdout: float,
    rng: np.random.Generator,
    first_dropout: bool = False,
) -> History:
    """BG/NBD customers (MBG/NBD with `first_dropout`): Poisson(lambda) purchases, lambda ~
    Gamma(r, 1/alpha); inactive after the J-th repeat purchase, J ~ Geometric(p) on 1, 2, ...
    (on 0, 1, ... with `first_dropout`), p ~ Beta(a, b)."""
    r, alpha, a, b = params
    T = np.asarray(T, dtype=float)
    rate = rng.gamma(r, 1 / alpha, len(T))
    allowed = rng.geometric(rng.beta(a, b, len(T))) - int(first_dropout)
    bought = rng.poisson(rate * T)
    frequency = np.minimum(bought, allowed)
    # the x-th of n uniform times on (0, T] is T * Beta(x, n - x + 1)
    has = frequency > 0
    recency = np.zeros(len(T))
    recency[has] = T[has] * rng.beta(frequency[has], bought[has] - frequency[has] + 1)
    alive = allowed > bought
    later = np.where(alive, np.minimum(rng.poisson(rate * holdout), allowed - bought), 0)
    return History(frequency.astype(float), recency, T, later.astype(float), alive)


def simulate_pareto_nbd(
    params: Sequence[float], T: np.ndarray, holdout: float, rng: np.random.Generator
) -> History:
    """Pareto/NBD customers: Poisson(lambda) purchases during an Exponential(mu) lifetime,
    lambda ~ Gamma(r, 1/alpha), mu ~ Gamma(s, 1/beta)."""
    r, alpha, s, beta = params
    T = np.asarray(T, dtype=float)
    rate = rng.gamma(r, 1 / alpha, len(T))
    lifetime = rng.exponential(1 / rng.gamma(s, 1 / beta, len(T)))
    active = np.minimum(lifetime, T)
    frequency = rng.poisson(rate * active)
    has = frequency > 0
    recency = np.zeros(len(T))
    recency[has] = active[has] * rng.beta(frequency[has], 1)  # the last of x uniform times
    later = rng.poisson(rate * np.clip(lifetime - T, 0, holdout))
    return History(frequency.astype(float), recency, T, later.astype(float), lifetime > T)


def simulate_gamma_gamma(
    params: Sequence[float], frequency: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Mean order value of each customer's `frequency` orders (0 where none): orders are
    Gamma(p, 1/nu), nu ~ Gamma(q, 1/gamma); the mean of x of them is Gamma(p x, 1/(nu x))."""
    p, q, gamma = params
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1 / gamma, len(x))
    has = x > 0
    mean_value = np.zeros(len(x))
    mean_value[has] = rng.gamma(p * x[has], 1 / (nu[has] * x[has]))
    return mean_value
