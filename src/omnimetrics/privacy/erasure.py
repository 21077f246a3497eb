"""Erasure: remove a person from every table and suppress their later rows.

Erasure removes every row that carries any identifier of the person (all identifiers linked to
the one given) from every table — sources, evidence, quarantine, derived tables and the
activation hashes of `activation_identifiers` — in one
transaction, and records a keyed hash of each identifier in `erased_identifiers` so that later
rows carrying them are suppressed at the door and counted, never stored. A DuckDB warehouse file
is then rewritten (`Warehouse.rewrite_file`): deleted rows would otherwise stay as bytes in the
file's free blocks, readable by anyone who scans it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from omnimetrics.identity import find_person, identifiers_of, rows_carrying
from omnimetrics.privacy.pseudonymise import Pseudonymiser
from omnimetrics.schema import ACTIVATION_TABLE, ERASED_SCHEMA, ERASED_TABLE

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

PAIRED = {
    "identities": (("identifier_type_a", "identifier_a"), ("identifier_type_b", "identifier_b")),
    "experiment_assignments": (("unit_type", "unit_id"),),
    "identity_excluded": (("identifier_type", "identifier"),),
    ACTIVATION_TABLE: (("identifier_type", "identifier"),),
}
"""Tables whose identifiers are (type column, value column) pairs."""
KEEP = (ERASED_TABLE, "identity_links", "ingest_batches")
"""Tables erasure leaves alone: the erasure register, a view over the sources, the file ledger."""


@dataclass(frozen=True)
class ErasureReport:
    person_id: str
    identifiers: int
    rows_deleted: dict[str, int]
    file_rewritten: bool = False
    """Whether the warehouse file was rewritten without the deleted rows' bytes (DuckDB files)."""


def _carries(table: ir.Table, name: str, ids: dict[str, list[str]]) -> ir.BooleanValue | None:
    """Whether a row of `table` carries one of the identifiers."""
    tests: list[ir.BooleanValue] = []
    direct = rows_carrying(table, ids)
    if direct is not None:
        tests.append(direct)
    for type_column, value_column in PAIRED.get(name, ()):
        for kind, values in ids.items():
            tests.append((table[type_column] == kind) & table[value_column].isin(values))
    if name == "quarantine":
        # A rejected row keeps its raw record (emails and phones already hashed): match the
        # identifier as a JSON string value.
        quoted = [f'"{v}"' for values in ids.values() for v in values]
        tests.extend(table.raw_record.contains(q) for q in quoted)
    return ibis.or_(*tests) if tests else None


def erase(wh: Warehouse, identifier: str, identifier_type: str | None = None) -> ErasureReport:
    """Remove the person behind `identifier` from every table and suppress them from now on.

    Identities are resolved first: a link loaded (or collected) since the last run must not
    leave one of the person's identifiers behind."""
    wh.resolve_identities()
    person = find_person(wh, identifier, identifier_type)
    ids = identifiers_of(wh, person)
    keys = sorted(f"{kind}:{value}" for kind, values in ids.items() for value in values)
    deleted: dict[str, int] = {}
    with wh.transaction():
        for name in wh.tables():
            if name in KEEP:
                continue
            table = wh.table(name)
            if "person_id" in table.columns:
                condition = table.person_id == person
            else:
                condition = _carries(table, name, ids)
            if condition is None:
                continue
            count = int(table.filter(condition).count().execute())
            if count:
                wh.delete_where(table, condition)
                deleted[name] = count
        wh.ensure_table(ERASED_TABLE, ERASED_SCHEMA)
        keyed = Pseudonymiser(wh.settings)
        hashed = keyed.hmac_keys(keys)
        keyed.close()
        now = datetime.now(UTC)
        wh.insert(
            ERASED_TABLE,
            ibis.memtable(
                {"identifier_key": hashed, "erased_at": [now] * len(hashed)},
                schema=ERASED_SCHEMA,
            ),
        )
    rewritten = wh.rewrite_file()
    return ErasureReport(
        person_id=person, identifiers=len(keys), rows_deleted=deleted, file_rewritten=rewritten
    )
