"""Maturity indicators: what the data itself says of how joined the company's channels are.

Each indicator is declared once in a registry with what it measures, its dimension, its `poor`
and `good` thresholds, the tables it needs and the advice it gives; it is read in the engine
(only small aggregates leave it). Formulas and thresholds: docs/maturity.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from omnimetrics.channels import UNASSIGNED, ChannelRules, classify
from omnimetrics.errors import ConfigError, did_you_mean
from omnimetrics.identity import identified_rows, person_of_rows
from omnimetrics.journeys import conversions, journey_touches
from omnimetrics.metrics.maturity.scale import DIMENSION_WEIGHTS, indicator_score
from omnimetrics.metrics.maturity.source import Period, as_date, missing_note, names, one_row
from omnimetrics.registry import Registry
from omnimetrics.schema import COSTLESS_CHANNELS, OFFLINE_SALES

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from omnimetrics.warehouse import Warehouse

Unit = Literal["share", "days", "count", "answer"]


@dataclass(frozen=True)
class Reading:
    """The value of one indicator, what to know about it, and the facts behind it."""

    value: float
    note: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)
    detail: str = ""
    missing: tuple[str, ...] = ()
    """Tables whose absence makes the value unknown."""

    @property
    def known(self) -> bool:
        return not math.isnan(self.value)


Reader = Callable[["Warehouse", Period], Reading]
Advice = Callable[[float, Mapping[str, Any]], str]


@dataclass(frozen=True)
class Indicator:
    """A named maturity indicator: what it measures, its thresholds and the advice it gives."""

    name: str
    dimension: str
    measures: str
    unit: Unit
    poor: float
    """At or beyond this value the indicator scores 0."""
    good: float
    """At or beyond this value the indicator scores 100."""
    needs: tuple[str, ...]
    read: Reader
    advise: Advice
    weight: float = 1.0

    def score(self, value: float) -> float:
        return indicator_score(value, self.poor, self.good)


INDICATORS = Registry[Indicator]("maturity indicator")
"""Every maturity indicator, by name, in declaration order."""


def indicator(
    name: str,
    dimension: str,
    measures: str,
    *,
    unit: Unit,
    poor: float,
    good: float,
    needs: tuple[str, ...],
    advise: Advice,
    weight: float = 1.0,
) -> Callable[[Reader], Reader]:
    """Declare an indicator under a unique name."""

    def add(read: Reader) -> Reader:
        if dimension not in DIMENSION_WEIGHTS:
            raise ConfigError(
                f"Indicator {name!r}: unknown dimension {dimension!r}. "
                + did_you_mean(dimension, DIMENSION_WEIGHTS)
            )
        INDICATORS.add(name, Indicator(name, dimension, measures, unit, poor, good, needs, read,
                                       advise, weight))  # fmt: skip
        return read

    return add


def _share(hits: Any, total: Any, empty: str) -> Reading:
    if not total:
        return Reading(math.nan, f"Unknown: {empty}.")
    return Reading(float(hits or 0) / float(total), facts={"hits": hits or 0, "total": total})


def _identified_share(wh: Warehouse, rows: ir.Table, empty: str) -> Reading:
    flagged = identified_rows(wh, rows)
    counts = one_row(
        flagged.aggregate(total=flagged.count(), hits=flagged.identified.cast("int64").sum())
    )
    return _share(counts["hits"], counts["total"], empty)


def _touch_channels(wh: Warehouse, period: Period) -> list[str]:
    """The channels of the period's classified touchpoints (not null, not unassigned)."""
    touch = period.until(wh.table("touchpoints"), "timestamp")
    classified = classify(touch, ChannelRules.from_config(wh.settings.channel_rules))
    # Group first, filter the few groups after: a filter on the classified channel makes
    # DuckDB evaluate the rules' CASE expression again, many times slower.
    counts = classified.group_by("channel").agg(touches=classified.count())
    found = counts.channel.to_pyarrow().to_pylist()
    return names([c for c in found if c != UNASSIGNED])


