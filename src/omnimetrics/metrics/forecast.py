"""Linear-trend forecasts of a KPI series with prediction intervals, and alerts on surprises.

Ordinary least squares on the period number t (0 for the first period of the series), and the
prediction interval of a new observation from the t distribution:

    yhat(t0) ± t_{(1+level)/2, n-2} · s · sqrt(1 + 1/n + (t0 - tbar)² / Sxx)

(Montgomery, Peck & Vining, "Introduction to Linear Regression Analysis", 5th ed., §2.5;
formulas and decisions in docs/goals-and-forecasts.md). A line leaves any range in time: given
the KPI's `bounds` (its possible values: no negative revenue, no share above 1), the forecast
and its interval are clipped to them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from omnimetrics.errors import ConfigError
from omnimetrics.metrics.kpi_catalogue import get_kpi
from omnimetrics.metrics.periods import PeriodGrid, as_datetime_index, infer_step

LEVEL = 0.95
"""Default coverage of prediction intervals."""

MIN_POINTS = 3
"""A line has two parameters; a third point is the first that measures the noise."""

ALERT_COLUMNS = ("period", "value", "expected", "low", "high", "direction", "bad")

_RELATIVE_TOLERANCE = 1e-9
"""Residuals this small relative to the values are rounding: the points lie on a line."""

Bounds = tuple[float, float]
"""(low, high): the values a KPI can take (`KPI.bounds`); either end may be infinite."""


def check_bounds(bounds: object, caller: str) -> Bounds | None:
    """`bounds` as (low, high) floats with low < high, or None; anything else is refused."""
    if bounds is None:
        return None
    try:
        low, high = (float(v) for v in bounds)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        low = high = math.nan
    if math.isnan(low) or math.isnan(high) or not low < high:
        raise ConfigError(
            f"The 'bounds' parameter of {caller} must be (low, high) with low < high, e.g. "
            f"(0, 1) for a share or (0, inf) for an amount. Got {bounds!r} instead."
        )
    return low, high


def clip_to(bounds: Bounds | None, values: np.ndarray) -> np.ndarray:
    """`values` kept inside `bounds` (NaN stays NaN); unchanged without bounds."""
    values = np.asarray(values, dtype=float)
    return values if bounds is None else np.clip(values, bounds[0], bounds[1])


def range_note(bounds: Bounds) -> str:
    """How a note names the range: [0, 1], [0, inf)."""
    low, high = bounds
    left = "(-inf" if math.isinf(low) else f"[{low:g}"
    right = "inf)" if math.isinf(high) else f"{high:g}]"
    return f"{left}, {right}"


@dataclass(frozen=True)
class TrendFit:
    """OLS fit of y = intercept + slope·t, with what the prediction interval needs."""

    intercept: float
    slope: float
    residual_sd: float
    """s = sqrt(SSE / (n - 2)); exactly 0 when the points lie on a line (up to rounding)."""
    n: int
    t_mean: float
    sxx: float
    """Σ (t - tbar)²."""

    @property
    def df(self) -> int:
        """Degrees of freedom of the residuals: n - 2."""
        return self.n - 2


def fit_trend(t: np.ndarray, y: np.ndarray) -> TrendFit:
    """Least-squares line through the points (t, y): b1 = Sxy / Sxx, b0 = ybar - b1·tbar."""
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    n = t.size
    if n != y.size or n < MIN_POINTS or not np.isfinite(t).all() or not np.isfinite(y).all():
        raise ConfigError(
            f"fit_trend needs at least {MIN_POINTS} finite (t, y) pairs of equal length; "
            f"got {t.size} t and {y.size} y values."
        )
    t_mean, y_mean = t.mean(), y.mean()
    dt = t - t_mean
    sxx = float(dt @ dt)
    if sxx == 0.0:
        raise ConfigError("fit_trend needs at least two distinct t values.")
    slope = float(dt @ (y - y_mean)) / sxx
    intercept = float(y_mean - slope * t_mean)
    residuals = y - (intercept + slope * t)
    residual_sd = math.sqrt(float(residuals @ residuals) / (n - 2))
    if residual_sd <= _RELATIVE_TOLERANCE * float(np.abs(y).max()):
        residual_sd = 0.0
    return TrendFit(intercept, slope, residual_sd, n, float(t_mean), sxx)


def prediction_interval(
    fit: TrendFit, t0: np.ndarray | float, level: float = LEVEL
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Point forecast, its standard error s·sqrt(1 + 1/n + (t0-tbar)²/Sxx), low and high."""
    t0 = np.asarray(t0, dtype=float)
    yhat = fit.intercept + fit.slope * t0
    se = fit.residual_sd * np.sqrt(1.0 + 1.0 / fit.n + (t0 - fit.t_mean) ** 2 / fit.sxx)
    half = float(stats.t.ppf((1.0 + level) / 2.0, fit.df)) * se
    return yhat, se, yhat - half, yhat + half


