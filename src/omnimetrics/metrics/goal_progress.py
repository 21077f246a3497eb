"""Where a SMART goal stands on a day: baseline, target, current value, progress, projection
at the deadline and the odds of meeting it (Student t predictive distribution).

Formulas and decisions: docs/goals-and-forecasts.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from omnimetrics.errors import ConfigError
from omnimetrics.metrics.forecast import (
    LEVEL,
    Bounds,
    RegularSeries,
    _check_level,
    check_bounds,
    clip_to,
    range_note,
)
from omnimetrics.metrics.goal_definition import Goal

STATUSES = ("met", "missed", "on_track", "at_risk", "unknown")
"""met: the latest value is at or beyond the target; missed: the deadline passed without that;
on_track / at_risk: probability of meeting the target at least / below 0.5; unknown: the data
cannot tell (no target, no value, or too short a history to project)."""


@dataclass(frozen=True)
class GoalStatus:
    """Where a goal stands on `today`: baseline, target, current value, progress, projection."""

    goal: Goal
    status: str
    """One of STATUSES."""
    baseline: float
    target: float
    current: float
    """The latest complete period's value, up to the deadline's period."""
    current_period: date | None
    progress: float
    """(current - baseline) / (target - baseline): 0 at the baseline, 1 at the target."""
    projection: float
    """The trend's forecast for the deadline's period (its value once observed)."""
    projection_low: float
    projection_high: float
    probability: float
    """P(value at the deadline at or beyond the target), Student t predictive distribution."""
    days_left: int
    baseline_start: date | None
    baseline_end: date | None
    level: float
    note: str | None = None

    def to_row(self) -> dict[str, Any]:
        """One flat row for tables (CLI, report, HTTP API)."""
        goal = self.goal
        return {
            "goal": goal.name, "kpi": goal.kpi, "channel": goal.channel,
            "segment": goal.segment, "start": goal.start, "deadline": goal.deadline,
            "status": self.status, "baseline": self.baseline, "target": self.target,
            "current": self.current, "current_period": self.current_period,
            "progress": self.progress, "projection": self.projection,
            "projection_low": self.projection_low, "projection_high": self.projection_high,
            "probability": self.probability, "days_left": self.days_left, "note": self.note,
        }  # fmt: skip


def probability_beyond(
    expected: float, se: float, df: int, threshold: float, *, higher_is_better: bool
) -> float:
    """P(Y >= threshold) (or <= when lower is better) for Y = expected + se·T, T ~ t(df)."""
    if any(math.isnan(v) for v in (expected, se, threshold)) or df < 1:
        return math.nan
    if se == 0.0:
        beyond = expected >= threshold if higher_is_better else expected <= threshold
        return 1.0 if beyond else 0.0
    z = (threshold - expected) / se
    return float(stats.t.sf(z, df) if higher_is_better else stats.t.cdf(z, df))


def goal_status(
    goal: Goal,
    series: pd.Series,
    *,
    higher_is_better: bool,
    today: date,
    baseline: float | None = None,
    level: float = LEVEL,
    bounds: Bounds | None = None,
) -> GoalStatus:
    """Measure a goal on its KPI series (one value per period, full history) as of `today`.

    Only periods complete by `today` count (a period is complete once the next one has begun),
    so a half-finished month never looks like a drop. `bounds` (low, high) are the KPI's
    possible values (`KPI.bounds`): the projection and its interval stay inside them, and a
    target beyond them cannot be met.
    """
    today = _checked_arguments(goal, higher_is_better, today, baseline, level)
    bounds = check_bounds(bounds, "goal_status")
    better = bool(higher_is_better)
    regular = RegularSeries.from_series(series, caller="goal_status")
    days_left = max(0, (goal.deadline - today).days)
    if regular.grid is None or regular.positions is None:
        return _without_grid(goal, regular, baseline, days_left, float(level))
    periods = _GoalPeriods.on(goal, regular, today)
    notes: list[str] = []
    base_value, base_from, base_to = _baseline(goal, periods, baseline, notes)
    target = _target_value(goal, base_value)
    _check_direction(target, base_value, better, notes)
    current, current_position, current_period = _current(periods, today, notes)
    progress = _progress(current, base_value, target, notes)
    projection, low, high, probability = _projection(periods, target, better, level, notes)
    projection, low, high, probability = _within(
        bounds, target, better, (projection, low, high), probability, notes
    )
    status = _verdict(goal, today, current, target, probability, better)
    if status == "missed" and current_position is not None and current_position < periods.deadline:
        notes.append(
            f"The deadline's period ({periods.start(periods.deadline)}) has no complete "
            f"value yet; judged on {current_period}."
        )
    return GoalStatus(
        goal=goal, status=status, baseline=base_value, target=target, current=current,
        current_period=current_period, progress=progress, projection=projection,
        projection_low=low, projection_high=high, probability=probability, days_left=days_left,
        baseline_start=base_from, baseline_end=base_to, level=float(level),
        note=" ".join(notes) or None,
    )  # fmt: skip


def _checked_arguments(
    goal: Goal, higher_is_better: object, today: object, baseline: object, level: object
) -> date:
    """Refuse arguments of goal_status that are not what they should be; `today` as a date."""
    if not isinstance(goal, Goal):
        raise ConfigError(f"goal_status expects a Goal; got {type(goal).__name__}.")
    if not isinstance(higher_is_better, bool | np.bool_):
        raise ConfigError(
            "The 'higher_is_better' parameter of goal_status must be a bool. "
            f"Got {higher_is_better!r} instead."
        )
    if isinstance(today, datetime):
        today = today.date()
    if not isinstance(today, date):
        raise ConfigError(f"The 'today' parameter of goal_status must be a date. Got {today!r}.")
    if baseline is not None and (
        isinstance(baseline, bool) or not isinstance(baseline, Real) or not math.isfinite(baseline)
    ):
        raise ConfigError(
            f"The 'baseline' parameter of goal_status must be a finite number or None. "
            f"Got {baseline!r} instead."
        )
    _check_level(level, "goal_status")
    return today


def _without_grid(
    goal: Goal, regular: RegularSeries, baseline: float | None, days_left: int, level: float
) -> GoalStatus:
    """The status of a goal whose series has no period length: unknown, with why."""
    note = (
        f"The series has {len(regular.index)} period(s) and no frequency: its period "
        "length cannot be inferred."
    )
    base_value = math.nan if baseline is None else float(baseline)
    target = _target_value(goal, base_value)
    nan = math.nan
    return GoalStatus(
        goal, "unknown", base_value, target, nan, None, nan, nan, nan, nan, nan, days_left,
        goal.baseline_start, goal.baseline_end, level, note,
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class _GoalPeriods:
    """A goal laid on its series' period grid as of a day."""

    series: RegularSeries
    complete: np.ndarray
    """Mask of the periods complete by the day (a prefix: period ends grow with the period)."""
    first: int
    """Position of the start's period."""
    deadline: int
    """Position of the deadline's period."""

    @classmethod
    def on(cls, goal: Goal, series: RegularSeries, today: date) -> _GoalPeriods:
        grid, positions = series.grid, series.positions
        assert grid is not None and positions is not None
        ends = pd.DatetimeIndex([grid.start(k + 1) for k in positions], dtype="datetime64[ns]")
        complete = np.asarray(ends <= pd.Timestamp(today))
        first = grid.position(pd.Timestamp(goal.start))
        return cls(series, complete, first, grid.position(pd.Timestamp(goal.deadline)))

    @property
    def positions(self) -> np.ndarray:
        assert self.series.positions is not None
        return self.series.positions

    def start(self, position: int) -> date:
        """The first day of the period at `position`."""
        assert self.series.grid is not None
        return self.series.grid.start(position).date()


