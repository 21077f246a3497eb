"""Conversion journeys and what did not convert: the touches before each order, the paths they
draw, where journeys stop, how long they take, and where people switch channel.

A journey holds the person's touches (`events.is_touch`) in the lookback window before an order,
plus the order's promo code of a known campaign and a "how did you hear of us" answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.channels import HEARD_FROM
from omnimetrics.config import JourneySettings
from omnimetrics.identity import person_of_rows
from omnimetrics.privacy import consenting_persons

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

SEPARATOR = " > "
NO_TOUCH_PATH = "(none)"
"""The path of an order with no touch in its journey: kept, so that paths count every order."""


def conversions(wh: Warehouse, settings: JourneySettings | None = None) -> ir.Table:
    """Orders with their person (orders without any identifier have none), less cancelled ones
    and, under a consent purpose, those of persons who refused it; `first_order` is true for a
    person's first order in the warehouse (unknown without a person)."""
    settings = settings or wh.settings.journeys
    orders = wh.table("orders")
    orders = orders.filter(orders.status.isnull() | (orders.status != "cancelled"))
    orders = person_of_rows(wh, orders)
    if settings.consent_purpose:
        allowed = consenting_persons(wh, settings.consent_purpose).person_id
        orders = orders.filter(orders.person_id.isnull() | orders.person_id.isin(allowed))
    rank = ibis.row_number().over(ibis.window(group_by="person_id",
                                              order_by=["timestamp", "order_id"]))  # fmt: skip
    return orders.mutate(first_order=ibis.cases((orders.person_id.isnull(), ibis.null("boolean")),
                                                 else_=rank == 0))  # fmt: skip


def journey_touches(wh: Warehouse, settings: JourneySettings | None = None) -> ir.Table:
    """Touches of each conversion journey: order_id, person_id, touch time, channel, campaign,
    position (1 = first touch) and the order's time, revenue and sales channel.

    A journey holds the person's touches in the lookback window before the order (and after the
    previous order when `since_previous_conversion`).
    """
    settings = settings or wh.settings.journeys
    events = wh.table("events")
    touches = events.filter(events.is_touch)
    orders = conversions(wh, settings).filter(lambda t: t.person_id.notnull())
    previous = ibis.window(group_by="person_id", order_by=["timestamp", "order_id"])
    orders = orders.mutate(previous_order_at=orders.timestamp.lag().over(previous))
    window_start = orders.timestamp - ibis.interval(days=settings.lookback_days)
    if settings.since_previous_conversion:
        window_start = ibis.greatest(window_start, orders.previous_order_at.fill_null(window_start))
    orders = orders.mutate(window_start=window_start).select(
        "order_id", "person_id", "window_start", "revenue", "sales_channel", "first_order",
        order_at=orders.timestamp,
    )  # fmt: skip
    joined = orders.join(
        touches,
        [
            orders.person_id == touches.person_id,
            touches.timestamp <= orders.order_at,
            touches.timestamp > orders.window_start,
        ],
    ).select(
        orders.order_id, orders.person_id, orders.order_at, orders.revenue, orders.sales_channel,
        orders.first_order, touch_at=touches.timestamp, channel=touches.channel,
        campaign=touches.campaign, event_id=touches.event_id,
    )  # fmt: skip
    for offline in (promo_touches(wh, settings), heard_from_touches(wh, settings)):
        if offline is not None:
            joined = ibis.union(joined, offline)
    order = ibis.window(group_by="order_id", order_by=["touch_at", "event_id"])
    return joined.mutate(position=ibis.row_number().over(order) + 1)


def promo_touches(wh: Warehouse, settings: JourneySettings | None = None) -> ir.Table | None:
    """An order's promo code of a known campaign is a touch of that campaign's channel at the
    order's time: how a store sale without any identifier still links to its campaign."""
    if "campaign_codes" not in wh.tables():
        return None
    codes = wh.table("campaign_codes")
    orders = conversions(wh, settings)
    used = orders.filter(orders.promo_code.notnull())
    matched = used.join(codes, used.promo_code.upper() == codes.code.upper())
    return matched.select(
        order_id=used.order_id, person_id=used.person_id, order_at=used.timestamp,
        revenue=used.revenue, sales_channel=used.sales_channel, first_order=used.first_order,
        touch_at=used.timestamp,
        channel=codes.channel, campaign=codes.campaign,
        event_id=ibis.literal("promo:").concat(used.order_id),
    )  # fmt: skip


