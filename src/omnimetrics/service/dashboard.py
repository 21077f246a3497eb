"""The dashboard: server-rendered pages of charts, served by `omnimetrics serve` at /dashboard
(read key: a browser asks for it as the user name).

A thin shell: what a page shows is `omnimetrics.pages` (stored by the last run, so a page view
reads aggregates), every chart is `omnimetrics.charts`, every word `omnimetrics.labels` in the
language of `[ui]`. No CDN: Plotly's JavaScript is served from the installed package. The
filters (a month range, a channel, a campaign, a segment as `name:value`) are query
parameters, so a view is a URL to share, and every table downloads as CSV with the same filters.
"""

from __future__ import annotations

import contextlib
import html
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlencode

import pyarrow.csv as pacsv
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from omnimetrics.charts import CHARTS, PALETTE
from omnimetrics.errors import OmnimetricsError
from omnimetrics.labels import kpi_label, label, section_label
from omnimetrics.pages import HEADLINE_KPIS, PAGES, View, page_results
from omnimetrics.report import change_text, html_table, latest_whole, number, summary_lines
from omnimetrics.results import Result
from omnimetrics.service.keys import read_access
from omnimetrics.service.problems import Problem

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from omnimetrics.workspace import Workspace

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False,
                   dependencies=[Depends(read_access)])  # fmt: skip
FILTERS = ("since", "until", "channel", "campaign", "segment")


def view_of(
    since: Annotated[str | None, Query()] = None,
    until: Annotated[str | None, Query()] = None,
    channel: Annotated[str | None, Query()] = None,
    campaign: Annotated[str | None, Query()] = None,
    segment: Annotated[str | None, Query()] = None,
) -> View:
    try:
        return View.of(since, until, channel=channel, campaign=campaign, segment=segment)
    except OmnimetricsError as exc:
        raise Problem(422, "invalid_filter", str(exc), "Pick months in the filter form.") from None


def _results(request: Request, page: str, view: View) -> list[Result]:
    if page not in PAGES:
        raise Problem(404, "not_found", f"No dashboard page {page!r}.",
                      f"Open one of: {', '.join(PAGES)}.")  # fmt: skip
    with request.app.state.read_lock:
        return page_results(request.app.state.workspace, page, view)


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return FileResponse(path, media_type="text/javascript",
                        headers={"Cache-Control": "max-age=86400"})  # fmt: skip


@router.get("", response_class=HTMLResponse)
@router.get("/{page}", response_class=HTMLResponse)
def page_view(
    request: Request,
    view: Annotated[View, Depends(view_of)],
    page: str = "overview",
    person: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """One page: its charts and tables, for the filters of the URL."""
    ws: Workspace = request.app.state.workspace
    language = ws.settings.ui.language
    try:
        results = _results(request, page, view)
        blocks = [_tiles(results, language)] if page == "overview" else []
        blocks += [_block(page, r, request, language) for r in results if r.name != "alerts"]
        if page == "customers":
            blocks.insert(0, _timeline(request, person, language))
        body = "".join(blocks)
    except OmnimetricsError as exc:
        why = label("not_available_with_filters", language).format(reason=exc)
        body = f"<p class='note'>{html.escape(why)}</p>"
    return HTMLResponse(_layout(page, view, request, body, language))


@router.get("/{page}/{part}.csv")
def csv_download(
    request: Request, page: str, part: str, view: Annotated[View, Depends(view_of)]
) -> Response:
    """A table of a page as CSV, with the page's filters."""
    for result in _results(request, page, view):
        if result.name == part:
            out = io.BytesIO()
            pacsv.write_csv(result.table, out)
            disposition = f'attachment; filename="{page}-{part}.csv"'
            return Response(out.getvalue(), media_type="text/csv",
                            headers={"Content-Disposition": disposition})  # fmt: skip
    raise Problem(404, "not_found", f"No table {part!r} on the {page} page.",
                  "Use the CSV link under a table.")  # fmt: skip


# -- pieces of a page -------------------------------------------------------------------------
def _block(page: str, result: Result, request: Request, language: str) -> str:
    title = result.title if language == "en" else section_label(result.name, language)
    parts = [f"<section id='{html.escape(result.name)}'><h2>{html.escape(title)}</h2>"]
    if result.name in CHARTS and result.num_rows:
        with contextlib.suppress(OmnimetricsError):  # a chart that cannot draw: the table stays
            parts.append(_chart(result.plot(), title=""))
    if result.num_rows:
        parts.append(html_table(result, title=False, language=language))
        query = request.url.query
        link = f"/dashboard/{page}/{result.name}.csv" + (f"?{query}" if query else "")
        parts.append(f"<p><a class='csv' href='{html.escape(link)}' download>"
                     f"{label('download_csv', language)}</a></p>")  # fmt: skip
    else:
        parts.append(f"<p class='note'>{label('no_data_in_view', language)}</p>")
    parts += [f"<p class='note'>{html.escape(n)}</p>" for n in result.notes[:4]]
    if result.figures and page == "quality":
        parts.append(_figures(result.figures))
    parts.append("</section>")
    return "".join(parts)


def _chart(figure: go.Figure, title: str | None = None, height: int | None = None,
           static: bool = False) -> str:  # fmt: skip
    if title is not None:
        figure.update_layout(title=title or None)
    if height:
        figure.update_layout(height=height)
    config = {"displaylogo": False, "responsive": True, "staticPlot": static}
    inner = figure.to_html(full_html=False, include_plotlyjs=False, config=config)
    return f"<div class='chart'>{inner}</div>"


def _figures(figures: dict) -> str:
    items = "".join(
        f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(number(v, 'share'))}</dd>"
        for k, v in figures.items()
        if isinstance(v, int | float)
    )
    return f"<dl class='figures'>{items}</dl>" if items else ""