@indicator(
    "data_quality", "data",
    "1 - rows quarantined / rows read, over every ingested file (ingest_batches ledger)",
    unit="share", poor=0.90, good=0.99, needs=("ingest_batches",),
    advise=lambda v, f: (
        f"{1 - v:.1%} of the rows read were quarantined (most in {f.get('worst_table')}): read "
        "the reasons with `omnimetrics quarantine`, then fix the export or map its columns."
    ),
)  # fmt: skip
def _data_quality(wh: Warehouse, period: Period) -> Reading:
    ledger = period.until(wh.table("ingest_batches"), "started_at")
    by_table = ledger.group_by("table_name").agg(
        rows_read=ledger.rows_read.sum(), quarantined=ledger.quarantined.sum()
    )
    rows = by_table.to_pyarrow().to_pylist()
    read = sum(r["rows_read"] or 0 for r in rows)
    bad = sum(r["quarantined"] or 0 for r in rows)
    if not read:
        return Reading(math.nan, "Unknown: no file was ingested in the period.")
    worst = max(rows, key=lambda r: (r["quarantined"] or 0, r["table_name"]))
    return Reading(
        1.0 - bad / read,
        facts={"rows_read": read, "quarantined": bad, "worst_table": worst["table_name"]},
        detail=f"{bad} of {read} rows quarantined",
    )


@indicator(
    "freshness_days", "data",
    "days from the end of the period (or now) to the newest touchpoint or order, whichever "
    "feed is staler",
    unit="days", poor=30.0, good=1.0, needs=("touchpoints", "orders"),
    advise=lambda v, f: (
        f"The newest {f.get('stalest')} are {v:.0f} days old: export {f.get('stalest')} daily "
        "so the figures describe this week, not last month."
    ),
)  # fmt: skip
def _freshness(wh: Warehouse, period: Period) -> Reading:
    latest: dict[str, datetime | None] = {}
    for name in ("touchpoints", "orders"):
        rows = period.until(wh.table(name), "timestamp")
        latest[name] = rows.timestamp.max().execute()
    empty = [n for n, at in latest.items() if at is None or pd.isna(at)]
    if empty:
        return Reading(math.nan, f"Unknown: no {' or '.join(empty)} in the period.")
    ages = {n: (period.reference - pd.Timestamp(at).to_pydatetime()).total_seconds() / 86400
            for n, at in latest.items()}  # fmt: skip
    stalest = max(ages, key=lambda n: ages[n])
    return Reading(
        max(ages[stalest], 0.0),
        facts={"stalest": stalest, **{f"{n}_days": a for n, a in ages.items()}},
        detail=", ".join(f"{n}: {a:.1f} days" for n, a in ages.items()),
    )


@indicator(
    "channels_tracked", "measurement",
    "distinct marketing channels among the classified touchpoints of the period",
    unit="count", poor=2.0, good=8.0, needs=("touchpoints",),
    advise=lambda v, f: (
        f"Only {v:.0f} channels are tracked ({', '.join(f.get('channels', [])) or 'none'}): tag "
        "every campaign link with UTM parameters and ingest the email/SMS platform, store and "
        "call-centre logs."
    ),
)  # fmt: skip
def _channels_tracked(wh: Warehouse, period: Period) -> Reading:
    channels = _touch_channels(wh, period)
    if not channels:
        return Reading(math.nan, "Unknown: no touchpoint with a known channel in the period.")
    return Reading(float(len(channels)), facts={"channels": channels}, detail=", ".join(channels))


