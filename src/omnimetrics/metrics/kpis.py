"""KPIs: declared once (name, formula, unit, direction, inputs), computed by any dimensions.

A KPI is a numerator and, for rates and averages, a denominator, each an aggregate of one fact
table (`facts.Facts`) per period and dimension values; value = numerator / denominator (x scale).
The engine aggregates; only the small per-period table reaches pandas, where the change against
the previous period and the suppression of small cells are applied. Formulas: docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from omnimetrics.errors import ConfigError, OmnimetricsError, UnknownNameError, did_you_mean
from omnimetrics.metrics.facts import Facts

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

Filter = Callable[[ir.Table], ir.BooleanValue]


@dataclass(frozen=True)
class Measure:
    """An aggregate of a fact: sum / count / nunique / mean of a column, on the rows kept by
    `where`."""

    fact: str
    column: str
    agg: str = "sum"
    where: Filter | None = None

    def persons(self, table: ir.Table) -> ir.Value:
        """Distinct persons among the rows the measure counts (for small-cell suppression)."""
        person = table.person_id
        if self.where is not None:
            person = ibis.cases((self.where(table), person), else_=ibis.null(dt.string))
        return person.nunique().cast(dt.float64)

    def aggregate(self, table: ir.Table) -> ir.Value:
        column = table[self.column]
        if self.where is not None:
            column = ibis.cases((self.where(table), column), else_=ibis.null(column.type()))
        if self.agg == "sum":
            return column.sum().cast(dt.float64)
        if self.agg == "count":
            return column.count().cast(dt.float64)
        if self.agg == "nunique":
            return column.nunique().cast(dt.float64)
        if self.agg == "mean":
            return column.mean().cast(dt.float64)
        raise ConfigError(f"Unknown aggregate {self.agg!r}; choose sum, count, nunique or mean.")


@dataclass(frozen=True)
class KPI:
    """One indicator: how it is computed, what it needs and how to read it."""

    name: str
    label: str
    unit: str
    """share, currency, count, seconds, score, ratio"""
    higher_is_better: bool
    formula: str
    numerator: Measure
    denominator: Measure | None = None
    needs: tuple[str, ...] = ()
    """Tables or table.columns that must hold data; "a|b" when either will do."""
    dimensions: tuple[str, ...] = ()
    """Fact dimensions it can be cut by (segment columns always can, through person_id)."""
    scale: float = 1.0
    net: bool = False
    """value = (numerator - denominator) / denominator (a return on an outlay: ROI)."""
    ratio_of: tuple[str, str] | None = None
    """value = one KPI / another, per period and dimension (LTV / CAC)."""
    flag_below: float | None = None
    """Cells under this value are flagged (`flag` column): LTV/CAC under 3."""
    group: str = "sales"


KPIS: dict[str, KPI] = {}


def register(kpi: KPI) -> KPI:
    if kpi.name in KPIS:
        raise ConfigError(f"KPI {kpi.name!r} is declared twice.")
    KPIS[kpi.name] = kpi
    return kpi


def get_kpi(name: str) -> KPI:
    try:
        return KPIS[name]
    except KeyError:
        raise UnknownNameError(f"Unknown KPI {name!r}. " + did_you_mean(name, KPIS)) from None


@cache
def _event(kind: str) -> Measure:
    """Touchpoints of one event type (one Measure per kind: fetched once however many KPIs
    read it)."""
    return Measure("interactions", "event_id", "count", where=lambda t: t.event_type == kind)


@cache
def _events(kinds: tuple[str, ...]) -> Measure:
    return Measure(
        "interactions", "event_id", "count", where=lambda t: t.event_type.isin(list(kinds))
    )


ORDER_DIMS = ("channel", "sales_channel", "fulfilment", "store")
TOUCH_DIMS = ("channel", "campaign", "device", "store")
CREDIT_DIMS = ("channel", "campaign", "sales_channel")
SPEND_DIMS = ("channel", "campaign")
SURVEY_DIMS = ("channel", "store", "preceding_channel")
REVENUE = Measure("orders", "revenue")
ORDERS = Measure("orders", "order_id", "count")
NEW = Measure("orders", "person_id", "nunique", where=lambda t: t.first_order)
SPEND = Measure("spend", "spend")
BUYERS = Measure("orders", "person_id", "nunique")
RETURNING = Measure("orders", "person_id", "nunique", where=lambda t: ~t.first_order)
MARGIN = Measure("orders", "margin")
OPENS = Measure("email_opens", "event_id", "count")
HUMAN_OPENS = Measure("email_opens", "event_id", "count", where=lambda t: ~t.machine)
CONTACTS = _events(("call", "chat"))
SESSIONS = Measure(
    "interactions", "session_id", "count", where=lambda t: t.is_touch & t.session_id.notnull()
)
"""Sessions: their starts (read in the same scan as the other touchpoint measures)."""
ATTRIBUTED_NEW = Measure("credited", "credit", where=lambda t: t.first_order)

for kpi in (
    KPI("revenue", "Revenue", "currency", True, "sum of order revenue", REVENUE,
        needs=("orders",), dimensions=ORDER_DIMS),
    KPI("orders", "Orders", "count", True, "number of orders (cancelled ones left out)", ORDERS,
        needs=("orders",), dimensions=ORDER_DIMS),
    KPI("average_basket", "Average basket", "currency", True, "revenue / orders", REVENUE, ORDERS,
        needs=("orders",), dimensions=ORDER_DIMS),
    KPI("buyers", "Buyers", "count", True, "distinct persons who ordered",
        BUYERS, needs=("orders",), dimensions=ORDER_DIMS,
        group="customers"),
    KPI("new_customers", "New customers", "count", True,
        "distinct persons whose first order falls in the period", NEW, needs=("orders",),
        dimensions=ORDER_DIMS, group="customers"),
    KPI("returning_customers", "Returning customers", "count", True,
        "distinct persons ordering in the period who had ordered before",
        RETURNING,
        needs=("orders",), dimensions=ORDER_DIMS, group="customers"),
    KPI("repeat_purchase_rate", "Repeat purchase rate", "share", True,
        "returning customers / buyers",
        RETURNING,
        BUYERS, needs=("orders",), dimensions=ORDER_DIMS,
        group="customers"),
    KPI("retention_rate", "Retention", "share", True,
        "buyers of the previous period who buy again in this one / buyers of the previous period",
        Measure("retention", "person_id", "count", where=lambda t: t.retained),
        Measure("retention", "person_id", "count"), needs=("orders",), group="customers"),
    KPI("churn_rate", "Churn", "share", False,
        "buyers of the previous period who do not buy in this one / buyers of the previous period",
        Measure("retention", "person_id", "count", where=lambda t: ~t.retained),
        Measure("retention", "person_id", "count"), needs=("orders",), group="customers"),
    KPI("clv_historical", "Historical customer value", "currency", True,
        "revenue / buyers over the period (grain total: lifetime so far); cut by channel_mix "
        "to compare omnichannel and single-channel customers", REVENUE,
        BUYERS, needs=("orders",), dimensions=ORDER_DIMS,
        group="customers"),
    KPI("clv_margin", "Historical customer margin", "currency", True, "margin / buyers",
        MARGIN, BUYERS,
        needs=("orders.margin|orders.cost_of_goods",), dimensions=ORDER_DIMS, group="customers"),
    KPI("ltv_cac", "LTV / CAC", "ratio", True,
        "historical customer margin (revenue when no margin is known) / CAC; under 3 is flagged",
        REVENUE, ratio_of=("clv_margin", "cac"), needs=("orders", "spend"), flag_below=3.0,
        group="marketing"),
    KPI("margin", "Margin", "currency", True, "sum of margin (or revenue - cost of goods)",
        MARGIN, needs=("orders.margin|orders.cost_of_goods",),
        dimensions=ORDER_DIMS),
    KPI("return_rate", "Return rate", "share", False, "returned amount / revenue",
        Measure("orders", "returned"), REVENUE, needs=("orders",), dimensions=ORDER_DIMS,
        group="operations"),
    KPI("click_and_collect_share", "Click & collect share", "share", True,
        "orders fulfilled by click & collect / orders",
        Measure("orders", "order_id", "count", where=lambda t: t.fulfilment == "click_and_collect"),
        ORDERS, needs=("orders.fulfilment",), dimensions=("channel", "sales_channel", "store"),
        group="operations"),
    KPI("ship_from_store_share", "Ship-from-store share", "share", True,
        "orders shipped from a store / orders",
        Measure("orders", "order_id", "count", where=lambda t: t.fulfilment == "ship_from_store"),
        ORDERS, needs=("orders.fulfilment",), dimensions=("channel", "sales_channel", "store"),
        group="operations"),
    KPI("sessions", "Sessions", "count", True, "sessions (visits) started",
        SESSIONS, needs=("events",), dimensions=TOUCH_DIMS,
        group="engagement"),
    KPI("conversion_rate", "Conversion rate", "share", True,
        "orders credited to the channel (last touch) / sessions of the channel",
        Measure("credited", "credit"), SESSIONS,
        needs=("events", "orders"), dimensions=("channel", "campaign"), group="conversion"),
    KPI("omnichannel_conversion_rate", "Omnichannel conversion rate", "share", True,
        "persons active on 2+ channels (touch or sales) who bought / persons active on 2+ "
        "channels, per period",
        Measure("activity", "person_id", "count", where=lambda t: (t.channels >= 2) & t.bought),
        Measure("activity", "person_id", "count", where=lambda t: t.channels >= 2),
        needs=("events", "orders"), group="conversion"),
    KPI("spend", "Spend", "currency", False, "media spend", SPEND, needs=("spend",),
        dimensions=SPEND_DIMS, group="marketing"),
    KPI("cac", "CAC", "currency", False,
        "spend / new customers (blended); by channel or campaign: spend / first orders "
        "credited to it (last touch)", SPEND, NEW, needs=("spend", "orders"),
        dimensions=SPEND_DIMS, group="marketing"),
    KPI("roas", "ROAS", "ratio", True,
        "revenue / spend (blended); by channel or campaign: credited revenue / spend",
        REVENUE, SPEND, needs=("spend", "orders"), dimensions=SPEND_DIMS, group="marketing"),
    KPI("roi", "ROI", "ratio", True,
        "(margin - spend) / spend; by channel or campaign: credited margin", Measure("orders",
        "margin"), SPEND, needs=("spend", "orders.margin|orders.cost_of_goods"),
        dimensions=SPEND_DIMS, net=True, group="marketing"),
    KPI("ctr", "Click-through rate", "share", True,
        "ad clicks / ad impressions (ad platforms' figures in the spend table)",
        Measure("spend", "clicks"), Measure("spend", "impressions"),
        needs=("spend.impressions", "spend.clicks"), dimensions=SPEND_DIMS, group="engagement"),
    KPI("interaction_rate", "Interaction rate", "share", True,
        "(ad clicks + social engagements + email clicks + SMS clicks) / (ad and social "
        "impressions + email and SMS sends)",
        _events(("ad_click", "social_engagement", "email_click", "sms_click")),
        _events(("ad_impression", "social_impression", "email_send", "sms_send")),
        needs=("events",), dimensions=TOUCH_DIMS, group="engagement"),
    KPI("email_open_rate", "Email open rate", "share", True, "email opens / email sends",
        OPENS, _event("email_send"), needs=("events",),
        dimensions=TOUCH_DIMS, group="engagement"),
    KPI("email_open_rate_human", "Email open rate (machine opens left out)", "share", True,
        "email opens more than a minute after their send / email sends",
        HUMAN_OPENS,
        _event("email_send"), needs=("events",), dimensions=TOUCH_DIMS, group="engagement"),
    KPI("machine_open_share", "Machine opens", "share", False,
        "email opens within a minute of their send (privacy proxies) / email opens",
        Measure("email_opens", "event_id", "count", where=lambda t: t.machine),
        OPENS, needs=("events",), dimensions=TOUCH_DIMS,
        group="engagement"),
    KPI("email_click_rate", "Email click rate", "share", True, "email clicks / email sends",
        _event("email_click"), _event("email_send"), needs=("events",), dimensions=TOUCH_DIMS,
        group="engagement"),
    KPI("email_click_to_open_rate", "Email click-to-open rate", "share", True,
        "email clicks / human email opens", _event("email_click"),
        HUMAN_OPENS,
        needs=("events",), dimensions=TOUCH_DIMS, group="engagement"),
    KPI("sms_click_rate", "SMS click rate", "share", True, "SMS clicks / SMS sends",
        _event("sms_click"), _event("sms_send"), needs=("events",), dimensions=TOUCH_DIMS,
        group="engagement"),
    KPI("push_open_rate", "Push open rate", "share", True, "push opens / push sends",
        _event("push_open"), _event("push_send"), needs=("events",), dimensions=TOUCH_DIMS,
        group="engagement"),
    KPI("social_engagement_rate", "Social engagement rate", "share", True,
        "social engagements / social impressions", _event("social_engagement"),
        _event("social_impression"), needs=("events",), dimensions=TOUCH_DIMS,
        group="engagement"),
    KPI("app_installs", "App installs", "count", True, "app installs", _event("app_install"),
        needs=("events",), dimensions=TOUCH_DIMS, group="engagement"),
    KPI("time_on_site", "Time on site/app", "seconds", True, "mean duration of visits",
        Measure("interactions", "duration_seconds", "mean",
                where=lambda t: (t.event_type == "visit") & t.duration_seconds.notnull()),
        needs=("touchpoints.duration_seconds",), dimensions=TOUCH_DIMS,
        group="engagement"),
    KPI("nps", "NPS", "score", True,
        "% promoters (9-10) - % detractors (0-6) of NPS answers",
        Measure("feedback", "score", "count",
                where=lambda t: (t.survey_type == "nps") & (t.score >= 9)),
        Measure("feedback", "score", "count", where=lambda t: t.survey_type == "nps"),
        needs=("feedback",), dimensions=SURVEY_DIMS, scale=100.0, group="surveys"),
    KPI("csat", "CSAT", "share", True, "answers of 4 or 5 (top-2 box) / CSAT answers",
        Measure("feedback", "score", "count",
                where=lambda t: (t.survey_type == "csat") & (t.score >= 4)),
        Measure("feedback", "score", "count", where=lambda t: t.survey_type == "csat"),
        needs=("feedback",), dimensions=SURVEY_DIMS, group="surveys"),
    KPI("ces", "CES", "score", False, "mean Customer Effort Score (1-7, lower is easier)",
        Measure("feedback", "score", "mean", where=lambda t: t.survey_type == "ces"),
        needs=("feedback",), dimensions=SURVEY_DIMS, group="surveys"),
    KPI("review_score", "Review score", "score", True, "mean review score (1-5)",
        Measure("feedback", "score", "mean", where=lambda t: t.survey_type == "review"),
        needs=("feedback",), dimensions=SURVEY_DIMS, group="surveys"),
    KPI("contacts", "Service contacts", "count", False, "calls and chats",
        CONTACTS, needs=("events",), dimensions=("channel", "store"),
        group="operations"),
    KPI("cost_per_contact", "Cost per contact", "currency", False,
        "spend of the service channel (call centre, chat) / its calls and chats",
        Measure("spend", "spend", where=lambda t: t.channel.isin(["call_centre", "chat"])),
        CONTACTS, needs=("spend", "events"), dimensions=("channel",),
        group="operations"),
):  # fmt: skip
    register(kpi)

NPS_DETRACTORS = Measure(
    "feedback", "score", "count", where=lambda t: (t.survey_type == "nps") & (t.score <= 6)
)
"""NPS = 100 * (promoters - detractors) / answers: the numerator counts promoters minus this."""

ATTRIBUTED = {"cac": ATTRIBUTED_NEW, "roas": Measure("credited", "revenue"),
              "roi": Measure("credited", "margin")}  # fmt: skip
"""By channel or campaign, these KPIs take the credited orders instead of all orders."""

KPI_SETS = {
    "store_chain_ecommerce": (
        "revenue", "orders", "average_basket", "new_customers", "repeat_purchase_rate",
        "conversion_rate", "omnichannel_conversion_rate", "cac", "roas", "click_and_collect_share",
        "ship_from_store_share", "return_rate", "nps", "csat",
    ),
    "pure_online": (
        "revenue", "orders", "average_basket", "sessions", "conversion_rate", "new_customers",
        "repeat_purchase_rate", "cac", "roas", "ctr", "email_open_rate_human",
        "email_click_to_open_rate", "time_on_site", "return_rate",
    ),
    "services_call_centre": (
        "revenue", "new_customers", "repeat_purchase_rate", "contacts", "cost_per_contact", "ces",
        "csat", "nps", "cac",
    ),
    "acquisition": ("new_customers", "cac", "roas", "conversion_rate", "ctr", "spend"),
    "retention": ("repeat_purchase_rate", "returning_customers", "email_click_rate", "nps"),
    "engagement": (
        "interaction_rate", "ctr", "email_open_rate", "email_open_rate_human",
        "email_click_to_open_rate", "sms_click_rate", "social_engagement_rate", "app_installs",
        "time_on_site",
    ),
}  # fmt: skip
"""Starting sets by business type (seed 003) and objective."""


@dataclass
class KpiResult:
    """A tidy KPI table and the KPIs that could not be computed, with why."""

    table: pd.DataFrame
    unavailable: dict[str, str] = field(default_factory=dict)


def compute_kpis(
    wh: Warehouse,
    kpis: Sequence[str] | None = None,
    *,
    by: Sequence[str] = (),
    grain: str = "month",
    since: date | None = None,
    until: date | None = None,
    min_cell_persons: int | None = None,
    attribution_model: str = "last_touch",
) -> KpiResult:
    """KPIs per period (`grain`: day, week, month, quarter, year or total) and dimensions.

    Columns: kpi, period, [by...], value, numerator, denominator, persons, previous, change
    (relative to the previous period), suppressed. With `min_cell_persons`, cells of fewer
    persons have no value (outputs meant for sharing). A KPI whose inputs are missing, or that
    cannot be cut by a dimension, is listed in `unavailable` with the reason.
    """
    names = list(kpis) if kpis else list(KPIS)
    if len(names) == 1 and names[0] in KPI_SETS:
        names = list(KPI_SETS[names[0]])
    facts = Facts(wh, grain=grain, since=since, until=until, attribution_model=attribution_model)
    facts.per_measure_persons = bool(min_cell_persons)
    frames, unavailable, ready = [], {}, []
    for name in names:
        kpi = get_kpi(name)
        missing = [need for need in kpi.needs if not any(facts.has(n) for n in need.split("|"))]
        if missing:
            needed = " or ".join(missing[0].split("|"))
            how = "run `omnimetrics journeys`" if needed == "events" else "ingest it"
            unavailable[name] = f"needs {needed}: {how} first"
            continue
        ready.append(kpi)
    _prefetch([m for kpi in ready for m in _measures_of(kpi, facts, list(by))], facts, list(by))
    for kpi in ready:
        name = kpi.name
        try:
            frames.append(_compute(kpi, facts, list(by)))
        except _CannotCut as error:
            unavailable[name] = str(error)
    columns = ["kpi", "period", *by, "value", "numerator", "denominator", "persons"]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    table = _with_change(table, list(by))
    table["suppressed"] = False
    flags = {name: KPIS[name].flag_below for name in table.kpi.unique() if KPIS[name].flag_below}
    table["flag"] = [
        f"under {flags[k]:g}" if k in flags and v == v and v < flags[k] else None
        for k, v in zip(table.kpi, table.value, strict=True)
    ]
    if min_cell_persons:
        small = table.persons.notna() & (table.persons < min_cell_persons)
        table.loc[small, ["value", "numerator", "denominator", "previous", "change"]] = np.nan
        table.loc[small, "suppressed"] = True
    return KpiResult(table, unavailable)


class _CannotCut(Exception):
    pass


def _measures_of(kpi: KPI, facts: Facts, by: list[str]) -> list[Measure]:
    """The measures `_compute` will read for this KPI (so that they are fetched together)."""
    if kpi.ratio_of is not None:
        return [m for name in kpi.ratio_of for m in _measures_of(get_kpi(name), facts, by)]
    numerator, denominator = _numerator_denominator(kpi, by)
    extra = [NPS_DETRACTORS] if kpi.name == "nps" else []
    return [m for m in (numerator, denominator, *extra) if m is not None]


def _numerator_denominator(kpi: KPI, by: list[str]) -> tuple[Measure, Measure | None]:
    """By channel or campaign, CAC counts credited first orders and ROAS/ROI credited value."""
    numerator, denominator = kpi.numerator, kpi.denominator
    if {"channel", "campaign"} & set(by) and kpi.name in ATTRIBUTED:
        if kpi.name == "cac":
            denominator = ATTRIBUTED[kpi.name]
        else:
            numerator = ATTRIBUTED[kpi.name]
    return numerator, denominator


def _cuttable(fact_name: str, facts: Facts, dims: list[str]) -> ir.Table:
    fact = getattr(facts, fact_name)
    for dim in dims:
        if dim not in fact.columns and (dim in FACT_DIMS or dim not in _segment_columns(facts)):
            raise _CannotCut(f"cannot be cut by {dim!r}: its {fact_name} have no such column")
    return facts.cut(fact, dims)


def _prefetch(measures: list[Measure], facts: Facts, dims: list[str]) -> None:
    """One engine query per fact for all the measures read from it: a scan per fact, not one
    per KPI. Persons are counted per measure only when small cells are suppressed."""
    by_fact: dict[str, list[Measure]] = {}
    for measure in dict.fromkeys(measures):
        by_fact.setdefault(measure.fact, []).append(measure)
    for fact_name, group in by_fact.items():
        try:
            table = _cuttable(fact_name, facts, dims)
        except _CannotCut:
            continue  # the KPIs concerned say so when computed
        if all(m.where is not None for m in group):  # read only the rows some measure counts
            keep = group[0].where(table)  # type: ignore[misc]
            for measure in group[1:]:
                keep = keep | measure.where(table)  # type: ignore[misc]
            table = table.filter(keep)
        agg = {f"_v{i}": m.aggregate(table) for i, m in enumerate(group)}
        if "person_id" in table.columns:
            if facts.per_measure_persons:
                agg.update({f"_p{i}": m.persons(table) for i, m in enumerate(group)})
            else:
                agg["_p"] = table.person_id.nunique().cast(dt.float64)
        frame = table.group_by(["period", *dims]).agg(**agg).to_pandas()
        for i, measure in enumerate(group):
            part = frame[["period", *dims]].copy()
            part["_value"] = frame[f"_v{i}"]
            persons = f"_p{i}" if f"_p{i}" in frame.columns else "_p"
            if persons in frame.columns:
                part["_persons"] = frame[persons]
            facts.measured[(measure, tuple(dims))] = part


def _aggregate(measure: Measure, facts: Facts, dims: list[str]) -> pd.DataFrame:
    """period, [dims], _value, _persons of one measure (fetched with its fact's others)."""
    key = (measure, tuple(dims))
    if key not in facts.measured:
        _cuttable(measure.fact, facts, dims)  # says why it cannot be cut
        _prefetch([measure], facts, dims)
    return facts.measured[key].copy()


FACT_DIMS = {"channel", "campaign", "device", "sales_channel", "fulfilment", "store",
             "preceding_channel"}  # fmt: skip


def _segment_columns(facts: Facts) -> list[str]:
    try:
        return list(facts.persons.columns)
    except OmnimetricsError:  # a table segments need is missing: no segment dimension then
        return []


def _compute(kpi: KPI, facts: Facts, by: list[str]) -> pd.DataFrame:
    if kpi.ratio_of is not None:
        return _ratio_of_kpis(kpi, facts, by)
    for dim in by:
        if dim in FACT_DIMS and dim not in kpi.dimensions:
            raise _CannotCut(f"cannot be cut by {dim!r} (it can by {list(kpi.dimensions)})")
    numerator, denominator = _numerator_denominator(kpi, by)
    top = _aggregate(numerator, facts, by).rename(
        columns={"_value": "numerator", "_persons": "persons"}
    )
    if kpi.name == "nps":
        detractors = _aggregate(NPS_DETRACTORS, facts, by)[["period", *by, "_value"]]
        top = top.merge(detractors, on=["period", *by], how="left")
        top["numerator"] = top.numerator.fillna(0) - top._value.fillna(0)
        top = top.drop(columns="_value")
    if denominator is None:
        table = top.assign(denominator=np.nan)
        table["value"] = table.numerator * kpi.scale
    else:
        bottom = _aggregate(denominator, facts, by).rename(
            columns={"_value": "denominator", "_persons": "_persons_d"}
        )
        table = top.merge(bottom, on=["period", *by], how="outer")
        # the population of a rate is its denominator's: suppression counts those persons
        if "_persons_d" in table.columns:
            own = table["persons"] if "persons" in table.columns else np.nan
            table["persons"] = table["_persons_d"].fillna(own)
            table = table.drop(columns="_persons_d")
        if numerator.agg in ("count", "nunique"):  # no row counted: zero, not unknown
            table["numerator"] = table.numerator.fillna(0.0)
        safe = table.denominator.where(table.denominator > 0)
        top_part = table.numerator - table.denominator if kpi.net else table.numerator
        table["value"] = top_part / safe * kpi.scale
    if "persons" not in table.columns:
        table["persons"] = np.nan
    table.insert(0, "kpi", kpi.name)
    table["period"] = pd.to_datetime(table.period).dt.date
    return table[["kpi", "period", *by, "value", "numerator", "denominator", "persons"]]


def _ratio_of_kpis(kpi: KPI, facts: Facts, by: list[str]) -> pd.DataFrame:
    top_name, bottom_name = kpi.ratio_of  # type: ignore[misc]
    if top_name == "clv_margin" and not any(
        facts.has(n) for n in ("orders.margin", "orders.cost_of_goods")
    ):
        top_name = "clv_historical"  # fmt: skip
    top = _compute(get_kpi(top_name), facts, by)
    bottom = _compute(get_kpi(bottom_name), facts, by)
    table = top.merge(bottom, on=["period", *by], how="outer", suffixes=("", "_b"))
    table["numerator"], table["denominator"] = table.value, table.value_b
    table["value"] = table.value / table.value_b.where(table.value_b > 0)
    table["kpi"] = kpi.name
    return table[["kpi", "period", *by, "value", "numerator", "denominator", "persons"]]


def _with_change(table: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """previous = the value of the period before (same KPI and dimensions); change = relative."""
    if table.empty:
        return table.assign(previous=np.nan, change=np.nan)
    table = table.sort_values(["kpi", *by, "period"], ignore_index=True)
    keys = ["kpi", *by]
    previous = table.groupby(keys, dropna=False, sort=False).value.shift(1)
    table["previous"] = previous
    table["change"] = (table.value - previous) / previous.abs().where(previous != 0)
    return table


def nps_revenue(wh: Warehouse) -> pd.DataFrame:
    """Revenue and orders per person of promoters, passives and detractors (each person by
    their latest NPS answer): how satisfaction translates into sales."""
    facts = Facts(wh, grain="total")
    answers = facts.feedback.filter(
        (facts.feedback.survey_type == "nps") & facts.feedback.person_id.notnull()
    )
    latest = ibis.window(group_by="person_id", order_by=ibis.desc("at"))
    answers = answers.mutate(_n=ibis.row_number().over(latest)).filter(lambda t: t._n == 0)
    group = ibis.cases((answers.score >= 9, "promoter"), (answers.score <= 6, "detractor"),
                       else_="passive")  # fmt: skip
    persons = answers.select("person_id", nps_group=group)
    orders = facts.orders.group_by("person_id").agg(revenue=facts.orders.revenue.sum(),
                                                     orders=facts.orders.count())  # fmt: skip
    joined = persons.left_join(orders, "person_id")
    summary = joined.group_by("nps_group").agg(
        persons=joined.person_id.nunique(), revenue=joined.revenue.fill_null(0.0).sum(),
        orders=joined.orders.fill_null(0).sum(),
    )  # fmt: skip
    table = summary.to_pandas()
    table["revenue_per_person"] = table.revenue / table.persons
    table["orders_per_person"] = table.orders / table.persons
    return table.sort_values("nps_group", ignore_index=True)


def kpi_series(
    wh: Warehouse,
    kpi: str,
    *,
    grain: str = "month",
    where: dict[str, str] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> pd.Series:
    """One KPI as a series over periods, optionally for one dimension value (channel=email,
    rfm_segment=champions): what forecasts and goals read."""
    by = list(where or {})
    result = compute_kpis(wh, [kpi], by=by, grain=grain, since=since, until=until)
    if kpi in result.unavailable:
        raise ConfigError(f"KPI {kpi!r} {result.unavailable[kpi]}.")
    table = result.table
    for column, value in (where or {}).items():
        table = table[table[column].astype(str) == str(value)]
    series = table.set_index(pd.to_datetime(table.period)).value.sort_index()
    series.name = kpi
    return series


def metrics_markdown() -> str:
    """docs/metrics.md, generated from the registry so that it always states the formulas in use."""
    lines = [
        "# Metrics (KPIs)",
        "",
        "Generated from `omnimetrics.metrics.kpis.KPIS` (`make docs`); do not edit by hand.",
        "",
        "A KPI is a numerator and, for rates and averages, a denominator, each aggregated per "
        "period (day, week, month, quarter, year or total) and per dimension value. `change` is "
        "(value - previous period's value) / |previous value|. With `--shared` (or "
        "`min_cell_persons=`), cells counting fewer persons than `[metrics] min_cell_persons` "
        "(default 10) are left empty and marked suppressed. A KPI whose inputs are missing is "
        "listed as unavailable with the table or column it needs, never shown as 0.",
        "",
        "Dimensions: `channel` (the sales channel for order KPIs, the marketing channel for "
        "touch and spend KPIs), `campaign`, `device`, `sales_channel`, `fulfilment`, `store`, and "
        "every segment column of docs/segments.md (through the person). By channel or campaign, "
        "CAC, ROAS and ROI use the orders credited to the channel by last-touch attribution "
        "(`attribution_model=` to change it).",
        "",
        "| KPI | unit | better | formula | needs | dimensions |",
        "|---|---|---|---|---|---|",
    ]
    for kpi in sorted(KPIS.values(), key=lambda k: (k.group, k.name)):
        needs = ", ".join(n.replace("|", " or ") for n in kpi.needs)
        better = "higher" if kpi.higher_is_better else "lower"
        dims = ", ".join(kpi.dimensions) or "segments only"
        lines.append(f"| `{kpi.name}` ({kpi.group}) | {kpi.unit} | {better} | {kpi.formula} | "
                     f"{needs} | {dims} |")  # fmt: skip
    lines += [
        "",
        "Sets to start from (`--kpis SET`): "
        + "; ".join(f"`{name}`: {', '.join(names)}" for name, names in KPI_SETS.items())
        + ".",
        "",
        "Definitions and sources:",
        '- NPS (Reichheld, 2003, "The One Number You Need to Grow"): answers 9-10 are '
        "promoters, 0-6 detractors; NPS = 100 x (promoters - detractors) / answers.",
        "- CSAT: share of answers 4 or 5 on a 1-5 scale (top-2 box). CES: mean of the 1-7 scale "
        "(Dixon, Freeman & Toman, 2010, lower is easier).",
        "- Machine opens: privacy proxies (e.g. Apple Mail Privacy Protection) fetch every email "
        "on delivery; an open less than 60 seconds after its send is counted as machine-made "
        "and open rates are given with and without them. Click-to-open = clicks / human opens.",
        "- Retention at period p: buyers of p-1 who buy in p / buyers of p-1; churn = 1 - "
        "retention. A new customer is a person whose first order in the warehouse falls in the "
        "period.",
        "- LTV/CAC: the customer margin per buyer (revenue when no margin or cost of goods is "
        "known) over the blended CAC; a value under 3 is flagged (the common 3:1 rule).",
        "- `nps_revenue`: revenue and orders per person of promoters, passives and detractors "
        "(each by their latest answer).",
        "- Fulfilment cost: the orders contract has no fulfilment cost column yet; the mix "
        "(click & collect, ship-from-store shares) is given, its cost is not.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(metrics_markdown(), end="")
