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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from omnimetrics.errors import ConfigError, did_you_mean
from omnimetrics.metrics.forecast import LEVEL, RegularSeries, _check_level

STATUSES = ("met", "missed", "on_track", "at_risk", "unknown")
"""met: the latest value is at or beyond the target; missed: the deadline passed without that;
on_track / at_risk: probability of meeting the target at least / below 0.5; unknown: the data
cannot tell (no target, no value, or too short a history to project)."""

GOAL_FIELDS = (
    "name", "kpi", "start", "deadline", "target", "target_change", "baseline_start",
    "baseline_end", "channel", "segment",
)  # fmt: skip
REQUIRED_FIELDS = ("name", "kpi", "start", "deadline")

GOAL_EXAMPLE = """\
[[goals]]
name = "retention_h1"
kpi = "retention_rate"
target_change = 0.05      # +5 % on the baseline; or target = 0.42 (absolute)
start = 2025-01-01
deadline = 2025-06-30     # the last day that counts
segment = "rfm_segment=champions"   # optional; or channel = "email\""""


@dataclass(frozen=True)
class Goal:
    """A SMART goal: KPI (and channel or segment), target, baseline, start and deadline.

    Exactly one of `target` (absolute) or `target_change` (relative to the baseline: 0.05 is
    +5 %). Without `baseline_start`/`baseline_end` the baseline is the mean of the same number
    of periods just before `start`.
    """

    name: str
    kpi: str
    start: date
    deadline: date
    target: float | None = None
    target_change: float | None = None
    baseline_start: date | None = None
    baseline_end: date | None = None
    channel: str | None = None
    segment: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"A goal needs a non-empty name; got {self.name!r}.")
        where = f"Goal {self.name!r}"
        if not isinstance(self.kpi, str) or not self.kpi.strip():
            raise ConfigError(f"{where}: 'kpi' must name a KPI; got {self.kpi!r}.")
        for field in ("start", "deadline", "baseline_start", "baseline_end"):
            value = getattr(self, field)
            if value is None and field.startswith("baseline"):
                continue
            if isinstance(value, datetime) or not isinstance(value, date):
                raise ConfigError(f"{where}: '{field}' must be a date; got {value!r}.")
        if (self.target is None) == (self.target_change is None):
            given = "both" if self.target is not None else "neither"
            raise ConfigError(
                f"{where}: give exactly one of 'target' (absolute, e.g. target = 0.42) or "
                f"'target_change' (relative to the baseline, e.g. 0.05 for +5 %); got {given}."
            )
        for field in ("target", "target_change"):
            value = getattr(self, field)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
                hint = " (0.05 for +5 %)" if field == "target_change" else ""
                raise ConfigError(
                    f"{where}: '{field}' must be a finite number{hint}; got {value!r}."
                )
            object.__setattr__(self, field, float(value))
        if self.target_change is not None and (
            self.target_change == 0.0 or self.target_change <= -1.0
        ):
            raise ConfigError(
                f"{where}: 'target_change' must be a relative change other than 0 and above -1 "
                f"(0.05 for +5 %, -0.1 for -10 %); got {self.target_change!r}. For a target of "
                "zero or below, set an absolute 'target'."
            )
        if self.deadline <= self.start:
            raise ConfigError(
                f"{where}: the deadline ({self.deadline}) must come after the start ({self.start})."
            )
        if (self.baseline_start is None) != (self.baseline_end is None):
            raise ConfigError(
                f"{where}: give both 'baseline_start' and 'baseline_end', or neither (the "
                "baseline is then the same length of time just before the start)."
            )
        if self.baseline_start is not None and self.baseline_end is not None:
            if self.baseline_end < self.baseline_start:
                raise ConfigError(
                    f"{where}: baseline_end ({self.baseline_end}) is before baseline_start "
                    f"({self.baseline_start})."
                )
            if self.baseline_end >= self.start:
                raise ConfigError(
                    f"{where}: the baseline must end before the goal starts; baseline_end is "
                    f"{self.baseline_end}, start is {self.start}."
                )
        if self.channel is not None and (
            not isinstance(self.channel, str) or not self.channel.strip()
        ):
            raise ConfigError(f"{where}: 'channel' must be a channel name; got {self.channel!r}.")
        if self.segment is not None:
            parts = self.segment.split("=") if isinstance(self.segment, str) else []
            if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
                raise ConfigError(
                    f"{where}: 'segment' must read name=value, e.g. "
                    f'"rfm_segment=champions"; got {self.segment!r}.'
                )

    @property
    def segment_filter(self) -> tuple[str, str] | None:
        """The segment as (name, value), e.g. ("rfm_segment", "champions")."""
        if self.segment is None:
            return None
        name, value = self.segment.split("=")
        return name.strip(), value.strip()


