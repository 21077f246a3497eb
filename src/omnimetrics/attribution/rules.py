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

from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.attribution.registry import MODELS, AttributionModel, get_model, register
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


@register("first_touch", "All credit to the first touch of the journey.", normalised=True)
def first_touch(t: ir.Table) -> ir.FloatingValue:
    return ibis.cases((t.position == 1, 1.0), else_=0.0)


@register("last_touch", "All credit to the last touch before the order.", normalised=True)
def last_touch(t: ir.Table) -> ir.FloatingValue:
    return ibis.cases((t.position == t.touches, 1.0), else_=0.0)


@register("last_non_direct", "All credit to the last touch that is not direct (else the last).",
          normalised=True)  # fmt: skip
def last_non_direct(t: ir.Table) -> ir.FloatingValue:
    last_other = ibis.cases((t.channel != DIRECT, t.position), else_=ibis.null(dt.int64))
    chosen = ibis.coalesce(last_other.max().over(_order_window()), t.touches)
    return ibis.cases((t.position == chosen, 1.0), else_=0.0)


@register("linear", "Equal credit to every touch.", normalised=True)
def linear(t: ir.Table) -> ir.FloatingValue:
    return ibis.literal(1.0) / t.touches.cast(dt.float64)


@register("position_based", "U-shaped: 40% first, 40% last, 20% shared by the middle touches.",
          normalised=True)  # fmt: skip
def position_based(t: ir.Table) -> ir.FloatingValue:
    return _position_weights(t, 0.4, 0.4)


@register("j_shaped", "20% first, 60% last, 20% shared by the middle touches.", normalised=True)
def j_shaped(t: ir.Table) -> ir.FloatingValue:
    return _position_weights(t, 0.2, 0.6)


@register("inverse_j", "60% first, 20% last, 20% shared by the middle touches.", normalised=True)
def inverse_j(t: ir.Table) -> ir.FloatingValue:
    return _position_weights(t, 0.6, 0.2)


@register("time_decay", "Weight halves every 7 days before the order.", needs_times=True)
def time_decay(t: ir.Table) -> ir.FloatingValue:
    return _decay(t, 7.0)


def _decay(t: ir.Table, half_life_days: float) -> ir.FloatingValue:
    return ibis.literal(0.5).pow(t.days_before / half_life_days)


@register("same_touch", "All credit to the touch of the session in which the order was placed "
          "(the last touch, if it is at most 30 minutes before the order).", needs_times=True,
          abstains=True, normalised=True)  # fmt: skip
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


KINDS = ("position_based", "time_decay")
"""Kinds of rule a user can declare with their own parameters (`define_model`)."""
_USER: set[str] = set()


def define_model(name: str, kind: str, **parameters: float) -> AttributionModel:
    """Declare a rule model with its own parameters, e.g. ("u_30_50", "position_based",
    first=0.3, last=0.5) or ("decay_3d", "time_decay", half_life_days=3); from Python or from
    omnimetrics.toml ([[attribution.models]] name, kind, ...). Redefining a user model replaces
    it; a built-in name is refused."""
    if name in MODELS and name not in _USER:
        raise ConfigError(f"{name!r} is a built-in attribution model; give yours another name.")
    if kind not in KINDS:
        raise ConfigError(f"Unknown kind of attribution model {kind!r}; choose from {list(KINDS)}.")
    wanted = {"position_based": {"first", "last"}, "time_decay": {"half_life_days"}}[kind]
    if set(parameters) != wanted:
        raise ConfigError(
            f"A {kind} model takes {sorted(wanted)}; {name!r} has {sorted(parameters)}."
        )
    values = {key: float(value) for key, value in parameters.items()}
    if kind == "position_based":
        first, last = values["first"], values["last"]
        if not (0 <= first <= 1 and 0 <= last <= 1 and first + last <= 1 and first + last > 0):
            raise ConfigError(
                f"The first and last shares of {name!r} must be in [0, 1] with 0 < first + last "
                f"<= 1 (the middle touches share the rest); got first={first}, last={last}."
            )
        doc = f"{first:.0%} first, {last:.0%} last, {1 - first - last:.0%} shared by the middle."
        model = AttributionModel(name, doc, weigh=lambda t: _position_weights(t, first, last),
                                 normalised=True)  # fmt: skip
    else:
        half_life = values["half_life_days"]
        if not half_life > 0:
            raise ConfigError(f"The half-life of {name!r} must be > 0 days; got {half_life}.")
        doc = f"Weight halves every {half_life:g} days before the order."
        model = AttributionModel(name, doc, weigh=lambda t: _decay(t, half_life), needs_times=True)
    MODELS[name] = model
    _USER.add(name)
    return model


def define_models(declared: Sequence[Mapping[str, Any]]) -> None:
    """Declare the models of omnimetrics.toml ([[attribution.models]])."""
    for entry in declared:
        fields = dict(entry)
        if "name" not in fields or "kind" not in fields:
            raise ConfigError(f"[[attribution.models]] needs a name and a kind; got {fields}.")
        define_model(str(fields.pop("name")), str(fields.pop("kind")), **fields)
