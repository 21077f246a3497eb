"""The calendar of a KPI series: period starts laid on a regular grid (day, week, month,
quarter, year or any fixed step), found from the index itself."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import tzinfo

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import (
    BaseOffset,
    DateOffset,
    Day,
    MonthBegin,
    MonthEnd,
    QuarterBegin,
    Week,
    YearBegin,
)

from omnimetrics.errors import ConfigError


@dataclass(frozen=True)
class PeriodGrid:
    """The regular calendar of a series: period k starts at origin + k·step (k may be < 0).

    Positions are computed from the origin each time (never by stepping repeatedly), so a
    "same day next month" step from the 31st stays on month ends where it can.
    """

    origin: pd.Timestamp
    """Start of period 0, as naive wall-clock time."""
    step: BaseOffset
    tz: tzinfo | None = None

    def start(self, k: int) -> pd.Timestamp:
        """Start of period k, naive wall-clock time."""
        return self.origin + self.step * int(k)

    def starts(self, ks: np.ndarray | range) -> pd.DatetimeIndex:
        """Starts of periods ks, in the series' time zone."""
        naive = pd.DatetimeIndex([self.start(k) for k in ks], dtype="datetime64[ns]")
        return naive.tz_localize(self.tz) if self.tz is not None else naive

    def position(self, when: pd.Timestamp) -> int:
        """Number of the period containing `when` (naive): the last k with start(k) <= when."""
        nominal = self.start(1) - self.origin
        k = math.floor((when - self.origin) / nominal)
        while self.start(k + 1) <= when:
            k += 1
        while self.start(k) > when:
            k -= 1
        return k


def as_datetime_index(index: pd.Index, caller: str) -> pd.DatetimeIndex:
    if isinstance(index, pd.DatetimeIndex):
        return index
    if isinstance(index, pd.PeriodIndex):
        return index.to_timestamp(how="start")
    if len(index) == 0:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    try:
        if index.dtype.kind not in "OSU":  # numbers would silently read as nanoseconds
            raise TypeError
        return pd.DatetimeIndex(index)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{caller}: the series must be indexed by period start dates (pd.Timestamp); "
            f"got an index of {index.dtype} such as {index[0]!r}."
        ) from None


def infer_step(naive: pd.DatetimeIndex, declared: BaseOffset | None) -> BaseOffset | None:
    """The period length: the index's own freq, pandas' inference, or the median gap."""
    if declared is not None and declared.n > 0:
        return declared
    if len(naive) >= 3:
        inferred = pd.DatetimeIndex(naive, freq="infer").freq  # pandas 2 and 3 alike
        if inferred is not None:
            return to_offset(inferred)
    if len(naive) < 2:
        return None
    median = pd.Timedelta(int(np.median(np.diff(naive.asi8))), unit="ns")
    days = median / pd.Timedelta(days=1)
    at_midnight = bool((naive == naive.normalize()).all())
    first_of_month = bool((naive.day == 1).all())
    if not at_midnight:
        return to_offset(median)
    if days == 1:
        return Day()
    if days == 7:
        return Week(weekday=naive[0].weekday())
    if 28 <= days <= 31:
        if first_of_month:
            return MonthBegin()
        return MonthEnd() if bool(naive.is_month_end.all()) else DateOffset(months=1)
    if 89 <= days <= 92:
        if first_of_month and len(set((naive.month - 1) % 3)) == 1:
            return QuarterBegin(startingMonth=int(naive[0].month))
        return DateOffset(months=3)
    if 365 <= days <= 366:
        if first_of_month and len(set(naive.month)) == 1:
            return YearBegin(month=int(naive[0].month))
        return DateOffset(years=1)
    return to_offset(median)