@dataclass(frozen=True, eq=False)
class Forecast:
    """The next periods of a series on its linear trend, with prediction intervals.

    `table` has one row per future period: period, forecast, low, high and se (the standard
    error of prediction, so that other probabilities can be read off the t distribution with
    n - 2 degrees of freedom). `note` explains degenerate input; values are then NaN.
    """

    table: pd.DataFrame
    slope: float
    intercept: float
    residual_sd: float
    n: int
    level: float
    note: str | None = None

    @property
    def df(self) -> int:
        """Degrees of freedom of the prediction's t distribution: n - 2."""
        return self.n - 2


@dataclass(frozen=True, eq=False)
class RegularSeries:
    """A KPI series checked and laid on its period grid (sorted copy; the input is untouched)."""

    index: pd.DatetimeIndex
    """Period starts, sorted, in the input's time zone."""
    naive: pd.DatetimeIndex
    """The same as wall-clock times without a zone (how calendars are computed)."""
    values: np.ndarray
    positions: np.ndarray | None
    """Period number of each row on `grid` (0 for the first); None without a grid."""
    grid: PeriodGrid | None
    """None when the period length cannot be known (fewer than 2 periods, no `freq`)."""

    @classmethod
    def from_series(cls, series: pd.Series, *, caller: str = "forecast") -> RegularSeries:
        """Check a KPI series (dates index, float values) and find its period grid."""
        if not isinstance(series, pd.Series):
            raise ConfigError(
                f"{caller} expects a pandas Series indexed by period start; "
                f"got {type(series).__name__}."
            )
        index = as_datetime_index(series.index, caller).as_unit("ns")
        try:
            values = series.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{caller}: the series values must be numbers (NaN where undefined); "
                f"got dtype {series.dtype}."
            ) from None
        if np.isinf(values).any():
            bad = list(index[np.isinf(values)][:3].astype(str))
            raise ConfigError(
                f"{caller}: the series has infinite values at {bad}. Use NaN for periods where "
                "the KPI is undefined (e.g. a ratio with a zero denominator)."
            )
        if index.hasnans:
            raise ConfigError(f"{caller}: the series index has missing dates (NaT).")
        if index.has_duplicates:
            dupes = list(index[index.duplicated()].unique()[:3].astype(str))
            raise ConfigError(
                f"{caller}: the series index repeats periods {dupes}; give one value per period."
            )
        declared = index.freq
        order = np.argsort(index.asi8, kind="stable")
        index = index[order]
        values = values[order]
        tz = index.tz
        naive = index.tz_localize(None) if tz is not None else index
        step = infer_step(naive, declared) if len(naive) else None
        if step is None:
            return cls(index, naive, values, None, None)
        grid = PeriodGrid(naive[0], step, tz)
        last = grid.position(naive[-1])
        full = pd.DatetimeIndex([grid.start(k) for k in range(last + 1)], dtype="datetime64[ns]")
        positions = full.get_indexer(naive)
        if (positions < 0).any():
            stray = list(index[positions < 0][:3].astype(str))
            raise ConfigError(
                f"{caller}: the series is not on a regular grid of {step.freqstr} periods "
                f"(e.g. {stray}). Aggregate it to one value per day, week, month or quarter "
                "start first."
            )
        return cls(index, naive, values, positions.astype(np.int64), grid)

    @property
    def defined(self) -> np.ndarray:
        """Mask of the periods with a value (not NaN)."""
        return ~np.isnan(self.values)

    def head(self, count: int) -> RegularSeries:
        """The first `count` periods, on the same grid."""
        positions = None if self.positions is None else self.positions[:count]
        return RegularSeries(
            self.index[:count], self.naive[:count], self.values[:count], positions, self.grid
        )

    def forecast(
        self, horizon: int, *, level: float = LEVEL, bounds: Bounds | None = None
    ) -> Forecast:
        """The next `horizon` periods after the last one (see `forecast`)."""
        mask = self.defined
        n = int(mask.sum())
        if self.grid is None or self.positions is None or not len(self.positions):
            periods = pd.DatetimeIndex([pd.NaT] * horizon, dtype="datetime64[ns]")
            if self.index.tz is not None:
                periods = periods.tz_localize(self.index.tz)
            ahead = np.full(horizon, np.nan)
        else:
            last = int(self.positions[-1])
            ahead = np.arange(last + 1, last + horizon + 1, dtype=float)
            periods = self.grid.starts(ahead.astype(int))
        if n < MIN_POINTS:
            note = f"{MIN_POINTS} points are needed for a trend; got {n}."
            if self.grid is None:
                note += " The period length cannot be inferred either, so future periods are NaT."
            nan = np.full(horizon, np.nan)
            table = _forecast_table(periods, nan, nan, nan, nan)
            return Forecast(table, math.nan, math.nan, math.nan, n, level, note)
        assert self.positions is not None
        fit = fit_trend(self.positions[mask].astype(float), self.values[mask])
        yhat, se, low, high = prediction_interval(fit, ahead, level)
        notes = []
        if fit.residual_sd == 0.0:
            shape = "constant" if fit.slope == 0.0 else "exactly on a line"
            notes.append(
                f"The {n} points are {shape} (zero residual variance): the forecast is exact "
                "and each interval is the point itself."
            )
        kept = [clip_to(bounds, values) for values in (yhat, low, high)]
        clipped = np.any([a != b for a, b in zip(kept, (yhat, low, high), strict=True)], axis=0)
        if bounds is not None and clipped.any():
            first = periods[int(np.argmax(clipped))]
            since = "" if pd.isna(first) else f" from {first.date()}"
            notes.append(
                f"The trend leaves the KPI's possible range {range_note(bounds)}{since}: "
                "forecasts and intervals are clipped to it."
            )
        yhat, low, high = kept
        note = " ".join(notes) or None
        table = _forecast_table(periods, yhat, low, high, se)
        return Forecast(table, fit.slope, fit.intercept, fit.residual_sd, n, level, note)


