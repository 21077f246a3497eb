"""Maximum likelihood for the CLV models: distinct rows, the optimiser, standard errors.

A customer table compresses to its distinct rows with counts (`distinct_rows`), and a column of
few distinct values (frequency; recency and T in whole days or weeks) to its `Levels`, so that the
special functions of a log-likelihood run once per distinct value, not once per customer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from omnimetrics.errors import ConfigError


@dataclass(frozen=True)
class Levels:
    """A column as its distinct `values` and each row's index into them (`codes`)."""

    values: np.ndarray
    codes: np.ndarray

    @classmethod
    def of(cls, column: np.ndarray) -> Levels:
        codes, values = pd.factorize(np.asarray(column, dtype=float))
        return cls(np.asarray(values, dtype=float), codes)

    def rows(self) -> np.ndarray:
        """The column itself, one value per row."""
        return self.values[self.codes]


def per_value(function: Callable[[np.ndarray], np.ndarray], column: np.ndarray | Levels):
    """`function(column)`, computed once per distinct value when the column is given as Levels."""
    if isinstance(column, Levels):
        return function(column.values)[column.codes]
    return function(np.asarray(column, dtype=float))


def per_pair(
    function: Callable[[np.ndarray, np.ndarray], np.ndarray],
    first: np.ndarray | Levels,
    second: np.ndarray | Levels,
) -> np.ndarray:
    """`function(first, second)` (its last axis along the rows), computed once per distinct pair
    of values when both columns are given as Levels."""
    if not (isinstance(first, Levels) and isinstance(second, Levels)):
        return function(rows_of(first), rows_of(second))
    width = len(second.values)
    codes, pairs = pd.factorize(first.codes * width + second.codes)
    return function(first.values[pairs // width], second.values[pairs % width])[..., codes]


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """sum(a * b), without BLAS: a threaded BLAS dot on a busy machine can take 30 times longer."""
    return float(np.einsum("i,i->", a, b))


def level_sums(column: np.ndarray | Levels, row_weights: np.ndarray):
    """(values, sums): sum_i row_weights_i f(column_i) = f(values) @ sums, where `values` are
    the column's distinct values when it is given as Levels, else the column itself."""
    if isinstance(column, Levels):
        sums = np.bincount(column.codes, weights=row_weights, minlength=len(column.values))
        return column.values, sums
    return np.asarray(column, dtype=float), row_weights


def rows_of(column: np.ndarray | Levels) -> np.ndarray:
    """The plain array of a column given as an array or as Levels."""
    return column.rows() if isinstance(column, Levels) else np.asarray(column, dtype=float)


def distinct_rows(
    *columns: np.ndarray, weights: np.ndarray | None = None
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The distinct rows of `columns`, their summed weights, and each input row's distinct row.

    `columns[k][inverse]` gives back the input; hashing (pandas.factorize), not sorting, so a
    million rows take a fraction of a second.
    """
    n = len(columns[0])
    key = np.zeros(n, dtype=np.int64)
    for column in columns:
        codes, values = pd.factorize(column)
        key, _ = pd.factorize(key * len(values) + codes)  # re-coded: the key stays below n
    inverse, first = key, np.empty(key.max() + 1 if n else 0, dtype=np.int64)
    first[inverse] = np.arange(n)
    counts = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    summed = np.bincount(inverse, weights=counts, minlength=len(first))
    return [np.asarray(column)[first] for column in columns], summed, inverse


@dataclass(frozen=True)
class Likelihood:
    """A weighted log-likelihood of positive parameters, with its gradient where known.

    `value(params)` is the log-likelihood; `score(params)`, if given, returns it with its gradient
    in the natural parameters. Without `score`, derivatives are central differences of `value`.
    """

    value: Callable[[np.ndarray], float]
    score: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None

    def gradient(self, params: np.ndarray) -> np.ndarray:
        if self.score is not None:
            return self.score(params)[1]
        steps = 1e-6 * np.abs(params)
        return np.array([
            (self.value(params + step) - self.value(params - step)) / (2 * step[i])
            for i, step in enumerate(np.diag(steps))
        ])  # fmt: skip

    def hessian(self, params: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """Central differences of the gradient, or second differences of the value."""
        shifts = np.diag(steps)
        if self.score is not None:
            rows = [(self.gradient(params + h) - self.gradient(params - h)) / (2 * h[i])
                    for i, h in enumerate(shifts)]  # fmt: skip
            result = np.array(rows)
            return (result + result.T) / 2
        k, centre = len(params), self.value(params)
        result = np.empty((k, k))
        for i in range(k):
            up, down = self.value(params + shifts[i]), self.value(params - shifts[i])
            result[i, i] = (up - 2 * centre + down) / steps[i] ** 2
            for j in range(i):
                result[i, j] = result[j, i] = (
                    self.value(params + shifts[i] + shifts[j])
                    - self.value(params + shifts[i] - shifts[j])
                    - self.value(params - shifts[i] + shifts[j])
                    + self.value(params - shifts[i] - shifts[j])
                ) / (4 * steps[i] * steps[j])
        return result

    def in_logs(self, scale: float) -> Likelihood:
        """The negative log-likelihood / scale as a function of log-parameters (to minimise)."""

        def value(theta: np.ndarray) -> float:
            result = -self.value(np.exp(theta)) / scale
            return result if np.isfinite(result) else np.inf

        if self.score is None:
            return Likelihood(value)
        score = self.score

        def logs_score(theta: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(theta)
            result, gradient = score(params)
            if not np.isfinite(result) or not np.all(np.isfinite(gradient)):
                return np.inf, np.zeros(len(theta))
            return -result / scale, -gradient * params / scale

        return Likelihood(value, logs_score)


UPPER_LOG = 16.0
"""Parameters stay under e^16 (about 9e6): beyond, differences of log-gamma functions of
numbers that large lose the digits the likelihood needs (a BG/NBD fit whose dropout vanishes
drifted to a and b of 1e12 and stopped at a different point from one run to the next)."""


@dataclass(frozen=True)
class Estimate:
    """A maximum-likelihood fit: the estimates, their standard errors and the log-likelihood."""

    params: dict[str, float]
    std_errors: dict[str, float]
    log_likelihood: float
    iterations: int
    notes: list[str]


def maximise(
    likelihood: Likelihood, start: Sequence[float], names: Sequence[str], model: str
) -> Estimate:
    """Maximise a log-likelihood (a weighted sum over customers) over positive parameters.

    The search runs on log-parameters (L-BFGS-B), is polished by Newton steps, and the standard
    errors come from the inverse Hessian of the negative log-likelihood in the natural parameters.
    """
    first = likelihood.value(np.asarray(start, dtype=float))
    if not np.isfinite(first):
        raise ConfigError(
            f"The {model} fit failed: the log-likelihood is not finite at the start "
            f"{_named(names, np.asarray(start))}. Check the frequency, recency and T columns "
            "(one time unit, recency <= T) and the mean order values."
        )
    objective = likelihood.in_logs(scale=max(abs(first), 1.0))
    theta = np.log(np.asarray(start, dtype=float))
    with np.errstate(invalid="ignore"):  # inf - inf where a trial step leaves the finite region
        result = minimize(
            objective.score or objective.value,
            theta,
            jac=True if objective.score else "3-point",
            method="L-BFGS-B",
            bounds=[(-30.0, UPPER_LOG)] * len(theta),
            options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-9},
        )
    if not np.isfinite(result.fun):
        raise ConfigError(
            f"The {model} fit failed: the optimiser left the region where the log-likelihood is "
            f"finite ({result.message}). Check the frequency, recency and T columns."
        )
    theta = _polish(objective, result.x)
    params = np.exp(theta)
    slope = np.abs(objective.gradient(theta))
    # parameters running to 0 or infinity (|log| >= 15) leave a slope: the model notes them
    if np.all(np.abs(theta) < 15) and slope.max() > 1e-5:
        raise ConfigError(
            f"The {model} fit did not converge ({result.message}; largest slope "
            f"{slope.max():.2g} at {_named(names, params)}). Check the inputs (one time "
            "unit for recency and T), or try another model."
        )
    curvature = -likelihood.hessian(params, steps=1e-4 * params)
    std_errors, note = _std_errors(curvature, names)
    return Estimate(
        params=_named(names, params),
        std_errors=std_errors,
        log_likelihood=float(likelihood.value(params)),
        iterations=int(result.nit),
        notes=[note] if note else [],
    )


def _polish(objective: Likelihood, theta: np.ndarray) -> np.ndarray:
    """Newton steps on log-parameters from the quasi-Newton optimum, kept while they help."""
    best = objective.value(theta)
    for _ in range(3):
        gradient = objective.gradient(theta)
        if np.max(np.abs(gradient)) < 1e-12:
            break
        curvature = objective.hessian(theta, steps=np.full(len(theta), 1e-4))
        try:
            step = np.linalg.solve(curvature, gradient)
        except np.linalg.LinAlgError:
            break
        value = objective.value(theta - step)
        if not value <= best:
            break
        theta, best = theta - step, value
    return theta


def _std_errors(curvature: np.ndarray, names: Sequence[str]) -> tuple[dict[str, float], str | None]:
    try:
        covariance = np.linalg.inv(curvature)
    except np.linalg.LinAlgError:
        covariance = np.full(curvature.shape, np.nan)
    variances = np.diag(covariance)
    if not np.all(np.isfinite(variances) & (variances > 0)):
        note = (
            "The Hessian of the negative log-likelihood is not positive definite at the optimum: "
            "standard errors are not available (NaN); the fit may sit on a flat ridge."
        )
        return {name: float("nan") for name in names}, note
    return _named(names, np.sqrt(variances)), None


def _named(names: Sequence[str], values: np.ndarray) -> dict[str, float]:
    return {name: float(value) for name, value in zip(names, values, strict=True)}
