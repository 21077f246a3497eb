"""What each page of the dashboard (and each section of the report) shows: `Workspace` results,
stored by every run so that a page view reads them instead of recomputing the event tables.

`omnimetrics run` calls `store_pages`: each page's results over the whole history go to
`agg_<page>_<result>` tables (rows tagged with the run) and their titles and notes to
`agg_pages`; the journeys' distinct paths by conversion month go to `agg_paths_<key>`; the
KPIs a filter cuts are stored cut by campaign and by each segment of `[ui] segment_filters`
(`<page>_by_<column>`).
`page_results` answers a page for a `View` from those tables when they can answer it exactly: no
filter; a month range over monthly rows (a `period` column), or attributed from the paths of its
months (the same numbers as the journeys give: `attribution.paths_report`); a channel, campaign
or segment that is a column of the rows, or of the KPIs stored cut by it. Otherwise (e.g. a
segment not in `[ui] segment_filters`) the page is computed live by the same builder, and says
so. A filter that does not apply to a result (the
funnel has no channel) is named under it rather than silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from omnimetrics.errors import OmnimetricsError
from omnimetrics.results import Result

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from omnimetrics.workspace import Workspace

HEADLINE_KPIS = ("revenue", "orders", "conversion_rate", "average_basket", "retention_rate")
CHANNEL_KPIS = ("revenue", "orders", "average_basket", "conversion_rate", "cac", "roas")
ATTRIBUTION_MODELS = ("last_touch", "first_touch", "linear", "position_based", "markov")
INTERVALS = 100
"""Bootstrap resamples of the attribution page's intervals (docs/attribution.md)."""
PROGRESS_DAYS = 30
"""The maturity page's progress: against the data as it stood this many days ago."""
PAGES_TABLE = "agg_pages"
SEGMENT_PATHS = "_segments"
"""`agg_paths_<key>_segments`: the paths by month and by each column of `[ui] segment_filters`."""
SEGMENT_GROUPS = ("segment_column", "segment_value")
"""The columns of a stored path of a segment: which segment column, which of its values."""
BY = "_by_"
"""`<page>_by_<column>`: the KPIs of a page stored cut by a filter's column."""
PATH_KEYS = ("channel", "campaign")
"""The keys whose paths by conversion month a run stores (`agg_paths_<key>`), so that the
channels and attribution pages attribute a month range without reading the journeys again."""


@dataclass(frozen=True)
class View:
    """What a page is asked for: a range of whole months, a channel, a campaign."""

    since: date | None = None
    """First day of the first month shown."""
    until: date | None = None
    """Last day of the last month shown."""
    channel: str | None = None
    campaign: str | None = None
    segment: tuple[str, str] | None = None
    """A segment column of the persons and one of its values, e.g. ("rfm_segment", "champions")."""

    @classmethod
    def of(cls, since: str | None = None, until: str | None = None, *,
           segment: str | None = None, **rows: str | None) -> View:  # fmt: skip
        """From the text of a URL: months as YYYY-MM (a full date is read as its month), the
        segment as `name:value`."""
        first = _month(since, "since") if since else None
        last = _month(until, "until") if until else None
        end = _next_month(last) - timedelta(days=1) if last else None
        cut = None
        if segment:
            name, _, value = segment.partition(":")
            if not (name.strip() and value.strip()):
                raise OmnimetricsError(f"segment={segment!r}: write it as name:value, e.g. "
                                       "rfm_segment:champions.")  # fmt: skip
            cut = (name.strip(), value.strip())
        return cls(first, end, segment=cut, **{k: v or None for k, v in rows.items()})

    @property
    def dated(self) -> bool:
        return self.since is not None or self.until is not None

    @property
    def rows(self) -> dict[str, str]:
        """The filters on rows: column -> value."""
        rows = {k: v for k, v in (("channel", self.channel), ("campaign", self.campaign)) if v}
        return rows | (dict([self.segment]) if self.segment else {})


def _month(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text[:7] + "-01")
    except ValueError:
        raise OmnimetricsError(
            f"{name}={text!r} is not a month: write it as YYYY-MM, e.g. 2026-03."
        ) from None


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


Builder = Callable[["Workspace", View], list[Result]]
Cutter = Callable[["Workspace", View, tuple[str, ...]], list[Result]]


