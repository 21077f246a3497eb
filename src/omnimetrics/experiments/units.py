"""Experiment units and their metrics from the warehouse, computed in the engine.

A unit is one (experiment, unit_type, unit_id) of `experiment_assignments`; it is exposed at its
assignment time and only what its person did from then on counts ("exposure-aware"). The
summary per variant holds the sufficient statistics the test statistics read (`units`,
`conversions`, `sum`, `sum_squares`, ...). Definitions and caveats: docs/experiments.md,
"Units and metrics from the warehouse".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from omnimetrics.errors import ConfigError, SchemaError, UnknownNameError, did_you_mean
from omnimetrics.metrics.facts import Facts
from omnimetrics.registry import Registry

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

ASSIGNMENTS = "experiment_assignments"
EXCLUSIONS = ("several_variants", "same_person", "consent_refused")
"""Why a unit is left out of the analysis (`excluded` of `experiment_units`):
several_variants: the unit, or its person through another unit, was assigned more than one
variant of the experiment; same_person: another unit of the same person, assigned the same
variant earlier, is analysed instead (its behaviour would count twice); consent_refused: the
person refused the journeys' consent purpose, so their behaviour cannot be linked to them."""
PERIODS = {"day": "D", "week": "W"}
EMAIL_EVENTS = {"sends": "email_send", "opens": "email_open", "clicks": "email_click"}

Kind = Literal["proportion", "mean", "ratio"]


@dataclass(frozen=True)
class UnitMetric:
    """A metric per unit: `numerator` (and `denominator` for a ratio) name per-unit counts or
    sums of a fact (`orders`: orders, revenue; `email`: sends, opens, clicks); a proportion is
    1 when its numerator is above zero."""

    name: str
    kind: Kind
    fact: Literal["orders", "email"]
    numerator: str
    denominator: str | None
    doc: str


METRICS = Registry[UnitMetric]("experiment metric")
for _metric in (
    UnitMetric("conversion", "proportion", "orders", "orders", None,
               "1 when the unit ordered at least once after exposure"),
    UnitMetric("revenue", "mean", "orders", "revenue", None,
               "revenue of the unit's orders after exposure (0 without orders)"),
    UnitMetric("orders", "mean", "orders", "orders", None, "orders of the unit after exposure"),
    UnitMetric("average_basket", "ratio", "orders", "revenue", "orders",
               "revenue / orders after exposure (a ratio of per-unit sums)"),
    UnitMetric("open", "proportion", "email", "opens", None,
               "1 when the unit opened an email after exposure"),
    UnitMetric("click", "proportion", "email", "clicks", None,
               "1 when the unit clicked an email after exposure"),
    UnitMetric("open_rate", "ratio", "email", "opens", "sends", "email opens / email sends"),
    UnitMetric("click_rate", "ratio", "email", "clicks", "sends", "email clicks / email sends"),
):  # fmt: skip
    METRICS.add(_metric.name, _metric)


def experiments(source: Warehouse | Facts) -> pa.Table:
    """Each experiment with its variants, analysed units, first and last assignment, and the
    units left out (by reason) or dated by the experiment's first day (`undated`)."""
    facts = _facts(source)
    units = experiment_units(facts)
    analysed = units.excluded.isnull()
    columns = {
        "variants": units.variant.collect(where=analysed, distinct=True).sort(),
        "units": analysed.sum().cast(dt.int64),
        "first_assignment": units.assigned_at.min(),
        "last_assignment": units.assigned_at.max(),
        "undated": units.assigned_at.isnull().sum().cast(dt.int64),
        **{r: (units.excluded == r).fill_null(False).sum().cast(dt.int64) for r in EXCLUSIONS},
    }
    return units.group_by("experiment").agg(**columns).order_by("experiment").to_pyarrow()


