"""Pictures of results: one Plotly figure per kind of `Result`, for notebooks, the dashboard and
the report alike (`result.plot()`).

A chart reads only the result's own table (the numbers shown are the numbers returned), uses the
Okabe-Ito palette (told apart with every common colour-vision deficiency), and formats values
with their unit: amounts with two decimals, shares as percentages, counts as whole numbers.

    >>> import pyarrow as pa
    >>> from omnimetrics.results import Result
    >>> sizes = pa.table({"rfm_segment": ["champions", "lost"], "persons": [12, 30]})
    >>> figure = Result("segments", "Persons by rfm_segment", sizes).plot()
    >>> list(figure.data[0].y)
    [12, 30]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from omnimetrics.errors import UnknownNameError, did_you_mean
from omnimetrics.registry import Registry

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from omnimetrics.results import Result

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
"""Okabe & Ito (2008), "Color Universal Design": distinct for deuteranopes, protanopes and
tritanopes alike."""

UNIT_FORMATS = {"currency": ",.2f", "share": ".1%", "count": ",.0f", "ratio": ",.2f",
                "score": ",.1f", "seconds": ",.0f"}  # fmt: skip
"""d3-format of a value by unit (the KPI catalogue's units)."""

Chart = Callable[["Result"], "go.Figure"]
CHARTS: Registry[Chart] = Registry("chart")
"""A chart per result name: what `Result.plot()` draws."""


def chart(name: str) -> Callable[[Chart], Chart]:
    """Declare the chart of the results called `name`."""

    def add(draw: Chart) -> Chart:
        CHARTS.add(name, draw)
        return draw

    return add


def plot(result: Result) -> go.Figure:
    """The figure of a result; a clear error for a result with no picture."""
    if result.name not in CHARTS:
        raise UnknownNameError(
            f"No chart for {result.name!r} results. " + did_you_mean(result.name, CHARTS)
        )
    figure = CHARTS[result.name](result)
    figure.update_layout(
        title=result.title, colorway=list(PALETTE), template="plotly_white",
        legend_title_text="", margin={"l": 60, "r": 20, "t": 60, "b": 50},
    )  # fmt: skip
    return figure


def _figure() -> go.Figure:
    import plotly.graph_objects as go

    return go.Figure()


def _unit(kpi: str) -> str:
    from omnimetrics.metrics.kpi_catalogue import KPIS

    return KPIS[kpi].unit if kpi in KPIS else "ratio"


def _label(kpi: str) -> str:
    from omnimetrics.metrics.kpi_catalogue import KPIS

    return KPIS[kpi].label if kpi in KPIS else kpi


@chart("kpis")
def kpi_trends(result: Result) -> go.Figure:
    """Each KPI over its periods, a line per value of the dimension (one panel per KPI)."""
    from plotly.subplots import make_subplots

    rows = result.to_records()
    kpis = list(dict.fromkeys(r["kpi"] for r in rows))
    extra = [c for c in result.columns if c not in _KPI_COLUMNS]
    figure = make_subplots(rows=len(kpis) or 1, cols=1, shared_xaxes=True,
                           subplot_titles=[_label(k) for k in kpis])  # fmt: skip
    for number, kpi in enumerate(kpis, start=1):
        mine = [r for r in rows if r["kpi"] == kpi]
        groups = _groups(mine, extra)
        for colour, (name, points) in enumerate(groups.items()):
            points.sort(key=lambda r: r["period"])
            figure.add_scatter(
                x=[r["period"] for r in points], y=[r["value"] for r in points], name=name,
                mode="lines+markers", legendgroup=name, showlegend=number == 1,
                line={"color": PALETTE[colour % len(PALETTE)]}, row=number, col=1,
                hovertemplate=f"%{{x}}: %{{y:{UNIT_FORMATS[_unit(kpi)]}}}<extra>{name}</extra>",
            )  # fmt: skip
        figure.update_yaxes(tickformat=UNIT_FORMATS[_unit(kpi)], row=number, col=1)
    figure.update_layout(height=max(320, 260 * len(kpis)))
    return figure


_KPI_COLUMNS = {"kpi", "period", "value", "persons", "previous", "change", "change_kind",
                "change_note", "flag", "suppressed"}  # fmt: skip


def _groups(rows: list[dict[str, Any]], by: list[str]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        name = " / ".join(str(row[c]) for c in by) if by else "all"
        groups.setdefault(name, []).append(row)
    return groups


@chart("attribution")
def attribution_models(result: Result) -> go.Figure:
    """Share of credit of each channel (or campaign) under each model, side by side."""
    rows = result.to_records()
    key = next(c for c in result.columns if c not in ("model", "conversions", "revenue", "share",
                                                          "additive"))  # fmt: skip
    figure = _figure()
    for colour, model in enumerate(dict.fromkeys(r["model"] for r in rows)):
        mine = [r for r in rows if r["model"] == model]
        figure.add_bar(
            x=[r[key] for r in mine], y=[r["share"] for r in mine], name=model,
            marker_color=PALETTE[colour % len(PALETTE)],
            customdata=[r["conversions"] for r in mine],
            hovertemplate="%{x}: %{y:.1%} of conversions (%{customdata:,.1f})"
            f"<extra>{model}</extra>",
        )  # fmt: skip
    figure.update_layout(barmode="group", yaxis_tickformat=".0%", yaxis_title="share of credit")
    return figure


@chart("funnel")
def funnel(result: Result) -> go.Figure:
    """Persons at each step, with the share kept from the step before."""
    import plotly.graph_objects as go

    rows = result.to_records()
    return go.Figure(go.Funnel(
        y=[r["step"] for r in rows], x=[r["persons"] for r in rows],
        textinfo="value+percent previous", marker={"color": PALETTE[0]},
    ))  # fmt: skip


@chart("segments")
def segment_sizes(result: Result) -> go.Figure:
    """Persons per value of a segment."""
    if "persons" not in result.columns:  # the most responsive segments of a campaign
        raise UnknownNameError(f"No chart for {result.title!r}: plot persons per segment.")
    key = result.columns[0]
    rows = result.to_records()
    figure = _figure()
    figure.add_bar(
        x=[str(r[key]) for r in rows],
        y=[r["persons"] for r in rows],
        marker_color=PALETTE[0],
        hovertemplate="%{x}: %{y:,} persons<extra></extra>",
    )
    figure.update_layout(xaxis_title=key, yaxis_title="persons")
    return figure


@chart("dimensions")
def maturity_dimensions(result: Result) -> go.Figure:
    """The maturity score of each dimension, out of 100."""
    rows = result.to_records()
    figure = _figure()
    figure.add_bar(
        y=[r["dimension"] for r in rows],
        x=[r["score"] for r in rows],
        orientation="h",
        marker_color=PALETTE[2],
        hovertemplate="%{y}: %{x:.0f} / 100<extra></extra>",
    )
    figure.update_layout(xaxis_range=[0, 100], xaxis_title="score (0-100)")
    return figure