@indicator(
    "channels_with_spend", "measurement",
    "share of paid channels seen in touchpoints that also have spend rows (organic, direct, "
    "owned and service channels are left out)",
    unit="share", poor=0.5, good=1.0, needs=("touchpoints", "spend"),
    advise=lambda v, f: (
        f"{len(f.get('missing', []))} channel(s) have touches but no spend data: "
        f"{', '.join(f.get('missing', []))} — ingest their spend (omnimetrics ingest spend FILE) "
        "so ROI and mix modelling can see them."
    ),
)  # fmt: skip
def _channels_with_spend(wh: Warehouse, period: Period) -> Reading:
    touched = set(_touch_channels(wh, period))
    spend = period.until(wh.table("spend"), "date")
    spend = spend.filter(spend.spend > 0)
    paid = set(names(spend.select("channel").distinct().channel.to_pyarrow().to_pylist()))
    needing = touched - COSTLESS_CHANNELS
    if not needing:
        return Reading(math.nan, "Unknown: no paid channel among the touchpoints of the period.")
    missing = sorted(needing - paid)
    unmatched = sorted(paid - touched)
    detail = f"no spend: {', '.join(missing)}" if missing else "every paid channel has spend"
    if unmatched:
        detail += f"; spend but no touches: {', '.join(unmatched)}"
    return Reading(
        1.0 - len(missing) / len(needing),
        facts={"missing": missing, "paid_channels": sorted(needing), "spend_only": unmatched},
        detail=detail,
    )


@indicator(
    "identity_match_rate", "identity",
    "share of orders that belong to an identified person (customer id, loyalty card, email or "
    "phone)",
    unit="share", poor=0.30, good=0.80, needs=("orders", "identity_graph"), weight=2.0,
    advise=lambda v, f: (
        f"Only {v:.0%} of orders belong to an identified customer: ask for an email or loyalty "
        "card at every checkout, online and in store, and make app and web login worthwhile."
    ),
)  # fmt: skip
def _identity_match_rate(wh: Warehouse, period: Period) -> Reading:
    orders = period.until(wh.table("orders"), "timestamp")
    return _identified_share(wh, orders, "no order in the period")


@indicator(
    "identified_touchpoints", "identity",
    "share of touchpoints that belong to an identified person",
    unit="share", poor=0.10, good=0.60, needs=("touchpoints", "identity_graph"),
    advise=lambda v, f: (
        f"Only {v:.0%} of touchpoints belong to an identified person: send login events and CRM "
        "ids from the web and the app, and carry a customer key in email and SMS links."
    ),
)  # fmt: skip
def _identified_touchpoints(wh: Warehouse, period: Period) -> Reading:
    touch = period.until(wh.table("touchpoints"), "timestamp")
    return _identified_share(wh, touch, "no touchpoint in the period")


@indicator(
    "offline_revenue_linked", "offline",
    "share of store and call-centre revenue (orders not cancelled) whose order has at least one "
    "journey touch",
    unit="share", poor=0.10, good=0.60, needs=("orders", "identity_graph", "events"), weight=2.0,
    advise=lambda v, f: (
        f"Only {v:.0%} of store and call-centre revenue is linked to a journey: capture the "
        "loyalty card or email at the till, and put campaign promo codes or QR codes on offline "
        "media."
    ),
)  # fmt: skip
def _offline_revenue_linked(wh: Warehouse, period: Period) -> Reading:
    orders = period.until(conversions(wh), "timestamp")
    offline = orders.filter(orders.sales_channel.isin(OFFLINE_SALES))
    linked_ids = journey_touches(wh).select("order_id").distinct()
    offline = offline.mutate(_linked=offline.order_id.isin(linked_ids.order_id))
    sums = one_row(
        offline.aggregate(
            revenue=offline.revenue.sum(),
            linked=offline.revenue.sum(where=offline._linked),
            orders=offline.count(),
        )
    )
    reading = _share(sums["linked"], sums["revenue"], "no store or call-centre revenue")
    if not reading.known:
        return reading
    return Reading(
        reading.value,
        facts={**sums},
        detail=f"{sums['linked'] or 0:,.0f} of {sums['revenue']:,.0f} revenue linked",
    )


