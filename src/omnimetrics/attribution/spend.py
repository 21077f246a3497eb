"""Attribution with spend: cost per conversion, CAC and ROAS of each channel under each model.

cost per conversion = spend / attributed conversions; CAC = spend / attributed first orders
(new customers); ROAS = attributed revenue / spend. A channel with spend and no credit is kept
(its ratios are empty, its spend is not lost); so is a channel credited without spend.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa


def spend_by(
    spend: ir.Table,
    by: Sequence[str] = ("channel",),
    *,
    since: date | None = None,
    until: date | None = None,
) -> ir.Table:
    """Spend summed per channel (and/or campaign) over [since, until]."""
    if since is not None:
        spend = spend.filter(spend.date >= since)
    if until is not None:
        spend = spend.filter(spend.date <= until)
    return spend.group_by(list(by)).agg(spend=spend.spend.sum())


def with_spend(
    attribution: ir.Table | pa.Table,
    spend: ir.Table | pa.Table,
    *,
    by: Sequence[str] = ("channel",),
    acquisitions: ir.Table | pa.Table | None = None,
) -> ir.Table:
    """The attribution table with spend, cost_per_conversion, roas (and new_customers, cac).

    spend: per-key spend (`spend_by`); acquisitions: the attribution of first orders only
    (same models and keys), whose conversions are the new customers each channel won.
    """
    keys = list(by)
    credited = attribution.to_pandas()
    spent = spend.to_pandas()
    models = credited[["model", "additive"]].drop_duplicates()
    grid = models.merge(spent, how="cross")
    table = credited.merge(grid, on=["model", "additive", *keys], how="outer")
    table[["conversions", "revenue"]] = table[["conversions", "revenue"]].fillna(0.0)
    table["share"] = table["share"].fillna(0.0)
    if acquisitions is not None:
        won = acquisitions.to_pandas()[["model", *keys, "conversions"]]
        table = table.merge(won.rename(columns={"conversions": "new_customers"}),
                            on=["model", *keys], how="left")  # fmt: skip
        table["new_customers"] = table["new_customers"].fillna(0.0)
    table["cost_per_conversion"] = _ratio(table["spend"], table["conversions"])
    table["roas"] = _ratio(table["revenue"], table["spend"])
    if acquisitions is not None:
        table["cac"] = _ratio(table["spend"], table["new_customers"])
    table = table.sort_values(["model", "conversions"], ascending=[True, False], ignore_index=True)
    return ibis.memtable(table)


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, empty (NaN) where the denominator is missing or zero."""
    safe = denominator.where(denominator > 0)
    return numerator.astype(float) / safe.astype(float) if len(safe) else safe.astype(np.float64)
