"""The dashboard: server-rendered pages of charts over the `Workspace`, served by
`omnimetrics serve` at /dashboard (read key: a browser asks for it as the user name).

No CDN: Plotly's JavaScript is served from the installed package. Filters (`since`, `until`,
`channel`, `campaign`) are query parameters, so a view is a URL to share; every table of a page
downloads as CSV with the same filters.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pyarrow.csv as pacsv
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from omnimetrics.charts import CHARTS
from omnimetrics.errors import OmnimetricsError
from omnimetrics.report import HEADLINE_KPIS, html_table
from omnimetrics.results import Result
from omnimetrics.service.keys import read_access
from omnimetrics.service.problems import Problem

if TYPE_CHECKING:
    from omnimetrics.workspace import Workspace

Filters = dict[str, object]
Page = tuple[str, Callable[["Workspace", Filters], list[Result]]]


def _overview(ws: Workspace, f: Filters) -> list[Result]:
    kpis = ws.kpis(list(HEADLINE_KPIS), grain="month", since=f["since"], until=f["until"])
    return [kpis, ws.goals()]


def _channels(ws: Workspace, f: Filters) -> list[Result]:
    names = ["revenue", "orders", "average_basket", "conversion_rate"]
    return [ws.kpis(names, by=["channel"], grain="month", since=f["since"], until=f["until"])]


def _attribution(ws: Workspace, f: Filters) -> list[Result]:
    models = ["last_touch", "first_touch", "linear", "position_based", "markov"]
    credit = ws.attribution(models, since=f["since"], until=f["until"], compare=True)
    return [credit, *credit.parts, ws.influence()]


def _journeys(ws: Workspace, f: Filters) -> list[Result]:
    paths = ws.journeys(build="events" not in ws.warehouse.tables())
    return [paths["funnel"], paths, *(p for p in paths.parts if p.name != "funnel")]


def _customers(ws: Workspace, f: Filters) -> list[Result]:
    return [ws.segments("rfm_segment")]


def _maturity(ws: Workspace, f: Filters) -> list[Result]:
    score = ws.maturity()
    return [score["dimensions"], score, *(p for p in score.parts if p.name != "dimensions")]


def _quality(ws: Workspace, f: Filters) -> list[Result]:
    quality = ws.quality()
    return [quality, *quality.parts]


PAGES: dict[str, Page] = {
    "overview": ("Overview", _overview),
    "channels": ("Channels", _channels),
    "attribution": ("Attribution", _attribution),
    "journeys": ("Journeys", _journeys),
    "customers": ("Customers", _customers),
    "maturity": ("Maturity", _maturity),
    "quality": ("Data quality", _quality),
}

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False,
                   dependencies=[Depends(read_access)])  # fmt: skip


def filters(
    since: Annotated[date | None, Query()] = None,
    until: Annotated[date | None, Query()] = None,
    channel: Annotated[str | None, Query()] = None,
    campaign: Annotated[str | None, Query()] = None,
) -> Filters:
    return {"since": since, "until": until, "channel": channel, "campaign": campaign}


def _results(request: Request, page: str, f: Filters) -> list[Result]:
    if page not in PAGES:
        raise Problem(404, "not_found", f"No dashboard page {page!r}.",
                      f"Open one of: {', '.join(PAGES)}.")  # fmt: skip
    with request.app.state.read_lock:
        results = PAGES[page][1](request.app.state.workspace, f)
    rows = {k: v for k, v in f.items() if k in ("channel", "campaign") and v}
    return [r.where(**{k: v for k, v in rows.items() if k in r.columns}) for r in results]


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return FileResponse(path, media_type="text/javascript",
                        headers={"Cache-Control": "max-age=86400"})  # fmt: skip


@router.get("", response_class=HTMLResponse)
@router.get("/{page}", response_class=HTMLResponse)
def page_view(
    request: Request, f: Annotated[Filters, Depends(filters)], page: str = "overview"
) -> HTMLResponse:
    """One page: its charts and tables, with the filters of the URL."""
    try:
        results = _results(request, page, f)
        body = "".join(_block(page, r, request) for r in results)
    except OmnimetricsError as exc:
        body = f"<p class='note'>Not available with these filters: {html.escape(str(exc))}</p>"
    return HTMLResponse(_layout(page, f, body))


@router.get("/{page}/{part}.csv")
def csv_download(
    request: Request, page: str, part: str, f: Annotated[Filters, Depends(filters)]
) -> Response:
    """A table of a page as CSV, with the page's filters."""
    for result in _results(request, page, f):
        if result.name == part:
            out = io.BytesIO()
            pacsv.write_csv(result.table, out)
            disposition = f'attachment; filename="{page}-{part}.csv"'
            return Response(out.getvalue(), media_type="text/csv",
                            headers={"Content-Disposition": disposition})  # fmt: skip
    raise Problem(404, "not_found", f"No table {part!r} on the {page} page.",
                  "Use the CSV link under a table.")  # fmt: skip


def _block(page: str, result: Result, request: Request) -> str:
    parts = [f"<section id='{html.escape(result.name)}'>"]
    if result.name in CHARTS and result.num_rows:
        try:
            figure = result.plot()
            parts.append(figure.to_html(full_html=False, include_plotlyjs=False))
        except OmnimetricsError:
            pass
    parts.append(html_table(result))
    query = request.url.query
    link = f"/dashboard/{page}/{result.name}.csv" + (f"?{query}" if query else "")
    parts.append(f"<p><a class='csv' href='{html.escape(link)}'>CSV</a></p>")
    parts += [f"<p class='note'>{html.escape(n)}</p>" for n in result.notes[:3]]
    parts.append("</section>")
    return "".join(parts)


DATE, TEXT = "date", "text"


def _layout(page: str, f: Filters, body: str) -> str:
    nav = " | ".join(
        f"<a href='/dashboard/{name}'{' class=current' if name == page else ''}>{title}</a>"
        for name, (title, _) in PAGES.items()
    )
    inputs = "".join(
        f"<label>{name} <input name='{name}' type='{DATE if name in ('since', 'until') else TEXT}' "
        f"value='{html.escape(str(value or ''))}'></label> "
        for name, value in f.items()
    )
    title = PAGES.get(page, ("Dashboard",))[0]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>omnimetrics: {title}</title>
<script src="/dashboard/static/plotly.min.js"></script>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1rem 2rem; color: #222; }}
nav a {{ margin-right: 0.3rem; }} nav a.current {{ font-weight: bold; }}
table {{ border-collapse: collapse; font-size: 0.85rem; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right; }}
.note {{ color: #555; font-size: 0.85rem; }}
</style></head><body>
<nav>{nav}</nav>
<form method="get">{inputs}<button type="submit">Apply</button></form>
<h1>{title}</h1>
{body}
</body></html>"""
