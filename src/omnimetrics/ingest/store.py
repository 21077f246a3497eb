"""Store a batch: one report per key, the preferred report wins over a stored one, in one commit.

Every valid row is either stored or counted as a duplicate; rejects go to `quarantine`; the
files read go to the `ingest_batches` ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.ingest.activation import store_activation
from omnimetrics.ingest.ledger import (
    count_by_file,
    file_reports,
    ledger_rows,
    malformed_rows,
    quarantine_rows,
    reason_counts,
)
from omnimetrics.ingest.readers import SourceFile
from omnimetrics.ingest.report import IngestReport
from omnimetrics.schema import Table

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


def store(
    wh: Warehouse,
    contract: Table,
    typed: ir.Table,
    sources: list[SourceFile],
    report: IngestReport,
    now: datetime,
    priority: Sequence[str],
    revisited: ir.Table | None = None,
) -> None:
    """Store the typed rows of `sources` as batch `report.batch`, and fill in `report`.

    `revisited`: rows of files already ingested, read again only for their activation hashes.
    """
    batch = report.batch
    valid = typed.filter(typed.reason.isnull())
    lineage = {
        "ingest_batch": ibis.literal(batch),
        "source_file": valid.source_file,
        "source_row": valid.source_row,
    }
    first = _first_reports(valid, contract, priority, lineage)
    stored = wh.table(contract.name)
    stored_keys = stored.select(_key=_key_string(stored, contract.key))
    first_load = not int(stored.count().execute())
    # A first load has nothing to compare with: no join against the (empty) table.
    fresh = first.drop("_key") if first_load else first.anti_join(stored_keys, "_key").drop("_key")
    replacing: ir.Table | None = None
    if contract.prefer and not first_load:
        replacing = _preferred_over_stored(wh, contract, first, stored, stored_keys, priority)
    try:
        rejected = quarantine_rows(typed, batch, contract.name)
        malformed = malformed_rows(sources, batch, contract.name)
        report.reasons = reason_counts(rejected, malformed)
        report.updated = 0 if replacing is None else int(replacing.count().execute())
        with wh.transaction():
            wh.insert(contract.name, fresh)
            if replacing is not None:
                wh.replace_rows(contract.name, contract.key, replacing)
            file_reports(report, sources, count_by_file(typed, wh.table(contract.name), batch))
            wh.insert("quarantine", rejected)
            if malformed.num_rows:
                wh.insert("quarantine", ibis.memtable(malformed))
            if contract.keep_reports:
                wh.insert(f"{contract.name}_reports", valid.select(*contract.names, **lineage))
            wh.insert("ingest_batches", ledger_rows(report, sources, contract.name, now))
            for rows in (typed, revisited):
                if rows is not None:
                    report.activation_identifiers += store_activation(wh, contract, rows, batch)
    finally:
        if replacing is not None:
            wh.drop(replacing)


def _first_reports(
    valid: ir.Table, contract: Table, priority: Sequence[str], lineage: dict[str, ir.Value]
) -> ir.Table:
    """The preferred report of each key of the batch, with its lineage and `_key`."""
    columns = list(contract.names)
    keyed = valid.mutate(_key=_key_string(valid, contract.key))
    sizes = keyed.aggregate(rows=keyed.count(), keys=keyed._key.nunique()).to_pyarrow()
    if sizes["rows"][0].as_py() == sizes["keys"][0].as_py():
        # No key repeats within the batch: no need to rank reports.
        return keyed.select(*columns, **lineage, _key=keyed._key)
    order = [
        *_preference(keyed, contract, priority),
        keyed.source_file.asc(),
        keyed.source_row.asc(),
    ]
    ranked = keyed.mutate(_rank=ibis.row_number().over(group_by="_key", order_by=order))
    return ranked.filter(ranked._rank == 0).select(*columns, **lineage, _key=ranked._key)


def _preferred_over_stored(
    wh: Warehouse,
    contract: Table,
    first: ir.Table,
    stored: ir.Table,
    stored_keys: ir.Table,
    priority: Sequence[str],
) -> ir.Table:
    """The new reports preferred to the stored report of their key, materialised."""
    clash = first.semi_join(stored_keys, "_key")
    old = stored.mutate(_key=_key_string(stored, contract.key), _old=ibis.literal(1))
    both = ibis.union(clash.mutate(_old=ibis.literal(0)), old.semi_join(clash, "_key"))
    both_order = [*_preference(both, contract, priority), both._old.desc()]
    winners = both.mutate(_w=ibis.row_number().over(group_by="_key", order_by=both_order))
    return wh.materialize(
        winners.filter((winners._w == 0) & (winners._old == 0)).drop("_key", "_old", "_w")
    )


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
