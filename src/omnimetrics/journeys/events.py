"""`events`: touchpoints with their person, channel and session, the table journeys are read from.

`build_events` must run after identity resolution and channel classification (`omnimetrics
journeys` does all three).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.channels import ChannelRules, classify
from omnimetrics.config import JourneySettings
from omnimetrics.errors import OmnimetricsError
from omnimetrics.identity import person_of_rows
from omnimetrics.privacy import refusing_persons
from omnimetrics.schema import SESSION_EVENTS

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


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
