"""The `omnimetrics` command: a thin shell that parses options, calls the library, prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import ibis
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from omnimetrics.config import Settings
from omnimetrics.errors import OmnimetricsError
from omnimetrics.ingest import CsvOptions, IngestReport
from omnimetrics.warehouse import DEFAULT_PATH, Warehouse, connect

app = typer.Typer(
    name="omnimetrics",
    help="Measure the real performance of an omnichannel marketing strategy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

Db = Annotated[str, typer.Option("--db", help="Warehouse: a DuckDB file, or 'spark'.")]
Out = Annotated[
    Path | None, typer.Option("--out", help="Also write the table to FILE (.csv, .parquet, .json).")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no tables.")]
Config = Annotated[
    Path | None, typer.Option("--config", help="Settings file (default ./omnimetrics.toml).")
]
Identifier = Annotated[
    str, typer.Argument(help="Any identifier of the person: email, phone, customer id...")
]
IdentifierType = Annotated[
    str | None, typer.Option("--type", help="Its type, when ambiguous (email, phone...).")
]
Since = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="From this day (UTC).")]
Until = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Up to this day, included.")
]
LookbackDays = Annotated[int, typer.Option(help="Days of touches before an order.")]
Demo = Annotated[
    bool, typer.Option("--demo", help="Demo mode: simulated data, public pseudonymisation key.")
]


def write_table(table: pa.Table, path: Path) -> None:
    """Write a result table by extension: .csv, .parquet or .json (records)."""
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        pacsv.write_csv(table, path)
    elif suffix == ".parquet":
        pq.write_table(table, path)
    elif suffix == ".json":
        path.write_text(json.dumps(table.to_pylist(), default=str, indent=1), encoding="utf-8")
    else:
        raise OmnimetricsError(f"--out {path}: use a .csv, .parquet or .json file name.")


def show(table: pa.Table, title: str, *, out: Path | None = None, quiet: bool = False) -> None:
    if out is not None:
        write_table(table, out)
    if quiet:
        return
    view = RichTable(title=title, header_style="bold")
    for name in table.column_names:
        numeric = pa.types.is_integer(table.schema.field(name).type) or pa.types.is_floating(
            table.schema.field(name).type
        )
        view.add_column(name, justify="right" if numeric else "left")
    for row in table.slice(0, 50).to_pylist():
        view.add_row(*(_cell(v) for v in row.values()))
    if table.num_rows > 50:
        view.caption = f"first 50 of {table.num_rows} rows"
    console.print(view)
    if out is not None:
        console.print(f"[dim]written to {out}[/dim]")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@contextmanager
def progress_bar(quiet: bool) -> Iterator[Callable[[str, float], None]]:
    if quiet or not sys.stderr.isatty():
        yield lambda step, fraction: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1.0)
        yield lambda step, fraction: bar.update(task, description=step, completed=fraction)


def _settings(config: Path | None, demo: bool) -> Settings:
    return Settings.load(config, demo=demo)


def _warehouse(db: str, config: Path | None, demo: bool) -> Warehouse:
    return connect(db, settings=_settings(config, demo))


def _report_table(reports: list[IngestReport]) -> pa.Table:
    return pa.concat_tables([r.to_arrow() for r in reports]) if reports else pa.table({})


def _print_reasons(reports: list[IngestReport], quiet: bool) -> None:
    if quiet:
        return
    for report in reports:
        for path, names in report.ignored_columns.items():
            console.print(
                f"[yellow]{Path(path).name}: columns not in the contract, ignored: "
                f"{', '.join(names)}[/yellow]"
            )
        if report.reasons:
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(report.reasons.items()))
            console.print(
                f"[yellow]{report.table}: quarantined by reason: {reasons}. "
                "See `omnimetrics quarantine`.[/yellow]"
            )
        if report.updated:
            console.print(
                f"{report.table}: {report.updated:,} stored rows replaced by a preferred report."
            )


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the world to.")] = Path(
        "world"
    ),
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 10_000,
    days: Annotated[int, typer.Option(help="Days of history.")] = 180,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same world).")] = 42,
    quiet: Quiet = False,
) -> None:
    """Write a simulated omnichannel retailer (input files + its ground truth) to a folder."""
    from omnimetrics.simulate import simulate as make_world

    with progress_bar(quiet) as notify:
        world = make_world(customers=customers, days=days, seed=seed, progress=notify)
        folder = world.write(out)
    rows = world.truth.get("rows", {})
    table = pa.table({"file": list(rows), "rows": [int(v) for v in rows.values()]})
    show(table, f"Simulated world in {folder}", quiet=quiet)


@app.command()
def ingest(
    table: Annotated[str, typer.Argument(help="Target table, e.g. touchpoints, orders.")],
    path: Annotated[list[str], typer.Argument(help="Files, globs or folders.")],
    db: Db = DEFAULT_PATH,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="Rename a column: THEIRS=OURS (repeat).")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Reporting system when the file has no `source` column.")
    ] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (default: detect).")] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding (default utf8).")] = None,
    header: Annotated[
        bool | None, typer.Option("--header/--no-header", help="CSV header row (default: detect).")
    ] = None,
    columns: Annotated[
        str | None, typer.Option(help="Column names for a CSV without header: a,b,c.")
    ] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv, parquet or jsonl (default: extension).")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="Time zone of timestamps without offset, e.g. Europe/Paris (UTC)."),
    ] = None,
    config: Config = None,
    demo: Demo = False,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Validate, pseudonymise and load files into a warehouse table; rejects go to quarantine."""
    mapping = {}
    for item in map_ or []:
        if "=" not in item:
            raise OmnimetricsError(
                f"--map {item!r}: write THEIRS=OURS, e.g. --map OrderID=order_id"
            )
        theirs, ours = item.split("=", 1)
        mapping[theirs.strip()] = ours.strip()
    csv = CsvOptions(
        delimiter=delimiter,
        encoding=encoding,
        header=header,
        column_names=tuple(c.strip() for c in columns.split(",")) if columns else None,
    )
    with _warehouse(db, config, demo) as wh, progress_bar(quiet) as notify:
        report = wh.ingest(
            table,
            path,
            columns=mapping,
            source_name=source,
            csv=csv,
            format=file_format,
            timezone=timezone,
            progress=notify,
        )
    show(report.to_arrow(), f"Ingested into {table} ({report.seconds:.1f} s)", out=out, quiet=quiet)
    _print_reasons([report], quiet)