def goals_from_config(entries: Sequence[Mapping[str, Any]]) -> list[Goal]:
    """Validate the `[[goals]]` entries of omnimetrics.toml (`Settings.goals`) into goals."""
    if isinstance(entries, str | bytes | Mapping) or not isinstance(entries, Sequence):
        raise ConfigError(
            f"[[goals]] must be an array of tables, one per goal:\n{GOAL_EXAMPLE}\n"
            f"Got {type(entries).__name__}."
        )
    goals: list[Goal] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"[[goals]] entry {number} must be a table of keys; got {entry!r}.")
        name = entry.get("name")
        where = f"Goal {name!r}" if isinstance(name, str) and name else f"[[goals]] entry {number}"
        for key in entry:
            if key not in GOAL_FIELDS:
                hint = did_you_mean(key, GOAL_FIELDS)
                raise ConfigError(f"{where}: unknown key {key!r}. {hint}")
        if "name" in entry and (not isinstance(name, str) or not name.strip()):
            raise ConfigError(f"{where}: 'name' must be a non-empty text; got {name!r}.")
        missing = [key for key in REQUIRED_FIELDS if key not in entry]
        if missing:
            raise ConfigError(
                f"{where}: missing {', '.join(repr(k) for k in missing)}. A goal reads:\n"
                f"{GOAL_EXAMPLE}"
            )
        if name in seen:
            raise ConfigError(f"{where}: the name is used by another goal; names must be unique.")
        dates = {
            key: _config_date(entry[key], key, where)
            for key in ("start", "deadline", "baseline_start", "baseline_end")
            if entry.get(key) is not None
        }
        for key in ("target", "target_change"):
            if isinstance(entry.get(key), str):
                hint = " (0.05 for +5 %)" if key == "target_change" else ""
                raise ConfigError(
                    f"{where}: '{key}' must be a number{hint}, not text; got {entry[key]!r}."
                )
        goals.append(
            Goal(
                name=entry["name"],
                kpi=entry["kpi"],
                start=dates["start"],
                deadline=dates["deadline"],
                target=entry.get("target"),
                target_change=entry.get("target_change"),
                baseline_start=dates.get("baseline_start"),
                baseline_end=dates.get("baseline_end"),
                channel=entry.get("channel"),
                segment=entry.get("segment"),
            )
        )
        seen.add(name)
    return goals


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
) -> GoalStatus:
    """Measure a goal on its KPI series (one value per period, full history) as of `today`.

    Only periods complete by `today` count (a period is complete once the next one has begun),
    so a half-finished month never looks like a drop.
    """
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
    regular = RegularSeries.from_series(series, caller="goal_status")
    days_left = max(0, (goal.deadline - today).days)
    notes: list[str] = []
    grid, positions = regular.grid, regular.positions
    if grid is None or positions is None:
        notes.append(
            f"The series has {len(regular.index)} period(s) and no frequency: its period "
            "length cannot be inferred."
        )
        base_value = math.nan if baseline is None else float(baseline)
        target = _target_value(goal, base_value)
        nan = math.nan
        return GoalStatus(
            goal, "unknown", base_value, target, nan, None, nan, nan, nan, nan, nan, days_left,
            goal.baseline_start, goal.baseline_end, float(level), " ".join(notes),
        )  # fmt: skip

    today_ts = pd.Timestamp(today)
    ends = pd.DatetimeIndex([grid.start(k + 1) for k in positions], dtype="datetime64[ns]")
    complete = np.asarray(ends <= today_ts)
    defined = regular.defined
    first_period = grid.position(pd.Timestamp(goal.start))
    deadline_period = grid.position(pd.Timestamp(goal.deadline))

    # Baseline: given, or the mean over its window (explicit dates or the same number of periods).
    if goal.baseline_start is not None and goal.baseline_end is not None:
        base_from, base_to = goal.baseline_start, goal.baseline_end
        days = regular.naive.normalize()
        in_base = np.asarray((days >= pd.Timestamp(base_from)) & (days <= pd.Timestamp(base_to)))
    else:
        length = deadline_period - first_period + 1
        base_from = grid.start(first_period - length).date()
        base_to = (grid.start(first_period) - timedelta(days=1)).date()
        in_base = (positions >= first_period - length) & (positions < first_period)
    if baseline is not None:
        base_value = float(baseline)
    else:
        base_values = regular.values[in_base & complete & defined]
        base_value = float(base_values.mean()) if base_values.size else math.nan
        if not base_values.size:
            notes.append(
                f"No value of the series in the baseline window {base_from}..{base_to}: pass "
                "baseline= or set baseline_start and baseline_end."
            )
    target = _target_value(goal, base_value)
    comparable = not math.isnan(target) and not math.isnan(base_value) and target != base_value
    if comparable and (target > base_value) != bool(higher_is_better):
        way, better = ("below", "higher") if higher_is_better else ("above", "lower")
        notes.append(
            f"The target ({target:g}) is {way} the baseline ({base_value:g}) although {better} "
            "is better for this KPI: check the sign of the target."
        )

    # Current: the latest complete, defined period up to the deadline's period.
    usable = np.flatnonzero(complete & defined & (positions <= deadline_period))
    if usable.size:
        current = float(regular.values[usable[-1]])
        current_position = int(positions[usable[-1]])
        current_period: date | None = regular.naive[usable[-1]].date()
    else:
        current, current_position, current_period = math.nan, None, None
        notes.append(f"No complete period with a value up to {today}.")

    if math.isnan(current) or math.isnan(base_value) or math.isnan(target):
        progress = math.nan
    elif target == base_value:
        progress = math.nan
        notes.append("The target equals the baseline: progress is undefined.")
    else:
        progress = (current - base_value) / (target - base_value)

    # Projection at the deadline's period: forecast it, or read it once observed.
    history = complete  # a prefix: period ends grow with the period
    last_complete = int(positions[history][-1]) if history.any() else None
    if last_complete is not None and deadline_period <= last_complete:
        at_deadline = np.flatnonzero((positions == deadline_period) & defined)
        observed = float(regular.values[at_deadline[0]]) if at_deadline.size else math.nan
        projection = low = high = observed
        probability = probability_beyond(
            observed, 0.0, 1, target, higher_is_better=bool(higher_is_better)
        )
    else:
        steps = deadline_period - (last_complete if last_complete is not None else -1)
        projected = regular.head(int(history.sum())).forecast(steps, level=level)
        row = projected.table.iloc[-1]
        projection, low, high = float(row["forecast"]), float(row["low"]), float(row["high"])
        probability = probability_beyond(
            projection, float(row["se"]), projected.df, target,
            higher_is_better=bool(higher_is_better),
        )  # fmt: skip
        if projected.note is not None and math.isnan(projection):
            notes.append(f"The history is too short to project: {projected.note}")

    reached = (
        not math.isnan(current)
        and not math.isnan(target)
        and (current >= target if higher_is_better else current <= target)
    )
    if reached:
        status = "met"
    elif math.isnan(current) or math.isnan(target):
        status = "unknown"
    elif today > goal.deadline:
        status = "missed"
        if current_position is not None and current_position < deadline_period:
            notes.append(
                f"The deadline's period ({grid.start(deadline_period).date()}) has no complete "
                f"value yet; judged on {current_period}."
            )
    elif math.isnan(probability):
        status = "unknown"
    else:
        status = "on_track" if probability >= 0.5 else "at_risk"
    return GoalStatus(
        goal=goal, status=status, baseline=base_value, target=target, current=current,
        current_period=current_period, progress=progress, projection=projection,
        projection_low=low, projection_high=high, probability=probability, days_left=days_left,
        baseline_start=base_from, baseline_end=base_to, level=float(level),
        note=" ".join(notes) or None,
    )  # fmt: skip


def _target_value(goal: Goal, base_value: float) -> float:
    if goal.target is not None:
        return goal.target
    assert goal.target_change is not None
    return base_value * (1.0 + goal.target_change)


def _config_date(value: Any, key: str, where: str) -> date:
    if isinstance(value, datetime):
        raise ConfigError(
            f"{where}: '{key}' must be a date such as 2025-01-01, not a date and time; "
            f"got {value!r}."
        )
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(
        f"{where}: '{key}' must be a date: a TOML date (start = 2025-01-01) or an ISO string "
        f'("2025-01-01"); got {value!r}.'
    )
