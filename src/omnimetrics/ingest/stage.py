"""Stage the files of one ingest call: read, rename, check the columns, pseudonymise, validate.

Each file becomes a table of typed rows with a verdict (null `reason` for a valid row).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import ibis.expr.types as ir
import pyarrow as pa

from omnimetrics.errors import SchemaError, did_you_mean
from omnimetrics.ingest.door import Door
from omnimetrics.ingest.readers import CsvOptions, SourceFile, open_source, read_batches
from omnimetrics.ingest.report import FileReport, IngestReport
from omnimetrics.ingest.validate import typed_with_verdict
from omnimetrics.schema import ERASED_TABLE, Table

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


@dataclass
class Staging:
    """The files of one ingest call staged so far, and what staging them needs."""

    wh: Warehouse
    contract: Table
    mapping: Mapping[str, str]
    report: IngestReport
    now: datetime
    zone: str
    csv: CsvOptions | None = None
    format: str | None = None
    source_name: str | None = None
    done: dict[str, str] = field(init=False)
    """Content hash -> batch of the files this table already ingested."""
    erased: list[str] = field(init=False)
    door: Door = field(init=False)
    typed: list[ir.Table] = field(default_factory=list)
    revisited: list[ir.Table] = field(default_factory=list)
    """Files already ingested, read again only for their activation hashes."""
    sources: list[SourceFile] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.done = _already_ingested(self.wh, self.contract.name)
        self.erased = _erased_keys(self.wh)
        self.door = Door(self.wh.settings, self.wh.kernel())

    @property
    def capture(self) -> bool:
        """Whether activation hashes are kept for this table's rows."""
        columns = self.contract.columns
        return self.wh.settings.activation_hashes and any(c.pii or c.pii_by for c in columns)

    def add(self, path: Path) -> None:
        """Stage one file; one already ingested is only reported (or read for its hashes)."""
        src = open_source(path, self.format)
        if src.sha256 in self.done:
            self.report.files.append(FileReport(str(path), already_ingested=self.done[src.sha256]))
            if not self.capture:
                return
        validated = self._validated(src)
        if src.sha256 in self.done:
            self.revisited.append(validated)
            return
        self.typed.append(validated)
        for row in src.malformed:  # a broken line may hold an email: mask it like free text
            row.text = self.door.mask_text(row.text)
        self.sources.append(src)

    def close(self) -> None:
        """Close the door and drop the staged tables."""
        self.door.close()
        for table_expr in [*self.typed, *self.revisited]:
            self.wh.drop(table_expr)

    def _validated(self, src: SourceFile) -> ir.Table:
        """Read one file through the door into typed rows with verdicts."""
        contract = self.contract
        schema, batches = read_batches(src, _known_inputs(contract, self.mapping), self.csv)
        schema, batches = _rename(schema, batches, self.mapping)
        ignored = _check_columns(contract, schema, src)
        if ignored:
            self.report.ignored_columns[str(src.path)] = ignored
        constants = {"source_file": str(src.path)}
        if "source" in contract.names and "source" not in schema.names:
            constants["source"] = self.source_name
        chunks = self.door.apply(contract, schema, batches, constants, self.erased)
        return _with_verdicts(self.wh, contract, chunks, self.now, self.zone)


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


def _with_verdicts(
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
