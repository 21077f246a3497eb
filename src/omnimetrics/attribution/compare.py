"""Comparing attribution models, the roles channels play in journeys, and cross-channel credit.

- `compare_models`: where models disagree (share per channel and model, largest shift) and how
  far they agree on the ranking of channels (Spearman and Kendall rank correlation per pair).
- `journey_roles`: which channels open journeys, which assist and which close them.
- `cross_channel_influence` / `influence_summary`: the credit that online and offline touches
  earn on sales completed in each sales channel (the ROPO effect: research online, purchase
  offline, and the reverse).

Engine work (windows, group-bys) stays in Ibis; only the small tidy tables reach pandas and scipy.
Formulas in docs/attribution.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from omnimetrics.attribution.aggregate import journey_paths
from omnimetrics.attribution.learned import NO_TOUCH
from omnimetrics.attribution.paths import LABEL_JOIN, PathTable, label_keys
from omnimetrics.attribution.registry import AttributionModel, get_model
from omnimetrics.attribution.rules import touch_credits
from omnimetrics.errors import ConfigError, SchemaError, did_you_mean
from omnimetrics.registry import Registry
from omnimetrics.vocabulary import OFFLINE_CHANNELS, ONLINE_SALES

_RANK_DECIMALS = 12
"""Shares are rounded before ranking, so float noise (1/3 summed two ways) makes no false ranks."""


def _require(columns: Sequence[str], needed: Sequence[str], what: str) -> None:
    missing = [c for c in needed if c not in columns]
    if missing:
        hints = " ".join(did_you_mean(c, columns) for c in missing)
        raise SchemaError(f"{what} lacks the column(s) {missing}. {hints}")


def _percent(share: float) -> str:
    return f"{share:.1%}" if 0 < abs(share) < 0.01 else f"{share:.0%}"


@dataclass(frozen=True, eq=False)
class ModelComparison:
    """Shares per <by> value and model, and the rank agreement of each pair of models."""

    by: str
    models: tuple[str, ...]
    """Every model of the input, in input order."""
    compared: tuple[str, ...]
    """The additive models, used for the disagreement and agreement statistics."""
    shares: pd.DataFrame
    agreement: pd.DataFrame

    def summary(self) -> list[str]:
        """A few plain-English lines: largest disagreement, agreement, top channels."""
        if not self.models:
            return ["No attribution results to compare."]
        lines: list[str] = []
        left_out = [m for m in self.models if m not in self.compared]
        if left_out:
            lines.append(
                f"Left out of the comparison (credits do not add up to the total): "
                f"{', '.join(left_out)}."
            )
        if len(self.compared) < 2:
            lines.append(f"Only {len(self.compared)} additive model(s): nothing to compare.")
            return lines
        ranked = self.shares[self.shares[self.by] != NO_TOUCH]
        if ranked.empty or not (ranked.largest_shift > 0).any():
            lines.append(f"All models give every {self.by} the same share.")
        else:
            top = ranked.iloc[0]
            lines.append(
                f"Models disagree most on {top[self.by]}: {_percent(top.min_share)} "
                f"({top.lowest_model}) to {_percent(top.max_share)} ({top.highest_model})."
            )
        defined = self.agreement.dropna(subset=["spearman"])
        if defined.empty:
            note = self.agreement.note.dropna()
            reason = f": {note.iloc[0]}" if not note.empty else ""
            lines.append(f"Rank agreement is undefined{reason}.")
        else:
            low = defined.iloc[0]  # agreement is sorted by Spearman, lowest first
            lines.append(
                f"Lowest agreement: {low.model_a} vs {low.model_b} (Spearman {low.spearman:.2f})."
            )
        if not ranked.empty:
            by_value = ranked.set_index(self.by).round(_RANK_DECIMALS)
            tops = {m: _top(by_value[m]) for m in self.compared}
            if len(set(tops.values())) == 1:
                lines.append(f"Every model ranks {tops[self.compared[0]]} first.")
            else:
                pairs = ", ".join(f"{m} -> {top}" for m, top in tops.items())
                lines.append(f"The top {self.by} differs: {pairs}.")
        no_touch = self.shares[self.shares[self.by] == NO_TOUCH]
        if not no_touch.empty:
            untouched = no_touch[list(self.compared)].iloc[0]
            low, high = untouched.min(), untouched.max()
            span = (
                _percent(high)
                if _percent(low) == _percent(high)  # equal as written (sums differ in order)
                else f"From {_percent(low)} ({untouched.idxmin()}) to {_percent(high)} "
                f"({untouched.idxmax()})"
            )
            lines.append(
                f"{span} of orders have no attributable touch; the shares compared are of the "
                "attributable credit."
            )
        return lines


def compare_models(attribution: ir.Table | pd.DataFrame, by: str = "channel") -> ModelComparison:
    """Compare the models of a tidy attribution table (`attribute(...)`): shares and agreement.

    Shares are of the attributable credit: when a model reports NO_TOUCH orders, its other shares
    are divided by (1 - its NO_TOUCH share), so models with and without that row compare fairly.
    The NO_TOUCH row keeps its share of all orders and takes no part in the statistics. Models
    flagged `additive == False` (if the column exists) appear in `shares` as given but not in
    the statistics. A model that gives a <by> value nothing has share 0 for it, which counts in
    its ranking.
    """
    frame = attribution.to_pandas() if isinstance(attribution, ir.Table) else attribution
    _require(list(frame.columns), ["model", by, "share"], "The attribution table")
    models = tuple(dict.fromkeys(frame["model"]))
    if "additive" in frame.columns:
        additive = frame.groupby("model", sort=False)["additive"].all()
        compared = tuple(m for m in models if bool(additive[m]))
    else:
        compared = models
    pivot = _pivot(frame, by, models, compared)
    attributable = pivot.index != NO_TOUCH
    ranked = pivot.loc[attributable, list(compared)]
    shares = pivot.copy()
    if compared:
        shares["min_share"] = ranked.min(axis=1)
        shares["max_share"] = ranked.max(axis=1)
        # Equal shares can differ in their last bits (parallel sums): rounded, a tie goes to the
        # first model named, the same from one run to the next.
        rounded = ranked.round(12)
        shares["lowest_model"] = rounded.idxmin(axis=1)
        shares["highest_model"] = rounded.idxmax(axis=1)
    else:
        shares["min_share"] = shares["max_share"] = np.nan
        shares["lowest_model"] = shares["highest_model"] = None
    shares["largest_shift"] = shares.max_share - shares.min_share
    # Sorted on the shift rounded: engines sum in parallel, so equal shifts can differ in their
    # last bits from one run to the next; rounded, ties fall to the name and the order is stable.
    shares["_shift"] = shares.largest_shift.round(12)
    shares = (
        shares.rename_axis(by)
        .reset_index()
        .sort_values(["_shift", by], ascending=[False, True], na_position="last")
        .reset_index(drop=True)
    )
    columns = [by, *models, "min_share", "max_share", "largest_shift"]
    shares = shares[[*columns, "lowest_model", "highest_model"]]
    return ModelComparison(
        by=by,
        models=models,
        compared=compared,
        shares=shares,
        agreement=_agreement(ranked, by),
    )


def _pivot(
    frame: pd.DataFrame, by: str, models: tuple[str, ...], compared: tuple[str, ...]
) -> pd.DataFrame:
    """Share per <by> value (rows) and model (columns), of the attributable credit for the
    compared models (NO_TOUCH keeps its share of all orders)."""
    pivot = (
        frame.groupby([by, "model"], dropna=False, sort=False)["share"]
        .sum()
        .unstack("model", fill_value=0.0)
        .reindex(columns=list(models), fill_value=0.0)
        .astype("float64")
    )
    pivot.columns.name = None
    attributable = pivot.index != NO_TOUCH
    if not attributable.all():
        no_touch = pivot.loc[~attributable].iloc[0]
        for model in compared:
            if 0 < no_touch[model] < 1:
                pivot.loc[attributable, model] = pivot.loc[attributable, model] / (
                    1 - no_touch[model]
                )
    return pivot


def _top(column: pd.Series) -> str | None:
    if column.empty:
        return None
    best = column.index[column == column.max()]
    return min(best, key=str)


def rank_correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman's rho (the correlation of the average ranks) and Kendall's tau-b of two
    samples, as `scipy.stats` computes them, in numpy: importing scipy.stats takes half a
    second, more than a dashboard view of the comparison may.

    >>> rho, tau = rank_correlations(np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4]))
    >>> round(rho, 12), round(tau, 12)
    (0.8, 0.666666666667)
    """
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant sample: NaN, as scipy
        rho = float(np.corrcoef(_average_ranks(x), _average_ranks(y))[0, 1])
    concordance, untied_x, untied_y = 0.0, 0, 0
    step = max(1, (1 << 22) // max(len(x), 1))  # pairs compared at once: a few MB
    for start in range(0, len(x), step):
        rows = slice(start, start + step)
        later = np.arange(len(x))[None, :] > np.arange(len(x))[rows, None]  # each pair once
        dx = np.sign(x[rows, None] - x[None, :]) * later
        dy = np.sign(y[rows, None] - y[None, :]) * later
        concordance += float((dx * dy).sum())
        untied_x, untied_y = untied_x + int((dx != 0).sum()), untied_y + int((dy != 0).sum())
    tau = concordance / np.sqrt(float(untied_x) * untied_y) if untied_x and untied_y else np.nan
    return rho, float(tau)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (`scipy.stats.rankdata`)."""
    order = np.argsort(values, kind="stable")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)
    return ranks


def _agreement(ranked: pd.DataFrame, by: str) -> pd.DataFrame:
    """Spearman and Kendall rank correlation of each pair of models over the <by> values."""
    rounded = ranked.round(_RANK_DECIMALS)
    rows = []
    for a, b in itertools.combinations(rounded.columns, 2):
        x, y = rounded[a].to_numpy(), rounded[b].to_numpy()
        spearman = kendall = np.nan
        constant = [m for m, v in ((a, x), (b, y)) if len(v) and (v == v[0]).all()]
        if len(x) < 3:
            note = f"fewer than 3 {by} values ({len(x)}): rank correlation is undefined"
        elif constant:
            note = (
                f"{' and '.join(constant)} give(s) every {by} the same share: "
                "rank correlation is undefined"
            )
        else:
            note = None
            spearman, kendall = rank_correlations(x, y)
        top_a, top_b = _top(rounded[a]), _top(rounded[b])
        rows.append({
            "model_a": a, "model_b": b, "ranked_values": len(x), "spearman": spearman,
            "kendall": kendall, "top_a": top_a, "top_b": top_b,
            "top_channel_same": top_a is not None and top_a == top_b, "note": note,
        })  # fmt: skip
    columns = ["model_a", "model_b", "ranked_values", "spearman", "kendall", "top_a", "top_b"]
    agreement = pd.DataFrame(rows, columns=[*columns, "top_channel_same", "note"])
    agreement = agreement.astype({"spearman": "float64", "kendall": "float64"})
    agreement["top_channel_same"] = agreement["top_channel_same"].astype(bool)
    order = agreement.spearman.round(12).sort_values(na_position="last", kind="stable").index
    return agreement.loc[order].reset_index(drop=True)  # rounded: see compare_models


def journey_roles(journeys: ir.Table | PathTable, by: str = "channel") -> ir.Table:
    """Which channels open journeys, which assist in the middle and which close them.

    journeys: the touches of conversion journeys (order_id, position, <by>), or their distinct
    paths (`PathTable`, a converting path counting as many journeys as its conversions; a label
    of several columns counts by its first, which is `by`). Per <by> value: touches; opening
    (first touch of a journey of 2+ touches), middle, closing (last touch of a journey of 2+
    touches), only (journeys of one touch); each divided by touches as early_share,
    middle_share, late_share, only_share (they sum to 1). Role: "opener" if opening > closing
    and opening >= middle; "closer" if closing > opening and closing >= middle; else "assist"
    (middle most frequent, opening and closing tied, or only single-touch journeys).
    """
    if isinstance(journeys, PathTable):
        paths = journeys
    else:
        _require(journeys.columns, ["order_id", "position", by], "The journey touches")
        paths = PathTable.from_arrow(journey_paths(journeys, by=[by]).to_pyarrow())
    won = paths.subset((paths.conversions > 0) & (paths.lengths > 0))
    keys = label_keys([label.split(LABEL_JOIN)[0] for label in won.labels], [by])[by]
    codes: dict[str | None, int] = {}
    key_of_label = np.array([codes.setdefault(key, len(codes)) for key in keys], np.int64)
    owner = won.path_of_touch
    length, position = won.lengths[owner], won.position_of_touch
    weight, key = won.conversions[owner], key_of_label[won.codes]
    multi = length >= 2

    def counted(touch: np.ndarray) -> np.ndarray:
        summed = np.bincount(key, weights=weight * touch, minlength=len(codes))
        return np.rint(summed).astype(np.int64)

    touches = counted(np.ones(len(key), bool))
    opening = counted(multi & (position == 0))
    middle = counted(multi & (position > 0) & (position < length - 1))
    closing = counted(multi & (position == length - 1))
    only = counted(length == 1)
    closer = np.where((closing > opening) & (closing >= middle), "closer", "assist")
    role = np.where((opening > closing) & (opening >= middle), "opener", closer)
    seen = touches > 0  # a label of journeys that did not convert only: no touch to count
    columns = {"touches": touches, "opening": opening, "middle": middle, "closing": closing,
               "only": only}  # fmt: skip
    table = pa.table({
        by: pa.array([k for k, s in zip(codes, seen, strict=True) if s], pa.string()),
        **{name: pa.array(values[seen], pa.int64()) for name, values in columns.items()},
        **{share: pa.array(columns[name][seen] / touches[seen], pa.float64())
           for share, name in (("early_share", "opening"), ("middle_share", "middle"),
                               ("late_share", "closing"), ("only_share", "only"))},
        "role": pa.array(role[seen].astype(object), pa.string()),
    })  # fmt: skip
    return ibis.memtable(table).order_by([ibis.desc("touches"), by])


def cross_channel_influence(
    touches: ir.Table,
    model: str = "linear",
    by: str = "channel",
    *,
    non_converting: ir.Table | None = None,
    registry: Registry[AttributionModel] | None = None,
) -> ir.Table:
    """Credit each touch <by> value earns on the conversions of each sales channel.

    Columns: sales_channel, online_sale, <by>, online_touch, conversions (sum of credit; per
    sales channel they add up to its orders), revenue, share_of_sales_channel. A touch is online
    unless its channel is in OFFLINE_CHANNELS; a sale is online when its sales channel is
    in ONLINE_SALES. Orders a model leaves without credit (same_touch) are not counted.
    A data-driven model (by channel, with `non_converting`) is fitted once per sales channel, on
    the journeys that ended in that sales channel and on every journey that did not convert.
    """
    _require(touches.columns, ["sales_channel", "channel", by], "The journey touches")
    spec = get_model(model, registry)
    if spec.data_driven:
        return _learned_influence(touches, model, by, non_converting, registry)
    if not spec.additive:
        raise ConfigError(
            f"{model!r} gives full credit to every touch (its credits do not add up to the "
            "conversions): choose an additive model such as 'linear' for cross-channel influence."
        )
    credited = touch_credits(touches, model, registry)
    credited = credited.mutate(
        online_touch=~ibis.coalesce(credited.channel, "").isin(OFFLINE_CHANNELS),
        online_sale=ibis.coalesce(credited.sales_channel, "").isin(ONLINE_SALES),
    )
    keys = ["sales_channel", "online_sale", by, "online_touch"]
    grouped = credited.group_by(list(dict.fromkeys(keys))).agg(
        conversions=credited.credit.sum(), revenue=credited.attributed_revenue.sum()
    )
    per_sale = ibis.window(group_by="sales_channel")
    return grouped.mutate(
        share_of_sales_channel=grouped.conversions / grouped.conversions.sum().over(per_sale)
    ).order_by(["sales_channel", ibis.desc("conversions"), by])


def _learned_influence(
    touches: ir.Table,
    model: str,
    by: str,
    non_converting: ir.Table | None,
    registry: Registry[AttributionModel] | None,
) -> ir.Table:
    from omnimetrics.attribution.credit import attribute

    if non_converting is None or by != "channel":
        raise ConfigError(
            f"{model!r} is data-driven: cross-channel influence needs the non-converting journeys "
            "(non_converting=...) and credits channels (by='channel')."
        )
    sales = touches.select("sales_channel").distinct().to_pyarrow().column(0).to_pylist()
    parts = []
    for sale in sorted(s for s in sales if s is not None):
        ended_there = touches.filter(touches.sales_channel == sale)
        part = attribute(
            ended_there, [model], non_converting=non_converting, registry=registry
        ).to_pandas()
        part.insert(0, "sales_channel", sale)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame["online_sale"] = frame.sales_channel.isin(ONLINE_SALES)
    frame["online_touch"] = ~frame.channel.isin(OFFLINE_CHANNELS)
    totals = frame.groupby("sales_channel").conversions.transform("sum")
    frame["share_of_sales_channel"] = frame.conversions / totals
    columns = ["sales_channel", "online_sale", "channel", "online_touch", "conversions",
               "revenue", "share_of_sales_channel"]  # fmt: skip
    ordered = frame[columns].sort_values(["sales_channel", "conversions"], ascending=[True, False])
    return ibis.memtable(ordered.reset_index(drop=True))


def influence_summary(table: ir.Table | pd.DataFrame) -> pd.DataFrame:
    """Per sales channel, the share of its conversions and revenue credited to online and
    offline touches (from `cross_channel_influence`), with a plain-English line."""
    frame = table.to_pandas() if isinstance(table, ir.Table) else table
    needed = ["sales_channel", "online_sale", "online_touch", "conversions", "revenue"]
    _require(list(frame.columns), needed, "The cross-channel influence table")
    online = frame["online_touch"].astype(bool)
    parts = frame.assign(
        online_conversions=frame.conversions.where(online, 0.0),
        online_revenue=frame.revenue.where(online, 0.0),
    )
    summary = (
        parts.groupby("sales_channel", sort=True)
        .agg(
            online_sale=("online_sale", "first"),
            conversions=("conversions", "sum"),
            revenue=("revenue", "sum"),
            online_conversions=("online_conversions", "sum"),
            online_revenue=("online_revenue", "sum"),
        )
        .reset_index()
    )
    summary["online_credit_share"] = summary.online_conversions / summary.conversions
    summary["offline_credit_share"] = 1 - summary.online_credit_share
    summary["online_revenue_share"] = summary.online_revenue / summary.revenue
    summary["offline_revenue_share"] = 1 - summary.online_revenue_share
    towards = np.where(summary.online_sale, "offline", "online")
    crossing = np.where(
        summary.online_sale, summary.offline_credit_share, summary.online_credit_share
    )
    summary["summary"] = [
        f"{sale} sales: {_percent(share)} of credit goes to {kind} touchpoints"
        for sale, share, kind in zip(summary.sales_channel, crossing, towards, strict=True)
    ]
    return summary.drop(columns=["online_conversions", "online_revenue"])
