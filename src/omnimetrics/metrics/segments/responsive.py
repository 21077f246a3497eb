"""The segments that respond most to a campaign: conversion of the exposed against the
unexposed of the same segment (observational, not causal: docs/segments.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from omnimetrics.errors import ConfigError, UnknownNameError, did_you_mean
from omnimetrics.journeys import conversions
from omnimetrics.metrics.segments.dimensions import DIMENSIONS
from omnimetrics.metrics.segments.profiles import person_segments
from omnimetrics.metrics.segments.user import user_segments

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


def most_responsive(
    wh: Warehouse,
    campaign: str,
    by: str = "rfm_segment",
    *,
    window_days: int = 30,
    as_of: date | None = None,
) -> ir.Table:
    """Per segment value: conversion rate of persons exposed to `campaign` within `window_days`
    after their first exposure, the rate of the segment's unexposed persons over the same days
    from the campaign's start, and the lift (exposed - unexposed; relative: lift / unexposed).

    Observational, not causal: exposure was targeted. Segments are taken at `as_of` (default:
    the day before the campaign's first exposure, so that the campaign cannot move a person's
    segment). Measure causal lift with a holdout experiment (docs/segments.md).
    """
    if window_days <= 0:
        raise ConfigError(f"window_days must be a positive number of days; got {window_days}.")
    if "events" not in wh.tables():
        raise ConfigError("most_responsive needs `events`: run `omnimetrics journeys` first.")
    events = wh.table("events")
    first, start = _first_exposures(events, campaign)
    before = start.astimezone(UTC).date() - timedelta(days=1)
    persons = person_segments(wh, as_of=as_of or before)
    if by not in persons.columns or by == "person_id":
        users = user_segments(wh.settings)
        raise UnknownNameError(f"Cannot cut by {by!r}. " + did_you_mean(by, [*DIMENSIONS, *users]))
    orders = conversions(wh)
    orders = orders.filter(orders.person_id.notnull()).select("person_id", at=orders.timestamp)
    cohort = _cohort(persons.select("person_id"), events, orders, first, start, window_days)
    cohort = cohort.join(persons.select("person_id", segment=persons[by]), "person_id")
    return _lift(_converted(cohort, orders, window_days)).rename({by: "segment"})


def _first_exposures(events: ir.Table, campaign: str) -> tuple[ir.Table, datetime]:
    """person_id, exposed_at (first event of the campaign) of each exposed person, and the
    campaign's start; an unknown campaign is an error naming the close ones."""
    exposures = events.filter(events.campaign == campaign)
    first = exposures.group_by("person_id").agg(exposed_at=exposures.timestamp.min())
    start = first.exposed_at.min().to_pyarrow().as_py()
    if start is None:
        seen = events.campaign.topk(200).to_pyarrow().column(0).to_pylist()
        raise UnknownNameError(
            f"No event carries the campaign {campaign!r}. "
            + did_you_mean(campaign, [c for c in seen if c is not None])
        )
    return first, start


def _cohort(
    persons: ir.Table,
    events: ir.Table,
    orders: ir.Table,
    first: ir.Table,
    start: datetime,
    window_days: int,
) -> ir.Table:
    """person_id, reference (from when conversions count), exposed (1/0): the exposed from their
    first exposure; the other `persons` from the campaign's start, if already active by the end
    of its first window."""
    window = ibis.interval(days=window_days)
    starts = ibis.literal(start).cast(first.exposed_at.type())
    activity = ibis.union(events.select("person_id", at=events.timestamp), orders)
    first_seen = activity.group_by("person_id").agg(first_seen=activity.at.min())
    exposed = first.select("person_id", reference=first.exposed_at, exposed=ibis.literal(1))
    unexposed = (
        persons.anti_join(first, "person_id")
        .join(first_seen, "person_id")
        .filter(lambda t: t.first_seen <= starts + window)
        .select("person_id", reference=starts, exposed=ibis.literal(0))
    )
    return ibis.union(exposed, unexposed)


def _converted(cohort: ir.Table, orders: ir.Table, window_days: int) -> ir.Table:
    """segment, exposed, converted (1/0): whether each person of the cohort ordered within
    `window_days` of their reference."""
    window = ibis.interval(days=window_days)
    converted = cohort.semi_join(
        orders,
        [
            cohort.person_id == orders.person_id,
            orders.at >= cohort.reference,
            orders.at <= cohort.reference + window,
        ],
    ).select("person_id", "exposed", _converted=ibis.literal(1))
    flagged = cohort.left_join(converted, ["person_id", "exposed"])
    return flagged.select(cohort.segment, cohort.exposed, converted=flagged._converted.fill_null(0))


def _lift(flagged: ir.Table) -> ir.Table:
    """Per segment: persons and conversions of the exposed and the unexposed, their rates, and
    the lift, largest first."""

    def count(exposed: int, converted: bool = False) -> ir.IntegerValue:
        hit = flagged.exposed == exposed
        if converted:
            hit = hit & (flagged.converted == 1)
        return ibis.cases((hit, 1), else_=0).sum()

    counts = flagged.group_by("segment").agg(
        exposed_persons=count(1),
        exposed_converted=count(1, True),
        unexposed_persons=count(0),
        unexposed_converted=count(0, True),
    )
    rates = counts.mutate(
        exposed_rate=counts.exposed_converted / counts.exposed_persons.nullif(0),
        unexposed_rate=counts.unexposed_converted / counts.unexposed_persons.nullif(0),
    )
    lifted = rates.mutate(lift=rates.exposed_rate - rates.unexposed_rate)
    lifted = lifted.mutate(relative_lift=lifted.lift / lifted.unexposed_rate.nullif(0))
    return lifted.order_by([lifted.lift.desc(nulls_first=False), lifted.segment])
