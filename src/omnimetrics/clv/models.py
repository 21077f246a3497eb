"""The fitted CLV models and their registry: BG/NBD, Pareto/NBD and modified BG/NBD for purchase
frequency, Gamma-Gamma for spend, and the discounted customer lifetime value they give together.

Inputs are arrays with one value per customer (or per distinct customer row, with `weights`
counting identical customers): frequency = repeat purchases, recency = time of the last one and
T = time since the first purchase, in any one time unit; monetary_value = mean repeat-order value.

>>> CLV_MODELS.names()
['bgnbd', 'pareto_nbd', 'mbgnbd', 'gamma_gamma']
>>> frequency, recency, T = [0, 1, 2, 5], [0, 3, 20, 37], [39, 39, 39, 39]
>>> model = BGNBD().fit(frequency, recency, T, weights=[300, 100, 60, 40])
>>> {name: round(value, 3) for name, value in model.params_.items()}
{'r': 0.258, 'alpha': 5.424, 'a': 0.292, 'b': 0.375}
>>> model.p_alive(frequency, recency, T).round(3)
array([1.   , 0.137, 0.572, 0.922])
>>> model.expected_purchases(13, frequency, recency, T).round(3)
array([0.07 , 0.048, 0.36 , 1.359])
>>> BGNBD().fit(frequency, recency, T)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
omnimetrics.errors.ConfigError: The bgnbd fit needs at least 10 customers ... data has 3 of 4 ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Self

import numpy as np

from omnimetrics.clv import purchase, spend
from omnimetrics.clv.estimation import (
    Estimate,
    Levels,
    Likelihood,
    distinct_rows,
    dot,
    maximise,
)
from omnimetrics.clv.inputs import (
    MIN_REPEAT_BUYERS,
    as_column,
    customer_weights,
    require_repeat_buyers,
    rfm_columns,
)
from omnimetrics.errors import ConfigError
from omnimetrics.fitted import Fitted
from omnimetrics.registry import Registry


class _Estimated(Fitted):
    """Shared by the CLV models: the estimates, their table, and the refusal of thin data."""

    name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    shape_names: ClassVar[tuple[str, ...]]
    """The dimensionless parameters (the others scale with the time unit or the currency)."""

    def _store(self, estimate: Estimate, customers: float, repeat_buyers: float) -> None:
        self.params_ = estimate.params
        self.std_errors_ = estimate.std_errors
        self.log_likelihood_ = estimate.log_likelihood
        self.n_customers_ = int(customers)
        self.n_repeat_buyers_ = int(repeat_buyers)
        self.notes_ = list(estimate.notes)
        edge = [f"{name} = {self.params_[name]:.3g}" for name in self.shape_names
                if not 1e-4 < self.params_[name] < 1e4]  # fmt: skip
        if edge:
            self.notes_.append(
                f"{', '.join(edge)} ran towards 0 or infinity: the data do not identify the "
                f"{self.name} model well (too few customers or too short a period), or a simpler "
                "model fits them as well."
            )

    def _vector(self) -> tuple[float, ...]:
        self.check_fitted()
        return tuple(self.params_[name] for name in self.param_names)

    def params(self) -> list[dict[str, object]]:
        """Rows `model, parameter, value, std_error` (names as in the papers), then the
        log-likelihood (`parameter` "log_likelihood", no standard error)."""
        self.check_fitted()
        rows: list[dict[str, object]] = [
            {"model": self.name, "parameter": name, "value": value,
             "std_error": self.std_errors_[name]}
            for name, value in self.params_.items()
        ]  # fmt: skip
        rows.append(
            {"model": self.name, "parameter": "log_likelihood", "value": self.log_likelihood_,
             "std_error": None}
        )  # fmt: skip
        return rows


class PurchaseModel(_Estimated):
    """A model of when customers buy and when they silently drop out.

    With `compress` (the default) identical (frequency, recency, T) rows are fitted and predicted
    once, counted by their number: the same numbers, much faster when time is in whole days or
    weeks. `compress=False` computes row by row (for benchmarks and checks); either way the
    special functions of one column run once per distinct value of that column.
    """

    functions: ClassVar[purchase.Functions]

    def __init__(self, min_repeat_buyers: int = MIN_REPEAT_BUYERS, compress: bool = True) -> None:
        self.min_repeat_buyers = min_repeat_buyers
        self.compress = compress

    def fit(self, frequency, recency, T, weights=None) -> Self:
        """Maximum likelihood on the customers (rows counted `weights` times); returns self."""
        x, t_x, age, counts = rfm_columns(frequency, recency, T, weights)
        require_repeat_buyers(self.name, x, counts, self.min_repeat_buyers)
        if self.compress:
            (x, t_x, age), counts, _ = distinct_rows(x, t_x, age, weights=counts)
        levels = Levels.of(x), Levels.of(t_x), Levels.of(age)
        likelihood = self._likelihood(levels, counts)
        estimate = maximise(likelihood, self._start(x, age, counts), self.param_names, self.name)
        self._store(estimate, counts.sum(), counts[x > 0].sum())
        return self

    def _likelihood(self, levels, counts) -> Likelihood:
        """The weighted log-likelihood, with its analytic gradient where the model has one."""
        parts, gradient = self.functions.parts, self.functions.score

        def value(params) -> float:
            return dot(counts, purchase.log_likelihood(parts(params, *levels)))

        if gradient is None:
            return Likelihood(value)
        return Likelihood(value, lambda params: gradient(params, *levels, counts))

    def _start(self, x, age, counts) -> tuple[float, ...]:
        """Starting values: a purchase rate r/alpha of the observed repeat rate, mild dropout."""
        rate = max(dot(counts, x), 1.0) / max(dot(counts, age), 1e-9)
        return (1.0, 1.0 / rate, 1.0, 3.0)

    def log_likelihood(self, frequency, recency, T) -> np.ndarray:
        """Each customer's log-likelihood at the fitted parameters."""
        x, t_x, age, _ = rfm_columns(frequency, recency, T)
        return purchase.log_likelihood(self.functions.parts(self._vector(), x, t_x, age))

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """Each customer's probability of still being a customer at T."""
        return self._per_customer(
            lambda params, *rows: purchase.alive_probability(self.functions.parts(params, *rows)),
            frequency, recency, T,
        )  # fmt: skip

    def expected_purchases(self, t: float, frequency, recency, T) -> np.ndarray:
        """Each customer's expected number of purchases in the next `t` time units (T, T + t]."""
        t = _horizon(t)
        expected = self.functions.expected
        return self._per_customer(
            lambda params, *rows: expected(params, t, *rows), frequency, recency, T
        )

    def expected_purchases_new(self, t) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a new customer in (0, t] (t may be an array)."""
        horizons = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(horizons) & (horizons >= 0)):
            raise ConfigError(f"The horizon t must be a time >= 0 in the model's unit; got {t!r}.")
        return self.functions.expected_new(self._vector(), horizons)

    def discounted_purchases(
        self, frequency, recency, T, *, periods: int, period_length: float, discount_rate: float
    ) -> np.ndarray:
        """Sum over periods i = 1..H of (E[Y(i L)] - E[Y((i-1) L)]) / (1 + d)^i per customer:
        expected purchases in each future period of length L, discounted at d per period."""
        periods, period_length, discount_rate = _schedule(periods, period_length, discount_rate)
        ends = period_length * np.arange(periods + 1, dtype=float)[:, None]
        factors = (1 + discount_rate) ** -np.arange(1, periods + 1, dtype=float)
        expected = self.functions.expected

        def discounted(params, *rows):
            cumulative = expected(params, ends, *rows)  # (periods + 1) x customers
            return np.einsum("h,h...->...", factors, np.diff(cumulative, axis=0))

        return self._per_customer(discounted, frequency, recency, T)

    def _per_customer(self, function, frequency, recency, T) -> np.ndarray:
        """`function(params, x, t_x, T)` per customer, once per distinct row with `compress`."""
        params = self._vector()
        x, t_x, age, _ = rfm_columns(frequency, recency, T)
        if not self.compress:
            return function(params, Levels.of(x), Levels.of(t_x), Levels.of(age))
        (x, t_x, age), _, inverse = distinct_rows(x, t_x, age)
        return function(params, Levels.of(x), Levels.of(t_x), Levels.of(age))[..., inverse]


class BGNBD(PurchaseModel):
    """BG/NBD (Fader, Hardie and Lee 2005): Poisson purchases while alive, dropout after each
    repeat purchase with a beta-distributed probability."""

    name = "bgnbd"
    param_names = ("r", "alpha", "a", "b")
    shape_names = ("r", "a", "b")
    functions = purchase.BG_NBD


class ModifiedBGNBD(PurchaseModel):
    """Modified BG/NBD (Batislam, Denizel and Filiztekin 2007): as BG/NBD, but a customer may
    also drop out right after the first purchase, so one without repeats is not surely alive."""

    name = "mbgnbd"
    param_names = ("r", "alpha", "a", "b")
    shape_names = ("r", "a", "b")
    functions = purchase.MBG_NBD


class ParetoNBD(PurchaseModel):
    """Pareto/NBD (Schmittlein, Morrison and Colombo 1987): Poisson purchases, exponential
    lifetimes, both rates gamma-distributed across customers."""

    name = "pareto_nbd"
    param_names = ("r", "alpha", "s", "beta")
    shape_names = ("r", "s")
    functions = purchase.PARETO_NBD  # no analytic gradient: scipy's 2F1 has no parameter derivative

    def _start(self, x, age, counts) -> tuple[float, ...]:
        rate = max(dot(counts, x), 1.0) / max(dot(counts, age), 1e-9)
        return (1.0, 1.0 / rate, 1.0, max(dot(counts, age) / counts.sum(), 1.0))


class GammaGamma(_Estimated):
    """Gamma-Gamma spend model (Fader, Hardie and Lee 2005, "RFM and CLV"): order values Gamma(p,
    nu) around each customer's mean, nu Gamma(q, gamma) across customers; fitted on repeat buyers.

    It assumes a customer's spend per order does not depend on how often they buy: `correlation_`
    is the Pearson correlation of frequency and mean spend among repeat buyers, and `notes_` says
    so when its size reaches `correlation_limit`.
    """

    name = "gamma_gamma"
    param_names = ("p", "q", "gamma")
    shape_names = ("p", "q")

    def __init__(
        self, min_repeat_buyers: int = MIN_REPEAT_BUYERS, correlation_limit: float = 0.3
    ) -> None:
        self.min_repeat_buyers = min_repeat_buyers
        self.correlation_limit = correlation_limit

    def fit(self, frequency, monetary_value, weights=None) -> Self:
        """Maximum likelihood on the customers with frequency > 0; returns self."""
        x, spend_value, counts = self._columns(frequency, monetary_value, weights)
        require_repeat_buyers(self.name, x, counts, self.min_repeat_buyers)
        buyers = x > 0
        if np.any(spend_value[buyers] <= 0):
            rows = np.flatnonzero(buyers & (spend_value <= 0))
            raise ConfigError(
                f"monetary_value is 0 for {len(rows)} customer(s) with repeat purchases (rows "
                f"{', '.join(map(str, rows[:5]))}, counted from 0): the Gamma-Gamma model needs "
                "positive mean order values; leave out zero-value orders or those customers."
            )
        x, spend_value, counts = x[buyers], spend_value[buyers], counts[buyers]
        levels = Levels.of(x)

        likelihood = Likelihood(
            lambda params: dot(counts, spend.gamma_gamma_loglik(params, levels, spend_value)),
            lambda params: spend.gamma_gamma_score(params, levels, spend_value, counts),
        )
        mean_value = dot(counts, spend_value) / counts.sum()
        estimate = maximise(likelihood, (1.0, 2.0, mean_value), self.param_names, self.name)
        self._store(estimate, counts.sum(), counts.sum())
        self.correlation_ = _weighted_correlation(x, spend_value, counts)
        if abs(self.correlation_) >= self.correlation_limit:
            self.notes_.append(
                f"Frequency and mean spend are correlated among repeat buyers (Pearson r = "
                f"{self.correlation_:.2f}, |r| >= {self.correlation_limit}): the Gamma-Gamma model "
                "assumes they are independent, so its expected spend is biased for frequent buyers."
            )
        if self.params_["q"] <= 1:
            self.notes_.append(
                f"q = {self.params_['q']:.3g} <= 1: the population mean order value "
                "p gamma / (q - 1) is infinite, so customers without repeat purchases get no "
                "expected spend (NaN)."
            )
        return self

    def _columns(self, frequency, monetary_value, weights):
        x = as_column("frequency", frequency)
        spend_value = as_column("monetary_value", monetary_value)
        counts = customer_weights(weights, len(x))
        if not len(x) == len(spend_value) == len(counts):
            raise ConfigError(
                "frequency, monetary_value and weights must have one value per customer; got "
                f"lengths {len(x)}, {len(spend_value)} and {len(counts)}."
            )
        return x, spend_value, counts

    def log_likelihood(self, frequency, monetary_value) -> np.ndarray:
        """Each customer's log-density of their mean order value (NaN without repeat purchases)."""
        x, spend_value, _ = self._columns(frequency, monetary_value, None)
        buyers = x > 0
        result = np.full(len(x), np.nan)
        result[buyers] = spend.gamma_gamma_loglik(self._vector(), x[buyers], spend_value[buyers])
        return result

    def expected_spend(self, frequency, monetary_value) -> np.ndarray:
        """Each customer's expected mean order value; the population mean for frequency 0."""
        x, spend_value, _ = self._columns(frequency, monetary_value, None)
        expected = spend.gamma_gamma_expected_spend(self._vector(), x, spend_value)
        return np.where((x == 0) & (self.params_["q"] <= 1), np.nan, expected)


