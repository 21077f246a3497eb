"""Identity resolution: one person per connected component of the identifier graph.

Edges come from the `identities` table (logins, CRM, loyalty enrolment) and from identifiers that
appear on the same row of touchpoints, orders, feedback and customers. Placeholder values never
link anything; an identifier linked to implausibly many person-level identifiers (a shared store
tablet, a family card, a test account) is kept out of merging and reported. Components are found
in the engine by min-label propagation with pointer jumping, iterated to convergence, so the work
scales with the engine (DuckDB or Spark), not with Python.

person_id = "p_" + the first 16 hex digits of SHA-256 of the component's smallest identifier
("type:value"): it does not change when data is appended unless the component itself changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.errors import OmnimetricsError, UnknownNameError

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

DEFAULT_MAX_LINKS = {
    "anonymous_id": 5,
    "device_id": 5,
    "loyalty_id": 4,
    "email": 4,
    "phone": 4,
    "customer_id": 8,
}
"""How many distinct person-level identifiers one identifier may be linked to before it is
considered shared (and kept out of merging)."""

MAX_PER_PERSON = {"customer_id": 2, "loyalty_id": 2, "email": 3, "phone": 3}
"""How many identifiers of a type one person may plausibly carry. A component above it is split
by priority (see `_split_over_limits`); one that cannot be split is kept in `identity_conflicts`."""

PRIORITY = ("customer_id", "loyalty_id", "email", "phone", "device_id", "anonymous_id")
"""Identifier types from the most to the least trusted: splits cut the least trusted first.
Other types (from the `identities` table) come last."""

LINK_SOURCES = {"touchpoints": "same_event", "orders": "same_order", "feedback": "same_survey",
                "customers": "crm_record"}  # fmt: skip
MAX_ITERATIONS = 60


class IdentityError(OmnimetricsError, RuntimeError):
    """Identity resolution could not complete (no identifiers, no convergence)."""


@dataclass
class IdentityReport:
    """What resolution found: persons, merges it refused, how much of the data it links."""

    identifiers: int
    links: int
    persons: int
    iterations: int
    excluded: int
    split: int = 0
    """Identifiers set apart because they joined persons into one carrying more identifiers of
    a type than a person may (see MAX_PER_PERSON); listed in `identity_excluded`."""
    conflicts: int = 0
    """Persons still over a per-person limit after splitting (linked by trusted identifiers)."""
    match: dict[str, float] = field(default_factory=dict)


def node(kind: str | ir.StringValue, value: ir.StringValue) -> ir.StringValue:
    """The graph key of an identifier: "type:value"."""
    prefix = ibis.literal(kind) if isinstance(kind, str) else kind
    return prefix.concat(ibis.literal(":"), value)


def _clean(value: ir.StringValue) -> ir.StringValue:
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
    cleaned = combos.select(**{c: _clean(combos[c]) for c in present})
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
    a = _clean(identities.identifier_a)
    b = _clean(identities.identifier_b)
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


def _node_type(key: ir.StringValue) -> ir.StringValue:
    """The type of a graph key ("type:value"); types never hold a colon."""
    return key.substr(0, key.find(":"))


def _node_value(key: ir.StringValue) -> ir.StringValue:
    """The value of a graph key (values may hold colons)."""
    return key.substr(key.find(":") + 1)


def resolve(
    wh: Warehouse,
    *,
    max_links: Mapping[str, int] | None = None,
    max_per_person: Mapping[str, int] | None = None,
    write: bool = True,
) -> IdentityReport:
    """Build the identity graph and write `identity_graph`, `identity_links`, `identity_excluded`.

    identity_graph: identifier_type, identifier, person_id (every identifier seen anywhere).
    """
    limits = {**DEFAULT_MAX_LINKS, **(max_links or {})}
    per_person = {**MAX_PER_PERSON, **(max_per_person or {})}
    links = wh.materialize(all_links(wh))
    try:
        return _resolve(wh, links, limits, per_person, write)
    finally:
        wh.drop(links)


def _resolve(
    wh: Warehouse,
    links: ir.Table,
    limits: Mapping[str, int],
    per_person: Mapping[str, int],
    write: bool,
) -> IdentityReport:
    # Integer ids for the propagation (in no particular order: person ids come from keys).
    keys = ibis.union(links.select(key=links.a), links.select(key=links.b), distinct=True)
    keys = keys.mutate(kind=_node_type(keys.key))
    numbered = wh.materialize(
        keys.mutate(id=ibis.row_number().over(), person_level=keys.kind.isin(PERSON_LEVEL))
    )
    nodes = numbered
    a_ids = numbered.select(a=numbered.key, a_id=numbered.id)
    b_ids = numbered.select(b=numbered.key, b_id=numbered.id)
    pairs = links.filter(links.a != links.b).join(a_ids, "a").join(b_ids, "b")
    # Each link once (smaller id first), then both directions; a self-link (an anchor seen
    # alone) only declares the node.
    once = pairs.select(
        low=ibis.least(pairs.a_id, pairs.b_id), high=ibis.greatest(pairs.a_id, pairs.b_id)
    ).distinct()
    undirected = wh.materialize(
        ibis.union(once.select(src="low", dst="high"), once.select(src="high", dst="low"))
    )
    level = numbered.select(dst=numbered.id, dst_person_level=numbered.person_level)
    person_level = undirected.join(level, "dst").filter(lambda t: t.dst_person_level)
    degree = person_level.group_by("src").agg(links=person_level.count())
    degree = degree.join(numbered, degree.src == numbered.id)
    limit = degree.kind.cases(*limits.items(), else_=max(limits.values()))
    excluded = wh.materialize(
        degree.filter(degree.links > limit).select(
            identifier_type=degree.kind,
            identifier=_node_value(degree.key),
            id=degree.src,
            links=degree.links,
            limit=limit,
            reason=ibis.literal("linked_to_too_many"),
        )
    )
    shared = excluded.id
    edges = wh.materialize(
        undirected.filter(~undirected.src.isin(shared) & ~undirected.dst.isin(shared))
    )
    temporaries = [numbered, undirected, excluded, edges]
    try:
        labels, iterations = _components(wh, numbered.select(key=numbered.id), edges)
        temporaries.append(labels)
        labels, split, made = _split_over_limits(wh, numbered, edges, labels, per_person)
        temporaries += made
        members = numbered.join(labels, numbered.id == labels.key).select("key", "kind", "label")
        # A person is named after the smallest identifier of their component.
        roots = members.group_by("label").agg(root=members.key.min())
        roots = roots.select(
            "label",
            person_id=ibis.literal("p_").concat(roots.root.hexdigest("sha256").substr(0, 16)),
        )
        resolved = members.join(roots, "label")
        graph = resolved.select(
            identifier_type=resolved.kind,
            identifier=_node_value(resolved.key),
            person_id=resolved.person_id,
        )
        conflicts = _over_limits(graph, "person_id", "identifier_type", per_person)
        report = IdentityReport(
            identifiers=int(nodes.count().execute()),
            links=int(edges.count().execute()) // 2,
            persons=int(labels.label.nunique().execute()),
            iterations=iterations,
            excluded=int(excluded.count().execute()),
            split=int(split.count().execute()) if split is not None else 0,
        )
        if write:
            wh.replace_table("identity_graph", graph)
            wh.replace_table("identity_conflicts", conflicts)
            report.conflicts = int(wh.table("identity_conflicts").person_id.nunique().execute())
            set_apart = excluded.drop("id")
            if split is not None:
                set_apart = set_apart.union(split.select(*set_apart.columns))
            wh.replace_table("identity_excluded", set_apart)
            # How each link was made, computed from the source tables when asked (a view).
            wh.replace_view("identity_links", explained_links(wh))
            report.match.update(match_rates(wh))
        return report
    finally:
        for table in temporaries:
            wh.drop(table)


def _over_limits(carriers: ir.Table, by: str, kind: str, per_person: Mapping[str, int]) -> ir.Table:
    """Groups `by` carrying more identifiers of a type (`kind`) than a person may:
    by, kind, identifiers, limit."""
    carried = carriers.group_by([by, kind]).agg(identifiers=carriers.count())
    allowed = carried[kind].cases(*per_person.items(), else_=None)
    over = carried.filter(allowed.notnull() & (carried.identifiers > allowed))
    return over.mutate(limit=allowed)


def _split_over_limits(
    wh: Warehouse,
    numbered: ir.Table,
    edges: ir.Table,
    labels: ir.Table,
    per_person: Mapping[str, int],
) -> tuple[ir.Table, ir.Table | None, list[ir.Table]]:
    """Split the components over a per-person limit, cutting the least trusted links first.

    For the identifier types from the least trusted up (PRIORITY, read backwards), in each
    component still over a limit: the identifiers of that type or less trusted ones form loose
    groups (linked among themselves) around core parts (the more trusted ones, linked among
    themselves). A loose group touching two or more core parts that carry the type over its
    limit cannot tell whose it is (a shared browser, a family device, a family email): it is set
    apart as a person of its own, and every other link is kept. Returns the new labels, the
    identifiers set apart (identity_excluded rows plus `id`) and the staging tables to drop.
    """
    rank = numbered.kind.cases(*((k, i) for i, k in enumerate(PRIORITY)), else_=len(PRIORITY))
    nodes = numbered.select(id=numbered.id, kind=numbered.kind, key=numbered.key, rank=rank)
    made: list[ir.Table] = []
    apart: list[ir.Table] = []
    for level in range(len(PRIORITY), 0, -1):
        typed = labels.join(nodes, labels.key == nodes.id)
        over = wh.materialize(_over_limits(typed, "label", "kind", per_person))
        made.append(over)
        if not int(over.count().execute()):
            break
        first = over.group_by("label").agg(over=over.kind.min(), limit=over["limit"].min())
        members = labels.join(first, "label").join(nodes, labels.key == nodes.id)
        bad = wh.materialize(
            members.select(
                id=nodes.id,
                rank=nodes.rank,
                carries=nodes.kind == first.over,
                over=first.over,
                limit=first["limit"],
            )
        )
        made.append(bad)
        a = bad.select(src=bad.id, src_loose=bad.rank >= level)
        b = bad.select(dst=bad.id, dst_loose=bad.rank >= level)
        inside = edges.join(a, "src").join(b, "dst")
        core, _ = _components(
            wh,
            bad.filter(bad.rank < level).select(key=bad.id),
            inside.filter(~inside.src_loose & ~inside.dst_loose).select("src", "dst"),
        )
        loose, _ = _components(
            wh,
            bad.filter(bad.rank >= level).select(key=bad.id),
            inside.filter(inside.src_loose & inside.dst_loose).select("src", "dst"),
        )
        made += [core, loose]
        # Core parts carrying the type over its limit; a loose group touching two of them
        # cannot tell whose it is.
        carrying = core.join(bad.filter(bad.carries), core.key == bad.id).select("label")
        cross = inside.filter(inside.src_loose & ~inside.dst_loose)
        touched = (
            cross.join(loose, cross.src == loose.key)
            .join(core, cross.dst == core.key)
            .select(group=loose.label, part=core.label)
            .distinct()
        )
        touched = touched.semi_join(carrying, touched.part == carrying.label)
        reach = touched.group_by("group").agg(persons=touched.count())
        several = reach.filter(reach.persons > 1)
        cut = wh.materialize(
            loose.join(several, loose.label == several.group)
            .join(bad, loose.key == bad.id)
            .select(
                id=bad.id,
                level=ibis.literal(level),
                persons=several.persons,
                over=bad.over,
                limit=bad["limit"],
            )
        )
        made.append(cut)
        if not int(cut.count().execute()):
            continue
        apart.append(cut)
        # Every other link stays: components again without the links into the cut groups.
        src_cut = inside.src.isin(cut.id)
        dst_cut = inside.dst.isin(cut.id)
        kept = inside.filter((src_cut & dst_cut) | (~src_cut & ~dst_cut)).select("src", "dst")
        split, _ = _components(wh, bad.select(key=bad.id), kept)
        made.append(split)
        new = wh.materialize(ibis.union(labels.anti_join(bad, labels.key == bad.id), split))
        made.append(new)
        labels = new
    if not apart:
        return labels, None, made
    records = ibis.union(*apart)
    # An identifier set apart twice (its group split again at a more trusted level, which comes
    # later) is reported once, as set apart the last time.
    latest = records.mutate(_n=ibis.row_number().over(group_by="id", order_by="level"))
    latest = latest.filter(latest._n == 0)
    latest = latest.join(nodes, "id")
    split = latest.select(
        identifier_type=latest.kind,
        identifier=_node_value(latest.key),
        id=latest.id,
        links=latest.persons,
        limit=latest["limit"],
        reason=ibis.literal("joins_persons_over_limit:").concat(latest.over),
    )
    return labels, split, made


def _components(wh: Warehouse, nodes: ir.Table, edges: ir.Table) -> tuple[ir.Table, int]:
    """Min-label propagation with pointer jumping until no label changes.

    nodes: (key); edges: (src, dst) in both directions. Returns (key, label) with label the
    smallest key of the component, and the number of iterations.
    """
    labels = wh.materialize(nodes.select(key=nodes.key, label=nodes.key))
    for iteration in range(1, MAX_ITERATIONS + 1):
        # Each node takes the smallest label among itself and its neighbours...
        offered = edges.join(labels, edges.dst == labels.key).select(
            key=edges.src, label=labels.label
        )
        spread = ibis.union(labels, offered).group_by("key").agg(label=lambda t: t.label.min())
        # ...then jumps to its label's label (halves the distance to the root).
        parent = spread.view()
        jumped = spread.left_join(parent, spread.label == parent.key).select(
            key=spread.key,
            label=ibis.least(spread.label, parent.label.fill_null(spread.label)),
        )
        new = wh.materialize(jumped)
        # Labels only ever decrease, so an unchanged sum means no label changed.
        total = new.label.sum().fill_null(0).execute()
        done = int(total) == int(labels.label.sum().fill_null(0).execute())
        wh.drop(labels)
        labels = new
        if done:
            return labels, iteration
    wh.drop(labels)
    raise IdentityError(
        f"Identity resolution did not converge in {MAX_ITERATIONS} iterations; the identifier "
        "graph has an unusually long chain. Check for identifiers that chain many persons."
    )


def person_of_rows(wh: Warehouse, table: ir.Table) -> ir.Table:
    """`table` with a `person_id` column: the person of the row's anchor identifier."""
    graph = wh.table("identity_graph")
    present = [c for c in ID_COLUMNS if c in table.columns]
    # Cleaned once, in their own columns; then the first identifier present is the anchor,
    # matched on (type, value) without building "type:value" strings for every row.
    cleaned = table.mutate(**{f"_clean_{c}": _clean(table[c]) for c in present})
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


