"""Engine aggregation of journeys into distinct paths: the input of the data-driven models, and of
every model that reads only the order of the touches.

`month_paths` groups journeys by conversion month and path, and `paths_of_months` sums those rows
over a range of months; `journey_paths` is the two at once. A run stores the month rows, so that a
month range is attributed from them exactly as from the journeys (`report.paths_report`). The
grouping runs in the engine; only the distinct paths come back, as a `PathTable`
(`PathTable.from_arrow(paths_of_months(...).to_pyarrow())`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.attribution.paths import LABEL_JOIN, NOT_SET

SUMS = ("conversions", "value", "first_orders", "first_value", "nulls")
"""What `month_paths` sums per month and path."""


def label_of(touches: ir.Table, by: Sequence[str]) -> ir.StringValue:
    """The state label of each touch: its channel, campaign, or both joined."""
    parts = [touches[column].cast("string").fill_null(NOT_SET) for column in by]
    label = parts[0]
    for part in parts[1:]:
        label = label.concat(LABEL_JOIN, part)
    return label


def month_paths(
    converting: ir.Table | None,
    orders: ir.Table | None = None,
    non_converting: ir.Table | None = None,
    *,
    by: Sequence[str] = ("channel",),
) -> ir.Table:
    """Distinct paths by conversion month: month (its first day, UTC; null for the journeys that
    did not convert), path (list of labels), conversions, value (their revenue), first_orders and
    first_value (those of them that are a person's first order), nulls (journeys that did not
    convert). `summed_paths` of `journey_rows`.

    converting: journey touches (order_id, position, <by>; person_id, order_at, revenue and
    first_order when they are known; None: only the journeys that did not convert); orders: the
    orders of the same segment (order_id, order_at or timestamp, revenue; person_id,
    first_order): those without any touch make the empty path; non_converting: touches of
    journeys that did not convert (person_id, position, <by>).
    """
    return summed_paths(journey_rows(converting, orders, non_converting, by=by))


def journey_rows(
    converting: ir.Table | None,
    orders: ir.Table | None = None,
    non_converting: ir.Table | None = None,
    *,
    by: Sequence[str] = ("channel",),
) -> ir.Table:
    """One row per journey (the inputs of `month_paths`): month, person_id, path and what it
    adds to each of SUMS (an order: 1 conversion, its revenue...; a journey that did not
    convert: 1 null). Joined with the persons' segments, `summed_paths(rows, groups)` gives the
    paths of each segment from one pass over the journeys."""
    parts = []
    if converting is not None:
        touches = converting.mutate(**_order_columns(converting, "order_at"))
        person = {"person_id": touches.person_id.max()} if "person_id" in touches.columns else {}
        won = _journeys(touches, ["order_id", "month"], by, revenue=touches.revenue.max(),
                        first=touches.first.max(), **person)  # fmt: skip
        parts.append(_row(won, conversions=ibis.literal(1.0), value=won.revenue,
                          first_orders=won.first, first_value=won.first * won.revenue,
                          nulls=ibis.literal(0.0)))  # fmt: skip
    if orders is not None and converting is not None:
        lonely = orders.anti_join(converting, "order_id")
        at = "order_at" if "order_at" in lonely.columns else "timestamp"
        lonely = lonely.mutate(**_order_columns(lonely, at),
                               path=ibis.literal([], type=dt.Array(dt.string)))  # fmt: skip
        count = lonely.conversions if "conversions" in lonely.columns else ibis.literal(1.0)
        parts.append(_row(lonely, conversions=count, value=lonely.revenue,
                          first_orders=lonely.first, first_value=lonely.first * lonely.revenue,
                          nulls=ibis.literal(0.0)))  # fmt: skip
    if non_converting is not None:
        lost = _journeys(non_converting, ["person_id"], by).mutate(month=ibis.null(dt.date))
        zero = ibis.literal(0.0)
        parts.append(_row(lost, conversions=zero, value=zero, first_orders=zero,
                          first_value=zero, nulls=ibis.literal(1.0)))  # fmt: skip
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def summed_paths(journeys: ir.Table, groups: Sequence[str] = ()) -> ir.Table:
    """`journey_rows` summed per month, `groups` (e.g. a segment's column and value) and path."""
    keys = ["month", *groups, "path"]
    return journeys.group_by(keys).agg(**{name: journeys[name].sum() for name in SUMS})


def relabelled(rows: ir.Table, by: Sequence[str], keep: Sequence[str],
               groups: Sequence[str] = ()) -> ir.Table:  # fmt: skip
    """Rows of `month_paths` labelled by `by`, as labelled by `keep` (some of those columns):
    every label cut to them and the rows summed again (per month, `groups` and path), so one
    pass over the journeys gives the paths by channel and by campaign."""
    parts = [list(by).index(column) for column in keep]

    def cut(label: ir.StringValue) -> ir.StringValue:
        split = label.split(LABEL_JOIN)
        kept = split[parts[0]]
        for part in parts[1:]:
            kept = kept.concat(LABEL_JOIN, split[part])
        return kept

    cut_rows = rows.mutate(path=rows.path.map(cut))
    keys = ["month", *groups, "path"]
    return cut_rows.group_by(keys).agg(**{n: cut_rows[n].sum() for n in SUMS})


def paths_of_months(
    rows: ir.Table, since: date | None = None, until: date | None = None
) -> ir.Table:
    """The rows of `month_paths` summed per path over the months from `since`'s to `until`'s
    (the journeys that did not convert are in every range), in a fixed order: the same rows
    give the same table, whether they were stored or just computed."""
    if since is not None:
        rows = rows.filter(rows.month.isnull() | (rows.month >= since.replace(day=1)))
    if until is not None:
        rows = rows.filter(rows.month.isnull() | (rows.month <= until.replace(day=1)))
    summed = rows.group_by("path").agg(**{name: rows[name].sum() for name in SUMS})
    return summed.order_by("path")


def journey_paths(
    converting: ir.Table,
    non_converting: ir.Table | None = None,
    *,
    by: Sequence[str] = ("channel",),
) -> ir.Table:
    """Engine aggregation of journeys into distinct paths: path (list of labels), conversions,
    nulls, value.

    converting: journey touches (order_id, position, revenue, <by>); non_converting: touches of
    journeys that did not convert (person_id, position, <by>).
    """
    every = paths_of_months(month_paths(converting, None, non_converting, by=by))
    return every.select("path", "conversions", "nulls", "value")


def _journeys(
    touches: ir.Table, keys: list[str], by: Sequence[str], **columns: ir.Value
) -> ir.Table:
    """One row per journey: its path (labels in position order) and `columns` aggregated."""
    step = ibis.struct({"position": touches.position, "label": label_of(touches, by)})
    journeys = touches.group_by(keys).agg(_steps=step.collect(), **columns)
    return journeys.mutate(path=journeys._steps.sort().map(lambda s: s.label))


def _row(journeys: ir.Table, **sums: ir.Value) -> ir.Table:
    """One journey's row: month, person_id (text; null when unknown), path, SUMS as floats."""
    person = (journeys.person_id.cast(dt.string) if "person_id" in journeys.columns
              else ibis.null(dt.string))  # fmt: skip
    return journeys.select("month", "path", person_id=person,
                           **{name: sums[name].cast(dt.float64) for name in SUMS})  # fmt: skip


def _order_columns(table: ir.Table, at: str) -> dict[str, ir.Value]:
    """Of each row's order: its month (the first day, UTC; null when the table has no times),
    its revenue (0 when unknown) and `first`, 1 for a person's first order, else 0 (null when
    the table does not say)."""
    month = table[at].truncate("M").date() if at in table.columns else ibis.null(dt.date)
    revenue = table.revenue.cast(dt.float64) if "revenue" in table.columns else ibis.literal(0.0)
    first = (ibis.cases((table.first_order, 1.0), else_=0.0) if "first_order" in table.columns
             else ibis.null(dt.float64))  # fmt: skip
    return {"month": month, "revenue": revenue, "first": first}
