"""The shell's shared parts: the Typer app, common options, rendering of results, the entry
point. Only what a command needs is imported, when it runs, so `omnimetrics --help` is fast."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from omnimetrics.errors import OmnimetricsError

if TYPE_CHECKING:
    from rich.console import Console

    from omnimetrics.results import Result
    from omnimetrics.workspace import Workspace

DEFAULT_DB = "omnimetrics.duckdb"

app = typer.Typer(
    name="omnimetrics",
    help="Measure the real performance of an omnichannel marketing strategy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

Db = Annotated[str, typer.Option("--db", help="Warehouse: a DuckDB file, or 'spark'.")]
Out = Annotated[
    Path | None, typer.Option("--out", help="Also write the table to FILE (.csv, .parquet, .json).")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no tables.")]
Rows = Annotated[
    int,
    typer.Option("--limit", help="Rows of each table to print; 0 prints all (--out writes all)."),
]
ShowAll = Annotated[bool, typer.Option("--all", help="Print every row (same as --limit 0).")]
Config = Annotated[
    Path | None, typer.Option("--config", help="Settings file (default ./omnimetrics.toml).")
]
Identifier = Annotated[
    str, typer.Argument(help="Any identifier of the person: email, phone, customer id...")
]
IdentifierType = Annotated[
    str | None, typer.Option("--type", help="Its type, when ambiguous (email, phone...).")
]
Day = typer.Option(formats=["%Y-%m-%d"])
Since = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="From this day (UTC).")]
Until = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Up to this day, included.")
]
LookbackDays = Annotated[
    int | None, typer.Option(help="Days of touches before an order (default: [journeys]).")
]
Demo = Annotated[
    bool, typer.Option("--demo", help="Demo mode: simulated data, public pseudonymisation key.")
]


# -- rendering -----------------------------------------------------------------------------------
def console(stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped or redirected output keeps every column whole instead of cutting it at 80 characters.
    width = None if stream.isatty() else 1_000
    return Console(stderr=stderr, highlight=False, width=width)


def render(
    result: Result,
    *,
    out: Path | None = None,
    quiet: bool = False,
    columns: Sequence[str] | None = None,
    figures: bool = False,
    limit: int = 50,
    show_all: bool = False,
) -> None:
    """Write the main table to `out`; print it, its parts, its figures and its notes."""
    screen = console()
    if out is not None:
        result.write(out)
    if quiet:
        return
    for index, part in enumerate((result, *result.parts)):
        table = part.table
        if columns and index == 0:
            table = table.select([c for c in columns if c in table.column_names])
        _print_table(screen, table, part.title, 0 if show_all else limit)
        if index == 0 and out is not None:
            screen.print(f"written to {out}", style="dim", markup=False)
        for note in part.notes if index else ():
            screen.print(f"- {note}", markup=False)
    if figures:
        for name, value in result.figures.items():
            screen.print(f"{name}: {_cell(value)}", style="bold", markup=False)
    for note in result.notes:
        screen.print(f"- {note}", markup=False)


def _print_table(screen: Console, table: Any, title: str, limit: int) -> None:
    import pyarrow as pa
    from rich.table import Table
    from rich.text import Text

    view = Table(title=Text(title), header_style="bold")
    for field in table.schema:
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
        view.add_column(Text(field.name), justify="right" if numeric else "left")
    shown = table.num_rows if limit <= 0 else min(limit, table.num_rows)
    for row in table.slice(0, shown).to_pylist():
        view.add_row(*(Text(_cell(v)) for v in row.values()))
    if shown < table.num_rows:
        view.caption = f"first {shown:,} of {table.num_rows:,} rows (--all prints them all)"
    screen.print(view)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return ""
        if abs(value) < 1e-9:  # float noise around zero (-2.8e-17) is zero
            return "0"
        if value.is_integer() and abs(value) < 1e15:
            return f"{value:,.0f}"
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@contextmanager
def progress_bar(quiet: bool) -> Iterator[Callable[[str, float], None]]:
    if quiet or not sys.stderr.isatty():
        yield lambda step, fraction: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1.0)
        yield lambda step, fraction: bar.update(task, description=step, completed=fraction)


def open_workspace(
    db: str, config: Path | None, demo: bool = False, *, create: bool = False
) -> Workspace:
    """The workspace of --db; only commands that load data may create the file."""
    from omnimetrics.workspace import open as open_workspace

    return open_workspace(db, config, demo=demo, create=create)


def names(text: str | None) -> list[str]:
    """A comma-separated option as a list of names."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def day(value: datetime | None) -> Any:
    return value.date() if value else None


def type_limits(option: str, items: list[str] | None) -> dict[str, int]:
    """TYPE=N options -> {type: N}."""
    limits = {}
    for item in items or []:
        kind, _, number = item.partition("=")
        if not number.isdigit():
            raise OmnimetricsError(f"{option} {item!r}: write TYPE=N, e.g. customer_id=2")
        limits[kind.strip()] = int(number)
    return limits


# -- commands ------------------------------------------------------------------------------------
def _version(value: bool) -> None:
    if value:
        from omnimetrics import __version__

        print(f"omnimetrics {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Measure the real performance of an omnichannel marketing strategy."""


def main() -> None:
    """Entry point: errors meant for the user print as one clear message, not a traceback."""
    # Fresh memory in huge pages costs more than it saves in a short process (0.1-0.2 s here).
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    try:
        app(standalone_mode=False)
    except OmnimetricsError as exc:
        console(stderr=True).print(f"error: {exc}", markup=False)
        _exit(2)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        _exit(code or 0)
    except typer.Abort:
        console(stderr=True).print("aborted: nothing was changed.", markup=False)
        _exit(1)
    except KeyboardInterrupt:
        console(stderr=True).print("interrupted: nothing partial was committed.", markup=False)
        _exit(130)
    except Exception as exc:
        # Usage errors (click's, vendored or not by typer) know how to show themselves.
        if callable(getattr(exc, "show", None)) and isinstance(
            getattr(exc, "exit_code", None), int
        ):
            exc.show()
            _exit(exc.exit_code)
        raise
    _exit(0)


def _exit(code: int) -> None:
    """Leave at once once output is flushed: the work is committed and the warehouse closed,
    so the interpreter's slow tear-down of large modules is skipped."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
