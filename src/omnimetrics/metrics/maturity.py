"""Omnichannel maturity: how much of the company's data is joined, from the data itself and a
questionnaire; whether the data can support each model; and the business case of a change.

Indicators are computed in the engine (only their small aggregates leave it), each one declared
once in a registry with what it measures and its thresholds. Formulas, thresholds and level
names: docs/maturity.md.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from omnimetrics.channels import UNASSIGNED, ChannelRules, classify
from omnimetrics.errors import ConfigError, SourceError, UnknownNameError, did_you_mean
from omnimetrics.identity import identified_rows, person_of_rows
from omnimetrics.journeys import conversions, journey_touches
from omnimetrics.schema import COSTLESS_CHANNELS, OFFLINE_SALES

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

Unit = Literal["share", "days", "count", "answer"]

LEVELS: dict[int, str] = {1: "siloed", 2: "multichannel", 3: "cross-channel", 4: "omnichannel"}
"""Maturity levels, from channels run apart to channels run as one."""
LEVEL_CUTOFFS: tuple[float, float, float] = (25.0, 50.0, 75.0)
"""A score below 25 is level 1, below 50 level 2, below 75 level 3, else level 4."""

DIMENSION_WEIGHTS: dict[str, float] = {
    "identity": 2.0,
    "offline": 2.0,
    "measurement": 1.5,
    "organisation": 1.5,
    "data": 1.0,
    "customer voice": 1.0,
    "privacy": 1.0,
}
"""Weights of the dimensions in the overall score (joining data counts most)."""


DERIVED_TABLES = {"identity_graph", "events"}
"""Tables built by `omnimetrics journeys` (identity resolution, then journeys), not ingested."""


# -- the period ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Everything up to the end of `as_of` (UTC); None means all the data, judged against now."""

    as_of: date | None = None

    @property
    def cutoff(self) -> datetime | None:
        """The first instant after the period (midnight UTC after `as_of`)."""
        if self.as_of is None:
            return None
        return datetime.combine(self.as_of + timedelta(days=1), time(), tzinfo=UTC)

    @property
    def reference(self) -> datetime:
        """The moment freshness is measured from."""
        return self.cutoff or datetime.now(UTC)

    def until(self, table: ir.Table, column: str, *, keep_undated: bool = False) -> ir.Table:
        """Rows of `table` whose `column` (a date or a timestamp) falls in the period."""
        if self.as_of is None:
            return table
        value = table[column]
        if value.type().is_date():
            inside = value <= ibis.literal(self.as_of, type=dt.date)
        else:
            inside = value < ibis.literal(self.cutoff, type=dt.Timestamp(timezone="UTC"))
        return table.filter(value.isnull() | inside if keep_undated else inside)


def _as_date(value: date | str | None) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(
            f"The as_of date must be a date such as 2026-03-31. Got {value!r} instead."
        ) from None


# -- indicators ---------------------------------------------------------------------------------


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


INDICATORS: dict[str, Indicator] = {}


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
        if name in INDICATORS:
            raise ConfigError(f"Maturity indicator {name!r} is declared twice.")
        if dimension not in DIMENSION_WEIGHTS:
            raise ConfigError(
                f"Indicator {name!r}: unknown dimension {dimension!r}. "
                + did_you_mean(dimension, DIMENSION_WEIGHTS)
            )
        INDICATORS[name] = Indicator(name, dimension, measures, unit, poor, good, needs, read,
                                     advise, weight)  # fmt: skip
        return read

    return add


def indicator_score(value: float, poor: float, good: float) -> float:
    """100 x (value - poor) / (good - poor), clipped to 0..100 (NaN stays NaN).

    Works both ways: for freshness `good` (1 day) is below `poor` (30 days).

    >>> indicator_score(0.25, poor=0.0, good=0.5), indicator_score(15.5, poor=30, good=1)
    (50.0, 50.0)
    """
    if math.isnan(value):
        return math.nan
    return 100.0 * min(1.0, max(0.0, (value - poor) / (good - poor)))


def level_of(score: float) -> int | None:
    """The maturity level (1-4) of a 0-100 score; None for an unknown score.

    >>> [LEVELS[level_of(s)] for s in (10, 25, 60, 75)]
    ['siloed', 'multichannel', 'cross-channel', 'omnichannel']
    """
    if math.isnan(score):
        return None
    return 1 + sum(score >= cut for cut in LEVEL_CUTOFFS)


