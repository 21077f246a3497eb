"""The business case of a change: projected orders, revenue, margin and ROI if KPIs reach their
targets (formulas: docs/maturity.md).

One base: the conversion rate is web and app orders per session, so it moves the orders of
sessions only; store, call-centre and marketplace orders (and those of persons whose sessions
are not tracked) are held. `business_case_inputs` measures every input on that base.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from omnimetrics.errors import ConfigError, OmnimetricsError, did_you_mean

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

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
    session_orders: float,
    session_revenue: float,
) -> None:
    """Refuse a business case that cannot be projected, saying which input is wrong."""
    _check_kpis(current, CASE_KPIS, "current")
    _check_kpis(targets, CASE_TARGETS, "target")
    for name, value in (("orders", orders), ("revenue", revenue)):
        if not value > 0:
            raise ConfigError(f"The {name!r} of the business case must be > 0. Got {value!r}.")
    for name, value, total in (("session_orders", session_orders, orders),
                               ("session_revenue", session_revenue, revenue)):  # fmt: skip
        if not 0 <= value <= total:
            raise ConfigError(
                f"The {name!r} of the business case (the part the conversion rate counts) must "
                f"be between 0 and the whole ({total!r}). Got {value!r}."
            )
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
    session_orders: float | None = None,
    session_revenue: float | None = None,
) -> pd.DataFrame:
    """Projected orders, revenue, margin and ROI if the KPIs reach their targets.

    The conversion rate counts `session_orders` (default: every order) per session: traffic =
    session_orders / conversion_rate, held; projected session orders = traffic x target
    conversion_rate; the other orders are held. Retention scales every order by (1 + target) /
    (1 + current), the basket every order's revenue by target / current. KPIs missing from
    `targets` stay at their current value. Columns: measure, current, projected, change,
    relative_change, formula. See docs/maturity.md.
    """
    session_orders = float(orders if session_orders is None else session_orders)
    if session_revenue is None:
        session_revenue = revenue * (session_orders / orders) if orders > 0 else 0.0
    session_revenue = float(session_revenue)
    _check_case(current, targets, orders, revenue, spend, margin_rate, session_orders,
                session_revenue)  # fmt: skip
    conversion = float(current["conversion_rate"])
    basket = float(current.get("average_basket", revenue / orders))
    keep_rate = float(current.get("retention", 0.0))
    target_conversion = float(targets.get("conversion_rate", conversion))
    target_basket = float(targets.get("average_basket", basket))
    target_keep = float(targets.get("retention", keep_rate))
    target_spend = float(targets.get("spend", spend))

    traffic = session_orders / conversion
    repeat = (1 + target_keep) / (1 + keep_rate)
    new_session_orders = traffic * target_conversion * repeat
    other_orders = orders - session_orders
    new_other_orders = other_orders * repeat
    new_orders = new_session_orders + new_other_orders
    new_session_revenue = session_revenue * (target_conversion / conversion)
    new_revenue = (
        (new_session_revenue + revenue - session_revenue) * repeat * (target_basket / basket)
    )

    with_retention = "retention" in current
    rows = [
        ("conversion_rate", conversion, target_conversion,
         "orders of sessions (web and app) / sessions"),
        ("average_basket", basket, target_basket, "revenue / orders"),
    ]  # fmt: skip
    if with_retention:
        rows.append(("retention", keep_rate, target_keep, "share of buyers who buy again"))
    rows += _volume_rows(
        traffic, (session_orders, new_session_orders), (other_orders, new_other_orders),
        (orders, new_orders), (revenue, new_revenue), (spend, target_spend), margin_rate,
        " x (1 + retention) / (1 + current retention)" if with_retention else "",
    )  # fmt: skip
    frame = pd.DataFrame(rows, columns=["measure", "current", "projected", "formula"])
    frame["change"] = frame.projected - frame.current
    frame["relative_change"] = frame.change / frame.current.where(frame.current != 0)
    return frame[["measure", "current", "projected", "change", "relative_change", "formula"]]


Pair = tuple[float, float]
"""(current, projected)."""


def _volume_rows(
    traffic: float,
    session: Pair,
    other: Pair,
    orders: Pair,
    revenue: Pair,
    spend: Pair,
    margin_rate: float | None,
    repeat_part: str,
) -> list[tuple[str, float, float, str]]:
    """Traffic, orders, revenue, spend, margin, ROI and ROAS, current and projected."""

    def margin(value: float) -> float:
        return value * margin_rate if margin_rate is not None else math.nan

    return [
        ("traffic", traffic, traffic, "sessions = session_orders / conversion_rate; held"),
        ("session_orders", *session, f"traffic x conversion_rate{repeat_part}"),
        ("other_orders", *other,
         f"orders outside sessions (store, call centre, marketplace...): held{repeat_part}"),
        ("orders", *orders, "session_orders + other_orders"),
        ("revenue", *revenue,
         "(session revenue x target / current conversion_rate + other revenue)"
         f"{repeat_part} x target basket / current basket"),
        ("spend", *spend, "as given"),
        ("margin", margin(revenue[0]), margin(revenue[1]), "revenue x margin_rate"),
        ("roi", _roi(margin(revenue[0]), spend[0]), _roi(margin(revenue[1]), spend[1]),
         "(margin - spend) / spend"),
        ("roas", _per_spend(revenue[0], spend[0]), _per_spend(revenue[1], spend[1]),
         "revenue / spend"),
    ]  # fmt: skip


def _per_spend(value: float, spend: float) -> float:
    """value / spend; NaN without spend."""
    return value / spend if spend > 0 else math.nan


def _roi(margin: float, spend: float) -> float:
    """(margin - spend) / spend; NaN without spend."""
    return _per_spend(margin - spend, spend)


CASE_MEASURES = ("conversion_rate", "average_basket", "repeat_purchase_rate", "orders", "revenue",
                 "spend", "margin")  # fmt: skip
"""The KPIs a business case is measured from (`business_case_inputs`)."""


def business_case_inputs(
    wh: Warehouse, *, since: date | None = None, until: date | None = None
) -> dict[str, Any]:
    """Everything `business_case` projects from, measured over [since, until] on one base.

    The current conversion rate is the `conversion_rate` KPI: web and app orders per session,
    both of the persons whose sessions are tracked; `session_orders` and `session_revenue` are
    exactly the orders it counts and their revenue, so traffic = session_orders /
    conversion_rate is the sessions measured. Orders, revenue, spend and the margin rate are
    business totals. Returns the keyword arguments of `business_case` but `targets`:
    `business_case(targets=..., **business_case_inputs(wh))`.
    """
    from omnimetrics.metrics.facts import Facts
    from omnimetrics.metrics.kpi_catalogue import SESSION_ORDERS
    from omnimetrics.metrics.kpis import compute_kpis

    measured = compute_kpis(wh, list(CASE_MEASURES), grain="total", since=since, until=until)
    now = dict(zip(measured.table.kpi, measured.table.value, strict=True))
    missing = [n for n in ("conversion_rate", "orders", "revenue") if not _known(now.get(n))]
    if missing:
        why = [f"{k} {v}" for k, v in measured.unavailable.items() if k in missing]
        raise OmnimetricsError(
            f"The business case needs {', '.join(missing)} over the period: "
            + ("; ".join(why) or "no order or no session in it.")
        )
    orders = Facts(wh, grain="total", since=since, until=until).orders
    kept = orders.filter(SESSION_ORDERS.where(orders))  # type: ignore[misc]
    session = kept.aggregate(count=kept.count(), revenue=kept.revenue.sum()).to_pandas()
    margin = now.get("margin")
    current = {"conversion_rate": now["conversion_rate"], "average_basket": now["average_basket"]}
    if _known(now.get("repeat_purchase_rate")):
        current["retention"] = now["repeat_purchase_rate"]
    return {
        "current": current,
        "orders": now["orders"],
        "revenue": now["revenue"],
        "spend": now["spend"] if _known(now.get("spend")) else 0.0,
        "margin_rate": margin / now["revenue"] if _known(margin) else None,
        "session_orders": float(session["count"].iloc[0]),
        "session_revenue": float(session["revenue"].fillna(0.0).iloc[0]),
    }


def _known(value: float | None) -> bool:
    """A measured number (not missing, not NaN)."""
    return value is not None and not math.isnan(value)
