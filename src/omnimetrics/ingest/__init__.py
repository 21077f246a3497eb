"""Ingest: files -> pseudonymised stream -> staged -> validated -> deduplicated -> stored.

Every row read ends in exactly one place: the table (accepted), a counted duplicate, or the
`quarantine` table with a reason. A whole call is one batch: committed together or not at all.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from omnimetrics.config import check_timezone
from omnimetrics.errors import SchemaError, SourceError, did_you_mean
from omnimetrics.ingest.door import ACTIVATION_PREFIX, Door
from omnimetrics.ingest.readers import CsvOptions, SourceFile, open_source, read_batches, resolve
from omnimetrics.ingest.validate import ERASED, REASONS, typed_with_verdict
from omnimetrics.schema import (
    ACTIVATION,
    BATCHES_SCHEMA,
    ERASED_TABLE,
    QUARANTINE_SCHEMA,
    Table,
    table_contract,
)

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

__all__ = ["REASONS", "CsvOptions", "FileReport", "IngestReport", "ingest", "load_manifest"]

Progress = Callable[[str, float], None]


@dataclass
class FileReport:
    """What happened to the rows of one file."""

    path: str
    rows_read: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    suppressed: int = 0
    """Rows of erased persons: counted, never stored."""
    already_ingested: str | None = None
    """Batch id that already loaded a file with the same content; nothing was read again."""


@dataclass
class IngestReport:
    """Summary of one ingest call; accepted + duplicates + quarantined + suppressed == rows_read."""

    table: str
    batch: str
    files: list[FileReport]
    reasons: dict[str, int] = field(default_factory=dict)
    updated: int = 0
    """Accepted rows that replaced a stored row (a more trusted report, a newer CRM record)."""
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    activation_identifiers: int = 0
    """New rows of `activation_identifiers` (only with `[privacy] activation_hashes = true`)."""
    seconds: float = 0.0

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def suppressed(self) -> int:
        return sum(f.suppressed for f in self.files)

    def to_arrow(self) -> pa.Table:
        """One row per file, the columns a summary table shows."""
        return pa.table(
            {
                "table": [self.table] * len(self.files),
                "file": [f.path for f in self.files],
                "rows_read": [f.rows_read for f in self.files],
                "accepted": [f.accepted for f in self.files],
                "duplicates": [f.duplicates for f in self.files],
                "quarantined": [f.quarantined for f in self.files],
                "suppressed": [f.suppressed for f in self.files],
                "note": [
                    f"already ingested (batch {f.already_ingested})" if f.already_ingested else ""
                    for f in self.files
                ],
            }
        )


def ingest(
    wh: Warehouse,
    table: str,
    source: str | Path | Sequence[str | Path],
    *,
    columns: Mapping[str, str] | None = None,
    source_name: str | None = None,
    csv: CsvOptions | None = None,
    format: str | None = None,
    now: datetime | None = None,
    timezone: str | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Load a file, a glob or a folder into `table`.

    columns: the file's column names -> the contract's (merged over omnimetrics.toml [columns]).
    source_name: the reporting system (orders: web_shop, pos, crm...) when the file has no
        `source` column; it decides which report of an order is kept.
    now: the reference time for the future-timestamp check (default: the clock).
    timezone: the IANA time zone of timestamps written without an offset (default: `[ingest]
        timezone`, UTC); values with an offset or Z, and Unix times, are read as written.

    With `[privacy] activation_hashes = true`, a file already ingested is read again, but only
    to capture the activation hashes of its emails and phones (nothing else changes).
    """
    started = time.perf_counter()
    contract = table_contract(table)
    settings = wh.settings
    mapping = {**settings.column_maps.get(table, {}), **(columns or {})}
    for ours in mapping.values():
        contract_inputs = {c.input_name for c in contract.columns}
        if ours not in contract_inputs:
            raise SchemaError(
                f"Column mapping targets {ours!r}, which table {table!r} does not have. "
                + did_you_mean(ours, contract_inputs)
            )
    now = now or datetime.now(UTC)
    zone = check_timezone(timezone, "--timezone") if timezone else settings.timezone
    notify = progress or (lambda step, fraction: None)
    batch = uuid.uuid4().hex[:16]
    report = IngestReport(table=table, batch=batch, files=[])

    paths = resolve(source)
    wh.check_key()
    _ensure_tables(wh, contract)
    done = _already_ingested(wh, table)
    erased = _erased_keys(wh)
    door = Door(settings, wh.kernel())
    typed: list[ir.Table] = []
    revisited: list[ir.Table] = []
    """Files already ingested, read again only for their activation hashes."""
    sources: list[SourceFile] = []
    capture = settings.activation_hashes and any(c.pii or c.pii_by for c in contract.columns)
    try:
        for number, path in enumerate(paths):
            notify(f"reading {path.name}", number / max(len(paths), 1) * 0.6)
            src = open_source(path, format)
            if src.sha256 in done:
                report.files.append(FileReport(str(path), already_ingested=done[src.sha256]))
                if not capture:
                    continue
            schema, batches = read_batches(src, _known_inputs(contract, mapping), csv)
            schema, batches = _rename(schema, batches, mapping)
            ignored = _check_columns(contract, schema, src)
            if ignored:
                report.ignored_columns[str(path)] = ignored
            constants = {"source_file": str(path)}
            if "source" in contract.names and "source" not in schema.names:
                constants["source"] = source_name
            validated = _validated(
                wh, contract, door.apply(contract, schema, batches, constants, erased), now, zone
            )
            if src.sha256 in done:
                revisited.append(validated)
                continue
            typed.append(validated)
            for row in src.malformed:  # a broken line may hold an email: mask it like free text
                row.text = door.mask_text(row.text)
            sources.append(src)
        again = _union(revisited)
        if typed:
            notify("deduplicating", 0.7)
            union = _union(typed)
            priority = settings.source_priority
            _store(wh, contract, union, sources, report, batch, now, priority, again)
        elif again is not None:
            with wh.transaction():
                report.activation_identifiers = _store_activation(wh, contract, again, batch)
    finally:
        door.close()
        for table_expr in [*typed, *revisited]:
            wh.drop(table_expr)
    report.seconds = time.perf_counter() - started
    notify("done", 1.0)
    return report