def _baseline(
    goal: Goal, periods: _GoalPeriods, given: float | None, notes: list[str]
) -> tuple[float, date, date]:
    """The baseline (given, or the mean of its window's complete values) and its window:
    explicit dates, or the same number of periods just before the start."""
    series, positions = periods.series, periods.positions
    if goal.baseline_start is not None and goal.baseline_end is not None:
        base_from, base_to = goal.baseline_start, goal.baseline_end
        days = series.naive.normalize()
        in_base = np.asarray((days >= pd.Timestamp(base_from)) & (days <= pd.Timestamp(base_to)))
    else:
        length = periods.deadline - periods.first + 1
        base_from = periods.start(periods.first - length)
        base_to = periods.start(periods.first) - timedelta(days=1)
        in_base = (positions >= periods.first - length) & (positions < periods.first)
    if given is not None:
        return float(given), base_from, base_to
    values = series.values[in_base & periods.complete & series.defined]
    if not values.size:
        notes.append(
            f"No value of the series in the baseline window {base_from}..{base_to}: pass "
            "baseline= or set baseline_start and baseline_end."
        )
        return math.nan, base_from, base_to
    return float(values.mean()), base_from, base_to


def _check_direction(target: float, base_value: float, better: bool, notes: list[str]) -> None:
    """Point out a target on the wrong side of the baseline for the KPI's direction."""
    comparable = not math.isnan(target) and not math.isnan(base_value) and target != base_value
    if comparable and (target > base_value) != better:
        way, wanted = ("below", "higher") if better else ("above", "lower")
        notes.append(
            f"The target ({target:g}) is {way} the baseline ({base_value:g}) although {wanted} "
            "is better for this KPI: check the sign of the target."
        )


