"""`omnimetrics experiment`: analyse an A/B or multivariate test (of the warehouse, or of a
summary or units file as other tools give them) and `omnimetrics experiment plan`: size one;
`omnimetrics mmm`, `omnimetrics budget` and `omnimetrics scenario`: the mix model, the budget
it recommends and the sales of a plan;
`omnimetrics reconcile`: attribution, mix model and experiments side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from omnimetrics.cli.shell import (
    DEFAULT_DB,
    Config,
    Db,
    Out,
    Quiet,
    Rows,
    ShowAll,
    app,
    names,
    open_workspace,
    render,
)

FILES = "A summary or units file (instead of the warehouse)"
experiment_app = typer.Typer(
    help="Analyse an A/B or multivariate test; `experiment plan` sizes one.",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)
app.add_typer(experiment_app, name="experiment")


def _option(help: str, panel: str | None = None) -> Any:
    return typer.Option(help=help, rich_help_panel=panel)


@experiment_app.callback()
def experiment(
    ctx: typer.Context,
    name: Annotated[str | None, _option("The experiment (default: the only one).")] = None,
    metric: Annotated[
        str,
        _option("conversion, revenue, orders, average_basket, open, click, open_rate, click_rate."),
    ] = "conversion",
    summary: Annotated[
        Path | None,
        _option("variant, units, conversions (or sum, sum_squares) per variant.", FILES),
    ] = None,
    units: Annotated[
        Path | None, _option("One row per unit: variant and --value-column.", FILES)
    ] = None,
    value_column: Annotated[
        str | None, _option("The units file's metric column (0/1 for a conversion).", FILES)
    ] = None,
    covariate: Annotated[
        str | None, _option("The units file's pre-period column (CUPED).", FILES)
    ] = None,
    denominator_column: Annotated[
        str | None, _option("The units file's denominator column (a ratio metric).", FILES)
    ] = None,
    kind: Annotated[
        str | None,
        _option("proportion, mean or ratio (default: from the units file's values).", FILES),
    ] = None,
    control: Annotated[str | None, _option("The control variant (default: the first).")] = None,
    weights: Annotated[
        str | None, _option("The planned split, e.g. 0.5,0.5 (default: equal).")
    ] = None,
    alpha: Annotated[float, _option("1 - the confidence of the intervals.")] = 0.05,
    pool: Annotated[
        str | None, _option("Variants analysed as one, e.g. B,C (B+C against control).")
    ] = None,
    window_days: Annotated[
        float | None, _option("Count each unit's events this many days after assignment.")
    ] = None,
    covariate_days: Annotated[
        float | None, _option("CUPED on the metric over these days before assignment.")
    ] = None,
    min_effect: Annotated[
        float, _option("The relative lift the power is computed for (0.05 = 5%).")
    ] = 0.05,
    db: Db = DEFAULT_DB,
    config: Config = None,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Each variant against control: lift with its interval, p-value (Holm and
    Benjamini-Hochberg with several variants), chance to win and expected loss, an always-valid
    p-value for daily looks, the sample ratio check, and the decision in words."""
    if ctx.invoked_subcommand is not None:
        return
    options: dict[str, Any] = {
        "control": control, "weights": _weights(weights), "alpha": alpha,
        "min_effect": min_effect, "pool": names(pool),
    }  # fmt: skip
    if summary is not None or units is not None:
        from omnimetrics.workspace.experiments import analysed

        table = _from_file(summary, units, value_column, covariate, denominator_column, kind)
        path = summary or units
        result = analysed(table, f"Experiment of {path.name}", **options)  # type: ignore[union-attr]
    else:
        with open_workspace(db, config) as ws:
            result = ws.experiment(name, metric, window_days=window_days,
                                   covariate_days=covariate_days, **options)  # fmt: skip
    from omnimetrics.workspace.experiments import DECISION_COLUMNS

    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all,
           columns=DECISION_COLUMNS)  # fmt: skip


