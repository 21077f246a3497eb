"""Linear-trend forecasts and alerts: hand-computed intervals, calendars, coverage, invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from omnimetrics.errors import ConfigError
from omnimetrics.metrics.forecast import (
    ALERT_COLUMNS,
    alerts,
    fit_trend,
    forecast,
    kpi_alerts,
    kpi_forecasts,
    kpi_table_series,
    prediction_interval,
)

FIVE = [2.0, 4.1, 5.9, 8.2, 9.8]


def monthly(values, start="2024-01-01", tz="UTC") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="MS", tz=tz))


def test_perfect_line_is_exact_and_its_interval_is_the_point():
    result = forecast(monthly([3.0 + 2.5 * t for t in range(8)]), 3)
    assert result.table["forecast"].to_numpy() == pytest.approx([23.0, 25.5, 28.0], rel=1e-12)
    assert (result.table["low"] == result.table["forecast"]).all()
    assert (result.table["high"] == result.table["forecast"]).all()
    assert result.residual_sd == 0.0
    assert result.slope == pytest.approx(2.5)
    assert "exactly on a line" in result.note


def test_constant_series_gives_a_flat_forecast_with_a_note():
    result = forecast(monthly([7.0] * 5), 2)
    assert result.table["forecast"].tolist() == [7.0, 7.0]
    assert result.table["high"].tolist() == [7.0, 7.0]
    assert result.slope == 0.0
    assert "constant" in result.note


def test_five_point_interval_matches_an_independent_computation():
    t = np.arange(5.0)
    y = np.array(FIVE)
    result = forecast(monthly(FIVE), 2, level=0.95)
    # Independently: numpy's polyfit, the textbook standard error, scipy's t quantile.
    slope, intercept = np.polyfit(t, y, 1)
    s = math.sqrt(np.sum((y - (intercept + slope * t)) ** 2) / 3)
    t0 = np.array([5.0, 6.0])
    se = s * np.sqrt(1 + 1 / 5 + (t0 - 2.0) ** 2 / 10.0)
    crit = stats.t.ppf(0.975, df=3)
    table = result.table
    assert table["forecast"].to_numpy() == pytest.approx(intercept + slope * t0, rel=1e-12)
    assert table["low"].to_numpy() == pytest.approx(intercept + slope * t0 - crit * se, rel=1e-12)
    assert table["high"].to_numpy() == pytest.approx(intercept + slope * t0 + crit * se, rel=1e-12)
    assert table["se"].to_numpy() == pytest.approx(se, rel=1e-12)
    assert result.slope == pytest.approx(slope, rel=1e-12)
    assert result.residual_sd == pytest.approx(s, rel=1e-12)
    assert (result.n, result.df, result.note) == (5, 3, None)
    # Golden numbers, by hand: b1 = 1.97, b0 = 2.06, SSE = 0.091, s² = 0.091 / 3.
    assert round(table["forecast"][0], 5) == 11.91
    assert round(table["low"][0], 5) == 11.10679
    assert round(table["high"][0], 5) == 12.71321
    assert round(table["high"][1] - table["low"][1], 5) == 1.85494


def test_pure_functions_agree_with_forecast():
    fit = fit_trend(np.arange(5.0), np.array(FIVE))
    yhat, _, low, high = prediction_interval(fit, np.array([5.0]), 0.9)
    table = forecast(monthly(FIVE), 1, level=0.9).table
    assert table["forecast"].to_numpy() == pytest.approx(yhat)
    assert table["low"].to_numpy() == pytest.approx(low)
    assert table["high"].to_numpy() == pytest.approx(high)


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (pd.date_range("2024-10-01", periods=4, freq="MS", tz="UTC"),
         ["2025-02-01", "2025-03-01", "2025-04-01"]),
        (pd.DatetimeIndex(["2024-01-01", "2024-02-01", "2024-04-01", "2024-05-01"]),
         ["2024-06-01", "2024-07-01", "2024-08-01"]),
        (pd.DatetimeIndex(["2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01"]),
         ["2025-01-01", "2025-04-01", "2025-07-01"]),
        (pd.date_range("2024-12-30", periods=4, freq="W-MON"),
         ["2025-01-27", "2025-02-03", "2025-02-10"]),
        (pd.date_range("2024-02-27", periods=4, freq="D", tz="UTC"),
         ["2024-03-02", "2024-03-03", "2024-03-04"]),
        (pd.DatetimeIndex(["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"]),
         ["2024-05-31", "2024-06-30", "2024-07-31"]),
    ],
    ids=["month-starts", "months-with-a-gap", "quarters", "weeks", "days", "month-ends"],
)  # fmt: skip
def test_future_periods_continue_the_calendar(index, expected):
    table = forecast(pd.Series([1.0, 2.0, 4.0, 5.0], index=index), 3).table
    expected_index = pd.DatetimeIndex(expected).tz_localize(index.tz)
    assert list(table["period"]) == list(expected_index)


def test_a_gap_keeps_the_period_numbers():
    # March is missing: t = 0, 1, 3, 4, so the fit is the perfect line y = 2t.
    index = pd.DatetimeIndex(["2024-01-01", "2024-02-01", "2024-04-01", "2024-05-01"])
    result = forecast(pd.Series([0.0, 2.0, 6.0, 8.0], index=index), 1)
    assert result.table["forecast"][0] == pytest.approx(10.0)


def test_undefined_values_are_left_out_of_the_fit():
    series = monthly([0.0, np.nan, 4.0, 6.0, np.nan])
    result = forecast(series, 1)
    assert result.n == 3
    assert result.table["forecast"][0] == pytest.approx(10.0)  # t = 5 on the line y = 2t


@pytest.mark.parametrize("values", [[], [5.0], [5.0, 6.0], [5.0, np.nan, np.nan, 6.0]])
def test_fewer_than_three_points_give_a_note_not_an_exception(values):
    index = pd.date_range("2024-01-01", periods=len(values), freq="MS")
    result = forecast(pd.Series(values, index=index, dtype=float), 2)
    defined = int(np.isfinite(values).sum())
    assert result.note.startswith(f"3 points are needed for a trend; got {defined}.")
    assert result.table["forecast"].isna().all()
    assert result.table["low"].isna().all() and result.table["high"].isna().all()
    assert math.isnan(result.slope)
    assert len(result.table) == 2


def test_one_period_without_a_frequency_gives_unknown_future_periods():
    series = pd.Series([5.0], index=pd.DatetimeIndex(["2024-01-01"]))
    result = forecast(series, 2)
    assert result.table["period"].isna().all()
    assert "cannot be inferred" in result.note


def test_the_input_is_not_mutated_and_order_does_not_matter():
    series = monthly(FIVE).iloc[::-1]
    before = series.copy()
    shuffled = forecast(series, 2).table
    assert series.equals(before)
    assert shuffled.equals(forecast(monthly(FIVE), 2).table)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 0}, "The 'horizon' parameter of forecast must be an int >= 1. Got 0 instead."),
        ({"horizon": 2.0}, "The 'horizon' parameter of forecast must be an int >= 1. Got 2.0"),
        ({"horizon": True}, "must be an int >= 1. Got True instead."),
        (
            {"horizon": 1, "level": 1.0},
            "The 'level' parameter of forecast must be a float in (0, 1)",
        ),
        ({"horizon": 1, "level": 0.0}, "Got 0.0 instead."),
        ({"horizon": 1, "level": 95}, "Got 95 instead."),
        ({"horizon": 1, "level": float("nan")}, "Got nan instead."),
    ],
)
def test_bad_arguments_raise_config_errors(kwargs, message):
    horizon = kwargs.pop("horizon")
    with pytest.raises(ConfigError) as caught:
        forecast(monthly(FIVE), horizon, **kwargs)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (pd.Series([1.0, 2.0, 3.0]), "indexed by period start dates"),
        (pd.Series([1.0, 2.0, 3.0], index=pd.DatetimeIndex(["2024-01-01"] * 2 + ["2024-02-01"])),
         "repeats periods ['2024-01-01']"),
        (pd.Series([1.0, 2.0, 3.0, 4.0],
                   index=pd.DatetimeIndex(["2024-01-01", "2024-02-01", "2024-03-01", "2024-03-17"])),
         "not on a regular grid"),
        (monthly([1.0, np.inf, 3.0]), "infinite values"),
        (monthly(["a", "b", "c"]), "must be numbers"),
        ([1.0, 2.0], "expects a pandas Series"),
    ],
    ids=["no-dates", "duplicates", "irregular", "infinite", "text", "not-a-series"],
)  # fmt: skip
def test_bad_series_raise_config_errors(series, message):
    with pytest.raises(ConfigError, match=None) as caught:
        forecast(series, 1)
    assert message in str(caught.value)


def test_period_index_is_accepted():
    series = pd.Series(FIVE, index=pd.period_range("2024-01", periods=5, freq="M"))
    table = forecast(series, 1).table
    assert table["period"][0] == pd.Timestamp("2024-06-01")


def test_95_percent_intervals_cover_the_next_value_95_percent_of_the_time():
    # 1000 series: the binomial sd of the rate is 0.007, so [0.92, 0.98] is over 4 sd wide.
    covered = []
    for seed in range(1000):
        rng = np.random.default_rng(seed)
        t = np.arange(13)
        y = 50.0 + 1.5 * t + rng.normal(0.0, 4.0, size=13)
        row = forecast(monthly(y[:12]), 1).table.iloc[0]
        covered.append(row["low"] <= y[12] <= row["high"])
    assert 0.92 <= np.mean(covered) <= 0.98


finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(finite, min_size=3, max_size=30),
    shift=finite,
    scale=st.floats(0.01, 100.0),
    horizon=st.integers(1, 6),
)
def test_forecasts_move_with_the_data(values, shift, scale, horizon):
    base = forecast(monthly(values), horizon).table
    moved = forecast(monthly([scale * v + shift for v in values]), horizon).table
    tolerance = 1e-6 * (1 + scale * max(abs(v) for v in values) + abs(shift))
    for column in ("forecast", "low", "high"):
        expected = scale * base[column].to_numpy() + shift
        assert np.allclose(moved[column].to_numpy(), expected, rtol=1e-6, atol=tolerance)
    assert (base["low"] <= base["forecast"]).all() and (base["forecast"] <= base["high"]).all()
    # Future periods lie ever further from the mean period: the intervals widen.
    assert (np.diff(base["high"] - base["low"]) >= -1e-9).all()


def wavy_line(length: int = 24) -> np.ndarray:
    """A rising line with a small alternating wobble: no surprises at 95 %."""
    t = np.arange(length)
    return 50.0 + 2.0 * t + np.where(t % 2 == 0, -0.5, 0.5)


def daily(values) -> pd.Series:
    return pd.Series(values, index=pd.date_range("2025-03-01", periods=len(values), freq="D"))


def test_an_injected_drop_is_the_only_alert_and_it_is_bad():
    values = wavy_line()
    values[15] -= 12.0
    found = alerts(daily(values))
    assert list(found.columns) == list(ALERT_COLUMNS)
    assert found["period"].tolist() == [pd.Timestamp("2025-03-16")]
    row = found.iloc[0]
    assert (row["direction"], row["bad"], row["value"]) == ("drop", True, values[15])
    assert row["low"] > row["value"]
    assert row["expected"] == pytest.approx(50.0 + 2.0 * 15, abs=1.0)
    # Where lower is better, the same drop is good news.
    assert alerts(daily(values), higher_is_better=False)["bad"].tolist() == [False]


def test_a_rise_is_bad_when_lower_is_better():
    values = wavy_line()
    values[20] += 12.0
    found = alerts(daily(values), higher_is_better=False)
    assert found["direction"].tolist() == ["rise"]
    assert found["bad"].tolist() == [True]


def test_a_quiet_series_has_no_alerts_and_typed_columns():
    found = alerts(monthly(wavy_line(), tz="UTC"))
    assert found.empty
    assert list(found.columns) == list(ALERT_COLUMNS)
    assert str(found["period"].dtype) == "datetime64[ns, UTC]"
    assert found["bad"].dtype == bool


def test_alerts_wait_for_min_history():
    values = wavy_line(12)
    values[4] -= 30.0  # before six values are known: not judged
    assert alerts(daily(values)).empty
    assert alerts(daily(values), min_history=3)["period"].tolist() == [pd.Timestamp("2025-03-05")]


def test_a_perfect_line_does_not_alert_on_rounding():
    assert alerts(daily([0.1 * t + 0.3 for t in range(30)])).empty


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_history": 2}, "The 'min_history' parameter of alerts must be an int >= 3. Got 2"),
        ({"level": 1.5}, "The 'level' parameter of alerts must be a float in (0, 1)"),
        ({"higher_is_better": "yes"}, "must be a bool. Got 'yes' instead."),
    ],
)
def test_alerts_refuse_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError) as caught:
        alerts(daily(wavy_line()), **kwargs)
    assert message in str(caught.value)


# Every KPI of a KPI table at once


def kpi_table(length: int = 24) -> pd.DataFrame:
    """A KPI table as `compute_kpis` gives it: revenue and churn by channel, monthly periods as
    dates; revenue on the web skips the fifth month."""
    periods = [d.date() for d in pd.date_range("2024-01-01", periods=length, freq="MS")]
    frames = []
    for kpi, channel, scale in (("revenue", "web", 1.0), ("revenue", "app", 2.0),
                                ("churn_rate", "web", 0.01)):  # fmt: skip
        frames.append(pd.DataFrame({"kpi": kpi, "period": periods, "channel": channel,
                                    "value": wavy_line(length) * scale}))  # fmt: skip
    table = pd.concat(frames, ignore_index=True)
    gap = (table.kpi == "revenue") & (table.channel == "web") & (table.period == periods[4])
    return table[~gap].reset_index(drop=True)


def test_each_kpi_and_dimension_value_is_a_series_over_all_the_periods():
    series = {(labels["kpi"], labels["channel"]): s for labels, s in kpi_table_series(
        kpi_table(), ["channel"])}  # fmt: skip
    assert set(series) == {("revenue", "web"), ("revenue", "app"), ("churn_rate", "web")}
    web = series[("revenue", "web")]
    assert len(web) == 24 and math.isnan(web.iloc[4])  # the gap stays a gap
    assert web.index[0] == pd.Timestamp("2024-01-01") and web.name == "revenue"


def test_kpi_forecasts_give_horizon_rows_per_kpi_and_dimension_value():
    table = kpi_table()
    found = kpi_forecasts(table, ["channel"], 3)
    assert list(found.columns) == ["kpi", "channel", "period", "forecast", "low", "high", "note"]
    assert found.groupby(["kpi", "channel"]).size().to_dict() == {
        ("churn_rate", "web"): 3, ("revenue", "app"): 3, ("revenue", "web"): 3}  # fmt: skip
    app = found[(found.kpi == "revenue") & (found.channel == "app")]
    assert app.period.tolist() == [pd.Timestamp(2026, m, 1).date() for m in (1, 2, 3)]
    series = table[(table.kpi == "revenue") & (table.channel == "app")]
    alone = forecast(pd.Series(series.value.to_numpy(), index=pd.to_datetime(series.period)), 3)
    np.testing.assert_allclose(app.forecast, alone.table.forecast)
    np.testing.assert_allclose(app.high, alone.table.high)
    empty = kpi_forecasts(table.iloc[:0], ["channel"], 2)
    assert empty.empty and "forecast" in empty.columns
    with pytest.raises(ConfigError, match="'horizon' parameter of kpi_forecasts"):
        kpi_forecasts(table, ["channel"], 0)


def test_kpi_alerts_follow_each_kpis_direction():
    table = kpi_table()
    last = table.period.max()
    drop = (table.period == last) & (table.channel == "web")
    table.loc[drop, "value"] -= table.loc[drop, "value"] * 0.3  # revenue and churn fall
    found = kpi_alerts(table, ["channel"])
    assert list(found.columns) == ["kpi", "channel", *ALERT_COLUMNS]
    rows = {(r.kpi, r.channel): (r.period, r.direction, r.bad) for r in found.itertuples()}
    assert rows == {("revenue", "web"): (last, "drop", True),  # less revenue: bad
                    ("churn_rate", "web"): (last, "drop", False)}  # less churn: good  # fmt: skip
    assert kpi_alerts(kpi_table(), ["channel"]).empty


# The KPI's possible values


def test_a_declining_series_is_not_forecast_below_the_kpis_range():
    falling = monthly([100.0, 72.0, 45.0, 21.0])  # about -26 a month: below 0 in a month
    free = forecast(falling, 3)
    assert (free.table.forecast < 0).all() and (free.table.low < 0).all()  # the bare line
    kept = forecast(falling, 3, bounds=(0.0, math.inf))
    assert (kept.table[["forecast", "low", "high"]] >= 0).all().all()
    assert kept.table.forecast.tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(kept.table.high, np.clip(free.table.high, 0, None))
    np.testing.assert_allclose(kept.table.se, free.table.se)  # the line's, for other odds
    assert "possible range [0, inf)" in kept.note and free.note is None
    inside = forecast(monthly([10.0, 12.1, 13.9, 16.0]), 2, bounds=(0.0, math.inf))
    assert inside.note is None  # nothing clipped, nothing said
    with pytest.raises(ConfigError, match="'bounds' parameter of forecast must be"):
        forecast(falling, 3, bounds=(1.0, 0.0))


def test_kpi_forecasts_and_alerts_stay_within_each_kpis_range():
    periods = [d.date() for d in pd.date_range("2024-01-01", periods=6, freq="MS")]
    rows = {"revenue": [500.0, 390.0, 310.0, 200.0, 110.0, 20.0],  # falls below 0
            "csat": [0.70, 0.78, 0.85, 0.91, 0.96, 0.99],  # rises above 1
            "nps": [20.0, 45.0, 60.0, 80.0, 92.0, 99.0]}  # rises above 100  # fmt: skip
    table = pd.concat([pd.DataFrame({"kpi": kpi, "period": periods, "value": values})
                       for kpi, values in rows.items()], ignore_index=True)  # fmt: skip
    found = kpi_forecasts(table, [], 4).set_index("kpi")
    numbers = ["forecast", "low", "high"]
    assert (found.loc["revenue", numbers] >= 0).all().all()
    assert ((found.loc["csat", numbers] >= 0) & (found.loc["csat", numbers] <= 1)).all().all()
    assert (found.loc["nps", numbers].abs() <= 100).all().all()
    assert found.loc["nps", "high"].max() == 100 and found.loc["revenue", "low"].min() == 0
    assert found.note.str.contains("possible range").all()
    unclipped = forecast(pd.Series(rows["nps"], index=pd.to_datetime(periods)), 4)
    assert unclipped.table.high.max() > 100  # what the KPI's range prevents
    alerted = kpi_alerts(table, [], min_history=3)
    assert (alerted[["expected", "low", "high"]] >= -100).all().all()