def forecast(
    series: pd.Series, horizon: int, *, level: float = LEVEL, bounds: Bounds | None = None
) -> Forecast:
    """Project the next `horizon` periods on the OLS linear trend, with prediction intervals.

    Periods continue the index's frequency (month starts stay month starts). Fewer than 3
    defined points give NaN values and a `note`, never an exception. Points exactly on a line
    (zero residual variance) give exact forecasts whose interval is the point itself. With
    `bounds` (low, high), the KPI's possible values, forecast, low and high are clipped to them
    and the `note` says so (`se` is the line's).

    >>> import pandas as pd
    >>> kpi = pd.Series([10.0, 12.0, 14.0, 16.0],
    ...                 index=pd.date_range("2025-01-01", periods=4, freq="MS"))
    >>> forecast(kpi, 2).table[["period", "forecast", "low", "high"]]
          period  forecast   low  high
    0 2025-05-01      18.0  18.0  18.0
    1 2025-06-01      20.0  20.0  20.0
    """
    _check_int("horizon", horizon, "forecast", minimum=1)
    _check_level(level, "forecast")
    bounds = check_bounds(bounds, "forecast")
    return RegularSeries.from_series(series).forecast(horizon, level=level, bounds=bounds)


def alerts(
    series: pd.Series,
    *,
    level: float = LEVEL,
    min_history: int = 6,
    higher_is_better: bool = True,
    bounds: Bounds | None = None,
) -> pd.DataFrame:
    """The periods whose value falls outside the prediction interval of the trend before them.

    Each period with at least `min_history` defined values before it is compared with the
    interval of an OLS trend fitted on all those earlier values (an expanding window), clipped
    to `bounds` when given. Only the surprising periods are returned; `bad` is a drop when
    higher is better, a rise otherwise.
    """
    _check_level(level, "alerts")
    bounds = check_bounds(bounds, "alerts")
    _check_int("min_history", min_history, "alerts", minimum=MIN_POINTS)
    if not isinstance(higher_is_better, bool | np.bool_):
        raise ConfigError(
            "The 'higher_is_better' parameter of alerts must be a bool. "
            f"Got {higher_is_better!r} instead."
        )
    regular = RegularSeries.from_series(series, caller="alerts")
    defined = regular.defined
    seen_before = np.cumsum(defined) - defined
    candidates = np.flatnonzero(defined & (seen_before >= min_history))
    rows: list[tuple[pd.Timestamp, float, float, float, float, str, bool]] = []
    if regular.positions is not None:
        t = regular.positions.astype(float)
        for row in candidates:  # one small fit per period; series are tens to hundreds long
            past = defined[:row]
            fit = fit_trend(t[:row][past], regular.values[:row][past])
            yhat, _, low, high = prediction_interval(fit, t[row], level)
            yhat, low, high = (float(clip_to(bounds, v)) for v in (yhat, low, high))
            value = float(regular.values[row])
            slack = _RELATIVE_TOLERANCE * max(abs(value), abs(yhat))
            if low - slack <= value <= high + slack:
                continue
            direction = "drop" if value < low else "rise"
            bad = (direction == "drop") == bool(higher_is_better)
            rows.append((regular.index[row], value, yhat, low, high, direction, bad))
    frame = pd.DataFrame(rows, columns=list(ALERT_COLUMNS))
    frame["period"] = pd.DatetimeIndex(frame["period"], dtype=regular.index.dtype)
    numbers = dict.fromkeys(("value", "expected", "low", "high"), float)
    return frame.astype({**numbers, "direction": object, "bad": bool})


