"""The weekly series a mix model is fitted on, from the warehouse (in the engine): sales, online
and offline, and the spend of each channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from omnimetrics.errors import SchemaError
from omnimetrics.vocabulary import ONLINE_SALES

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

GRAINS = {"week": "W", "day": "D"}


def mix_series(wh: Warehouse, grain: str = "week") -> tuple[pd.DataFrame, list[str]]:
    """One row per period (its first day, UTC) from the first to the last order: `sales` (the
    revenue of every valid order, a person known or not), `online_sales` and `offline_sales` (by
    the order's sales channel), and one column per channel of the spend table (its spend in the
    period, 0 when none); and the channels. Periods cut at the data's ends are dropped (a
    partial first or last week would read as a fall in sales)."""
    import ibis

    from omnimetrics.metrics.facts import Facts

    if "spend" not in wh.tables():
        raise SchemaError("A mix model needs the spend table (date, channel, spend): load it "
                          "with `omnimetrics ingest spend FILE`.")  # fmt: skip
    unit = GRAINS[grain]
    orders = Facts(wh, grain="total").orders
    online = ibis.coalesce(orders.sales_channel, "").isin(ONLINE_SALES)
    period = orders.at.truncate(unit).date()
    sales = (
        orders.mutate(period=period, online=online)
        .group_by("period")
        .aggregate(
            sales=orders.revenue.sum(),
            online_sales=orders.revenue.sum(where=online),
            offline_sales=orders.revenue.sum(where=~online),
            _first=orders.at.min(),
            _last=orders.at.max(),
        )
        .to_pandas()
    )
    spend = wh.table("spend")
    spent = (
        spend.mutate(period=spend.date.cast("timestamp").truncate(unit).date())
        .group_by(["period", "channel"])
        .aggregate(spend=spend.spend.sum())
        .to_pandas()
    )
    if sales.empty or spent.empty:
        raise SchemaError("A mix model needs orders and spend: load both first.")
    wide = spent.pivot_table(index="period", columns="channel", values="spend", aggfunc="sum")
    channels = sorted(str(c) for c in wide.columns)
    series = sales.set_index("period").join(wide, how="left").sort_index()
    series[channels] = series[channels].fillna(0.0)
    series[["online_sales", "offline_sales"]] = series[["online_sales", "offline_sales"]].fillna(
        0.0
    )
    series = _whole_periods(series, grain)
    series.index.name = "week"
    return series.drop(columns=["_first", "_last"]).reset_index(), channels


def _whole_periods(series: pd.DataFrame, grain: str) -> pd.DataFrame:
    """Without the first and last period when the data does not cover them from start to end."""
    length = pd.Timedelta(days=7 if grain == "week" else 1)
    starts = pd.to_datetime(series.index)
    first = pd.Timestamp(series["_first"].min()).tz_localize(None).normalize()
    last = pd.Timestamp(series["_last"].max()).tz_localize(None).normalize()
    keep = (starts >= first) & (starts + length - pd.Timedelta(days=1) <= last)
    return series[keep]