def experiment_units(source: Warehouse | Facts, experiment: str | None = None) -> ir.Table:
    """One row per (experiment, unit_type, unit_id): variant, `assigned_at` (the timestamp as
    loaded, null if none), `exposed_at` (it, or the experiment's first day when null),
    `person_id` (null when the identifier is in no identity graph, or the person refused
    consent) and `excluded` (a reason of `EXCLUSIONS`, null for an analysed unit).

    Variant is the unit's (the first by name when it has several: such units are excluded)."""
    facts = _facts(source)
    wh = facts.wh
    if experiment is not None:
        _check_experiment(wh, experiment)
    rows = _assignments(wh)
    if experiment is not None:
        rows = rows.filter(rows.experiment == experiment)
    keys = ["experiment", "unit_type", "unit_id"]
    units = rows.group_by(keys).agg(
        variant=rows.variant.min(),
        _other=rows.variant.max(),
        assigned_at=rows.timestamp.min(),
    )
    first = units.assigned_at.min().over(group_by="experiment")
    first_day = first.truncate("D").cast(dt.Timestamp(timezone="UTC"))
    units = units.mutate(
        assigned_at=units.assigned_at.cast(dt.Timestamp(timezone="UTC")),
        exposed_at=ibis.coalesce(units.assigned_at.cast(dt.Timestamp(timezone="UTC")), first_day),
    )
    units = _with_person(wh, units)
    units = facts.unlinked_if_refused(units.mutate(_person=units.person_id))
    refused = units._person.notnull() & units.person_id.isnull()
    person = ibis.window(group_by=["experiment", "person_id"])
    earliest = ibis.window(group_by=["experiment", "person_id"],
                           order_by=["exposed_at", "unit_type", "unit_id"])  # fmt: skip
    known = units.person_id.notnull()
    several = (units.variant != units._other) | (
        known
        & (units.variant.min().over(person) != units._other.max().over(person)).fill_null(False)
    )
    same = known & (ibis.row_number().over(earliest) > 0)
    excluded = ibis.cases(
        (several, "several_variants"),
        (refused, "consent_refused"),
        (same, "same_person"),
        else_=ibis.null(dt.string),
    )
    return units.select(
        "experiment", "unit_type", "unit_id", "variant", "assigned_at", "exposed_at",
        "person_id", excluded=excluded,
    )  # fmt: skip


def unit_metrics(
    source: Warehouse | Facts,
    experiment: str,
    metric: str,
    *,
    window_days: float | None = None,
    covariate_days: float | None = None,
) -> ir.Table:
    """The analysed units of one experiment with their metric after exposure: `value` (the
    numerator of a ratio), `denominator` for a ratio metric, `covariate` (the same metric over
    the `covariate_days` before exposure) when asked.

    Columns: unit_type, unit_id, variant, exposed_at, person_id, value, [denominator],
    [covariate]. Only events in [exposed_at, exposed_at + window_days) count (to the end of
    the data without a window)."""
    spec = METRICS[metric]
    _check_days("window_days", window_days)
    _check_days("covariate_days", covariate_days)
    if covariate_days is not None and spec.kind == "ratio":
        raise ConfigError(
            f"CUPED with a pre-period covariate is available for proportion and mean metrics, "
            f"not for the ratio metric {metric!r}. Drop covariate_days, or use "
            f"{spec.numerator!r} with its covariate."
        )
    facts = _facts(source)
    fact = _fact(facts, spec)
    units = experiment_units(facts, experiment)
    units = facts.wh.materialize(
        units.filter(units.excluded.isnull()).select(
            "unit_type", "unit_id", "variant", "exposed_at", "person_id"
        )
    )
    counted = [spec.numerator] + ([spec.denominator] if spec.denominator else [])
    per_person = _per_person(fact, units, counted, window_days, covariate_days)
    joined = units.left_join(per_person, units.person_id == per_person._person)

    def value(column: str) -> ir.NumericValue:
        total = joined[column].fill_null(0)
        if spec.kind == "proportion":
            return (total > 0).cast(dt.int64)
        return total.cast(dt.float64)

    columns = {"value": value(spec.numerator)}
    if spec.denominator:
        columns["denominator"] = value(spec.denominator)
    if covariate_days is not None:
        columns["covariate"] = value(f"_pre_{spec.numerator}")
    return joined.select("unit_type", "unit_id", "variant", "exposed_at", "person_id", **columns)