@dataclass(frozen=True)
class Page:
    name: str
    title: str
    build: Builder
    """The page's results for a view, computed by the `Workspace`."""
    undated: frozenset[str] = field(default_factory=frozenset)
    """Results that do not depend on the month range (a state, not a flow over time)."""
    cuts: Mapping[str, str] = field(default_factory=dict)
    """column -> a page whose stored results of the same names are cut by that column (the
    overview's KPIs for one channel are the channels page's KPIs of that channel)."""
    ranged: Builder | None = None
    """The results without monthly rows that a month range gets from the stored paths by month
    (attribution), rather than from the event tables."""
    cut: Cutter | None = None
    """The page's KPI results cut by more columns: a run stores them cut by campaign and by each
    of `[ui] segment_filters`, so that those filters read aggregates."""


def _overview(ws: Workspace, view: View) -> list[Result]:
    return [*_overview_kpis(ws, view), ws.goals()]


def _overview_kpis(ws: Workspace, view: View, by: tuple[str, ...] = ()) -> list[Result]:
    kpis = _kpis(ws, HEADLINE_KPIS, view, by=by, alerts=True)
    return [kpis, *kpis.parts]


def _channels(ws: Workspace, view: View) -> list[Result]:
    sales = ws.kpis(["revenue", "orders", "average_basket"], by=["sales_channel"], grain="month",
                    since=view.since, until=view.until)  # fmt: skip
    online = replace(_wide(sales, "sales_channel"), name="sales_channels",
                     title="Sales channels (online and offline) by month")  # fmt: skip
    return [*_channel_kpis(ws, view), *_channel_value(ws, view), online]


def _channel_kpis(ws: Workspace, view: View, by: tuple[str, ...] = ()) -> list[Result]:
    monthly = _kpis(ws, CHANNEL_KPIS, view, by=("channel", *by), alerts=True)
    return [monthly, *monthly.parts]


def _channel_value(ws: Workspace, view: View) -> list[Result]:
    value = _attributed(ws, view, "channel", ["last_touch", "linear"], spend=True)
    return [replace(value, name="channel_value", parts=(),
                    title="Conversions and revenue credited to each channel, its spend, "
                    "cost per conversion, ROAS and CAC")]  # fmt: skip


def _attribution(ws: Workspace, view: View) -> list[Result]:
    return [*_credit(ws, view), ws.influence()]


def _credit(ws: Workspace, view: View) -> list[Result]:
    credit = _attributed(ws, view, "channel", list(ATTRIBUTION_MODELS), compare=True,
                         intervals=INTERVALS)  # fmt: skip
    campaigns = _attributed(ws, view, "campaign", ["last_touch", "linear", "markov"])
    return [credit, *credit.parts, replace(campaigns, name="campaign_credit")]


def _attributed(ws: Workspace, view: View, key: str, models: list[str], **options: Any) -> Result:
    """The attribution of the view's months (and segment) by `key`, from the paths the last run
    stored when there are. From stored paths, the notes on what the data can support (which
    read the journeys) are the run's: `_ranged` adds them. A result of a segment's journeys
    says so in its figures (`segment`), and so do its parts."""
    paths = _paths(ws, key, view.segment)
    found = ws.attribution(models, by=[key], since=view.since, until=view.until, paths=paths,
                           support=paths is None or not (view.dated or view.segment),
                           segment=view.segment if paths is None else None,
                           **options)  # fmt: skip
    if view.segment is None:
        return found
    mark = {"segment": "=".join(view.segment)}
    title = found.title.split(", persons with")[0]
    return replace(
        found,
        title=f"{title}, persons with {view.segment[0]} = {view.segment[1]}",
        figures={**found.figures, **mark},
        parts=tuple(replace(p, figures={**p.figures, **mark}) for p in found.parts),
    )


def _paths(ws: Workspace, key: str, segment: tuple[str, str] | None = None) -> ir.Table | None:
    """The paths by conversion month the last run stored, of the segment's persons when one is
    asked for (None: none stored, read the journeys)."""
    name = f"agg_paths_{key}" + (SEGMENT_PATHS if segment else "")
    if name not in ws.warehouse.backend.list_tables():
        return None
    paths = ws.warehouse.table(name)
    if segment is None:
        return paths
    column, value = segment
    if not paths.filter(paths.segment_column == column).limit(1).to_pyarrow().num_rows:
        return None  # not a column of [ui] segment_filters when the run stored them
    return paths.filter((paths.segment_column == column) & (paths.segment_value == value))


