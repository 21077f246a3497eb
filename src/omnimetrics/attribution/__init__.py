"""Attribution: which channels and campaigns earned each sale.

Every model is a named entry of one registry (`MODELS`, or `models_for(...)` with a project's
own): rule-based models are engine expressions over journey touches; data-driven ones (Markov,
Shapley) learn from the distinct paths of converting and non-converting journeys, aggregated by
the engine. Names are imported when first used, so attributing a path table file with Markov
loads numpy and Arrow, not the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omnimetrics.attribution.aggregate import (
        journey_paths,
        journey_rows,
        month_paths,
        paths_of_months,
        relabelled,
        summed_paths,
    )
    from omnimetrics.attribution.compare import (
        ModelComparison,
        compare_models,
        cross_channel_influence,
        influence_summary,
        journey_roles,
    )
    from omnimetrics.attribution.credit import attribute, select_orders
    from omnimetrics.attribution.learned import NO_TOUCH, Learner
    from omnimetrics.attribution.markov import MarkovAttribution
    from omnimetrics.attribution.paths import PathTable, read_paths
    from omnimetrics.attribution.registry import (
        MODELS,
        AttributionModel,
        define_model,
        get_model,
        models_for,
    )
    from omnimetrics.attribution.report import (
        AttributionReport,
        InfluenceReport,
        attribution_report,
        influence_report,
        path_file_report,
        path_table_report,
        paths_report,
    )
    from omnimetrics.attribution.shapley import ShapleyAttribution
    from omnimetrics.attribution.spend import spend_by, with_spend
    from omnimetrics.attribution.transforms import TRANSFORMS, transform_paths, transform_touches

_LAZY = {
    "MODELS": "registry",
    "NO_TOUCH": "learned",
    "TRANSFORMS": "transforms",
    "AttributionModel": "registry",
    "AttributionReport": "report",
    "InfluenceReport": "report",
    "Learner": "learned",
    "MarkovAttribution": "markov",
    "ModelComparison": "compare",
    "PathTable": "paths",
    "ShapleyAttribution": "shapley",
    "attribute": "credit",
    "attribution_report": "report",
    "compare_models": "compare",
    "cross_channel_influence": "compare",
    "define_model": "registry",
    "get_model": "registry",
    "influence_report": "report",
    "influence_summary": "compare",
    "journey_paths": "aggregate",
    "journey_rows": "aggregate",
    "journey_roles": "compare",
    "models_for": "registry",
    "month_paths": "aggregate",
    "path_file_report": "report",
    "path_table_report": "report",
    "paths_of_months": "aggregate",
    "paths_report": "report",
    "read_paths": "paths",
    "relabelled": "aggregate",
    "select_orders": "credit",
    "spend_by": "spend",
    "summed_paths": "aggregate",
    "transform_paths": "transforms",
    "transform_touches": "transforms",
    "with_spend": "spend",
}

__all__ = [
    "MODELS",
    "NO_TOUCH",
    "TRANSFORMS",
    "AttributionModel",
    "AttributionReport",
    "InfluenceReport",
    "Learner",
    "MarkovAttribution",
    "ModelComparison",
    "PathTable",
    "ShapleyAttribution",
    "attribute",
    "attribution_report",
    "compare_models",
    "cross_channel_influence",
    "define_model",
    "get_model",
    "influence_report",
    "influence_summary",
    "journey_paths",
    "journey_roles",
    "journey_rows",
    "models_for",
    "month_paths",
    "path_file_report",
    "path_table_report",
    "paths_of_months",
    "paths_report",
    "read_paths",
    "relabelled",
    "select_orders",
    "spend_by",
    "summed_paths",
    "transform_paths",
    "transform_touches",
    "with_spend",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'omnimetrics.attribution' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"omnimetrics.attribution.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
