"""KPIs computed by any dimensions: the engine over the catalogue (`kpi_catalogue.KPIS`).

A KPI is a numerator and, for rates and averages, a denominator, each an aggregate of one fact
table (`facts.Facts`) per period and dimension values; value = numerator / denominator (x scale).
The engine aggregates; only the small per-period table reaches pandas, where the change against
the previous period and the suppression of small cells are applied. It never asks for a KPI by
name: what sets a KPI apart is a field of its declaration. Formulas: docs/metrics.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from omnimetrics.errors import ConfigError, OmnimetricsError
from omnimetrics.metrics.facts import Facts
from omnimetrics.metrics.kpi_catalogue import KPI_SETS, KPIS, get_kpi
from omnimetrics.metrics.kpi_definition import KPI, Measure

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

__all__ = ["KPI", "KPIS", "KPI_SETS", "KpiResult", "Measure", "compute_kpis", "get_kpi",
           "kpi_series", "metrics_markdown", "nps_revenue"]  # fmt: skip

FACT_DIMS = {"channel", "campaign", "device", "sales_channel", "fulfilment", "store",
             "preceding_channel"}  # fmt: skip
COLUMNS = ["kpi", "period", "value", "numerator", "denominator", "persons"]


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

    Columns: kpi, period, [by...], value, numerator, denominator, persons, partial (the data
    does not cover the whole period: the month in progress), previous, change (against the
    previous period; none when either period is partial), change_kind ("relative": (value -
    previous) / |previous|; "points": value - previous, for shares and scores), change_note (why
    a change is missing), flag, suppressed. With `min_cell_persons`, cells of fewer
    persons have no value (outputs meant for sharing). A KPI whose inputs are missing, or that
    cannot be cut by a dimension, is listed in `unavailable` with the reason. Journeys (credited
    orders) follow the warehouse's `settings.journeys`.
    """
    by = list(by)
    names = list(kpis) if kpis else list(KPIS)
    if len(names) == 1 and names[0] in KPI_SETS:
        names = list(KPI_SETS[names[0]])
    facts = Facts(wh, grain=grain, since=since, until=until, attribution_model=attribution_model)
    facts.per_measure_persons = bool(min_cell_persons)
    ready, unavailable = _ready(names, facts)
    _prefetch([m for kpi in ready for m in _measures_of(kpi, facts, by)], facts, by)
    frames = []
    for kpi in ready:
        try:
            frames.append(_compute(kpi, facts, by))
        except _CannotCut as error:
            unavailable[kpi.name] = str(error)
    columns = [*COLUMNS[:2], *by, *COLUMNS[2:]]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    table = _flagged(_with_change(_partial(table, facts), by))
    return KpiResult(_suppressed(table, min_cell_persons), unavailable)


def _ready(names: list[str], facts: Facts) -> tuple[list[KPI], dict[str, str]]:
    """The KPIs whose inputs hold data, and why each of the others cannot be computed."""
    ready, unavailable = [], {}
    for name in names:
        kpi = get_kpi(name)
        missing = _missing(kpi, facts)
        if missing:
            needed = " or ".join(missing.split("|"))
            how = "run `omnimetrics journeys`" if needed == "events" else "ingest it"
            unavailable[name] = f"needs {needed}: {how} first"
        else:
            ready.append(kpi)
    return ready, unavailable


def _missing(kpi: KPI, facts: Facts) -> str | None:
    """The first input of the KPI that holds no data ("a|b": neither does), or None."""
    for need in kpi.needs:
        if not any(facts.has(n) for n in need.split("|")):
            return need
    return None


def _flagged(table: pd.DataFrame) -> pd.DataFrame:
    """`flag` names the cells under their KPI's `flag_below` (LTV/CAC under 3)."""
    limits = {name: get_kpi(name).flag_below for name in table.kpi.unique()}
    limit = table.kpi.map(limits).astype(float)
    under = limit.notna() & (table.value < limit)
    table["flag"] = None
    table.loc[under, "flag"] = limit[under].map("under {:g}".format)
    return table


def _suppressed(table: pd.DataFrame, min_cell_persons: int | None) -> pd.DataFrame:
    """Cells of fewer persons than `min_cell_persons` lose their numbers (`suppressed`)."""
    table["suppressed"] = False
    if min_cell_persons:
        small = table.persons.notna() & (table.persons < min_cell_persons)
        table.loc[small, ["value", "numerator", "denominator", "previous", "change"]] = np.nan
        table.loc[small, "change_note"] = None
        table.loc[small, "suppressed"] = True
    return table


class _CannotCut(Exception):
    pass


