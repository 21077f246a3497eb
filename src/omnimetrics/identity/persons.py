"""Persons behind rows and identifiers: the person of each row of an event table, whether it is
identified, the identifiers of a person, and the person of an identifier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.errors import UnknownNameError
from omnimetrics.identity.links import ID_COLUMNS, PERSON_LEVEL, TYPE_OF_COLUMN, clean_identifier

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


def person_of_rows(wh: Warehouse, table: ir.Table) -> ir.Table:
    """`table` with a `person_id` column: the person of the row's anchor identifier."""
    graph = wh.table("identity_graph")
    present = [c for c in ID_COLUMNS if c in table.columns]
    # Cleaned once, in their own columns; then the first identifier present is the anchor,
    # matched on (type, value) without building "type:value" strings for every row.
    cleaned = table.mutate(**{f"_clean_{c}": clean_identifier(table[c]) for c in present})
    values = [cleaned[f"_clean_{c}"] for c in present]
    keyed = cleaned.mutate(
        _anchor=ibis.coalesce(*values),
        _anchor_type=ibis.cases(
            *((cleaned[f"_clean_{c}"].notnull(), TYPE_OF_COLUMN.get(c, c)) for c in present),
            else_=ibis.null(dt.string),
        ),
    ).drop(*(f"_clean_{c}" for c in present))
    lookup = graph.select(
        _anchor_type=graph.identifier_type, _anchor=graph.identifier, person_id=graph.person_id
    )
    return keyed.left_join(lookup, ["_anchor_type", "_anchor"]).drop(
        "_anchor", "_anchor_type", "_anchor_right", "_anchor_type_right"
    )


def identified_rows(wh: Warehouse, rows: ir.Table) -> ir.Table:
    """`rows` with `person_id` and `identified`: whether their person carries a person-level
    identifier (customer id, loyalty card, email or phone), not only cookies or devices."""
    graph = wh.table("identity_graph")
    known = graph.filter(graph.identifier_type.isin(PERSON_LEVEL)).select("person_id").distinct()
    with_person = person_of_rows(wh, rows)
    return with_person.mutate(
        identified=with_person.person_id.isin(known.person_id).fill_null(False)
    )


def match_rates(wh: Warehouse) -> dict[str, float]:
    """Shares of orders and store orders that belong to an identified person (one carrying a
    customer id, loyalty card, email or phone). Touchpoints: see `journeys.coverage`."""
    rates: dict[str, float] = {}
    for name, label, condition in (("orders", "orders", None), ("orders", "store_orders", "store")):
        if name not in wh.tables():
            continue
        rows = wh.table(name)
        if condition:
            rows = rows.filter(rows.sales_channel == condition)
        flagged = identified_rows(wh, rows)
        total = flagged.count().execute()
        hits = flagged.identified.sum().execute()
        rates[label] = float(hits or 0) / total if total else float("nan")
    return rates


def find_person(wh: Warehouse, identifier: str, identifier_type: str | None = None) -> str:
    """The person_id behind an identifier (emails and phones are hashed first, as at ingest)."""
    from omnimetrics.privacy.pseudonymise import Pseudonymiser

    graph = wh.table("identity_graph")
    kinds = (
        [identifier_type]
        if identifier_type
        else ["email", "phone", "customer_id", "loyalty_id", "anonymous_id", "device_id"]
    )
    keyed = None
    if {"email", "phone"} & set(kinds):
        wh.verify_key()
        keyed = Pseudonymiser(wh.settings)
    try:
        for kind in kinds:
            value = keyed.hash_values(kind, [identifier])[0] if keyed else identifier
            if value is None:
                continue
            hits = graph.filter((graph.identifier_type == kind) & (graph.identifier == value))
            found = hits.person_id.to_pyarrow().to_pylist()
            if found:
                return str(found[0])
    finally:
        if keyed:
            keyed.close()
    raise UnknownNameError(
        f"No person carries the identifier {identifier!r}"
        + (f" of type {identifier_type}" if identifier_type else "")
        + ". Check it, or run `omnimetrics journeys` after loading new data."
    )


def identifiers_of(wh: Warehouse, person_id: str) -> dict[str, list[str]]:
    """The identifiers of one person, by type (emails and phones as their hashes)."""
    graph = wh.table("identity_graph")
    rows = graph.filter(graph.person_id == person_id).to_pyarrow().to_pylist()
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["identifier_type"], []).append(row["identifier"])
    return found


def rows_carrying(table: ir.Table, ids: Mapping[str, list[str]]) -> ir.BooleanValue | None:
    """Whether a row of an event table carries one of the identifiers (None: no such column)."""
    tests = [
        table[column].isin(ids[TYPE_OF_COLUMN.get(column, column)])
        for column in ID_COLUMNS
        if column in table.columns and ids.get(TYPE_OF_COLUMN.get(column, column))
    ]
    return ibis.or_(*tests) if tests else None
