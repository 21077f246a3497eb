"""The identifier graph: nodes are identifiers ("type:value"; emails and phones already keyed
hashes), links come from the `identities` table and from identifiers on the same row of
touchpoints, orders, feedback and customers. Placeholder values never link anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.errors import OmnimetricsError

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

ID_COLUMNS = ("customer_id", "loyalty_id", "email_hash", "phone_hash", "device_id", "anonymous_id")
"""Identifier columns of event tables, by priority: the first present one anchors the row."""

TYPE_OF_COLUMN = {"email_hash": "email", "phone_hash": "phone"}
PERSON_LEVEL = ("customer_id", "loyalty_id", "email", "phone")
"""Identifier types that name a person (as opposed to a browser or a device)."""

PLACEHOLDERS = ("", "0", "-1", "null", "none", "nil", "nan", "undefined", "anonymous", "unknown",
                "n/a", "na", "test", "xxx", "(not set)", "not set", "guest", "default")  # fmt: skip
"""Values that mean 'no identifier' (after trimming and lower-casing), plus all-zero strings."""

LINK_SOURCES = {"touchpoints": "same_event", "orders": "same_order", "feedback": "same_survey",
                "customers": "crm_record"}  # fmt: skip


class IdentityError(OmnimetricsError, RuntimeError):
    """Identity resolution could not complete (no identifiers, no convergence)."""


def node(kind: str | ir.StringValue, value: ir.StringValue) -> ir.StringValue:
    """The graph key of an identifier: "type:value"."""
    prefix = ibis.literal(kind) if isinstance(kind, str) else kind
    return prefix.concat(ibis.literal(":"), value)


def clean_identifier(value: ir.StringValue) -> ir.StringValue:
    """Null for placeholders; the value itself otherwise."""
    text = value.cast(dt.string)
    folded = text.strip().lower()
    known = ibis.literal(list(PLACEHOLDERS), type=dt.Array(dt.string)).contains(folded)
    placeholder = known | (folded.replace("0", "") == "")
    # Placeholders are short and hold no digit but 0 (except "-1"): most real identifiers are
    # told apart by a cheap test, and only the rest are trimmed, folded and looked up.
    longest = max(len(p) for p in PLACEHOLDERS)
    plainly_real = ((text.length() > longest) & ~text.startswith("0")) | (
        text.re_search("[1-9]") & (text.strip() != "-1")
    )
    return ibis.cases(
        (text.isnull(), ibis.null(dt.string)),
        (plainly_real, text),
        (placeholder, ibis.null(dt.string)),
        else_=text,
    )


def row_links(table: ir.Table, origin: str) -> ir.Table | None:
    """Star links of one event table: each row's anchor identifier to every other on the row."""
    present = [c for c in ID_COLUMNS if c in table.columns]
    if len(present) < 1:
        return None
    # Many rows repeat the same identifiers: link each distinct combination once.
    combos = table.select(*present).distinct()
    cleaned = combos.select(**{c: clean_identifier(combos[c]) for c in present})
    nodes = {c: node(TYPE_OF_COLUMN.get(c, c), cleaned[c]) for c in present}
    anchor = ibis.coalesce(*(nodes[c] for c in present))
    parts = []
    for c in present:
        linked = cleaned.select(a=anchor, b=nodes[c])
        parts.append(linked.filter(linked.b.notnull()))
    union = ibis.union(*parts, distinct=True) if len(parts) > 1 else parts[0].distinct()
    return union.mutate(link_source=ibis.literal(LINK_SOURCES.get(origin, origin)))


def explicit_links(identities: ir.Table) -> ir.Table:
    """Links declared in the identities table (login, crm, loyalty...)."""
    a = clean_identifier(identities.identifier_a)
    b = clean_identifier(identities.identifier_b)
    links = identities.select(
        a=node(identities.identifier_type_a, a),
        b=node(identities.identifier_type_b, b),
        link_source=identities.link_source.fill_null("explicit"),
    )
    return links.filter(links.a.notnull() & links.b.notnull()).distinct()


def all_links(wh: Warehouse) -> ir.Table:
    """Every link of the warehouse, deduplicated, with how it was made."""
    present = set(wh.tables())
    parts: list[ir.Table] = []
    if "identities" in present:
        parts.append(explicit_links(wh.table("identities")))
    for origin in LINK_SOURCES:
        if origin in present:
            links = row_links(wh.table(origin), origin)
            if links is not None:
                parts.append(links)
    if not parts:
        raise IdentityError(
            "No identifiers in the warehouse: ingest touchpoints, orders, customers or identities "
            "first (omnimetrics ingest TABLE FILE)."
        )
    links = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return links


def explained_links(wh: Warehouse) -> ir.Table:
    """identifier_a, identifier_b ("type:value"), link_source: every link and how it was made."""
    links = all_links(wh)
    return (
        links.filter(links.a != links.b)
        .select(identifier_a=links.a, identifier_b=links.b, link_source=links.link_source)
        .distinct()
    )


def node_type(key: ir.StringValue) -> ir.StringValue:
    """The type of a graph key ("type:value"); types never hold a colon."""
    return key.substr(0, key.find(":"))


def node_value(key: ir.StringValue) -> ir.StringValue:
    """The value of a graph key (values may hold colons)."""
    return key.substr(key.find(":") + 1)
