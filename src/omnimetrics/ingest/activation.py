"""Activation hashes: the plain SHA-256 of stored emails and phones, kept for ad platforms.

Only with `[privacy] activation_hashes = true`; the door computes them, this keeps them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from omnimetrics.ingest.door import ACTIVATION_PREFIX
from omnimetrics.schema import ACTIVATION, Table

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


def store_activation(wh: Warehouse, contract: Table, typed: ir.Table, batch: str) -> int:
    """Keep the activation hashes of valid rows whose identifier is now stored in the table.

    One row per (identifier_type, identifier), the first seen kept; an identifier no stored row
    carries (its row lost to a preferred report, or was suppressed) is not kept, so erasure,
    which follows the stored rows, always finds what is here. Returns the rows added.
    """
    candidates, known = _candidates(wh, contract, typed)
    if candidates is None:
        return 0
    wh.ensure_table(ACTIVATION.name, ACTIVATION.ibis_schema())
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


def _candidates(
    wh: Warehouse, contract: Table, typed: ir.Table
) -> tuple[ir.Table | None, ir.Table | None]:
    """The hashes of the valid rows, and the identifiers the stored rows carry (None, None
    when the rows carry no activation hash)."""
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
        return None, None
    candidates = parts[0] if len(parts) == 1 else ibis.union(*parts)
    known = ibis.union(*present, distinct=True) if len(present) > 1 else present[0].distinct()
    return candidates, known
