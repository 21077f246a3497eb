"""A SMART goal as declared: `Goal` and the `[[goals]]` entries of omnimetrics.toml.

What makes a goal SMART, and how it is measured: `goals` and docs/goals-and-forecasts.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from numbers import Real
from typing import Any

from omnimetrics.errors import ConfigError, did_you_mean

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
        self._check_dates(where)
        self._check_target(where)
        self._check_window(where)
        self._check_cut(where)

    def _check_dates(self, where: str) -> None:
        """Dates, not dates and times."""
        for field in ("start", "deadline", "baseline_start", "baseline_end"):
            value = getattr(self, field)
            if value is None and field.startswith("baseline"):
                continue
            if isinstance(value, datetime) or not isinstance(value, date):
                raise ConfigError(f"{where}: '{field}' must be a date; got {value!r}.")

    def _check_window(self, where: str) -> None:
        """A deadline after the start, a whole baseline window before it."""
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

    def _check_target(self, where: str) -> None:
        """Exactly one finite target, absolute or relative (stored as floats)."""
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

    def _check_cut(self, where: str) -> None:
        """A channel name, a segment as name=value."""
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

    @property
    def where(self) -> dict[str, str]:
        """The dimension values its KPI series is read for: {"rfm_segment": "champions",
        "channel": "email"}."""
        where = dict([self.segment_filter]) if self.segment_filter else {}
        if self.channel:
            where["channel"] = self.channel
        return where


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