@indicator(
    "store_orders_identified", "offline",
    "share of store orders that belong to an identified person",
    unit="share", poor=0.20, good=0.70, needs=("orders", "identity_graph"),
    advise=lambda v, f: (
        f"Only {v:.0%} of store orders carry a customer identifier: promote the loyalty card at "
        "the till and offer e-receipts by email."
    ),
)  # fmt: skip
def _store_orders_identified(wh: Warehouse, period: Period) -> Reading:
    orders = period.until(wh.table("orders"), "timestamp")
    store = orders.filter(orders.sales_channel == "store")
    return _identified_share(wh, store, "no store order in the period")


@indicator(
    "survey_coverage", "customer voice",
    "share of identified buyers of the period with at least one survey answer or review in the "
    "period",
    unit="share", poor=0.02, good=0.20,
    needs=("orders", "feedback", "identity_graph"),
    advise=lambda v, f: (
        f"Only {v:.1%} of buyers answered a survey: send a short NPS or CSAT survey after each "
        "order, online and in store (a QR code on the receipt)."
    ),
)  # fmt: skip
def _survey_coverage(wh: Warehouse, period: Period) -> Reading:
    orders = period.until(conversions(wh), "timestamp")
    buyers = orders.filter(orders.person_id.notnull()).select("person_id").distinct()
    answers = person_of_rows(wh, period.until(wh.table("feedback"), "timestamp"))
    answered = answers.filter(answers.person_id.notnull()).select("person_id").distinct()
    flagged = buyers.mutate(_answered=buyers.person_id.isin(answered.person_id))
    counts = one_row(
        flagged.aggregate(total=flagged.count(), hits=flagged._answered.cast("int64").sum())
    )
    return _share(counts["hits"], counts["total"], "no identified buyer in the period")


@indicator(
    "consent_coverage", "privacy",
    "share of CRM records with both consent_analytics and consent_marketing recorded (true or "
    "false)",
    unit="share", poor=0.50, good=0.95, needs=("customers",),
    advise=lambda v, f: (
        f"Consent is recorded on only {v:.0%} of customer records: ask for analytics and "
        "marketing consent explicitly at sign-up and store both answers with the record."
    ),
)  # fmt: skip
def _consent_coverage(wh: Warehouse, period: Period) -> Reading:
    customers = period.until(wh.table("customers"), "created_at", keep_undated=True)
    both = customers.consent_analytics.notnull() & customers.consent_marketing.notnull()
    counts = one_row(customers.aggregate(total=customers.count(), hits=both.cast("int64").sum()))
    return _share(counts["hits"], counts["total"], "no customer record in the period")


def read_indicators(wh: Warehouse, period: Period) -> dict[str, Reading]:
    """Every indicator's reading; unknown (NaN, with a note) when a table it needs is missing."""
    readings: dict[str, Reading] = {}
    present = set(wh.tables())
    for name, item in INDICATORS.items():
        missing = tuple(t for t in item.needs if t not in present)
        readings[name] = (
            Reading(math.nan, missing_note(wh, item.needs), missing=missing)
            if missing
            else item.read(wh, period)
        )
    return readings


INDICATOR_COLUMNS = ["dimension", "indicator", "value", "unit", "poor", "good", "measures",
                     "detail", "note"]  # fmt: skip


def maturity_indicators(wh: Warehouse, *, as_of: date | str | None = None) -> pd.DataFrame:
    """One row per indicator: dimension, indicator, value (NaN when unknown), unit, the `poor`
    and `good` thresholds, what it measures, a detail and a note (why it is unknown)."""
    readings = read_indicators(wh, Period(as_date(as_of)))
    return indicator_frame(readings)


def indicator_frame(readings: Mapping[str, Reading]) -> pd.DataFrame:
    """The readings as a table of INDICATOR_COLUMNS."""
    rows = [
        {
            "dimension": INDICATORS[name].dimension,
            "indicator": name,
            "value": reading.value,
            "unit": INDICATORS[name].unit,
            "poor": INDICATORS[name].poor,
            "good": INDICATORS[name].good,
            "measures": INDICATORS[name].measures,
            "detail": reading.detail,
            "note": reading.note,
        }
        for name, reading in readings.items()
    ]
    return pd.DataFrame(rows, columns=INDICATOR_COLUMNS)
