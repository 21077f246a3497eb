"""SMART goals on KPIs: baseline, target, progress, projection at the deadline and its odds.

A goal is SMART by construction (docs/goals-and-forecasts.md):

- Specific: one KPI (`kpi`), optionally on one `channel` or one `segment` ("rfm_segment=champions").
- Measurable: an absolute `target`, or a `target_change` relative to a baseline measured on the
  same KPI series (by default the same number of periods just before `start`); `progress` is
  (current - baseline) / (target - baseline).
- Achievable: the trend's projection at the deadline, its prediction interval and the
  probability of meeting the target (Student t predictive distribution); below 1 in 2 the goal
  is "at_risk".
- Relevant: the user's choice of KPI, channel and segment; the code names them on every row so
  the goal can be read next to the strategy it serves.
- Time-bound: `start` and `deadline`; `days_left`, and "missed" once the deadline has passed.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from omnimetrics.errors import ConfigError
from omnimetrics.metrics.goal_definition import GOAL_EXAMPLE, GOAL_FIELDS, Goal, goals_from_config
from omnimetrics.metrics.goal_progress import STATUSES, GoalStatus, goal_status, probability_beyond
from omnimetrics.metrics.kpi_catalogue import get_kpi
from omnimetrics.metrics.kpis import kpi_series

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

__all__ = ["GOAL_EXAMPLE", "GOAL_FIELDS", "STATUSES", "Goal", "GoalStatus", "evaluate_goals",
           "goal_status", "goals_from_config", "probability_beyond"]  # fmt: skip


def evaluate_goals(
    wh: Warehouse, *, grain: str = "month", today: date | None = None
) -> list[GoalStatus]:
    """Every goal of the warehouse's settings (`[[goals]]`) measured on its KPI series (per
    `grain`, for its channel or segment) as of `today` (default: the current day)."""
    declared = goals_from_config(wh.settings.goals)
    if not declared:
        raise ConfigError(
            "No goals declared: add [[goals]] entries to omnimetrics.toml (see "
            "docs/goals-and-forecasts.md), e.g.\n" + GOAL_EXAMPLE
        )
    today = today or date.today()
    statuses = []
    for goal in declared:
        series = kpi_series(wh, goal.kpi, grain=grain, where=goal.where)
        kpi = get_kpi(goal.kpi)
        statuses.append(goal_status(goal, series, higher_is_better=kpi.higher_is_better,
                                    today=today, bounds=kpi.bounds))  # fmt: skip
    return statuses
