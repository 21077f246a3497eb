"""The budget optimiser: the allocation of a total budget across channels, within bounds, that
maximises the expected incremental sales of a fitted mix model, with the uplift's uncertainty.

Spend amounts are totals over a period like the modelled one; each channel keeps its weekly
pattern, scaled. The expected sales are the mean over the bootstrap fits (the model's point
value); the uplift's interval comes from the same fits, each judged at both allocations.

>>> from omnimetrics.mmm.model import MixModel
>>> from omnimetrics.mmm.simulate import simulate_mix
>>> world = simulate_mix(n_weeks=104, n_channels=2, seed=3)
>>> model = MixModel(world.channels, n_bootstrap=10).fit(world.series)
>>> plan = optimise_budget(model)
>>> list(plan.allocation.columns)[:4]
['channel', 'current_spend', 'lower_bound', 'upper_bound']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from omnimetrics.errors import ConfigError, did_you_mean
from omnimetrics.mmm.model import MixModel

GRID = 101  # points per channel on which each response is tabulated between its bounds


@dataclass(frozen=True)
class BudgetPlan:
    """The optimiser's answer.

    `allocation`: per channel current_spend, lower_bound, upper_bound, optimal_spend, change
    (share), current_sales and optimal_sales (incremental sales of the channel).
    `summary`: metric (budget, expected_sales_current, expected_sales_optimal, uplift,
    uplift_share, probability_of_uplift), value, lower, upper.
    """

    allocation: pd.DataFrame
    summary: pd.DataFrame


def _bounds(
    model: MixModel,
    current: np.ndarray,
    max_change: float,
    bounds: Mapping[str, tuple[float, float]],
) -> tuple[np.ndarray, np.ndarray]:
    if max_change < 0:
        raise ConfigError(f"The 'max_change' parameter must be >= 0. Got {max_change} instead.")
    lower, upper = current * max(0.0, 1 - max_change), current * (1 + max_change)
    for channel, (low, high) in bounds.items():
        if channel not in model.channels:
            raise ConfigError(
                f"Unknown channel {channel!r} in bounds. " + did_you_mean(channel, model.channels)
            )
        if not 0 <= low <= high:
            raise ConfigError(
                f"Bounds for {channel!r} must satisfy 0 <= lower <= upper; got ({low}, {high})."
            )
        j = model.channels.index(channel)
        lower[j], upper[j] = low, high
    return lower, upper


def optimise_budget(
    model: MixModel,
    total_budget: float | None = None,
    max_change: float = 0.3,
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> BudgetPlan:
    """The allocation of `total_budget` (default: the current total spend) that maximises expected
    incremental sales, each channel within `max_change` of its current spend (default +/-30%) or
    within its explicit `bounds` (spend totals)."""
    model.check_fitted()
    current = model.spend_.sum(axis=0)
    budget = float(current.sum() if total_budget is None else total_budget)
    lower, upper = _bounds(model, current, max_change, bounds or {})
    if not lower.sum() - 1e-9 * budget <= budget <= upper.sum() + 1e-9 * budget:
        raise ConfigError(
            f"A total budget of {budget:,.0f} cannot be spent within the channel bounds, which "
            f"allow {lower.sum():,.0f} to {upper.sum():,.0f}: change the budget, max_change or "
            "bounds."
        )

    fits = model.draws_ or [model.fit_]
    n_channels = len(model.channels)
    # each channel's response, tabulated between its bounds, per bootstrap fit
    grids = np.linspace(lower, upper, GRID)  # (GRID, channels) spend totals
    multiples = grids / current
    responses = np.stack(
        [model._response(fit, multiples) for fit in fits]
    )  # (fits, GRID, channels)
    expected = responses.mean(axis=0)

    def value(spend: np.ndarray) -> float:
        return float(
            sum(np.interp(spend[j], grids[:, j], expected[:, j]) for j in range(n_channels))
        )

    def gradient(spend: np.ndarray) -> np.ndarray:
        slopes = np.gradient(expected, axis=0) / np.maximum(np.gradient(grids, axis=0), 1e-12)
        return np.array([np.interp(spend[j], grids[:, j], slopes[:, j]) for j in range(n_channels)])

    start = np.clip(current * budget / current.sum(), lower, upper)
    start = _rebalance(start, lower, upper, budget)
    scale = budget / n_channels
    result = minimize(
        lambda x: -value(x * scale) / max(abs(value(start)), 1.0),
        start / scale,
        jac=lambda x: -gradient(x * scale) * scale / max(abs(value(start)), 1.0),
        method="SLSQP",
        bounds=list(zip(lower / scale, upper / scale, strict=True)),
        constraints=[{"type": "eq", "fun": lambda x: x.sum() * scale / budget - 1.0}],
        options={"maxiter": 500, "ftol": 1e-12},
    )
    optimal = _rebalance(np.clip(result.x * scale, lower, upper), lower, upper, budget)
    if value(optimal) < value(start):  # never return a plan worse than where it started
        optimal = start

    def sales_at(spend: np.ndarray) -> np.ndarray:
        """Incremental sales per fit and channel at a spend vector (exact, not tabulated)."""
        return np.stack([model._contributions(fit, spend / current).sum(axis=0) for fit in fits])

    now, best = sales_at(current), sales_at(optimal)
    uplift = best.sum(axis=1) - now.sum(axis=1)
    tail = (1 - model.interval) / 2 * 100

    def row(metric: str, values: np.ndarray) -> tuple[str, float, float, float]:
        if len(fits) < 2:
            return metric, float(values.mean()), np.nan, np.nan
        low, high = np.percentile(values, [tail, 100 - tail])
        return metric, float(values.mean()), float(low), float(high)

    base_total = np.array([model._base_parts(fit).sum() for fit in fits])
    summary = pd.DataFrame(
        [
            ("budget", budget, np.nan, np.nan),
            row("expected_sales_current", base_total + now.sum(axis=1)),
            row("expected_sales_optimal", base_total + best.sum(axis=1)),
            row("uplift", uplift),
            row("uplift_share", uplift / (base_total + now.sum(axis=1))),
            ("probability_of_uplift", float(np.mean(uplift > 0)), np.nan, np.nan),
        ],
        columns=["metric", "value", "lower", "upper"],
    )
    allocation = pd.DataFrame(
        {
            "channel": model.channels,
            "current_spend": current,
            "lower_bound": lower,
            "upper_bound": upper,
            "optimal_spend": optimal,
            "change": optimal / current - 1,
            "current_sales": now.mean(axis=0),
            "optimal_sales": best.mean(axis=0),
        }
    )
    return BudgetPlan(allocation=allocation, summary=summary)


def _rebalance(
    spend: np.ndarray, lower: np.ndarray, upper: np.ndarray, budget: float
) -> np.ndarray:
    """Move spend within the bounds, in proportion to the room left, until it totals `budget`."""
    spend = spend.copy()
    for _ in range(len(spend) + 1):
        gap = budget - spend.sum()
        if abs(gap) <= 1e-9 * max(budget, 1.0):
            break
        room = (upper - spend) if gap > 0 else (spend - lower)
        if room.sum() <= 0:
            break
        spend += np.sign(gap) * room * min(1.0, abs(gap) / room.sum())
    return np.clip(spend, lower, upper)


PLAN_COLUMNS = [
    "plan", "spend", "incremental_sales", "incremental_lower", "incremental_upper", "roi",
    "roi_lower", "roi_upper", "roi_against_omnichannel", "probability_omnichannel_better",
    "largest_spend_multiple",
]  # fmt: skip
"""The columns of `compare_plans`, one row per plan."""

EXTRAPOLATION = 2.0
"""A plan that puts a channel beyond this multiple of its modelled spend reads the response curve
where the data never went (`largest_spend_multiple`; the Workspace's result says so)."""


def compare_plans(model: MixModel, plans: Mapping[str, Mapping[str, float]] | None = None,
                  ) -> pd.DataFrame:  # fmt: skip
    """The ROI of the omnichannel plan (the modelled spend of every channel) against
    single-channel plans: the same total budget spent on one channel alone (its weekly pattern
    scaled, the others off), and any further `plans` (name -> spend total per channel; channels
    not named are off).

    Per plan: its spend, the incremental sales over the modelled period (mean over the bootstrap
    fits, with the model's interval), ROI = incremental sales / spend with its interval, its ROI
    as a multiple of the omnichannel plan's, the share of fits in which the omnichannel plan
    sells more, and the largest multiple of a channel's modelled spend the plan needs (above
    `EXTRAPOLATION` the curve is read beyond the data).
    """
    model.check_fitted()
    current = model.spend_.sum(axis=0)
    total = float(current.sum())
    named: dict[str, np.ndarray] = {"omnichannel": np.ones(len(current))}
    for j, channel in enumerate(model.channels):
        only = np.zeros(len(current))
        only[j] = total / current[j] if current[j] > 0 else 0.0
        named[f"{channel} only"] = only
    for name, spend in (plans or {}).items():
        if name in named:
            raise ConfigError(f"A plan may not be called {name!r}: the comparison has one.")
        zero = dict.fromkeys(model.channels, 0.0)
        named[name] = model.multiples({**zero, **spend})
    draws = model.draws_ or [model.fit_]
    sales = {name: np.array([model._one_plan(d, m)[:-1].sum() for d in draws])
             for name, m in named.items()}  # fmt: skip
    omni = sales["omnichannel"]
    rows = []
    for name, m in named.items():
        spend = float((current * m).sum())
        # the model's own summary of a statistic over its draws: point and interval
        point, low, high = (float(v[0]) for v in model._summary(
            lambda d, m=m: np.array([model._one_plan(d, m)[:-1].sum()])))  # fmt: skip
        roi, roi_low, roi_high = (v / spend if spend > 0 else np.nan for v in (point, low, high))
        rows.append({
            "plan": name, "spend": spend, "incremental_sales": point,
            "incremental_lower": low, "incremental_upper": high, "roi": roi,
            "roi_lower": roi_low, "roi_upper": roi_high,
            "roi_against_omnichannel": roi / (omni.mean() / total) if omni.mean() > 0 else np.nan,
            "probability_omnichannel_better": float(np.mean(omni > sales[name]))
            if name != "omnichannel" and len(draws) > 1 else np.nan,
            "largest_spend_multiple": float(m.max()),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)
