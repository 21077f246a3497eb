"""Attribution: which channels and campaigns earned each sale.

Every model is a named entry of one registry (`MODELS`): rule-based models are engine
expressions over journey touches; data-driven ones (Markov, Shapley) learn from the distinct paths
of converting and non-converting journeys, aggregated by the engine.
"""

from omnimetrics.attribution import rules, markov, shapley  # noqa: F401, I001 - registration order
from omnimetrics.attribution.compare import (
    compare_models,
    cross_channel_influence,
    influence_summary,
    journey_roles,
)
from omnimetrics.attribution.credit import NO_TOUCH, attribute, select_orders
from omnimetrics.attribution.markov import MarkovAttribution
from omnimetrics.attribution.paths import PathTable, journey_paths, read_paths
from omnimetrics.attribution.registry import MODELS, AttributionModel, get_model, register
from omnimetrics.attribution.rules import define_model, define_models
from omnimetrics.attribution.shapley import ShapleyAttribution
from omnimetrics.attribution.spend import spend_by, with_spend
from omnimetrics.attribution.transforms import TRANSFORMS, transform_paths, transform_touches

__all__ = [
    "MODELS",
    "NO_TOUCH",
    "TRANSFORMS",
    "AttributionModel",
    "MarkovAttribution",
    "PathTable",
    "ShapleyAttribution",
    "attribute",
    "compare_models",
    "cross_channel_influence",
    "define_model",
    "define_models",
    "get_model",
    "influence_summary",
    "journey_paths",
    "journey_roles",
    "read_paths",
    "register",
    "select_orders",
    "spend_by",
    "transform_paths",
    "transform_touches",
    "with_spend",
]