def _journeys(ws: Workspace, view: View) -> list[Result]:
    paths = ws.journeys(build="events" not in ws.warehouse.tables())
    return [paths["funnel"], paths, *(p for p in paths.parts if p.name != "funnel")]


def _customers(ws: Workspace, view: View) -> list[Result]:
    mix = ws.segments("channel_mix")
    return [ws.segments("rfm_segment"), replace(mix, name="channel_mix")]


def _goals(ws: Workspace, view: View) -> list[Result]:
    return [ws.goals()]


def _maturity(ws: Workspace, view: View) -> list[Result]:
    score = ws.maturity(compare=date.today() - timedelta(days=PROGRESS_DAYS))
    return [score["dimensions"], score, *(p for p in score.parts if p.name != "dimensions")]


def _quality(ws: Workspace, view: View) -> list[Result]:
    # Match rates join orders to the identity graph (seconds on a large warehouse) and change
    # only with a run: the maturity page shows them as of the last run.
    quality = ws.quality(match_rates=False).with_notes(
        "Match rates (orders and store orders of identified customers): see the maturity page."
    )
    return [quality, *quality.parts]


TOP_CUSTOMERS = 100
"""Customers shown on the value page (highest CLV first; `omnimetrics clv --out` has them all)."""


def _value(ws: Workspace, view: View) -> list[Result]:
    """Cohorts, lifetime value (its parameters, by acquisition channel, by channel mix, the top
    customers) and the omnichannel comparison; a part the data cannot support says why."""
    results = [ws.cohorts()]
    try:
        value = ws.clv()
    except OmnimetricsError as exc:  # e.g. too few repeat buyers yet
        results.append(_cannot("clv_params", "Customer lifetime value", exc))
    else:
        top = value.table.slice(0, TOP_CUSTOMERS)
        results += [
            *value.parts,
            replace(
                value, table=top, parts=(), title=f"The {TOP_CUSTOMERS} customers of highest CLV"
            ),
        ]
    try:
        omni = ws.omni_value()
        strata = omni.part("omni_strata")
        shown = strata.where(matched=True).with_notes(
            f"The {strata.where(matched=True).num_rows} strata holding both groups, of "
            f"{strata.num_rows} (`ws.omni_value()` has them all)."
        )
        results += [replace(omni, parts=()), shown]
    except OmnimetricsError as exc:  # e.g. no omnichannel customer before the cut
        results.append(_cannot("omni_value", "Omnichannel vs single-channel value", exc))
    return results


EXPERIMENT_METRICS = ("conversion", "revenue", "average_basket", "click_rate")
"""The metrics the experiments page analyses each test on (those the data can give)."""


def _experiments(ws: Workspace, view: View) -> list[Result]:
    """Each test of `experiment_assignments` on each metric of EXPERIMENT_METRICS the data can
    give: one row per variant against control (its lift, interval, chance to win, decision),
    and the sample ratio check of each test."""
    listed = ws.experiments()
    rows, checks, notes = [], [], []
    for name in listed.table.column("experiment").to_pylist():
        for metric in EXPERIMENT_METRICS:
            try:
                found = ws.experiment(name, metric)
            except OmnimetricsError as exc:  # e.g. no email touches for the click rate
                notes.append(f"{name}, {metric}: {exc}")
                continue
            tag = {"experiment": name, "measure": metric}
            rows.append(_tagged(found.table, tag))
            if metric == EXPERIMENT_METRICS[0]:
                checks.append(_tagged(found.part("experiment_srm").table, {"experiment": name}))
    if not rows:
        why = "; ".join(notes) or "load experiment_assignments (omnimetrics ingest)"
        return [listed, _cannot("experiment_results", "Tests", OmnimetricsError(why))]
    results = Result.of("experiment_results", "Each variant against control, by test and metric",
                        pa.concat_tables(rows, promote_options="permissive"),
                        notes=tuple(notes))  # fmt: skip
    srm = Result.of("experiment_srm", "Sample ratio check (units against the planned split)",
                    pa.concat_tables(checks, promote_options="permissive"))  # fmt: skip
    return [listed, results, srm]


