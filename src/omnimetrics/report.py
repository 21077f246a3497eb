"""`omnimetrics report --out report.html`: one self-contained HTML file (Plotly's JavaScript
inside, so it opens offline) with a written summary and a section per dashboard page.

A shell like the dashboard: the sections are `omnimetrics.pages` (read from the last run where
it stored them), every chart is `omnimetrics.charts`, every word `omnimetrics.labels`.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from omnimetrics.errors import OmnimetricsError
from omnimetrics.labels import column_label, kpi_label, label, month_label, section_label
from omnimetrics.pages import HEADLINE_KPIS, PAGES, page_results
from omnimetrics.results import Result
from omnimetrics.workspace.experiments import DECISION_COLUMNS
from omnimetrics.workspace.mix import RECONCILE_SHOWN

if TYPE_CHECKING:
    from omnimetrics.workspace import Workspace

__all__ = ["HEADLINE_KPIS", "change_text", "html_table", "number", "summary_lines", "write_report"]
ROWS_SHOWN = 12


def write_report(ws: Workspace, path: str | Path) -> Path:
    """Write the report of `ws` to `path` (an .html file) and return the path."""
    language = ws.settings.ui.language
    sections: list[tuple[str, list[Result], str]] = []
    for name in PAGES:
        try:
            sections.append((name, page_results(ws, name), ""))
        except OmnimetricsError as exc:
            sections.append((name, [], str(exc)))
    found = {r.name: r for page, results, _ in sections for r in results
             if page == "overview" or r.name == "quarantine_reasons"}  # fmt: skip
    summary = summary_lines(found.get("kpis"), found.get("alerts"), found.get("quarantine_reasons"),
                            language)  # fmt: skip
    out = Path(path)
    out.write_text(_page(sections, summary, language), encoding="utf-8")
    return out


def summary_lines(kpis: Result | None, alerts: Result | None, reasons: Result | None,
                  language: str = "en") -> list[str]:  # fmt: skip
    """What changed in the last month and what needs attention, in sentences."""
    if kpis is None or not kpis.num_rows:
        return [label("no_data", language)]
    lines: list[str] = []
    rows = kpis.to_records()
    for kpi in HEADLINE_KPIS:
        row = latest_whole([r for r in rows if r["kpi"] == kpi])
        if row is None or row["change"] is None or _missing(row["change"]):
            continue
        lines.append(change_sentence(kpi, row, language))
    for alert in (alerts.to_records() if alerts is not None else [])[-3:]:
        lines.append(label("alert_sentence", language).format(
            kpi=kpi_label(alert["kpi"], language), month=_month(alert["period"], language),
            value=number(alert["value"]), low=number(alert["low"]), high=number(alert["high"]),
        ))  # fmt: skip
    quarantined = sum(r["rows"] for r in reasons.to_records()) if reasons is not None else 0
    if quarantined:
        lines.append(label("quarantine_sentence", language).format(rows=f"{quarantined:,}"))
    return lines


def latest_whole(rows: list[dict]) -> dict | None:
    """The latest row of a KPI's periods that the data covers whole (the month in progress is
    not compared with a whole one), else the latest."""
    rows = sorted(rows, key=lambda r: r["period"])
    whole = [r for r in rows if not r.get("partial")]
    return (whole or rows or [None])[-1]


def change_sentence(kpi: str, row: dict, language: str = "en") -> str:
    """'Revenue in March 2026: 1,500.00 (-25.0% on the month before, worse).'"""
    from omnimetrics.metrics.kpi_catalogue import KPIS

    definition = KPIS[kpi]
    change = change_text(row["change"], row["change_kind"], definition.unit, language)
    better = (row["change"] > 0) == definition.higher_is_better
    return label("change_sentence", language).format(
        kpi=kpi_label(kpi, language), month=_month(row["period"], language),
        value=number(row["value"], definition.unit), change=change,
        verdict=label("better" if better else "worse", language),
    )  # fmt: skip


def change_text(change: float, kind: str | None, unit: str, language: str = "en") -> str:
    """A change on the period before as written: relative in percent ("-25.0%"), a share's
    change in points ("+2.1 points"), another score's in its own unit ("+0.12")."""
    if kind != "points":
        return f"{change:+.1%}"
    if unit == "share":
        return f"{change * 100:+.1f} {label('points', language)}"
    return f"{change:+.2f}"


def _month(day: object, language: str) -> str:
    return month_label(day, language) if isinstance(day, date) else str(day)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value: object, unit: str = "ratio", language: str = "en") -> str:
    """A value written with its unit: shares as percentages, counts whole, amounts with cents;
    in French, "1 234,50" and "12,3 %"."""
    if _missing(value):
        return label("missing_value", language)
    if not isinstance(value, int | float):
        return str(value)
    if unit == "share":
        text = f"{value:.1%}"
    elif unit == "count":
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.2f}"
    return _french(text) if language == "fr" else text


