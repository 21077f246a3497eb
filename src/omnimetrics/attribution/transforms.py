"""Path transforms applied to journey touches before any model (positions are renumbered)."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from omnimetrics.attribution.paths import PathTable
from omnimetrics.errors import ConfigError

TRANSFORMS = ("all", "collapse_repeats", "first_occurrence", "counts_per_channel")


def transform_touches(
    touches: ir.Table,
    how: str = "all",
    *,
    drop: Sequence[str] = (),
    max_touches: int | None = None,
    key: str = "order_id",
) -> ir.Table:
    """Touches after a path transform.

    how: "all" keeps every touch; "collapse_repeats" keeps one of consecutive touches of the same
    channel (a > a > b -> a > b); "first_occurrence" keeps the first touch of each channel
    (a > b > a -> a > b); "counts_per_channel" keeps the first touch of each channel labelled
    with the channel's number of touches (a > b > a -> a (2) > b (1)), so that the models can
    tell one email from five. drop: channels left out unless a journey has nothing else (e.g.
    "direct"). max_touches: keep only the last N touches of long journeys.
    """
    if how not in TRANSFORMS:
        raise ConfigError(f"Unknown path transform {how!r}; choose from {list(TRANSFORMS)}.")
    journey = ibis.window(group_by=key, order_by="position")
    kept = touches
    if drop:
        dropped = kept.channel.isin(list(drop))
        others = ibis.cases((~dropped, 1), else_=0).sum().over(ibis.window(group_by=key))
        kept = kept.filter(~dropped | (others == 0))
    if how == "collapse_repeats":
        previous = kept.channel.lag().over(journey)
        kept = kept.filter(previous.isnull() | (previous != kept.channel))
    elif how in ("first_occurrence", "counts_per_channel"):
        same_channel = ibis.window(group_by=[key, "channel"])
        kept = kept.mutate(_first=kept.position.min().over(same_channel),
                           _count=kept.position.count().over(same_channel))  # fmt: skip
        kept = kept.filter(kept.position == kept._first)
        if how == "counts_per_channel":
            counted = kept.channel.concat(" (", kept._count.cast("string"), ")")
            kept = kept.mutate(channel=counted)
        kept = kept.drop("_first", "_count")
    renumbered = kept.mutate(position=ibis.row_number().over(journey) + 1)
    if max_touches is not None:
        if max_touches < 1:
            raise ConfigError(f"max_touches must be at least 1; got {max_touches}.")
        length = renumbered.position.max().over(ibis.window(group_by=key))
        renumbered = renumbered.filter(renumbered.position > length - max_touches)
        renumbered = renumbered.mutate(position=ibis.row_number().over(journey) + 1)
    return renumbered


def transform_paths(
    paths: PathTable, how: str = "all", *, drop: Sequence[str] = (), max_touches: int | None = None
) -> PathTable:
    """A path table after the same transforms (run in the engine on its touches)."""
    if how == "all" and not drop and max_touches is None:
        return paths
    labels = np.array(paths.labels, dtype=object)
    touches = ibis.memtable(pa.table({
        "path_id": pa.array(paths.path_of_touch, pa.int64()),
        "position": pa.array(paths.position_of_touch + 1, pa.int64()),
        "channel": pa.array(labels[paths.codes], pa.string()),
    }))  # fmt: skip
    kept = transform_touches(touches, how, drop=drop, max_touches=max_touches, key="path_id")
    step = ibis.struct({"position": kept.position, "channel": kept.channel})
    grouped = kept.group_by("path_id").agg(_steps=step.collect())
    rows = grouped.select(
        "path_id", path=grouped._steps.sort().map(lambda s: s.channel)
    ).to_pyarrow()
    index = rows.column("path_id").to_numpy()
    lists: list[list[str]] = [[] for _ in range(len(paths))]
    transformed = pa.table({"path": pa.array(lists, pa.list_(pa.string()))})
    if len(index):
        order = np.argsort(index)
        full = np.zeros(len(paths), np.int64)
        full[index[order]] = rows.column("path").combine_chunks().value_lengths().to_numpy()[order]
        flat = rows.column("path").combine_chunks().take(pa.array(order)).flatten()
        offsets = np.concatenate([[0], np.cumsum(full)]).astype(np.int32)
        transformed = pa.table({"path": pa.ListArray.from_arrays(pa.array(offsets), flat)})
    counts = {"conversions": paths.conversions, "nulls": paths.nulls, "value": paths.value}
    for name, values in counts.items():
        transformed = transformed.append_column(name, pa.array(values))
    return PathTable.from_arrow(transformed)