def _mix(ws: Workspace, view: View) -> list[Result]:
    """The mix model of the weekly sales (per channel: contribution, ROI, marginal ROI; the
    weekly decomposition, response curves, diagnostics, the omnichannel plan against
    single-channel plans, online and offline effects), the budget it recommends, and each
    channel's attribution credit beside its incremental sales; what the data cannot support
    says why."""
    try:
        model = ws.mmm(budget=MIX_BUDGET_CHANGE)  # one fit for the model and its budget
    except OmnimetricsError as exc:  # e.g. no spend, or too few weeks yet
        return [_cannot("mmm", "Marketing mix model", exc)]
    try:
        reconciled = ws.reconcile(mix=model, paths=_paths(ws, "channel"))
    except OmnimetricsError as exc:  # e.g. no journeys yet
        reconciled = _cannot("reconcile", "Attribution and mix model", exc)
    return [replace(model, parts=()), *model.parts, reconciled]


MIX_BUDGET_CHANGE = 0.3
"""The mix page's budget: each channel within 30% of its current spend (`ws.budget`'s default)."""


def _tagged(table: pa.Table, columns: Mapping[str, str]) -> pa.Table:
    """The table with constant columns in front."""
    for position, (name, value) in enumerate(columns.items()):
        table = table.add_column(position, name, pa.array([value] * table.num_rows, pa.string()))
    return table


def _cannot(name: str, title: str, error: Exception) -> Result:
    """A result the data cannot give yet: why, as its one row and its note."""
    return Result.of(name, title, pa.table({"note": [str(error)]}), notes=(str(error),))


JOURNEY_RESULTS = frozenset({"funnel", "paths", "ropo", "transitions", "exits", "lengths",
                             "time_to_convert"})  # fmt: skip
VALUE_RESULTS = frozenset({"cohorts", "clv", "clv_params", "clv_by_channel", "clv_by_mix",
                           "omni_value", "omni_strata"})  # fmt: skip
"""The value page's results: customers as of the last run, not flows of the months asked."""
EXPERIMENT_RESULTS = frozenset({"experiments", "experiment_results", "experiment_srm"})
"""Each test over its whole run, from each unit's assignment."""
MIX_RESULTS = frozenset({"mmm", "mmm_decomposition", "mmm_response", "mmm_diagnostics",
                         "mmm_plans", "mmm_split", "budget", "budget_summary",
                         "reconcile"})  # fmt: skip
"""The mix model of every whole week of the data (a model, not a flow of the months asked)."""
PAGES: dict[str, Page] = {p.name: p for p in (
    Page("overview", "Overview", _overview, frozenset({"goals"}), {"channel": "channels"},
         cut=_overview_kpis),
    Page("channels", "Channels", _channels, ranged=_channel_value, cut=_channel_kpis),
    Page("attribution", "Attribution", _attribution, frozenset({"influence"}),
         ranged=_credit),
    Page("journeys", "Journeys", _journeys, JOURNEY_RESULTS),
    Page("customers", "Customers", _customers, frozenset({"segments", "channel_mix"})),
    Page("value", "Customer value", _value, VALUE_RESULTS),
    Page("experiments", "Experiments", _experiments, EXPERIMENT_RESULTS),
    Page("mix", "Mix model", _mix, MIX_RESULTS),
    Page("goals", "Goals", _goals, frozenset({"goals"})),
    Page("maturity", "Maturity", _maturity,
         frozenset({"dimensions", "maturity", "progress", "models"})),
    Page("quality", "Data quality", _quality, frozenset({"quality", "ingest",
                                                          "quarantine_reasons"})),
)}  # fmt: skip
LIVE_PAGES = frozenset({"quality"})
"""Pages always computed live: freshness must be now, not as of the last run."""


def _kpis(ws: Workspace, names: tuple[str, ...], view: View, by: tuple[str, ...] = (),
          alerts: bool = False) -> Result:  # fmt: skip
    """Monthly KPIs of the view: cut by the filtered columns, then kept to their values."""
    cut = list(dict.fromkeys([*by, *view.rows]))
    result = ws.kpis(list(names), by=cut, grain="month", since=view.since, until=view.until,
                     alerts=alerts)  # fmt: skip
    if view.rows:
        kept = result.where(**view.rows)
        parts = tuple(p.where(**{k: v for k, v in view.rows.items() if k in p.columns})
                      for p in result.parts)  # fmt: skip
        result = replace(kept, parts=parts)
    return result