def experiment_summary(
    source: Warehouse | Facts,
    experiment: str,
    metric: str,
    *,
    window_days: float | None = None,
    covariate_days: float | None = None,
    by_period: str | None = None,
) -> pa.Table:
    """The sufficient statistics of `metric` per variant (and per period of exposure, as
    increments, with `by_period` "day" or "week"), sorted by variant (then period).

    Columns: variant, [period], units, then by kind: proportion `conversions`; mean `sum`,
    `sum_squares`; ratio `sum`, `sum_squares` (of the numerator), `denominator_sum`,
    `denominator_sum_squares`, `cross_sum` (of numerator x denominator); with a covariate
    `covariate_sum`, `covariate_sum_squares`, `covariate_cross_sum` (of value x covariate).
    The schema's metadata says the experiment, metric, kind and window."""
    if by_period is not None and by_period not in PERIODS:
        raise ConfigError(
            f"by_period must be one of {list(PERIODS)} or None. Got {by_period!r} instead."
        )
    spec = METRICS[metric]
    per_unit = unit_metrics(
        source, experiment, metric, window_days=window_days, covariate_days=covariate_days
    )
    groups = ["variant"]
    if by_period is not None:
        per_unit = per_unit.mutate(period=per_unit.exposed_at.truncate(PERIODS[by_period]).date())
        groups.append("period")
    y = per_unit.value
    sums: dict[str, ir.Value] = {"units": per_unit.count().cast(dt.int64)}
    if spec.kind == "proportion":
        sums["conversions"] = y.sum().cast(dt.int64)
    else:
        sums["sum"] = y.sum().cast(dt.float64)
        sums["sum_squares"] = (y * y).sum().cast(dt.float64)
    if spec.kind == "ratio":
        d = per_unit.denominator
        sums["denominator_sum"] = d.sum().cast(dt.float64)
        sums["denominator_sum_squares"] = (d * d).sum().cast(dt.float64)
        sums["cross_sum"] = (y * d).sum().cast(dt.float64)
    if covariate_days is not None:
        x = per_unit.covariate
        sums["covariate_sum"] = x.sum().cast(dt.float64)
        sums["covariate_sum_squares"] = (x * x).sum().cast(dt.float64)
        sums["covariate_cross_sum"] = (y * x).sum().cast(dt.float64)
    summary = per_unit.group_by(groups).agg(**sums).order_by(groups).to_pyarrow()
    about = {"experiment": experiment, "metric": metric, "kind": spec.kind,
             "window_days": window_days, "covariate_days": covariate_days,
             "by_period": by_period}  # fmt: skip
    return summary.replace_schema_metadata({"omnimetrics": json.dumps(about)})


# -- the pieces ------------------------------------------------------------------------------
def _facts(source: Warehouse | Facts) -> Facts:
    return source if isinstance(source, Facts) else Facts(source, grain="total")


def _assignments(wh: Warehouse) -> ir.Table:
    if ASSIGNMENTS not in wh.tables():
        raise SchemaError(
            f"The warehouse has no {ASSIGNMENTS!r} table: experiments are read from it. Load "
            f"the assignments (experiment, variant, unit_type, unit_id, timestamp) with "
            f"`omnimetrics ingest {ASSIGNMENTS} FILE`."
        )
    return wh.table(ASSIGNMENTS)


def _check_experiment(wh: Warehouse, experiment: str) -> None:
    """An unknown experiment, or one whose units all lack a timestamp, is refused."""
    rows = _assignments(wh)
    mine = rows.filter(rows.experiment == experiment)
    found = mine.aggregate(units=mine.count(), dated=mine.timestamp.count())
    units, dated = found.to_pyarrow().to_pylist()[0].values()
    if not units:
        known = rows.select("experiment").distinct().experiment.to_pyarrow().to_pylist()
        raise UnknownNameError(
            f"Unknown experiment {experiment!r} in {ASSIGNMENTS!r}. "
            + did_you_mean(experiment, [k for k in known if k is not None])
        )
    if not dated:
        raise SchemaError(
            f"No unit of experiment {experiment!r} has an assignment time ({ASSIGNMENTS!r}, "
            "column 'timestamp'): exposure is unknown, so no metric can start from it. Load "
            "the assignments with their timestamps."
        )


