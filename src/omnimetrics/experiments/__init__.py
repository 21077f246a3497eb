"""Experiments: A/B and multivariate tests on sufficient statistics (numpy/scipy only).

`analyse(summary)` gives everything about one test; `plan(...)` sizes one. The summary table's
contract is in `summary.py`; formulas and their sources in docs/experiments.md.
"""

from omnimetrics.experiments.analysis import COLUMNS, ExperimentResult, analyse
from omnimetrics.experiments.factorial import factorial_effects
from omnimetrics.experiments.frequentist import SrmCheck, benjamini_hochberg, holm, srm_check
from omnimetrics.experiments.planning import (
    Plan,
    mde_means,
    mde_proportions,
    plan,
    power_means,
    power_proportions,
    sample_size_means,
    sample_size_proportions,
)
from omnimetrics.experiments.summary import (
    COVARIATE,
    METRIC_COLUMNS,
    ExperimentSummary,
    factorial_variant_names,
    pool_variants,
    summarise_units,
    validate_summary,
)

__all__ = [
    "COLUMNS",
    "COVARIATE",
    "METRIC_COLUMNS",
    "ExperimentResult",
    "ExperimentSummary",
    "Plan",
    "SrmCheck",
    "analyse",
    "benjamini_hochberg",
    "factorial_effects",
    "factorial_variant_names",
    "holm",
    "mde_means",
    "mde_proportions",
    "plan",
    "pool_variants",
    "power_means",
    "power_proportions",
    "sample_size_means",
    "sample_size_proportions",
    "srm_check",
    "summarise_units",
    "validate_summary",
]
