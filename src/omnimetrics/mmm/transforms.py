"""Adstock (carry-over) and saturation (diminishing returns) of media spend, on numpy arrays.

Every function takes a series `x` of shape (weeks,) or (weeks, channels), time on axis 0, and
parameters that are scalars or one value per channel. Formulas and sources: docs/mmm.md.

>>> import numpy as np
>>> geometric_adstock(np.array([1.0, 0.0, 0.0]), 0.5)
array([1.  , 0.5 , 0.25])
>>> hill(np.array([0.0, 1.0, 3.0]), half_saturation=1.0, shape=1.0)
array([0.  , 0.5 , 0.75])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter
from scipy.stats import weibull_min

from omnimetrics.errors import ConfigError
from omnimetrics.registry import Registry


def _series(x: np.ndarray) -> np.ndarray:
    series = np.asarray(x, dtype=float)
    if series.ndim not in (1, 2):
        raise ConfigError(
            f"A spend series must have shape (weeks,) or (weeks, channels); got shape "
            f"{series.shape}. Pass one column per channel."
        )
    if not np.all(np.isfinite(series)):
        raise ConfigError("A spend series holds NaN or infinite values: fill or drop those weeks.")
    return series


def _per_channel(name: str, value, series: np.ndarray, low: float, high: float) -> np.ndarray:
    """`value` as an array broadcastable to the series' channels, checked to lie in [low, high]."""
    values = np.asarray(value, dtype=float)
    if values.ndim > 1 or (
        values.ndim == 1 and (series.ndim == 1 or len(values) != series.shape[1])
    ):
        raise ConfigError(
            f"The {name!r} parameter must be a number or one number per channel; got shape "
            f"{values.shape} for a series of shape {series.shape}."
        )
    if not np.all((values >= low) & (values <= high)):
        raise ConfigError(
            f"The {name!r} parameter must lie in [{low}, {high}]. Got {value} instead."
        )
    return values