def _missing_note(wh: Warehouse, needs: tuple[str, ...]) -> str:
    present = set(wh.tables())
    missing = [t for t in needs if t not in present]
    if not missing:
        return ""
    if missing == ["ingest_batches"]:
        return (
            "Unknown: nothing was ingested yet (no ingest_batches ledger); load files with "
            "`omnimetrics ingest TABLE FILE`."
        )
    derived = [t for t in missing if t in DERIVED_TABLES]
    loaded = [t for t in missing if t not in DERIVED_TABLES]
    parts = []
    if loaded:
        command = f"omnimetrics ingest {loaded[0] if len(loaded) == 1 else 'TABLE'} FILE"
        parts.append(f"ingest {' and '.join(loaded)} ({command})")
    if derived:
        parts.append(f"run `omnimetrics journeys` to build {' and '.join(derived)}")
    tables = "table" if len(missing) == 1 else "tables"
    return f"Unknown: no {' or '.join(missing)} {tables}; " + ", then ".join(parts) + "."


def _one(expr: ir.Table) -> dict[str, Any]:
    """The single row of an aggregate, as a dict."""
    return expr.to_pyarrow().to_pylist()[0]


def _share(hits: Any, total: Any, empty: str) -> Reading:
    if not total:
        return Reading(math.nan, f"Unknown: {empty}.")
    return Reading(float(hits or 0) / float(total), facts={"hits": hits or 0, "total": total})


