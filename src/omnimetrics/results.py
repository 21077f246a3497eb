"""What every `Workspace` method returns: a tidy table, with named parts, figures and notes.

A result converts to Arrow, pandas and Polars, shows itself in a notebook, and is what the CLI,
the HTTP API and the report render, so they all show the same numbers.

>>> import pyarrow as pa
>>> result = Result("kpis", "KPIs", pa.table({"kpi": ["orders"], "value": [3]}))
>>> result.to_pandas().value.tolist()
[3]
>>> result.with_part(Result("alerts", "Alerts", pa.table({"kpi": []}))).part("alerts").num_rows
0
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from omnimetrics.errors import ConfigError, UnknownNameError, did_you_mean

OUTPUT_SUFFIXES = (".csv", ".parquet", ".json")


def as_arrow(table: Any) -> pa.Table:
    """An Arrow table from Arrow, pandas, Polars, an Ibis expression or a list of records."""
    if isinstance(table, pa.Table):
        return table
    if isinstance(table, list):
        return pa.Table.from_pylist(table)
    if hasattr(table, "to_pyarrow"):  # an Ibis expression
        return table.to_pyarrow()
    if hasattr(table, "to_arrow"):  # Polars
        return table.to_arrow()
    if hasattr(table, "iloc"):  # pandas
        return pa.Table.from_pandas(table, preserve_index=False)
    raise TypeError(f"Cannot make a table of {type(table).__name__}.")


@dataclass(frozen=True)
class Result:
    """A named table with its title; `parts` are further tables of the same answer."""

    name: str
    title: str
    table: pa.Table
    parts: tuple[Result, ...] = ()
    figures: Mapping[str, Any] = field(default_factory=dict)
    """Single numbers of the answer (a score, a count), by name."""
    notes: tuple[str, ...] = ()
    """What the reader should know: warnings, caveats, advice."""

    @classmethod
    def of(cls, name: str, title: str, table: Any, **extra: Any) -> Result:
        return cls(name, title, as_arrow(table), **extra)

    # -- reading -------------------------------------------------------------------------------
    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @property
    def columns(self) -> list[str]:
        return self.table.column_names

    def part(self, name: str) -> Result:
        """The part called `name` (or this result itself)."""
        if name == self.name:
            return self
        for part in self.parts:
            if part.name == name:
                return part
        names = [self.name, *(p.name for p in self.parts)]
        raise UnknownNameError(f"No part {name!r} in {self.name}. " + did_you_mean(name, names))

    def __getitem__(self, name: str) -> Result:
        return self.part(name)

    def to_arrow(self) -> pa.Table:
        return self.table

    def to_pandas(self) -> Any:
        return self.table.to_pandas()

    def to_polars(self) -> Any:
        try:
            import polars as pl
        except ImportError:
            raise ConfigError(
                "Polars is not installed: pip install 'omnimetrics[polars]'."
            ) from None
        return pl.from_arrow(self.table)

    def plot(self) -> Any:
        """The result as a Plotly figure (`omnimetrics.charts`), for the results a picture fits
        (`omnimetrics.charts.CHARTS` names them: kpis, attribution, paths, funnel, goals...)."""
        from omnimetrics.charts import plot

        return plot(self)

    def to_records(self) -> list[dict[str, Any]]:
        return self.table.to_pylist()

    def to_dict(self) -> dict[str, Any]:
        """The whole answer as plain data (for JSON): rows, parts, figures, notes."""
        return {
            "name": self.name,
            "title": self.title,
            "rows": self.to_records(),
            "figures": dict(self.figures),
            "notes": list(self.notes),
            "parts": [p.to_dict() for p in self.parts],
        }

    # -- building ------------------------------------------------------------------------------
    def with_part(self, part: Result) -> Result:
        return replace(self, parts=(*self.parts, part))

    def brief(self, columns: Sequence[str]) -> Result:
        """The same answer with only these columns of the main table (those it has)."""
        keep = [c for c in columns if c in self.table.column_names]
        return replace(self, table=self.table.select(keep))

    def where(self, /, **equals: Any) -> Result:
        """The same answer with only the main table's rows whose columns equal these values
        (None: null); text is read as the column's type. Parts, figures and notes are kept.

        >>> kpis = Result("kpis", "KPIs", pa.table({"channel": ["email", "sms"], "orders": [3, 4]}))
        >>> kpis.where(channel="email").to_records()
        [{'channel': 'email', 'orders': 3}]
        >>> kpis.where(orders="4").num_rows
        1
        >>> kpis.where(campaign="spring")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        omnimetrics.errors.UnknownNameError: The kpis result has no column 'campaign' to filter ...
        """
        keep = pa.array([True] * self.num_rows, pa.bool_())
        for column, value in equals.items():
            if column not in self.columns:
                raise UnknownNameError(
                    f"The {self.name} result has no column {column!r} to filter on. "
                    + did_you_mean(column, self.columns)
                )
            values = self.table.column(column)
            if value is None or pa.types.is_null(values.type):  # a column of nulls only
                matches = pc.is_null(values) if value is None else pc.is_valid(values)
            else:
                matches = pc.equal(values, _scalar(value, values.type, column))
            keep = pc.and_kleene(keep, pc.fill_null(matches, False))
        return replace(self, table=self.table.filter(keep))

    def with_notes(self, *notes: str) -> Result:
        return replace(self, notes=(*self.notes, *notes))

    # -- writing -------------------------------------------------------------------------------
    def write(self, path: str | Path) -> Path:
        """Write the main table by extension: .csv, .parquet or .json (records)."""
        return write_table(self.table, path)

    def _repr_html_(self) -> str:
        blocks = [_html_table(r.title, r.table) for r in (self, *self.parts)]
        if self.figures:
            items = "".join(
                f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>"
                for k, v in self.figures.items()
            )
            blocks.append(f"<ul>{items}</ul>")
        if self.notes:
            blocks.append("".join(f"<p>{html.escape(n)}</p>" for n in self.notes))
        return "".join(blocks)

    def __repr__(self) -> str:
        parts = f", parts={[p.name for p in self.parts]}" if self.parts else ""
        return f"Result({self.name!r}, rows={self.num_rows}, columns={self.columns}{parts})"


def write_table(table: pa.Table, path: str | Path) -> Path:
    """Write a table by extension: .csv, .parquet or .json (a list of records)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ConfigError(f"{path}: use a .csv, .parquet or .json file name.")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    else:
        records = json.dumps(table.to_pylist(), default=str, indent=1)
        path.write_text(records, encoding="utf-8")
    return path


def _html_table(title: str, table: pa.Table, limit: int = 20) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.column_names)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_text(v))}</td>" for v in row.values()) + "</tr>"
        for row in table.slice(0, limit).to_pylist()
    )
    more = f"<p>first {limit} of {table.num_rows} rows</p>" if table.num_rows > limit else ""
    return f"<h4>{html.escape(title)}</h4><table><tr>{head}</tr>{rows}</table>{more}"


def _scalar(value: Any, type_: pa.DataType, column: str) -> pa.Scalar:
    """`value` as a scalar of the column's type (the text "4" of an integer column is 4)."""
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    try:
        return pa.scalar(value).cast(type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ConfigError(f"{column}: {value!r} is not a value of type {type_}.") from None


def _text(value: Any) -> str:
    return "" if value is None else str(value)
