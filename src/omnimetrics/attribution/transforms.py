"""Path transforms applied to journey touches before any model (positions are renumbered)."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from omnimetrics.errors import ConfigError

TRANSFORMS = ("all", "collapse_repeats", "first_occurrence")


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
    (a > b > a -> a > b). drop: channels left out unless a journey has nothing else (e.g.
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
    elif how == "first_occurrence":
        first = kept.position.min().over(ibis.window(group_by=[key, "channel"]))
        kept = kept.filter(kept.position == first)
    renumbered = kept.mutate(position=ibis.row_number().over(journey) + 1)
    if max_touches is not None:
        if max_touches < 1:
            raise ConfigError(f"max_touches must be at least 1; got {max_touches}.")
        length = renumbered.position.max().over(ibis.window(group_by=key))
        renumbered = renumbered.filter(renumbered.position > length - max_touches)
        renumbered = renumbered.mutate(position=ibis.row_number().over(journey) + 1)
    return renumbered
