"""Journeys: sessions, conversion and non-conversion paths, path analysis, ROPO, funnels, timelines.

Everything is an Ibis expression over the warehouse tables; only aggregates (top paths, funnel
counts, distributions) leave the engine. `build_events` must run after identity resolution and
channel classification (`omnimetrics journeys` does all three).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.channels import HEARD_FROM, ChannelRules, classify
from omnimetrics.config import JourneySettings
from omnimetrics.errors import OmnimetricsError
from omnimetrics.identity import identifiers_of, person_of_rows, rows_carrying
from omnimetrics.privacy import consenting_persons, refusing_persons
from omnimetrics.schema import ONLINE_SALES, SESSION_EVENTS

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


SEPARATOR = " > "


class JourneyError(OmnimetricsError, ValueError):
    """A journey computation was asked something its inputs cannot answer."""


def build_events(wh: Warehouse, settings: JourneySettings | None = None) -> ir.Table:
    """`events`: touchpoints with person, channel and session; rebuilt each time.

    Columns: event_id, person_id, timestamp, event_type, channel, campaign, device_type, store_id,
    duration_seconds (time on site/app of a visit), session_id (null outside sessions), is_touch
    (a journey touch: a session start or a marketing/service interaction), and how the channel
    was decided: channel_rule, rules_version (`omnimetrics channels` shows the source and medium
    each rule saw).
    """
    settings = settings or wh.settings.journeys
    for needed in ("touchpoints", "identity_graph"):
        if needed not in wh.tables():
            raise JourneyError(
                f"Journeys need the {needed!r} table: run `omnimetrics journeys` (it resolves "
                "identities and classifies channels first) or ingest touchpoints."
            )
    rules = ChannelRules.from_config(wh.settings.channel_rules)
    touch = person_of_rows(wh, wh.table("touchpoints"))
    keep = ("person_id", "timestamp", "event_type", "device_type", "store_id", "duration_seconds")
    classified = classify(touch, rules, keep=keep)
    joined = classified.rename(own_channel="channel")
    joined = joined.filter(joined.person_id.notnull())
    if settings.consent_purpose:
        # Leaving out the few who refused is cheaper than keeping the many who did not.
        refusing = refusing_persons(wh, settings.consent_purpose)
        if refusing is not None:
            joined = joined.anti_join(refusing, "person_id")
    rows = joined.select(*keep, "event_id", "own_channel", "campaign", "channel_rule")
    # Only web/app hits need the session windows: they are computed once, narrow, and staged;
    # the other touchpoints go straight to `events`.
    is_hit = rows.event_type.isin(SESSION_EVENTS)
    hits = wh.materialize(rows.filter(is_hit))
    sessioned = hits.join(_sessions(hits, settings.session_timeout_minutes), "event_id")
    sessioned = sessioned.mutate(
        channel=ibis.coalesce(sessioned.own_channel, sessioned.session_channel),
        is_touch=sessioned.session_start,
    )
    others = rows.filter(~is_hit).mutate(
        channel=rows.own_channel,
        session_id=ibis.null(dt.string),
        is_touch=rows.event_type.isin(settings.touch_events) & rows.own_channel.notnull(),
    )
    columns = ("event_id", "person_id", "timestamp", "event_type", "channel", "campaign",
               "device_type", "store_id", "duration_seconds", "session_id", "is_touch",
               "channel_rule")  # fmt: skip
    events = ibis.union(others.select(*columns), sessioned.select(*columns))
    events = events.mutate(rules_version=ibis.literal(rules.version))
    try:
        return wh.replace_table("events", events)
    finally:
        wh.drop(hits)


def _sessions(hits: ir.Table, timeout_minutes: int) -> ir.Table:
    """Web/app hits -> event_id, session_id, session_start, session_channel.

    A new session at a visit, after the inactivity timeout, or when a hit brings its own traffic
    source (a new campaign); the session's channel is that of its start ("direct" without one).
    Windows sort only these few narrow columns (carrying wide rows through them costs 5x).
    """
    hits = hits.select("event_id", "person_id", "timestamp", "event_type", "own_channel")
    order = ["timestamp", "event_id"]
    # Elapsed time (a timestamp plus minutes), not a count of calendar boundaries crossed.
    previous = hits.timestamp.lag().over(group_by="person_id", order_by=order)
    timed_out = hits.timestamp > previous + ibis.interval(minutes=timeout_minutes)
    starts = (hits.event_type == "visit") | previous.isnull() | timed_out
    flagged = hits.mutate(_start=starts | hits.own_channel.notnull())
    flagged = flagged.mutate(
        _start_channel=ibis.cases(
            (flagged._start, ibis.coalesce(flagged.own_channel, ibis.literal("direct"))),
            else_=ibis.null(dt.string),
        )
    )
    # The running count of starts numbers the sessions; each session has exactly one start,
    # whose channel is the session's.
    running = ibis.cumulative_window(group_by="person_id", order_by=order)
    numbered = flagged.mutate(_session=flagged._start.cast(dt.int64).sum().over(running))
    session = ibis.window(group_by=["person_id", "_session"])
    return numbered.select(
        "event_id",
        session_id=numbered.person_id.concat(ibis.literal("#"), numbered._session.cast(dt.string)),
        session_start=numbered._start,
        session_channel=numbered._start_channel.max().over(session),
    )


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
        path=joined.path.fill_null("(none)"),
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
        ibis.desc("journeys")
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
    """Top paths: conversions, non-conversions, conversion rate, revenue, median time to convert."""
    converted = conversion_paths(wh, settings)
    converted = converted.filter(converted.path != "(none)")
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
    summary = summary.mutate(
        conversion_rate=summary.conversions / (summary.conversions + summary.non_conversions)
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
        ibis.desc("transitions")
    )


def ropo(wh: Warehouse, window_days: int = 7, settings: JourneySettings | None = None) -> ir.Table:
    """Research online, purchase offline, and the reverse, as rates.

    store_after_online: share of store orders (of identified persons) preceded by a web or app
    session of the same person within `window_days`. online_after_store: share of web/app orders
    preceded by a store visit or a store order.
    """
    events = wh.table("events")
    orders = conversions(wh, settings).filter(lambda t: t.person_id.notnull())
    online = events.filter(events.session_id.notnull()).select("person_id", at=events.timestamp)
    store_visits = events.filter(events.event_type == "store_visit").select(
        "person_id", at=events.timestamp
    )
    store_orders_as_signal = orders.filter(orders.sales_channel == "store").select(
        "person_id", at=orders.timestamp
    )
    in_store = ibis.union(store_visits, store_orders_as_signal)

    def preceded(subset: ir.Table, signals: ir.Table) -> tuple[int, int]:
        hit = subset.semi_join(
            signals,
            [
                subset.person_id == signals.person_id,
                signals.at < subset.timestamp,
                signals.at >= subset.timestamp - ibis.interval(days=window_days),
            ],
        )
        return int(subset.count().execute()), int(hit.count().execute())

    store = orders.filter(orders.sales_channel == "store")
    web = orders.filter(orders.sales_channel.isin(ONLINE_SALES))
    measures = {
        "store orders after online research": preceded(store, online),
        "online orders after a store visit": preceded(web, in_store),
    }
    return ibis.memtable(
        {
            "measure": list(measures),
            "window_days": [window_days] * len(measures),
            "orders": [n for n, _ in measures.values()],
            "preceded": [k for _, k in measures.values()],
            "rate": [k / n if n else None for n, k in measures.values()],
        }
    )


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
    events = wh.table("events")
    segment = persons is not None and by is not None and by in persons.columns
    if segment and by not in events.columns:
        events = events.left_join(persons.select("person_id", by), "person_id").drop(
            "person_id_right"
        )
    if by is not None and by not in events.columns:
        known = [*events.columns, *(persons.columns if persons is not None else [])]
        raise JourneyError(f"Cannot cut a funnel by {by!r}; columns: {sorted(set(known))}.")
    group = [by] if by else []
    first = events.filter(events.event_type == steps[0])
    if by:
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


def timeline(wh: Warehouse, person_id: str) -> ir.Table:
    """Every interaction of one person on every channel, in time order: touchpoints, orders and
    survey answers (what a call-centre agent needs to see). An operational view: it reads the
    source tables directly, whatever the analysis consent."""
    ids = identifiers_of(wh, person_id)
    parts = []
    touch = wh.table("touchpoints")
    if (mine := rows_carrying(touch, ids)) is not None:
        rules = ChannelRules.from_config(wh.settings.channel_rules)
        own = classify(touch.filter(mine), rules, keep=("timestamp", "event_type"))
        parts.append(own.select(
            at=own.timestamp, kind=ibis.literal("touchpoint"), what=own.event_type,
            channel=own.channel, detail=own.campaign, amount=ibis.null(dt.float64),
            reference=own.event_id,
        ))  # fmt: skip
    orders = wh.table("orders")
    if (mine := rows_carrying(orders, ids)) is not None:
        orders = orders.filter(mine)
        parts.append(orders.select(
            at=orders.timestamp, kind=ibis.literal("order"),
            what=orders.status.fill_null("completed"), channel=orders.sales_channel,
            detail=orders.fulfilment, amount=orders.revenue, reference=orders.order_id,
        ))  # fmt: skip
    if "feedback" in wh.tables():
        answers = wh.table("feedback")
        if (mine := rows_carrying(answers, ids)) is not None:
            answers = answers.filter(mine)
            parts.append(answers.select(
                at=answers.timestamp, kind=ibis.literal("feedback"), what=answers.survey_type,
                channel=answers.channel, detail=answers.comment, amount=answers.score,
                reference=answers.response_id,
            ))  # fmt: skip
    if not parts:
        raise JourneyError(f"Nothing is known about {person_id}.")
    return ibis.union(*parts).order_by(["at", "kind", "reference"])


def coverage(wh: Warehouse) -> dict[str, float]:
    """Share of touchpoints that belong to an identified person, and share of persons seen on
    two or more channels (touch channels and sales channels together)."""
    from omnimetrics.identity import PERSON_LEVEL

    graph = wh.table("identity_graph")
    known = graph.filter(graph.identifier_type.isin(PERSON_LEVEL)).select("person_id").distinct()
    events = wh.table("events")
    total = int(wh.table("touchpoints").count().execute())
    identified = int(events.semi_join(known, "person_id").count().execute())
    touch = events.filter(events.channel.notnull()).select("person_id", "channel")
    sold = conversions(wh).filter(lambda t: t.person_id.notnull())
    sold = sold.select("person_id", channel=sold.sales_channel)
    channels = ibis.union(touch, sold).group_by("person_id").agg(n=lambda t: t.channel.nunique())
    persons = int(channels.count().execute())
    multi = int(channels.filter(channels.n >= 2).count().execute())
    return {
        "touchpoints of identified persons": identified / total if total else float("nan"),
        "persons seen on 2+ channels": multi / persons if persons else float("nan"),
    }
