"""Commands that measure: attribution, influence, kpis, goals, maturity, business-case,
segments, audience."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from omnimetrics.cli.shell import (
    DEFAULT_DB,
    Config,
    Db,
    LookbackDays,
    Out,
    Quiet,
    Rows,
    ShowAll,
    Since,
    Until,
    app,
    console,
    day,
    names,
    open_workspace,
    render,
)

if TYPE_CHECKING:
    from omnimetrics.results import Result


PATHS_PANEL = "Ready-made path table (instead of the warehouse)"
OUTPUT_PANEL = "More outputs"
ALL_MODELS = (
    "first_touch,last_touch,last_non_direct,linear,position_based,time_decay,markov,shapley"
)
TRANSFORMS = "all, collapse_repeats, first_occurrence, counts_per_channel"


def _option(help: str, *names: str, panel: str | None = None) -> Any:
    return typer.Option(*names, help=help, rich_help_panel=panel)


def _path_option(help: str = "") -> Any:
    return typer.Option(help=help or None, rich_help_panel=PATHS_PANEL)


Models = Annotated[str, _option("Comma-separated model names (see docs/attribution.md).")]
By = Annotated[str, _option("channel, campaign, or channel,campaign.")]
Transform = Annotated[str, _option(f"Path transform: {TRANSFORMS}.")]
Drop = Annotated[str | None, _option("Channels left out unless alone, e.g. direct.")]
MaxTouches = Annotated[int | None, _option("Keep only the last N touches of each journey.")]
SalesChannel = Annotated[
    str | None, _option("Only orders of these sales channels, e.g. store,web.")
]
Intervals = Annotated[int, _option("Bootstrap replicates for 95% intervals (0: none).")]
Seed = Annotated[int, _option("Seed of the bootstrap and of sampling.")]
Paths = Annotated[Path | None, _path_option("CSV/Parquet/JSONL: path, conversions, nulls, value.")]
Column = Annotated[str, _path_option()]
Separator = Annotated[str, _path_option("Between the steps of a path.")]
Spend = Annotated[
    bool, _option("Add spend, cost per conversion, CAC and ROAS.", "--spend", panel=OUTPUT_PANEL)
]
Compare = Annotated[
    bool,
    _option("Compare the models: disagreement, agreement, roles.", "--compare", panel=OUTPUT_PANEL),
]
Transitions = Annotated[
    Path | None,
    _option("Write the first Markov model's transition matrix to FILE.", panel=OUTPUT_PANEL),
]


@app.command()
def attribution(
    db: Db = DEFAULT_DB,
    models: Models = ALL_MODELS,
    by: By = "channel",
    lookback_days: LookbackDays = None,
    transform: Transform = "all",
    drop: Drop = None,
    max_touches: MaxTouches = None,
    since: Since = None,
    until: Until = None,
    sales_channel: SalesChannel = None,
    intervals: Intervals = 0,
    seed: Seed = 0,
    paths: Paths = None,
    path_column: Column = "path",
    conversions_column: Column = "conversions",
    nulls_column: Column = "nulls",
    value_column: Column = "value",
    separator: Separator = ">",
    spend: Spend = False,
    compare: Compare = False,
    transitions: Transitions = None,
    config: Config = None,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Credit each channel (or campaign) with conversions and revenue under each model.

    Reads the journeys of the warehouse (built by `omnimetrics run` or `journeys`), or a path
    table with --paths.
    """
    options: dict[str, Any] = {
        "models": names(models), "transform": transform, "drop": names(drop),
        "max_touches": max_touches, "intervals": intervals, "seed": seed, "compare": compare,
        "transitions": transitions is not None,
    }  # fmt: skip
    if paths is not None:
        from omnimetrics.workspace.measures import attribute_path_file

        result = attribute_path_file(
            paths, config=config, path=path_column, conversions=conversions_column,
            nulls=nulls_column, value=value_column, separator=separator, **options,
        )  # fmt: skip
    else:
        with open_workspace(db, config) as opened:
            ws = opened.using(lookback_days=lookback_days)
            result = ws.attribution(by=names(by), since=day(since), until=day(until),
                                    sales_channels=names(sales_channel), spend=spend,
                                    **options)  # fmt: skip
    if transitions is not None:
        result.part("transitions").write(transitions)
        result = replace_parts(result, keep=lambda p: p.name != "transitions")
        if not quiet:
            console().print(f"transition matrix written to {transitions}", markup=False)
    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all)


