"""One registry of attribution models: declared once, looked up by name everywhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import ibis.expr.types as ir

from omnimetrics.errors import ConfigError, UnknownNameError, did_you_mean

if TYPE_CHECKING:
    from omnimetrics.attribution.paths import PathTable

Weigher = Callable[[ir.Table], ir.FloatingValue]
"""Given journey touches with `position`, `touches` (journey length), `days_before` and `channel`,
the raw weight of each touch; weights are normalised to sum to 1 per order."""


class Learner(Protocol):
    """A data-driven model: learns credits from a path table (scikit-learn style)."""

    def fit(self, paths: PathTable) -> Learner: ...

    def credits(self) -> dict[str, float]: ...


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
    abstains: bool = False
    """True when an order may get no credit at all (reported as no attributable touch)."""
    normalised: bool = False
    """True when the weights of a journey (positions 1..n) sum to 1 (or 0) by construction, so
    the engine needs no per-order sum to normalise them."""

    @property
    def data_driven(self) -> bool:
        return self.learner is not None


MODELS: dict[str, AttributionModel] = {}


def _add(model: AttributionModel) -> None:
    if model.name in MODELS:
        raise ConfigError(f"Attribution model {model.name!r} is declared twice.")
    MODELS[model.name] = model


def register(name: str, doc: str, **flags: bool) -> Callable[[Weigher], Weigher]:
    """Declare a rule-based model under a unique name."""

    def add(weigh: Weigher) -> Weigher:
        _add(AttributionModel(name, doc, weigh=weigh, **flags))
        return weigh

    return add


def register_data_driven(name: str, doc: str, learner: Callable[[], Learner]) -> None:
    """Declare a model fitted on converting and non-converting journeys together."""
    _add(AttributionModel(name, doc, learner=learner))


def get_model(name: str) -> AttributionModel:
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownNameError(
            f"Unknown attribution model {name!r}. " + did_you_mean(name, MODELS)
        ) from None
