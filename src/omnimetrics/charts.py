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
from itertools import pairwise
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


def _need(result: Result, *columns: str) -> None:
    """Refuse a result that lacks the columns its chart reads, naming them."""
    missing = [c for c in columns if c not in result.columns]
    if missing:
        raise UnknownNameError(
            f"No chart for {result.title!r}: a {result.name!r} chart needs the columns "
            f"{missing}; it has {result.columns}."
        )


def _values(result: Result, column: str) -> list[Any]:
    return result.table.column(column).to_pylist()


def _shown(value: Any, unit: str) -> str:
    """A value as text in its unit's format ("n/a" when missing)."""
    if value is None or value != value:  # NaN
        return "n/a"
    return format(value, UNIT_FORMATS[unit])  # the d3 formats used are Python's too


def _colour(number: int) -> str:
    return PALETTE[number % len(PALETTE)]


def _scale(colour: str) -> list[list[Any]]:
    """A sequential colour scale from white to one palette colour (for heatmaps)."""
    return [[0.0, "#FFFFFF"], [1.0, colour]]


@chart("kpis")
def kpi_trends(result: Result) -> go.Figure:
    """Each KPI over its periods, a line per value of the dimension (one panel per KPI); a
    partial period (the month in progress) has an open marker."""
    from plotly.subplots import make_subplots

    _need(result, "kpi", "period", "value")
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
                # a period the data covers only in part (the month in progress): open marker
                marker={"symbol": ["circle-open" if r.get("partial") else "circle"
                                   for r in points]},
                hovertemplate=f"%{{x}}: %{{y:{UNIT_FORMATS[_unit(kpi)]}}}<extra>{name}</extra>",
            )  # fmt: skip
        figure.update_yaxes(tickformat=UNIT_FORMATS[_unit(kpi)], row=number, col=1)
    figure.update_layout(height=max(320, 260 * len(kpis)))
    if _monthly(_values(result, "period")):
        figure.update_xaxes(tickformat="%b %Y", dtick="M1")
    return figure


def _monthly(periods: list[Any]) -> bool:
    """Whether periods are months: all on the 1st, the closest two one month apart (a single
    period could as well be a quarter, a year or the whole range: not told as a month)."""
    days = sorted({p for p in periods if p is not None})
    if len(days) < 2 or any(getattr(d, "day", None) != 1 for d in days):
        return False
    months = [d.year * 12 + d.month for d in days]
    return min(b - a for a, b in pairwise(months)) == 1


_KPI_COLUMNS = {"kpi", "period", "value", "persons", "previous", "change", "change_kind",
                "change_note", "flag", "suppressed", "partial"}  # fmt: skip


