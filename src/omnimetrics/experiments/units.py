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
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal
from weakref import WeakKeyDictionary

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from omnimetrics.errors import ConfigError, SchemaError, UnknownNameError, did_you_mean
from omnimetrics.identity import person_of_rows
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
PERIODS = {"day": 1, "week": 7}
"""The periods of exposure a summary can be broken down by, in days (weeks start on Monday)."""
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
    """Each experiment of `experiment_assignments` with its variants (sorted), `assignments`
    (rows), first and last assignment, and `undated` rows (no timestamp). Read from the
    assignments alone (cheap); `unit_counts` says how many units of one are analysed."""
    facts = _facts(source)
    rows = _assignments(facts.wh)
    columns = {
        "variants": rows.variant.collect(distinct=True).sort(),
        "assignments": rows.count().cast(dt.int64),
        "first_assignment": rows.timestamp.min().cast(dt.Timestamp(timezone="UTC")),
        "last_assignment": rows.timestamp.max().cast(dt.Timestamp(timezone="UTC")),
        "undated": rows.timestamp.isnull().sum().cast(dt.int64),
    }
    return rows.group_by("experiment").agg(**columns).order_by("experiment").to_pyarrow()


def experiment_names(source: Warehouse | Facts) -> list[str]:
    """The experiments of `experiment_assignments`, sorted: `experiments` without its figures
    (a cheap read, to check a name)."""
    rows = _assignments(_facts(source).wh)
    names = rows.select("experiment").distinct().order_by("experiment").to_pyarrow()
    return [name for name in names.column("experiment").to_pylist() if name is not None]


def unit_counts(source: Warehouse | Facts, experiment: str) -> dict[str, int]:
    """Units of one experiment: `units` analysed, `undated` (exposed on the first day), and
    the excluded ones by reason (`EXCLUSIONS`)."""
    units = experiment_units(source, experiment)
    counts = units.group_by("excluded").agg(units=units.count(), _undated=_undated(units))
    return _unit_counts(counts.to_pyarrow())


def _undated(units: ir.Table) -> ir.IntegerValue:
    return units.assigned_at.isnull().sum().cast(dt.int64)


def _unit_counts(counts: pa.Table) -> dict[str, int]:
    """`unit_counts` from a small table of units counted by `excluded` (and maybe by more):
    `units`, and `_undated` among them."""
    excluded, units = counts.column("excluded"), counts.column("units")
    found = {
        "units": pc.sum(pc.filter(units, pc.is_null(excluded))),
        "undated": pc.sum(counts.column("_undated")),
        **{r: pc.sum(pc.filter(units, pc.equal(excluded, r))) for r in EXCLUSIONS},
    }
    return {name: int(value.as_py() or 0) for name, value in found.items()}


def experiment_units(source: Warehouse | Facts, experiment: str | None = None) -> ir.Table:
    """One row per (experiment, unit_type, unit_id): variant, `assigned_at` (the timestamp as
    loaded, null if none), `exposed_at` (it, or the experiment's first day when null),
    `person_id` (null when the identifier is in no identity graph, or the person refused
    consent) and `excluded` (a reason of `EXCLUSIONS`, null for an analysed unit).

    Variant is the unit's (the first by name when it has several: such units are excluded).
    For one experiment, the units are computed once per `Facts` (a snapshot of the data)."""
    facts = _facts(source)
    if experiment is None:
        return _units(facts, None, None)
    return _staged(facts, experiment).units


@dataclass(frozen=True)
class _Staged:
    """The units of one experiment, and the first day and last instant of their exposure."""

    units: ir.Table
    first_day: datetime
    last: datetime


def _staged(facts: Facts, experiment: str) -> _Staged:
    cached = _UNITS.setdefault(facts, {})
    if experiment not in cached:
        first, last = _check_experiment(facts.wh, experiment)
        first_day = first.replace(hour=0, minute=0, second=0, microsecond=0)
        cached[experiment] = _Staged(_units(facts, experiment, first_day), first_day, last)
    return cached[experiment]


_UNITS: WeakKeyDictionary[Facts, dict[str, _Staged]] = WeakKeyDictionary()
_ORDERS: WeakKeyDictionary[Facts, tuple[ir.Table, bool]] = WeakKeyDictionary()
"""What is computed once per `Facts` (a snapshot of the data): the units of each experiment
asked; the orders with their person (staged when a second metric reads them: one analysis
reads them once, in its summary's query)."""
UNIT = ["experiment", "unit_type", "unit_id"]
COLUMNS = ["experiment", "unit_type", "unit_id", "variant", "assigned_at", "exposed_at",
           "person_id", "excluded"]  # fmt: skip


