"""ROPO: research online, purchase offline, and the reverse.

Measured on the journeys of identified persons, a ROPO rate is a **lower bound**: a store buyer's
web visit counts only when identity resolution linked its cookie or device to the same person,
and most cookies are never linked. The coverage-corrected estimate divides the measured rate by
the share of the signal that can be linked (the match rate). Survey answers ("how did you hear of
us") and promo codes add direct evidence on store orders. Formulas, assumptions and figures
against the simulator: docs/identity-and-journeys.md, "ROPO".

Every count is an aggregate computed in the engine; only those counts reach Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from omnimetrics.channels import HEARD_FROM
from omnimetrics.config import JourneySettings
from omnimetrics.errors import ConfigError
from omnimetrics.identity import PERSON_LEVEL
from omnimetrics.journeys.paths import conversions
from omnimetrics.schema import ONLINE_SALES
from omnimetrics.vocabulary import CHANNEL_KINDS

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

ONLINE_TO_STORE = "online_to_store"
STORE_TO_ONLINE = "store_to_online"
ALL_CHANNELS = "all"

KNOWN_RECIPIENT_CHANNELS = ("email", "sms")
"""Channels whose traffic comes from people we addressed ourselves (a newsletter, a text): every
session they open belongs to a known person, so the share of them that identity resolution links
to an identified person is the online match rate."""

METHODS = {
    "identified": "journeys of identified persons: a lower bound",
    "match_rate": "identified rate divided by the match rate of the signal",
    "heard_from": "'how did you hear of us' answers on store orders",
    "promo_code": "store orders carrying a promo code of an online campaign",
}
"""The `method` column of `ropo`, and what each one is."""

SCHEMA = pa.schema([
    ("direction", pa.string()), ("method", pa.string()), ("bound", pa.string()),
    ("channel", pa.string()), ("measure", pa.string()), ("window_days", pa.int64()),
    ("orders", pa.int64()), ("preceded", pa.float64()), ("coverage", pa.float64()),
    ("rate", pa.float64()), ("note", pa.string()),
])  # fmt: skip
"""Columns of `ropo`: `bound` is lower_bound, estimate or sample; `orders` the orders the rate
is over; `preceded` those with the evidence (estimated for an estimate); `coverage` the match
rate an estimate divides by; `note` why a rate is missing, when it is."""

STORE_MEASURE = "store orders after online research"
ONLINE_MEASURE = "online orders after a store visit"
CORRECTED = ", corrected for coverage"


def corrected_rate(measured: float | None, coverage: float | None) -> float | None:
    """The rate the measured one stands for when only a share `coverage` of the signal is seen:
    `measured / coverage`, at most 1; None when either is unknown or the coverage is 0.

    >>> corrected_rate(0.12, 0.48)
    0.25
    >>> corrected_rate(0.6, 0.5), corrected_rate(0.1, 0.0)
    (1.0, None)
    """
    if measured is None or coverage is None or coverage <= 0:
        return None
    return min(1.0, measured / coverage)


def online_match_counts(wh: Warehouse) -> tuple[int, int]:
    """(sessions, linked): web and app sessions opened from an email or a text message, and how
    many of them belong to an identified person (one carrying a customer id, loyalty card, email
    or phone). Their ratio is the share of a known person's browsing that identity resolution
    links to them."""
    events = wh.table("events")
    graph = wh.table("identity_graph")
    known = graph.filter(graph.identifier_type.isin(PERSON_LEVEL)).select("person_id").distinct()
    opened = events.filter(
        events.session_id.notnull() & events.channel.isin(KNOWN_RECIPIENT_CHANNELS)
    )
    sessions = opened.select("session_id", "person_id").distinct()
    sessions = sessions.mutate(linked=sessions.person_id.isin(known.person_id).fill_null(False))
    (counts,) = (
        sessions.agg(sessions=sessions.count(), linked=sessions.linked.ifelse(1, 0).sum())
        .to_pyarrow()
        .to_pylist()
    )
    return int(counts["sessions"]), int(counts["linked"] or 0)


def latest_signal(orders: ir.Table, signals: ir.Table, window_days: int) -> ir.Table:
    """Each order of a known person that a signal (person_id, at, channel) of the same person
    precedes within `window_days`, with the channel of the latest such signal: order_id, channel."""
    mine = orders.filter(orders.person_id.notnull()).select(
        "order_id", "person_id", order_at=orders.timestamp
    )
    joined = mine.join(
        signals,
        [
            mine.person_id == signals.person_id,
            signals.at < mine.order_at,
            signals.at >= mine.order_at - ibis.interval(days=window_days),
        ],
    ).select(mine.order_id, signals.at, channel=signals.channel.fill_null("unassigned"))
    latest = ibis.window(group_by="order_id", order_by=[ibis.desc("at"), "channel"])
    ranked = joined.mutate(_n=ibis.row_number().over(latest))
    return ranked.filter(ranked._n == 0).select("order_id", "channel")


def ropo(
    wh: Warehouse,
    window_days: int = 7,
    settings: JourneySettings | None = None,
    *,
    by_channel: bool = False,
    evidence: bool = False,
    online_match_rate: float | None = None,
    store_match_rate: float | None = None,
) -> ir.Table:
    """Research online, purchase offline (and the reverse): measured rates, which are lower
    bounds, and estimates corrected for identification coverage (columns: `SCHEMA`).

    online_to_store: store orders preceded by a web or app hit of the same person within
    `window_days`; measured over store orders of identified persons, corrected by the online
    match rate (`online_match_counts`, or `online_match_rate` when given, e.g. from a panel)
    for all store orders. store_to_online: web/app orders preceded by a store visit or a store
    order; its estimate needs the share of store visits that are recognised
    (`store_match_rate`, e.g. recognised visits / door-counter visits), which the data does not
    hold. `by_channel` adds a row per channel of the latest web hit before the store order;
    `evidence` adds survey answers and promo codes of online campaigns on store orders.
    """
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise ConfigError(f"window_days must be a whole number of days, at least 1; got "
                          f"{window_days!r}.")  # fmt: skip
    for name, given in (("online_match_rate", online_match_rate),
                        ("store_match_rate", store_match_rate)):  # fmt: skip
        if given is not None and (isinstance(given, bool) or not 0 < given <= 1):
            raise ConfigError(f"{name} must be a share in (0, 1]; got {given!r}.")
    events = wh.table("events")
    orders = conversions(wh, settings)
    store = orders.filter(orders.sales_channel == "store")
    web = orders.filter(orders.sales_channel.isin(ONLINE_SALES))
    rows = _Rows(window_days)
    by, coverage, note, (store_total, store_linked) = _online_to_store(
        wh, events, store, rows, online_match_rate
    )
    _store_to_online(events, store, web, rows, store_match_rate)
    if by_channel:
        for channel, count in sorted(by.items(), key=lambda item: (-item[1], item[0])):
            rate = _share(count, store_linked)
            label = f"{STORE_MEASURE} via {channel}"
            rows.add(ONLINE_TO_STORE, "identified", "lower_bound", channel, label, store_linked,
                     count, rate)  # fmt: skip
            share = corrected_rate(rate, coverage)
            rows.add(ONLINE_TO_STORE, "match_rate", "estimate", channel, label + CORRECTED,
                     store_total, _times(share, store_total), share, coverage, note)  # fmt: skip
    if evidence:
        _survey_rows(wh, store, rows.add)
        _promo_rows(wh, store, store_total, rows.add)
    return ibis.memtable(pa.Table.from_pylist(rows.rows, schema=SCHEMA))


class _Rows:
    """The rows of the ROPO table, in the order they are added."""

    def __init__(self, window_days: int) -> None:
        self.window_days = window_days
        self.rows: list[dict[str, Any]] = []

    def add(self, direction: str, method: str, bound: str, channel: str, measure: str,
            orders: int, preceded: float | None, rate: float | None,
            coverage: float | None = None, note: str | None = None) -> None:  # fmt: skip
        self.rows.append({"direction": direction, "method": method, "bound": bound,
                          "channel": channel, "measure": measure,
                          "window_days": self.window_days, "orders": orders,
                          "preceded": preceded, "coverage": coverage, "rate": rate,
                          "note": note})  # fmt: skip


def _online_to_store(
    wh: Warehouse, events: ir.Table, store: ir.Table, rows: _Rows, given: float | None
) -> tuple[dict[str, int], float | None, str | None, tuple[int, int]]:
    """Research online, then buy in store: the lower bound and the corrected estimate; returns
    the researched store orders by channel, the online match rate, its note, and the store
    orders (all, of identified persons)."""
    store_total, store_linked = _counts(store)
    hits = events.filter(events.session_id.notnull()).select(
        "person_id", "channel", at=events.timestamp
    )
    by = _per_channel(latest_signal(store, hits, rows.window_days))
    researched = sum(by.values())
    if given is None:
        sessions, linked = online_match_counts(wh)
        coverage = linked / sessions if sessions else None
        note = None if sessions else "no email or SMS sessions to measure the online match " \
            "rate: pass online_match_rate"  # fmt: skip
    else:
        coverage, note = given, "online match rate given"
    measured = _share(researched, store_linked)
    rows.add(ONLINE_TO_STORE, "identified", "lower_bound", ALL_CHANNELS, STORE_MEASURE,
             store_linked, researched, measured)  # fmt: skip
    estimate = corrected_rate(measured, coverage)
    rows.add(ONLINE_TO_STORE, "match_rate", "estimate", ALL_CHANNELS, STORE_MEASURE + CORRECTED,
             store_total, _times(estimate, store_total), estimate, coverage, note)  # fmt: skip
    return by, coverage, note, (store_total, store_linked)


def _store_to_online(
    events: ir.Table, store: ir.Table, web: ir.Table, rows: _Rows, given: float | None
) -> None:
    """See in store, then buy online: the lower bound, and an estimate only when the share of
    store visits that are recognised is given."""
    in_store = ibis.union(
        events.filter(events.event_type == "store_visit").select(
            "person_id", channel=ibis.literal("store"), at=events.timestamp
        ),
        store.select("person_id", channel=ibis.literal("store"), at=store.timestamp),
    )
    web_total, web_linked = _counts(web)
    visited = sum(_per_channel(latest_signal(web, in_store, rows.window_days)).values())
    measured = _share(visited, web_linked)
    rows.add(STORE_TO_ONLINE, "identified", "lower_bound", ALL_CHANNELS, ONLINE_MEASURE,
             web_linked, visited, measured)  # fmt: skip
    back = corrected_rate(measured, given)
    rows.add(STORE_TO_ONLINE, "match_rate", "estimate", ALL_CHANNELS, ONLINE_MEASURE + CORRECTED,
             web_total, _times(back, web_total), back, given,
             "store match rate given" if given else "the share of store visits that are "
             "recognised is not in the data (an unrecognised visit leaves no row): pass "
             "store_match_rate, e.g. recognised visits / door-counter visits")  # fmt: skip


def _survey_rows(wh: Warehouse, store: ir.Table, add: Any) -> None:
    """Store orders whose "how did you hear of us" answer names an online channel, among store
    orders with an answer (the answer's `touchpoint_id` is the order; the latest answer counts)."""
    measure = "store orders whose buyer heard of us online (survey)"
    if "feedback" not in wh.tables():
        add(ONLINE_TO_STORE, "heard_from", "sample", ALL_CHANNELS, measure, 0, None, None,
            note="no feedback table")  # fmt: skip
        return
    feedback = wh.table("feedback")
    answers = feedback.filter(feedback.heard_from.notnull() & feedback.touchpoint_id.notnull())
    answered = answers.join(store, answers.touchpoint_id == store.order_id).select(
        order_id=store.order_id, answered_at=answers.timestamp, response_id=answers.response_id,
        answer=answers.heard_from.lower().strip(),
    )  # fmt: skip
    latest = ibis.window(group_by="order_id",
                         order_by=[ibis.desc("answered_at"), ibis.desc("response_id")])  # fmt: skip
    answered = answered.mutate(_n=ibis.row_number().over(latest))
    answered = answered.filter(answered._n == 0)
    named = ibis.memtable({"answer": list(HEARD_FROM), "named": list(HEARD_FROM.values())})
    answered = answered.left_join(named, "answer")
    counts = answered.group_by(channel=answered.named.fill_null("")).agg(orders=answered.count())
    by = _counted(counts)
    surveyed = int(sum(by.values()))
    online = {c: int(n) for c, n in by.items() if c in CHANNEL_KINDS and CHANNEL_KINDS[c].online}
    add(ONLINE_TO_STORE, "heard_from", "sample", ALL_CHANNELS, measure, surveyed,
        sum(online.values()), _share(sum(online.values()), surveyed),
        note=None if surveyed else "no answers on store orders")  # fmt: skip
    for channel, count in sorted(online.items(), key=lambda item: (-item[1], item[0])):
        add(ONLINE_TO_STORE, "heard_from", "sample", channel,
            f"store orders whose buyer heard of us via {channel} (survey)", surveyed, count,
            _share(count, surveyed))  # fmt: skip


def _promo_rows(wh: Warehouse, store: ir.Table, store_total: int, add: Any) -> None:
    """Store orders carrying a promo code of a campaign on an online channel, among all store
    orders: direct evidence of online influence, and a lower bound of it (most buyers use none)."""
    measure = "store orders with a promo code of an online campaign"
    if "campaign_codes" not in wh.tables():
        add(ONLINE_TO_STORE, "promo_code", "lower_bound", ALL_CHANNELS, measure, store_total,
            None, None, note="no campaign_codes table")  # fmt: skip
        return
    codes = wh.table("campaign_codes")
    used = store.filter(store.promo_code.notnull())
    matched = used.join(codes, used.promo_code.upper() == codes.code.upper())
    counts = matched.group_by(channel=codes.channel).agg(orders=matched.order_id.nunique())
    by = _counted(counts)
    online = {c: int(n) for c, n in by.items() if c in CHANNEL_KINDS and CHANNEL_KINDS[c].online}
    total = sum(online.values())  # one code per order: the channels do not overlap
    add(ONLINE_TO_STORE, "promo_code", "lower_bound", ALL_CHANNELS, measure, store_total, total,
        _share(total, store_total))  # fmt: skip
    for channel, count in sorted(online.items(), key=lambda item: (-item[1], item[0])):
        add(ONLINE_TO_STORE, "promo_code", "lower_bound", channel,
            f"store orders with a promo code of a campaign on {channel}", store_total, count,
            _share(count, store_total))  # fmt: skip


def _counts(orders: ir.Table) -> tuple[int, int]:
    """(orders, orders of a known person)."""
    (counts,) = (
        orders.agg(total=orders.count(), linked=orders.person_id.count()).to_pyarrow().to_pylist()
    )
    return int(counts["total"]), int(counts["linked"])


def _per_channel(latest: ir.Table) -> dict[str, int]:
    return _counted(latest.group_by("channel").agg(orders=latest.count()))


def _counted(counts: ir.Table) -> dict[str, int]:
    """{channel: orders} of a small table of counts, read in one query."""
    table = counts.select("channel", "orders").to_pyarrow().to_pydict()
    return {str(c): int(n) for c, n in zip(table["channel"], table["orders"], strict=True)}


def _share(part: float, whole: int) -> float | None:
    return part / whole if whole else None


def _times(rate: float | None, orders: int) -> float | None:
    return None if rate is None else rate * orders
