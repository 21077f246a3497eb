"""One person across channels: their timeline, and how many persons are seen on several."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.channels import ChannelRules, classify
from omnimetrics.identity import PERSON_LEVEL, identifiers_of, rows_carrying
from omnimetrics.journeys.events import JourneyError
from omnimetrics.journeys.paths import conversions

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


def timeline(wh: Warehouse, person_id: str) -> ir.Table:
    """Every interaction of one person on every channel, in time order: touchpoints, orders and
    survey answers (what a call-centre agent needs to see). An operational view: it reads the
    source tables directly, whatever the analysis consent."""
    ids = identifiers_of(wh, person_id)
    parts = []
    present = set(wh.tables())
    touch = wh.table("touchpoints") if "touchpoints" in present else None
    if touch is not None and (mine := rows_carrying(touch, ids)) is not None:
        rules = ChannelRules.from_config(wh.settings.channel_rules)
        own = classify(touch.filter(mine), rules, keep=("timestamp", "event_type"))
        parts.append(own.select(
            at=own.timestamp, kind=ibis.literal("touchpoint"), what=own.event_type,
            channel=own.channel, detail=own.campaign, amount=ibis.null(dt.float64),
            reference=own.event_id,
        ))  # fmt: skip
    orders = wh.table("orders") if "orders" in present else None
    if orders is not None and (mine := rows_carrying(orders, ids)) is not None:
        orders = orders.filter(mine)
        parts.append(orders.select(
            at=orders.timestamp, kind=ibis.literal("order"),
            what=orders.status.fill_null("completed"), channel=orders.sales_channel,
            detail=orders.fulfilment, amount=orders.revenue, reference=orders.order_id,
        ))  # fmt: skip
    if "feedback" in present:
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
