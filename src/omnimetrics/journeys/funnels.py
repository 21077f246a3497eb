"""Ordered funnels over events: persons reaching each step after the previous one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.journeys.events import JourneyError

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


def funnel(
    wh: Warehouse,
    steps: Sequence[str] = ("visit", "product_view", "add_to_cart", "checkout"),
    *,
    by: str | None = None,
    within_days: int = 30,
    persons: ir.Table | None = None,
) -> ir.Table:
    """Ordered funnel over events: persons reaching each step after the previous one.

    Columns: [by], step (1-based), event_type, persons, step_conversion (from the previous step),
    drop_off, median_hours_from_previous. `by` is a column of `events` taken at the first step
    (channel, device_type...) or of `persons` (person_id and segment columns, e.g.
    `metrics.segments.person_segments(wh)`: a funnel per RFM group or channel mix).
    """
    if len(steps) < 2:
        raise JourneyError("A funnel needs at least two steps, e.g. visit, add_to_cart.")
    events = _events_to_cut(wh.table("events"), by, persons)
    group = [by] if by else []
    levels = _step_levels(events, steps, group, within_days)
    stacked = ibis.union(*(lvl.select("person_id", *group, "step", "hours") for lvl in levels))
    counts = stacked.group_by([*group, "step"]).agg(
        persons=stacked.person_id.nunique(), median_hours_from_previous=stacked.hours.median()
    )
    prior = ibis.window(group_by=group or None, order_by="step")
    previous = counts.persons.lag().over(prior)
    names = ibis.literal(list(steps))
    counts = counts.mutate(
        event_type=names[counts.step - 1],
        step_conversion=counts.persons / previous,
        drop_off=1 - counts.persons / previous,
    )
    return counts.order_by([*group, "step"])


def _events_to_cut(events: ir.Table, by: str | None, persons: ir.Table | None) -> ir.Table:
    """`events`, with the `by` column of `persons` joined when events lack it."""
    segment = persons is not None and by is not None and by in persons.columns
    if segment and by not in events.columns:
        events = events.left_join(persons.select("person_id", by), "person_id").drop(
            "person_id_right"
        )
    if by is not None and by not in events.columns:
        known = [*events.columns, *(persons.columns if persons is not None else [])]
        raise JourneyError(f"Cannot cut a funnel by {by!r}; columns: {sorted(set(known))}.")
    return events


def _step_levels(
    events: ir.Table, steps: Sequence[str], group: list[str], within_days: int
) -> list[ir.Table]:
    """Per step: person_id, [by], step, at, hours (from the previous step) of each person who
    reached it within `within_days` of reaching the previous one."""
    first = events.filter(events.event_type == steps[0])
    if group:
        # The cut is taken at the person's first step-1 event.
        head = ibis.window(group_by="person_id", order_by=["timestamp", "event_id"])
        first = first.mutate(_n=ibis.row_number().over(head))
        first = first.filter(first._n == 0)
    reached = first.group_by(["person_id", *group]).agg(at=first.timestamp.min())
    levels = [reached.mutate(step=1, hours=ibis.null(dt.float64))]
    for number, step in enumerate(steps[1:], start=2):
        later = events.filter(events.event_type == step)
        joined = reached.join(
            later,
            [
                reached.person_id == later.person_id,
                later.timestamp >= reached.at,
                later.timestamp <= reached.at + ibis.interval(days=within_days),
            ],
        )
        reached = joined.group_by([reached.person_id, *(reached[g] for g in group)]).agg(
            at=later.timestamp.min(), previous=reached.at.min()
        )
        levels.append(
            reached.mutate(
                step=number, hours=reached.at.delta(reached.previous, unit="second") / 3600
            ).drop("previous")
        )
        reached = reached.drop("previous")
    return levels