def heard_from_touches(wh: Warehouse, settings: JourneySettings | None = None) -> ir.Table | None:
    """A "how did you hear of us" answer naming a channel (`channels.HEARD_FROM`) is a touch of
    that channel in the journey of the person's order it follows (a post-purchase survey, within
    `survey_days`), placed at the start of the journey: it tells how the customer discovered us."""
    if "feedback" not in wh.tables():
        return None
    settings = settings or wh.settings.journeys
    answers = person_of_rows(wh, wh.table("feedback"))
    answers = answers.filter(answers.heard_from.notnull() & answers.person_id.notnull())
    named = ibis.memtable({"_answer": list(HEARD_FROM), "_channel": list(HEARD_FROM.values())})
    answers = answers.join(named, answers.heard_from.lower().strip() == named._answer)
    answers = answers.select(_response="response_id", _person="person_id",
                             _answered="timestamp", _channel="_channel")  # fmt: skip
    orders = conversions(wh, settings).filter(lambda t: t.person_id.notnull())
    after = answers.join(orders, [
        answers._person == orders.person_id, answers._answered >= orders.timestamp,
        answers._answered <= orders.timestamp + ibis.interval(days=settings.survey_days),
    ])  # fmt: skip
    latest = ibis.window(group_by="_response", order_by=ibis.desc("timestamp"))
    after = after.mutate(_n=ibis.row_number().over(latest))
    picked = after.filter(after._n == 0)
    return picked.select(
        order_id=picked.order_id, person_id=picked.person_id, order_at=picked.timestamp,
        revenue=picked.revenue, sales_channel=picked.sales_channel,
        first_order=picked.first_order,
        touch_at=picked.timestamp - ibis.interval(days=settings.lookback_days),
        channel=picked._channel, campaign=ibis.null(dt.string),
        event_id=ibis.literal("heard:").concat(picked._response),
    )  # fmt: skip


def _paths_from_touches(touches: ir.Table, key: str) -> ir.Table:
    steps = ibis.struct({"position": touches.position, "channel": touches.channel}).collect()
    grouped = touches.group_by(key).agg(
        _steps=steps,
        touches=touches.count(),
        first_touch_at=touches.touch_at.min(),
    )
    return grouped.mutate(path=grouped._steps.sort().map(lambda s: s.channel).join(SEPARATOR)).drop(
        "_steps"
    )


def conversion_paths(wh: Warehouse, settings: JourneySettings | None = None) -> ir.Table:
    """One row per order: order_id, person_id, path ("a > b > c"), touches, revenue, sales
    channel, hours from first touch to order. Orders with no touch have path '(none)'."""
    settings = settings or wh.settings.journeys
    touches = journey_touches(wh, settings)
    paths = _paths_from_touches(touches, "order_id")
    orders = conversions(wh, settings)
    joined = orders.left_join(paths, "order_id")
    return joined.select(
        orders.order_id,
        orders.person_id,
        order_at=orders.timestamp,
        revenue=orders.revenue,
        sales_channel=orders.sales_channel,
        path=joined.path.fill_null(NO_TOUCH_PATH),
        touches=joined.touches.fill_null(0),
        hours_to_convert=orders.timestamp.delta(joined.first_touch_at, unit="second") / 3600.0,
    )


def _open_touches(wh: Warehouse, settings: JourneySettings) -> ir.Table:
    """Touches after the person's last order (or all of them, for persons who never ordered):
    person_id, touch_at, channel, event_type, event_id."""
    events = wh.table("events")
    touches = events.filter(events.is_touch)
    orders = conversions(wh, settings)
    last = orders.group_by("person_id").agg(last_order_at=orders.timestamp.max())
    after = touches.left_join(last, "person_id")
    return after.filter(
        after.last_order_at.isnull() | (after.timestamp > after.last_order_at)
    ).select(
        person_id=touches.person_id, touch_at=touches.timestamp, channel=touches.channel,
        campaign=touches.campaign, event_type=touches.event_type, event_id=touches.event_id,
    )  # fmt: skip


def non_conversion_paths(wh: Warehouse, settings: JourneySettings | None = None) -> ir.Table:
    """One row per person with touches after their last order (or ever, if none): the journeys
    that did not convert, which data-driven attribution needs."""
    numbered = non_conversion_touches(wh, settings)
    return _paths_from_touches(numbered, "person_id").select("person_id", "path", "touches")


def non_conversion_touches(wh: Warehouse, settings: JourneySettings | None = None) -> ir.Table:
    """Touches of non-converting journeys with their position: person_id, position, channel."""
    open_touches = _open_touches(wh, settings or wh.settings.journeys)
    order = ibis.window(group_by="person_id", order_by=["touch_at", "event_id"])
    return open_touches.mutate(position=ibis.row_number().over(order) + 1)


