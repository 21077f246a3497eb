"""Attribution: which channels and campaigns earned each sale.

Every model is a named entry of one registry (`MODELS`); rule-based models are written as engine
expressions over journey touches, so they run where the data is.
"""

from omnimetrics.attribution import markov  # noqa: F401 - registers the Markov model
from omnimetrics.attribution.registry import MODELS, AttributionModel, get_model, register
from omnimetrics.attribution.rules import attribute
from omnimetrics.attribution.transforms import TRANSFORMS, transform_touches

__all__ = [
    "MODELS",
    "TRANSFORMS",
    "AttributionModel",
    "attribute",
    "get_model",
    "register",
    "transform_touches",
]