def replace_parts(result: Result, keep: Callable[[Result], bool]) -> Result:
    from dataclasses import replace

    return replace(result, parts=tuple(p for p in result.parts if keep(p)))


@app.command()
def influence(
    db: Db = DEFAULT_DB,
    model: Annotated[
        str, typer.Option(help="An additive model, e.g. linear or markov.")
    ] = "linear",
    by: Annotated[str, typer.Option(help="channel or campaign.")] = "channel",
    lookback_days: LookbackDays = None,
    config: Config = None,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Cross-channel influence: credit each touch channel earns on sales made in each sales
    channel (online touchpoints behind store sales, and the reverse)."""
    with open_workspace(db, config) as opened:
        result = opened.using(lookback_days=lookback_days).influence(model, by=by)
    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all)


KPI_SETS_HELP = ("store_chain_ecommerce, pure_online, services_call_centre, acquisition, "
                 "retention, engagement")  # fmt: skip


@app.command()
def kpis(
    db: Db = DEFAULT_DB,
    kpi_names: Annotated[
        str | None,
        typer.Option(
            "--kpis", help=f"Comma-separated KPIs, or a set: {KPI_SETS_HELP} (default: all)."
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="Dimensions: channel, campaign, device, sales_channel, fulfilment, "
            "store, or a segment column (rfm_segment, channel_mix, region...)."
        ),
    ] = None,
    grain: Annotated[str, typer.Option(help="day, week, month, quarter, year or total.")] = "month",
    since: Since = None,
    until: Until = None,
    shared: Annotated[
        bool,
        typer.Option(
            "--shared",
            help="For sharing: hide cells of too few persons ([metrics] min_cell_persons).",
        ),
    ] = False,
    forecast: Annotated[
        int, typer.Option(help="Also project each KPI this many periods ahead.")
    ] = 0,
    alerts: Annotated[
        bool, typer.Option("--alerts", help="List periods where a KPI left its expected range.")
    ] = False,
    config: Config = None,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """KPIs by period and dimension, with the change against the previous period."""
    with open_workspace(db, config) as ws:
        result = ws.kpis(names(kpi_names) or None, by=names(by), grain=grain, since=day(since),
                         until=day(until), shared=shared, forecast=forecast,
                         alerts=alerts)  # fmt: skip
    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all)


@app.command()
def goals(
    db: Db = DEFAULT_DB,
    grain: Annotated[str, typer.Option(help="Period of the KPI series: week, month...")] = "month",
    today: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="As of this day (default today).")
    ] = None,
    config: Config = None,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """SMART goals of omnimetrics.toml ([[goals]]): progress, projection, chance of success."""
    with open_workspace(db, config) as ws:
        result = ws.goals(grain=grain, today=day(today))
    from omnimetrics.workspace.pipeline import GOAL_COLUMNS

    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all, columns=GOAL_COLUMNS)


@app.command()
def maturity(
    db: Db = DEFAULT_DB,
    answers: Annotated[
        Path | None,
        typer.Option(help="Questionnaire answers (TOML or JSON); `--template` prints one."),
    ] = None,
    as_of: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Assess the data up to this day.")
    ] = None,
    compare_with: Annotated[
        datetime | None,
        typer.Option("--compare", formats=["%Y-%m-%d"], help="Show progress since this day."),
    ] = None,
    template: Annotated[
        bool, typer.Option("--template", help="Print a questionnaire to fill in, and stop.")
    ] = False,
    config: Config = None,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Omnichannel maturity: a 0-100 score from the data (and a questionnaire), levels per
    dimension, recommendations, and which models the data can support."""
    if template:
        from omnimetrics.metrics.maturity import questionnaire_template

        console().print(questionnaire_template(), markup=False)
        return
    with open_workspace(db, config) as ws:
        result = ws.maturity(answers=answers, as_of=day(as_of), compare=day(compare_with))
    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all)
    if not quiet:
        score = result.figures
        console().print(
            f"Score {score['score']:.0f}/100: level {score['level']} ({score['level_name']})",
            style="bold", markup=False,
        )  # fmt: skip