def journey_exits(wh: Warehouse, settings: JourneySettings | None = None) -> ir.Table:
    """Friction: the channel of the last touch of journeys that did not convert, with shares."""
    open_touches = _open_touches(wh, settings or wh.settings.journeys)
    final = ibis.window(group_by="person_id", order_by=[ibis.desc("touch_at"),
                                                        ibis.desc("event_id")])  # fmt: skip
    ranked = open_touches.mutate(_n=ibis.row_number().over(final))
    exits = ranked.filter(ranked._n == 0)
    counts = exits.group_by(["channel", "event_type"]).agg(journeys=exits.count())
    return counts.mutate(share=counts.journeys / counts.journeys.sum().over()).order_by(
        [ibis.desc("journeys"), "channel", "event_type"]  # ties in a stable order
    )


def journey_lengths(wh: Warehouse, settings: JourneySettings | None = None) -> ir.Table:
    """Distribution of touches per conversion journey: touches, orders, share."""
    paths = conversion_paths(wh, settings)
    counts = paths.group_by("touches").agg(orders=paths.count())
    return counts.mutate(share=counts.orders / counts.orders.sum().over()).order_by("touches")


TIME_BUCKETS = ((1, "< 1 hour"), (24, "1-24 hours"), (72, "1-3 days"), (168, "3-7 days"),
                (336, "7-14 days"), (float("inf"), "14 days or more"))  # fmt: skip


def time_to_convert(wh: Warehouse, settings: JourneySettings | None = None) -> ir.Table:
    """Distribution of the time from first touch to order, in buckets (orders with a touch)."""
    paths = conversion_paths(wh, settings)
    paths = paths.filter(paths.hours_to_convert.notnull())
    hours = paths.hours_to_convert
    bucket = ibis.cases(*((hours < limit, number) for number, (limit, _) in
                          enumerate(TIME_BUCKETS)))  # fmt: skip
    bucketed = paths.mutate(bucket=bucket)
    counts = bucketed.group_by("bucket").agg(orders=bucketed.count())
    return counts.mutate(
        time_to_convert=counts.bucket.cases(
            *((n, label) for n, (_, label) in enumerate(TIME_BUCKETS))
        ),
        share=counts.orders / counts.orders.sum().over(),
    ).order_by("bucket")


def path_summary(wh: Warehouse, settings: JourneySettings | None = None, top: int = 20) -> ir.Table:
    """Top paths: conversions, non-conversions, conversion rate, revenue, median time to convert.

    Every order of the journeys is in a path: orders with no touch are the path "(none)" (as in
    attribution), so the conversions of all paths sum to the orders. Its conversion rate is
    empty: persons who had no touch and did not buy leave no journey to count.
    """
    converted = conversion_paths(wh, settings)
    won = converted.group_by("path").agg(
        conversions=converted.count(),
        revenue=converted.revenue.sum(),
        median_hours_to_convert=converted.hours_to_convert.median(),
        touches=converted.touches.max(),
    )
    lost = non_conversion_paths(wh, settings)
    lost = lost.group_by("path").agg(non_conversions=lost.count())
    both = won.outer_join(lost, "path")
    summary = both.select(
        path=ibis.coalesce(both.path, both.path_right),
        conversions=both.conversions.fill_null(0),
        non_conversions=both.non_conversions.fill_null(0),
        revenue=both.revenue.fill_null(0.0),
        median_hours_to_convert=both.median_hours_to_convert,
    )
    rate = summary.conversions / (summary.conversions + summary.non_conversions)
    no_touch = summary.path == NO_TOUCH_PATH
    summary = summary.mutate(
        conversion_rate=ibis.cases((no_touch, ibis.null(dt.float64)), else_=rate)
    )
    return summary.order_by([ibis.desc("conversions"), "path"]).limit(top)


def channel_transitions(wh: Warehouse, settings: JourneySettings | None = None) -> ir.Table:
    """From one touch's channel to the next within conversion journeys: where people switch."""
    touches = journey_touches(wh, settings)
    nxt = ibis.window(group_by="order_id", order_by="position")
    pairs = touches.mutate(next_channel=touches.channel.lead().over(nxt))
    pairs = pairs.filter(pairs.next_channel.notnull())
    counts = pairs.group_by(["channel", "next_channel"]).agg(transitions=pairs.count())
    return counts.mutate(switch=counts.channel != counts.next_channel).order_by(
        [ibis.desc("transitions"), "channel", "next_channel"]  # ties in a stable order
    )