def load_manifest(
    wh: Warehouse, folder: str | Path, progress: Progress | None = None
) -> list[IngestReport]:
    """Ingest every file listed in a folder's manifest.json, in its order.

    manifest.json: {"files": [{"table": "orders", "path": "orders_web.csv", "source": "web_shop"},
    ...]} (what `omnimetrics simulate` writes); an entry may give its file's "timezone".
    """
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise SourceError(
            f"{folder} has no manifest.json. Load files one by one with `omnimetrics ingest`."
        )
    try:
        entries = json.loads(manifest_path.read_text(encoding="utf-8"))["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SourceError(
            f"{manifest_path}: not a manifest ({exc}); it needs a `files` list."
        ) from None
    notify = progress or (lambda step, fraction: None)
    reports = []
    for number, entry in enumerate(entries):
        notify(f"loading {entry['path']}", number / len(entries))
        reports.append(
            wh.ingest(
                entry["table"],
                folder / entry["path"],
                source_name=entry.get("source"),
                timezone=entry.get("timezone"),
            )
        )
    return reports


def _union(tables: Sequence[ir.Table]) -> ir.Table | None:
    if not tables:
        return None
    return tables[0] if len(tables) == 1 else ibis.union(*tables)


def _ensure_tables(wh: Warehouse, contract: Table) -> None:
    wh.ensure_table(contract.name, contract.ibis_schema())
    wh.ensure_table("quarantine", QUARANTINE_SCHEMA)
    wh.ensure_table("ingest_batches", BATCHES_SCHEMA)
    if contract.keep_reports:
        wh.ensure_table(f"{contract.name}_reports", contract.ibis_schema())


def _already_ingested(wh: Warehouse, table: str) -> dict[str, str]:
    ledger = wh.table("ingest_batches")
    rows = ledger.filter(ledger.table_name == table).select("file_sha256", "ingest_batch")
    return {r["file_sha256"]: r["ingest_batch"] for r in rows.to_pyarrow().to_pylist()}


def _erased_keys(wh: Warehouse) -> list[str]:
    if ERASED_TABLE not in wh.tables():
        return []
    return [str(k) for k in wh.table(ERASED_TABLE).identifier_key.to_pyarrow().to_pylist()]


