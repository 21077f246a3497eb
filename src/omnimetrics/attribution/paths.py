"""Path tables: one row per distinct journey with its conversions, non-conversions and value.

The data-driven models (Markov, Shapley) learn from path tables. The engine aggregates the
warehouse's journeys into one (`aggregate.journey_paths`); a user can also bring the table that
existing Markov packages use (`read_paths`: columns `path`, `conversions`, `nulls`, `value`,
channels separated by `>`). In memory a path table is a few numpy arrays: the touches of every path
concatenated as integer codes, with offsets, so that models count transitions and channel sets
with vectorised numpy instead of Python loops. Reading a file needs numpy and Arrow only: CSV is
parsed by Arrow's multithreaded reader and paths are split and encoded by Arrow, chunk by chunk.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnimetrics.attribution.arrow import to_floats, to_integers
from omnimetrics.errors import ConfigError, SchemaError, SourceError, did_you_mean
from omnimetrics.sample import read_sample

LABEL_JOIN = "\x1f"
"""Joins the dimensions of a composite label (channel and campaign) inside the models."""
NOT_SET = "(not set)"
NO_TOUCH_LABELS = frozenset({"", "(none)"})
"""Labels that are no touch: a path made of them is a journey without touches."""
FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}  # fmt: skip


@dataclass(frozen=True)
class PathTable:
    """Distinct paths: touches as codes into `labels`, path i = codes[offsets[i]:offsets[i+1]]."""

    labels: tuple[str, ...]
    codes: np.ndarray
    offsets: np.ndarray
    conversions: np.ndarray
    nulls: np.ndarray
    value: np.ndarray
    memo: dict[object, object] | None = field(default=None, compare=False, repr=False)
    """What models derive from the paths alone (not from their counts), shared by the tables
    `resample` draws from this one; None: nothing is kept (`shared` starts keeping)."""

    def __len__(self) -> int:
        return len(self.conversions)

    @cached_property
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

    def shared(self) -> PathTable:
        """This table, keeping what models derive from its paths for the tables resampled from
        it: a bootstrap refits a model on the same paths with other counts."""
        return replace(self, memo={})

    def resample(self, rng: np.random.Generator) -> PathTable:
        """A Poisson bootstrap replicate: every journey is drawn Poisson(1) times, so a path's
        conversions c become Poisson(c) and its value scales with its redrawn conversions."""
        conversions = rng.poisson(self.conversions).astype(float)
        nulls = rng.poisson(self.nulls).astype(float)
        per_conversion = np.divide(self.value, self.conversions, out=np.zeros(len(self)),
                                   where=self.conversions > 0)  # fmt: skip
        return PathTable(self.labels, self.codes, self.offsets, conversions, nulls,
                         per_conversion * conversions, self.memo)  # fmt: skip

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


def label_keys(labels: Sequence[str], by: Sequence[str]) -> dict[str, list[str | None]]:
    """Each column of `by` for each label (a label of several columns joins them with
    LABEL_JOIN); a campaign not set is None, as the journeys have it."""
    keys: dict[str, list[str | None]] = {column: [] for column in by}
    for label in labels:  # the distinct labels: a few dozen, a few thousand campaigns at most
        parts = label.split(LABEL_JOIN)
        if len(parts) != len(keys):
            raise ConfigError(
                f"The path label {label!r} names {len(parts)} column(s); attribute it by as many "
                f"(got by={list(by)}): a path table has one label per touch."
            )
        for column, part in zip(keys, parts, strict=True):
            keys[column].append(None if part == NOT_SET and column == "campaign" else part)
    return keys


def _numbers(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False).astype(float)


def read_paths(
    source: str | Path,
    *,
    path: str = "path",
    conversions: str = "conversions",
    nulls: str = "nulls",
    value: str | None = "value",
    separator: str = ">",
    delimiter: str | None = None,
    encoding: str | None = None,
) -> PathTable:
    """Read a ready-made path table (.csv, .parquet, .jsonl): one row per distinct path.

    `value` may be absent from the file (revenue is then 0). Labels are trimmed of spaces, so
    "a > b" and "a>b" are the same path; an empty path is a journey without touches. The CSV
    delimiter is detected unless given; the encoding is UTF-8 (UTF-16 with a byte-order mark)
    unless given.
    """
    file = Path(source)
    if not file.exists():
        raise SourceError(f"Path table {str(file)!r} does not exist.")
    wanted = {"path": path, "conversions": conversions, "nulls": nulls}
    if value is not None:
        wanted["value"] = value
    optional = {"value"} if value == "value" else set()  # the default name may be absent
    table = _read_columns(file, wanted, optional, delimiter, encoding, separator)
    numbers = {ours: _checked_numbers(table.column(theirs), theirs, file.name)
               for ours, theirs in wanted.items()
               if ours != "path" and theirs in table.column_names}  # fmt: skip
    numbers.setdefault("value", np.zeros(table.num_rows))
    labels, codes, offsets = parse_paths(table.column(path), separator)
    return PathTable(labels, codes, offsets, numbers["conversions"], numbers["nulls"],
                     numbers["value"])  # fmt: skip


def _read_columns(
    file: Path,
    wanted: dict[str, str],
    optional: set[str],
    delimiter: str | None,
    encoding: str | None,
    separator: str,
) -> pa.Table:
    """The wanted columns of a file (those in `optional` may be missing), numbers as float64."""
    fmt = FORMATS.get(file.suffix.lower())
    if fmt is None:
        raise SourceError(
            f"{file}: cannot tell the format from the extension {file.suffix!r}; use one of "
            f"{sorted(FORMATS)}."
        )
    if fmt == "csv":
        sniffed = _sniff(file, delimiter, encoding, separator)
        names = sniffed[2]
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        names = pq.read_schema(file).names
    else:
        import pyarrow.json as pajson

        try:
            whole = pajson.read_json(file)
        except pa.ArrowInvalid as exc:
            raise SourceError(f"{file}: not valid JSON Lines ({exc}).") from None
        names = whole.column_names
    missing = [c for c in wanted.values() if c not in names and c not in optional]
    if missing:
        raise SchemaError(
            f"{file.name}: column {missing[0]!r} not found. "
            + did_you_mean(missing[0], names)
            + " Name the columns with --path-column/--conversions-column/--nulls-column/"
            "--value-column (Python: read_paths(..., path=..., conversions=...))."
        )
    present = [c for c in wanted.values() if c in names]
    numeric = [c for c in present if c != wanted["path"]]
    if fmt == "csv":
        return _read_csv(file, present, numeric, wanted["path"], *sniffed)
    if fmt == "parquet":
        return pq.read_table(file, columns=present)
    return whole.select(present)


def _sniff(
    file: Path, delimiter: str | None, encoding: str | None, separator: str
) -> tuple[str, str, list[str]]:
    """(encoding, delimiter, header cells) of a CSV file, from its first bytes."""
    encoding, text = read_sample(file, encoding, "encoding=")
    if delimiter is None:
        candidates = "".join(c for c in ",;\t|" if c != separator)
        try:
            delimiter = csv.Sniffer().sniff(text[:8192], delimiters=candidates).delimiter
        except csv.Error:
            delimiter = ","
    header = next(csv.reader(text.splitlines()[:1], delimiter=delimiter))
    return encoding, delimiter, [cell.strip() for cell in header]


def _read_csv(
    file: Path,
    columns: list[str],
    numeric: list[str],
    path: str,
    encoding: str,
    delimiter: str,
    header: list[str],
) -> pa.Table:
    """Arrow's multithreaded CSV reader; the slow single-threaded read only to name a bad line."""
    import pyarrow.csv as pacsv

    malformed: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(row)
        return "skip"

    def read(numbers: pa.DataType, threads: bool = True) -> pa.Table:
        types = {path: pa.string(), **dict.fromkeys(numeric, numbers)}
        return pacsv.read_csv(
            file,
            read_options=pacsv.ReadOptions(use_threads=threads, column_names=header, skip_rows=1,
                                           encoding=encoding),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                include_columns=columns, column_types=types, null_values=[""],
                strings_can_be_null=True, quoted_strings_can_be_null=True,
            ),
        )  # fmt: skip

    try:
        try:
            table = read(pa.float64())
        except pa.ArrowInvalid:  # a cell that is not a number: read it as text, to name its row
            malformed.clear()
            table = read(pa.string())
    except pa.ArrowInvalid as exc:
        hint = " Pass its encoding, e.g. encoding='latin-1'." if "UTF8" in str(exc) else ""
        raise SourceError(f"{file}: cannot be read as CSV ({exc}).{hint}") from None
    if malformed:
        if malformed[0].number is None:  # threads do not number lines: read again, in order
            malformed.clear()
            read(pa.string(), threads=False)
        bad = malformed[0]
        raise SchemaError(
            f"{file.name}: line {bad.number} does not split into the header's columns: "
            f"{bad.text[:80]!r}. Quote paths that contain the delimiter."
        )
    return table