def _wide(result: Result, by: str) -> Result:
    """KPIs as one row per period and `by` value and one column per KPI."""
    keys = ("period", by)
    rows: dict[tuple[object, ...], dict[str, object]] = {}
    for record in result.to_records():
        key = tuple(record[k] for k in keys)
        rows.setdefault(key, dict(zip(keys, key, strict=True)))[record["kpi"]] = record["value"]
    kpis = list(dict.fromkeys(r["kpi"] for r in result.to_records()))
    columns = {k: [r[k] for r in rows.values()] for k in keys}
    columns |= {k: [r.get(k) for r in rows.values()] for k in kpis}
    return replace(result, table=pa.table(columns), parts=())


# -- stored by a run --------------------------------------------------------------------------
def store_pages(ws: Workspace, run_id: str) -> dict[str, str]:
    """Compute every page's results, and its KPIs cut by each column of `cut_columns`, and
    store them; page (or `<page>_by_<column>`) -> why it could not be made ('')."""
    from omnimetrics.metrics.facts import shared_persons
    from omnimetrics.workspace.pipeline import storable

    wh, index, why = ws.warehouse, [], {}
    builds: list[tuple[str, Callable[[], list[Result]]]] = [
        (page.name, lambda page=page: page.build(ws, View()))
        for page in PAGES.values() if page.name not in LIVE_PAGES
    ]  # fmt: skip
    builds += [(f"{page.name}{BY}{column}", lambda page=page, c=column: page.cut(ws, View(), (c,)))
               for page in PAGES.values() if page.cut is not None
               for column in cut_columns(ws)]  # fmt: skip
    with shared_persons():  # the segments of the persons: computed once for every cut
        made = {PAGES_TABLE, *store_paths(ws, run_id)}
        for key, build in builds:
            try:
                results = build()
            except OmnimetricsError as exc:  # e.g. no orders yet: the others are still stored
                why[key] = str(exc)
                index.append(_entry(run_id, key, -1, "", "", (str(exc),), {}))
                continue
            why[key] = ""
            for position, result in enumerate(results):
                wh.replace_table(f"agg_{key}_{result.name}", storable(result.table, run_id))
                index.append(_entry(run_id, key, position, result.name, result.title,
                                    result.notes, result.figures))  # fmt: skip
    wh.replace_table(PAGES_TABLE, pa.Table.from_pylist(index, schema=_INDEX))
    made |= {f"agg_{e['page']}_{e['result']}" for e in index}
    for stale in [t for t in wh.backend.list_tables() if t.startswith("agg_") and t not in made]:
        wh.backend.drop_table(stale)  # a result the pages no longer show, or an older layout
    return why


def cut_columns(ws: Workspace) -> tuple[str, ...]:
    """The columns a run stores the pages' KPIs cut by: campaign and `[ui] segment_filters`."""
    return ("campaign", *ws.settings.ui.segment_filters)