def pair_scores(predicted: ir.Table, truth: ir.Table) -> dict[str, float]:
    """Pairwise precision and recall of a clustering against the true one.

    Both tables: (item, cluster). Counts pairs without listing them: TP = sum over cells of
    C(n, 2), predicted pairs = sum over predicted clusters of C(n, 2), same for true clusters.
    """
    joined = predicted.join(truth, "item").select(
        item="item", pred=predicted.cluster, true=truth.cluster
    )

    def pairs(counts: ir.Table) -> float:
        value = (counts.n * (counts.n - 1) / 2).sum().execute()
        return float(value or 0)

    cells = joined.group_by(["pred", "true"]).agg(n=joined.count())
    preds = joined.group_by("pred").agg(n=joined.count())
    trues = joined.group_by("true").agg(n=joined.count())
    tp, pp, tt = pairs(cells), pairs(preds), pairs(trues)
    return {
        "precision": tp / pp if pp else 1.0,
        "recall": tp / tt if tt else 1.0,
        "items": float(joined.count().execute()),
    }


def find_person(wh: Warehouse, identifier: str, identifier_type: str | None = None) -> str:
    """The person_id behind an identifier (emails and phones are hashed first, as at ingest)."""
    from omnimetrics.privacy.pseudonymise import Pseudonymiser

    graph = wh.table("identity_graph")
    kinds = (
        [identifier_type]
        if identifier_type
        else ["email", "phone", "customer_id", "loyalty_id", "anonymous_id", "device_id"]
    )
    keyed = Pseudonymiser(wh.settings) if {"email", "phone"} & set(kinds) else None
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