def _groups(rows: list[dict[str, Any]], by: list[str]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        name = " / ".join(str(row[c]) for c in by) if by else "all"
        groups.setdefault(name, []).append(row)
    return groups


@chart("attribution")
@chart("campaign_credit")
def attribution_models(result: Result) -> go.Figure:
    """Share of credit of each channel (or campaign) under each model, side by side."""
    _need(result, "model", "share", "conversions")
    rows = result.to_records()
    key = next(c for c in result.columns if c not in _ATTRIBUTION_VALUES)
    bands = {"share_low", "share_high"} <= set(result.columns)  # asked with intervals > 0
    figure = _figure()
    for colour, model in enumerate(dict.fromkeys(r["model"] for r in rows)):
        mine = [r for r in rows if r["model"] == model]
        shares = [r["share"] for r in mine]
        errors = _bars_to(shares, [r["share_low"] for r in mine],
                          [r["share_high"] for r in mine]) if bands else None  # fmt: skip
        figure.add_bar(
            x=[r[key] for r in mine], y=shares, name=model, error_y=errors,
            marker_color=_colour(colour),
            customdata=[[r["conversions"], r.get("share_low"), r.get("share_high")] for r in mine],
            hovertemplate="%{x}: %{y:.1%} of conversions (%{customdata[0]:,.1f})"
            + (" interval %{customdata[1]:.1%} to %{customdata[2]:.1%}" if bands else "")
            + f"<extra>{model}</extra>",
        )  # fmt: skip
    figure.update_layout(barmode="group", yaxis_tickformat=".0%", yaxis_title="share of credit")
    return figure


def _bars_to(values: list[float], low: list[float], high: list[float]) -> dict[str, Any]:
    """Error bars drawn from `low` to `high` around each value (Plotly takes the distances)."""
    return {"type": "data", "symmetric": False, "color": PALETTE[-1], "thickness": 1,
            "array": [h - v for v, h in zip(values, high, strict=True)],
            "arrayminus": [v - lo for v, lo in zip(values, low, strict=True)]}  # fmt: skip


_ATTRIBUTION_VALUES = ("model", "conversions", "revenue", "share", "additive", "conversions_low",
                       "conversions_high", "share_low", "share_high")  # fmt: skip


@chart("funnel")
def funnel(result: Result) -> go.Figure:
    """Persons at each step, with the share kept from the step before."""
    import plotly.graph_objects as go

    _need(result, "step", "persons")
    rows = result.to_records()
    names = [f"{r['step']}. {r['event_type']}" if r.get("event_type") else str(r["step"])
             for r in rows]  # fmt: skip
    return go.Figure(go.Funnel(
        y=names, x=[r["persons"] for r in rows],
        textinfo="value+percent previous", marker={"color": PALETTE[0]},
    ))  # fmt: skip


@chart("segments")
@chart("channel_mix")
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
    _need(result, "dimension", "score")
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


# -- journeys ------------------------------------------------------------------------------------
SANKEY_DEPTH = 4
"""Touches of a path drawn in the Sankey; later ones are folded into the last drawn one."""


@chart("paths")
def path_flows(result: Result) -> go.Figure:
    """Conversions flowing through the first touches of the top paths ("a > b > c"), to one
    "conversion" node; conversions without a touch flow from a "(none)" node."""
    import pandas as pd
    import plotly.graph_objects as go

    _need(result, "path", "conversions")
    paths = pd.DataFrame({"touch": _values(result, "path"),
                          "conversions": _values(result, "conversions")})  # fmt: skip
    paths = paths[paths.conversions > 0]
    paths["touch"] = paths.touch.str.split(" > ").str[:SANKEY_DEPTH]
    steps = paths.explode("touch")
    steps["position"] = steps.groupby(level=0).cumcount() + 1
    steps["node"] = steps.position.astype(str) + ". " + steps.touch
    steps["next"] = steps.groupby(level=0).node.shift(-1).fillna("conversion")
    links = steps.groupby(["node", "next"], sort=False).conversions.sum().reset_index()
    nodes = steps.drop_duplicates("node")[["node", "touch", "position"]]
    channels = list(dict.fromkeys(nodes.touch))
    names = [*nodes.node, "conversion"]
    index = {name: number for number, name in enumerate(names)}
    colours = [PALETTE[channels.index(t) % (len(PALETTE) - 1)] for t in nodes.touch]
    return go.Figure(go.Sankey(
        valueformat=",.0f", valuesuffix=" conversions",
        node={"label": [*nodes.touch, "conversion"], "color": [*colours, PALETTE[-1]],
              "customdata": [*(f"touch {p}" for p in nodes.position), "end of the paths"],
              "hovertemplate": "%{label} (%{customdata}): %{value:,.0f} conversions"
              "<extra></extra>"},
        link={"source": links.node.map(index).tolist(), "target": links.next.map(index).tolist(),
              "value": links.conversions.tolist()},
    ))  # fmt: skip


@chart("transitions")
def transition_counts(result: Result) -> go.Figure:
    """Moves from one channel (rows) to the next (columns) within journeys; a blank cell is a
    move not among the rows of the result."""
    pairs = [("channel", "next_channel"), ("from_state", "to_state")]  # journeys; a Markov model
    rows, columns = next((p for p in pairs if set(p) <= set(result.columns)), pairs[0])
    _need(result, rows, columns, "transitions")
    grid = result.to_pandas().pivot_table(index=rows, columns=columns, values="transitions",
                                          aggfunc="sum", sort=False)  # fmt: skip
    figure = _figure()
    figure.add_heatmap(
        z=_cells(grid), x=list(grid.columns), y=list(grid.index), colorscale=_scale(PALETTE[0]),
        zmin=0, texttemplate="%{z:,.0f}", colorbar={"title": "moves", "tickformat": ",.0f"},
        hovertemplate="%{y} then %{x}: %{z:,.0f} moves<extra></extra>",
    )  # fmt: skip
    figure.update_layout(xaxis_title="next", yaxis_title="from", yaxis_autorange="reversed")
    return figure


def _cells(grid: Any) -> list[list[Any]]:
    """A pivoted frame as nested lists, a missing cell as None (blank in a heatmap)."""
    return [[None if v != v else v for v in row] for row in grid.to_numpy(dtype=object).tolist()]


def _bucket_bars(result: Result, labels: list[str], count: str, noun: str) -> go.Figure:
    """Share of each bucket, in the result's row order, its count in the hover."""
    _need(result, *labels, count, "share")
    texts = [" ".join(str(v) for v in vs) for vs in zip(*(_values(result, c) for c in labels),
                                                       strict=True)]  # fmt: skip
    figure = _figure()
    figure.add_bar(
        x=texts, y=_values(result, "share"), customdata=_values(result, count),
        marker_color=PALETTE[0], texttemplate="%{y:.0%}",
        hovertemplate=f"%{{x}}: %{{y:.1%}} (%{{customdata:,.0f}} {noun})<extra></extra>",
    )  # fmt: skip
    figure.update_layout(xaxis={"type": "category", "categoryorder": "array",
                                "categoryarray": texts, "title": " ".join(labels)},
                         yaxis={"tickformat": ".0%", "title": f"share of {noun}"})  # fmt: skip
    return figure


@chart("time_to_convert")
def time_to_convert(result: Result) -> go.Figure:
    """Share of orders by time from the first touch to the order."""
    return _bucket_bars(result, ["time_to_convert"], "orders", "orders")


@chart("lengths")
def journey_lengths(result: Result) -> go.Figure:
    """Share of orders by the number of touches of their journey."""
    return _bucket_bars(result, ["touches"], "orders", "orders")


@chart("exits")
def journey_exits(result: Result) -> go.Figure:
    """Share of journeys without an order by the channel and event they stop at."""
    return _bucket_bars(result, ["channel", "event_type"], "journeys", "journeys")


@chart("ropo")
def ropo_rates(result: Result) -> go.Figure:
    """ROPO rate by channel, a bar per direction: only the `identified` rows (a lower bound),
    the one method given per channel in both directions and without an assumed match rate."""
    _need(result, "direction", "method", "channel", "rate", "orders")
    rows = [r for r in result.to_records() if r["method"] == "identified"]
    figure = _figure()
    for colour, direction in enumerate(dict.fromkeys(r["direction"] for r in rows)):
        mine = [r for r in rows if r["direction"] == direction]
        figure.add_bar(
            x=[r["channel"] for r in mine], y=[r["rate"] for r in mine], name=direction,
            marker_color=_colour(colour), customdata=[r["orders"] for r in mine],
            hovertemplate="%{x}: %{y:.1%} of %{customdata:,.0f} orders"
            f"<extra>{direction}</extra>",
        )  # fmt: skip
    figure.update_layout(barmode="group", yaxis_tickformat=".0%",
                         yaxis_title="orders preceded (lower bound)")  # fmt: skip
    return figure


# -- attribution ---------------------------------------------------------------------------------
@chart("influence")
def influence(result: Result) -> go.Figure:
    """Share of each sales channel's credit (rows) earned by each touch channel (columns)."""
    _need(result, "sales_channel", "channel", "share_of_sales_channel")
    grid = result.to_pandas().pivot_table(
        index="sales_channel", columns="channel", values="share_of_sales_channel",
        aggfunc="sum", sort=False,
    )  # fmt: skip
    figure = _figure()
    figure.add_heatmap(
        z=_cells(grid), x=list(grid.columns), y=list(grid.index), colorscale=_scale(PALETTE[0]),
        zmin=0, zmax=1, texttemplate="%{z:.0%}", colorbar={"tickformat": ".0%"},
        hovertemplate="%{x} earns %{z:.1%} of the credit of %{y} sales<extra></extra>",
    )  # fmt: skip
    figure.update_layout(xaxis_title="touch channel", yaxis_title="sales channel",
                         yaxis_autorange="reversed")  # fmt: skip
    return figure


@chart("disagreement")
def model_disagreement(result: Result) -> go.Figure:
    """Per channel, a line from the lowest to the highest share any model gives it, each end
    named by its model."""
    _need(result, "min_share", "lowest_model", "max_share", "highest_model")
    key = result.columns[0]
    keys = [str(k) for k in _values(result, key)]
    low, high = _values(result, "min_share"), _values(result, "max_share")
    figure = _figure()
    figure.add_scatter(
        x=[x for pair in zip(low, high, [None] * len(low), strict=True) for x in pair],
        y=[y for k in keys for y in (k, k, None)], mode="lines", showlegend=False,
        line={"color": PALETTE[-1], "width": 2}, hoverinfo="skip",
    )  # fmt: skip
    ends = (("lowest", low, "lowest_model", PALETTE[0]),
            ("highest", high, "highest_model", PALETTE[3]))  # fmt: skip
    for end, shares, models, colour in ends:
        figure.add_scatter(
            x=shares, y=keys, mode="markers", name=f"{end} share",
            customdata=_values(result, models), marker={"color": colour, "size": 10},
            hovertemplate=f"%{{y}}: %{{x:.1%}} ({end}: %{{customdata}})<extra></extra>",
        )  # fmt: skip
    figure.update_layout(xaxis_tickformat=".0%", xaxis_title="share of credit",
                         yaxis={"autorange": "reversed", "title": key})  # fmt: skip
    return figure


ROLE_SHARES = {"early_share": "opening", "middle_share": "middle", "late_share": "closing",
               "only_share": "only touch"}  # fmt: skip
"""The columns of `roles` stacked in its chart, and their names."""


@chart("roles")
def channel_roles(result: Result) -> go.Figure:
    """Where each channel's touches sit in journeys: opening, middle, closing or the only one."""
    _need(result, *ROLE_SHARES)
    key = result.columns[0]
    keys = [str(k) for k in _values(result, key)]
    figure = _figure()
    for colour, (column, name) in enumerate(ROLE_SHARES.items()):
        figure.add_bar(
            y=keys, x=_values(result, column), name=name, orientation="h",
            marker_color=PALETTE[colour],
            hovertemplate=f"%{{y}}: %{{x:.1%}} of its touches {name}<extra></extra>",
        )  # fmt: skip
    figure.update_layout(barmode="stack", xaxis={"tickformat": ".0%", "range": [0, 1]},
                         yaxis={"autorange": "reversed", "title": key})  # fmt: skip
    return figure


# -- data quality and goals ----------------------------------------------------------------------
INGEST_COUNTS = ("accepted", "duplicates", "quarantined", "suppressed")
"""What became of the rows read, stacked per table in the `ingest` chart."""


@chart("ingest")
def ingest_counts(result: Result) -> go.Figure:
    """Rows of each table accepted, dropped as duplicates, quarantined or suppressed."""
    key = "table_name" if "table_name" in result.columns else "table"  # ledger; a load
    _need(result, key, *INGEST_COUNTS)
    counts = result.to_pandas().groupby(key, sort=False)[list(INGEST_COUNTS)].sum()
    figure = _figure()
    for colour, column in enumerate(INGEST_COUNTS):
        figure.add_bar(
            x=[str(t) for t in counts.index], y=counts[column].tolist(), name=column,
            marker_color=PALETTE[colour],
            hovertemplate=f"%{{x}}: %{{y:,.0f}} rows {column}<extra></extra>",
        )  # fmt: skip
    figure.update_layout(barmode="stack", yaxis_tickformat=",.0f", yaxis_title="rows")
    return figure


@chart("quarantine_reasons")
def quarantine_reasons(result: Result) -> go.Figure:
    """Quarantined rows per table and reason."""
    _need(result, "table_name", "reason", "rows")
    labels = [f"{t}: {r}" for t, r in zip(_values(result, "table_name"),
                                          _values(result, "reason"), strict=True)]  # fmt: skip
    figure = _figure()
    figure.add_bar(
        y=labels, x=_values(result, "rows"), orientation="h", marker_color=PALETTE[3],
        hovertemplate="%{y}: %{x:,.0f} rows<extra></extra>",
    )  # fmt: skip
    figure.update_layout(xaxis_tickformat=",.0f", xaxis_title="rows quarantined",
                         yaxis_autorange="reversed")  # fmt: skip
    return figure


STATUS_COLOURS = {"met": PALETTE[2], "on_track": PALETTE[0], "at_risk": PALETTE[1],
                  "missed": PALETTE[3], "unknown": PALETTE[7]}  # fmt: skip
"""The colour of a goal's bar by its status (metrics.goal_progress.STATUSES)."""


@chart("goals")
def goal_progress(result: Result) -> go.Figure:
    """Each goal's progress from its baseline (0%) to its target (the 100% line), coloured by
    status when the result has one."""
    _need(result, "goal", "kpi", "progress", "current", "target")
    rows = result.to_records()
    told = "status" in result.columns
    statuses = [(r["status"] or "unknown") if told else "progress" for r in rows]
    figure = _figure()
    for status in dict.fromkeys(statuses):
        mine = [r for r, s in zip(rows, statuses, strict=True) if s == status]
        figure.add_bar(
            y=[r["goal"] for r in mine], x=[r["progress"] for r in mine], orientation="h",
            name=status.replace("_", " "), marker_color=STATUS_COLOURS.get(status, PALETTE[0]),
            texttemplate="%{x:.0%}",
            customdata=[[_shown(r["current"], _unit(r["kpi"])),
                         _shown(r["target"], _unit(r["kpi"]))] for r in mine],
            hovertemplate="%{y}: %{x:.0%} of the way (now %{customdata[0]}, target "
            f"%{{customdata[1]}})<extra>{status}</extra>",
        )  # fmt: skip
    figure.add_vline(x=1, line={"color": PALETTE[-1], "dash": "dash"},
                     annotation_text="target")  # fmt: skip
    figure.update_layout(
        xaxis={"tickformat": ".0%", "title": "progress from baseline to target"},
        yaxis={"autorange": "reversed", "categoryorder": "array",
               "categoryarray": [r["goal"] for r in rows]},
    )  # fmt: skip
    return figure


# -- customer value ------------------------------------------------------------------------------
@chart("cohorts")
def cohort_retention(result: Result) -> go.Figure:
    """Share of each acquisition cohort (rows) buying again in each period since (columns)."""
    _need(result, "cohort", "period", "rate")
    frame = result.to_pandas()
    extra = [c for c in frame.columns if c not in COHORT_VALUES]
    if extra:  # cut by a dimension: its first value's cohorts (the CSV has them all)
        frame = frame[frame[extra[0]].astype(str) == str(frame[extra[0]].iloc[0])]
    grid = frame.pivot_table(index="cohort", columns="period", values="rate", aggfunc="sum",
                             sort=True)  # fmt: skip
    figure = _figure()
    figure.add_heatmap(
        z=_cells(grid), x=[str(p) for p in grid.columns], y=[str(c) for c in grid.index],
        colorscale=_scale(PALETTE[0]), zmin=0, zmax=1, texttemplate="%{z:.0%}",
        colorbar={"title": "active", "tickformat": ".0%"},
        hovertemplate="cohort %{y}, period %{x}: %{z:.1%} active<extra></extra>",
    )  # fmt: skip
    figure.update_layout(xaxis={"title": "periods since acquisition", "type": "category"},
                         yaxis={"title": "cohort", "type": "category",
                                "autorange": "reversed"})  # fmt: skip
    return figure


COHORT_VALUES = {"cohort", "period", "customers", "active", "rate", "orders", "revenue",
                 "repeat_customers", "repeat_rate", "cumulative_revenue",
                 "cumulative_revenue_per_customer"}  # fmt: skip


@chart("clv_holdout")
def clv_holdout(result: Result) -> go.Figure:
    """Mean repeat purchases per customer after the calibration end, predicted and actual, by
    repeat purchases before it."""
    _need(result, "frequency", "predicted", "actual", "customers")
    rows = result.to_records()
    figure = _figure()
    for colour, column in enumerate(("predicted", "actual")):
        figure.add_bar(
            x=[r["frequency"] for r in rows], y=[r[column] for r in rows], name=column,
            marker_color=PALETTE[colour], customdata=[r["customers"] for r in rows],
            hovertemplate=f"%{{x}} before: %{{y:.2f}} {column} (%{{customdata:,}} customers)"
            "<extra></extra>",
        )  # fmt: skip
    figure.update_layout(barmode="group", xaxis={"type": "category",
                                                 "title": "repeat purchases before"},
                         yaxis_title="repeat purchases after (per customer)")  # fmt: skip
    return figure


@chart("clv_by_channel")
@chart("clv_by_mix")
@chart("clv_by_segment")
def value_by_group(result: Result) -> go.Figure:
    """Mean lifetime value so far and to come (LTV) and mean CLV to come, per group; the
    LTV/CAC ratio in the hover where known."""
    _need(result, "mean_clv", "mean_ltv", "customers")
    key = result.columns[0]
    rows = result.to_records()
    figure = _figure()
    for colour, (column, name) in enumerate((("mean_ltv", "LTV (so far + to come)"),
                                             ("mean_clv", "CLV (to come)"))):  # fmt: skip
        figure.add_bar(
            x=[str(r[key]) for r in rows], y=[r[column] for r in rows], name=name,
            marker_color=PALETTE[colour],
            customdata=[[r["customers"], _shown(r.get("ltv_cac"), "ratio")] for r in rows],
            hovertemplate="%{x}: %{y:,.2f} per customer (%{customdata[0]:,} customers; "
            "LTV/CAC %{customdata[1]})<extra></extra>",
        )  # fmt: skip
    figure.update_layout(barmode="group", xaxis_title=key, yaxis_tickformat=",.2f",
                         yaxis_title="value per customer")  # fmt: skip
    return figure


@chart("experiment_results")
def experiment_lifts(result: Result) -> go.Figure:
    """Each variant's relative lift over control with its interval (a forest plot), one row per
    test, metric and variant; significant lifts in the first colour, the others in grey."""
    _need(result, "experiment", "measure", "variant", "control", "lift_rel", "rel_ci_low",
          "rel_ci_high", "significant")  # fmt: skip
    rows = [r for r in result.to_records() if r["lift_rel"] is not None]
    labels = [f"{r['experiment']} · {r['measure']} · {r['variant']} vs {r['control']}"
              for r in rows]  # fmt: skip
    figure = _figure()
    for significant, colour, name in ((True, PALETTE[0], "significant"),
                                      (False, "#999999", "not significant")):  # fmt: skip
        mine = [i for i, r in enumerate(rows) if bool(r["significant"]) is significant]
        if not mine:
            continue
        figure.add_scatter(
            x=[rows[i]["lift_rel"] for i in mine], y=[labels[i] for i in mine], mode="markers",
            name=name, marker={"color": colour, "size": 10},
            error_x={"type": "data", "symmetric": False,
                     "array": [rows[i]["rel_ci_high"] - rows[i]["lift_rel"] for i in mine],
                     "arrayminus": [rows[i]["lift_rel"] - rows[i]["rel_ci_low"] for i in mine]},
            customdata=[[rows[i]["rel_ci_low"], rows[i]["rel_ci_high"], rows[i]["p_value"]]
                        for i in mine],
            hovertemplate="%{y}: %{x:+.1%} (interval %{customdata[0]:+.1%} to "
            "%{customdata[1]:+.1%}; p = %{customdata[2]:.3f})<extra></extra>",
        )  # fmt: skip
    figure.add_vline(x=0, line_color="#000000", line_width=1)
    figure.update_layout(xaxis={"title": "relative lift over control", "tickformat": "+.0%"},
                         yaxis={"type": "category", "autorange": "reversed"})  # fmt: skip
    return figure


@chart("mmm")
def mix_roi(result: Result) -> go.Figure:
    """Each channel's ROI (incremental sales per unit of spend) with its interval; channels the
    data cannot identify in grey."""
    _need(result, "channel", "roi", "roi_lower", "roi_upper")
    rows = result.to_records()
    colours = [PALETTE[0] if r.get("identifiable", True) else "#999999" for r in rows]
    figure = _figure()
    figure.add_bar(
        x=[r["channel"] for r in rows], y=[r["roi"] for r in rows], marker_color=colours,
        error_y=_error_bars(rows, "roi", "roi_lower", "roi_upper"),
        hovertemplate="%{x}: ROI %{y:.2f}<extra></extra>",
    )  # fmt: skip
    figure.update_layout(xaxis_title="channel", yaxis_title="incremental sales per unit spent")
    return figure


@chart("mmm_plans")
def mix_plans(result: Result) -> go.Figure:
    """The ROI of the omnichannel plan and of the same budget on one channel, with intervals."""
    _need(result, "plan", "roi", "roi_lower", "roi_upper")
    rows = [r for r in result.to_records() if r["roi"] is not None]
    figure = _figure()
    figure.add_bar(
        x=[r["roi"] for r in rows], y=[r["plan"] for r in rows], orientation="h",
        marker_color=[PALETTE[0] if r["plan"] == "omnichannel" else "#999999" for r in rows],
        error_x=_error_bars(rows, "roi", "roi_lower", "roi_upper"),
        hovertemplate="%{y}: ROI %{x:.2f}<extra></extra>",
    )  # fmt: skip
    figure.update_layout(xaxis_title="incremental sales per unit spent",
                         yaxis={"type": "category", "autorange": "reversed"})  # fmt: skip
    return figure


def _error_bars(rows: list[dict[str, Any]], value: str, low: str, high: str) -> dict[str, Any]:
    """Asymmetric error bars from each row's interval; 0 where a bound is unknown (a model
    without intervals)."""

    def gap(top: float | None, bottom: float | None) -> float:
        return 0.0 if top is None or bottom is None else top - bottom

    return {"type": "data", "symmetric": False,
            "array": [gap(r[high], r[value]) for r in rows],
            "arrayminus": [gap(r[value], r[low]) for r in rows]}  # fmt: skip


@chart("reconcile")
def reconcile_ranges(result: Result) -> go.Figure:
    """Per channel with spend: the revenue attribution credits it (from the lowest to the
    highest model) beside the incremental sales the mix model measures, with its interval."""
    _need(result, "channel", "attributed_low", "attributed_high", "incremental",
          "incremental_lower", "incremental_upper")  # fmt: skip
    rows = [r for r in result.to_records() if r["incremental"] is not None]
    low = [r["attributed_low"] or 0.0 for r in rows]
    high = [r["attributed_high"] or 0.0 for r in rows]
    figure = _figure()
    figure.add_bar(
        x=[r["channel"] for r in rows], y=[h - lo for lo, h in zip(low, high, strict=True)],
        base=low, customdata=list(zip(low, high, strict=True)), opacity=0.6,
        name="attribution (lowest to highest model)", marker_color=PALETTE[1],
        hovertemplate="%{x}: credited %{customdata[0]:,.0f} to %{customdata[1]:,.0f}"
        "<extra></extra>",
    )  # fmt: skip
    figure.add_scatter(
        x=[r["channel"] for r in rows], y=[r["incremental"] for r in rows], mode="markers",
        name="mix model (incremental)", marker={"color": PALETTE[0], "size": 10},
        error_y=_error_bars(rows, "incremental", "incremental_lower", "incremental_upper"),
        hovertemplate="%{x}: incremental %{y:,.0f}<extra></extra>",
    )  # fmt: skip
    figure.update_layout(xaxis_title="channel", yaxis_title="revenue")
    return figure


@chart("mmm_response")
def mix_response(result: Result) -> go.Figure:
    """Incremental sales by spend level, one line per channel, its current spend marked."""
    _need(result, "channel", "spend", "incremental_sales", "current")
    rows = result.to_records()
    figure = _figure()
    for colour, channel in enumerate(dict.fromkeys(r["channel"] for r in rows)):
        mine = [r for r in rows if r["channel"] == channel]
        figure.add_scatter(
            x=[r["spend"] for r in mine], y=[r["incremental_sales"] for r in mine], name=channel,
            mode="lines", line_color=PALETTE[colour % len(PALETTE)],
            hovertemplate=f"{channel}: spend %{{x:,.0f}}, sales %{{y:,.0f}}<extra></extra>",
        )  # fmt: skip
        now = [r for r in mine if r["current"]]
        figure.add_scatter(
            x=[r["spend"] for r in now], y=[r["incremental_sales"] for r in now], mode="markers",
            marker={"color": PALETTE[colour % len(PALETTE)], "size": 10}, showlegend=False,
            hovertemplate=f"{channel} now: spend %{{x:,.0f}}, sales %{{y:,.0f}}<extra></extra>",
        )  # fmt: skip
    figure.update_layout(xaxis_title="spend", yaxis_title="incremental sales")
    return figure
