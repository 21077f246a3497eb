"""Connected components of the identifier graph, and the split of those that join more
identifiers of a type than one person may carry.

Components are found in the engine by min-label propagation with pointer jumping, iterated to
convergence, so the work scales with the engine (DuckDB or Spark), not with Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from omnimetrics.identity.links import IdentityError, node_value

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

PRIORITY = ("customer_id", "loyalty_id", "email", "phone", "device_id", "anonymous_id")
"""Identifier types from the most to the least trusted: splits cut the least trusted first.
Other types (from the `identities` table) come last."""
MAX_ITERATIONS = 60


def staged(wh: Warehouse, made: list[ir.Table], expr: ir.Table) -> ir.Table:
    """`expr` materialised, and listed in `made` (the staging tables to drop at the end)."""
    table = wh.materialize(expr)
    made.append(table)
    return table


def components(wh: Warehouse, nodes: ir.Table, edges: ir.Table) -> tuple[ir.Table, int]:
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


def over_limits(carriers: ir.Table, by: str, kind: str, per_person: Mapping[str, int]) -> ir.Table:
    """Groups `by` carrying more identifiers of a type (`kind`) than a person may:
    by, kind, identifiers, limit."""
    carried = carriers.group_by([by, kind]).agg(identifiers=carriers.count())
    allowed = carried[kind].cases(*per_person.items(), else_=None)
    over = carried.filter(allowed.notnull() & (carried.identifiers > allowed))
    return over.mutate(limit=allowed)


def split_over_limits(
    wh: Warehouse,
    numbered: ir.Table,
    edges: ir.Table,
    labels: ir.Table,
    per_person: Mapping[str, int],
    made: list[ir.Table],
) -> tuple[ir.Table, ir.Table | None]:
    """Split the components over a per-person limit, cutting the least trusted links first.

    For the identifier types from the least trusted up (PRIORITY, read backwards), in each
    component still over a limit: the identifiers of that type or less trusted ones form loose
    groups (linked among themselves) around core parts (the more trusted ones, linked among
    themselves). A loose group touching two or more core parts that carry the type over its
    limit cannot tell whose it is (a shared browser, a family device, a family email): it is set
    apart as a person of its own, and every other link is kept. Returns the new labels and the
    identifiers set apart (identity_excluded rows plus `id`); staging tables go to `made`.
    """
    rank = numbered.kind.cases(*((k, i) for i, k in enumerate(PRIORITY)), else_=len(PRIORITY))
    nodes = numbered.select(id=numbered.id, kind=numbered.kind, key=numbered.key, rank=rank)
    apart: list[ir.Table] = []
    for level in range(len(PRIORITY), 0, -1):
        bad = _over_limit_members(wh, labels, nodes, per_person, made)
        if bad is None:
            break
        inside, cut = _groups_to_cut(wh, bad, edges, level, made)
        if not int(cut.count().execute()):
            continue
        apart.append(cut)
        # Every other link stays: components again without the links into the cut groups.
        src_cut = inside.src.isin(cut.id)
        dst_cut = inside.dst.isin(cut.id)
        kept = inside.filter((src_cut & dst_cut) | (~src_cut & ~dst_cut)).select("src", "dst")
        split, _ = components(wh, bad.select(key=bad.id), kept)
        made.append(split)
        labels = staged(wh, made, ibis.union(labels.anti_join(bad, labels.key == bad.id), split))
    if not apart:
        return labels, None
    return labels, _set_apart(apart, nodes)


def _over_limit_members(
    wh: Warehouse,
    labels: ir.Table,
    nodes: ir.Table,
    per_person: Mapping[str, int],
    made: list[ir.Table],
) -> ir.Table | None:
    """The members of the components still over a limit: id, rank, carries (whether of the type
    over its limit), over (that type, the first if several), limit. None when none is over."""
    typed = labels.join(nodes, labels.key == nodes.id)
    over = staged(wh, made, over_limits(typed, "label", "kind", per_person))
    if not int(over.count().execute()):
        return None
    first = over.group_by("label").agg(over=over.kind.min(), limit=over["limit"].min())
    members = labels.join(first, "label").join(nodes, labels.key == nodes.id)
    return staged(
        wh,
        made,
        members.select(
            id=nodes.id,
            rank=nodes.rank,
            carries=nodes.kind == first.over,
            over=first.over,
            limit=first["limit"],
        ),
    )


def _groups_to_cut(
    wh: Warehouse, bad: ir.Table, edges: ir.Table, level: int, made: list[ir.Table]
) -> tuple[ir.Table, ir.Table]:
    """The links among `bad` members (flagged loose at `level` or below), and the loose groups
    touching two or more core parts that carry the type over its limit: id, level, persons,
    over, limit."""
    a = bad.select(src=bad.id, src_loose=bad.rank >= level)
    b = bad.select(dst=bad.id, dst_loose=bad.rank >= level)
    inside = edges.join(a, "src").join(b, "dst")
    core, _ = components(
        wh,
        bad.filter(bad.rank < level).select(key=bad.id),
        inside.filter(~inside.src_loose & ~inside.dst_loose).select("src", "dst"),
    )
    made.append(core)
    loose, _ = components(
        wh,
        bad.filter(bad.rank >= level).select(key=bad.id),
        inside.filter(inside.src_loose & inside.dst_loose).select("src", "dst"),
    )
    made.append(loose)
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
    cut = (
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
    return inside, staged(wh, made, cut)


def _set_apart(apart: list[ir.Table], nodes: ir.Table) -> ir.Table:
    """The identifiers cut at each level as identity_excluded rows (plus `id`)."""
    records = ibis.union(*apart)
    # An identifier set apart twice (its group split again at a more trusted level, which comes
    # later) is reported once, as set apart the last time.
    latest = records.mutate(_n=ibis.row_number().over(group_by="id", order_by="level"))
    latest = latest.filter(latest._n == 0)
    latest = latest.join(nodes, "id")
    return latest.select(
        identifier_type=latest.kind,
        identifier=node_value(latest.key),
        id=latest.id,
        links=latest.persons,
        limit=latest["limit"],
        reason=ibis.literal("joins_persons_over_limit:").concat(latest.over),
    )
