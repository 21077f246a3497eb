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
The models are declared (name, doc, flags) in `registry`; this module holds their formulas.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.attribution.registry import AttributionModel, get_model
from omnimetrics.errors import ConfigError
from omnimetrics.registry import Registry

DIRECT = "direct"
SAME_TOUCH_MINUTES = 30


def _order_window() -> ibis.expr.builders.LegacyWindowBuilder:
    return ibis.window(group_by="order_id")


def position_weights(t: ir.Table, first: float, last: float) -> ir.FloatingValue:
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


def first_touch(t: ir.Table) -> ir.FloatingValue:
    return ibis.cases((t.position == 1, 1.0), else_=0.0)


def last_touch(t: ir.Table) -> ir.FloatingValue:
    return ibis.cases((t.position == t.touches, 1.0), else_=0.0)


def last_non_direct(t: ir.Table) -> ir.FloatingValue:
    last_other = ibis.cases((t.channel != DIRECT, t.position), else_=ibis.null(dt.int64))
    chosen = ibis.coalesce(last_other.max().over(_order_window()), t.touches)
    return ibis.cases((t.position == chosen, 1.0), else_=0.0)


def linear(t: ir.Table) -> ir.FloatingValue:
    return ibis.literal(1.0) / t.touches.cast(dt.float64)


def decay(t: ir.Table, half_life_days: float) -> ir.FloatingValue:
    return ibis.literal(0.5).pow(t.days_before / half_life_days)


def same_touch(t: ir.Table) -> ir.FloatingValue:
    within = t.days_before * 86_400.0 <= SAME_TOUCH_MINUTES * 60.0
    return ibis.cases(((t.position == t.touches) & within, 1.0), else_=0.0)


def participation(t: ir.Table) -> ir.FloatingValue:
    return ibis.literal(1.0)


def touch_credits(
    touches: ir.Table, model: str, registry: Registry[AttributionModel] | None = None
) -> ir.Table:
    """Each touch with its share of its order (`credit`: summing to 1 per order, or 0 for an
    order the model does not credit; raw for a non-additive model), its `attributed_revenue`,
    and `unit`: the conversions its order stands for (1; a path's conversions for the touches
    of a path table)."""
    spec = get_model(model, registry)
    credited = credit_columns(touches, [spec]).rename(credit=f"credit_{spec.name}")
    return credited.mutate(attributed_revenue=credited.credit * credited.revenue)


class TouchView:
    """What a rule reads from a touch, as expressions over the journey touches: their columns
    (`days_before` the order among them, for rules that need times) and the journey length
    `touches`. Every rule is written over the same touches, so the engine evaluates all the
    per-order windows in one pass."""

    def __init__(self, touches: ir.Table) -> None:
        self._touches = touches
        self.touches = touches.position.max().over(_order_window())

    def __getattr__(self, name: str) -> ir.Value:
        return self._touches[name]


def credit_columns(touches: ir.Table, specs: Sequence[AttributionModel]) -> ir.Table:
    """Touches with `unit` (the conversions its order stands for) and a `credit_<model>` column
    per model, all computed in one pass over the data."""
    for spec in specs:
        if spec.weigh is None:
            raise ConfigError(f"{spec.name!r} is data-driven: it credits channels, not touches.")
        if spec.needs_times and "touch_at" not in touches.columns:
            raise ConfigError(
                f"{spec.name!r} needs the time of every touch; a path table has none. Use it on "
                "the warehouse's journeys, or choose a model that reads positions only."
            )
    if any(spec.needs_times for spec in specs):  # computed once, below the windows
        seconds = touches.order_at.epoch_seconds() - touches.touch_at.epoch_seconds()
        touches = touches.mutate(days_before=seconds.cast(dt.float64) / 86_400.0)
    view = TouchView(touches)
    unit = touches.conversions if "conversions" in touches.columns else ibis.literal(1.0)
    credits = {"unit": unit.cast(dt.float64)}
    for spec in specs:
        weight = spec.weigh(view).cast(dt.float64)  # type: ignore[arg-type, misc]
        if spec.normalised or not spec.additive:
            credits[f"credit_{spec.name}"] = weight
            continue
        total = weight.sum().over(_order_window())
        credits[f"credit_{spec.name}"] = (weight / total.nullif(0.0)).fill_null(0.0)
    return touches.mutate(**credits)
