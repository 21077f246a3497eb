"""Omnichannel maturity: how much of the company's data is joined, from the data itself and a
questionnaire; whether the data can support each model; and the business case of a change.

- `indicators`: the readings of the data, each declared once in a registry;
- `questionnaire`: what the data cannot tell, answered 0-4;
- `scale`: scores, levels and dimension weights; `report`: the assessment and its progress;
- `support`: whether the data can support each model; `projection`: the business case.

Formulas, thresholds and level names: docs/maturity.md.
"""

from omnimetrics.metrics.maturity.indicators import (
    INDICATOR_COLUMNS,
    INDICATORS,
    Advice,
    Indicator,
    Reader,
    Reading,
    Unit,
    indicator,
    maturity_indicators,
)
from omnimetrics.metrics.maturity.projection import CASE_KPIS, CASE_TARGETS, business_case
from omnimetrics.metrics.maturity.questionnaire import (
    ALLOWED_ANSWERS,
    ANSWER_WORDS,
    QUESTIONS,
    Question,
    load_answers,
    questionnaire_template,
    validate_answers,
)
from omnimetrics.metrics.maturity.report import MaturityReport, assess, compare
from omnimetrics.metrics.maturity.scale import (
    DIMENSION_WEIGHTS,
    LEVEL_CUTOFFS,
    LEVELS,
    indicator_score,
    level_of,
)
from omnimetrics.metrics.maturity.source import DERIVED_TABLES, Period
from omnimetrics.metrics.maturity.support import (
    SUPPORT_CHECKS,
    Support,
    SupportCheck,
    SupportRun,
    model_support,
    support_check,
)

__all__ = [
    "ALLOWED_ANSWERS",
    "ANSWER_WORDS",
    "CASE_KPIS",
    "CASE_TARGETS",
    "DERIVED_TABLES",
    "DIMENSION_WEIGHTS",
    "INDICATORS",
    "INDICATOR_COLUMNS",
    "LEVELS",
    "LEVEL_CUTOFFS",
    "QUESTIONS",
    "SUPPORT_CHECKS",
    "Advice",
    "Indicator",
    "MaturityReport",
    "Period",
    "Question",
    "Reader",
    "Reading",
    "Support",
    "SupportCheck",
    "SupportRun",
    "Unit",
    "assess",
    "business_case",
    "compare",
    "indicator",
    "indicator_score",
    "level_of",
    "load_answers",
    "maturity_indicators",
    "model_support",
    "questionnaire_template",
    "support_check",
    "validate_answers",
]