def _tiles(results: list[Result], language: str) -> str:
    """A tile per headline KPI: the latest month, its change, a sparkline, its goal, its alert."""
    from omnimetrics.metrics.kpi_catalogue import KPIS

    kpis = next((r for r in results if r.name == "kpis"), None)
    if kpis is None or not kpis.num_rows:
        return ""
    rows = [r for r in kpis.to_records() if not _missing(r["value"])]
    goals = next((r for r in results if r.name == "goals"), None)
    goal_rows = goals.to_records() if goals is not None and "kpi" in goals.columns else []
    alerts = next((r for r in results if r.name == "alerts"), None)
    alert_rows = alerts.to_records() if alerts is not None else []
    tiles = []
    for kpi in HEADLINE_KPIS:
        mine = sorted((r for r in rows if r["kpi"] == kpi), key=lambda r: r["period"])
        if not mine:
            continue
        last, unit = latest_whole(mine), KPIS[kpi].unit
        shown_rows = [r for r in mine if r["period"] <= last["period"]]
        change = ""
        if not _missing(last["change"]):
            better = (last["change"] > 0) == KPIS[kpi].higher_is_better
            shown = change_text(last["change"], last["change_kind"], unit, language)
            change = (f"<span class='change {'good' if better else 'bad'}'>{shown} "
                      f"{label('change_vs_previous', language)}</span>")  # fmt: skip
        goal = next((g for g in goal_rows if g.get("kpi") == kpi), None)
        alert = next((a for a in alert_rows if a["kpi"] == kpi and a["period"] == last["period"]),
                     None)  # fmt: skip
        tiles.append(
            f"<div class='tile' data-kpi='{kpi}' data-value='{last['value']!r}' "
            f"data-period='{last['period']}'><h3>{html.escape(kpi_label(kpi, language))}</h3>"
            f"<p class='value'>{html.escape(number(last['value'], unit, language))}</p>"
            f"<p class='period'>{last['period']:%Y-%m} {change}</p>"
            + "".join(f"<p class='period so-far'>{r['period']:%Y-%m} {label('so_far', language)}"
                      f": {html.escape(number(r['value'], unit, language))}</p>"
                      for r in mine if r["period"] > last["period"])
            + f"{_sparkline(shown_rows, unit)}{_goal_bar(goal, language)}"
            + (f"<p class='alert'>{label('alert', language)}: "
               f"{number(alert['low'], unit)} - {number(alert['high'], unit)}</p>"
               if alert else "")
            + "</div>"
        )  # fmt: skip
    lines = summary_lines(kpis, alerts, None, language)
    changed = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    what = f"<h2>{label('what_changed', language)}</h2><ul>{changed}</ul>" if changed else ""
    return f"<section id='tiles'><div class='tiles'>{''.join(tiles)}</div>{what}</section>"


def _sparkline(rows: list[dict], unit: str) -> str:
    import plotly.graph_objects as go

    from omnimetrics.charts import UNIT_FORMATS

    shown = rows[-12:]
    hover = f"%{{x|%b %Y}}: %{{y:{UNIT_FORMATS[unit]}}}<extra></extra>"
    figure = go.Figure(go.Scatter(
        x=[r["period"] for r in shown], y=[r["value"] for r in shown], mode="lines",
        line={"color": PALETTE[0], "width": 2}, hovertemplate=hover,
    ))  # fmt: skip
    figure.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, showlegend=False,
                         xaxis={"visible": False}, yaxis={"visible": False},
                         template="plotly_white")  # fmt: skip
    figure.update_layout(width=200, autosize=False)  # the tile's width, not the page's
    return _chart(figure, height=60)