def _measures_of(kpi: KPI, facts: Facts, by: list[str]) -> list[Measure]:
    """The measures `_compute` will read for this KPI (so that they are fetched together)."""
    if kpi.ratio_of is not None:
        parts = [_ratio_part(name, facts) for name in kpi.ratio_of]
        return [m for part in parts for m in _measures_of(part, facts, by)]
    numerator, denominator = kpi.measures(by)
    return [m for m in (numerator, denominator, kpi.minus) if m is not None]


def _cuttable(fact_name: str, facts: Facts, dims: list[str]) -> ir.Table:
    """The fact with its period and dimension columns; `_CannotCut` says which is missing."""
    fact = getattr(facts, fact_name)
    for dim in dims:
        segment = dim not in FACT_DIMS and dim in _segment_columns(facts)
        if dim not in fact.columns and not (segment and "person_id" in fact.columns):
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
            table = table.filter(ibis.or_(*(m.where(table) for m in group)))  # type: ignore[misc]
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


def _segment_columns(facts: Facts) -> list[str]:
    try:
        return list(facts.persons.columns)
    except OmnimetricsError:  # a table segments need is missing: no segment dimension then
        return []


def _compute(kpi: KPI, facts: Facts, by: list[str]) -> pd.DataFrame:
    """kpi, period, [by], value, numerator, denominator, persons of one KPI."""
    if kpi.ratio_of is not None:
        return _ratio_of_kpis(kpi, facts, by)
    for dim in by:
        if dim in FACT_DIMS and dim not in kpi.dimensions:
            raise _CannotCut(f"cannot be cut by {dim!r} (it can by {list(kpi.dimensions)})")
    numerator, denominator = kpi.measures(by)
    top = _numerator(kpi, numerator, facts, by)
    if denominator is None:
        table = top.assign(denominator=np.nan)
        table["value"] = table.numerator * kpi.scale
    else:
        table = _divided(kpi, top, _aggregate(denominator, facts, by), numerator.counts, by)
    if "persons" not in table.columns:
        table["persons"] = np.nan
    table.insert(0, "kpi", kpi.name)
    table["period"] = pd.to_datetime(table.period).dt.date
    return table[["kpi", "period", *by, "value", "numerator", "denominator", "persons"]]


def _numerator(kpi: KPI, numerator: Measure, facts: Facts, by: list[str]) -> pd.DataFrame:
    """period, [by], numerator, persons: the numerator less `kpi.minus` (NPS detractors)."""
    top = _aggregate(numerator, facts, by).rename(
        columns={"_value": "numerator", "_persons": "persons"}
    )
    if kpi.minus is not None:
        less = _aggregate(kpi.minus, facts, by)[["period", *by, "_value"]]
        top = top.merge(less, on=["period", *by], how="left")
        top["numerator"] = top.numerator.fillna(0) - top._value.fillna(0)
        top = top.drop(columns="_value")
    return top


def _divided(
    kpi: KPI, top: pd.DataFrame, bottom: pd.DataFrame, counts: bool, by: list[str]
) -> pd.DataFrame:
    """Numerator over denominator per period and dimensions (net when `kpi.net`)."""
    bottom = bottom.rename(columns={"_value": "denominator", "_persons": "_persons_d"})
    table = top.merge(bottom, on=["period", *by], how="outer")
    # the population of a rate is its denominator's: suppression counts those persons
    if "_persons_d" in table.columns:
        own = table["persons"] if "persons" in table.columns else np.nan
        table["persons"] = table["_persons_d"].fillna(own)
        table = table.drop(columns="_persons_d")
    if counts:  # no row counted: zero, not unknown
        table["numerator"] = table.numerator.fillna(0.0)
    safe = table.denominator.where(table.denominator > 0)
    top_part = table.numerator - table.denominator if kpi.net else table.numerator
    table["value"] = top_part / safe * kpi.scale
    return table


def _ratio_part(name: str, facts: Facts) -> KPI:
    """A KPI of a ratio of KPIs, or its stand-in when its inputs are missing."""
    kpi = get_kpi(name)
    if kpi.stand_in is not None and _missing(kpi, facts):
        return get_kpi(kpi.stand_in)
    return kpi


def _ratio_of_kpis(kpi: KPI, facts: Facts, by: list[str]) -> pd.DataFrame:
    top_name, bottom_name = kpi.ratio_of  # type: ignore[misc]
    top = _compute(_ratio_part(top_name, facts), facts, by)
    bottom = _compute(_ratio_part(bottom_name, facts), facts, by)
    table = top.merge(bottom, on=["period", *by], how="outer", suffixes=("", "_b"))
    table["numerator"], table["denominator"] = table.value, table.value_b
    table["value"] = table.value / table.value_b.where(table.value_b > 0)
    table["kpi"] = kpi.name
    return table[["kpi", "period", *by, "value", "numerator", "denominator", "persons"]]


