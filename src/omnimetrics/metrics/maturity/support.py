"""Model support: whether the data can support a model (attribution, mmm, clv, experiments).

A model the data cannot support says so and why, instead of printing untrustworthy numbers. Each
model kind declares its check once, in a registry, with its options and their defaults.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt

from omnimetrics.errors import ConfigError, did_you_mean
from omnimetrics.journeys import conversions, journey_touches
from omnimetrics.metrics.maturity.source import Period, as_date, missing_note, names, one_row
from omnimetrics.registry import Registry

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


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


SUPPORT_CHECKS = Registry[SupportCheck]("model kind")
"""The data check of each model kind, by name."""


def support_check(
    kind: str, doc: str, needs: tuple[str, ...], **defaults: int
) -> Callable[[SupportRun], SupportRun]:
    """Declare the data check of a model kind under a unique name."""

    def add(run: SupportRun) -> SupportRun:
        SUPPORT_CHECKS.add(kind, SupportCheck(kind, doc, needs, defaults, run))
        return run

    return add


def model_support(
    wh: Warehouse, kind: str, *, as_of: date | str | None = None, **options: int
) -> Support:
    """Whether the data can support a model of `kind` (attribution, mmm, clv, experiments):
    a model the data cannot support says so and why, instead of printing untrustworthy numbers."""
    check = SUPPORT_CHECKS[kind]
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
    note = missing_note(wh, check.needs)
    if note:
        return Support(kind, False, [note.replace("Unknown: ", "Cannot tell: ")], {})
    return check.run(wh, Period(as_date(as_of)), settings)


def _listing(counts: Mapping[str, int]) -> str:
    ordered = sorted(counts.items(), key=lambda item: (item[1], item[0]))  # ties by name
    return ", ".join(f"{name} ({n})" for name, n in ordered)


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
    summary = one_row(
        both.aggregate(weeks=both.count(), first=both.week.min(), last=both.week.max())
    )
    weeks = int(summary["weeks"] or 0)
    channels = names(spend.select("channel").distinct().channel.to_pyarrow().to_pylist())
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
    counts = one_row(
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
