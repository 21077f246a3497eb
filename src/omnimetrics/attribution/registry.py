"""One registry of attribution models: declared once, looked up by name everywhere.

`MODELS` holds the built-in models. Their formulas are named (`Formula`) and imported on first use,
so declaring them loads no engine: a path table attributed with Markov never imports Ibis. A
project's own models ([[attribution.models]] in omnimetrics.toml) go into a new registry with the
built-ins (`models_for`); nothing changes the built-in registry at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from omnimetrics.errors import ConfigError
from omnimetrics.registry import Registry

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from omnimetrics.attribution.learned import Learner

Weigher = Callable[["ir.Table"], "ir.FloatingValue"]
"""Given journey touches with `position`, `touches` (journey length), `days_before` and `channel`,
the raw weight of each touch; weights are normalised to sum to 1 per order."""


@dataclass(frozen=True)
class Formula:
    """`omnimetrics.attribution.<module>.<name>(*given, *args)`, imported when first called."""

    module: str
    name: str
    args: tuple[Any, ...] = ()

    def __call__(self, *given: Any) -> Any:
        function = getattr(import_module(f"omnimetrics.attribution.{self.module}"), self.name)
        return function(*given, *self.args)


@dataclass(frozen=True)
class AttributionModel:
    """A named model: rule-based models weigh each touch in the engine; data-driven ones
    (`learner`) are fitted on the distinct paths of converting and non-converting journeys."""

    name: str
    doc: str
    weigh: Weigher | None = None
    learner: Callable[[], Learner] | None = None
    additive: bool = True
    """False when credits do not sum to the conversions (participation)."""
    needs_times: bool = False
    """True when the model reads touch times (a path table has none)."""
    needs_channel: bool = False
    """True when the model reads each touch's channel, whatever it credits (a path table of
    campaigns has none)."""
    abstains: bool = False
    """True when an order may get no credit at all (reported as no attributable touch)."""
    normalised: bool = False
    """True when the weights of a journey (positions 1..n) sum to 1 (or 0) by construction, so
    the engine needs no per-order sum to normalise them."""

    @property
    def data_driven(self) -> bool:
        return self.learner is not None

    def reads_paths(self, by: Sequence[str]) -> bool:
        """Whether the distinct paths labelled by `by` are all the model reads (no touch times;
        the channel when it needs it)."""
        return not self.needs_times and (not self.needs_channel or "channel" in by)


def _rule(name: str, doc: str, formula: Formula, **flags: bool) -> AttributionModel:
    return AttributionModel(name, doc, weigh=formula, **flags)


def _learned(name: str, doc: str, formula: Formula) -> AttributionModel:
    return AttributionModel(name, doc, learner=formula)


def _built_in() -> Registry[AttributionModel]:
    """The built-in models, in the order users see them (formulas in docs/attribution.md)."""
    position = "{:.0%} first, {:.0%} last, {:.0%} shared by the middle touches."
    declared = [
        _rule("first_touch", "All credit to the first touch of the journey.",
              Formula("rules", "first_touch"), normalised=True),
        _rule("last_touch", "All credit to the last touch before the order.",
              Formula("rules", "last_touch"), normalised=True),
        _rule("last_non_direct", "All credit to the last touch that is not direct (else the "
              "last).", Formula("rules", "last_non_direct"), normalised=True, needs_channel=True),
        _rule("linear", "Equal credit to every touch.", Formula("rules", "linear"),
              normalised=True),
        _rule("position_based", "U-shaped: " + position.format(0.4, 0.4, 0.2),
              Formula("rules", "position_weights", (0.4, 0.4)), normalised=True),
        _rule("j_shaped", position.format(0.2, 0.6, 0.2),
              Formula("rules", "position_weights", (0.2, 0.6)), normalised=True),
        _rule("inverse_j", position.format(0.6, 0.2, 0.2),
              Formula("rules", "position_weights", (0.6, 0.2)), normalised=True),
        _rule("time_decay", "Weight halves every 7 days before the order.",
              Formula("rules", "decay", (7.0,)), needs_times=True),
        _rule("same_touch", "All credit to the touch of the session in which the order was placed "
              "(the last touch, if it is at most 30 minutes before the order).",
              Formula("rules", "same_touch"), needs_times=True, abstains=True, normalised=True),
        _rule("participation", "Full credit to every channel present in the journey: credits do "
              "not sum to the conversions.", Formula("rules", "participation"), additive=False),
        *(_learned("markov" if order == 1 else f"markov_{order}",
                   f"Markov chain of order {order}: credit by removal effect.",
                   Formula("markov", "MarkovAttribution", (order,))) for order in (1, 2, 3, 4)),
        _learned("shapley", "Shapley value journey by journey: each converting journey split "
                 "among its own channels by the conversion rates of the channel sets within it.",
                 Formula("shapley", "ShapleyAttribution")),
        _learned("shapley_ordered", "Ordered Shapley journey by journey: sequences of first "
                 "touches; credit by channel and position.",
                 Formula("shapley", "ShapleyAttribution", (True,))),
    ]  # fmt: skip
    models = Registry[AttributionModel]("attribution model")
    for model in declared:
        models.add(model.name, model)
    return models


MODELS: Registry[AttributionModel] = _built_in()
"""The built-in models. Add a project's own with `models_for`, which leaves this one unchanged."""


def get_model(name: str, registry: Registry[AttributionModel] | None = None) -> AttributionModel:
    """The model called `name`, among the built-ins unless `registry` is given."""
    return (MODELS if registry is None else registry)[name]


KINDS = {"position_based": ("first", "last"), "time_decay": ("half_life_days",)}
"""Kinds of rule a user can declare with their own parameters (`define_model`)."""


def define_model(name: str, kind: str, **parameters: float) -> AttributionModel:
    """A rule model with its own parameters, e.g. ("u_30_50", "position_based", first=0.3,
    last=0.5) or ("decay_3d", "time_decay", half_life_days=3). Built-in names are refused."""
    if name in MODELS:
        raise ConfigError(f"{name!r} is a built-in attribution model; give yours another name.")
    if kind not in KINDS:
        raise ConfigError(f"Unknown kind of attribution model {kind!r}; choose from {list(KINDS)}.")
    wanted = set(KINDS[kind])
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
        weigh = Formula("rules", "position_weights", (first, last))
        return AttributionModel(name, doc, weigh=weigh, normalised=True)
    half_life = values["half_life_days"]
    if not half_life > 0:
        raise ConfigError(f"The half-life of {name!r} must be > 0 days; got {half_life}.")
    doc = f"Weight halves every {half_life:g} days before the order."
    return AttributionModel(name, doc, weigh=Formula("rules", "decay", (half_life,)),
                            needs_times=True)  # fmt: skip


def models_for(declared: Sequence[Mapping[str, Any]] = ()) -> Registry[AttributionModel]:
    """The built-in models plus a project's own ([[attribution.models]]: name, kind, parameters),
    as a new registry; the built-in registry is left unchanged."""
    own: dict[str, AttributionModel] = {}
    for entry in declared:
        fields = dict(entry)
        if "name" not in fields or "kind" not in fields:
            raise ConfigError(f"[[attribution.models]] needs a name and a kind; got {fields}.")
        name = str(fields.pop("name"))
        if name in own:
            raise ConfigError(
                f"Attribution model {name!r} is declared twice in [[attribution.models]]."
            )
        own[name] = define_model(name, str(fields.pop("kind")), **fields)
    return MODELS.extended(own)