PERIOD_LENGTHS = {"day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1),
                  "month": pd.DateOffset(months=1), "quarter": pd.DateOffset(months=3),
                  "year": pd.DateOffset(years=1)}  # fmt: skip


def _partial(table: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    """`partial`: the data (`Facts.coverage`) does not cover the period from its start to its
    end, so its value is not comparable with a whole period's (the month in progress)."""
    table["partial"] = False
    length = PERIOD_LENGTHS.get(facts.grain)
    coverage = facts.coverage if length is not None and len(table) else None
    if coverage is not None:
        start = pd.to_datetime(table.period)
        first, end = (pd.Timestamp(day) for day in coverage)
        table["partial"] = (start < first) | (start + length > end)
    return table


def _with_change(table: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """previous = the value of the period before (same KPI and dimensions); change as the KPI
    declares (`change_kind`): relative, (value - previous) / |previous|, or in points, value -
    previous. A relative change from 0, or from or to a partial period, has no value, and
    `change_note` says why."""
    if table.empty:
        return table.assign(previous=np.nan, change=np.nan, change_kind=None, change_note=None)
    table = table.sort_values(["kpi", *by, "period"], ignore_index=True)
    keys = ["kpi", *by]
    grouped = table.groupby(keys, dropna=False, sort=False)
    previous = grouped.value.shift(1)
    previous_partial = grouped.partial.shift(1, fill_value=False).astype(bool)
    kinds = table.kpi.map({name: get_kpi(name).change_kind for name in table.kpi.unique()})
    points = kinds == "points"
    relative = (table.value - previous) / previous.abs().where(previous != 0)
    table["previous"] = previous
    table["change"] = relative.where(~points, table.value - previous)
    table["change_kind"] = kinds
    from_zero = ~points & (previous == 0) & table.value.notna()
    table["change_note"] = None
    table.loc[from_zero, "change_note"] = "previous value is 0: no relative change"
    partial = table.partial | previous_partial
    table.loc[partial, "change"] = np.nan
    table.loc[previous_partial, "change_note"] = "the previous period is partial: no change"
    table.loc[table.partial, "change_note"] = "partial period (the data covers part): no change"
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
    rfm_segment=champions): what forecasts and goals read; without partial periods."""
    by = list(where or {})
    result = compute_kpis(wh, [kpi], by=by, grain=grain, since=since, until=until)
    if kpi in result.unavailable:
        raise ConfigError(f"KPI {kpi!r} {result.unavailable[kpi]}.")
    table = result.table[~result.table.partial]  # the month in progress is not a whole one
    for column, value in (where or {}).items():
        table = table[table[column].astype(str) == str(value)]
    series = table.set_index(pd.to_datetime(table.period)).value.sort_index()
    series.name = kpi
    return series


METRICS_INTRO = [
    "# Metrics (KPIs)",
    "",
    "Generated from `omnimetrics.metrics.kpi_catalogue.KPIS` (`make docs`); do not edit by hand.",
    "",
    "A KPI is a numerator and, for rates and averages, a denominator, each aggregated per "
    "period (day, week, month, quarter, year or total) and per dimension value. `change` "
    "compares it with the previous period as the KPI declares (column `change` of the table "
    "below, told by `change_kind`): `relative` is (value - previous) / |previous value| "
    "(revenue +12 %), left empty when the previous value is 0 (`change_note` says so); "
    "`points` is value - previous in the KPI's unit, for shares and scores (NPS from 10 to -5 "
    "is -15 points, not -150 %; a share from 0.20 to 0.22 is +0.02, two percentage points). "
    "A period the data does not cover whole (`partial`: the month in progress, or the first "
    "month when the data starts after its first day; the data's extent is the first and last "
    "order, touchpoint or survey answer, kept within `since`/`until`) keeps its value but gets "
    "no change, nor does the period after it; forecasts, alerts and goals leave it out, and "
    "the dashboard's tiles show the latest whole month with the month in progress 'so far'. "
    "`range` is the values the KPI can take: forecasts, their intervals and goal projections "
    "are kept inside it (no negative revenue, no share above 1, NPS within -100..100). "
    "With `--shared` (or "
    "`min_cell_persons=`), cells counting fewer persons than `[metrics] min_cell_persons` "
    "(default 10) are left empty and marked suppressed. A KPI whose inputs are missing is "
    "listed as unavailable with the table or column it needs, never shown as 0.",
    "",
    "Business totals are totals; consent limits what is linked to a person. Revenue, orders, "
    "average basket, margin, returns, fulfilment shares and spend count every valid record "
    "(cancelled orders left out), whatever the buyer's consent. The order or survey answer of "
    "a person who refused the journeys' consent purpose (`[journeys] consent_purpose`, "
    "analytics by default) is counted but linked to no person: it is in no buyer, new or "
    "returning customer, retention, segment, journey or credited figure. Touchpoints (sessions, "
    "email, SMS, push, ads seen, calls) are tracked behaviour, that is analytics: a refusing "
    "person's are left out of every figure, and rates on them (open rate, conversion rate) "
    "compare the same consenting population. Ratios that mix a total with a person-level "
    "figure carry the refusing persons' share: blended CAC (spend / new customers) and cost "
    "per contact (spend / calls and chats) read slightly high, ROAS and ROI by channel "
    "(credited revenue or margin / spend) slightly low.",
    "",
    "Dimensions: `channel` (the sales channel for order KPIs, the marketing channel for "
    "touch and spend KPIs), `campaign`, `device`, `sales_channel`, `fulfilment`, `store`, and "
    "every segment column of docs/segments.md (through the person). By channel or campaign, "
    "CAC, ROAS and ROI use the orders credited to the channel by last-touch attribution "
    "(`attribution_model=` to change it) over the journeys of `[journeys]` (lookback, "
    "consent purpose).",
    "",
]

METRICS_SOURCES = [
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
    "- Historical customer value (and margin): the revenue (margin) of the orders linked to a "
    "person over those persons, so that numerator and denominator cover the same customers. "
    "An order linked to no person (no identifier, or consent refused) has no buyer: counting "
    "its revenue over the identified buyers read about 1.5 times too high on the simulated "
    "world (131 against a true 91 revenue per buyer; 86 now).",
    "- LTV/CAC: the customer margin per buyer (customer value when no margin or cost of goods "
    "is known) over the blended CAC; a value under 3 is flagged (the common 3:1 rule).",
    "- Conversion rate: orders placed in a session (web and app) / sessions, the e-commerce "
    "session conversion rate (transactions / sessions, as in web analytics). Store, "
    "call-centre and marketplace orders are in no session and are left out; both sides leave "
    "out the persons whose sessions are not tracked (refused consent). The business case "
    "projects from it on the same base (docs/maturity.md).",
    '- Omnichannel conversion rate (seed 002, "taux de conversion omnicanal": the share of '
    "customers who, having interacted with the brand on several channels, complete a "
    "purchase, online or in store): persons who interacted on 2+ marketing channels in the "
    "period and ordered in it / persons who interacted on 2+ channels. Interactions are what "
    "the person does (`facts.ENGAGING_EVENTS`: visits and their hits, ad, email and SMS "
    "clicks, push opens, social engagements, store visits, calls, chats, QR scans, promo "
    "redemptions, app installs); sends, impressions, mail drops and email opens (made by "
    "privacy proxies on delivery) are what is sent or shown, so a mass SMS or email send does "
    "not move the base. The purchase's own sales channel is not a channel: it would make "
    "every buyer with one interaction omnichannel. On the simulated world (20,000 customers) "
    "the monthly value moved between 0.25 and 0.51 with the SMS sends before; 0.59 to 0.66 "
    "now.",
    "- `nps_revenue`: revenue and orders per person of promoters, passives and detractors "
    "(each by their latest answer).",
    "- Fulfilment cost: the orders contract has no fulfilment cost column yet; the mix "
    "(click & collect, ship-from-store shares) is given, its cost is not.",
]


def _range_text(kpi: KPI) -> str:
    """The KPI's bounds as the doc shows them: 0..1, >= 0, -100..100, any."""
    low, high = kpi.bounds  # type: ignore[misc]
    if math.isinf(low) and math.isinf(high):
        return "any"
    if math.isinf(high):
        return f">= {low:g}"
    if math.isinf(low):
        return f"<= {high:g}"
    return f"{low:g}..{high:g}"


def metrics_markdown() -> str:
    """docs/metrics.md, generated from the catalogue: it always states the formulas in use."""
    lines = [*METRICS_INTRO,
             "| KPI | unit | better | change | range | formula | needs | dimensions |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for kpi in sorted(KPIS.values(), key=lambda k: (k.group, k.name)):
        needs = ", ".join(n.replace("|", " or ") for n in kpi.needs)
        better = "higher" if kpi.higher_is_better else "lower"
        dims = ", ".join(kpi.dimensions) or "segments only"
        lines.append(f"| `{kpi.name}` ({kpi.group}) | {kpi.unit} | {better} | "
                     f"{kpi.change_kind} | {_range_text(kpi)} | {kpi.formula} | {needs} | "
                     f"{dims} |")  # fmt: skip
    sets = "; ".join(f"`{name}`: {', '.join(names)}" for name, names in KPI_SETS.items())
    lines += ["", f"Sets to start from (`--kpis SET`): {sets}.", "", *METRICS_SOURCES]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(metrics_markdown(), end="")