def customer_lifetime_value(
    purchases: PurchaseModel,
    spend_model: GammaGamma,
    frequency,
    recency,
    T,
    monetary_value,
    *,
    periods: int = 12,
    period_length: float = 1.0,
    margin: float = 1.0,
    discount_rate: float = 0.0,
) -> np.ndarray:
    """Each customer's discounted value over the next `periods` periods of `period_length` time
    units: margin * E[spend] * sum_i (E[Y(i L)] - E[Y((i-1) L)]) / (1 + discount_rate)^i."""
    if not np.isfinite(margin):
        raise ConfigError(f"margin must be a finite share of spend (e.g. 0.3); got {margin!r}.")
    per_purchase = spend_model.expected_spend(frequency, monetary_value)
    discounted = purchases.discounted_purchases(
        frequency, recency, T,
        periods=periods, period_length=period_length, discount_rate=discount_rate,
    )  # fmt: skip
    return margin * per_purchase * discounted


def _horizon(t: object) -> float:
    value = float(t)  # type: ignore[arg-type]
    if not np.isfinite(value) or value < 0:
        raise ConfigError(f"The horizon t must be a time >= 0 in the model's unit; got {t!r}.")
    return value


def _schedule(periods: object, period_length: object, discount_rate: object):
    if not isinstance(periods, int | np.integer) or periods < 1:
        raise ConfigError(f"periods must be a whole number >= 1; got {periods!r}.")
    length, rate = float(period_length), float(discount_rate)  # type: ignore[arg-type]
    if not np.isfinite(length) or length <= 0:
        raise ConfigError(f"period_length must be > 0 (in the model's time unit); got {length!r}.")
    if not np.isfinite(rate) or rate < 0:
        raise ConfigError(f"discount_rate must be >= 0 per period (e.g. 0.01); got {rate!r}.")
    return int(periods), length, rate