def _current(
    periods: _GoalPeriods, today: date, notes: list[str]
) -> tuple[float, int | None, date | None]:
    """The latest complete, defined period up to the deadline's: value, position, start."""
    series = periods.series
    usable = periods.complete & series.defined & (periods.positions <= periods.deadline)
    rows = np.flatnonzero(usable)
    if not rows.size:
        notes.append(f"No complete period with a value up to {today}.")
        return math.nan, None, None
    last = rows[-1]
    return float(series.values[last]), int(periods.positions[last]), series.naive[last].date()


def _progress(current: float, base_value: float, target: float, notes: list[str]) -> float:
    """(current - baseline) / (target - baseline): 0 at the baseline, 1 at the target."""
    if math.isnan(current) or math.isnan(base_value) or math.isnan(target):
        return math.nan
    if target == base_value:
        notes.append("The target equals the baseline: progress is undefined.")
        return math.nan
    return (current - base_value) / (target - base_value)


def _projection(
    periods: _GoalPeriods, target: float, better: bool, level: float, notes: list[str]
) -> tuple[float, float, float, float]:
    """Projection, low, high and probability of meeting the target at the deadline's period:
    its forecast on the complete history, or its value once observed."""
    series, positions = periods.series, periods.positions
    history = periods.complete
    last_complete = int(positions[history][-1]) if history.any() else None
    if last_complete is not None and periods.deadline <= last_complete:
        at_deadline = np.flatnonzero((positions == periods.deadline) & series.defined)
        observed = float(series.values[at_deadline[0]]) if at_deadline.size else math.nan
        probability = probability_beyond(observed, 0.0, 1, target, higher_is_better=better)
        return observed, observed, observed, probability
    steps = periods.deadline - (last_complete if last_complete is not None else -1)
    projected = series.head(int(history.sum())).forecast(steps, level=level)
    row = projected.table.iloc[-1]
    projection = float(row["forecast"])
    probability = probability_beyond(
        projection, float(row["se"]), projected.df, target, higher_is_better=better
    )
    if projected.note is not None and math.isnan(projection):
        notes.append(f"The history is too short to project: {projected.note}")
    return projection, float(row["low"]), float(row["high"]), probability


def _within(
    bounds: Bounds | None,
    target: float,
    better: bool,
    projected: tuple[float, float, float],
    probability: float,
    notes: list[str],
) -> tuple[float, float, float, float]:
    """Projection, low and high clipped to the KPI's possible values; the probability of
    meeting the target read on that clipped (censored) distribution: the same inside the range,
    0 for a target beyond it, 1 for a target every possible value meets."""
    if bounds is None:
        return (*projected, probability)
    kept = tuple(float(clip_to(bounds, np.array(v))) for v in projected)
    if any(a != b for a, b in zip(kept, projected, strict=True) if not math.isnan(b)):
        notes.append(
            f"The trend leaves the KPI's possible range {range_note(bounds)}: the projection "
            "and its interval are clipped to it."
        )
    low, high = bounds
    if not math.isnan(target) and not math.isnan(probability):
        beyond = target > high if better else target < low
        always = target <= low if better else target >= high
        if beyond:
            notes.append(
                f"The target ({target:g}) is outside the KPI's possible range "
                f"{range_note(bounds)}: it cannot be met."
            )
            probability = 0.0
        elif always:
            probability = 1.0
    return (*kept, probability)  # type: ignore[return-value]


def _verdict(
    goal: Goal, today: date, current: float, target: float, probability: float, better: bool
) -> str:
    """One of STATUSES: met, missed (deadline passed), on_track / at_risk (odds), unknown."""
    if math.isnan(current) or math.isnan(target):
        return "unknown"
    if current >= target if better else current <= target:
        return "met"
    if today > goal.deadline:
        return "missed"
    if math.isnan(probability):
        return "unknown"
    return "on_track" if probability >= 0.5 else "at_risk"


def _target_value(goal: Goal, base_value: float) -> float:
    if goal.target is not None:
        return goal.target
    assert goal.target_change is not None
    return base_value * (1.0 + goal.target_change)
