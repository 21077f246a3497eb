"""What a batch records beside its rows: quarantine rows, per-file counts, the ingest ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from omnimetrics.ingest.readers import SourceFile
from omnimetrics.ingest.report import FileReport, IngestReport
from omnimetrics.ingest.validate import ERASED
from omnimetrics.schema import BATCHES_SCHEMA, QUARANTINE_SCHEMA


def quarantine_rows(typed: ir.Table, batch: str, table: str) -> ir.Table:
    """The rows a check rejected (not those of erased persons), as `quarantine` rows."""
    return typed.filter(typed.reason.notnull() & (typed.reason != ERASED)).select(
        ingest_batch=ibis.literal(batch),
        table_name=ibis.literal(table),
        source_file=typed.source_file,
        source_row=typed.source_row,
        column_name=typed.column_name,
        reason=typed.reason,
        message=typed.message,
        raw_record=typed.raw_record,
    )


def malformed_rows(sources: list[SourceFile], batch: str, table: str) -> pa.Table:
    """The lines no parser could split, as `quarantine` rows."""
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
                m.message
                or f"line {m.line}: does not split into the header's columns; check quoting and "
                "delimiters"
                for _, m in rows
            ],
            "raw_record": [m.text for _, m in rows],
        },
        schema=ibis.schema(QUARANTINE_SCHEMA).to_pyarrow(),
    )


def reason_counts(rejected: ir.Table, malformed: pa.Table) -> dict[str, int]:
    """Quarantined rows per reason code."""
    reasons = rejected.group_by("reason").agg(n=rejected.count()).to_pyarrow().to_pylist()
    counts = {r["reason"]: r["n"] for r in reasons}
    if malformed.num_rows:
        counts["malformed_row"] = malformed.num_rows
    return counts


def count_by_file(typed: ir.Table, stored: ir.Table, batch: str) -> dict[str, tuple[int, ...]]:
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


def file_reports(
    report: IngestReport, sources: list[SourceFile], counts: dict[str, tuple[int, ...]]
) -> None:
    """Add one `FileReport` per file read to `report`, from `count_by_file`'s counts."""
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


def ledger_rows(
    report: IngestReport, sources: list[SourceFile], table: str, now: datetime
) -> ir.Table:
    """The `ingest_batches` rows of the files read: their content hash and counts."""
    read = [f for f in report.files if not f.already_ingested]
    return ibis.memtable(
        pa.table(
            {
                "ingest_batch": [report.batch] * len(sources),
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