def _units(facts: Facts, experiment: str | None, first_day: datetime | None) -> ir.Table:
    """The units, built person first: the rows are joined once to the identity graph; nearly
    every person (or identifier in no graph) has one row, which is their unit as it stands;
    only the rows of the keys with several rows are grouped into units and ranked.

    For one experiment the rows are staged, with only the columns that vary: the search for
    keys with several rows and every figure of the test read them (engines would redo the
    identity join for each). That search counts rows per person, and per unit for the rows
    without one: no key is built for each row."""
    wh = facts.wh
    rows = _assignments(wh)
    utc = dt.Timestamp(timezone="UTC")
    rows = rows.mutate(timestamp=rows.timestamp.cast(utc))
    if experiment is not None:
        rows = rows.filter(rows.experiment == experiment)
    rows = rows.select(*UNIT, "variant", assigned_at=rows.timestamp)
    rows = _with_person(wh, rows)
    # `_person`: the person of the identifier; `person_id`: the same, null when they refused.
    rows = facts.unlinked_if_refused(rows.mutate(_person=rows.person_id)).drop("tracked")
    rows = rows.mutate(_refused=rows._person.notnull() & rows.person_id.isnull()).drop("person_id")
    if experiment is None:
        starts = rows.group_by("experiment").agg(_first=rows.assigned_at.min())
        rows = rows.join(starts, "experiment")
        first = rows._first.truncate("D").cast(utc)
        scope = ["experiment"]
    else:
        staged = wh.materialize(rows.drop("experiment"))
        rows = staged.mutate(experiment=ibis.literal(experiment))
        first = ibis.literal(first_day, utc)
        scope = []

    def unit_key(units: ir.Table) -> ir.StringValue:
        return ibis.literal("unit:").concat(units.unit_type, ":", units.unit_id)

    # `_key`: the person, or the unit itself when its identifier is in no graph.
    rows = rows.mutate(
        exposed_at=ibis.coalesce(rows.assigned_at, first),
        person_id=ibis.cases((rows._refused, ibis.null(dt.string)), else_=rows._person),
        _key=ibis.coalesce(rows._person, unit_key(rows)),
    )
    # The keys with several rows: persons, and identifiers in no graph, counted apart.
    keys = [*scope, "_key"]
    linked = rows.filter(rows._person.notnull())
    per_person = linked.group_by([*scope, "_person"]).agg(_rows=linked.count())
    unlinked = rows.filter(rows._person.isnull())
    per_unit = unlinked.group_by([*scope, "unit_type", "unit_id"]).agg(_rows=unlinked.count())
    busy = ibis.union(
        per_person.filter(per_person._rows > 1).select(*scope, _key=per_person._person),
        per_unit.filter(per_unit._rows > 1).select(*scope, _key=unit_key(per_unit)),
    )

    def as_units(alone: ir.Table) -> ir.Table:
        return alone.select(*COLUMNS[:-1], excluded=ibis.cases(
            (alone._refused, "consent_refused"), else_=ibis.null(dt.string)))  # fmt: skip

    if experiment is not None:
        busy = wh.materialize(busy)  # few rows
        if not busy.count().execute():
            return as_units(rows)  # every key has one row: the units are the rows (no copy)
    # Keys with several rows: one unit in two variants, or several units of one person.
    alone = as_units(rows.anti_join(busy, keys))
    theirs = _grouped(rows.semi_join(busy, keys))
    # Several variants: the key's units (or one of them) were assigned more than one.
    several = theirs.variant.min().over(group_by=keys) != theirs._other.max().over(group_by=keys)
    earliest = ibis.window(group_by=keys, order_by=["exposed_at", "unit_type", "unit_id"])
    theirs = theirs.select(*COLUMNS[:-1], excluded=ibis.cases(
        (several, "several_variants"),
        (theirs._refused, "consent_refused"),
        (ibis.row_number().over(earliest) > 0, "same_person"),
        else_=ibis.null(dt.string),
    ))  # fmt: skip
    units = ibis.union(alone, theirs)
    if experiment is None:
        return units
    units = wh.materialize(units)  # read by every figure; the staged rows are then not needed
    wh.drop(staged)
    return units


