"""Commands that set up and load: init, simulate, ingest, load, tables, quarantine, identity,
channels, journeys, run, timeline, erase, demo."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from omnimetrics.cli.shell import (
    DEFAULT_DB,
    Config,
    Db,
    Demo,
    Identifier,
    IdentifierType,
    LookbackDays,
    Out,
    Quiet,
    Rows,
    ShowAll,
    app,
    console,
    day,
    names,
    open_workspace,
    progress_bar,
    render,
    type_limits,
)
from omnimetrics.errors import OmnimetricsError

if TYPE_CHECKING:
    pass


Start = Annotated[
    datetime | None,
    typer.Option(
        formats=["%Y-%m-%d"], help="First simulated day (default: the history ends yesterday)."
    ),
]


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Project folder (created if needed).")] = Path("."),
    activation_hashes: Annotated[
        bool,
        typer.Option(
            "--activation-hashes",
            help="Keep the plain SHA-256 of emails and phones that ad platforms match audiences "
            "on (needed by `omnimetrics audience`; weaker than the keyed hash).",
        ),
    ] = False,
) -> None:
    """Write a commented omnimetrics.toml and, unless OMNIMETRICS_SECRET is set, a private secret
    file for pseudonymising emails and phones."""
    from omnimetrics.project import init_project

    written = init_project(folder, activation_hashes=activation_hashes)
    screen = console()
    screen.print(f"wrote {written.config}", markup=False)
    if written.secret is not None:
        screen.print(
            f"wrote {written.secret} (readable by you only). Keep it: every ingest into this "
            "warehouse needs the same secret. Keep it apart from any copy of the warehouse you "
            "share, and out of version control.",
            markup=False,
        )


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the world to.")] = Path(
        "world"
    ),
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 10_000,
    days: Annotated[int, typer.Option(help="Days of history.")] = 180,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same world).")] = 42,
    start: Start = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Write a simulated omnichannel retailer (input files + its ground truth) to a folder."""
    import pyarrow as pa

    from omnimetrics.results import Result
    from omnimetrics.simulate import simulate as make_world

    first = day(start) or date.today() - timedelta(days=days)
    with progress_bar(quiet) as notify:
        world = make_world(customers=customers, days=days, seed=seed, start=first,
                           progress=notify)  # fmt: skip
        folder = world.write(out)
    written = world.truth.get("rows", {})
    table = pa.table({"file": list(written), "rows": [int(v) for v in written.values()]})
    title = f"Simulated world in {folder}: {first} to {first + timedelta(days=days - 1)}"
    render(Result("simulate", title, table), quiet=quiet, limit=rows, show_all=show_all)


@app.command()
def ingest(
    table: Annotated[str, typer.Argument(help="Target table, e.g. touchpoints, orders.")],
    path: Annotated[list[str], typer.Argument(help="Files, globs or folders.")],
    db: Db = DEFAULT_DB,
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
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Validate, pseudonymise and load files into a warehouse table; rejects go to quarantine."""
    from omnimetrics.ingest import CsvOptions

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
    with open_workspace(db, config, demo, create=True) as ws, progress_bar(quiet) as notify:
        result = ws.ingest(table, path, columns=mapping, source_name=source, csv=csv,
                           format=file_format, timezone=timezone, progress=notify)  # fmt: skip
    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all)


@app.command()
def load(
    folder: Annotated[Path, typer.Argument(help="A folder with a manifest.json (e.g. simulated).")],
    db: Db = DEFAULT_DB,
    config: Config = None,
    demo: Demo = False,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Ingest every file of a folder described by its manifest.json."""
    with open_workspace(db, config, demo, create=True) as ws, progress_bar(quiet) as notify:
        result = ws.load(folder, progress=notify)
    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all)


@app.command()
def tables(
    db: Db = DEFAULT_DB, config: Config = None, out: Out = None, quiet: Quiet = False
) -> None:
    """List the warehouse tables and their row counts."""
    with open_workspace(db, config) as ws:
        render(ws.tables(), out=out, quiet=quiet)


@app.command()
def quality(
    db: Db = DEFAULT_DB, config: Config = None, out: Out = None, quiet: Quiet = False
) -> None:
    """Data quality: rows and freshness per table, the ingest ledger, quarantine reasons, and
    how well persons are linked (after a run)."""
    with open_workspace(db, config) as ws:
        render(ws.quality(), out=out, quiet=quiet)


@app.command()
def quarantine(
    db: Db = DEFAULT_DB,
    table: Annotated[str | None, typer.Option(help="Only rows rejected from this table.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason code.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show (--out writes them all).")] = 50,
    config: Config = None,
    out: Out = None,
    quiet: Quiet = False,
) -> None:
    """Show rejected rows: file, row, column, reason and message (raw records with --out)."""
    with open_workspace(db, config) as ws:
        result = ws.quarantine(table=table, reason=reason, limit=None if out else limit)
    brief = ["table_name", "source_file", "source_row", "reason", "message"]
    render(result, out=out, quiet=quiet, columns=brief)