def store_paths(ws: Workspace, run_id: str) -> list[str]:
    """Store the journeys' distinct paths by conversion month of each key of PATH_KEYS, and by
    month and segment (`agg_paths_<key>_segments`: `segment_column` and `segment_value`, for
    each column of `[ui] segment_filters`), from one pass over the journeys; the tables made
    (none when the journeys cannot be read yet: the pages say why)."""
    import ibis

    from omnimetrics import journeys as jr
    from omnimetrics.attribution import journey_rows, relabelled, summed_paths
    from omnimetrics.metrics.facts import Facts

    wh, made = ws.warehouse, []
    try:  # one query per part: both at once may not fit the engine's memory limit
        journeys = wh.materialize(journey_rows(jr.journey_touches(wh), jr.conversions(wh),
                                               by=PATH_KEYS))  # fmt: skip
        wh.insert(
            journeys.op().name,
            journey_rows(None, non_converting=jr.non_conversion_touches(wh), by=PATH_KEYS),
        )
    except OmnimetricsError:
        journeys = None
    if journeys is not None:
        tables = {"": (summed_paths(journeys), ())}
        persons = Facts(wh, grain="total").persons
        columns = [c for c in ws.settings.ui.segment_filters if c in persons.columns]
        if columns:
            cuts = [summed_paths(journeys.left_join(
                persons.select("person_id", segment_value=persons[column].cast("string")),
                "person_id",
            ).mutate(segment_column=ibis.literal(column)), SEGMENT_GROUPS)
                for column in columns]  # fmt: skip
            tables[SEGMENT_PATHS] = (ibis.union(*cuts), SEGMENT_GROUPS)
        for suffix, (rows, groups) in tables.items():
            for key in PATH_KEYS:
                name = f"agg_paths_{key}{suffix}"
                kept = relabelled(rows, PATH_KEYS, [key], groups)  # stored in the engine
                wh.replace_table(name, kept.mutate(run_id=ibis.literal(run_id)))
                made.append(name)
        wh.drop(journeys)
    for name in {t for t in wh.backend.list_tables() if t.startswith("agg_paths_")} - set(made):
        wh.backend.drop_table(name)  # no page reads an older run's
    return made


_INDEX = pa.schema([("run_id", pa.string()), ("page", pa.string()), ("position", pa.int32()),
                    ("result", pa.string()), ("title", pa.string()), ("notes", pa.string()),
                    ("figures", pa.string())])  # fmt: skip


def _entry(run_id: str, page: str, position: int, name: str, title: str,
           notes: tuple[str, ...], figures: object) -> dict[str, object]:  # fmt: skip
    return {"run_id": run_id, "page": page, "position": position, "result": name,
            "title": title, "notes": json.dumps(list(notes)),
            "figures": json.dumps(figures, default=str)}  # fmt: skip


def stored_results(ws: Workspace, page: str) -> list[Result] | None:
    """The page's results as the last run stored them; None when no run stored them."""
    wh = ws.warehouse
    if PAGES_TABLE not in wh.backend.list_tables():
        return None
    index = wh.table(PAGES_TABLE)
    entries = sorted(index.filter(index.page == page).to_pyarrow().to_pylist(),
                     key=lambda e: e["position"])  # fmt: skip
    if not entries:
        return None
    if entries[0]["position"] < 0:
        raise OmnimetricsError(json.loads(entries[0]["notes"])[0])
    results = []
    for entry in entries:
        table = wh.table(f"agg_{page}_{entry['result']}").to_pyarrow().drop_columns(["run_id"])
        results.append(Result(entry["result"], entry["title"], table,
                              figures=json.loads(entry["figures"]),
                              notes=tuple(json.loads(entry["notes"]))))  # fmt: skip
    return results


def page_results(ws: Workspace, name: str, view: View = View()) -> list[Result]:
    """The results of page `name` for `view`: stored by the last run where they answer it
    exactly, computed live otherwise (noted)."""
    page = PAGES[name]
    stored = None if name in LIVE_PAGES else stored_results(ws, name)
    if stored is not None and view.rows:
        stored = _cut(stored, set(view.rows), _donor(ws, page, view))
    answered = None if stored is None else [_narrow(r, view, page) for r in stored]
    if (
        answered is not None
        and page.ranged is not None
        and (view.segment or (view.dated and None in answered))
    ):
        answered = _ranged(ws, view, page, stored, answered)  # type: ignore[arg-type]
    if answered is not None and all(r is not None for r in answered):
        return answered  # type: ignore[return-value]
    results = [_noted(_where(r, view), view, page) for r in page.build(ws, view)]
    if stored is not None:
        note = "Computed live for these filters (the last run stored the unfiltered view)."
        results = [r.with_notes(note) for r in results]
    return results


