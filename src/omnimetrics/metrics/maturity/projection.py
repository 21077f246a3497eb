"""The business case of a change: projected orders, revenue, margin and ROI if KPIs reach their
targets (formulas: docs/maturity.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from omnimetrics.errors import ConfigError, did_you_mean

CASE_KPIS = ("conversion_rate", "average_basket", "retention")
CASE_TARGETS = (*CASE_KPIS, "spend")
KPI_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "conversion_rate": (0.0, 1.0, False),
    "retention": (0.0, 1.0, True),
    "average_basket": (0.0, math.inf, False),
    "spend": (0.0, math.inf, True),
}
"""(low, high, whether low itself is allowed) of each KPI of the business case."""


def _check_kpis(values: Mapping[str, float], allowed: tuple[str, ...], what: str) -> None:
    for name, value in values.items():
        if name not in allowed:
            raise ConfigError(f"Unknown {what} KPI {name!r}. " + did_you_mean(name, allowed))
        low, high, low_ok = KPI_BOUNDS[name]
        number = float(value)
        if math.isnan(number) or number > high or number < low or (number == low and not low_ok):
            span = f"{'[' if low_ok else '('}{low:g}, {high:g}{']' if high < math.inf else ')'}"
            raise ConfigError(
                f"The {what} {name!r} must be a number in {span}. Got {value!r} instead."
            )


def _check_case(
    current: Mapping[str, float],
    targets: Mapping[str, float],
    orders: float,
    revenue: float,
    spend: float,
    margin_rate: float | None,
) -> None:
    """Refuse a business case that cannot be projected, saying which input is wrong."""
    _check_kpis(current, CASE_KPIS, "current")
    _check_kpis(targets, CASE_TARGETS, "target")
    for name, value in (("orders", orders), ("revenue", revenue)):
        if not value > 0:
            raise ConfigError(f"The {name!r} of the business case must be > 0. Got {value!r}.")
    if not spend >= 0:
        raise ConfigError(f"The 'spend' of the business case must be >= 0. Got {spend!r}.")
    if margin_rate is not None and not 0 <= margin_rate <= 1:
        raise ConfigError(f"margin_rate must be a share in [0, 1]. Got {margin_rate!r} instead.")
    if "conversion_rate" not in current:
        raise ConfigError(
            "The business case needs the current 'conversion_rate' (orders / visits): traffic is "
            "derived from it."
        )
    if "retention" in targets and "retention" not in current:
        raise ConfigError(
            "A retention target needs the current 'retention' (share of buyers who buy again)."
        )


def business_case(
    current: Mapping[str, float],
    targets: Mapping[str, float],
    *,
    orders: float,
    revenue: float,
    spend: float,
    margin_rate: float | None = None,
) -> pd.DataFrame:
    """Projected orders, revenue, margin and ROI if the KPIs reach their targets.

    revenue = traffic x conversion_rate x (1 + retention) x average_basket, traffic held at its
    current value; KPIs missing from `targets` stay at their current value. Columns: measure,
    current, projected, change, relative_change, formula. See docs/maturity.md.
    """
    _check_case(current, targets, orders, revenue, spend, margin_rate)
    conversion = float(current["conversion_rate"])
    basket = float(current.get("average_basket", revenue / orders))
    keep_rate = float(current.get("retention", 0.0))
    target_conversion = float(targets.get("conversion_rate", conversion))
    target_basket = float(targets.get("average_basket", basket))
    target_keep = float(targets.get("retention", keep_rate))
    target_spend = float(targets.get("spend", spend))

    traffic = orders / (conversion * (1 + keep_rate))
    new_orders = traffic * target_conversion * (1 + target_keep)
    new_revenue = revenue * (new_orders / orders) * (target_basket / basket)

    def margin(value: float) -> float:
        return value * margin_rate if margin_rate is not None else math.nan

    rows = [
        ("conversion_rate", conversion, target_conversion, "orders / visits"),
        ("average_basket", basket, target_basket, "revenue / orders"),
    ]
    if "retention" in current:
        rows.append(("retention", keep_rate, target_keep, "share of buyers who buy again"))
    retention_part = " x (1 + retention)" if "retention" in current else ""
    rows += [
        ("traffic", traffic, traffic, f"orders / (conversion_rate{retention_part}); held"),
        ("orders", orders, new_orders, f"traffic x conversion_rate{retention_part}"),
        ("revenue", revenue, new_revenue,
         "revenue x (projected orders / orders) x (target basket / current basket)"),
        ("spend", spend, target_spend, "as given"),
        ("margin", margin(revenue), margin(new_revenue), "revenue x margin_rate"),
        ("roi", _roi(margin(revenue), spend), _roi(margin(new_revenue), target_spend),
         "(margin - spend) / spend"),
        ("roas", _per_spend(revenue, spend), _per_spend(new_revenue, target_spend),
         "revenue / spend"),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["measure", "current", "projected", "formula"])
    frame["change"] = frame.projected - frame.current
    frame["relative_change"] = frame.change / frame.current.where(frame.current != 0)
    return frame[["measure", "current", "projected", "change", "relative_change", "formula"]]


def _per_spend(value: float, spend: float) -> float:
    """value / spend; NaN without spend."""
    return value / spend if spend > 0 else math.nan


def _roi(margin: float, spend: float) -> float:
    """(margin - spend) / spend; NaN without spend."""
    return _per_spend(margin - spend, spend)
