"""`attribute`: the tidy credit table of any registered model, from journeys or a path table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from omnimetrics.attribution import uncertainty
from omnimetrics.attribution.aggregate import journey_paths
from omnimetrics.attribution.learned import NO_TOUCH, learned_credit, path_credit
from omnimetrics.attribution.learned import untouched as path_untouched
from omnimetrics.attribution.paths import PathTable, label_keys
from omnimetrics.attribution.registry import AttributionModel, get_model
from omnimetrics.attribution.rules import credit_columns, touch_credits
from omnimetrics.errors import ConfigError
from omnimetrics.registry import Registry

__all__ = ["NO_TOUCH", "attribute", "select_orders"]


def attribute(
    touches: ir.Table | PathTable,
    models: Sequence[str] = ("last_touch",),
    *,
    by: Sequence[str] = ("channel",),
    orders: ir.Table | None = None,
    non_converting: ir.Table | None = None,
    intervals: int = 0,
    seed: int = 0,
    registry: Registry[AttributionModel] | None = None,
) -> ir.Table:
    """Tidy attribution table: model, [by...], conversions, revenue, share, additive.

    touches: journey touches (order_id, position, channel, campaign, touch_at, order_at,
    revenue), e.g. `journeys.journey_touches(wh)`, or a `PathTable` (`read_paths`). orders: when
    given (order_id, revenue), orders without any touch are reported under NO_TOUCH instead of
    disappearing. non_converting: touches of journeys that did not convert (person_id, position,
    channel, campaign), needed by the data-driven models (`journeys.non_conversion_touches(wh)`).
    intervals: number of bootstrap replicates (journeys resampled) for 95% intervals on every
    credit (columns conversions_low/high, share_low/high); seeded, so results are repeatable.
    registry: the models to look names up in (default the built-ins; `models_for(...)`).
    """
    specs = [get_model(name, registry) for name in models]
    by = list(by)
    if isinstance(touches, PathTable) and all(spec.data_driven for spec in specs):
        credit = path_credit(touches, specs, by, intervals=intervals, seed=seed)
        return _ordered(ibis.memtable(credit), by)
    touches, paths, untouched = _inputs(touches, specs, by, orders, non_converting)
    parts, bands = [], []
    together = [s for s in specs if not s.data_driven and s.additive]
    if together:
        parts.append(_ruled_together(together, touches, by, untouched))
        if intervals:
            bands.append(uncertainty.rule_intervals(together, credit_columns(touches, together),
                                                    by, intervals, seed, untouched[0]))  # fmt: skip
    for spec in specs:
        if spec in together:
            continue
        if spec.data_driven:
            assert paths is not None
            table = ibis.memtable(learned_credit(spec, paths, by, untouched))
            if intervals:
                bands.append(uncertainty.learner_intervals(spec, paths, by, intervals, seed,
                                                           untouched[0]))  # fmt: skip
        else:
            credited = touch_credits(touches, spec.name, registry)
            table = _participation(spec, credited, by, untouched)
            if intervals:
                alone = credit_columns(touches, [spec])
                bands.append(uncertainty.rule_intervals([spec], alone, by, intervals, seed,
                                                        untouched[0]))  # fmt: skip
        parts.append(table.select("model", *by, "conversions", "revenue", "share", "additive"))
    result = ibis.union(*parts) if len(parts) > 1 else parts[0]
    if bands:
        merged = result.to_pandas().merge(
            pd.concat(bands, ignore_index=True), on=["model", *by], how="left"
        )
        result = ibis.memtable(merged)
    return _ordered(result, by)


def _ordered(result: ir.Table, by: list[str]) -> ir.Table:
    return result.order_by(["model", ibis.desc("conversions"), *by])


def _inputs(
    touches: ir.Table | PathTable,
    specs: list[AttributionModel],
    by: list[str],
    orders: ir.Table | None,
    non_converting: ir.Table | None,
) -> tuple[ir.Table, PathTable | None, tuple[float, float]]:
    """The touches rule models weigh, the path table data-driven models learn from, and the
    (conversions, revenue) of orders without any touch."""
    if isinstance(touches, PathTable):
        return _path_touches(touches, by), touches, path_untouched(touches)
    paths = None
    if any(spec.data_driven for spec in specs):
        if non_converting is None:
            raise ConfigError(
                f"{', '.join(s.name for s in specs if s.data_driven)} need the non-converting "
                "journeys (non_converting=journeys.non_conversion_touches(wh))."
            )
        aggregated = journey_paths(touches, non_converting, by=by).to_pyarrow()
        paths = PathTable.from_arrow(aggregated)
    return touches, paths, _untouched(orders, touches)


def select_orders(
    table: ir.Table,
    *,
    since: date | None = None,
    until: date | None = None,
    sales_channels: Sequence[str] = (),
) -> ir.Table:
    """Orders (or their journey touches) placed from `since` to `until` (whole days, UTC)
    through the given sales channels: the segment a model is asked about."""
    at = table.order_at if "order_at" in table.columns else table.timestamp
    if since is not None:
        table = table.filter(at >= _utc_midnight(since))
    if until is not None:
        table = table.filter(at < _utc_midnight(until) + timedelta(days=1))
    if sales_channels:
        table = table.filter(table.sales_channel.isin(list(sales_channels)))
    return table


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _untouched(orders: ir.Table | None, touches: ir.Table) -> tuple[float, float]:
    """(conversions, revenue) of orders without any touch."""
    if orders is None:
        return 0.0, 0.0
    lonely = orders.anti_join(touches, "order_id")
    count = lonely.conversions.sum() if "conversions" in lonely.columns else lonely.count()
    row = lonely.aggregate(conversions=count.cast(dt.float64), revenue=lonely.revenue.sum())
    row = row.to_pyarrow().to_pylist()[0]
    return float(row["conversions"] or 0.0), float(row["revenue"] or 0.0)


def _participation(
    spec: AttributionModel, credited: ir.Table, by: list[str], untouched: tuple[float, float]
) -> ir.Table:
    """A non-additive model: each key counts the orders it took part in (and their revenue);
    share = those orders / all orders, untouched ones included."""
    per_order = credited.group_by(["order_id", *by]).agg(
        _w=credited.unit.max(), _r=credited.revenue.max()
    )
    grouped = per_order.group_by(by).agg(
        conversions=per_order._w.sum().cast(dt.float64),
        revenue=per_order._r.sum().cast(dt.float64),
    )
    conversions, revenue = untouched
    if conversions > 0:
        none = ibis.memtable(pa.table({
            **{column: pa.array([NO_TOUCH]) for column in by},
            "conversions": [conversions], "revenue": [revenue],
        }))  # fmt: skip
        grouped = ibis.union(grouped, none)
    orders = credited.group_by("order_id").agg(_w=credited.unit.max())
    total = orders._w.sum().as_scalar() + conversions
    return grouped.mutate(
        model=ibis.literal(spec.name),
        share=grouped.conversions / total,
        additive=ibis.literal(False),
    )


def _ruled_together(
    specs: list[AttributionModel], touches: ir.Table, by: list[str], untouched: tuple[float, float]
) -> ir.Table:
    """Additive rule models in one pass: credits per key in the engine, tidied in pandas. The
    first touches count the orders, so orders an abstaining model leaves out are what is left."""
    wide = credit_columns(touches, specs)
    wide = wide.mutate(revenue=wide.revenue.cast(dt.float64))
    opening = wide.position == 1
    sums = {"_orders": ibis.cases((opening, wide.unit), else_=0.0).sum(),
            "_revenue": ibis.cases((opening, wide.revenue), else_=0.0).sum()}  # fmt: skip
    for spec in specs:
        credit = wide[f"credit_{spec.name}"]
        sums[f"c_{spec.name}"] = (credit * wide.unit).sum()
        sums[f"r_{spec.name}"] = (credit * wide.revenue).sum()
    grouped = wide.group_by(by).agg(**sums).to_pandas()
    frames = []
    for spec in specs:
        frame = grouped[by].copy()
        frame["conversions"] = grouped[f"c_{spec.name}"].astype(float)
        frame["revenue"] = grouped[f"r_{spec.name}"].astype(float)
        conversions, revenue = untouched
        if spec.abstains:
            conversions += float(grouped._orders.sum() - frame.conversions.sum())
            revenue += float(grouped._revenue.sum() - frame.revenue.sum())
        if conversions > 1e-9:
            none = pd.DataFrame({**{c: [NO_TOUCH] for c in by}, "conversions": [conversions],
                                 "revenue": [revenue]})  # fmt: skip
            frame = pd.concat([frame, none], ignore_index=True)
        frame = frame[frame.conversions > 0]
        frame.insert(0, "model", spec.name)
        frame["share"] = frame.conversions / frame.conversions.sum()
        frame["additive"] = True
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    schema = {"model": "string", **{c: "string" for c in by}, "conversions": "float64",
              "revenue": "float64", "share": "float64", "additive": "boolean"}  # fmt: skip
    return ibis.memtable(table, schema=schema)


def _path_touches(paths: PathTable, by: list[str]) -> ir.Table:
    """A path table as weighted touches: one order per converting path, of its conversions."""
    converting = np.flatnonzero(paths.conversions > 0)
    won = paths.subset(paths.conversions > 0)
    keys = label_keys(paths.labels, by)
    order_of_touch = converting[won.path_of_touch].astype(str)
    touches = pa.table({
        "order_id": pa.array(order_of_touch, pa.string()),
        "position": pa.array(won.position_of_touch + 1, pa.int64()),
        **{column: pa.array(np.array(keys[column], dtype=object)[won.codes], pa.string())
           for column in by},
        "revenue": pa.array(won.value[won.path_of_touch], pa.float64()),
        "conversions": pa.array(won.conversions[won.path_of_touch], pa.float64()),
    })  # fmt: skip
    return ibis.memtable(touches)