def lag_weights_apply(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`sum_l weights[l] * x[t - l]` over lags 0..L; weights of shape (L+1,) or (L+1, channels)."""
    series = _series(x)
    weights = np.asarray(weights, dtype=float)
    out = np.zeros_like(series)
    for lag in range(min(len(weights), len(series))):
        out[lag:] += weights[lag] * series[: len(series) - lag]
    return out


def geometric_adstock(
    x: np.ndarray, decay: float | np.ndarray, max_lag: int | None = None, normalise: bool = False
) -> np.ndarray:
    """Geometric carry-over `a_t = x_t + decay * a_{t-1}` (weights decay**l for l = 0..max_lag).

    With `normalise=True` the weights are divided by their sum, so the adstocked series keeps the
    spend's scale (a week's spend is spread over the following weeks, not multiplied).
    """
    series = _series(x)
    decay = _per_channel("decay", decay, series, 0.0, 0.999)
    if max_lag is not None:
        if int(max_lag) != max_lag or max_lag < 0:
            raise ConfigError(f"The 'max_lag' parameter must be an integer >= 0. Got {max_lag}.")
        lags = np.arange(int(max_lag) + 1, dtype=float)
        weights = decay[None, :] ** lags[:, None] if decay.ndim else decay**lags
        if normalise:
            weights = weights / weights.sum(axis=0)
        return lag_weights_apply(series, weights)
    if series.ndim == 1:
        out = lfilter([1.0], [1.0, -float(decay)], series)
        return out * (1.0 - float(decay)) if normalise else out
    decays = np.broadcast_to(decay, series.shape[1:])
    out = np.column_stack([lfilter([1.0], [1.0, -d], series[:, j]) for j, d in enumerate(decays)])
    return out * (1.0 - decays) if normalise else out


def delayed_adstock(
    x: np.ndarray, retention: float | np.ndarray, delay: float | np.ndarray, max_lag: int = 12
) -> np.ndarray:
    """Carry-over with a delayed peak (Jin et al. 2017): weights `retention**((l - delay)**2)`.

    The weights over lags l = 0..max_lag are normalised to sum to one; the effect peaks `delay`
    weeks after the spend.
    """
    series = _series(x)
    retention = _per_channel("retention", retention, series, 0.0, 0.999)
    delay = _per_channel("delay", delay, series, 0.0, float(max_lag))
    lags = np.arange(max_lag + 1, dtype=float)
    if retention.ndim:
        weights = retention[None, :] ** ((lags[:, None] - delay[None, :]) ** 2)
    else:
        weights = retention ** ((lags - delay) ** 2)
    return lag_weights_apply(series, weights / weights.sum(axis=0))


def weibull_adstock(
    x: np.ndarray, shape: float | np.ndarray, scale: float | np.ndarray, max_lag: int = 12
) -> np.ndarray:
    """Carry-over with Weibull-shaped weights: the Weibull density at lags 1..max_lag+1, normalised.

    `shape` < 1 gives a fast decay; `shape` > 1 a peak near `scale * ((shape-1)/shape)**(1/shape)`.
    """
    series = _series(x)
    shape = _per_channel("shape", shape, series, 0.05, 20.0)
    scale = _per_channel("scale", scale, series, 0.05, 1000.0)
    lags = np.arange(1, max_lag + 2, dtype=float)
    if shape.ndim or scale.ndim:
        shape_, scale_ = np.broadcast_arrays(shape, scale)
        weights = weibull_min.pdf(lags[:, None], shape_[None, :], scale=scale_[None, :])
    else:
        weights = weibull_min.pdf(lags, float(shape), scale=float(scale))
    total = weights.sum(axis=0)
    if np.any(total <= 0):
        raise ConfigError("Weibull adstock weights sum to zero: increase 'scale' or 'max_lag'.")
    return lag_weights_apply(series, weights / total)


def hill(
    x: np.ndarray, half_saturation: float | np.ndarray, shape: float | np.ndarray
) -> np.ndarray:
    """Hill saturation `x**S / (x**S + K**S)`: 0 at no spend, 1/2 at x = K, towards 1 beyond."""
    series = _series(x)
    if np.any(series < 0):
        raise ConfigError("Hill saturation needs spend >= 0; found negative values.")
    k = _per_channel("half_saturation", half_saturation, series, 1e-12, np.inf)
    s = _per_channel("shape", shape, series, 1e-6, 50.0)
    ratio = np.power(series / k, s)
    return ratio / (1.0 + ratio)


def hill_derivative(
    x: np.ndarray, half_saturation: float | np.ndarray, shape: float | np.ndarray
) -> np.ndarray:
    """d hill / dx = S x**(S-1) K**S / (x**S + K**S)**2 (zero at x = 0 when S > 1)."""
    series = np.asarray(x, dtype=float)
    k = np.asarray(half_saturation, dtype=float)
    s = np.asarray(shape, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.power(series / k, s)
        out = s * ratio / (series * (1.0 + ratio) ** 2)
    return np.where(series > 0, out, np.where(s == 1, 1.0 / k, np.where(s < 1, np.inf, 0.0)))


def logistic_saturation(x: np.ndarray, steepness: float | np.ndarray) -> np.ndarray:
    """Logistic saturation `(1 - exp(-lam x)) / (1 + exp(-lam x))`: 0 at no spend, towards 1."""
    series = _series(x)
    lam = _per_channel("steepness", steepness, series, 1e-12, np.inf)
    return np.tanh(lam * series / 2.0)


@dataclass(frozen=True)
class Transform:
    """A named adstock or saturation: the function and its parameters' search bounds."""

    name: str
    function: Callable[..., np.ndarray]
    bounds: dict[str, tuple[float, float]]
    doc: str


ADSTOCKS: Registry[Transform] = Registry("adstock")
SATURATIONS: Registry[Transform] = Registry("saturation")

ADSTOCKS.add(
    "geometric",
    Transform(
        "geometric",
        lambda x, decay: geometric_adstock(x, decay, normalise=True),
        {"decay": (0.0, 0.9)},
        "Geometric decay, weights normalised to sum to one.",
    ),
)
ADSTOCKS.add(
    "delayed",
    Transform(
        "delayed",
        lambda x, retention, delay: delayed_adstock(x, retention, delay),
        {"retention": (0.05, 0.9), "delay": (0.0, 4.0)},
        "Delayed peak (Jin et al. 2017), 12 weeks of lags.",
    ),
)
ADSTOCKS.add(
    "weibull",
    Transform(
        "weibull",
        lambda x, shape, scale: weibull_adstock(x, shape, scale),
        {"shape": (0.5, 4.0), "scale": (0.5, 6.0)},
        "Weibull-density weights over 12 weeks of lags.",
    ),
)
SATURATIONS.add(
    "hill",
    Transform(
        "hill",
        hill,
        {"half_saturation": (0.2, 4.0), "shape": (0.5, 2.5)},
        "Hill curve; half-saturation in units of the channel's mean weekly spend.",
    ),
)
SATURATIONS.add(
    "logistic",
    Transform(
        "logistic",
        logistic_saturation,
        {"steepness": (0.1, 5.0)},
        "Logistic curve; steepness per unit of the channel's mean weekly spend.",
    ),
)