def kpi_table_series(
    kpi_table: pd.DataFrame, by: Sequence[str] = ()
) -> Iterator[tuple[dict[str, Any], pd.Series]]:
    """Each KPI (and dimension values) of a KPI table (`compute_kpis`) as a series over all the
    table's periods: a period without a value is a gap in the series, not a change of grid.
    Partial periods (the month in progress) are left out: their values are not comparable."""
    if "partial" in kpi_table.columns:
        kpi_table = kpi_table[~kpi_table.partial.astype(bool)]
    keys = ["kpi", *by]
    periods = pd.DatetimeIndex(sorted(pd.to_datetime(kpi_table.period.unique())))
    for values, group in kpi_table.groupby(keys, dropna=False, sort=True):
        labels = dict(zip(keys, values, strict=True))
        series = group.set_index(pd.to_datetime(group.period)).value.sort_index()
        yield labels, series.reindex(periods).rename(labels["kpi"])


def kpi_forecasts(
    kpi_table: pd.DataFrame, by: Sequence[str], horizon: int, *, level: float = LEVEL
) -> pd.DataFrame:
    """The next `horizon` periods of every KPI and dimension value of a KPI table, kept within
    each KPI's possible values (`KPI.bounds`).

    Columns: kpi, [by...], period, forecast, low, high, note (why a forecast is NaN, exact or
    clipped).
    """
    _check_int("horizon", horizon, "kpi_forecasts", minimum=1)
    _check_level(level, "kpi_forecasts")
    keys = ["kpi", *by]
    parts = []
    for labels, series in kpi_table_series(kpi_table, by):
        projected = RegularSeries.from_series(series, caller="kpi_forecasts").forecast(
            horizon, level=level, bounds=get_kpi(labels["kpi"]).bounds
        )
        part = projected.table.drop(columns="se").assign(**labels, note=projected.note)
        parts.append(part)
    columns = [*keys, "period", "forecast", "low", "high", "note"]
    return _kpi_rows(parts, columns)


def kpi_alerts(
    kpi_table: pd.DataFrame,
    by: Sequence[str],
    *,
    level: float = LEVEL,
    min_history: int = 6,
) -> pd.DataFrame:
    """The periods where a KPI (per dimension value) of a KPI table left the prediction interval
    of its trend (see `alerts`), kept within the KPI's possible values; `bad` follows the KPI's
    direction in the catalogue.

    Columns: kpi, [by...], period, value, expected, low, high, direction, bad.
    """
    keys = ["kpi", *by]
    parts = []
    for labels, series in kpi_table_series(kpi_table, by):
        kpi = get_kpi(labels["kpi"])
        found = alerts(series, level=level, min_history=min_history,
                       higher_is_better=kpi.higher_is_better, bounds=kpi.bounds)  # fmt: skip
        parts.append(found.assign(**labels))
    return _kpi_rows(parts, [*keys, *ALERT_COLUMNS])


def _kpi_rows(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The parts one under the other, in `columns` order (empty with those columns), periods as
    dates like the KPI table's."""
    parts = [part for part in parts if not part.empty]
    if not parts:
        return pd.DataFrame(columns=columns)
    rows = pd.concat(parts, ignore_index=True)[columns]
    rows["period"] = pd.to_datetime(rows.period).dt.date
    return rows


def _forecast_table(
    periods: pd.DatetimeIndex, yhat: np.ndarray, low: np.ndarray, high: np.ndarray, se: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame({"period": periods, "forecast": yhat, "low": low, "high": high, "se": se})


def _check_int(name: str, value: object, caller: str, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ConfigError(
            f"The '{name}' parameter of {caller} must be an int >= {minimum}. "
            f"Got {value!r} instead."
        )


def _check_level(level: object, caller: str) -> None:
    if (
        isinstance(level, bool)
        or not isinstance(level, Real)
        or not math.isfinite(float(level))
        or not 0.0 < float(level) < 1.0
    ):
        raise ConfigError(
            f"The 'level' parameter of {caller} must be a float in (0, 1), e.g. 0.95. "
            f"Got {level!r} instead."
        )
