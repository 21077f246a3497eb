"""The Gamma-Gamma spend model as plain functions on arrays (Fader, Hardie and Lee 2005, "RFM and
CLV"; Fader and Hardie 2013, "The Gamma-Gamma Model of Monetary Value").

A customer's order values are Gamma(p, nu) around their own mean p / nu, and nu is Gamma(q, gamma)
across customers. Parameters are tuples (p, q, gamma); formulas in docs/clv.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import digamma, gammaln

from omnimetrics.clv.estimation import Levels, dot, level_sums, per_value, rows_of


def gamma_gamma_loglik(
    params: Sequence[float], frequency: np.ndarray | Levels, monetary_value: np.ndarray
) -> np.ndarray:
    """Log-density of each repeat buyer's mean order value z given x orders (x > 0, z > 0):
    the mean of x Gamma(p, nu) values is Gamma(px, nu x); nu integrated over Gamma(q, gamma)."""
    p, q, gamma = params
    z = np.asarray(monetary_value, dtype=float)

    shape = per_value(lambda x: p * x, frequency)
    total = rows_of(frequency) * z
    return (
        per_value(lambda x: _per_frequency(params, x), frequency)
        + (shape - 1) * np.log(z)
        - (shape + q) * np.log(gamma + total)
    )


def _per_frequency(params: Sequence[float], x: np.ndarray) -> np.ndarray:
    """The terms of the Gamma-Gamma log-density that depend on the frequency x alone."""
    p, q, gamma = params
    return gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(gamma) + p * x * np.log(x)


def gamma_gamma_score(
    params: Sequence[float], frequency: np.ndarray | Levels, monetary_value: np.ndarray, weights
) -> tuple[float, np.ndarray]:
    """The weighted Gamma-Gamma log-likelihood and its gradient in (p, q, gamma); the terms of
    frequency alone are summed over its distinct values (`level_sums`)."""
    p, q, gamma = params
    z = np.asarray(monetary_value, dtype=float)
    x_rows = rows_of(frequency)
    log_z, total = np.log(z), gamma + x_rows * z
    log_total = np.log(total)
    on_shape = weights * per_value(lambda x: p * x + q, frequency)  # w (p x + q)
    on_x = weights * x_rows
    x, counts = level_sums(frequency, weights)
    value = (
        dot(_per_frequency(params, x), counts)
        + p * dot(on_x, log_z)
        - dot(weights, log_z)
        - dot(on_shape, log_total)
    )
    gradient = np.array([
        dot(x * (digamma(p * x + q) - digamma(p * x) + np.log(x)), counts)
        + dot(on_x, log_z) - dot(on_x, log_total),
        dot(digamma(p * x + q) - digamma(q) + np.log(gamma), counts) - dot(weights, log_total),
        q / gamma * counts.sum() - dot(on_shape, 1 / total),
    ])  # fmt: skip
    return value, gradient


def gamma_gamma_expected_spend(
    params: Sequence[float], frequency: np.ndarray, monetary_value: np.ndarray
) -> np.ndarray:
    """E[M | x, z] = p (gamma + x z) / (p x + q - 1): the posterior mean order value, a weighted
    mean of the population mean p gamma / (q - 1) and the customer's own mean z (the 2013 note).
    Customers without repeat orders (x = 0) get the population mean (needs q > 1)."""
    p, q, gamma = params
    x = np.asarray(frequency, dtype=float)
    z = np.where(x > 0, np.asarray(monetary_value, dtype=float), 0.0)
    return p * (gamma + x * z) / (p * x + q - 1)
