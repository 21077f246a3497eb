"""Identity resolution: one person per connected component of the identifier graph.

An identifier linked to implausibly many person-level identifiers (a shared store tablet, a
family card, a test account) is kept out of merging and reported; a component carrying more
identifiers of a type than a person may is split (`components.split_over_limits`).

person_id = "p_" + the first 16 hex digits of SHA-256 of the component's smallest identifier
("type:value"): it does not change when data is appended unless the component itself changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from omnimetrics.identity.components import components, over_limits, split_over_limits, staged
from omnimetrics.identity.links import (
    PERSON_LEVEL,
    all_links,
    explained_links,
    node_type,
    node_value,
)
from omnimetrics.identity.persons import match_rates

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

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
by priority (see `split_over_limits`); one that cannot be split is kept in `identity_conflicts`."""


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
    made: list[ir.Table] = []
    try:
        links = staged(wh, made, all_links(wh))
        numbered, undirected = _numbered(wh, links, made)
        excluded = _shared(wh, numbered, undirected, limits, made)
        shared = excluded.id
        edges = staged(
            wh, made, undirected.filter(~undirected.src.isin(shared) & ~undirected.dst.isin(shared))
        )
        labels, iterations = components(wh, numbered.select(key=numbered.id), edges)
        made.append(labels)
        labels, split = split_over_limits(wh, numbered, edges, labels, per_person, made)
        graph = _person_graph(numbered, labels)
        report = IdentityReport(
            identifiers=int(numbered.count().execute()),
            links=int(edges.count().execute()) // 2,
            persons=int(labels.label.nunique().execute()),
            iterations=iterations,
            excluded=int(excluded.count().execute()),
            split=int(split.count().execute()) if split is not None else 0,
        )
        if write:
            _write(wh, graph, excluded, split, per_person, report)
        return report
    finally:
        for table in made:
            wh.drop(table)


def _numbered(wh: Warehouse, links: ir.Table, made: list[ir.Table]) -> tuple[ir.Table, ir.Table]:
    """Every identifier with an integer id (key, kind, id, person_level), and the links between
    ids in both directions (src, dst)."""
    # Integer ids for the propagation (in no particular order: person ids come from keys).
    keys = ibis.union(links.select(key=links.a), links.select(key=links.b), distinct=True)
    keys = keys.mutate(kind=node_type(keys.key))
    numbered = staged(
        wh,
        made,
        keys.mutate(id=ibis.row_number().over(), person_level=keys.kind.isin(PERSON_LEVEL)),
    )
    a_ids = numbered.select(a=numbered.key, a_id=numbered.id)
    b_ids = numbered.select(b=numbered.key, b_id=numbered.id)
    pairs = links.filter(links.a != links.b).join(a_ids, "a").join(b_ids, "b")
    # Each link once (smaller id first), then both directions; a self-link (an anchor seen
    # alone) only declares the node.
    once = pairs.select(
        low=ibis.least(pairs.a_id, pairs.b_id), high=ibis.greatest(pairs.a_id, pairs.b_id)
    ).distinct()
    both = ibis.union(once.select(src="low", dst="high"), once.select(src="high", dst="low"))
    return numbered, staged(wh, made, both)


def _shared(
    wh: Warehouse,
    numbered: ir.Table,
    undirected: ir.Table,
    limits: Mapping[str, int],
    made: list[ir.Table],
) -> ir.Table:
    """Identifiers linked to more person-level identifiers than their type allows (shared):
    identity_excluded rows plus `id`."""
    level = numbered.select(dst=numbered.id, dst_person_level=numbered.person_level)
    person_level = undirected.join(level, "dst").filter(lambda t: t.dst_person_level)
    degree = person_level.group_by("src").agg(links=person_level.count())
    degree = degree.join(numbered, degree.src == numbered.id)
    limit = degree.kind.cases(*limits.items(), else_=max(limits.values()))
    over = degree.filter(degree.links > limit).select(
        identifier_type=degree.kind,
        identifier=node_value(degree.key),
        id=degree.src,
        links=degree.links,
        limit=limit,
        reason=ibis.literal("linked_to_too_many"),
    )
    return staged(wh, made, over)


def _person_graph(numbered: ir.Table, labels: ir.Table) -> ir.Table:
    """identifier_type, identifier, person_id: a person is named after the smallest identifier
    of their component."""
    members = numbered.join(labels, numbered.id == labels.key).select("key", "kind", "label")
    roots = members.group_by("label").agg(root=members.key.min())
    roots = roots.select(
        "label",
        person_id=ibis.literal("p_").concat(roots.root.hexdigest("sha256").substr(0, 16)),
    )
    resolved = members.join(roots, "label")
    return resolved.select(
        identifier_type=resolved.kind,
        identifier=node_value(resolved.key),
        person_id=resolved.person_id,
    )


def _write(
    wh: Warehouse,
    graph: ir.Table,
    excluded: ir.Table,
    split: ir.Table | None,
    per_person: Mapping[str, int],
    report: IdentityReport,
) -> None:
    """Write identity_graph, identity_conflicts, identity_excluded and the identity_links view;
    add the conflicts and match rates to the report."""
    wh.replace_table("identity_graph", graph)
    conflicts = over_limits(graph, "person_id", "identifier_type", per_person)
    wh.replace_table("identity_conflicts", conflicts)
    report.conflicts = int(wh.table("identity_conflicts").person_id.nunique().execute())
    set_apart = excluded.drop("id")
    if split is not None:
        set_apart = set_apart.union(split.select(*set_apart.columns))
    wh.replace_table("identity_excluded", set_apart)
    # How each link was made, computed from the source tables when asked (a view).
    wh.replace_view("identity_links", explained_links(wh))
    report.match.update(match_rates(wh))


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