@app.command("business-case")
def business_case(
    db: Db = DEFAULT_DB,
    conversion_rate: Annotated[
        float | None, typer.Option(help="Target conversion rate (orders / sessions).")
    ] = None,
    average_basket: Annotated[float | None, typer.Option(help="Target average basket.")] = None,
    retention: Annotated[
        float | None, typer.Option(help="Target repeat purchase rate (share of buyers).")
    ] = None,
    spend: Annotated[float | None, typer.Option(help="Planned spend for the same period.")] = None,
    margin_rate: Annotated[
        float | None, typer.Option(help="Margin / revenue, for margin and ROI (else from data).")
    ] = None,
    since: Since = None,
    until: Until = None,
    config: Config = None,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """If the KPIs reached these targets: projected orders, revenue, margin and ROI, from the
    current values measured over the period."""
    with open_workspace(db, config) as ws:
        result = ws.business_case(
            conversion_rate=conversion_rate, average_basket=average_basket, retention=retention,
            spend=spend, margin_rate=margin_rate, since=day(since), until=day(until),
        )  # fmt: skip
    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all)


@app.command()
def segments(
    db: Db = DEFAULT_DB,
    by: Annotated[
        str, typer.Option(help="A segment column: rfm_segment, channel_mix, age_band, ...")
    ] = "rfm_segment",
    campaign: Annotated[
        str | None,
        typer.Option(help="Rank the segments by their response to this campaign (lift)."),
    ] = None,
    config: Config = None,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Persons per segment value, or the segments most responsive to a campaign."""
    with open_workspace(db, config) as ws:
        result = ws.segments(by, campaign=campaign)
    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all)


@app.command()
def audience(
    segment: Annotated[str, typer.Argument(help="A segment column or a user segment name.")],
    value: Annotated[
        str | None, typer.Argument(help="The value, e.g. champions (for a segment column).")
    ] = None,
    db: Db = DEFAULT_DB,
    config: Config = None,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Export a segment as hashed identifiers (SHA-256, as ad platforms match them): persons who
    granted marketing consent only."""
    with open_workspace(db, config) as ws:
        result = ws.audience(segment, value)
    if out is None and not quiet:
        console().print("Tip: --out audience.csv writes the file to upload.", style="dim",
                         markup=False)  # fmt: skip
    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all)


