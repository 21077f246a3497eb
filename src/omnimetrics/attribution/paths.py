"""Path tables: one row per distinct journey with its conversions, non-conversions and value.

The data-driven models (Markov, Shapley) learn from path tables. The engine aggregates the
warehouse's journeys into one (`journey_paths`); a user can also bring the table that existing
Markov packages use (`read_paths`: columns `path`, `conversions`, `nulls`, `value`, channels
separated by `>`). In memory a path table is a few numpy arrays: the touches of every path
concatenated as integer codes, with offsets, so that models count transitions and channel sets
with vectorised numpy instead of Python loops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omnimetrics.errors import SchemaError, SourceError, did_you_mean

LABEL_JOIN = "\x1f"
"""Joins the dimensions of a composite label (channel and campaign) inside the models."""
NOT_SET = "(not set)"


@dataclass(frozen=True)
class PathTable:
    """Distinct paths: touches as codes into `labels`, path i = codes[offsets[i]:offsets[i+1]]."""

    labels: tuple[str, ...]
    codes: np.ndarray
    offsets: np.ndarray
    conversions: np.ndarray
    nulls: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.conversions)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def path_of_touch(self) -> np.ndarray:
        """For every touch, the index of its path."""
        return np.repeat(np.arange(len(self)), self.lengths)

    @property
    def position_of_touch(self) -> np.ndarray:
        """For every touch, its 0-based position in its path."""
        return np.arange(len(self.codes)) - self.offsets[self.path_of_touch]

    @property
    def touched(self) -> PathTable:
        """Only the paths with at least one touch (the others have nothing to credit)."""
        keep = self.lengths > 0
        return self if keep.all() else self.subset(keep)

    def subset(self, keep: np.ndarray) -> PathTable:
        """The paths where `keep` is true."""
        lengths = self.lengths[keep]
        codes = self.codes[np.repeat(keep, self.lengths)]
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        return PathTable(self.labels, codes, offsets, self.conversions[keep], self.nulls[keep],
                         self.value[keep])  # fmt: skip

    def resample(self, rng: np.random.Generator) -> PathTable:
        """A Poisson bootstrap replicate: every journey is drawn Poisson(1) times, so a path's
        conversions c become Poisson(c) and its value scales with its redrawn conversions."""
        conversions = rng.poisson(self.conversions).astype(float)
        nulls = rng.poisson(self.nulls).astype(float)
        per_conversion = np.divide(self.value, self.conversions, out=np.zeros(len(self)),
                                   where=self.conversions > 0)  # fmt: skip
        return PathTable(self.labels, self.codes, self.offsets, conversions, nulls,
                         per_conversion * conversions)  # fmt: skip

    @classmethod
    def from_arrow(cls, table: pa.Table) -> PathTable:
        """From an Arrow table with `path` (list of labels), conversions, nulls, value."""
        path = table.column("path").combine_chunks()
        if pa.types.is_large_list(path.type):
            path = path.cast(pa.list_(pa.string()))
        flat = path.flatten()
        encoded = pc.dictionary_encode(flat) if len(flat) else None
        labels = tuple(encoded.dictionary.to_pylist()) if encoded is not None else ()
        codes = (encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
                 if encoded is not None else np.zeros(0, np.int32))  # fmt: skip
        offsets = path.offsets.to_numpy().astype(np.int64)
        offsets = offsets - offsets[0]
        order = np.argsort(np.array(labels, dtype=object)) if labels else np.zeros(0, int)
        recode = np.empty(len(labels), np.int32)
        recode[order] = np.arange(len(labels), dtype=np.int32)
        return cls(
            labels=tuple(labels[i] for i in order),
            codes=recode[codes] if len(codes) else codes,
            offsets=offsets,
            conversions=_numbers(table, "conversions"),
            nulls=_numbers(table, "nulls"),
            value=_numbers(table, "value"),
        )

    def to_arrow(self, separator: str = " > ") -> pa.Table:
        """Back to a table of readable paths (labels joined by `separator`)."""
        labels = np.array(self.labels, dtype=object)
        lists = pa.ListArray.from_arrays(pa.array(self.offsets.astype(np.int32)),
                                         pa.array(labels[self.codes], pa.string()))  # fmt: skip
        return pa.table({
            "path": pc.binary_join(lists, separator), "conversions": self.conversions,
            "nulls": self.nulls, "value": self.value,
        })  # fmt: skip


def _numbers(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False).astype(float)


def label_of(touches: ir.Table, by: Sequence[str]) -> ir.StringValue:
    """The state label of each touch: its channel, campaign, or both joined."""
    parts = [touches[column].cast("string").fill_null(NOT_SET) for column in by]
    label = parts[0]
    for part in parts[1:]:
        label = label.concat(LABEL_JOIN, part)
    return label


def journey_paths(
    converting: ir.Table,
    non_converting: ir.Table | None = None,
    *,
    by: Sequence[str] = ("channel",),
) -> ir.Table:
    """Engine aggregation of journeys into distinct paths: path (list of labels), conversions,
    nulls, value.

    converting: journey touches (order_id, position, revenue, <by>); non_converting: touches of
    journeys that did not convert (person_id, position, <by>).
    """

    def paths(touches: ir.Table, key: str) -> ir.Table:
        step = ibis.struct({"position": touches.position, "label": label_of(touches, by)})
        per_journey = touches.group_by(key).agg(_steps=step.collect(), revenue=_revenue(touches))
        return per_journey.select(
            path=per_journey._steps.sort().map(lambda s: s.label), revenue=per_journey.revenue
        )

    won = paths(converting, "order_id")
    won = won.group_by("path").agg(conversions=won.count().cast("float64"),
                                   nulls=ibis.literal(0.0), value=won.revenue.sum())  # fmt: skip
    parts = [won]
    if non_converting is not None:
        lost = paths(non_converting, "person_id")
        parts.append(lost.group_by("path").agg(conversions=ibis.literal(0.0),
                                               nulls=lost.count().cast("float64"),
                                               value=ibis.literal(0.0)))  # fmt: skip
    every = ibis.union(*parts) if len(parts) > 1 else won
    distinct = every.group_by("path").agg(
        conversions=every.conversions.sum(), nulls=every.nulls.sum(), value=every.value.sum()
    )
    return distinct.order_by("path")  # a fixed order: the same input gives the same output


def _revenue(touches: ir.Table) -> ir.FloatingValue:
    if "revenue" in touches.columns:
        return touches.revenue.max().cast("float64")
    return ibis.literal(0.0)


def read_paths(
    source: str | Path,
    *,
    path: str = "path",
    conversions: str = "conversions",
    nulls: str = "nulls",
    value: str | None = "value",
    separator: str = ">",
    delimiter: str | None = None,
) -> PathTable:
    """Read a ready-made path table (.csv, .parquet, .jsonl): one row per distinct path.

    `value` may be absent from the file (revenue is then 0). Labels are trimmed of spaces, so
    "a > b" and "a>b" are the same path; an empty path is a journey without touches. CSV files
    are read as at ingestion (delimiter and encoding detected unless given).
    """
    from omnimetrics.ingest.readers import CsvOptions, open_source, read_batches

    file = Path(source)
    if not file.exists():
        raise SourceError(f"Path table {str(file)!r} does not exist.")
    opened = open_source(file)
    wanted = {"path": path, "conversions": conversions, "nulls": nulls}
    if value is not None:
        wanted["value"] = value
    schema, batches = read_batches(opened, set(wanted.values()), CsvOptions(delimiter=delimiter))
    table = pa.Table.from_batches(list(batches), schema)
    if opened.malformed:
        bad = opened.malformed[0]
        raise SchemaError(
            f"{file.name}: line {bad.line} does not split into the header's columns: "
            f"{bad.text[:80]!r}. Quote paths that contain the delimiter."
        )
    if value == "value" and "value" not in table.column_names:
        del wanted["value"]
    missing = [column for column in wanted.values() if column not in table.column_names]
    if missing:
        raise SchemaError(
            f"{file.name}: column {missing[0]!r} not found. "
            + did_you_mean(missing[0], [c for c in table.column_names if c != "source_row"])
            + " Name the columns with --path-column/--conversions-column/--nulls-column/"
            "--value-column (Python: read_paths(..., path=..., conversions=...))."
        )
    rows = table.column("source_row").to_numpy()
    columns = {ours: _checked_numbers(table.column(theirs), theirs, rows, file.name)
               for ours, theirs in wanted.items() if ours != "path"}  # fmt: skip
    columns.setdefault("value", pa.array(np.zeros(table.num_rows)))
    text = pc.fill_null(table.column(path).cast(pa.string()), "").combine_chunks()
    split = pc.split_pattern(text, separator)
    trimmed = pa.ListArray.from_arrays(split.offsets, pc.utf8_trim_whitespace(split.flatten()))
    labels = trimmed.flatten()
    if len(labels) and pc.any(pc.equal(labels, "")).as_py():
        trimmed = _drop_empty_labels(trimmed)
    return PathTable.from_arrow(pa.table({"path": trimmed, **columns}))


def _drop_empty_labels(lists: pa.ListArray) -> pa.ListArray:
    """'' labels come from empty paths ('' splits into ['']) and doubled separators: drop them."""
    flat = lists.flatten()
    keep = pc.not_equal(flat, "").to_numpy(zero_copy_only=False)
    owner = np.repeat(np.arange(len(lists)), np.diff(lists.offsets.to_numpy()))
    counts = np.bincount(owner[keep], minlength=len(lists))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), flat.filter(pa.array(keep)))


def _checked_numbers(raw: pa.ChunkedArray, column: str, rows: np.ndarray, name: str) -> pa.Array:
    try:
        values = pc.cast(raw, pa.float64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # find the row that is not a number
        values = pd.to_numeric(raw.to_pandas(), errors="coerce").to_numpy(dtype=float)
    values = np.asarray(values, dtype=float)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(bad):
        raise SchemaError(
            f"{name}: column {column!r} must hold numbers >= 0 (counts of journeys, revenue); "
            f"data row {int(rows[bad[0]])} has {raw[int(bad[0])].as_py()!r} "
            f"({len(bad)} row(s) in all)."
        )
    return pa.array(values)