def _check_days(name: str, days: float | None) -> None:
    if days is not None and not days > 0:
        raise ConfigError(f"{name} must be a number of days above 0 or None. Got {days!r} instead.")


def _with_person(wh: Warehouse, units: ir.Table) -> ir.Table:
    """`units` with the person of their (unit_type, unit_id) in the identity graph (or null)."""
    if "identity_graph" not in wh.tables():
        return units.mutate(person_id=ibis.null(dt.string))
    graph = wh.table("identity_graph")
    lookup = graph.select(
        _type=graph.identifier_type, _id=graph.identifier, person_id=graph.person_id
    )
    joined = units.left_join(lookup, [units.unit_type == lookup._type, units.unit_id == lookup._id])
    return joined.drop("_type", "_id")


def _fact(facts: Facts, spec: UnitMetric) -> ir.Table:
    """The dated rows a metric counts, with `person_id`, `at` and its per-row amounts."""
    wh = facts.wh
    if spec.fact == "orders":
        if "orders" not in wh.tables():
            raise SchemaError(
                f"The metric {spec.name!r} needs orders: the warehouse has no 'orders' table. "
                "Load them with `omnimetrics ingest orders FILE`."
            )
        orders = facts.orders
        orders = orders.filter(orders.person_id.notnull())
        return orders.select("person_id", "at", orders=ibis.literal(1), revenue=orders.revenue)
    if "events" not in wh.tables():
        what = (
            "the touchpoints are loaded but journeys are not built: run `omnimetrics run` "
            "(ws.run())"
            if "touchpoints" in wh.tables()
            else "the warehouse has no touchpoints: load email sends, opens and clicks with "
            "`omnimetrics ingest touchpoints FILE`"
        )
        raise SchemaError(f"The email metric {spec.name!r} needs email touchpoints: {what}.")
    events = facts.events
    mail = events.filter(events.event_type.isin(list(EMAIL_EVENTS.values())))
    mail = mail.filter(mail.person_id.notnull())
    if not mail.filter(mail.event_type == "email_send").count().execute():
        raise SchemaError(
            f"The email metric {spec.name!r} needs email sends, and the touchpoints hold none "
            "(event_type 'email_send'). Load the email platform's sends, opens and clicks."
        )
    return mail.select(
        "person_id",
        "at",
        **{name: (mail.event_type == kind).cast(dt.int64) for name, kind in EMAIL_EVENTS.items()},
    )


def _per_person(
    fact: ir.Table,
    units: ir.Table,
    counted: list[str],
    window_days: float | None,
    covariate_days: float | None,
) -> ir.Table:
    """Per person of an analysed unit: the sums of `counted` over [exposure, exposure + window)
    and, with a covariate, over [exposure - covariate_days, exposure) as `_pre_<name>`."""
    exposed = units.select(_person=units.person_id, _from=units.exposed_at).filter(
        lambda t: t._person.notnull()
    )
    start = exposed._from
    if covariate_days is not None:
        start = start - _interval(covariate_days)
    conditions = [fact.person_id == exposed._person, fact.at >= start]
    if window_days is not None:
        conditions.append(fact.at < exposed._from + _interval(window_days))
    joined = fact.join(exposed, conditions)
    after = joined.at >= joined._from
    sums = {name: joined[name].sum(where=after) for name in counted}
    if covariate_days is not None:
        sums.update({f"_pre_{name}": joined[name].sum(where=~after) for name in counted})
    return joined.group_by("_person").agg(**sums)


def _interval(days: float) -> ir.IntervalScalar:
    """`days` as an interval (fractions of a day kept to the second)."""
    whole = float(days)
    if whole.is_integer():
        return ibis.interval(days=int(whole))
    return ibis.interval(seconds=round(whole * 86400))
