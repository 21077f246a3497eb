"""Engine aggregation of journeys into distinct paths (the input of the data-driven models).

The grouping runs in the engine; only the distinct paths come back, as a `PathTable`
(`PathTable.from_arrow(journey_paths(...).to_pyarrow())`).
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from omnimetrics.attribution.paths import LABEL_JOIN, NOT_SET


def label_of(touches: ir.Table, by: Sequence[str]) -> ir.StringValue:
    """The state label of each touch: its channel, campaign, or both joined."""
    parts = [touches[column].cast("string").fill_null(NOT_SET) for column in by]
    label = parts[0]
    for part in parts[1:]:
        label = label.concat(LABEL_JOIN, part)
    return label


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

    def paths(touches: ir.Table, key: str) -> ir.Table:
        step = ibis.struct({"position": touches.position, "label": label_of(touches, by)})
        per_journey = touches.group_by(key).agg(_steps=step.collect(), revenue=_revenue(touches))
        return per_journey.select(
            path=per_journey._steps.sort().map(lambda s: s.label), revenue=per_journey.revenue
        )

    won = paths(converting, "order_id")
    won = won.group_by("path").agg(conversions=won.count().cast("float64"),
                                   nulls=ibis.literal(0.0), value=won.revenue.sum())  # fmt: skip
    parts = [won]
    if non_converting is not None:
        lost = paths(non_converting, "person_id")
        parts.append(lost.group_by("path").agg(conversions=ibis.literal(0.0),
                                               nulls=lost.count().cast("float64"),
                                               value=ibis.literal(0.0)))  # fmt: skip
    every = ibis.union(*parts) if len(parts) > 1 else won
    distinct = every.group_by("path").agg(
        conversions=every.conversions.sum(), nulls=every.nulls.sum(), value=every.value.sum()
    )
    return distinct.order_by("path")  # a fixed order: the same input gives the same output


def _revenue(touches: ir.Table) -> ir.FloatingValue:
    if "revenue" in touches.columns:
        return touches.revenue.max().cast("float64")
    return ibis.literal(0.0)
