"""Marketing mix model: adstock, saturation, the fit with bootstrap intervals, the optimiser.

`MixModel(channels, ...).fit(series)` on a weekly table gives the decomposition, ROI and marginal
ROI with intervals, response curves and diagnostics; `optimise_budget(model)` the allocation.
`engine="pymc"` (the [pymc] extra) gives the same tables from a pymc-marketing posterior; `ENGINES`
names the engines.
Formulas, choices and measured figures: docs/mmm.md.
"""

from omnimetrics.mmm.model import ENGINES, Draw, Engine, MixModel, ljung_box
from omnimetrics.mmm.optimise import BudgetPlan, optimise_budget
from omnimetrics.mmm.simulate import SimulatedMix, simulate_mix
from omnimetrics.mmm.transforms import (
    ADSTOCKS,
    SATURATIONS,
    Transform,
    delayed_adstock,
    geometric_adstock,
    hill,
    hill_derivative,
    logistic_saturation,
    weibull_adstock,
)

__all__ = [
    "ADSTOCKS",
    "ENGINES",
    "SATURATIONS",
    "BudgetPlan",
    "Draw",
    "Engine",
    "MixModel",
    "SimulatedMix",
    "Transform",
    "delayed_adstock",
    "geometric_adstock",
    "hill",
    "hill_derivative",
    "ljung_box",
    "logistic_saturation",
    "optimise_budget",
    "simulate_mix",
    "weibull_adstock",
]
