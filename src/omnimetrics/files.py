"""Tables that users bring as files (a ready RFM table, transactions, an experiment's units or
summary), read for a command without loading them into the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omnimetrics.errors import SchemaError, SourceError, did_you_mean


def read_file(path: Path, mapping: dict[str, str], wanted: tuple[str, ...]) -> Any:
    """The file (CSV or Parquet) as an Ibis table (DuckDB in memory) with its columns renamed
    by `mapping` (the contract's name -> the file's), refused clearly when it lacks `wanted`."""
    import ibis

    if not path.is_file():
        raise SourceError(f"No file {path}: give the path of a CSV or Parquet file.")
    connection = ibis.duckdb.connect()
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            table = connection.read_parquet(path)
        else:
            table = connection.read_csv(path)
    except Exception as error:  # DuckDB's own message says which line and why
        raise SourceError(f"Cannot read {path}: {error}") from None
    unknown = {name: column for name, column in mapping.items() if column not in table.columns}
    if unknown:
        name, column = next(iter(unknown.items()))
        raise SchemaError(f"--map {name}={column}: {path.name} has no column {column!r}. "
                          + did_you_mean(column, table.columns))  # fmt: skip
    table = table.rename({name: column for name, column in mapping.items()})
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise SchemaError(f"{path.name} lacks the column(s) {missing}; its columns are "
                          f"{list(table.columns)}. Map them with --map, e.g. --map "
                          f"{missing[0]}=<its name in the file>.")  # fmt: skip
    return table
