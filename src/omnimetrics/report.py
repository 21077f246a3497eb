"""`omnimetrics report --out report.html`: one self-contained HTML file (Plotly's JavaScript
inside, so it opens offline) with a written summary and a section per question: KPIs,
attribution, journeys, customers, maturity, data quality.

A shell over the `Workspace`: every number comes from its methods, every chart from
`omnimetrics.charts`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from omnimetrics.errors import OmnimetricsError
from omnimetrics.results import Result

if TYPE_CHECKING:
    from omnimetrics.workspace import Workspace

HEADLINE_KPIS = ("revenue", "orders", "conversion_rate", "average_basket", "retention_rate")
ROWS_SHOWN = 12


@dataclass(frozen=True)
class Section:
    title: str
    results: tuple[Result, ...]
    failed: str = ""
    """Why the section could not be made (its question refused), shown instead."""


def write_report(ws: Workspace, path: str | Path) -> Path:
    """Write the report of `ws` to `path` (an .html file) and return the path."""
    sections = _sections(ws)
    quality = next((s.results[0] for s in sections if s.title == "Data quality" and s.results),
                   None)  # fmt: skip
    summary = _summary(ws, quality)
    out = Path(path)
    out.write_text(_page(sections, summary), encoding="utf-8")
    return out


def _sections(ws: Workspace) -> list[Section]:
    def section(title: str, make) -> Section:  # type: ignore[no-untyped-def]
        try:
            made = make()
        except OmnimetricsError as exc:
            return Section(title, (), failed=str(exc))
        return Section(title, made if isinstance(made, tuple) else (made,))

    def journeys() -> tuple[Result, ...]:
        paths = ws.journeys(build="events" not in ws.warehouse.tables())
        return (paths["funnel"], paths, paths["ropo"])

    def maturity() -> tuple[Result, ...]:
        score = ws.maturity()
        return (score["dimensions"], score)

    return [
        section("KPIs by month", lambda: ws.kpis(list(HEADLINE_KPIS), grain="month")),
        section("Attribution: the models side by side",
                lambda: ws.attribution(["last_touch", "linear", "position_based", "markov"])),
        section("Journeys", journeys),
        section("Customers", lambda: ws.segments("rfm_segment")),
        section("Omnichannel maturity", maturity),
        section("Data quality", ws.quality),
    ]  # fmt: skip


def _summary(ws: Workspace, quality: Result | None) -> list[str]:
    """What changed last month and what needs attention, in sentences."""
    lines: list[str] = []
    try:
        kpis = ws.kpis(list(HEADLINE_KPIS), grain="month", alerts=True)
    except OmnimetricsError as exc:
        return [f"No KPIs yet: {exc}"]
    latest: dict[str, dict] = {}
    for row in kpis.to_records():
        if row["kpi"] not in latest or row["period"] > latest[row["kpi"]]["period"]:
            latest[row["kpi"]] = row
    for kpi in HEADLINE_KPIS:
        row = latest.get(kpi)
        if row is None or row["change"] is None or _missing(row["change"]):
            continue
        lines.append(_change_sentence(kpi, row))
    alerts = kpis["alerts"].to_records() if kpis.parts else []
    for alert in alerts[-3:]:
        lines.append(
            f"Attention: {alert['kpi']} in {alert['period']:%B %Y} was {_number(alert['value'])}, "
            f"outside its expected range ({_number(alert['low'])} to {_number(alert['high'])})."
        )
    reasons = quality["quarantine_reasons"].to_records() if quality is not None else []
    quarantined = sum(r["rows"] for r in reasons)
    if quarantined:
        lines.append(f"Data: {quarantined:,} rows are in quarantine; see the data quality section.")
    return lines


def _change_sentence(kpi: str, row: dict) -> str:
    from omnimetrics.metrics.kpi_catalogue import KPIS

    definition = KPIS[kpi]
    month = f"{row['period']:%B %Y}"
    if row["change_kind"] == "points":
        change = f"{row['change'] * 100:+.1f} points" if definition.unit == "share" else (
            f"{row['change']:+.2f}")  # fmt: skip
    else:
        change = f"{row['change']:+.1%}"
    value = _number(row["value"], definition.unit)
    better = (row["change"] > 0) == definition.higher_is_better
    verdict = "better" if better else "worse"
    return f"{definition.label} in {month}: {value} ({change} on the month before, {verdict})."


def _missing(value: float) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _number(value: float, unit: str = "ratio") -> str:
    if value is None or _missing(value):
        return "n/a"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _page(sections: list[Section], summary: list[str]) -> str:
    from omnimetrics.charts import CHARTS

    body: list[str] = []
    include = True  # Plotly's JavaScript once, in the first chart: the file stands alone
    for section in sections:
        body.append(f"<section><h2>{html.escape(section.title)}</h2>")
        if section.failed:
            body.append(f"<p class='note'>Not available: {html.escape(section.failed)}</p>")
        for result in section.results:
            if result.name in CHARTS and result.num_rows:
                figure = result.plot()
                body.append(figure.to_html(full_html=False, include_plotlyjs=include))
                include = False
            body.append(html_table(result))
            body += [f"<p class='note'>{html.escape(n)}</p>" for n in result.notes[:3]]
        body.append("</section>")
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    points = "".join(f"<li>{html.escape(line)}</li>" for line in summary) or "<li>Nothing yet.</li>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>omnimetrics report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.note {{ color: #555; font-size: 0.9rem; }}
</style></head>
<body>
<h1>omnimetrics report</h1>
<p class="note">Made {made}.</p>
<section><h2>Summary</h2><ul>{points}</ul></section>
{"".join(body)}
</body></html>
"""


def html_table(result: Result) -> str:
    """The first rows of a result's table as HTML (the rest: its CSV)."""
    table = result.table.slice(0, ROWS_SHOWN)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.column_names)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row.values()) + "</tr>"
        for row in table.to_pylist()
    )
    more = result.num_rows - table.num_rows
    tail = f"<p class='note'>{more:,} more rows (--out with the CLI).</p>" if more > 0 else ""
    return f"<h3>{html.escape(result.title)}</h3><table><tr>{head}</tr>{rows}</table>{tail}"


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)