def _known_inputs(contract: Table, mapping: Mapping[str, str]) -> set[str]:
    return {c.input_name for c in contract.columns} | set(mapping)


def _rename(
    schema: pa.Schema, batches: Iterator[pa.RecordBatch], mapping: Mapping[str, str]
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    if not mapping:
        return schema, batches
    names = [mapping.get(n, n) for n in schema.names]
    renamed = pa.schema([f.with_name(n) for f, n in zip(schema, names, strict=True)])
    return renamed, (b.rename_columns(names) for b in batches)


def _check_columns(contract: Table, schema: pa.Schema, src: SourceFile) -> list[str]:
    """Refuse a file missing a required column; return the columns that will be ignored."""
    present = set(schema.names)
    missing = [c.input_name for c in contract.columns if c.required and c.input_name not in present]
    if missing:
        found = [n for n in schema.names if n != "source_row"]
        hints = [did_you_mean(m, found).split(" Choose")[0] for m in missing]
        hint = " ".join(h for h in hints if h.startswith("Did"))
        raise SchemaError(
            f"{src.path}: table {contract.name!r} needs the column(s) {missing}, which the file "
            f"does not have. Found: {found}. {hint} Map your names with --map THEIRS=OURS "
            "(or [columns] in omnimetrics.toml)."
        )
    inputs = {c.input_name for c in contract.columns}
    return [n for n in schema.names if n not in inputs and n != "source_row"]


def _key_string(table: ir.Table, key: Sequence[str]) -> ir.StringValue:
    """One null-safe string per natural key, for joins that must match missing parts too."""
    parts = [table[k].cast(dt.string).fill_null("\u2205") for k in key]
    return (
        parts[0]
        if len(parts) == 1
        else parts[0].concat(*(ibis.literal("\u241f").concat(p) for p in parts[1:]))
    )


def _preference(table: ir.Table, contract: Table, priority: Sequence[str]) -> list[ir.Value]:
    """Sort keys: the preferred report of a key comes first."""
    order: list[ir.Value] = []
    for name, direction in contract.prefer:
        if name == "source":
            rank = table.source.cases(
                *((s, i) for i, s in enumerate(priority)), else_=len(priority)
            )
            order.append(rank.asc())
        else:
            col = table[name]
            order.append(col.desc(nulls_first=False) if direction == "desc" else col.asc())
    return order


def _validated(
    wh: Warehouse,
    contract: Table,
    chunks: Iterator[duckdb.DuckDBPyRelation],
    now: datetime,
    zone: str,
) -> ir.Table:
    """Read one pseudonymised file, chunk by chunk, into a table of typed rows with verdicts."""
    settings = wh.settings

    def verdict(staged: ir.Table) -> ir.Table:
        return typed_with_verdict(
            staged,
            contract,
            now=now,
            future_tolerance=timedelta(hours=settings.future_tolerance_hours),
            extra_allowed={"channel": settings.extra_channels} if settings.extra_channels else None,
            local=None if zone == "UTC" else lambda naive: wh.from_local_time(naive, zone),
        )

    return wh.materialize_chunks(chunks, verdict)


def _store(
    wh: Warehouse,
    contract: Table,
    typed: ir.Table,
    sources: list[SourceFile],
    report: IngestReport,
    batch: str,
    now: datetime,
    priority: Sequence[str],
    revisited: ir.Table | None = None,
) -> None:
    columns = list(contract.names)
    lineage = {
        "ingest_batch": ibis.literal(batch),
        "source_file": typed.source_file,
        "source_row": typed.source_row,
    }
    valid = typed.filter(typed.reason.isnull())
    keyed = valid.mutate(_key=_key_string(valid, contract.key))
    sizes = keyed.aggregate(rows=keyed.count(), keys=keyed._key.nunique()).to_pyarrow()
    if sizes["rows"][0].as_py() == sizes["keys"][0].as_py():
        # No key repeats within the batch: no need to rank reports.
        first = keyed.select(*columns, **lineage, _key=keyed._key)
    else:
        order = [
            *_preference(keyed, contract, priority),
            keyed.source_file.asc(),
            keyed.source_row.asc(),
        ]
        ranked = keyed.mutate(_rank=ibis.row_number().over(group_by="_key", order_by=order))
        first = ranked.filter(ranked._rank == 0).select(*columns, **lineage, _key=ranked._key)
    stored = wh.table(contract.name)
    stored_keys = stored.select(_key=_key_string(stored, contract.key))
    first_load = not int(stored.count().execute())
    # A first load has nothing to compare with: no join against the (empty) table.
    fresh = first.drop("_key") if first_load else first.anti_join(stored_keys, "_key").drop("_key")
    replacing: ir.Table | None = None
    if contract.prefer and not first_load:
        # Compare each new report with the stored one of the same key: the preferred one stays.
        clash = first.semi_join(stored_keys, "_key")
        old = stored.mutate(_key=_key_string(stored, contract.key), _old=ibis.literal(1))
        both = ibis.union(clash.mutate(_old=ibis.literal(0)), old.semi_join(clash, "_key"))
        both_order = [*_preference(both, contract, priority), both._old.desc()]
        winners = both.mutate(_w=ibis.row_number().over(group_by="_key", order_by=both_order))
        replacing = wh.materialize(
            winners.filter((winners._w == 0) & (winners._old == 0)).drop("_key", "_old", "_w")
        )
    try:
        rejected = typed.filter(typed.reason.notnull() & (typed.reason != ERASED)).select(
            ingest_batch=ibis.literal(batch),
            table_name=ibis.literal(contract.name),
            source_file=typed.source_file,
            source_row=typed.source_row,
            column_name=typed.column_name,
            reason=typed.reason,
            message=typed.message,
            raw_record=typed.raw_record,
        )
        malformed = _malformed_rows(sources, batch, contract.name)
        reasons = rejected.group_by("reason").agg(n=rejected.count()).to_pyarrow().to_pylist()
        report.reasons = dict(Counter({r["reason"]: r["n"] for r in reasons}))
        if malformed.num_rows:
            report.reasons["malformed_row"] = malformed.num_rows
        report.updated = 0 if replacing is None else int(replacing.count().execute())
        with wh.transaction():
            wh.insert(contract.name, fresh)
            if replacing is not None:
                wh.replace_rows(contract.name, contract.key, replacing)
            counts = _count_by_file(typed, wh.table(contract.name), batch)
            _file_reports(report, sources, counts)
            wh.insert("quarantine", rejected)
            if malformed.num_rows:
                wh.insert("quarantine", ibis.memtable(malformed))
            if contract.keep_reports:
                wh.insert(
                    f"{contract.name}_reports",
                    valid.select(
                        *columns,
                        **{
                            "ingest_batch": ibis.literal(batch),
                            "source_file": valid.source_file,
                            "source_row": valid.source_row,
                        },
                    ),
                )
            wh.insert("ingest_batches", _ledger(report, sources, batch, contract.name, now))
            for rows in (typed, revisited):
                if rows is not None:
                    report.activation_identifiers += _store_activation(wh, contract, rows, batch)
    finally:
        if replacing is not None:
            wh.drop(replacing)


def _store_activation(wh: Warehouse, contract: Table, typed: ir.Table, batch: str) -> int:
    """Keep the activation hashes of valid rows whose identifier is now stored in the table.

    One row per (identifier_type, identifier), the first seen kept; an identifier no stored row
    carries (its row lost to a preferred report, or was suppressed) is not kept, so erasure,
    which follows the stored rows, always finds what is here. Returns the rows added.
    """
    parts: list[ir.Table] = []
    present: list[ir.Table] = []
    valid = typed.filter(typed.reason.isnull())
    stored = wh.table(contract.name)
    for col in contract.columns:
        sha = f"{ACTIVATION_PREFIX}_{col.name}"
        if sha not in valid.columns:
            continue
        kind = ibis.literal(col.pii) if col.pii else valid[str(col.pii_by)]
        stored_kind = ibis.literal(col.pii) if col.pii else stored[str(col.pii_by)]
        parts.append(
            valid.select(
                identifier_type=kind,
                identifier=valid[col.name],
                sha256=valid[sha],
                sha256_digits=valid[f"{ACTIVATION_PREFIX}digits__{col.name}"],
                source_file=valid.source_file,
                source_row=valid.source_row,
            )
        )
        present.append(stored.select(identifier_type=stored_kind, identifier=stored[col.name]))
    if not parts:
        return 0
    wh.ensure_table(ACTIVATION.name, ACTIVATION.ibis_schema())
    candidates = parts[0] if len(parts) == 1 else ibis.union(*parts)
    known = ibis.union(*present, distinct=True) if len(present) > 1 else present[0].distinct()
    candidates = candidates.filter(candidates.sha256.notnull()).semi_join(
        known, ["identifier_type", "identifier"]
    )
    first = ibis.window(
        group_by=["identifier_type", "identifier"], order_by=["source_file", "source_row"]
    )
    ranked = candidates.mutate(_n=ibis.row_number().over(first))
    kept = ranked.filter(ranked._n == 0).drop("_n")
    existing = wh.table(ACTIVATION.name).select("identifier_type", "identifier")
    fresh = wh.materialize(
        kept.anti_join(existing, ["identifier_type", "identifier"]).mutate(
            ingest_batch=ibis.literal(batch)
        )
    )
    try:
        added = int(fresh.count().execute())
        if added:
            wh.insert(ACTIVATION.name, fresh)
        return added
    finally:
        wh.drop(fresh)


def _file_reports(
    report: IngestReport, sources: list[SourceFile], counts: dict[str, tuple[int, ...]]
) -> None:
    for src in sources:
        accepted, valid_rows, bad, suppressed = counts.get(str(src.path), (0, 0, 0, 0))
        report.files.append(
            FileReport(
                str(src.path),
                rows_read=src.rows + len(src.malformed),
                accepted=accepted,
                duplicates=valid_rows - accepted,
                quarantined=bad + len(src.malformed),
                suppressed=suppressed,
            )
        )


def _ledger(
    report: IngestReport, sources: list[SourceFile], batch: str, table: str, now: datetime
) -> ir.Table:
    read = [f for f in report.files if not f.already_ingested]
    return ibis.memtable(
        pa.table(
            {
                "ingest_batch": [batch] * len(sources),
                "table_name": [table] * len(sources),
                "source_file": [str(s.path) for s in sources],
                "file_sha256": [s.sha256 for s in sources],
                "rows_read": [f.rows_read for f in read],
                "accepted": [f.accepted for f in read],
                "duplicates": [f.duplicates for f in read],
                "quarantined": [f.quarantined for f in read],
                "suppressed": [f.suppressed for f in read],
                "started_at": [now] * len(sources),
                "finished_at": [datetime.now(UTC)] * len(sources),
            },
            schema=ibis.schema(BATCHES_SCHEMA).to_pyarrow(),
        )
    )


def _count_by_file(typed: ir.Table, stored: ir.Table, batch: str) -> dict[str, tuple[int, ...]]:
    """Per file: (accepted, valid, quarantined, suppressed); accepted = stored by this batch."""
    kept = stored.filter(stored.ingest_batch == batch)
    accepted = {
        r["source_file"]: r["n"]
        for r in kept.group_by("source_file").agg(n=kept.count()).to_pyarrow().to_pylist()
    }
    totals = typed.group_by("source_file").agg(
        valid=typed.reason.isnull().sum(),
        bad=(typed.reason.notnull() & (typed.reason != ERASED)).sum(),
        suppressed=(typed.reason == ERASED).sum(),
    )
    return {
        r["source_file"]: (
            accepted.get(r["source_file"], 0),
            int(r["valid"] or 0),
            int(r["bad"] or 0),
            int(r["suppressed"] or 0),
        )
        for r in totals.to_pyarrow().to_pylist()
    }


def _malformed_rows(sources: list[SourceFile], batch: str, table: str) -> pa.Table:
    rows = [(str(s.path), m) for s in sources for m in s.malformed]
    return pa.table(
        {
            "ingest_batch": [batch] * len(rows),
            "table_name": [table] * len(rows),
            "source_file": [path for path, _ in rows],
            "source_row": pa.array([m.source_row for _, m in rows], pa.int64()),
            "column_name": pa.array([None] * len(rows), pa.string()),
            "reason": ["malformed_row"] * len(rows),
            "message": [
                f"line {m.line}: does not split into the header's columns; check quoting and "
                "delimiters"
                for _, m in rows
            ],
            "raw_record": [m.text for _, m in rows],
        },
        schema=ibis.schema(QUARANTINE_SCHEMA).to_pyarrow(),
    )
