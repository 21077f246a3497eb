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
- same touch: all credit to the last touch when it is within 30 minutes of the order (the
  session in which the order was placed); otherwise the order has no attributable touch.
- participation: every channel present gets full credit (does not sum to the conversions).
Every additive model's credits sum to 1 per order and revenue is conserved (property-tested).
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.attribution.registry import get_model, register
from omnimetrics.errors import ConfigError

DIRECT = "direct"
SAME_TOUCH_MINUTES = 30


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


@register("time_decay", "Weight halves every 7 days before the order.", needs_times=True)
def time_decay(t: ir.Table) -> ir.FloatingValue:
    return ibis.literal(0.5).pow(t.days_before / 7.0)


@register("same_touch", "All credit to the touch of the session in which the order was placed "
          "(the last touch, if it is at most 30 minutes before the order).", needs_times=True,
          abstains=True)  # fmt: skip
def same_touch(t: ir.Table) -> ir.FloatingValue:
    within = t.days_before * 86_400.0 <= SAME_TOUCH_MINUTES * 60.0
    return ibis.cases(((t.position == t.touches) & within, 1.0), else_=0.0)


@register("participation", "Full credit to every channel present in the journey: credits do "
          "not sum to the conversions.", additive=False)  # fmt: skip
def participation(t: ir.Table) -> ir.FloatingValue:
    return ibis.literal(1.0)


def touch_credits(touches: ir.Table, model: str) -> ir.Table:
    """Each touch with its share of its order (`credit`: summing to 1 per order, or 0 for an
    order the model does not credit; raw for a non-additive model), its `attributed_revenue`,
    and `unit`: the conversions its order stands for (1; a path's conversions for the touches
    of a path table)."""
    spec = get_model(model)
    if spec.weigh is None:
        raise ConfigError(f"{model!r} is data-driven: it credits channels, not single touches.")
    order = _order_window()
    prepared = touches.mutate(touches=touches.position.max().over(order))
    if spec.needs_times:
        if "touch_at" not in touches.columns:
            raise ConfigError(
                f"{model!r} needs the time of every touch; a path table has none. Use it on the "
                "warehouse's journeys, or choose a model that reads positions only."
            )
        days = touches.order_at.delta(touches.touch_at, unit="second") / 86_400.0
        prepared = prepared.mutate(days_before=days)
    weighed = prepared.mutate(_w=spec.weigh(prepared).cast(dt.float64))
    total = weighed._w.sum().over(order)
    share = weighed._w / total if spec.additive else weighed._w
    credited = weighed.mutate(credit=ibis.cases((total > 0, share), else_=0.0))
    unit = touches.conversions if "conversions" in touches.columns else ibis.literal(1.0)
    return credited.mutate(
        attributed_revenue=credited.credit * credited.revenue, unit=unit.cast(dt.float64)
    ).drop("_w")