def _grouped(rows: ir.Table) -> ir.Table:
    """One row per unit of `rows`: its first variant by name (`_other`: its last), its first
    assignment and exposure, its person and key (the same on every row of a unit)."""
    return rows.group_by(UNIT).agg(
        variant=rows.variant.min(), _other=rows.variant.max(),
        assigned_at=rows.assigned_at.min(), exposed_at=rows.exposed_at.min(),
        person_id=rows.person_id.max(), _key=rows._key.max(), _refused=rows._refused.any(),
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
    units, active = _active_units(source, experiment, spec, window_days, covariate_days)
    joined = units.left_join(active.select("person_id", *_value_columns(active)), "person_id")
    filled = {c: joined[c].fill_null(0) for c in _value_columns(active)}
    return joined.select("unit_type", "unit_id", "variant", "exposed_at", "person_id", **filled)


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
    The schema's metadata says the experiment, metric, kind and window.

    Units without any counted event add 0 to every sum: the sums are taken over the units
    with activity and `units` counted over all analysed units."""
    if by_period is not None and by_period not in PERIODS:
        raise ConfigError(
            f"by_period must be one of {list(PERIODS)} or None. Got {by_period!r} instead."
        )
    spec = METRICS[metric]
    facts = _facts(source)
    _, active = _active_units(facts, experiment, spec, window_days, covariate_days)
    # Every unit, excluded or not: their counts by reason come from the same query.
    every = experiment_units(facts, experiment)
    groups = ["variant"]
    if by_period is not None:
        staged = _staged(facts, experiment)
        every = every.mutate(period=_period_of(every.exposed_at, by_period, staged))
        active = active.mutate(period=_period_of(active.exposed_at, by_period, staged))
        groups.append("period")
    y = active.value
    sums: dict[str, ir.Value] = {}
    if spec.kind == "proportion":
        sums["conversions"] = y.sum().cast(dt.int64)
    else:
        sums["sum"] = y.sum().cast(dt.float64)
        sums["sum_squares"] = (y * y).sum().cast(dt.float64)
    if spec.kind == "ratio":
        d = active.denominator
        sums["denominator_sum"] = d.sum().cast(dt.float64)
        sums["denominator_sum_squares"] = (d * d).sum().cast(dt.float64)
        sums["cross_sum"] = (y * d).sum().cast(dt.float64)
    if covariate_days is not None:
        x = active.covariate
        sums["covariate_sum"] = x.sum().cast(dt.float64)
        sums["covariate_sum_squares"] = (x * x).sum().cast(dt.float64)
        sums["covariate_cross_sum"] = (y * x).sum().cast(dt.float64)
    counts = every.group_by([*groups, "excluded"]).agg(
        units=every.count().cast(dt.int64), _undated=_undated(every)
    )
    totals = active.group_by(groups).agg(**sums)
    analysed = [counts[g] == totals[g] for g in groups] + [counts.excluded.isnull()]
    found = counts.left_join(totals, analysed).select(
        *groups, "excluded", "units", "_undated",
        **{name: totals[name].fill_null(0) for name in sums},
    )  # fmt: skip
    found = found.order_by([*groups, "excluded"]).to_pyarrow()
    table = found.filter(pc.is_null(found.column("excluded")))
    table = table.select([*groups, "units", *sums])
    about = {"experiment": experiment, "metric": metric, "kind": spec.kind,
             "window_days": window_days, "covariate_days": covariate_days,
             "by_period": by_period, "unit_counts": _unit_counts(found)}  # fmt: skip
    return table.replace_schema_metadata({"omnimetrics": json.dumps(about)})


def _period_of(at: ir.TimestampValue, period: str, staged: _Staged) -> ir.DateValue:
    """The first day of the `period` (day, or week from Monday) holding `at`, an exposure of
    `staged`'s units: `at` is compared with the periods' UTC bounds (a binary search written
    as nested cases, a few comparisons a unit). Engines' calendar functions on zoned
    timestamps are far slower (DuckDB: truncating 10M timestamps to days takes seconds)."""
    step = timedelta(days=PERIODS[period])
    start = staged.first_day
    if period == "week":
        start -= timedelta(days=start.weekday())
    starts = [start + k * step for k in range((staged.last - start) // step + 1)]
    utc = dt.Timestamp(timezone="UTC")

    def search(low: int, high: int) -> ir.DateValue:
        """The period of `at` among starts[low:high]."""
        if high - low == 1:
            return ibis.literal(starts[low].date(), dt.date)
        middle = (low + high) // 2
        before = at < ibis.literal(starts[middle], utc)
        return ibis.cases((before, search(low, middle)), else_=search(middle, high))

    return search(0, len(starts))


def _active_units(
    source: Warehouse | Facts,
    experiment: str,
    spec: UnitMetric,
    window_days: float | None,
    covariate_days: float | None,
) -> tuple[ir.Table, ir.Table]:
    """The analysed units (variant, exposed_at, person_id...) and, for those of them with a
    counted event, `value`, [`denominator`], [`covariate`]."""
    _check_days("window_days", window_days)
    _check_days("covariate_days", covariate_days)
    if covariate_days is not None and spec.kind == "ratio":
        raise ConfigError(
            f"CUPED with a pre-period covariate is available for proportion and mean metrics, "
            f"not for the ratio metric {spec.name!r}. Drop covariate_days, or use "
            f"{spec.numerator!r} with its covariate."
        )
    facts = _facts(source)
    fact = _fact(facts, spec)
    every = experiment_units(facts, experiment)
    units = every.filter(every.excluded.isnull()).select(
        "unit_type", "unit_id", "variant", "exposed_at", "person_id"
    )
    counted = [spec.numerator] + ([spec.denominator] if spec.denominator else [])
    # The analysed units' persons; the others have none, so no fact joins them. Not a filter:
    # engines then size the units' side right and build the join's table on the facts.
    analysed = every.excluded.isnull() & every.person_id.notnull()
    person = ibis.cases((analysed, every.person_id), else_=ibis.null(dt.string))
    exposed = every.select("variant", "exposed_at", person_id=person)
    start = exposed.exposed_at
    if covariate_days is not None:
        start = start - _interval(covariate_days)
    conditions = [fact.person_id == exposed.person_id, fact.at >= start]
    if window_days is not None:
        conditions.append(fact.at < exposed.exposed_at + _interval(window_days))
    joined = fact.join(exposed, conditions)
    after = joined.at >= joined.exposed_at
    sums = {name: joined[name].sum(where=after) for name in counted}
    if covariate_days is not None:
        sums.update({f"_pre_{name}": joined[name].sum(where=~after) for name in counted})
    # A person has one analysed unit: grouping by person is grouping by unit.
    per_unit = joined.group_by(["person_id", "variant", "exposed_at"]).agg(**sums)

    def value(column: str) -> ir.NumericValue:
        total = per_unit[column].fill_null(0)
        if spec.kind == "proportion":
            return (total > 0).cast(dt.int64)
        return total.cast(dt.float64)

    columns = {"value": value(spec.numerator)}
    if spec.denominator:
        columns["denominator"] = value(spec.denominator)
    if covariate_days is not None:
        columns["covariate"] = value(f"_pre_{spec.numerator}")
    return units, per_unit.select("person_id", "variant", "exposed_at", **columns)


def _value_columns(active: ir.Table) -> list[str]:
    return [c for c in ("value", "denominator", "covariate") if c in active.columns]


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


def _check_experiment(wh: Warehouse, experiment: str) -> tuple[datetime, datetime]:
    """The experiment's first and last assignment times; an unknown experiment, or one whose
    units all lack a timestamp, is refused."""
    rows = _assignments(wh)
    mine = rows.filter(rows.experiment == experiment)
    found = mine.aggregate(units=mine.count(), first=mine.timestamp.min(),
                           last=mine.timestamp.max())  # fmt: skip
    units, first, last = found.to_pyarrow().to_pylist()[0].values()
    if not units:
        known = rows.select("experiment").distinct().experiment.to_pyarrow().to_pylist()
        raise UnknownNameError(
            f"Unknown experiment {experiment!r} in {ASSIGNMENTS!r}. "
            + did_you_mean(experiment, [k for k in known if k is not None])
        )
    if first is None:
        raise SchemaError(
            f"No unit of experiment {experiment!r} has an assignment time ({ASSIGNMENTS!r}, "
            "column 'timestamp'): exposure is unknown, so no metric can start from it. Load "
            "the assignments with their timestamps."
        )
    return first, last


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
        if "orders" in facts.__dict__:  # built already (KPIs of the same run): reused
            orders = facts.orders
        else:
            orders, staged = _ORDERS.get(facts, (None, False))
            if orders is None:
                # `Facts.orders` less what units do not use: its first-order window over
                # every order, and the unlinking of refusing persons (their units are
                # excluded).
                stored = wh.table("orders")
                valid = stored.filter(stored.status.isnull() | (stored.status != "cancelled"))
                linked = person_of_rows(wh, valid)
                revenue = linked.revenue.cast(dt.float64)
                linked = linked.filter(linked.person_id.notnull())
                orders = linked.select("person_id", at=linked.timestamp, revenue=revenue)
                orders = facts.window(orders)
            elif not staged:  # read again (another metric of the same `Facts`): staged
                orders, staged = wh.materialize(orders), True
            _ORDERS[facts] = (orders, staged)
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


def _interval(days: float) -> ir.IntervalScalar:
    """`days` as an interval of seconds (UTC days are 86,400 s; an interval of seconds is also
    much cheaper for engines to add to a zoned timestamp than one of calendar days)."""
    return ibis.interval(seconds=round(float(days) * 86_400))
