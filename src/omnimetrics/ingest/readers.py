"""Read source files (CSV, Parquet, JSON Lines) as streams of Arrow record batches.

Every batch carries `source_row`: the 1-based position of the record in its file, header excluded,
so a rejected row can be found again. Rows a CSV parser cannot split (wrong number of fields) and
JSON Lines lines that are not a JSON object are kept as `Malformed` with their line number and
text, never dropped.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from omnimetrics.errors import SourceError
from omnimetrics.sample import read_sample

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
BATCH_ROWS = 256_000
CSV_BLOCK_BYTES = 16 << 20
"""Bytes of CSV text parsed per batch."""


@dataclass(frozen=True)
class CsvOptions:
    """How to read a CSV file; None means detect it."""

    delimiter: str | None = None
    quote: str = '"'
    encoding: str | None = None
    header: bool | None = None
    column_names: tuple[str, ...] | None = None
    """Names of the columns when the file has no header row."""


@dataclass
class Malformed:
    """A line no parser could read as a record: a CSV line that does not split into the
    header's columns, a JSON Lines line that is not a JSON object."""

    source_row: int | None
    line: int | None
    text: str
    message: str | None = None
    """What is wrong with the line, when it is not the CSV case."""


@dataclass
class SourceFile:
    """One file being read: its path, format, content hash and what was read so far."""

    path: Path
    format: str
    sha256: str
    columns: tuple[str, ...] = ()
    malformed: list[Malformed] = field(default_factory=list)
    rows: int = 0


def resolve(source: str | Path | Sequence[str | Path]) -> list[Path]:
    """A file, a glob or a folder (its files of known formats) -> sorted list of files."""
    if isinstance(source, list | tuple):
        return [p for item in source for p in resolve(item)]
    text = str(source)
    path = Path(text)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in FORMATS and p.is_file())
        if not files:
            raise SourceError(
                f"Folder {path} holds no file to ingest (looked for {sorted(set(FORMATS))})."
            )
        return files
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise SourceError(f"No file matches {text!r}. Check the pattern and the folder.")
        return files
    if not path.exists():
        raise SourceError(f"File {path} does not exist. Check the path (cwd: {Path.cwd()}).")
    return [path]


def file_format(path: Path, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in set(FORMATS.values()):
            raise SourceError(
                f"Unknown format {explicit!r}; choose from {sorted(set(FORMATS.values()))}."
            )
        return explicit
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise SourceError(
            f"{path}: cannot tell the format from the extension {path.suffix!r}. Use one of "
            f"{sorted(FORMATS)} or pass the format explicitly (--format csv|parquet|jsonl)."
        ) from None


def file_sha256(path: Path) -> str:
    """Content hash: the same file ingested twice is recognised whatever its name."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def open_source(path: Path, fmt: str | None = None) -> SourceFile:
    try:
        digest = file_sha256(path)
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    return SourceFile(path=path, format=file_format(path, fmt), sha256=digest)


def read_batches(
    source: SourceFile, known_columns: set[str], csv_options: CsvOptions | None = None
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Schema of the batches (file columns + source_row) and the batches themselves.

    `known_columns` are names the table understands: they are used to recognise a header row.
    """
    if source.format == "csv":
        return _read_csv(source, known_columns, csv_options or CsvOptions())
    if source.format == "parquet":
        return _read_parquet(source)
    return _read_jsonl(source)


def _with_row_numbers(
    source: SourceFile, batches: Iterator[pa.RecordBatch], schema: pa.Schema
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    out_schema = schema.append(pa.field("source_row", pa.int64()))

    def numbered() -> Iterator[pa.RecordBatch]:
        # Rows the parser skipped shift the positions of the rows after them.
        for batch in batches:
            start = source.rows
            good = np.arange(start, start + batch.num_rows, dtype=np.int64)
            skipped = sorted(m.source_row for m in source.malformed if m.source_row is not None)
            if skipped:
                gaps = np.asarray(skipped, dtype=np.int64) - 1 - np.arange(len(skipped))
                good = good + np.searchsorted(gaps, good, side="right")
            source.rows += batch.num_rows
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, pa.array(good + 1)], schema=out_schema
            )

    return out_schema, numbered()


def _sniff(source: SourceFile, options: CsvOptions) -> tuple[str, str, list[str]]:
    encoding, text = read_sample(source.path, options.encoding, "--encoding")
    delimiter = options.delimiter
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    first_row = next(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=options.quote))
    return encoding, delimiter, [cell.strip() for cell in first_row]