@app.command()
def identity(
    db: Db = DEFAULT_DB,
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
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Resolve identities into persons and show how much of the data they link."""
    with open_workspace(db, config) as ws:
        result = ws.identity(
            max_links=type_limits("--max-links", max_links),
            max_per_person=type_limits("--max-per-person", max_per_person),
        )
    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all)


@app.command()
def channels(
    db: Db = DEFAULT_DB, config: Config = None, out: Out = None, quiet: Quiet = False
) -> None:
    """Classify touchpoints into channels; show counts and what no rule matched."""
    with open_workspace(db, config) as ws:
        result = ws.channels()
    render(result, out=out, quiet=quiet)


@app.command()
def journeys(
    db: Db = DEFAULT_DB,
    lookback_days: LookbackDays = None,
    timeout: Annotated[
        int | None, typer.Option(help="Session inactivity timeout, minutes (default: [journeys]).")
    ] = None,
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
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Resolve identities, classify channels, build sessions; show paths, ROPO, funnel."""
    with open_workspace(db, config) as opened, progress_bar(quiet) as notify:
        ws = opened.using(lookback_days=lookback_days, session_timeout_minutes=timeout)
        result = ws.journeys(top=top, funnel=names(steps), by=by, progress=notify)
    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all)


@app.command()
def run(db: Db = DEFAULT_DB, config: Config = None, out: Out = None, quiet: Quiet = False) -> None:
    """The whole pipeline after new data: identities, events, journeys and the aggregates the
    dashboard reads; recorded in `omnimetrics_runs`."""
    with open_workspace(db, config) as ws, progress_bar(quiet) as notify:
        result = ws.run(progress=notify)
    render(result, out=out, quiet=quiet, figures=True)


@app.command()
def timeline(
    identifier: Identifier,
    identifier_type: IdentifierType = None,
    db: Db = DEFAULT_DB,
    config: Config = None,
    out: Out = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Every interaction of one person on every channel, in order."""
    with open_workspace(db, config) as ws:
        result = ws.timeline(identifier, identifier_type)
    render(result, out=out, quiet=quiet, limit=rows, show_all=show_all)


@app.command()
def erase(
    identifier: Identifier,
    identifier_type: IdentifierType = None,
    db: Db = DEFAULT_DB,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config: Config = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
) -> None:
    """Erase a person (every linked identifier) from every table; suppress their later data."""
    if not yes and not sys.stdin.isatty():
        raise OmnimetricsError(
            "erase asks for confirmation and there is no terminal to ask on: pass --yes."
        )
    if not yes and not typer.confirm(f"Erase everything about the person behind {identifier!r}?"):
        raise typer.Exit(1)
    with open_workspace(db, config) as ws:
        result = ws.erase(identifier, identifier_type)
    render(result, quiet=quiet, limit=rows, show_all=show_all)


@app.command()
def demo(
    db: Db = "omnimetrics-demo.duckdb",
    folder: Annotated[Path, typer.Option("--folder", help="Where the simulated files go.")] = Path(
        "demo-world"
    ),
    customers: Annotated[int, typer.Option(help="Number of simulated customers.")] = 5_000,
    days: Annotated[int, typer.Option(help="Days of simulated history.")] = 120,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    start: Start = None,
    rows: Rows = 50,
    show_all: ShowAll = False,
    quiet: Quiet = False,
    serve: Annotated[
        bool, typer.Option("--serve", help="Then serve the dashboard (a read key is made).")
    ] = False,
) -> None:
    """Simulate a retailer, load it into a fresh warehouse, run the pipeline, show the main
    results (KPIs with their change, attribution models side by side, goals, maturity) and write
    the report; `--serve` then opens the dashboard."""
    from omnimetrics.report import write_report
    from omnimetrics.workspace import demo as run_demo

    with progress_bar(quiet) as notify:
        ws, answers = run_demo(db, folder, customers=customers, days=days, seed=seed,
                               start=day(start), progress=notify)  # fmt: skip
        notify("writing the report", 0.95)
        report = write_report(ws, Path(db).with_suffix(".html").resolve())
    for answer in answers:
        render(answer, quiet=quiet, limit=rows, show_all=show_all, figures=answer.name == "run")
    where = Path(db).resolve()
    if not quiet:
        console().print(
            f"The warehouse is {where}; the simulated files and their truth are in "
            f"{Path(folder).resolve()}.\nThe report: {report} (one file, opens offline).\n"
            f"The dashboard: OMNIMETRICS_READ_KEY=<16+ random characters> omnimetrics serve "
            f"--no-collect --db {where} (or `omnimetrics demo --serve`: a new demo, then its "
            "dashboard). Next:\n"
            f"  omnimetrics attribution --db {where} --compare\n"
            f"  omnimetrics kpis --db {where} --by channel\n"
            f"  omnimetrics journeys --db {where}\n"
            f"  omnimetrics timeline C000001 --db {where}",
            markup=False,
        )
    if serve:
        _serve_dashboard(ws)
    ws.close()


def _serve_dashboard(ws: Any) -> None:
    """The dashboard of a demo warehouse, with a read key made for this session."""
    import secrets

    import uvicorn

    from omnimetrics.service import create_app
    from omnimetrics.workspace import Workspace

    key = secrets.token_urlsafe(18)
    server = replace(ws.settings.server, read_keys={"demo": key})
    shown = Workspace(ws.warehouse.using(ws.settings.with_(server=server)))
    console().print(
        f"Dashboard: http://{server.host}:{server.port}/dashboard  (user name: {key}, no "
        "password). Ctrl+C stops it.",
        markup=False,
    )
    uvicorn.run(create_app(shown, collect=False), host=server.host, port=server.port,
                log_level="warning", access_log=False)  # fmt: skip
