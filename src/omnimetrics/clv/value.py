"""Customer value from an RFM summary: a purchase model and Gamma-Gamma fitted together, each
customer's expected purchases, P(alive), expected order value and discounted CLV, and the check
of the predictions on a holdout period (docs/clv.md).

>>> import numpy as np, pandas as pd
>>> from omnimetrics.clv import simulation
>>> rng = np.random.default_rng(1)
>>> bought = simulation.simulate_bg_nbd((0.25, 4.0, 0.8, 2.5), np.full(2000, 39.0), 0.0, rng)
>>> summary = pd.DataFrame({"customer_id": range(2000), "frequency": bought.frequency,
...     "recency": bought.recency, "T": bought.T,
...     "monetary_value": simulation.simulate_gamma_gamma((6, 4, 15), bought.frequency, rng)})
>>> fit = fit_value(summary, horizon=52, unit="W", discount_rate=0.1, margin=0.3)
>>> list(fit.customers.columns[-4:])
['expected_purchases', 'p_alive', 'expected_value', 'clv']
>>> bool((fit.customers.clv >= 0).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnimetrics.clv.models import CLV_MODELS, GammaGamma, PurchaseModel, customer_lifetime_value
from omnimetrics.errors import ConfigError, SchemaError
from omnimetrics.files import read_file
from omnimetrics.results import Result

RFM_COLUMNS = ("customer_id", "frequency", "recency", "T", "monetary_value")
CUSTOMER_COLUMNS = ("customer_id", "expected_purchases", "p_alive", "expected_value", "clv")
"""One row per customer of `omnimetrics clv --out`."""
"""What a ready-made RFM table has (`omnimetrics clv --rfm FILE`, `--map` for other names)."""
UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}
"""Days in one time unit of the summary (a month as a twelfth of a year)."""
YEAR = {"D": 365, "W": 52, "M": 12}
"""The default horizon: a year, in the summary's time unit."""
BUCKETS = (0, 1, 2, 3, 4, 5, 6, 7)
"""Calibration frequencies of the holdout check; the last bucket is 7 and more."""


@dataclass(frozen=True)
class ValueFit:
    """The fitted models and one row per customer: customer_id, frequency, recency, T,
    monetary_value, expected_purchases (over the horizon), p_alive, expected_value (expected
    mean order value), clv (margin x expected value x discounted expected purchases)."""

    purchases: PurchaseModel
    spend: GammaGamma
    customers: pd.DataFrame
    notes: tuple[str, ...]
    margin: float

    def params(self) -> pd.DataFrame:
        """model, parameter, value, std_error (the log-likelihood of each model last)."""
        return pd.DataFrame([*self.purchases.params(), *self.spend.params()])


def period_rate(annual_rate: float, unit: str) -> float:
    """The discount rate of one time unit equivalent to `annual_rate` a year:
    (1 + R)^(days of the unit / 365.25) - 1."""
    if not np.isfinite(annual_rate) or annual_rate < 0:
        raise ConfigError(f"The discount rate is a yearly rate >= 0 (e.g. 0.1); got {annual_rate}.")
    return (1.0 + annual_rate) ** (UNIT_DAYS[unit] / 365.25) - 1.0


