"""Checks of an RFM table before a CLV model is fitted or asked for predictions.

Each failed check raises `ConfigError` saying what is wrong, in how many rows (and the first of
them, counted from 0), and what to do.
"""

from __future__ import annotations

import numpy as np

from omnimetrics.errors import ConfigError

MIN_REPEAT_BUYERS = 10
"""Fewest customers with a repeat purchase a model is fitted on (4 parameters need a spread)."""


def as_column(name: str, values: object) -> np.ndarray:
    """`values` as a 1-D float array: finite and never negative."""
    column = np.asarray(values, dtype=float)
    if column.ndim != 1:
        raise ConfigError(f"{name} must be one value per customer (1-D); got shape {column.shape}.")
    _refuse(name, ~np.isfinite(column), "is missing (NaN) or infinite", "fill or drop those rows")
    _refuse(name, column < 0, "is negative", "recompute the RFM summary")
    return column


def rfm_columns(
    frequency: object, recency: object, T: object, weights: object = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Checked (frequency, recency, T, weights) for a purchase model; weights default to 1."""
    x, t_x = as_column("frequency", frequency), as_column("recency", recency)
    age = as_column("T", T)
    counts = customer_weights(weights, len(x))
    _same_length(frequency=x, recency=t_x, T=age, weights=counts)
    _whole("frequency", x, "count repeat purchases")
    _refuse(
        "recency",
        t_x > age,
        "is greater than T",
        "measure both from the customer's first purchase, in the same time unit",
    )
    _refuse("recency", (x == 0) & (t_x != 0), "is not 0 where frequency is 0", "set it to 0")
    return x, t_x, age, counts


def customer_weights(weights: object, n: int) -> np.ndarray:
    """Counts of identical customers (1 each when not given): whole numbers, never negative."""
    if weights is None:
        return np.ones(n)
    counts = as_column("weights", weights)
    _whole("weights", counts, "count identical customers")
    if n and counts.sum() == 0:
        raise ConfigError("weights are all 0: there is no customer to fit on.")
    return counts


def require_repeat_buyers(model: str, frequency: np.ndarray, weights: np.ndarray, needed: int):
    """Refuse a fit on fewer than `needed` customers with a repeat purchase."""
    buyers = int(weights[frequency > 0].sum())
    customers = int(weights.sum())
    if buyers == 0:
        raise ConfigError(
            f"The {model} fit needs customers with repeat purchases, but frequency is 0 for all "
            f"{customers} customers: there is nothing to learn the purchase rate from. Use a "
            "longer calibration period, or check that frequency counts purchases after the first."
        )
    if buyers < needed:
        raise ConfigError(
            f"The {model} fit needs at least {needed} customers with repeat purchases "
            f"(frequency > 0); the data has {buyers} of {customers} customers. Use more customers "
            "or a longer calibration period."
        )


def _same_length(**columns: np.ndarray) -> None:
    lengths = {name: len(column) for name, column in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"The columns must have one value per customer; got lengths {lengths}.")


def _whole(name: str, column: np.ndarray, what: str) -> None:
    _refuse(name, column != np.round(column), f"is not a whole number (it must {what})", "round it")


def _refuse(name: str, failing: np.ndarray, problem: str, fix: str) -> None:
    if failing.any():
        rows = np.flatnonzero(failing)
        first = ", ".join(str(row) for row in rows[:5])
        more = ", ..." if len(rows) > 5 else ""
        raise ConfigError(
            f"{name} {problem} in {len(rows)} row(s) (rows {first}{more}, counted from 0): {fix}."
        )
