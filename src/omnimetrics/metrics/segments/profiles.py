"""The person table: who each person is (age, place, consent), how they buy (RFM) and where
(channel mix), as one Ibis expression run by the engine; definitions in docs/segments.md."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.errors import ConfigError
from omnimetrics.journeys import conversions
from omnimetrics.metrics.segments.dimensions import (
    AGE_BANDS,
    DIMENSIONS,
    PROSPECT,
    RFM_GRID,
    UNKNOWN,
)
from omnimetrics.metrics.segments.user import user_segments
from omnimetrics.privacy import consenting_persons
from omnimetrics.schema import ONLINE_SALES

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

NEW_PERIOD_DAYS = 90
"""Default analysis period of `customer_type`: a first order in the last 90 days is "new"."""

TEXT_COLUMNS = ("age_band", "region", "city", "consent_marketing", "consent_analytics")
"""Columns read from the CRM record; "unknown" without one."""
RFM_COLUMNS = ("customer_type", "recency_days", "frequency", "monetary", "r_score", "f_score",
               "m_score", "rfm_segment")  # fmt: skip
"""Columns read from the person's orders; null (or prospect, 0) without any."""


def quintile_score(rank: ir.IntegerValue, count: ir.IntegerValue) -> ir.IntegerValue:
    """1 + floor(5 * rank / n): the quintile in which a value's first position falls (rank is
    0-based, ties share the lowest rank, so equal values always share a score)."""
    return (rank * 5 // count + 1).cast(dt.int64)


def _end_of(day: date) -> datetime:
    """The first instant after `day` (UTC): rows strictly before it belong to `day` or earlier."""
    return datetime.combine(day + timedelta(days=1), time.min, UTC)


def latest_day(wh: Warehouse) -> date:
    """The day of the latest order or event (UTC): the default `as_of`; today when empty."""
    days = []
    for name in ("orders", "events"):
        if name in wh.tables():
            latest = wh.table(name).timestamp.max().to_pyarrow().as_py()
            if latest is not None:
                days.append(latest.astimezone(UTC).date())
    return max(days) if days else datetime.now(UTC).date()


def age_band(birth_year: ir.IntegerValue, as_of: date) -> ir.StringValue:
    """The age band of a birth year at `as_of` (age = as_of year - birth year); null if unknown."""
    age = ibis.literal(as_of.year) - birth_year
    return ibis.cases(
        *((age < upper, band) for upper, band in AGE_BANDS),
        (age.notnull(), "65+"),
        else_=ibis.null(dt.string),
    )


def _crm(wh: Warehouse, as_of: date) -> ir.Table:
    """person_id, age_band, region, city (latest CRM record) and consent statuses (any
    refusal of a person's records wins, then any grant; else unknown)."""
    graph = wh.table("identity_graph")
    customers = wh.table("customers")
    ids = graph.filter(graph.identifier_type == "customer_id")
    rows = ids.join(customers, ids.identifier == customers.customer_id).select(
        ids.person_id, customers.customer_id, customers.updated_at, customers.birth_year,
        customers.age_band, customers.city, customers.region, customers.consent_marketing,
        customers.consent_analytics,
    )  # fmt: skip
    latest = ibis.window(
        group_by="person_id", order_by=[rows.updated_at.desc(nulls_first=False), "customer_id"]
    )
    ranked = rows.mutate(_n=ibis.row_number().over(latest))
    attributes = ranked.filter(ranked._n == 0).select(
        "person_id",
        age_band=ibis.coalesce(ranked.age_band, age_band(ranked.birth_year, as_of)),
        region=ranked.region,
        city=ranked.city,
    )

    def flag(condition: ir.BooleanValue) -> ir.IntegerValue:
        return ibis.cases((condition, 1), else_=0).max()

    consents = rows.group_by("person_id").agg(
        **{
            f"_{purpose}_{verdict}": flag(rows[f"consent_{purpose}"] == value)
            for purpose in ("marketing", "analytics")
            for verdict, value in (("refused", False), ("granted", True))
        }
    )
    statuses = consents.select(
        "person_id",
        **{
            f"consent_{purpose}": ibis.cases(
                (consents[f"_{purpose}_refused"] == 1, "refused"),
                (consents[f"_{purpose}_granted"] == 1, "granted"),
                else_=UNKNOWN,
            )
            for purpose in ("marketing", "analytics")
        },
    )
    return attributes.join(statuses, "person_id")


def _rfm(orders: ir.Table, as_of: date, since: date) -> ir.Table:
    """person_id, customer_type, recency_days, frequency, monetary, r/f/m scores, rfm_segment
    of the persons who ordered (orders up to as_of)."""
    net = orders.revenue - orders.returned_amount.fill_null(0.0)
    per = orders.group_by("person_id").agg(
        first_order_at=orders.timestamp.min(),
        last_order_at=orders.timestamp.max(),
        frequency=orders.count(),
        monetary=net.sum(),
    )
    per = per.mutate(
        recency_days=ibis.literal(as_of, dt.date).delta(per.last_order_at.date(), unit="day"),
        customer_type=ibis.cases(
            (per.first_order_at.date() >= ibis.literal(since, dt.date), "new"), else_="returning"
        ),
    )
    buyers = per.count().over(ibis.window())
    scored = per.mutate(
        # Oldest last order first: the most recent buyers take the top quintile.
        r_score=quintile_score(ibis.rank().over(order_by=ibis.desc("recency_days")), buyers),
        f_score=quintile_score(ibis.rank().over(order_by="frequency"), buyers),
        m_score=quintile_score(ibis.rank().over(order_by="monetary"), buyers),
    )
    segment = ibis.cases(
        *(
            (
                scored.r_score.between(*cell.recency) & scored.f_score.between(*cell.frequency),
                cell.name,
            )
            for cell in RFM_GRID
        ),
        else_=ibis.null(dt.string),
    )
    return scored.mutate(rfm_segment=segment).drop("first_order_at", "last_order_at")


def _presence(orders: ir.Table, events: ir.Table | None) -> ir.Table:
    """person_id, channel_mix: where the person bought and interacted (docs/segments.md)."""
    parts = [
        orders.select(
            "person_id",
            online=ibis.cases((orders.sales_channel.isin(ONLINE_SALES), 1), else_=0),
            store=ibis.cases((orders.sales_channel == "store", 1), else_=0),
            sales_channel=orders.sales_channel,
        )
    ]
    if events is not None:
        in_store = (events.event_type == "store_visit") | (events.channel == "store")
        parts.append(
            events.select(
                "person_id",
                online=ibis.cases((events.session_id.notnull(), 1), else_=0),
                store=ibis.cases((in_store.fill_null(False), 1), else_=0),
                sales_channel=ibis.null(dt.string),
            )
        )
    union = ibis.union(*parts) if len(parts) > 1 else parts[0]
    seen = union.group_by("person_id").agg(
        online=union.online.max(),
        store=union.store.max(),
        sales_channels=union.sales_channel.nunique(),
    )
    return seen.select(
        "person_id",
        channel_mix=ibis.cases(
            ((seen.sales_channels >= 2) | ((seen.online == 1) & (seen.store == 1)), "omnichannel"),
            (seen.online == 1, "online_only"),
            (seen.store == 1, "store_only"),
            (seen.sales_channels == 1, "single_channel"),
            else_="none",
        ),
    )


def person_segments(
    wh: Warehouse,
    *,
    as_of: date | None = None,
    since: date | None = None,
    consent_purpose: str | None = "analytics",
) -> ir.Table:
    """One row per person of the identity graph with every built-in segment column, plus one
    true/false column per user segment of omnimetrics.toml.

    as_of: the day the profile is taken (orders and events after it are ignored; default: the
        day of the latest order or event). since: start of the period in which a first order
        makes a customer "new" (default: the 90 days ending at as_of). consent_purpose: persons
        who refused it are left out (None: everyone).
    """
    _require_journeys(wh)
    as_of = as_of or latest_day(wh)
    since = since or as_of - timedelta(days=NEW_PERIOD_DAYS - 1)
    if since > as_of:
        raise ConfigError(f"since ({since}) must not be after as_of ({as_of}).")
    users = user_segments(wh.settings)
    persons = wh.table("identity_graph").select("person_id").distinct()
    if consent_purpose:
        persons = persons.semi_join(consenting_persons(wh, consent_purpose), "person_id")
    profile = _with_crm(wh, persons, as_of)
    profile = _with_purchases(wh, profile, as_of, since, consent_purpose)
    filled = profile.mutate(
        **{c: profile[c].fill_null(UNKNOWN) for c in TEXT_COLUMNS},
        customer_type=profile.customer_type.fill_null("prospect"),
        frequency=profile.frequency.fill_null(0),
        monetary=profile.monetary.fill_null(0.0),
        rfm_segment=profile.rfm_segment.fill_null(PROSPECT),
        channel_mix=profile.channel_mix.fill_null("none"),
    )
    # Columns in the registry's order: one place says what the table holds.
    ordered = filled.select("person_id", *DIMENSIONS)
    if users:
        ordered = ordered.mutate(**{name: u.test(ordered) for name, u in users.items()})
    return ordered


def _require_journeys(wh: Warehouse) -> None:
    """Refuse a warehouse without the identity graph, or with touchpoints but no events yet."""
    if "identity_graph" not in wh.tables():
        raise ConfigError(
            "Segments need the identity graph: run `omnimetrics journeys` (or "
            "wh.resolve_identities() and journeys.build_events(wh)) first."
        )
    if "touchpoints" in wh.tables() and "events" not in wh.tables():
        raise ConfigError(
            "Segments need the `events` table to see where persons interacted: run "
            "`omnimetrics journeys` (or journeys.build_events(wh)) first."
        )


def _with_crm(wh: Warehouse, persons: ir.Table, as_of: date) -> ir.Table:
    """persons with the TEXT_COLUMNS of their CRM record (null without CRM)."""
    if "customers" not in wh.tables():
        return persons.mutate(**{c: ibis.null(dt.string) for c in TEXT_COLUMNS})
    joined = persons.left_join(_crm(wh, as_of), "person_id")
    return joined.select(persons.person_id, *(joined[c] for c in TEXT_COLUMNS))


def _with_purchases(
    wh: Warehouse, profile: ir.Table, as_of: date, since: date, consent_purpose: str | None
) -> ir.Table:
    """profile with RFM_COLUMNS (from orders up to as_of) and channel_mix (from orders and
    events); null where unknown."""
    end = _end_of(as_of)
    events = None
    if "events" in wh.tables():
        events = wh.table("events")
        events = events.filter(events.timestamp < end)
    if "orders" in wh.tables():
        orders = conversions(wh, replace(wh.settings.journeys, consent_purpose=consent_purpose))
        orders = orders.filter(orders.person_id.notnull() & (orders.timestamp < end))
        joined = profile.left_join(_rfm(orders, as_of, since), "person_id")
        profile = joined.select(*(profile[c] for c in profile.columns),
                                *(joined[c] for c in RFM_COLUMNS))  # fmt: skip
        presence = _presence(orders, events)
    else:
        nulls = {c: ibis.null(dt.int64) for c in RFM_COLUMNS}
        nulls.update(customer_type=ibis.null(dt.string), rfm_segment=ibis.null(dt.string),
                     monetary=ibis.null(dt.float64))  # fmt: skip
        profile = profile.mutate(**nulls)
        presence = None if events is None else _presence(_no_orders(events), events)
    if presence is None:
        return profile.mutate(channel_mix=ibis.null(dt.string))
    joined = profile.left_join(presence, "person_id")
    return joined.select(*(profile[c] for c in profile.columns), joined.channel_mix)


def _no_orders(events: ir.Table) -> ir.Table:
    """An empty orders-shaped table (a warehouse with events but no orders yet)."""
    return events.filter(ibis.literal(False)).select(
        "person_id", sales_channel=ibis.null(dt.string)
    )