@app.command()
def cohorts(
    db: Db = DEFAULT_DB,
    unit: Annotated[str, _option("Cohorts and periods by day, week or month.")] = "month",
    by: Annotated[
        str | None,
        _option("Cut by sales_channel (the first), acquisition_channel or a segment column."),
    ] = None,
    until: Until = None,
    config: Config = None,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Retention by acquisition cohort: customers buying again in each period since their first
    order, repeat purchase and cumulative revenue per customer."""
    with open_workspace(db, config) as ws:
        result = ws.cohorts(unit=unit, by=names(by), until=day(until))
    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all)


VALUE_PANEL = "Ready-made RFM or transactions file (instead of the warehouse)"


@app.command()
def clv(
    db: Db = DEFAULT_DB,
    model: Annotated[str, _option("Purchase model: bgnbd, pareto_nbd or mbgnbd.")] = "bgnbd",
    unit: Annotated[str, _option("Time unit of recency, T and the horizon: day, week, month.")] = (
        "week"
    ),
    horizon: Annotated[
        int | None, _option("How many units ahead the value is counted (default: a year).")
    ] = None,
    discount_rate: Annotated[float, _option("Yearly discount rate (0.1 = 10% a year).")] = 0.1,
    margin: Annotated[
        float | None, _option("Share of revenue kept as margin (default: the orders' own).")
    ] = None,
    calibration_end: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Fit up to this day and check the predictions on the days after.",
        ),
    ] = None,
    rfm: Annotated[
        Path | None,
        _option(
            "RFM table: customer_id, frequency, recency, T, monetary_value.", panel=VALUE_PANEL
        ),
    ] = None,
    transactions: Annotated[
        Path | None, _option("Transactions: customer_id, timestamp, amount.", panel=VALUE_PANEL)
    ] = None,
    map: Annotated[
        str | None,
        _option("The file's names of the columns, e.g. customer_id=id,T=age.", panel=VALUE_PANEL),
    ] = None,
    by: Annotated[
        str | None, _option("Also value customers by this segment column, e.g. rfm_segment.")
    ] = None,
    params_out: Annotated[
        Path | None,
        _option("Write model, parameter, value, std_error to FILE.", panel=OUTPUT_PANEL),
    ] = None,
    config: Config = None,
    out: Annotated[
        Path | None,
        _option("Write customer_id, expected_purchases, p_alive, expected_value, clv to FILE."),
    ] = None,
    rows: Rows = 20,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Customer lifetime value: expected purchases, P(alive), expected order value and CLV of
    each customer (BG/NBD, Pareto/NBD or modified BG/NBD, with Gamma-Gamma for spend).

    Reads the warehouse's orders, or a ready RFM table with --rfm, or transactions with
    --transactions (CSV or Parquet).
    """
    from omnimetrics.clv.value import CUSTOMER_COLUMNS, value_of_file

    options: dict[str, Any] = {"model": model, "horizon": horizon,
                               "discount_rate": discount_rate}  # fmt: skip
    if rfm is not None or transactions is not None:
        from omnimetrics.clv.summary import time_unit

        if by is not None:
            raise typer.BadParameter(
                "--by cuts the warehouse's customers by a segment: a file has none. Leave out "
                "--by, or run on the warehouse."
            )

        mapping = dict(_pair(item) for item in names(map))
        result = value_of_file(rfm=rfm, transactions=transactions, mapping=mapping,
                               unit=time_unit(unit), calibration_end=day(calibration_end),
                               margin=1.0 if margin is None else margin, **options)  # fmt: skip
    else:
        with open_workspace(db, config) as ws:
            result = ws.clv(unit=unit, margin=margin, calibration_end=day(calibration_end),
                            by=by, **options)  # fmt: skip
    if params_out is not None:
        result.part("clv_params").write(params_out)
        if not quiet:
            console().print(f"parameters written to {params_out}", markup=False)
    if out is not None:
        result.brief(CUSTOMER_COLUMNS).write(out)
    render(result, quiet=quiet, limit=rows, show_all=show_all)
    if out is not None and not quiet:
        console().print(f"one row per customer written to {out}", markup=False)


def _pair(item: str) -> tuple[str, str]:
    """ "customer_id=id" -> ("customer_id", "id")."""
    name, sign, column = item.partition("=")
    if not sign or not name.strip() or not column.strip():
        raise typer.BadParameter(
            f"--map takes name=column pairs, e.g. customer_id=id; got {item!r}."
        )
    return name.strip(), column.strip()


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    db: Db = DEFAULT_DB,
    config: Config = None,
) -> None:
    """Write one self-contained HTML report (charts included, opens offline): a summary of what
    changed and needs attention, then KPIs, attribution, journeys, customers, maturity and data
    quality."""
    from omnimetrics.report import write_report

    with open_workspace(db, config) as ws:
        written = write_report(ws, out)
    console().print(f"Report written to {written} ({written.stat().st_size / 1e6:.1f} MB).",
                    markup=False)  # fmt: skip
