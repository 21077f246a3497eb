"""The whole attribution answer in one call, for every shell (CLI, HTTP API, Workspace).

`attribution_report` works on journey tables: the orders of a segment, a path transform, the
models (with bootstrap intervals), spend, the comparison of models and the Markov transition
matrix. `path_table_report` does the same for a ready-made path table and needs no engine when
every model is data-driven. Tables in, tables out: no warehouse table names here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pyarrow as pa

from omnimetrics.attribution.arrow import to_floats
from omnimetrics.attribution.paths import PathTable, read_paths
from omnimetrics.attribution.registry import AttributionModel, get_model
from omnimetrics.errors import ConfigError, SchemaError
from omnimetrics.registry import Registry

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from omnimetrics.attribution.compare import ModelComparison

Models = Registry[AttributionModel]


@dataclass(frozen=True, eq=False)
class AttributionReport:
    """Credit per model and key, and what else was asked for (None when not asked)."""

    credit: pa.Table
    """model, <by...>, conversions, revenue, share, additive; with intervals, conversions_low/high
    and share_low/high; with spend, spend, cost_per_conversion, roas, new_customers, cac."""
    comparison: ModelComparison | None = None
    """Where the models disagree and how far they agree (`compare_models`)."""
    roles: pa.Table | None = None
    """Which channels open, assist and close journeys (`journey_roles`; journeys only)."""
    transitions: pd.DataFrame | None = None
    """from_state, to_state, transitions, probability of `markov_model`."""
    markov_model: str | None = None
    """The Markov model whose transition matrix is given: the first one among the models."""


class InfluenceReport(NamedTuple):
    """Cross-channel influence and one plain-English line per sales channel."""

    table: pa.Table
    summary: list[str]


def attribution_report(
    touches: ir.Table,
    conversions: ir.Table,
    non_converting: ir.Table,
    *,
    models: Sequence[str],
    by: Sequence[str] = ("channel",),
    transform: str = "all",
    drop: Sequence[str] = (),
    max_touches: int | None = None,
    since: date | None = None,
    until: date | None = None,
    sales_channels: Sequence[str] = (),
    intervals: int = 0,
    seed: int = 0,
    spend: ir.Table | None = None,
    compare: bool = False,
    transitions: bool = False,
    registry: Models | None = None,
) -> AttributionReport:
    """Attribution of the orders placed from `since` to `until` through `sales_channels`.

    touches, conversions, non_converting: journey touches (with `first_order` when `spend` is
    given), the orders and the touches of journeys that did not convert, as the `journeys`
    module builds them. spend: the spend table (date, channel, campaign, spend), summed over
    the same days, adds cost per conversion, CAC and ROAS. The journeys are aggregated into
    their distinct paths by conversion month (`month_paths`) and every model that reads no touch
    times is fitted on those, as `paths_report` does with the paths a run stored.
    """
    from omnimetrics.attribution.aggregate import month_paths
    from omnimetrics.attribution.credit import select_orders
    from omnimetrics.attribution.transforms import transform_touches

    segment: dict[str, Any] = {"since": since, "until": until, "sales_channels": sales_channels}
    options: dict[str, Any] = {"drop": drop, "max_touches": max_touches}
    touches = transform_touches(select_orders(touches, **segment), transform, **options)
    orders = select_orders(conversions, **segment)
    lost = transform_touches(non_converting, transform, key="person_id", **options)
    rows = month_paths(touches, orders, lost, by=list(by))
    return _report(rows, (touches, orders, lost), models=models, by=by, since=since, until=until,
                   intervals=intervals, seed=seed, spend=spend, compare=compare,
                   transitions=transitions, registry=registry)  # fmt: skip


def paths_report(
    rows: ir.Table,
    *,
    models: Sequence[str],
    by: Sequence[str] = ("channel",),
    since: date | None = None,
    until: date | None = None,
    intervals: int = 0,
    seed: int = 0,
    spend: ir.Table | None = None,
    compare: bool = False,
    transitions: bool = False,
    registry: Models | None = None,
) -> AttributionReport:
    """Attribution of the orders of the whole months from `since` to `until`, from the journeys'
    distinct paths by conversion month (`month_paths`, labelled by `by`, as a run stores them):
    the report `attribution_report` gives of the same journeys, numbers, intervals and seeds
    alike, without reading them again. Models that read touch times are refused.
    """
    if since is not None and since.day != 1:
        raise ConfigError(f"Paths by month start on a month's first day; got since={since}.")
    if until is not None and (until + timedelta(days=1)).day != 1:
        raise ConfigError(f"Paths by month end on a month's last day; got until={until}.")
    return _report(rows, None, models=models, by=by, since=since, until=until,
                   intervals=intervals, seed=seed, spend=spend, compare=compare,
                   transitions=transitions, registry=registry)  # fmt: skip


Journeys = tuple["ir.Table", "ir.Table", "ir.Table"]
"""Converting touches, orders and touches of journeys that did not convert, of one segment."""


def _report(
    rows: ir.Table,
    journeys: Journeys | None,
    *,
    models: Sequence[str],
    by: Sequence[str],
    since: date | None,
    until: date | None,
    intervals: int,
    seed: int,
    spend: ir.Table | None,
    compare: bool,
    transitions: bool,
    registry: Models | None,
) -> AttributionReport:
    """The report of the months from `since`'s to `until`'s of `rows` (`month_paths`): models
    that read paths are fitted on them; the others on the `journeys` these rows are made of."""
    from omnimetrics.attribution.credit import attribute

    names, keys = list(models), list(by)
    markov = _markov(names, registry) if transitions else None
    on_touches = [n for n in names if not get_model(n, registry).reads_paths(keys)]
    on_paths = [n for n in names if n not in on_touches]
    if on_touches and journeys is None:
        raise ConfigError(
            f"{', '.join(on_touches)} read(s) the time or the channel of each touch, which "
            f"paths by {'/'.join(keys)} do not keep: attribute the journeys instead."
        )
    tables = cache(lambda: _path_tables(rows, since, until))
    options: dict[str, Any] = {"by": keys, "seed": seed, "registry": registry}
    credit, acquisitions = [], []
    if on_paths:
        paths, first = tables()
        credit.append(attribute(paths, on_paths, intervals=intervals, **options))
        if spend is not None:
            if first is None:
                raise SchemaError(
                    "Spend needs to know which orders are a person's first (CAC): the journey "
                    "touches lack first_order (journeys.journey_touches has it)."
                )
            acquisitions.append(attribute(first, on_paths, **options))
    if on_touches:
        assert journeys is not None
        touches, orders, lost = journeys
        credit.append(attribute(touches, on_touches, orders=orders, non_converting=lost,
                                intervals=intervals, **options))  # fmt: skip
        if spend is not None:
            acquisitions.append(attribute(touches.filter(touches.first_order), on_touches,
                                          non_converting=lost, **options))  # fmt: skip
    table = _joined(credit, keys)
    if spend is not None:
        from omnimetrics.attribution.spend import spend_by, with_spend

        spent = spend_by(spend, keys, since=since, until=until)
        table = with_spend(table, spent, by=keys,
                           acquisitions=_joined(acquisitions, keys)).to_pyarrow()  # fmt: skip
    comparison = roles = matrix = None
    if compare:
        from omnimetrics.attribution.compare import compare_models, journey_roles

        comparison = compare_models(table.to_pandas(), by=keys[0])
        roles = journey_roles(tables()[0], keys[0]).to_pyarrow()
    if markov is not None:
        matrix = _transitions(tables()[0], markov, registry)
    return AttributionReport(table, comparison, roles, matrix, markov)


def _path_tables(
    rows: ir.Table, since: date | None, until: date | None
) -> tuple[PathTable, PathTable | None]:
    """The distinct paths of the months from `since`'s to `until`'s, and the same paths weighted
    by their first orders (the acquisitions that CAC divides by; orders without a touch left out,
    as no channel is credited with them; None when the journeys do not tell first orders)."""
    from omnimetrics.attribution.aggregate import paths_of_months

    table = paths_of_months(rows, since, until).to_pyarrow()
    paths = PathTable.from_arrow(table)
    first = replace(paths, conversions=to_floats(table.column("first_orders")),
                    value=to_floats(table.column("first_value")))  # fmt: skip
    kept = (first.lengths > 0) & ((first.conversions != 0) | (first.nulls > 0))
    if np.isnan(first.conversions[kept]).any():
        return paths, None
    return paths, first.subset(kept)


def _joined(parts: list[Any], keys: list[str]) -> pa.Table:
    """Credit tables of disjoint models as one, ordered as `attribute` orders its rows."""
    tables = [part.to_pyarrow() for part in parts]
    if len(tables) == 1:
        return tables[0]
    joined = pa.concat_tables(tables, promote_options="default")
    order = [("model", "ascending"), ("conversions", "descending")]
    return joined.sort_by([*order, *((column, "ascending") for column in keys)])


def path_table_report(
    paths: PathTable,
    *,
    models: Sequence[str],
    by: str = "channel",
    transform: str = "all",
    drop: Sequence[str] = (),
    max_touches: int | None = None,
    intervals: int = 0,
    seed: int = 0,
    compare: bool = False,
    transitions: bool = False,
    registry: Models | None = None,
) -> AttributionReport:
    """Attribution of a ready-made path table (`read_paths`); `by` names its label column.

    Data-driven models are fitted in numpy and the table is built in Arrow; rule models on
    positions (linear, position based...) run in the engine on the paths' touches.
    """
    from omnimetrics.attribution.learned import path_credit

    names = list(models)
    specs = [get_model(name, registry) for name in names]
    markov = _markov(names, registry) if transitions else None
    if transform != "all" or drop or max_touches is not None:
        from omnimetrics.attribution.transforms import transform_paths

        paths = transform_paths(paths, transform, drop=drop, max_touches=max_touches)
    if all(spec.data_driven for spec in specs):
        credit = path_credit(paths, specs, [by], intervals=intervals, seed=seed)
    else:
        from omnimetrics.attribution.credit import attribute

        credit = attribute(paths, names, by=[by], intervals=intervals, seed=seed,
                           registry=registry).to_pyarrow()  # fmt: skip
    comparison = None
    if compare:
        from omnimetrics.attribution.compare import compare_models

        comparison = compare_models(credit.to_pandas(), by=by)
    matrix = _transitions(paths, markov, registry) if markov is not None else None
    return AttributionReport(credit, comparison, None, matrix, markov)


def path_file_report(
    source: str | Path,
    *,
    path: str = "path",
    conversions: str = "conversions",
    nulls: str = "nulls",
    value: str | None = "value",
    separator: str = ">",
    **options: Any,
) -> AttributionReport:
    """`path_table_report` of a path table file (`read_paths` with these column names);
    `options` are those of `path_table_report` (models=..., transitions=..., registry=...)."""
    table = read_paths(source, path=path, conversions=conversions, nulls=nulls, value=value,
                       separator=separator)  # fmt: skip
    return path_table_report(table, **options)


def influence_report(
    touches: ir.Table,
    non_converting: ir.Table,
    model: str = "linear",
    by: str = "channel",
    *,
    registry: Models | None = None,
) -> InfluenceReport:
    """Credit each touch <by> value earns on the sales of each sales channel, and a summary line
    per sales channel (share of credit crossing from online to offline, or the reverse)."""
    from omnimetrics.attribution.compare import cross_channel_influence, influence_summary

    table = cross_channel_influence(touches, model, by, non_converting=non_converting,
                                    registry=registry).to_pyarrow()  # fmt: skip
    summary = influence_summary(table.to_pandas())["summary"].tolist()
    return InfluenceReport(table, summary)


def _markov(names: list[str], registry: Models | None) -> str:
    """The first Markov model among `names`: the one whose transition matrix is reported."""
    from omnimetrics.attribution.markov import MarkovAttribution

    for name in names:
        spec = get_model(name, registry)
        if spec.learner is not None and isinstance(spec.learner(), MarkovAttribution):
            return name
    raise ConfigError(
        f"The transition matrix needs a Markov model among the models; got {names}. Add one, "
        "e.g. markov (order 1) or markov_2."
    )


def _transitions(paths: PathTable, markov: str, registry: Models | None) -> pd.DataFrame:
    from omnimetrics.attribution.markov import MarkovAttribution

    learner = get_model(markov, registry).learner
    model = learner() if learner is not None else None
    assert isinstance(model, MarkovAttribution)
    return model.fit(paths).transitions()