def _identified_share(wh: Warehouse, rows: ir.Table, empty: str) -> Reading:
    flagged = identified_rows(wh, rows)
    counts = _one(
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
    return _names([c for c in found if c != UNASSIGNED])


def _names(values: list[Any]) -> list[str]:
    return sorted(str(v) for v in values if v is not None)


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
    paid = set(_names(spend.select("channel").distinct().channel.to_pyarrow().to_pylist()))
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
    sums = _one(
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
    counts = _one(
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
    counts = _one(customers.aggregate(total=customers.count(), hits=both.cast("int64").sum()))
    return _share(counts["hits"], counts["total"], "no customer record in the period")


def _read(wh: Warehouse, period: Period) -> dict[str, Reading]:
    readings: dict[str, Reading] = {}
    present = set(wh.tables())
    for name, item in INDICATORS.items():
        missing = tuple(t for t in item.needs if t not in present)
        readings[name] = (
            Reading(math.nan, _missing_note(wh, item.needs), missing=missing)
            if missing
            else item.read(wh, period)
        )
    return readings


INDICATOR_COLUMNS = ["dimension", "indicator", "value", "unit", "poor", "good", "measures",
                     "detail", "note"]  # fmt: skip


def maturity_indicators(wh: Warehouse, *, as_of: date | str | None = None) -> pd.DataFrame:
    """One row per indicator: dimension, indicator, value (NaN when unknown), unit, the `poor`
    and `good` thresholds, what it measures, a detail and a note (why it is unknown)."""
    readings = _read(wh, Period(_as_date(as_of)))
    return _indicator_frame(readings)


def _indicator_frame(readings: Mapping[str, Reading]) -> pd.DataFrame:
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


# -- questionnaire ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """A question of the maturity questionnaire (dimension `organisation`)."""

    key: str
    text: str
    advice: str


QUESTIONS: dict[str, Question] = {
    q.key: q
    for q in (
        Question("unified_customer_view",
                 "Does every channel (web, app, stores, call centre) see one customer profile "
                 "with purchases, contacts and preferences?",
                 "Give every channel one customer view: store staff and call-centre agents "
                 "should see web orders and recent contacts."),
        Question("single_stock_view",
                 "Is stock visible as one pool across warehouses, stores and the web (click & "
                 "collect, ship from store, order in store)?",
                 "Expose one stock view to every channel so a store can sell what the web holds "
                 "and the web can promise what a store holds."),
        Question("cross_channel_campaigns",
                 "Are campaigns planned across channels, with one calendar, one budget and one "
                 "message?",
                 "Plan campaigns in one cross-channel calendar with a shared budget instead of "
                 "one plan per channel."),
        Question("teams_across_channels",
                 "Are teams and incentives organised around the customer rather than per "
                 "channel (stores credited for web sales they influenced)?",
                 "Align incentives across channels: credit stores for the web sales they "
                 "influence and the web for the store visits it drives."),
        Question("shared_kpis",
                 "Are KPIs defined once and shared by the teams of every channel?",
                 "Define the KPIs once (conversion, basket, retention, CAC, ROI) and share the "
                 "same dashboard with every channel team."),
        Question("store_staff_tools",
                 "Do store staff have tools showing the customer's history, online stock and "
                 "orders?",
                 "Equip store staff with a tablet or app showing customer history, online stock "
                 "and web orders."),
        Question("same_services_everywhere",
                 "Are the same services offered on every channel (prices, promotions, loyalty, "
                 "returns anywhere)?",
                 "Offer the same prices, promotions, loyalty benefits and returns on every "
                 "channel."),
        Question("feedback_acted_upon",
                 "Is customer feedback collected on every channel and acted upon?",
                 "Collect feedback on every channel and review the weak points by channel every "
                 "month."),
        Question("business_case_tracked",
                 "Is there a business case with target KPI values, reviewed against results?",
                 "Write the business case with target KPI values (see `business_case`) and "
                 "review it against the measured results each quarter."),
        Question("executive_sponsor",
                 "Does the omnichannel programme have an executive sponsor and its own budget?",
                 "Name an executive sponsor for the omnichannel programme and give it a budget "
                 "that no single channel owns."),
    )
}  # fmt: skip
"""The questionnaire, after seed 003: channels merged into one customer experience."""

ANSWER_WORDS = {"no": 0, "partly": 2, "yes": 4}
ALLOWED_ANSWERS = "0, 1, 2, 3, 4 (0 = not at all, 4 = fully) or yes, partly, no"


def validate_answers(raw: Mapping[str, Any], *, source: str = "answers") -> dict[str, int]:
    """Answers as 0-4 integers; an error names the question and the allowed answers."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{source}: the answers must be a table of question = answer. "
            f"Got {type(raw).__name__} instead."
        )
    if isinstance(raw.get("answers"), Mapping):
        raw = raw["answers"]
    answers: dict[str, int] = {}
    for key, value in raw.items():
        if key not in QUESTIONS:
            raise ConfigError(
                f"{source}: unknown question {key!r}. " + did_you_mean(key, QUESTIONS)
            )
        answers[key] = _answer(value, key, source)
    return answers


def _answer(value: Any, key: str, source: str) -> int:
    if isinstance(value, str) and value.strip().lower() in ANSWER_WORDS:
        return ANSWER_WORDS[value.strip().lower()]
    number: Any = value
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if isinstance(number, int) and not isinstance(number, bool) and 0 <= number <= 4:
        return number
    raise ConfigError(
        f"{source}: the answer to {key!r} ({QUESTIONS[key].text}) must be {ALLOWED_ANSWERS}. "
        f"Got {value!r} instead."
    )


def load_answers(path: str | Path) -> dict[str, int]:
    """Questionnaire answers from a TOML or JSON file: `question = answer` (top level or under
    `[answers]`); answers 0-4 or yes/partly/no."""
    path = Path(path)
    if path.suffix.lower() not in (".toml", ".json"):
        raise ConfigError(f"{path}: answers must be a .toml or .json file.")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"Cannot read the answers file {path}: {exc.strerror or exc}.") from None
    try:
        raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()} ({exc}).") from None
    return validate_answers(raw, source=str(path))


def questionnaire_template() -> str:
    """A TOML answers file to fill in, one commented question per line."""
    lines = ["# Omnichannel maturity questionnaire: answer 0-4 or yes/partly/no.", "[answers]"]
    for q in QUESTIONS.values():
        lines += [f"# {q.text}", f'# {q.key} = "partly"']
    return "\n".join(lines) + "\n"


# -- the assessment ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MaturityReport:
    """Scores per dimension and overall, the indicators behind them, and what to do next."""

    as_of: date | None
    score: float
    """Overall 0-100: weighted mean of the known dimensions (NaN when nothing is known)."""
    level: int | None
    level_name: str | None
    dimensions: pd.DataFrame
    indicators: pd.DataFrame
    recommendations: tuple[str, ...]
    notes: tuple[str, ...]
    models: tuple[Support, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (NaN becomes None)."""

        def plain(value: Any) -> Any:
            if isinstance(value, list | tuple | dict):
                return value
            if pd.isna(value):
                return None
            return value.item() if hasattr(value, "item") else value

        def clean(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{k: plain(v) for k, v in r.items()} for r in records]

        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "score": plain(self.score),
            "level": self.level,
            "level_name": self.level_name,
            "dimensions": clean(self.dimensions.to_dict("records")),
            "indicators": clean(self.indicators.to_dict("records")),
            "recommendations": list(self.recommendations),
            "notes": list(self.notes),
            "models": [
                {"kind": s.kind, "supported": s.supported, "reasons": list(s.reasons)}
                for s in self.models
            ],
        }


def _weighted_mean(scores: list[float], weights: list[float]) -> float:
    known = [(s, w) for s, w in zip(scores, weights, strict=True) if not math.isnan(s)]
    if not known:
        return math.nan
    return sum(s * w for s, w in known) / sum(w for _, w in known)


def assess(
    wh: Warehouse,
    *,
    as_of: date | str | None = None,
    answers: Mapping[str, Any] | None = None,
    models: bool = True,
) -> MaturityReport:
    """The maturity assessment: indicators from the data (and the questionnaire when answered),
    a 0-100 score and a level per dimension and overall, recommendations, and model support."""
    period = Period(_as_date(as_of))
    readings = _read(wh, period)
    table = _indicator_frame(readings)
    weights = {name: item.weight for name, item in INDICATORS.items()}
    advice: dict[str, str] = {}
    for name, reading in readings.items():
        if reading.known:
            advice[name] = INDICATORS[name].advise(reading.value, reading.facts)
    table["score"] = [INDICATORS[n].score(v) for n, v in zip(table.indicator, table.value,
                                                              strict=True)]  # fmt: skip
    notes = [f"{name}: {r.note}" for name, r in readings.items() if r.note]
    if answers is not None:
        given = validate_answers(answers)
        table = pd.concat([table, _answer_frame(given)], ignore_index=True)
        for key, value in given.items():
            weights[key] = 1.0
            advice[key] = f"{QUESTIONS[key].advice} (answered {value}/4)"
        skipped = [k for k in QUESTIONS if k not in given]
        if skipped:
            notes.append(
                f"questionnaire: {len(skipped)} question(s) unanswered, left out of the "
                f"organisation score (not counted as 0): {', '.join(skipped)}."
            )
    levels = [level_of(s) for s in table.score]
    table["level"] = pd.array(levels, dtype="Int64")
    table["level_name"] = [LEVELS.get(lv) if lv else None for lv in levels]
    dimensions = _dimension_frame(table, weights)
    known = dimensions[dimensions.score.notna()]
    for name in dimensions.dimension[dimensions.score.isna()]:
        notes.append(f"{name}: no indicator is known, so the dimension is left out of the score.")
    score = _weighted_mean(list(known.score), list(known.weight))
    level = level_of(score)
    weak = table[table.score < LEVEL_CUTOFFS[-1]].assign(
        _weight=[weights[n] for n in table.indicator[table.score < LEVEL_CUTOFFS[-1]]]
    )
    weak = weak.sort_values(["score", "_weight", "indicator"], ascending=[True, False, True])
    recommendations = [advice[n] for n in weak.indicator if n in advice]
    recommendations += [
        f"{name} cannot be measured: {reading.note.removeprefix('Unknown: ')}"
        for name, reading in readings.items()
        if reading.missing
    ]
    supports: tuple[Support, ...] = ()
    if models:
        supports = tuple(model_support(wh, kind, as_of=period.as_of) for kind in SUPPORT_CHECKS)
    return MaturityReport(
        as_of=period.as_of,
        score=score,
        level=level,
        level_name=LEVELS.get(level) if level else None,
        dimensions=dimensions,
        indicators=table,
        recommendations=tuple(recommendations),
        notes=tuple(notes),
        models=supports,
    )


def _answer_frame(answers: Mapping[str, int]) -> pd.DataFrame:
    rows = [
        {
            "dimension": "organisation",
            "indicator": key,
            "value": value / 4,
            "unit": "answer",
            "poor": 0.0,
            "good": 1.0,
            "measures": QUESTIONS[key].text,
            "detail": f"answered {value}/4",
            "note": "",
            "score": indicator_score(value / 4, 0.0, 1.0),
        }
        for key, value in answers.items()
    ]
    return pd.DataFrame(rows, columns=[*INDICATOR_COLUMNS, "score"])


def _dimension_frame(table: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    rows = []
    for dimension, weight in DIMENSION_WEIGHTS.items():
        part = table[table.dimension == dimension]
        if part.empty:
            continue
        score = _weighted_mean(list(part.score), [weights[n] for n in part.indicator])
        level = level_of(score)
        rows.append(
            {
                "dimension": dimension,
                "weight": weight,
                "score": score,
                "level": level,
                "level_name": LEVELS.get(level) if level else None,
                "known": int(part.score.notna().sum()),
                "unknown": int(part.score.isna().sum()),
            }
        )
    frame = pd.DataFrame(rows)
    frame["level"] = frame.level.astype("Int64")
    return frame


def compare(before: MaturityReport, after: MaturityReport) -> pd.DataFrame:
    """Progress between two assessments: dimension, indicator, unit, before, after, change.

    Indicator rows compare values; rows with indicator "score" compare the 0-100 scores of each
    dimension and (dimension "overall") of the whole assessment.
    """

    def rows(report: MaturityReport) -> pd.DataFrame:
        values = report.indicators[["dimension", "indicator", "unit", "value"]]
        scores = report.dimensions[["dimension", "score"]].rename(columns={"score": "value"})
        scores = scores.assign(indicator="score", unit="score")
        overall = pd.DataFrame(
            [{"dimension": "overall", "indicator": "score", "unit": "score",
              "value": report.score}]
        )  # fmt: skip
        return pd.concat([values, scores, overall], ignore_index=True)

    keys = ["dimension", "indicator", "unit"]
    old, new = rows(before), rows(after)
    # Rows in the order of the later report, then those only the earlier one has.
    order = pd.concat([new[keys], old[keys]]).drop_duplicates().reset_index(drop=True)
    merged = order.merge(old, on=keys, how="left").merge(new, on=keys, how="left",
                                                         suffixes=("_b", "_a"))  # fmt: skip
    merged = merged.rename(columns={"value_b": "before", "value_a": "after"})
    merged["change"] = merged.after - merged.before
    return merged[[*keys, "before", "after", "change"]]


# -- model support --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Support:
    """Whether the data can support a model, why, and the figures the verdict rests on."""

    kind: str
    supported: bool
    reasons: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


SupportRun = Callable[["Warehouse", Period, Mapping[str, int]], Support]


@dataclass(frozen=True)
class SupportCheck:
    """A named check of what a model needs from the data, with its options and defaults."""

    kind: str
    doc: str
    needs: tuple[str, ...]
    defaults: Mapping[str, int]
    run: SupportRun


SUPPORT_CHECKS: dict[str, SupportCheck] = {}


def support_check(
    kind: str, doc: str, needs: tuple[str, ...], **defaults: int
) -> Callable[[SupportRun], SupportRun]:
    """Declare the data check of a model kind under a unique name."""

    def add(run: SupportRun) -> SupportRun:
        if kind in SUPPORT_CHECKS:
            raise ConfigError(f"Model support check {kind!r} is declared twice.")
        SUPPORT_CHECKS[kind] = SupportCheck(kind, doc, needs, defaults, run)
        return run

    return add


def model_support(
    wh: Warehouse, kind: str, *, as_of: date | str | None = None, **options: int
) -> Support:
    """Whether the data can support a model of `kind` (attribution, mmm, clv, experiments):
    a model the data cannot support says so and why, instead of printing untrustworthy numbers."""
    check = SUPPORT_CHECKS.get(kind)
    if check is None:
        raise UnknownNameError(
            f"Unknown model kind {kind!r}. " + did_you_mean(kind, SUPPORT_CHECKS)
        )
    for name, value in options.items():
        if name not in check.defaults:
            raise ConfigError(
                f"model_support({kind!r}) has no option {name!r}. "
                + did_you_mean(name, check.defaults)
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"The {name!r} option of model_support({kind!r}) must be a positive integer. "
                f"Got {value!r} instead."
            )
    settings = {**check.defaults, **options}
    note = _missing_note(wh, check.needs)
    if note:
        return Support(kind, False, [note.replace("Unknown: ", "Cannot tell: ")], {})
    return check.run(wh, Period(_as_date(as_of)), settings)


def _listing(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} ({n})" for name, n in sorted(counts.items(), key=lambda i: i[1]))


@support_check(
    "attribution",
    "converting journeys per channel: credit shares of a channel with few conversions are noise",
    ("orders", "identity_graph", "events"),
    min_conversions=30,
)
def _attribution_support(wh: Warehouse, period: Period, opts: Mapping[str, int]) -> Support:
    least = opts["min_conversions"]
    events = period.until(wh.table("events"), "timestamp")
    touch_channels = events.filter(events.is_touch & events.channel.notnull())
    touch_channels = touch_channels.select("channel").distinct()
    touches = journey_touches(wh)
    touches = touches.filter(touches.channel.notnull())
    if period.as_of is not None:
        cut = ibis.literal(period.cutoff, type=dt.Timestamp(timezone="UTC"))
        touches = touches.filter(touches.order_at < cut)
    per_channel = touches.group_by("channel").agg(conversions=touches.order_id.nunique())
    counts = {r["channel"]: int(r["conversions"]) for r in per_channel.to_pyarrow().to_pylist()}
    for channel in touch_channels.channel.to_pyarrow().to_pylist():
        counts.setdefault(channel, 0)
    journeys = int(touches.order_id.nunique().execute() or 0)
    below = {c: n for c, n in counts.items() if n < least}
    figures = {
        "converting_journeys": journeys,
        "conversions_by_channel": dict(sorted(counts.items())),
        "min_conversions": least,
        "supported_channels": sorted(c for c in counts if c not in below),
        "unsupported_channels": sorted(below),
    }
    reasons = []
    if journeys < least:
        reasons.append(
            f"Only {journeys} orders have a journey; attribution needs at least {least} "
            "converting journeys (min_conversions) before any credit means something."
        )
    if below:
        reasons.append(
            f"{len(below)} channel(s) have fewer than {least} converting journeys: "
            f"{_listing(below)}. Their credit is noise: leave them out, group them, or wait "
            "for more data."
        )
    if not reasons:
        fewest = min(counts.items(), key=lambda i: (i[1], i[0]))
        reasons.append(
            f"Every channel has at least {least} converting journeys (fewest: {fewest[0]} with "
            f"{fewest[1]})."
        )
    return Support("attribution", not (journeys < least or below), reasons, figures)


@support_check(
    "mmm",
    "weeks with both spend and orders: mix modelling needs enough weeks to separate media "
    "effects from trend and season",
    ("spend", "orders"),
    min_weeks=26,
    recommended_weeks=52,
)
def _mmm_support(wh: Warehouse, period: Period, opts: Mapping[str, int]) -> Support:
    least, recommended = opts["min_weeks"], opts["recommended_weeks"]
    spend = period.until(wh.table("spend"), "date")
    spend = spend.filter(spend.spend > 0)
    orders = period.until(wh.table("orders"), "timestamp")
    spend_weeks = spend.select(week=spend.date.truncate("W")).distinct()
    order_weeks = orders.select(week=orders.timestamp.date().truncate("W")).distinct()
    both = spend_weeks.join(order_weeks, "week")
    summary = _one(both.aggregate(weeks=both.count(), first=both.week.min(), last=both.week.max()))
    weeks = int(summary["weeks"] or 0)
    channels = _names(spend.select("channel").distinct().channel.to_pyarrow().to_pylist())
    figures = {
        "weeks_with_spend_and_orders": weeks,
        "first_week": summary["first"],
        "last_week": summary["last"],
        "spend_channels": channels,
        "min_weeks": least,
        "recommended_weeks": recommended,
    }
    if weeks < least:
        reason = (
            f"Only {weeks} weeks have both spend and orders; mix modelling needs at least {least} "
            f"(min_weeks), {recommended} recommended to separate media effects from the season."
        )
        return Support("mmm", False, [reason], figures)
    if weeks < recommended:
        reason = (
            f"{weeks} weeks of spend and orders: enough to fit, but {recommended} are recommended "
            "to separate media effects from the season; read the results with care."
        )
    else:
        reason = f"{weeks} weeks of spend and orders (at least {recommended} recommended)."
    return Support("mmm", True, [reason], figures)


@support_check(
    "clv",
    "persons with two or more orders: lifetime-value models learn purchase rhythm from repeats",
    ("orders", "identity_graph"),
    min_repeat_buyers=200,
)
def _clv_support(wh: Warehouse, period: Period, opts: Mapping[str, int]) -> Support:
    least = opts["min_repeat_buyers"]
    orders = period.until(conversions(wh), "timestamp")
    orders = orders.filter(orders.person_id.notnull())
    per_person = orders.group_by("person_id").agg(orders=orders.count())
    counts = _one(
        per_person.aggregate(
            buyers=per_person.count(), repeat=(per_person.orders >= 2).cast("int64").sum()
        )
    )
    buyers, repeat = int(counts["buyers"] or 0), int(counts["repeat"] or 0)
    figures = {
        "buyers": buyers,
        "repeat_buyers": repeat,
        "repeat_rate": repeat / buyers if buyers else math.nan,
        "min_repeat_buyers": least,
    }
    if repeat < least:
        reason = (
            f"Only {repeat} identified customers bought twice or more (of {buyers}); lifetime-"
            f"value models need at least {least} (min_repeat_buyers) to learn purchase rhythm."
        )
        return Support("clv", False, [reason], figures)
    return Support("clv", True, [f"{repeat} repeat buyers (of {buyers})."], figures)


@support_check(
    "experiments",
    "units per variant of each experiment: fewer units than this cannot show a realistic effect",
    ("experiment_assignments",),
    min_units_per_variant=100,
)
def _experiments_support(wh: Warehouse, period: Period, opts: Mapping[str, int]) -> Support:
    least = opts["min_units_per_variant"]
    assigned = period.until(wh.table("experiment_assignments"), "timestamp", keep_undated=True)
    unit = assigned.unit_type.concat(ibis.literal(":"), assigned.unit_id)
    cells = assigned.group_by(["experiment", "variant"]).agg(units=unit.nunique())
    units: dict[str, dict[str, int]] = {}
    for row in cells.to_pyarrow().to_pylist():
        units.setdefault(row["experiment"], {})[row["variant"]] = int(row["units"])
    figures = {"units": units, "min_units_per_variant": least}
    if not units:
        return Support("experiments", False, ["No experiment assignment in the period."], figures)
    reasons = []
    failing = []
    for experiment, variants in sorted(units.items()):
        small = {v: n for v, n in variants.items() if n < least}
        if len(variants) < 2:
            failing.append(experiment)
            reasons.append(f"{experiment}: only one variant ({next(iter(variants))}).")
        elif small:
            failing.append(experiment)
            reasons.append(
                f"{experiment}: variant(s) with fewer than {least} units: {_listing(small)}."
            )
    figures["unsupported_experiments"] = failing
    if not failing:
        reasons.append(
            f"Every experiment has at least {least} units per variant; check its power for the "
            "effect you expect."
        )
    return Support("experiments", not failing, reasons, figures)


# -- business case --------------------------------------------------------------------------------

CASE_KPIS = ("conversion_rate", "average_basket", "retention")
CASE_TARGETS = (*CASE_KPIS, "spend")


def _check_kpis(values: Mapping[str, float], allowed: tuple[str, ...], what: str) -> None:
    for name, value in values.items():
        if name not in allowed:
            raise ConfigError(f"Unknown {what} KPI {name!r}. " + did_you_mean(name, allowed))
        bounds = {
            "conversion_rate": (0.0, 1.0, False),
            "retention": (0.0, 1.0, True),
            "average_basket": (0.0, math.inf, False),
            "spend": (0.0, math.inf, True),
        }
        low, high, low_ok = bounds[name]  # fmt: skip
        number = float(value)
        if math.isnan(number) or number > high or number < low or (number == low and not low_ok):
            span = f"{'[' if low_ok else '('}{low:g}, {high:g}{']' if high < math.inf else ')'}"
            raise ConfigError(
                f"The {what} {name!r} must be a number in {span}. Got {value!r} instead."
            )


def business_case(
    current: Mapping[str, float],
    targets: Mapping[str, float],
    *,
    orders: float,
    revenue: float,
    spend: float,
    margin_rate: float | None = None,
) -> pd.DataFrame:
    """Projected orders, revenue, margin and ROI if the KPIs reach their targets.

    revenue = traffic x conversion_rate x (1 + retention) x average_basket, traffic held at its
    current value; KPIs missing from `targets` stay at their current value. Columns: measure,
    current, projected, change, relative_change, formula. See docs/maturity.md.
    """
    _check_kpis(current, CASE_KPIS, "current")
    _check_kpis(targets, CASE_TARGETS, "target")
    for name, value in (("orders", orders), ("revenue", revenue)):
        if not value > 0:
            raise ConfigError(f"The {name!r} of the business case must be > 0. Got {value!r}.")
    if not spend >= 0:
        raise ConfigError(f"The 'spend' of the business case must be >= 0. Got {spend!r}.")
    if margin_rate is not None and not 0 <= margin_rate <= 1:
        raise ConfigError(f"margin_rate must be a share in [0, 1]. Got {margin_rate!r} instead.")
    if "conversion_rate" not in current:
        raise ConfigError(
            "The business case needs the current 'conversion_rate' (orders / visits): traffic is "
            "derived from it."
        )
    if "retention" in targets and "retention" not in current:
        raise ConfigError(
            "A retention target needs the current 'retention' (share of buyers who buy again)."
        )
    conversion = float(current["conversion_rate"])
    basket = float(current.get("average_basket", revenue / orders))
    keep_rate = float(current.get("retention", 0.0))
    target_conversion = float(targets.get("conversion_rate", conversion))
    target_basket = float(targets.get("average_basket", basket))
    target_keep = float(targets.get("retention", keep_rate))
    target_spend = float(targets.get("spend", spend))

    traffic = orders / (conversion * (1 + keep_rate))
    new_orders = traffic * target_conversion * (1 + target_keep)
    new_revenue = revenue * (new_orders / orders) * (target_basket / basket)

    def margin(value: float) -> float:
        return value * margin_rate if margin_rate is not None else math.nan

    def roi(m: float, s: float) -> float:
        return (m - s) / s if s > 0 else math.nan

    rows = [
        ("conversion_rate", conversion, target_conversion, "orders / visits"),
        ("average_basket", basket, target_basket, "revenue / orders"),
    ]
    if "retention" in current:
        rows.append(("retention", keep_rate, target_keep, "share of buyers who buy again"))
    retention_part = " x (1 + retention)" if "retention" in current else ""
    rows += [
        ("traffic", traffic, traffic, f"orders / (conversion_rate{retention_part}); held"),
        ("orders", orders, new_orders, f"traffic x conversion_rate{retention_part}"),
        ("revenue", revenue, new_revenue,
         "revenue x (projected orders / orders) x (target basket / current basket)"),
        ("spend", spend, target_spend, "as given"),
        ("margin", margin(revenue), margin(new_revenue), "revenue x margin_rate"),
        ("roi", roi(margin(revenue), spend), roi(margin(new_revenue), target_spend),
         "(margin - spend) / spend"),
        ("roas", revenue / spend if spend > 0 else math.nan,
         new_revenue / target_spend if target_spend > 0 else math.nan, "revenue / spend"),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["measure", "current", "projected", "formula"])
    frame["change"] = frame.projected - frame.current
    frame["relative_change"] = frame.change / frame.current.where(frame.current != 0)
    return frame[["measure", "current", "projected", "change", "relative_change", "formula"]]


__all__ = [
    "DIMENSION_WEIGHTS",
    "INDICATORS",
    "LEVELS",
    "LEVEL_CUTOFFS",
    "QUESTIONS",
    "SUPPORT_CHECKS",
    "Indicator",
    "MaturityReport",
    "Question",
    "Support",
    "assess",
    "business_case",
    "compare",
    "indicator_score",
    "level_of",
    "load_answers",
    "maturity_indicators",
    "model_support",
    "questionnaire_template",
    "validate_answers",
]
