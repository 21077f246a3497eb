"""Rule-based attribution models, as engine expressions over journey touches.

Formulas (docs/attribution.md):
- first touch / last touch: all credit to the first / last touch.
- last non-direct touch: all credit to the last touch whose channel is not `direct` (the last
  touch when every touch is direct), as Google Analytics' former default.
- linear: 1/n to each of the n touches.
- position based (U-shaped, 40/20/40): first and last get 40% each, the middle touches share 20%;
  two touches get 50/50; one touch 100%. J-shaped (20/20/60) and inverse J (60/20/20) are the
  same rule with other shares; with two touches the first/last shares are rescaled to sum to 1.
- time decay: weight 2^(-days before the order / half-life), half-life 7 days, normalised.
Every model's credits sum to 1 per order and revenue is conserved (property-tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.attribution.registry import get_model, register
from omnimetrics.errors import ConfigError

NO_TOUCH = "(no attributable touch)"
DIRECT = "direct"


def _order_window() -> ibis.expr.builders.LegacyWindowBuilder:
    return ibis.window(group_by="order_id")


def _position_weights(t: ir.Table, first: float, last: float) -> ir.FloatingValue:
    n, pos = t.touches, t.position
    middle = (1.0 - first - last) / (n - 2).cast(dt.float64)
    return ibis.cases(
        (n == 1, ibis.literal(1.0)),
        ((n == 2) & (pos == 1), ibis.literal(first / (first + last))),
        ((n == 2) & (pos == 2), ibis.literal(last / (first + last))),
        (pos == 1, ibis.literal(first)),
        (pos == n, ibis.literal(last)),
        else_=middle,
    )


@register("first_touch", "All credit to the first touch of the journey.")
def first_touch(t: ir.Table) -> ir.FloatingValue:
    return ibis.cases((t.position == 1, 1.0), else_=0.0)


@register("last_touch", "All credit to the last touch before the order.")
def last_touch(t: ir.Table) -> ir.FloatingValue:
    return ibis.cases((t.position == t.touches, 1.0), else_=0.0)


@register("last_non_direct", "All credit to the last touch that is not direct (else the last).")
def last_non_direct(t: ir.Table) -> ir.FloatingValue:
    last_other = ibis.cases((t.channel != DIRECT, t.position), else_=ibis.null(dt.int64))
    chosen = ibis.coalesce(last_other.max().over(_order_window()), t.touches)
    return ibis.cases((t.position == chosen, 1.0), else_=0.0)


@register("linear", "Equal credit to every touch.")
def linear(t: ir.Table) -> ir.FloatingValue:
    return ibis.literal(1.0) / t.touches.cast(dt.float64)


@register("position_based", "U-shaped: 40% first, 40% last, 20% shared by the middle touches.")
def position_based(t: ir.Table) -> ir.FloatingValue:
    return _position_weights(t, 0.4, 0.4)


@register("j_shaped", "20% first, 60% last, 20% shared by the middle touches.")
def j_shaped(t: ir.Table) -> ir.FloatingValue:
    return _position_weights(t, 0.2, 0.6)


@register("inverse_j", "60% first, 20% last, 20% shared by the middle touches.")
def inverse_j(t: ir.Table) -> ir.FloatingValue:
    return _position_weights(t, 0.6, 0.2)


@register("time_decay", "Weight halves every 7 days before the order.")
def time_decay(t: ir.Table) -> ir.FloatingValue:
    return ibis.literal(0.5).pow(t.days_before / 7.0)


def touch_credits(touches: ir.Table, model: str) -> ir.Table:
    """Each touch with its share of its order (`credit`, summing to 1 per order) and revenue."""
    order = _order_window()
    prepared = touches.mutate(
        touches=touches.position.max().over(order),
        days_before=touches.order_at.delta(touches.touch_at, unit="second") / 86_400.0,
    )
    weigh = get_model(model).weigh
    if weigh is None:
        raise ConfigError(f"{model!r} is data-driven: it credits channels, not single touches.")
    weighed = prepared.mutate(_w=weigh(prepared).cast(dt.float64))
    credited = weighed.mutate(credit=weighed._w / weighed._w.sum().over(order))
    return credited.mutate(attributed_revenue=credited.credit * credited.revenue).drop("_w")


def attribute(
    touches: ir.Table,
    models: Sequence[str] = ("last_touch",),
    *,
    by: Sequence[str] = ("channel",),
    orders: ir.Table | None = None,
    non_converting: ir.Table | None = None,
) -> ir.Table:
    """Tidy attribution table: model, [by...], conversions, revenue, share.

    touches: journey touches (order_id, position, channel, campaign, touch_at, order_at,
    revenue), e.g. `journeys.journey_touches(wh)`. orders: when given (order_id, revenue), orders
    without any touch are reported under NO_TOUCH instead of disappearing. non_converting:
    touches of journeys that did not convert (person_id, position, channel, campaign), needed by
    the data-driven models (`journeys.non_conversion_touches(wh)`).
    """
    parts = []
    for model in models:
        if get_model(model).weigh is None:
            if non_converting is None or len(by) != 1:
                raise ConfigError(
                    f"{model!r} needs the non-converting journeys (non_converting=...) and one "
                    "dimension to credit (by channel or by campaign)."
                )
            from omnimetrics.attribution.markov import markov_attribution

            parts.append(markov_attribution(touches, non_converting, by=by[0]))
            continue
        credited = touch_credits(touches, model)
        grouped = credited.group_by(list(by)).agg(
            conversions=credited.credit.sum(), revenue=credited.attributed_revenue.sum()
        )
        if orders is not None:
            lonely = orders.anti_join(touches, "order_id")
            none = lonely.aggregate(
                conversions=lonely.count().cast(dt.float64), revenue=lonely.revenue.sum()
            ).mutate(**{column: ibis.literal(NO_TOUCH) for column in by})
            grouped = ibis.union(grouped, none.select(*by, "conversions", "revenue"))
        grouped = grouped.filter(grouped.conversions > 0)
        parts.append(
            grouped.mutate(
                model=ibis.literal(model),
                share=grouped.conversions / grouped.conversions.sum().over(),
            )
        )
    result = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return result.select("model", *by, "conversions", "revenue", "share").order_by(
        ["model", ibis.desc("conversions"), *by]
    )