def _goal_bar(goal: dict | None, language: str) -> str:
    """How far a goal on the tile's KPI has come (0 to 100%: a KPI below its baseline shows 0)."""
    if goal is None or _missing(goal.get("progress")):
        return ""
    done = max(0.0, min(float(goal["progress"]), 1.0))
    status = label(f"goal_{goal.get('status')}", language)
    return (f"<div class='goal' title='{html.escape(str(goal.get('goal')))}'>"
            f"<div class='bar'><span style='width:{done:.0%}'></span></div>"
            f"<p>{label('goal', language)}: {number(done, 'share', language)} ({status})</p>"
            "</div>")  # fmt: skip


def _timeline(request: Request, person: str | None, language: str) -> str:
    value = html.escape(person or "")
    hint = label("person_placeholder", language)
    form = (f"<form id='timeline-search' method='get'><label>{label('person', language)} "
            f"<input name='person' value='{value}' placeholder='{hint}'></label> "
            f"<button type='submit'>{label('search', language)}</button></form>")  # fmt: skip
    if not person:
        return f"<section id='search'>{form}</section>"
    try:
        with request.app.state.read_lock:
            timeline = request.app.state.workspace.timeline(person)
    except OmnimetricsError as exc:
        return f"<section id='search'>{form}<p class='note'>{html.escape(str(exc))}</p></section>"
    table = html_table(timeline, limit=200, language=language)
    notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in timeline.notes)
    return f"<section id='search'>{form}</section><section id='timeline'>{table}{notes}</section>"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _layout(page: str, view: View, request: Request, body: str, language: str) -> str:
    current = {k: request.query_params.get(k, "") for k in FILTERS}
    keep = urlencode({k: v for k, v in current.items() if v})
    nav = " ".join(
        f"<a href='/dashboard/{name}{'?' + keep if keep else ''}'"
        f"{' class=current' if name == page else ''}>{label(name, language)}</a>"
        for name in PAGES
    )
    kinds = {"since": "month", "until": "month"}
    inputs = "".join(
        f"<label>{label(name, language)} <input name='{name}' type='{kinds.get(name, 'text')}' "
        f"value='{html.escape(current[name][:7] if name in kinds else current[name])}'"
        + (" placeholder='rfm_segment:champions'" if name == "segment" else "")
        + "></label> "
        for name in FILTERS
    )
    title = label(page, language) if page in PAGES else "Dashboard"
    return f"""<!doctype html>
<html lang="{language}"><head><meta charset="utf-8"><title>omnimetrics: {title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<script src="/dashboard/static/plotly.min.js"></script>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1rem 2rem; color: #222; }}
nav a {{ margin-right: 0.8rem; }} nav a.current {{ font-weight: bold; }}
form {{ margin: 0.6rem 0; }} label {{ margin-right: 0.6rem; }}
table {{ border-collapse: collapse; font-size: 0.85rem; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
section {{ margin-bottom: 2rem; }}
.note {{ color: #555; font-size: 0.85rem; }}
.tiles {{ display: flex; flex-wrap: wrap; gap: 1rem; }}
.tile {{ border: 1px solid #ddd; border-radius: 6px; padding: 0.6rem 0.9rem; flex: 1 1 11rem;
         max-width: 16rem; }}
.tile h3 {{ margin: 0; font-size: 0.9rem; color: #555; }}
.tile .value {{ font-size: 1.6rem; margin: 0.2rem 0; }}
.tile .period {{ margin: 0; font-size: 0.8rem; color: #555; }}
.change.good {{ color: {PALETTE[2]}; }} .change.bad {{ color: {PALETTE[3]}; }}
.alert {{ color: {PALETTE[3]}; font-size: 0.8rem; margin: 0.2rem 0; }}
.goal .bar {{ background: #eee; height: 6px; border-radius: 3px; }}
.goal .bar span {{ display: block; height: 6px; border-radius: 3px; background: {PALETTE[0]}; }}
.goal p {{ margin: 0.2rem 0 0; font-size: 0.8rem; }}
dl.figures dt {{ font-weight: bold; }}
</style></head><body>
<nav>{nav}</nav>
<form id="filters" method="get">{inputs}
<button id="apply" type="submit">{label("apply", language)}</button>
<a href="/dashboard/{page}">{label("reset", language)}</a></form>
<h1>{title}</h1>
{body}
</body></html>"""