def _weights(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise typer.BadParameter(
            f"--weights takes numbers separated by commas, e.g. 0.5,0.5; got {text!r}."
        ) from None


def _from_file(
    summary: Path | None,
    units: Path | None,
    value: str | None,
    covariate: str | None,
    denominator: str | None,
    kind: str | None,
) -> Any:
    """The summary table of a summary file, or of a units file summarised."""
    from omnimetrics.files import read_file

    if summary is not None and units is not None:
        raise typer.BadParameter("Give one file: --summary F or --units F.")
    if summary is not None:
        return read_file(summary, {}, ("variant", "units")).to_pandas()
    if value is None:
        raise typer.BadParameter("--units needs --value-column, the column of the metric.")
    from omnimetrics.experiments import summarise_units

    wanted = tuple(c for c in ("variant", value, covariate, denominator) if c)
    frame = read_file(units, {}, wanted).to_pandas()  # type: ignore[arg-type]
    if kind is None:
        binary = frame[value].dropna().isin([0, 1]).all()
        kind = "ratio" if denominator else "proportion" if binary else "mean"
    return summarise_units(
        frame["variant"], frame[value], metric=kind,
        covariate=frame[covariate] if covariate else None,
        denominator=frame[denominator] if denominator else None,
    )  # fmt: skip


@experiment_app.command("plan")
def plan_command(
    metric: Annotated[str, _option("proportion (a rate) or mean.")] = "proportion",
    baseline: Annotated[
        float, typer.Option(help="The control's rate (0.05) or mean.", show_default=False)
    ] = ...,  # type: ignore[assignment]
    mde: Annotated[
        float | None, _option("Minimum detectable effect (relative: 0.1 = +10%).")
    ] = None,
    units: Annotated[int | None, _option("Units per variant.")] = None,
    power: Annotated[float | None, _option("Power (default 0.8 when solving).")] = None,
    sd: Annotated[float | None, _option("Standard deviation of the unit value (means).")] = None,
    alpha: Annotated[float, _option("Two-sided significance level.")] = 0.05,
    absolute: Annotated[bool, _option("--mde is an absolute difference.")] = False,
    variants: Annotated[int, _option("Variants, control included.")] = 2,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Size a test: give two of --mde, --units and --power; the third is computed."""
    import pyarrow as pa

    from omnimetrics.experiments import plan
    from omnimetrics.results import Result

    found = plan(metric, baseline, sd=sd, mde=mde, units=units, power=power, alpha=alpha,
                 relative=not absolute, variants=variants)  # fmt: skip
    row = found.to_dict()
    result = Result.of("plan", f"Test plan (solved for {found.solved_for})",
                       pa.Table.from_pylist([row]))  # fmt: skip
    render(result, out=out, quiet=quiet)


MIX_FILE = "A weekly series file (instead of the warehouse)"
Holdouts = Annotated[
    list[str] | None,
    typer.Option(
        "--experiment",
        help="An experiment of the warehouse that held a channel out, as NAME=CHANNEL (its "
        "variant named holdout or control held it out) or NAME=CHANNEL:VARIANT; repeat for "
        "several (default: [mix] holdouts).",
    ),
]


Engine = Annotated[
    str,
    typer.Option(
        "--engine",
        help="ridge (search + ridge + bootstrap) or pymc (pymc-marketing's posterior: "
        "pip install 'omnimetrics[pymc]').",
    ),
]


def _holdouts(given: list[str] | None) -> dict[str, str] | None:
    """NAME=CHANNEL options as {experiment: channel} (None: none given, `[mix] holdouts`)."""
    if not given:
        return None
    found: dict[str, str] = {}
    for text in given or []:
        name, sep, channel = text.partition("=")
        if not sep or not name.strip() or not channel.strip():
            raise typer.BadParameter(
                f"--experiment takes NAME=CHANNEL, e.g. email_holdout=email; got {text!r}."
            )
        found[name.strip()] = channel.strip()
    return found


@app.command()
def mmm(
    series: Annotated[
        Path | None, _option("One row per week: date, target and spend columns.", MIX_FILE)
    ] = None,
    date_column: Annotated[str, _option("The file's date column.", MIX_FILE)] = "week",
    target: Annotated[
        str, _option("Sales to explain: sales, online_sales, offline_sales (or a file column).")
    ] = "sales",
    channels: Annotated[
        str | None, _option("The file's spend columns, e.g. tv,search,social.", MIX_FILE)
    ] = None,
    controls: Annotated[
        str | None, _option("The file's control columns (promotions, price...).", MIX_FILE)
    ] = None,
    bootstrap: Annotated[int, _option("Refits on resampled weeks for the intervals.")] = 100,
    calibration: Annotated[
        Path | None,
        _option("Measured lifts: channel, start, end, lift, lift_se (one row per experiment)."),
    ] = None,
    experiment: Holdouts = None,
    engine: Engine = "ridge",
    db: Db = DEFAULT_DB,
    config: Config = None,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Marketing mix model: each channel's incremental sales, share, ROI and marginal ROI with
    intervals, the weekly decomposition, response curves, diagnostics and the omnichannel plan
    against single-channel plans (docs/mmm.md)."""
    lifts: Any = _holdouts(experiment)
    if calibration is not None:
        if lifts:
            raise typer.BadParameter("Give --calibration F or --experiment NAME=CHANNEL, not both.")
        from omnimetrics.files import read_file

        wanted = ("channel", "start", "end", "lift", "lift_se")
        lifts = read_file(calibration, {}, wanted).to_pandas()
    if series is not None:
        if isinstance(lifts, dict) and lifts:
            raise typer.BadParameter("--experiment reads the warehouse's experiments: with "
                                     "--series, give the lifts as --calibration F.")  # fmt: skip
        from omnimetrics.files import read_file
        from omnimetrics.mmm import MixModel
        from omnimetrics.workspace.mix import mix_result

        spend = names(channels)
        if not spend:
            raise typer.BadParameter("--series needs --channels, the spend columns of the file.")
        wanted = (date_column, target, *spend, *names(controls))
        frame = read_file(series, {}, wanted).to_pandas()
        model = MixModel(spend, target=target, date_column=date_column,
                         controls=names(controls), n_bootstrap=bootstrap, engine=engine,
                         calibration=lifts).fit(frame)  # fmt: skip
        result = mix_result(model, frame, f"Mix model of {series.name}")
    else:
        with open_workspace(db, config) as ws:
            result = ws.mmm(target=target, n_bootstrap=bootstrap, engine=engine,
                            calibration=lifts)  # fmt: skip
    from omnimetrics.workspace.mix import MIX_SHOWN

    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all, columns=MIX_SHOWN)


@app.command()
def budget(
    total: Annotated[
        float | None, _option("The budget to allocate (default: the current spend).")
    ] = None,
    max_change: Annotated[float, _option("Each channel within this share of its spend.")] = 0.3,
    target: Annotated[str, _option("sales, online_sales or offline_sales.")] = "sales",
    engine: Engine = "ridge",
    db: Db = DEFAULT_DB,
    config: Config = None,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """The allocation of the budget across channels that maximises expected sales (by the mix
    model), each channel within --max-change of its current spend, and the expected uplift."""
    with open_workspace(db, config) as ws:
        result = ws.budget(total, max_change=max_change, target=target, engine=engine)
    render(result, out=out, quiet=quiet)


@app.command()
def scenario(
    spend: Annotated[
        str,
        typer.Option(
            help="The plan: channel=total spend, separated by commas, e.g. "
            "display=12000,email=100 (a channel not named keeps its spend).",
            show_default=False,
        ),
    ] = ...,  # type: ignore[assignment]
    target: Annotated[str, _option("sales, online_sales or offline_sales.")] = "sales",
    engine: Engine = "ridge",
    db: Db = DEFAULT_DB,
    config: Config = None,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Expected sales for a spend plan by the mix model: each channel's incremental sales and
    the total, with intervals, over a period as long as the modelled one."""
    plan: dict[str, float] = {}
    for part in names(spend):
        channel, sep, amount = part.partition("=")
        try:
            plan[channel.strip()] = float(amount)
        except ValueError:
            sep = ""
        if not sep:
            raise typer.BadParameter(
                f"--spend takes channel=amount pairs, e.g. display=12000; got {part!r}."
            )
    with open_workspace(db, config) as ws:
        result = ws.scenario(plan, target=target, engine=engine)
    render(result, out=out, quiet=quiet)


@app.command()
def reconcile(
    experiment: Holdouts = None,
    calibrate: Annotated[
        bool | None,
        typer.Option(
            "--calibrate/--no-calibrate",
            help="Fit the mix model with the experiments' lifts (default: [mix] calibrate).",
        ),
    ] = None,
    bootstrap: Annotated[int, _option("Refits on resampled weeks for the intervals.")] = 100,
    engine: Engine = "ridge",
    db: Db = DEFAULT_DB,
    config: Config = None,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Per channel: its credit under the attribution models, its incremental sales and ROI by
    the mix model, its lift measured by an experiment, and the gaps in plain words."""
    with open_workspace(db, config) as ws:
        result = ws.reconcile(experiments=_holdouts(experiment), calibrate=calibrate,
                              n_bootstrap=bootstrap, engine=engine)  # fmt: skip
    from dataclasses import replace

    from omnimetrics.workspace.mix import RECONCILE_SHOWN

    # the readings are sentences: under the table, one per channel, rather than in a column
    readings = tuple(f"{row['channel']}: {row['reading']}" for row in result.to_records())
    shown = [c for c in RECONCILE_SHOWN if c != "reading"]
    render(replace(result, notes=(*readings, *result.notes)), out=out, quiet=quiet, limit=rows,
           show_all=show_all, columns=shown)  # fmt: skip