def _ranged(ws: Workspace, view: View, page: Page, stored: list[Result],
            answered: list[Result | None]) -> list[Result | None]:  # fmt: skip
    """The results a month range cannot narrow, or that a segment cuts, attributed from the
    stored paths of its months (and segment), when the last run stored them."""
    suffix = SEGMENT_PATHS if view.segment else ""
    tables = {f"agg_paths_{key}{suffix}" for key in PATH_KEYS}
    if not tables <= set(ws.warehouse.backend.list_tables()):
        return answered
    if view.segment and _paths(ws, PATH_KEYS[0], view.segment) is None:
        return answered  # not in [ui] segment_filters: the run's results, noted as not cut
    from omnimetrics.workspace.measures import SUPPORT_NOTE

    assert page.ranged is not None
    built = {r.name: r for r in page.ranged(ws, view)}
    for result in stored:  # what the data supports: of the whole history, as the run found it
        if result.name in built:
            notes = [n for n in result.notes if n.startswith(SUPPORT_NOTE)]
            built[result.name] = built[result.name].with_notes(*notes)
    return [_noted(_where(built[s.name], view), view, page)
            if (a is None or view.segment) and s.name in built
            else a for s, a in zip(stored, answered, strict=True)]  # fmt: skip


def _donor(ws: Workspace, page: Page, view: View) -> list[Result]:
    """The stored results whose KPIs are cut by every filtered column of the view: another
    page's (the overview of a channel is the channels page's), or a page's stored cut by one
    column (`<page>_by_<column>`); none when no run stored such a cut."""
    bases = [page.name, *(page.cuts[c] for c in view.rows if c in page.cuts)]
    for key in [*bases[1:], *(f"{b}{BY}{c}" for b in bases for c in view.rows)]:
        try:
            results = stored_results(ws, key) or []
        except OmnimetricsError:  # that cut could not be stored: the view is computed live
            continue
        kpis = next((r for r in results if r.name == "kpis"), None)
        if kpis is not None and set(view.rows) <= set(kpis.columns):
            return results
    return []


def _cut(results: list[Result], columns: set[str], donor: list[Result]) -> list[Result]:
    """Each KPI result lacking `columns` replaced by the donor's result of the same name, kept
    to the same KPIs; the KPIs the donor lacks (not cut by those columns) are named."""
    found = {r.name: r for r in donor}
    main = next((r for r in results if r.name == "kpis"), None)
    wanted = set(main.table.column("kpi").to_pylist()) if main is not None else set()
    cut = []
    for result in results:
        other = found.get(result.name)
        if other is None or columns <= set(result.columns) or "kpi" not in result.columns:
            cut.append(result)
            continue
        kpis = wanted or set(result.table.column("kpi").to_pylist())  # alerts: of the same KPIs
        names = other.table.column("kpi").cast(pa.string())
        kept = other.table.filter(pc.is_in(names, pa.array(sorted(kpis), pa.string())))
        lacking = sorted(kpis - set(kept.column("kpi").to_pylist()))
        notes = (
            (f"Not cut by {', '.join(sorted(columns))}: {', '.join(lacking)}.",)
            if lacking and result is main
            else ()
        )
        cut.append(replace(result, table=kept, notes=(*other.notes, *notes)))
    return cut


def _narrow(result: Result, view: View, page: Page) -> Result | None:
    """A stored result kept to the view, or None when only a live computation can answer."""
    if view.dated and result.name not in page.undated:
        if "period" not in result.columns:
            return None
        period = result.table.column("period")
        keep = pc.is_valid(period)
        if view.since:
            keep = pc.and_(keep, pc.greater_equal(period, pa.scalar(view.since).cast(period.type)))
        if view.until:
            keep = pc.and_(keep, pc.less_equal(period, pa.scalar(view.until).cast(period.type)))
        result = replace(result, table=result.table.filter(keep))
    missing = [k for k in view.rows if k not in result.columns]
    if missing and result.name not in page.undated and result.name in _CUT_BY_FILTERS:
        return None
    return _noted(_where(result, view), view, page)


def _where(result: Result, view: View) -> Result:
    return result.where(**{k: v for k, v in view.rows.items() if k in result.columns})


_CUT_BY_FILTERS = frozenset({"kpis", "alerts"})
"""Results the builders cut by a filtered column (the rest show the filters they lack)."""


def _noted(result: Result, view: View, page: Page) -> Result:
    """Name the filters that do not apply to the result, so nothing is silently ignored."""
    lacking = [
        f"{k}={v}"
        for k, v in view.rows.items()
        if k not in result.columns and result.figures.get("segment") != f"{k}={v}"
    ]
    if view.dated and result.name in page.undated:
        lacking.append("the month range")
    if not lacking:
        return result
    return result.with_notes(f"Not filtered by {', '.join(lacking)}: this table has no such cut.")
