"""One registry of attribution models: declared once, looked up by name everywhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis.expr.types as ir

from omnimetrics.errors import ConfigError, UnknownNameError, did_you_mean

Weigher = Callable[[ir.Table], ir.FloatingValue]
"""Given journey touches with `position`, `touches` (journey length), `days_before` and `channel`,
the raw weight of each touch; weights are normalised to sum to 1 per order."""


@dataclass(frozen=True)
class AttributionModel:
    name: str
    doc: str
    weigh: Weigher | None
    """Rule-based models weigh each touch; data-driven ones (None) learn from all journeys."""


MODELS: dict[str, AttributionModel] = {}


def register(name: str, doc: str) -> Callable[[Weigher], Weigher]:
    """Declare a model under a unique name."""

    def add(weigh: Weigher) -> Weigher:
        if name in MODELS:
            raise ConfigError(f"Attribution model {name!r} is declared twice.")
        MODELS[name] = AttributionModel(name, doc, weigh)
        return weigh

    return add


def register_data_driven(name: str, doc: str) -> None:
    """Declare a model fitted on converting and non-converting journeys together."""
    if name in MODELS:
        raise ConfigError(f"Attribution model {name!r} is declared twice.")
    MODELS[name] = AttributionModel(name, doc, None)


def get_model(name: str) -> AttributionModel:
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownNameError(
            f"Unknown attribution model {name!r}. " + did_you_mean(name, MODELS)
        ) from None