def _weighted_correlation(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    """Pearson correlation with each row counted `weights` times (NaN when one side is constant)."""
    total = weights.sum()
    dx, dy = x - dot(weights, x) / total, y - dot(weights, y) / total
    spread = np.sqrt(dot(weights, dx**2) * dot(weights, dy**2))
    return dot(weights, dx * dy) / spread if spread > 0 else float("nan")


@dataclass(frozen=True)
class CLVModel:
    """A named CLV model: what it models (`kind`), one line of doc, and its fitted class."""

    name: str
    kind: Literal["purchase", "spend"]
    doc: str
    model: type[_Estimated]


CLV_MODELS: Registry[CLVModel] = Registry("CLV model")
"""Every CLV model by name: `CLV_MODELS["bgnbd"].model().fit(...)`."""


def _declare(model: type[_Estimated], kind: Literal["purchase", "spend"], doc: str) -> None:
    CLV_MODELS.add(model.name, CLVModel(model.name, kind, doc, model))


_declare(
    BGNBD, "purchase",
    "BG/NBD: Poisson purchases, dropout after a repeat purchase (Fader, Hardie, Lee 2005).",
)  # fmt: skip
_declare(
    ParetoNBD, "purchase",
    "Pareto/NBD: Poisson purchases, exponential lifetimes (Schmittlein et al. 1987).",
)  # fmt: skip
_declare(
    ModifiedBGNBD, "purchase",
    "Modified BG/NBD: BG/NBD with dropout also at the first purchase (Batislam et al. 2007).",
)  # fmt: skip
_declare(
    GammaGamma, "spend",
    "Gamma-Gamma: mean repeat-order value of each customer (Fader, Hardie, Lee 2005).",
)  # fmt: skip