def parse_paths(
    column: pa.ChunkedArray | pa.Array, separator: str = ">"
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """(labels, codes, offsets) of paths given as text ("a > b") or as lists of labels.

    Labels are trimmed and sorted; empty ones (an empty path, a doubled separator) are dropped,
    and so is "(none)", the path of orders without touches in `omnimetrics journeys` tables.
    Arrow splits and encodes each chunk; only the few distinct labels reach Python.
    """
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = [_encoded(chunk, separator) for chunk in chunks]
    labels = sorted({label.strip() for words, _, _ in parts for label in words} - NO_TOUCH_LABELS)
    index = {label: code for code, label in enumerate(labels)}
    codes = np.empty(sum(len(part[1]) for part in parts), np.int32)  # each array made once
    offsets = np.zeros(sum(len(part[2]) for part in parts) + 1, np.int64)
    touch = path = 0
    for words, chunk_codes, lengths in parts:
        recode = np.array([index.get(word.strip(), -1) for word in words], np.int32)
        np.take(recode, chunk_codes, out=codes[touch : touch + len(chunk_codes)])
        ends = offsets[path + 1 : path + 1 + len(lengths)]
        np.cumsum(lengths, dtype=np.int64, out=ends)
        ends += touch
        touch, path = touch + len(chunk_codes), path + len(lengths)
    if (codes < 0).any():  # '' labels: an empty path ('' splits into ['']), doubled separators
        lengths = np.diff(offsets)
        kept = codes >= 0
        owner = np.repeat(np.arange(len(lengths)), lengths)
        codes, lengths = codes[kept], np.bincount(owner[kept], minlength=len(lengths))
        np.cumsum(lengths, out=offsets[1:])
    return tuple(labels), codes, offsets


def _encoded(chunk: pa.Array, separator: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A chunk of paths as (distinct raw labels, code of every touch, length of every path)."""
    if pa.types.is_list(chunk.type) or pa.types.is_large_list(chunk.type):
        lists = chunk
    else:
        text = chunk if pa.types.is_string(chunk.type) else chunk.cast(pa.string())
        lists = pc.split_pattern(text, separator)
    flat = lists.flatten()
    if not pa.types.is_string(flat.type):
        flat = flat.cast(pa.string())
    encoded = pc.dictionary_encode(flat)
    lengths = to_integers(pc.list_value_length(lists))
    return encoded.dictionary.to_pylist(), to_integers(encoded.indices), lengths


def _checked_numbers(raw: pa.ChunkedArray, column: str, name: str) -> np.ndarray:
    """A column of counts or revenue as floats >= 0; the first bad row is named (1 = first)."""
    try:
        values = to_floats(raw)  # nulls: NaN
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # find the row that is not a number
        import pandas as pd

        values = pd.to_numeric(raw.to_pandas(), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(bad):
        raise SchemaError(
            f"{name}: column {column!r} must hold numbers >= 0 (counts of journeys, revenue); "
            f"data row {int(bad[0]) + 1} has {raw[int(bad[0])].as_py()!r} "
            f"({len(bad)} row(s) in all)."
        )
    return values
