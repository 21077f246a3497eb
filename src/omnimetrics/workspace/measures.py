"""Workspace methods that measure: attribution, influence, KPIs, goals, maturity, segments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from omnimetrics.errors import ConfigError, OmnimetricsError
from omnimetrics.results import Result, as_arrow
from omnimetrics.workspace import checks

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from omnimetrics.config import Settings
    from omnimetrics.registry import Registry
    from omnimetrics.warehouse import Warehouse

SUPPORT_NOTE = "Careful: "
"""How an attribution note on what the data cannot support begins."""
DEFAULT_MODELS = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based",
                  "time_decay", "markov", "shapley")  # fmt: skip


class MeasureMethods:
    """Attribution, KPIs, goals, maturity, business case, segments and audiences."""

    warehouse: Warehouse
    settings: Settings

    @property
    def attribution_models(self) -> Registry[Any]:
        """The built-in attribution models plus this workspace's own ([[attribution.models]])."""
        from omnimetrics.attribution import models_for

        return models_for(self.settings.attribution_models)

    def attribution(
        self,
        models: Sequence[str] = DEFAULT_MODELS,
        *,
        by: Sequence[str] = ("channel",),
        transform: str = "all",
        drop: Sequence[str] = (),
        max_touches: int | None = None,
        since: date | None = None,
        until: date | None = None,
        sales_channels: Sequence[str] = (),
        intervals: int = 0,
        seed: int = 0,
        spend: bool = False,
        compare: bool = False,
        transitions: bool = False,
        paths: ir.Table | None = None,
        support: bool = True,
        segment: tuple[str, str] | None = None,
    ) -> Result:
        """Credit of each channel (or campaign) under each model, over the workspace's journeys.

        paths: the journeys' distinct paths by conversion month (`attribution.month_paths`,
        labelled by `by`), as a run stores them for the dashboard: attributed instead of the
        journeys, with the same numbers, for whole months and the journeys as they are.
        support: add notes on what the data can support (they read the journeys).
        segment: (segment column, value): only the journeys of the persons in that segment
        (without `paths`: give the paths of the segment instead).
        """
        from omnimetrics import journeys as jr
        from omnimetrics.attribution import attribution_report, paths_report

        wh = self.warehouse
        checks.known("--by", by, checks.ATTRIBUTION_KEYS, "attribution key")
        checks.at_least("--intervals", intervals, 0)
        checks.sales_channels(sales_channels)
        checks.period(wh, since, until)
        options: dict[str, Any] = {
            "models": list(models), "by": list(by), "since": since, "until": until,
            "intervals": intervals, "seed": seed, "spend": wh.table("spend") if spend else None,
            "compare": compare, "transitions": transitions, "registry": self.attribution_models,
        }  # fmt: skip
        if paths is None:
            journeys = (jr.journey_touches(wh), jr.conversions(wh), jr.non_conversion_touches(wh))
            if segment is not None:
                journeys = self._of_segment(segment, journeys)
            report = attribution_report(
                *journeys,
                transform=transform, drop=list(drop), max_touches=max_touches,
                sales_channels=list(sales_channels), **options,
            )  # fmt: skip
        elif segment is not None:
            raise ConfigError("Give `segment` or the paths of the segment, not both.")
        elif transform != "all" or drop or max_touches is not None or sales_channels:
            raise ConfigError(
                "Paths by month are of every journey as it is: ask for a transform, drop, "
                "max_touches or sales channels without `paths`."
            )
        else:
            report = paths_report(paths, **options)
        lookback = self.settings.journeys.lookback_days
        title = f"Attribution by {','.join(by)} ({lookback}-day lookback)"
        if segment is not None:
            title += f", persons with {segment[0]} = {segment[1]}"
        notes = self._support_notes() if support else []
        return attribution_result(report, title, by[0]).with_notes(*notes)

    def _of_segment(self, segment: tuple[str, str],
                    journeys: tuple[ir.Table, ...]) -> tuple[ir.Table, ...]:  # fmt: skip
        """The journeys of the persons whose `column` is `value`."""
        from omnimetrics.metrics.facts import Facts

        column, value = segment
        persons = Facts(self.warehouse, grain="total").persons
        checks.known("--segment", [column], [c for c in persons.columns if c != "person_id"],
                     "segment column")  # fmt: skip
        members = persons.filter(persons[column].cast("string") == str(value)).select("person_id")
        return tuple(j.semi_join(members, "person_id") for j in journeys)

    def _support_notes(self) -> list[str]:
        from omnimetrics.metrics.maturity import model_support

        support = model_support(self.warehouse, "attribution")
        return [] if support.supported else [SUPPORT_NOTE + r for r in support.reasons]

    def influence(self, model: str = "linear", *, by: str = "channel") -> Result:
        """Credit each touch channel earns on sales of each sales channel (online behind store
        sales, and the reverse)."""
        from omnimetrics import journeys as jr
        from omnimetrics.attribution import influence_report

        wh = self.warehouse
        table, summary = influence_report(
            jr.journey_touches(wh), jr.non_conversion_touches(wh), model, by,
            registry=self.attribution_models,
        )  # fmt: skip
        title = f"Credit by sales channel and {by} ({model})"
        return Result.of("influence", title, table, notes=tuple(summary))

    def kpis(
        self,
        kpis: Sequence[str] | None = None,
        *,
        by: Sequence[str] = (),
        grain: str = "month",
        since: date | None = None,
        until: date | None = None,
        shared: bool = False,
        forecast: int = 0,
        alerts: bool = False,
    ) -> Result:
        """KPIs by period and dimension with the change against the previous period; optionally
        their forecast and the periods where they left their expected range."""
        from omnimetrics.metrics.kpis import compute_kpis

        checks.at_least("--forecast", forecast, 0)
        checks.at_most("--forecast", forecast, MAX_FORECAST)
        checks.period(self.warehouse, since, until)
        self._check_kpi_dimensions(by)
        measured = compute_kpis(
            self.warehouse, list(kpis) if kpis else None, by=list(by), grain=grain,
            since=since, until=until,
            min_cell_persons=self.settings.min_cell_persons if shared else None,
        )  # fmt: skip
        parts = []
        if forecast:
            from omnimetrics.metrics.forecast import kpi_forecasts

            projected = kpi_forecasts(measured.table, list(by), forecast)
            title = f"Forecast, next {forecast} periods (95% interval)"
            parts.append(Result.of("forecast", title, projected))
        if alerts:
            from omnimetrics.metrics.forecast import kpi_alerts

            found = kpi_alerts(measured.table, list(by))
            title = "Alerts: KPIs outside their expected range"
            notes = () if len(found) else ("No KPI left its expected range.",)
            parts.append(Result.of("alerts", title, found, notes=notes))
        table = measured.table.drop(columns=["numerator", "denominator"])
        notes = tuple(f"{name}: {reason}" for name, reason in measured.unavailable.items())
        return Result.of("kpis", f"KPIs by {grain}", table, parts=tuple(parts), notes=notes)

    def _check_kpi_dimensions(self, by: Sequence[str]) -> None:
        from omnimetrics.metrics.kpis import FACT_DIMS
        from omnimetrics.metrics.segments import person_segments

        unknown = [dim for dim in by if dim not in FACT_DIMS]
        if unknown:
            try:
                segments = [c for c in person_segments(self.warehouse).columns if c != "person_id"]
            except OmnimetricsError:  # the tables segments need are missing
                segments = []
            checks.known("--by", unknown, sorted(FACT_DIMS) + segments, "dimension")

    def goals(self, *, grain: str = "month", today: date | None = None) -> Result:
        """SMART goals of [[goals]]: progress, projection and chance of success."""
        from omnimetrics.metrics.goals import GOAL_EXAMPLE, evaluate_goals

        if not self.settings.goals:
            advice = f"No goals declared yet: add them to omnimetrics.toml, e.g.\n{GOAL_EXAMPLE}"
            return Result("goals", "Goals", pa.table({"goal": pa.array([], pa.string())}),
                          notes=(advice,))  # fmt: skip
        statuses = evaluate_goals(self.warehouse, grain=grain, today=today or date.today())
        rows = [status.to_row() for status in statuses]
        notes = tuple(f"{r['goal']}: {r['note']}" for r in rows if r.get("note"))
        return Result.of("goals", "Goals", rows, notes=notes)

    def maturity(
        self,
        *,
        answers: str | Path | Mapping[str, Any] | None = None,
        as_of: date | None = None,
        compare: date | None = None,
    ) -> Result:
        """Omnichannel maturity: a 0-100 score from the data (and a questionnaire), levels per
        dimension, advice, progress since a day, and which models the data supports."""
        from omnimetrics.metrics import maturity as mt

        given = None
        if answers is not None:
            given = (mt.validate_answers(answers) if isinstance(answers, Mapping)
                     else mt.load_answers(answers))  # fmt: skip
        checks.day("--as-of", as_of)
        checks.day("--compare", compare)
        report = mt.assess(self.warehouse, as_of=as_of, answers=given)
        parts = [Result.of("dimensions", "Dimensions", report.dimensions)]
        if compare is not None:
            before = mt.assess(self.warehouse, as_of=compare, answers=given, models=False)
            title = f"Progress since {compare:%Y-%m-%d}"
            parts.append(Result.of("progress", title, mt.compare(before, report)))
        support = [{"kind": s.kind, "supported": s.supported, "reasons": " ".join(s.reasons)}
                   for s in report.models]  # fmt: skip
        parts.append(Result.of("models", "What the data can support", support))
        figures = {"score": report.score, "level": report.level, "level_name": report.level_name}
        return Result.of(
            "maturity", "Indicators", report.indicators, parts=tuple(parts), figures=figures,
            notes=tuple(report.recommendations),
        )  # fmt: skip

    def business_case(
        self,
        *,
        conversion_rate: float | None = None,
        average_basket: float | None = None,
        retention: float | None = None,
        spend: float | None = None,
        margin_rate: float | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> Result:
        """If the KPIs reached these targets: orders, revenue, margin and ROI, projected from the
        values measured over the period."""
        from omnimetrics.metrics.maturity import business_case as project
        from omnimetrics.metrics.maturity.projection import business_case_inputs

        checks.period(self.warehouse, since, until)
        targets = {key: value for key, value in (
            ("conversion_rate", conversion_rate), ("average_basket", average_basket),
            ("retention", retention), ("spend", spend)) if value is not None}  # fmt: skip
        inputs = business_case_inputs(self.warehouse, since=since, until=until)
        if margin_rate is not None:
            inputs["margin_rate"] = margin_rate
        table = project(targets=targets, **inputs)
        return Result.of("business_case", "Business case", table)

    def segments(self, by: str = "rfm_segment", *, campaign: str | None = None) -> Result:
        """Persons per value of a segment, or the segments most responsive to a campaign."""
        from omnimetrics.metrics.segments import most_responsive, person_segments

        if campaign:
            title = f"Response to {campaign} by {by} (observational, not causal)"
            return Result.of("segments", title, most_responsive(self.warehouse, campaign, by=by))
        persons = person_segments(self.warehouse)
        if by not in persons.columns:
            raise OmnimetricsError(
                f"Unknown segment {by!r}. Choose from {sorted(persons.columns)[:40]}."
            )
        counts = persons.group_by(by).agg(persons=persons.count()).order_by(by)
        return Result.of("segments", f"Persons by {by}", counts)

    def audience(self, segment: str, value: str | None = None) -> Result:
        """A segment as hashed identifiers (SHA-256, as ad platforms match them), for persons
        who granted marketing consent only."""
        from omnimetrics.metrics.segments import audience

        table = audience(self.warehouse, segment, value)
        return Result("audience", f"Audience {segment}{'=' + value if value else ''}", table)


MAX_FORECAST = 120
"""Periods a forecast may reach (ten years of months): further is not a forecast any more."""


def attribute_path_file(
    source: str | Path,
    models: Sequence[str] = DEFAULT_MODELS,
    *,
    config: str | Path | None = None,
    path: str = "path",
    conversions: str = "conversions",
    nulls: str = "nulls",
    value: str | None = "value",
    separator: str = ">",
    **options: Any,
) -> Result:
    """Attribution of a ready-made path table file (no warehouse, no engine for data-driven
    models); the project's own models of `config` count. `options`: transform, drop,
    max_touches, intervals, seed, compare, transitions."""
    from omnimetrics.attribution import models_for, path_file_report
    from omnimetrics.config import Settings

    checks.at_least("--intervals", options.get("intervals", 0), 0)
    registry = models_for(Settings.load(config).attribution_models)
    report = path_file_report(
        source, path=path, conversions=conversions, nulls=nulls, value=value,
        separator=separator, models=list(models), registry=registry, **options,
    )  # fmt: skip
    return attribution_result(report, f"Attribution of {Path(source).name}", "channel")


def share_by_model(credit: pa.Table, by: str) -> pa.Table:
    """One row per `by` value, one column per model: its share of the credit (the credit table is
    small: built in Arrow and Python, no pandas, so a path-file run stays quick)."""
    rows: dict[Any, dict[str, float]] = {}
    models: dict[str, None] = {}
    for record in credit.select([by, "model", "share"]).to_pylist():
        models[record["model"]] = None
        cell = rows.setdefault(record[by], {})
        cell[record["model"]] = cell.get(record["model"], 0.0) + (record["share"] or 0.0)
    from omnimetrics.attribution.arrow import floats, strings  # Arrow without pandas

    first = next(iter(models), None)
    order = sorted(rows, key=lambda key: -rows[key].get(first, 0.0)) if first else []
    columns: dict[str, pa.Array] = {by: strings([None if k is None else str(k) for k in order])}
    for model in models:
        columns[model] = floats(np.array([rows[k].get(model, np.nan) for k in order], float))
    return pa.table(columns)


def attribution_result(report: Any, title: str, by: str) -> Result:
    """An attribution report (credit, comparison, roles, transitions) as one result."""
    credit = as_arrow(report.credit)
    title = f"Share of credit by {by}, model by model"
    parts: list[Result] = [Result("shares", title, share_by_model(credit, by))]
    notes: list[str] = []
    if report.comparison is not None:
        comparison = report.comparison
        spread = ["min_share", "lowest_model", "max_share", "highest_model", "largest_shift"]
        parts.append(Result.of("disagreement", f"Where the models disagree, by {by}",
                               comparison.shares[[by, *spread]]))  # fmt: skip
        pairs = ["model_a", "model_b", "spearman", "kendall", "top_channel_same"]
        parts.append(Result.of("agreement", "Least agreeing pairs of models (rank correlation)",
                               comparison.agreement[pairs].head(10)))  # fmt: skip
        notes.extend(comparison.summary())
    if getattr(report, "roles", None) is not None:
        parts.append(Result.of("roles", "Who opens and who closes", report.roles))
    if report.transitions is not None:
        title_t = f"{report.markov_model} transition matrix"
        parts.append(Result.of("transitions", title_t, report.transitions))
    return Result("attribution", title, credit, parts=tuple(parts), notes=tuple(notes))