def _in(language: str, text: str, value: object) -> str:
    """A number's text in `language` (other cells as they are)."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return _french(text) if language == "fr" and numeric else text


def _french(text: str) -> str:
    """English digits to French: thin spaces between thousands, a decimal comma, "12,3 %"."""
    text = text.replace(",", "\u202f").replace(".", ",")
    return text[:-1] + "\u202f%" if text.endswith("%") else text


def _page(sections: list[tuple[str, list[Result], str]], summary: list[str], language: str) -> str:
    from omnimetrics.charts import CHARTS

    body: list[str] = []
    include = True  # Plotly's JavaScript once, in the first chart: the file stands alone
    for name, results, failed in sections:
        body.append(f"<section><h2>{html.escape(label(name, language))}</h2>")
        if failed:
            why = label("not_available_because", language).format(reason=failed)
            body.append(f"<p class='note'>{html.escape(why)}</p>")
        for result in results:
            if result.name in CHARTS and result.num_rows:
                try:
                    figure = result.plot()
                except OmnimetricsError:
                    figure = None
                if figure is not None:
                    body.append(figure.to_html(full_html=False, include_plotlyjs=include))
                    include = False
            body.append(html_table(result, language=language))
            body += [f"<p class='note'>{html.escape(n)}</p>" for n in result.notes[:3]]
        body.append("</section>")
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    points = "".join(f"<li>{html.escape(line)}</li>" for line in summary)
    return f"""<!doctype html>
<html lang="{language}"><head><meta charset="utf-8">
<title>{label("report_title", language)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.note {{ color: #555; font-size: 0.9rem; }}
</style></head>
<body>
<h1>{label("report_title", language)}</h1>
<p class="note">{label("made_at", language).format(when=made)}</p>
<section><h2>{label("summary", language)}</h2><ul>{points}</ul></section>
{"".join(body)}
</body></html>
"""


def html_table(result: Result, *, title: bool = True, limit: int = ROWS_SHOWN,
               language: str = "en") -> str:  # fmt: skip
    """The first rows of a result's table as HTML, values with their unit (the rest: its CSV)."""
    table = result.table.slice(0, limit)
    shown = [c for c in SHOWN_COLUMNS.get(result.name, ()) if c in table.column_names]
    if shown:  # (a result the data could not give has its reason only)
        table = table.select(shown)
    kept = [
        c
        for c in table.column_names
        if c not in _HIDDEN
        and table.column(c).null_count < table.num_rows
        and not _all_false(table.column(c))
    ]  # the CSV keeps them all
    table = table.select(kept or table.column_names)
    shares = result.name == "shares"  # one column per model, each a share of the credit
    head = "".join(f"<th>{html.escape(column_label(c, language))}</th>"
                   for c in table.column_names)  # fmt: skip
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(_in(language, _cell(row, c, v, shares), v))}</td>"
            for c, v in row.items()
        )
        + "</tr>"
        for row in table.to_pylist()
    )
    more = result.num_rows - table.num_rows
    tail = (f"<p class='note'>{label('more_rows', language).format(count=f'{more:,}')}</p>"
            if more > 0 else "")  # fmt: skip
    shown = result.title if language == "en" else section_label(result.name, language)
    heading = f"<h3>{html.escape(shown)}</h3>" if title else ""
    return f"{heading}<table><tr>{head}</tr>{rows}</table>{tail}"


SHOWN_COLUMNS = {
    "experiment_results": ("experiment", "measure", *DECISION_COLUMNS),
    "reconcile": RECONCILE_SHOWN,
}
"""Results whose page shows these columns only (the CSV has them all)."""
_HIDDEN = frozenset({"change_kind", "run_id"})
"""Columns a table on a page leaves to its CSV (the change is already written with its kind)."""


def _all_false(column) -> bool:  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.compute as pc

    return pa.types.is_boolean(column.type) and not pc.any(column).as_py()


_SHARE_COLUMNS = ("share", "rate", "coverage", "probability", "progress", "shift", "lift_rel",
                  "rel_ci", "chance_to_win")  # fmt: skip


def _cell(row: dict, column: str, value: object, share: bool = False) -> str:
    """A cell with its unit: a KPI's value by the KPI's unit, shares and rates as percentages."""
    from omnimetrics.metrics.kpi_catalogue import KPIS

    if _missing(value):
        return ""
    if not isinstance(value, float):
        whole = isinstance(value, int) and not isinstance(value, bool)
        return f"{value:,}" if whole else str(value)
    kpi = KPIS.get(row.get("kpi")) if "kpi" in row else KPIS.get(column)  # type: ignore[arg-type]
    if kpi is not None and column in ("value", "previous", kpi.name):
        return number(value, kpi.unit)
    if column == "change" and kpi is not None:
        return change_text(value, row.get("change_kind"), kpi.unit)
    if share:
        return f"{value:.1%}"
    if column in ("spearman", "kendall"):
        return f"{value:.2f}"
    if any(column.endswith(s) or column.startswith(s) for s in _SHARE_COLUMNS):
        return f"{value:.1%}"
    return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