def _read_csv(
    source: SourceFile, known_columns: set[str], options: CsvOptions
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    encoding, delimiter, first_row = _sniff(source, options)
    header = _has_header(source, known_columns, options, first_row)
    names = list(options.column_names) if options.column_names else first_row
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise SourceError(f"{source.path}: the header repeats the columns {dupes}; rename them.")
    source.columns = tuple(names)
    reader = _open_csv(source, options, names, header, encoding, delimiter)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except pa.ArrowInvalid as exc:
            message = str(exc)
            hint = " Pass its encoding, e.g. --encoding latin-1." if "UTF8" in message else ""
            raise SourceError(
                f"{source.path}: cannot be read past row {source.rows}: {message}.{hint}"
            ) from None

    return _with_row_numbers(source, batches(), reader.schema)


def _has_header(
    source: SourceFile, known_columns: set[str], options: CsvOptions, first_row: list[str]
) -> bool:
    """Whether the first row is a header: as told, else when it names a known column."""
    if options.header is not None:
        return options.header
    header = options.column_names is None and any(cell in known_columns for cell in first_row)
    if not header and options.column_names is None:
        raise SourceError(
            f"{source.path}: the first row {first_row[:6]} names none of the columns this "
            f"table understands (e.g. {sorted(known_columns)[:6]}). Add a header row, map "
            "your names with --map THEIRS=OURS, or pass --columns a,b,c for a file without "
            "header."
        )
    return header


def _open_csv(
    source: SourceFile,
    options: CsvOptions,
    names: list[str],
    header: bool,
    encoding: str,
    delimiter: str,
) -> pacsv.CSVStreamingReader:
    """A streaming reader of text columns; lines it cannot split go to `source.malformed`."""

    def on_invalid(row: pacsv.InvalidRow) -> str:
        line = row.number
        data_row = None if line is None else line - (1 if header else 0)
        source.malformed.append(Malformed(data_row, line, row.text))
        return "skip"

    try:
        return pacsv.open_csv(
            source.path,
            read_options=pacsv.ReadOptions(
                # Single-threaded parsing is what gives line numbers to malformed rows.
                use_threads=False,
                block_size=CSV_BLOCK_BYTES,
                column_names=names,
                skip_rows=1 if header else 0,
                encoding=encoding,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char=options.quote,
                newlines_in_values=True,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise SourceError(f"{source.path}: cannot be parsed as CSV ({exc}).") from None


def _read_parquet(source: SourceFile) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    try:
        parquet = pq.ParquetFile(source.path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{source.path}: not a readable Parquet file ({exc}).") from None
    schema = parquet.schema_arrow
    plain = pa.schema(
        [
            pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
            for f in schema
        ]
    )
    source.columns = tuple(plain.names)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            yield batch.cast(plain) if plain != schema else batch

    return _with_row_numbers(source, batches(), plain)


def _read_jsonl(source: SourceFile) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Arrow's reader, typed by inference; a file it refuses is read line by line as text."""
    try:
        table = pajson.read_json(source.path, read_options=pajson.ReadOptions(block_size=16 << 20))
    except pa.ArrowInvalid:
        # A field whose JSON type changes between lines (10, then "abc" or an object), or a line
        # that is not JSON: Arrow infers one type per column and refuses the whole file.
        table = _read_jsonl_as_text(source)
    source.columns = tuple(table.column_names)
    return _with_row_numbers(source, iter(table.to_batches(BATCH_ROWS)), table.schema)


JSONL_LINES = """
SELECT line, text,
       starts_with(ltrim(text, ' ' || chr(9)), '{') AND json_valid(text) AS is_object,
       row_number() OVER (ORDER BY line) AS record
FROM (
    SELECT i AS line, rtrim(parts[i], chr(13)) AS text
    FROM (SELECT string_split(content, chr(10)) AS parts FROM read_text(?)) AS f,
         range(1, len(parts) + 1) AS r(i)
)
WHERE trim(text, ' ' || chr(9)) <> ''
"""
"""The non-blank lines of a JSON Lines file: number, text, whether a JSON object, record number."""


def _read_jsonl_as_text(source: SourceFile) -> pa.Table:
    """Every field of every JSON object as text, as a CSV is read; other lines are `Malformed`.

    The door then judges the values as it judges CSV text: "abc" or an object where a number
    belongs is quarantined (`invalid_type`), "10" is 10; nested objects are JSON text. Runs in a
    private in-memory DuckDB, set-wise (no Python loop over lines).
    """
    kernel = duckdb.connect(":memory:")
    try:
        # Raw emails and phones are in these lines: held in memory, never spilled to disk.
        kernel.execute("SET temp_directory = ''")
        kernel.execute("SET enable_progress_bar = false")
        try:
            kernel.execute(f"CREATE TEMP TABLE lines AS {JSONL_LINES}", [str(source.path)])
        except duckdb.Error as exc:
            raise SourceError(f"{source.path}: cannot be read as JSON Lines ({exc}).") from None
        first = kernel.execute("SELECT line, is_object FROM lines ORDER BY line LIMIT 1").fetchone()
        if first is not None and not first[1]:
            raise SourceError(
                f"{source.path}: not JSON Lines: line {first[0]}, the first one, is not a JSON "
                "object. Each line must be one JSON object; a JSON array or a pretty-printed "
                "file is not JSON Lines."
            )
        bad = kernel.execute(
            "SELECT record, line, text FROM lines WHERE NOT is_object ORDER BY line"
        ).fetchall()
        source.malformed.extend(
            Malformed(record, line, text, f"line {line}: not a JSON object (one per line)")
            for record, line, text in bad
        )
        keys = [
            key
            for (key,) in kernel.execute(
                "SELECT key FROM (SELECT line, unnest(json_keys(text)) AS key, "
                "generate_subscripts(json_keys(text), 1) AS position FROM lines WHERE is_object) "
                "GROUP BY key ORDER BY min(line), arg_min(position, line)"
            ).fetchall()
        ]
        if not keys:
            raise SourceError(f"{source.path}: its JSON objects have no field; nothing to ingest.")
        pointers = ["/" + key.replace("~", "~0").replace("/", "~1") for key in keys]
        values = ", ".join(f"v[{n}] AS {_quoted_name(key)}" for n, key in enumerate(keys, 1))
        rows = kernel.execute(
            f"SELECT {values} FROM (SELECT line, json_extract_string(text, ?::VARCHAR[]) AS v "
            "FROM lines WHERE is_object) ORDER BY line",
            [pointers],
        ).to_arrow_table()
    finally:
        kernel.close()
    return rows.cast(pa.schema([pa.field(key, pa.string()) for key in keys]))


def _quoted_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