def fit_value(
    summary: pd.DataFrame,
    *,
    model: str = "bgnbd",
    horizon: int | None = None,
    unit: str = "W",
    discount_rate: float = 0.1,
    margin: float = 1.0,
) -> ValueFit:
    """Fit `model` (a purchase model of `CLV_MODELS`) and Gamma-Gamma on the summary (the
    columns of `RFM_COLUMNS`, in time `unit`), then predict each customer over the next
    `horizon` units (default a year), discounted at the yearly `discount_rate`, valued at
    `margin` of revenue."""
    check_rfm(summary)
    # In customer order: an engine returns rows in any order, and a fit on a flat likelihood
    # must not depend on it.
    summary = summary.sort_values("customer_id", ignore_index=True, kind="stable")
    entry = CLV_MODELS[model]
    if entry.kind != "purchase":
        purchase_models = [n for n, m in CLV_MODELS.items() if m.kind == "purchase"]
        raise ConfigError(f"{model!r} models spend, not purchases: choose from {purchase_models}.")
    horizon = YEAR[unit] if horizon is None else horizon
    if not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ConfigError(f"The horizon is a whole number of periods >= 1; got {horizon!r}.")
    if not np.isfinite(margin) or not 0 < margin <= 1:
        raise ConfigError(f"The margin is a share of revenue in (0, 1] (e.g. 0.3); got {margin}.")
    rfm = [summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")]
    value = summary.monetary_value.to_numpy(dtype=float)
    purchases = entry.model().fit(*rfm)
    repeat = rfm[0] > 0
    spend = GammaGamma().fit(rfm[0][repeat], value[repeat])
    per_order = spend.expected_spend(rfm[0], value)
    per_period = period_rate(discount_rate, unit)
    clv = customer_lifetime_value(purchases, spend, *rfm, value, periods=int(horizon),
                                  margin=margin, discount_rate=per_period)  # fmt: skip
    customers = summary[list(RFM_COLUMNS)].assign(
        expected_purchases=purchases.expected_purchases(float(horizon), *rfm),
        p_alive=purchases.p_alive(*rfm),
        expected_value=per_order,
        clv=clv,
    )
    return ValueFit(purchases, spend, customers, (*purchases.notes_, *spend.notes_), margin)


def check_rfm(summary: pd.DataFrame) -> None:
    """Refuse a summary without the RFM columns, naming the closest ones and `--map`."""
    missing = [c for c in RFM_COLUMNS if c not in summary.columns]
    if missing:
        raise SchemaError(
            f"The RFM table lacks the column(s) {missing}; its columns are "
            f"{list(summary.columns)}. Rename them, or map them with --map (e.g. --map "
            "customer_id=id,T=age)."
        )


def holdout_check(fit: ValueFit, holdout: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """Predicted vs actual repeat purchases in the holdout period (`frequency_holdout` over
    `duration_holdout` units after the calibration end), by calibration frequency (0 .. 7+).

    Returns the table (frequency, customers, predicted, actual: means per customer) and the
    figures: total predicted and actual purchases, their relative error, and the mean absolute
    error per customer."""
    rows = fit.customers.merge(holdout[["customer_id", "frequency_holdout", "duration_holdout"]],
                               on="customer_id", how="inner")  # fmt: skip
    rfm = [rows[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")]
    duration = float(rows.duration_holdout.iloc[0]) if len(rows) else 0.0
    predicted = fit.purchases.expected_purchases(duration, *rfm)
    actual = rows.frequency_holdout.to_numpy(dtype=float)
    bucket = np.minimum(rfm[0], BUCKETS[-1]).astype(int)
    table = (
        pd.DataFrame({"frequency": bucket, "predicted": predicted, "actual": actual})
        .groupby("frequency")
        .agg(
            customers=("actual", "size"), predicted=("predicted", "mean"), actual=("actual", "mean")
        )
        .reset_index()
    )
    table["frequency"] = [f"{b}+" if b == BUCKETS[-1] else str(b) for b in table.frequency]
    total_predicted, total_actual = float(predicted.sum()), float(actual.sum())
    figures = {
        "holdout_periods": duration,
        "predicted_purchases": total_predicted,
        "actual_purchases": total_actual,
        "relative_error": (total_predicted - total_actual) / total_actual
        if total_actual
        else float("nan"),
        "mean_absolute_error": float(np.abs(predicted - actual).mean()) if len(rows) else np.nan,
    }
    return table, figures


def value_result(summary: pd.DataFrame, *, model: str = "bgnbd", horizon: int | None = None,
                 unit: str = "W", discount_rate: float = 0.1, margin: float = 1.0,
                 holdout_from: object = None) -> tuple[Result, ValueFit]:  # fmt: skip
    """`fit_value` as a result: customers by CLV (highest first), the parameters, and with
    `holdout_from` (the calibration end; the summary has the holdout columns) the check of the
    predictions on the holdout."""
    horizon = YEAR[unit] if horizon is None else horizon
    fit = fit_value(summary, model=model, horizon=horizon, unit=unit,
                    discount_rate=discount_rate, margin=margin)  # fmt: skip
    parts = [Result.of("clv_params", "Fitted parameters (standard errors from the Hessian)",
                       fit.params())]  # fmt: skip
    customers = fit.customers
    figures = {"customers": len(customers), "total_clv": float(customers.clv.sum()),
               "mean_clv": float(customers.clv.mean()), "margin_rate": margin,
               "spend_frequency_correlation": float(fit.spend.correlation_)}  # fmt: skip
    if holdout_from is not None:
        table, checked = holdout_check(fit, summary)
        parts.append(Result.of(
            "clv_holdout", f"Predicted vs actual repeat purchases after {holdout_from} (mean per "
            "customer, by repeat purchases before it)", table, figures=checked,
        ))  # fmt: skip
        figures["holdout_relative_error"] = checked["relative_error"]
    unit_name = {"D": "day", "W": "week", "M": "month"}[unit]
    title = (f"Customer lifetime value: {model} + Gamma-Gamma, next {horizon} {unit_name}s, "
             f"{discount_rate:.0%} a year discount, margin {margin:.0%}")  # fmt: skip
    ranked = customers.sort_values(["clv", "customer_id"], ascending=[False, True],
                                   ignore_index=True)  # fmt: skip
    result = Result.of("clv", title, ranked, parts=tuple(parts), figures=figures,
                       notes=fit.notes)  # fmt: skip
    return result, fit


TRANSACTION_COLUMNS = ("customer_id", "timestamp", "amount")
"""What a transactions file has (`omnimetrics clv --transactions FILE`, `--map` for others)."""


def value_of_file(
    *,
    rfm: str | Path | None = None,
    transactions: str | Path | None = None,
    mapping: dict[str, str] | None = None,
    unit: str = "W",
    calibration_end: date | None = None,
    **options: Any,
) -> Result:
    """`value_result` of a ready-made RFM table (`RFM_COLUMNS`, in `unit`) or of a
    transactions file (`TRANSACTION_COLUMNS`) summarised first; CSV or Parquet. `mapping`
    names the file's columns: {"customer_id": "id", "T": "age"}."""
    from omnimetrics.clv.summary import rfm_summary

    if (rfm is None) == (transactions is None):
        raise ConfigError("Give one input: --rfm FILE (a ready RFM table) or --transactions FILE.")
    wanted = RFM_COLUMNS if rfm is not None else TRANSACTION_COLUMNS
    table = read_file(Path(rfm or transactions), mapping or {}, wanted)  # type: ignore[arg-type]
    if rfm is not None:
        if calibration_end is not None:
            raise ConfigError("A holdout check needs transactions: use --transactions FILE.")
        summary = table.to_pandas()
    else:
        observation_end = None
        if calibration_end is not None:
            observation_end = table.timestamp.max().to_pandas()
        summary = rfm_summary(table, customer="customer_id", timestamp="timestamp",
                              amount="amount", unit=unit, calibration_end=calibration_end,
                              observation_end=observation_end).to_pandas()  # fmt: skip
    return value_result(summary, unit=unit, holdout_from=calibration_end, **options)[0]