@app.command()
def load(
    folder: Annotated[Path, typer.Argument(help="A folder with a manifest.json (e.g. simulated).")],
    db: Db = DEFAULT_PATH,
    config: Config = None,
    demo: Demo = False,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Ingest every file of a folder described by its manifest.json."""
    with _warehouse(db, config, demo) as wh, progress_bar(quiet) as notify:
        reports = wh.load(folder, progress=notify)
    show(_report_table(reports), f"Loaded {folder}", out=out, quiet=quiet)
    _print_reasons(reports, quiet)


@app.command()
def tables(
    db: Db = DEFAULT_PATH, config: Config = None, out: Out = None, quiet: Quiet = False
) -> None:
    """List the warehouse tables and their row counts."""
    with _warehouse(db, config, demo=False) as wh:
        show(wh.summary(), f"Warehouse {db}", out=out, quiet=quiet)


@app.command()
def quarantine(
    db: Db = DEFAULT_PATH,
    table: Annotated[str | None, typer.Option(help="Only rows rejected from this table.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason code.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
    config: Config = None,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Show rejected rows: file, row, column, reason and message."""
    with _warehouse(db, config, demo=False) as wh:
        rows = wh.quarantine()
        if table:
            rows = rows.filter(rows.table_name == table)
        if reason:
            rows = rows.filter(rows.reason == reason)
        rows = rows.order_by(["table_name", "source_file", "source_row"])
        if out is None:
            rows = rows.limit(limit)
        result = rows.to_pyarrow()
    if out is not None:
        write_table(result, out)
    brief = result.select(["table_name", "source_file", "source_row", "reason", "message"])
    show(brief, "Quarantine (raw records with --out FILE)", quiet=quiet)


def _type_limits(option: str, items: list[str] | None) -> dict[str, int]:
    """TYPE=N options -> {type: N}."""
    limits = {}
    for item in items or []:
        kind, _, number = item.partition("=")
        if not number.isdigit():
            raise OmnimetricsError(f"{option} {item!r}: write TYPE=N, e.g. customer_id=2")
        limits[kind.strip()] = int(number)
    return limits


@app.command()
def identity(
    db: Db = DEFAULT_PATH,
    max_links: Annotated[
        list[str] | None,
        typer.Option("--max-links", help="TYPE=N: links before an identifier counts as shared."),
    ] = None,
    max_per_person: Annotated[
        list[str] | None,
        typer.Option(
            "--max-per-person",
            help="TYPE=N: identifiers of a type one person may carry (above: split).",
        ),
    ] = None,
    config: Config = None,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Resolve identities into persons and show how much of the data they link."""
    with _warehouse(db, config, demo=False) as wh:
        report = wh.resolve_identities(
            max_links=_type_limits("--max-links", max_links),
            max_per_person=_type_limits("--max-per-person", max_per_person),
        )
    figures = {
        "identifiers": report.identifiers, "links": report.links, "persons": report.persons,
        "shared identifiers kept out": report.excluded,
        "identifiers set apart (per-person limits)": report.split,
        "persons still over a per-person limit": report.conflicts,
        "iterations": report.iterations,
    }  # fmt: skip
    shares = {f"{k} of identified persons": f"{v:.1%}" for k, v in report.match.items()}
    values = [f"{v:,}" for v in figures.values()] + list(shares.values())
    table = pa.table({"figure": [*figures, *shares], "value": values})
    show(table, "Identity resolution", out=out, quiet=quiet)


@app.command()
def channels(
    db: Db = DEFAULT_PATH,
    config: Config = None,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Classify touchpoints into channels; show counts and what no rule matched."""
    from omnimetrics.channels import UNASSIGNED, unassigned_sources

    with _warehouse(db, config, demo=False) as wh:
        classified = wh.classify_channels()
        counts = classified.group_by("channel").agg(touchpoints=classified.count())
        result = counts.order_by(ibis.desc("touchpoints")).to_pyarrow()
        unknown = unassigned_sources(classified).to_pyarrow()
    show(result, "Touchpoints by channel (null: inherits its session's channel)", out=out,
         quiet=quiet)  # fmt: skip
    if unknown.num_rows and not quiet:
        show(unknown, f"No rule matched ({UNASSIGNED}): add a [[channels.rules]] entry")


@app.command()
def journeys(
    db: Db = DEFAULT_PATH,
    lookback_days: LookbackDays = 30,
    timeout: Annotated[int, typer.Option(help="Session inactivity timeout, minutes.")] = 30,
    top: Annotated[int, typer.Option(help="How many paths to show.")] = 15,
    steps: Annotated[
        str, typer.Option("--funnel", help="Funnel steps, event types in order.")
    ] = "visit,product_view,add_to_cart,checkout",
    by: Annotated[
        str | None,
        typer.Option(help="Cut the funnel by channel, device_type or a segment (rfm_segment...)."),
    ] = None,
    config: Config = None,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Resolve identities, classify channels, build sessions; show paths, ROPO, funnel."""
    from omnimetrics import journeys as jr

    settings = jr.JourneySettings(session_timeout_minutes=timeout, lookback_days=lookback_days)
    with _warehouse(db, config, demo=False) as wh, progress_bar(quiet) as notify:
        notify("resolving identities", 0.1)
        wh.resolve_identities()
        notify("building sessions", 0.6)
        jr.build_events(wh, settings)
        notify("summarising", 0.8)
        paths = jr.path_summary(wh, settings, top=top).to_pyarrow()
        ropo_rates = jr.ropo(wh).to_pyarrow()
        switches = jr.channel_transitions(wh, settings).limit(10).to_pyarrow()
        persons = None
        if by and by not in wh.table("events").columns:
            from omnimetrics.metrics.segments import person_segments

            persons = person_segments(wh)
        funnel_rows = jr.funnel(wh, _names(steps), by=by, persons=persons).to_pyarrow()
        exits = jr.journey_exits(wh, settings).limit(10).to_pyarrow()
        lengths = jr.journey_lengths(wh, settings).to_pyarrow()
        delays = jr.time_to_convert(wh, settings).to_pyarrow()
    show(paths, f"Top conversion paths ({lookback_days}-day lookback)", out=out, quiet=quiet)
    show(ropo_rates, "Research online, purchase offline (and the reverse)", quiet=quiet)
    show(switches, "Channel transitions within journeys", quiet=quiet)
    show(funnel_rows, "Funnel", quiet=quiet)
    show(exits, "Where journeys that did not convert stop", quiet=quiet)
    show(lengths, "Touches per conversion journey", quiet=quiet)
    show(delays, "Time from first touch to order", quiet=quiet)


PATHS_PANEL = "Ready-made path table (instead of the warehouse)"
OUTPUT_PANEL = "More outputs"


@app.command()
def attribution(
    db: Db = DEFAULT_PATH,
    models: Annotated[
        str, typer.Option(help="Comma-separated model names (see docs/attribution.md).")
    ] = "first_touch,last_touch,last_non_direct,linear,position_based,time_decay,markov,shapley",
    by: Annotated[str, typer.Option(help="channel, campaign, or channel,campaign.")] = "channel",
    lookback_days: LookbackDays = 30,
    transform: Annotated[
        str,
        typer.Option(
            help="Path transform: all, collapse_repeats, first_occurrence, counts_per_channel."
        ),
    ] = "all",
    drop: Annotated[
        str | None, typer.Option(help="Channels left out unless alone, e.g. direct.")
    ] = None,
    max_touches: Annotated[
        int | None, typer.Option(help="Keep only the last N touches of each journey.")
    ] = None,
    since: Since = None,
    until: Until = None,
    sales_channel: Annotated[
        str | None, typer.Option(help="Only orders of these sales channels, e.g. store,web.")
    ] = None,
    intervals: Annotated[
        int, typer.Option(help="Bootstrap replicates for 95% intervals (0: none).")
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and of sampling.")] = 0,
    paths: Annotated[
        Path | None,
        typer.Option(
            help="CSV/Parquet/JSONL: path, conversions, nulls, value.", rich_help_panel=PATHS_PANEL
        ),
    ] = None,
    path_column: Annotated[str, typer.Option(rich_help_panel=PATHS_PANEL)] = "path",
    conversions_column: Annotated[str, typer.Option(rich_help_panel=PATHS_PANEL)] = "conversions",
    nulls_column: Annotated[str, typer.Option(rich_help_panel=PATHS_PANEL)] = "nulls",
    value_column: Annotated[str, typer.Option(rich_help_panel=PATHS_PANEL)] = "value",
    separator: Annotated[
        str, typer.Option(help="Between the steps of a path.", rich_help_panel=PATHS_PANEL)
    ] = ">",
    spend: Annotated[
        bool,
        typer.Option(
            "--spend",
            help="Add spend, cost per conversion, CAC and ROAS.",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ] = False,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Compare the models: disagreement, agreement, roles.",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ] = False,
    transitions: Annotated[
        Path | None,
        typer.Option(
            help="Write the first Markov model's transition matrix to FILE.",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ] = None,
    config: Config = None,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Credit each channel (or campaign) with conversions and revenue under each model.

    Reads the journeys built by `omnimetrics journeys`, or a path table with --paths.
    """
    from omnimetrics import attribution as at

    at.define_models(_settings(config, demo=False).attribution_models)
    names = _names(models)
    dims = _names(by)
    options = {"drop": _names(drop), "max_touches": max_touches}
    markov = next((n for n in names if n.startswith("markov")), None)
    if paths is not None:
        table = at.read_paths(
            paths,
            path=path_column,
            conversions=conversions_column,
            nulls=nulls_column,
            value=value_column,
            separator=separator,
        )
        table = at.transform_paths(table, transform, **options)
        result = at.attribute(table, names, intervals=intervals, seed=seed).to_pyarrow()
        show(result, f"Attribution of {paths.name}", out=out, quiet=quiet)
        if transitions is not None:
            _write_transitions(table, markov, transitions, quiet)
        if compare:
            _show_comparison(result, "channel", quiet)
        return
    from omnimetrics import journeys as jr

    settings = jr.JourneySettings(lookback_days=lookback_days)
    segment = {"since": since, "until": until, "sales_channels": _names(sales_channel)}
    with _warehouse(db, config, demo=False) as wh:
        touches = at.transform_touches(
            at.select_orders(jr.journey_touches(wh, settings), **segment), transform, **options
        )
        orders = at.select_orders(jr.conversions(wh, settings), **segment)
        lost = at.transform_touches(
            jr.non_conversion_touches(wh, settings), transform, key="person_id", **options
        )
        credit = at.attribute(touches, names, by=dims, orders=orders, non_converting=lost,
                              intervals=intervals, seed=seed)  # fmt: skip
        if spend:
            first = touches.filter(touches.first_order)
            acquisitions = at.attribute(first, names, by=dims, non_converting=lost, seed=seed)
            spent = at.spend_by(wh.table("spend"), dims, since=since, until=until)
            credit = at.with_spend(credit, spent, by=dims, acquisitions=acquisitions)
        result = credit.to_pyarrow()
        show(result, f"Attribution by {by} ({lookback_days}-day lookback)", out=out, quiet=quiet)
        _warn_unsupported(wh, "attribution", quiet)
        if transitions is not None:
            table = at.PathTable.from_arrow(at.journey_paths(touches, lost, by=dims).to_pyarrow())
            _write_transitions(table, markov, transitions, quiet)
        if compare:
            _show_comparison(result, dims[0], quiet)
            show(at.journey_roles(touches, dims[0]).to_pyarrow(), "Who opens and who closes",
                 quiet=quiet)  # fmt: skip


def _warn_unsupported(wh: Warehouse, kind: str, quiet: bool) -> None:
    """Say when the data cannot support the model just run (maturity.model_support)."""
    from omnimetrics.metrics.maturity import model_support

    support = model_support(wh, kind)
    if not support.supported and not quiet:
        for reason in support.reasons:
            errors.print(f"[yellow]Careful: {reason}[/yellow]")


def _names(text: str | None) -> list[str]:
    """A comma-separated option as a list of names."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _write_transitions(table: Any, markov: str | None, path: Path, quiet: bool) -> None:
    from omnimetrics.attribution import get_model

    if markov is None:
        raise OmnimetricsError("--transitions needs a Markov model in --models (e.g. markov).")
    model = get_model(markov).learner().fit(table)
    write_table(pa.Table.from_pandas(model.transitions(), preserve_index=False), path)
    if not quiet:
        console.print(f"[dim]{markov} transition matrix written to {path}[/dim]")


def _show_comparison(result: pa.Table, by: str, quiet: bool) -> None:
    from omnimetrics.attribution import compare_models

    comparison = compare_models(result.to_pandas(), by=by)
    spread = ["min_share", "lowest_model", "max_share", "highest_model", "largest_shift"]
    shifts = comparison.shares[[by, *spread]]
    show(pa.Table.from_pandas(shifts, preserve_index=False),
         f"Where the models disagree, by {by}", quiet=quiet)  # fmt: skip
    pairs = comparison.agreement[["model_a", "model_b", "spearman", "kendall", "top_channel_same"]]
    show(pa.Table.from_pandas(pairs.head(10), preserve_index=False),
         "Least agreeing pairs of models (rank correlation)", quiet=quiet)  # fmt: skip
    if not quiet:
        for line in comparison.summary():
            console.print(f"- {line}")


@app.command()
def influence(
    db: Db = DEFAULT_PATH,
    model: Annotated[
        str, typer.Option(help="An additive model, e.g. linear or markov.")
    ] = "linear",
    by: Annotated[str, typer.Option(help="channel or campaign.")] = "channel",
    lookback_days: LookbackDays = 30,
    config: Config = None,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Cross-channel influence: credit each touch channel earns on sales made in each sales
    channel (online touchpoints behind store sales, and the reverse)."""
    from omnimetrics import attribution as at
    from omnimetrics import journeys as jr

    at.define_models(_settings(config, demo=False).attribution_models)
    settings = jr.JourneySettings(lookback_days=lookback_days)
    with _warehouse(db, config, demo=False) as wh:
        lost = jr.non_conversion_touches(wh, settings)
        touches = jr.journey_touches(wh, settings)
        table = at.cross_channel_influence(touches, model, by, non_converting=lost)
        result = table.to_pyarrow()
    show(result, f"Credit by sales channel and {by} ({model})", out=out, quiet=quiet)
    summary = at.influence_summary(result.to_pandas())
    if not quiet:
        for line in summary["summary"]:
            console.print(f"- {line}")


@app.command()
def kpis(
    db: Db = DEFAULT_PATH,
    names: Annotated[
        str | None,
        typer.Option(
            "--kpis",
            help="Comma-separated KPIs, or a set: "
            + ", ".join(
                [
                    "store_chain_ecommerce",
                    "pure_online",
                    "services_call_centre",
                    "acquisition",
                    "retention",
                    "engagement",
                ]
            )
            + " (default: all).",
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
    quiet: Quiet = False,
) -> None:
    """KPIs by period and dimension, with the change against the previous period."""
    from omnimetrics.metrics.kpis import compute_kpis

    with _warehouse(db, config, demo=False) as wh:
        result = compute_kpis(
            wh, _names(names) or None, by=_names(by), grain=grain,
            since=since.date() if since else None, until=until.date() if until else None,
            min_cell_persons=wh.settings.min_cell_persons if shared else None,
        )  # fmt: skip
    table = result.table.drop(columns=["numerator", "denominator"])
    show(pa.Table.from_pandas(table, preserve_index=False), f"KPIs by {grain}", out=out,
         quiet=quiet)  # fmt: skip
    if forecast:
        _show_forecasts(result.table, _names(by), forecast, quiet)
    if alerts:
        _show_alerts(result.table, _names(by), quiet)
    if not quiet:
        for name, reason in result.unavailable.items():
            console.print(f"[yellow]{name}: {reason}[/yellow]")


def _kpi_series(table: Any, by: list[str]) -> Iterator[tuple[dict, Any]]:
    """Each KPI (and dimension values) of a KPI table as a series over all its periods (a period
    without a value is a gap in the series, not a change of grid)."""
    import pandas as pd

    periods = pd.DatetimeIndex(sorted(pd.to_datetime(table.period.unique())))
    for keys, group in table.groupby(["kpi", *by], dropna=False):
        labels = dict(zip(["kpi", *by], keys if isinstance(keys, tuple) else (keys,), strict=True))
        series = group.set_index(pd.to_datetime(group.period)).value.sort_index()
        yield labels, series.reindex(periods)


def _show_forecasts(table: Any, by: list[str], horizon: int, quiet: bool) -> None:
    from omnimetrics.metrics.forecast import forecast

    rows = []
    for labels, series in _kpi_series(table, by):
        projected = forecast(series, horizon)
        for row in projected.table.itertuples():
            rows.append({**labels, "period": row.period, "forecast": row.forecast,
                         "low": row.low, "high": row.high, "note": projected.note})  # fmt: skip
    show(pa.Table.from_pylist(rows), f"Forecast, next {horizon} periods (95% interval)",
         quiet=quiet)  # fmt: skip


def _show_alerts(table: Any, by: list[str], quiet: bool) -> None:
    from omnimetrics.metrics.forecast import alerts
    from omnimetrics.metrics.kpis import get_kpi

    rows = []
    for labels, series in _kpi_series(table, by):
        better = get_kpi(labels["kpi"]).higher_is_better
        for row in alerts(series, higher_is_better=better).itertuples():
            rows.append({**labels, "period": row.period, "value": row.value,
                         "expected": row.expected, "low": row.low, "high": row.high,
                         "direction": row.direction, "bad": row.bad})  # fmt: skip
    if rows:
        show(pa.Table.from_pylist(rows), "Alerts: KPIs outside their expected range", quiet=quiet)
    elif not quiet:
        console.print("No KPI left its expected range.")


@app.command()
def goals(
    db: Db = DEFAULT_PATH,
    grain: Annotated[str, typer.Option(help="Period of the KPI series: week, month...")] = "month",
    today: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="As of this day (default today).")
    ] = None,
    config: Config = None,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """SMART goals of omnimetrics.toml ([[goals]]): progress, projection, chance of success."""
    from datetime import date

    from omnimetrics.metrics.goals import goal_status, goals_from_config
    from omnimetrics.metrics.kpis import get_kpi, kpi_series

    with _warehouse(db, config, demo=False) as wh:
        declared = goals_from_config(wh.settings.goals)
        if not declared:
            raise OmnimetricsError(
                "No goals declared: add [[goals]] entries to omnimetrics.toml (see "
                "docs/goals-and-forecasts.md), e.g. name, kpi, target_change, start, deadline."
            )
        rows = []
        for goal in declared:
            where = dict([goal.segment_filter]) if goal.segment_filter else {}
            if goal.channel:
                where["channel"] = goal.channel
            series = kpi_series(wh, goal.kpi, grain=grain, where=where)
            status = goal_status(goal, series, higher_is_better=get_kpi(goal.kpi).higher_is_better,
                                 today=today.date() if today else date.today())  # fmt: skip
            rows.append(status.to_row())
    table = pa.Table.from_pylist(rows)
    if out is not None:
        write_table(table, out)
    brief = ["goal", "kpi", "status", "current", "target", "progress", "projection",
             "probability", "days_left"]  # fmt: skip
    show(table.select(brief), "Goals", quiet=quiet)
    if not quiet:
        for row in rows:
            if row.get("note"):
                console.print(f"[yellow]{row['goal']}: {row['note']}[/yellow]")


@app.command()
def maturity(
    db: Db = DEFAULT_PATH,
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
    quiet: Quiet = False,
) -> None:
    """Omnichannel maturity: a 0-100 score from the data (and a questionnaire), levels per
    dimension, recommendations, and which models the data can support."""
    from omnimetrics.metrics import maturity as mt

    if template:
        console.print(mt.questionnaire_template(), markup=False)
        return
    given = mt.load_answers(answers) if answers else None
    with _warehouse(db, config, demo=False) as wh:
        report = mt.assess(wh, as_of=as_of.date() if as_of else None, answers=given)
        before = (mt.assess(wh, as_of=compare_with.date(), answers=given, models=False)
                  if compare_with else None)  # fmt: skip
    show(pa.Table.from_pandas(report.indicators, preserve_index=False), "Indicators", out=out,
         quiet=quiet)  # fmt: skip
    show(pa.Table.from_pandas(report.dimensions, preserve_index=False), "Dimensions", quiet=quiet)
    if before is not None:
        show(pa.Table.from_pandas(mt.compare(before, report), preserve_index=False),
             f"Progress since {compare_with:%Y-%m-%d}", quiet=quiet)  # fmt: skip
    if quiet:
        return
    console.print(f"[bold]Score {report.score:.0f}/100: level {report.level} "
                  f"({report.level_name})[/bold]")  # fmt: skip
    for line in report.recommendations:
        console.print(f"- {line}")
    for support in report.models:
        verdict = "supported" if support.supported else "not supported"
        console.print(f"[dim]{support.kind}: {verdict}. {' '.join(support.reasons)}[/dim]")


@app.command("business-case")
def business_case(
    db: Db = DEFAULT_PATH,
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
    quiet: Quiet = False,
) -> None:
    """If the KPIs reached these targets: projected orders, revenue, margin and ROI, from the
    current values measured over the period."""
    from omnimetrics.metrics.kpis import compute_kpis
    from omnimetrics.metrics.maturity import business_case as project

    names = ["conversion_rate", "average_basket", "repeat_purchase_rate", "orders", "revenue",
             "spend", "margin"]  # fmt: skip
    with _warehouse(db, config, demo=False) as wh:
        measured = compute_kpis(wh, names, grain="total", since=since.date() if since else None,
                                until=until.date() if until else None)  # fmt: skip
    now = dict(zip(measured.table.kpi, measured.table.value, strict=True))
    missing = [n for n in ("conversion_rate", "orders", "revenue") if n not in now]
    if missing:
        raise OmnimetricsError(
            f"The business case needs {', '.join(missing)}: "
            + "; ".join(f"{k} {v}" for k, v in measured.unavailable.items() if k in missing)
        )
    current = {"conversion_rate": now["conversion_rate"],
               "average_basket": now["average_basket"],
               "retention": now.get("repeat_purchase_rate", 0.0)}  # fmt: skip
    targets = {key: value for key, value in (
        ("conversion_rate", conversion_rate), ("average_basket", average_basket),
        ("retention", retention), ("spend", spend)) if value is not None}  # fmt: skip
    if margin_rate is None and now.get("margin") == now.get("margin"):
        margin_rate = now["margin"] / now["revenue"] if "margin" in now else None
    table = project(current, targets, orders=now["orders"], revenue=now["revenue"],
                    spend=now.get("spend", 0.0), margin_rate=margin_rate)  # fmt: skip
    show(pa.Table.from_pandas(table, preserve_index=False), "Business case", out=out, quiet=quiet)


@app.command()
def segments(
    db: Db = DEFAULT_PATH,
    by: Annotated[
        str, typer.Option(help="A segment column: rfm_segment, channel_mix, age_band, ...")
    ] = "rfm_segment",
    campaign: Annotated[
        str | None,
        typer.Option(help="Rank the segments by their response to this campaign (lift)."),
    ] = None,
    config: Config = None,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Persons per segment value, or the segments most responsive to a campaign."""
    from omnimetrics.metrics.segments import most_responsive, person_segments

    with _warehouse(db, config, demo=False) as wh:
        if campaign:
            table = most_responsive(wh, campaign, by=by).to_pyarrow()
            title = f"Response to {campaign} by {by} (observational, not causal)"
        else:
            persons = person_segments(wh)
            if by not in persons.columns:
                raise OmnimetricsError(
                    f"Unknown segment {by!r}. Choose from {sorted(persons.columns)[:40]}."
                )
            table = persons.group_by(by).agg(persons=persons.count()).order_by(by).to_pyarrow()
            title = f"Persons by {by}"
    show(table, title, out=out, quiet=quiet)


@app.command()
def audience(
    segment: Annotated[str, typer.Argument(help="A segment column or a user segment name.")],
    value: Annotated[
        str | None, typer.Argument(help="The value, e.g. champions (for a segment column).")
    ] = None,
    db: Db = DEFAULT_PATH,
    config: Config = None,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Export a segment as hashed identifiers (SHA-256, as ad platforms match them): persons who
    granted marketing consent only."""
    from omnimetrics.metrics.segments import audience as export

    with _warehouse(db, config, demo=False) as wh:
        table = export(wh, segment, value)
    if out is None and not quiet:
        console.print("[dim]Tip: --out audience.csv writes the file to upload.[/dim]")
    show(table, f"Audience {segment}{'=' + value if value else ''}", out=out, quiet=quiet)


@app.command()
def timeline(
    identifier: Identifier,
    identifier_type: IdentifierType = None,
    db: Db = DEFAULT_PATH,
    config: Config = None,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Every interaction of one person on every channel, in order."""
    from omnimetrics import journeys as jr
    from omnimetrics.identity import find_person

    with _warehouse(db, config, demo=False) as wh:
        person = find_person(wh, identifier, identifier_type)
        rows = jr.timeline(wh, person).to_pyarrow()
    show(rows, f"Timeline of {person}", out=out, quiet=quiet)


@app.command()
def erase(
    identifier: Identifier,
    identifier_type: IdentifierType = None,
    db: Db = DEFAULT_PATH,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config: Config = None,
    quiet: Quiet = False,
) -> None:
    """Erase a person (every linked identifier) from every table; suppress their later data."""
    if not yes and not typer.confirm(f"Erase everything about the person behind {identifier!r}?"):
        raise typer.Exit(1)
    with _warehouse(db, config, demo=False) as wh:
        report = wh.erase(identifier, identifier_type)
    rows = pa.table({"table": list(report.rows_deleted),
                     "rows_deleted": list(report.rows_deleted.values())})  # fmt: skip
    show(rows, f"Erased {report.person_id} ({report.identifiers} identifiers)", quiet=quiet)


@app.command()
def demo(
    db: Db = "omnimetrics-demo.duckdb",
    folder: Annotated[Path, typer.Option("--folder", help="Where the simulated files go.")] = Path(
        "demo-world"
    ),
    customers: Annotated[int, typer.Option(help="Number of simulated customers.")] = 5_000,
    days: Annotated[int, typer.Option(help="Days of simulated history.")] = 120,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    quiet: Quiet = False,
) -> None:
    """Simulate a retailer, ingest its files into a fresh warehouse and show what is there."""
    from omnimetrics import journeys as jr
    from omnimetrics.simulate import simulate as make_world

    for stale in (Path(db), Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)
    settings = Settings.load(demo=True)
    with progress_bar(quiet) as notify:
        world = make_world(customers=customers, days=days, seed=seed, progress=notify)
        world.write(folder)
    with connect(db, settings=settings) as wh:
        with progress_bar(quiet) as notify:
            reports = wh.load(folder, progress=notify)
        show(_report_table(reports), f"Ingested the simulated world ({folder})", quiet=quiet)
        _print_reasons(reports, quiet)
        with progress_bar(quiet) as notify:
            notify("resolving identities", 0.2)
            identity_report = wh.resolve_identities()
            notify("building sessions and journeys", 0.6)
            jr.build_events(wh)
            paths = jr.path_summary(wh, top=10).to_pyarrow()
            ropo_rates = jr.ropo(wh).to_pyarrow()
            reach = jr.coverage(wh)
        show(wh.summary(), f"Warehouse {db}", quiet=quiet)
        figures = {
            "persons": f"{identity_report.persons:,}",
            **{f"{k} of identified persons": f"{v:.1%}" for k, v in identity_report.match.items()},
            **{k: f"{v:.1%}" for k, v in reach.items()},
        }
        show(pa.table({"figure": list(figures), "value": list(figures.values())}),
             "One customer across channels", quiet=quiet)  # fmt: skip
        show(paths, "Top conversion paths (30-day lookback)", quiet=quiet)
        show(ropo_rates, "Research online, purchase offline", quiet=quiet)
    if not quiet:
        console.print(
            f"Next: `omnimetrics journeys --db {db}`, `omnimetrics timeline C000001 --db {db}`, "
            f"`omnimetrics quarantine --db {db}`."
        )


def main() -> None:
    """Entry point: errors meant for the user print as one clear message, not a traceback."""
    try:
        app(standalone_mode=False)
    except OmnimetricsError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code or 0)
    except KeyboardInterrupt:
        errors.print("[red]interrupted[/red]: nothing partial was committed.")
        sys.exit(130)
    except Exception as exc:
        # Usage errors (click's, vendored or not by typer) know how to show themselves.
        if callable(getattr(exc, "show", None)) and isinstance(
            getattr(exc, "exit_code", None), int
        ):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
