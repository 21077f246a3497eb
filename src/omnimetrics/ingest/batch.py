"""One ingest call: a table's files staged, then stored together as one batch (or not at all)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from omnimetrics.config import check_timezone
from omnimetrics.errors import SchemaError, did_you_mean
from omnimetrics.ingest.activation import store_activation
from omnimetrics.ingest.readers import CsvOptions, resolve
from omnimetrics.ingest.report import IngestReport, Progress, silent
from omnimetrics.ingest.stage import Staging
from omnimetrics.ingest.store import store
from omnimetrics.schema import BATCHES_SCHEMA, QUARANTINE_SCHEMA, Table, table_contract

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


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
    mapping = _checked_mapping(contract, {**settings.column_maps.get(table, {}), **(columns or {})})
    now = now or datetime.now(UTC)
    zone = check_timezone(timezone, "--timezone") if timezone else settings.timezone
    notify = progress or silent
    report = IngestReport(table=table, batch=uuid.uuid4().hex[:16], files=[])

    paths = resolve(source)
    wh.check_key()
    _ensure_tables(wh, contract)
    staging = Staging(wh, contract, mapping, report, now, zone, csv, format, source_name)
    try:
        for number, path in enumerate(paths):
            notify(f"reading {path.name}", number / max(len(paths), 1) * 0.6)
            staging.add(path)
        _store_staged(staging, notify)
    finally:
        staging.close()
    report.seconds = time.perf_counter() - started
    notify("done", 1.0)
    return report


def _checked_mapping(contract: Table, mapping: dict[str, str]) -> dict[str, str]:
    """The column mapping, refused when it targets a column the table does not have."""
    contract_inputs = {c.input_name for c in contract.columns}
    for ours in mapping.values():
        if ours not in contract_inputs:
            raise SchemaError(
                f"Column mapping targets {ours!r}, which table {contract.name!r} does not have. "
                + did_you_mean(ours, contract_inputs)
            )
    return mapping


def _store_staged(staging: Staging, notify: Progress) -> None:
    """Store the files read as one batch; files already ingested give only activation hashes."""
    wh, contract, report = staging.wh, staging.contract, staging.report
    again = _union(staging.revisited)
    if staging.typed:
        notify("deduplicating", 0.7)
        union = _union(staging.typed)
        priority = wh.settings.source_priority
        store(wh, contract, union, staging.sources, report, staging.now, priority, again)
    elif again is not None:
        with wh.transaction():
            report.activation_identifiers = store_activation(wh, contract, again, report.batch)


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
