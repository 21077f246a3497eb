"""SMART goals: config parsing and validation, baseline, target, progress, status, odds."""

from __future__ import annotations

import math
import tomllib
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from omnimetrics.errors import ConfigError
from omnimetrics.metrics.goals import (
    STATUSES,
    Goal,
    goal_status,
    goals_from_config,
    probability_beyond,
)

CONFIG = """
[[goals]]
name = "retention_h1"
kpi = "retention_rate"
target_change = 0.05
start = 2025-01-01
deadline = 2025-06-30
segment = "rfm_segment=champions"

[[goals]]
name = "email_revenue"
kpi = "revenue"
target = 250000
start = "2025-01-01"
deadline = "2025-12-31"
baseline_start = "2024-01-01"
baseline_end = 2024-12-31
channel = "email"
"""

BASE = {"name": "g", "kpi": "revenue", "target": 10.0, "start": "2025-01-01",
        "deadline": "2025-06-30"}  # fmt: skip


def rising(periods: int = 18) -> pd.Series:
    """Monthly from 2024-01 (t = 0): 100 + 2t with a ±1 wobble, so t = 6..11 average 117."""
    t = np.arange(periods)
    values = 100.0 + 2.0 * t + np.where(t % 2 == 0, -1.0, 1.0)
    return pd.Series(
        values, index=pd.date_range("2024-01-01", periods=periods, freq="MS", tz="UTC")
    )


def goal(**changes) -> Goal:
    fields = {"name": "g", "kpi": "revenue", "start": date(2025, 1, 1),
              "deadline": date(2025, 6, 30), "target": 130.0} | changes  # fmt: skip
    return Goal(**fields)


# Parsing and validation


def test_goals_are_read_from_toml():
    retention, email = goals_from_config(tomllib.loads(CONFIG)["goals"])
    assert retention == Goal(
        name="retention_h1", kpi="retention_rate", start=date(2025, 1, 1),
        deadline=date(2025, 6, 30), target_change=0.05, segment="rfm_segment=champions",
    )  # fmt: skip
    assert retention.segment_filter == ("rfm_segment", "champions")
    assert email.target == 250000.0 and isinstance(email.target, float)
    assert (email.start, email.baseline_start, email.baseline_end) == (
        date(2025, 1, 1), date(2024, 1, 1), date(2024, 12, 31))  # fmt: skip
    assert email.channel == "email" and email.segment_filter is None
    assert goals_from_config([]) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dedline": "2025-07-01"}, "Goal 'g': unknown key 'dedline'. Did you mean 'deadline'?"),
        ({"kpi": None}, "Goal 'g': 'kpi' must name a KPI; got None."),
        ({"name": ""}, "[[goals]] entry 1: 'name' must be a non-empty text; got ''."),
        ({"name": 3}, "[[goals]] entry 1: 'name' must be a non-empty text; got 3."),
        ({"target_change": 0.05}, "give exactly one of 'target'"),
        ({"target": None}, "got neither"),
        ({"target": "10%"}, "Goal 'g': 'target' must be a number, not text"),
        (
            {"target": None, "target_change": "5%"},
            "'target_change' must be a number (0.05 for +5 %)",
        ),
        ({"target": True}, "'target' must be a finite number; got True."),
        ({"target": float("nan")}, "'target' must be a finite number"),
        ({"target": None, "target_change": 0}, "other than 0 and above -1"),
        ({"target": None, "target_change": -1.0}, "set an absolute 'target'"),
        (
            {"deadline": "2024-12-31"},
            "the deadline (2024-12-31) must come after the start (2025-01-01)",
        ),
        ({"deadline": "2025-01-01"}, "must come after the start"),
        (
            {"start": "01/01/2025"},
            "'start' must be a date: a TOML date (start = 2025-01-01) or an ISO",
        ),
        ({"start": 20250101}, "'start' must be a date"),
        ({"start": datetime(2025, 1, 1, 9)}, "not a date and time"),
        ({"baseline_start": "2024-01-01"}, "give both 'baseline_start' and 'baseline_end'"),
        (
            {"baseline_start": "2024-06-01", "baseline_end": "2024-01-31"},
            "baseline_end (2024-01-31) is before",
        ),
        (
            {"baseline_start": "2024-06-01", "baseline_end": "2025-01-01"},
            "the baseline must end before the goal starts",
        ),
        ({"segment": "champions"}, "'segment' must read name=value"),
        ({"segment": "rfm_segment="}, "'segment' must read name=value"),
        ({"channel": ""}, "'channel' must be a channel name"),
    ],
)
def test_every_invalid_goal_is_refused_with_its_name(changes, message):
    entry = {**BASE, **changes}
    entry = {key: value for key, value in entry.items() if value is not None or key == "kpi"}
    with pytest.raises(ConfigError) as caught:
        goals_from_config([entry])
    assert message in str(caught.value)


def test_missing_keys_are_listed_with_an_example():
    with pytest.raises(ConfigError) as caught:
        goals_from_config([{"name": "g", "target": 1.0}])
    text = str(caught.value)
    assert "Goal 'g': missing 'kpi', 'start', 'deadline'." in text
    assert "[[goals]]" in text and "target_change = 0.05" in text


def test_duplicate_names_and_shapes_are_refused():
    with pytest.raises(ConfigError, match="used by another goal"):
        goals_from_config([BASE, BASE])
    with pytest.raises(ConfigError, match="entry 2 must be a table"):
        goals_from_config([BASE, "g2"])
    with pytest.raises(ConfigError, match="must be an array of tables"):
        goals_from_config(BASE)


def test_goals_built_in_python_are_validated_too():
    with pytest.raises(ConfigError, match="'start' must be a date"):
        goal(start="2025-01-01")
    with pytest.raises(ConfigError, match="exactly one"):
        goal(target_change=0.1)


# Measuring a goal


def test_default_baseline_is_the_same_number_of_periods_before_the_start():
    status = goal_status(goal(target=None, target_change=0.05), rising(), higher_is_better=True,
                         today=date(2025, 2, 10))  # fmt: skip
    # Goal periods Jan..Jun 2025 (6); baseline Jul..Dec 2024: 111, 115, 115, 119, 119, 123.
    assert status.baseline == pytest.approx(117.0)
    assert (status.baseline_start, status.baseline_end) == (date(2024, 7, 1), date(2024, 12, 31))
    assert status.target == pytest.approx(117.0 * 1.05)


def test_explicit_baseline_window_and_given_baseline():
    explicit = goal(baseline_start=date(2024, 1, 1), baseline_end=date(2024, 3, 31))
    status = goal_status(explicit, rising(), higher_is_better=True, today=date(2025, 2, 10))
    assert status.baseline == pytest.approx((99.0 + 103.0 + 103.0) / 3)
    given_value = goal_status(goal(target=None, target_change=-0.1), rising(),
                              higher_is_better=False, today=date(2025, 2, 10), baseline=200.0)  # fmt: skip
    assert (given_value.baseline, given_value.target) == (200.0, pytest.approx(180.0))


def test_progress_is_the_share_of_the_way_from_baseline_to_target():
    status = goal_status(goal(target=130.0), rising(), higher_is_better=True,
                         today=date(2025, 2, 10))  # fmt: skip
    # January 2025 (t = 12) is the latest complete period: 100 + 24 - 1 = 123.
    assert (status.current, status.current_period) == (123.0, date(2025, 1, 1))
    assert status.progress == pytest.approx((123.0 - 117.0) / (130.0 - 117.0))


def test_only_complete_periods_count():
    on_first = goal_status(goal(), rising(), higher_is_better=True, today=date(2025, 3, 1))
    day_before = goal_status(goal(), rising(), higher_is_better=True, today=date(2025, 2, 28))
    assert on_first.current_period == date(2025, 2, 1)
    assert day_before.current_period == date(2025, 1, 1)


def test_a_goal_already_met_before_its_deadline():
    status = goal_status(goal(target=120.0), rising(), higher_is_better=True,
                         today=date(2025, 2, 10))  # fmt: skip
    assert status.status == "met"
    assert status.progress > 1.0  # not clipped
    assert status.days_left == 140


def test_a_goal_missed_after_its_deadline():
    status = goal_status(goal(target=150.0), rising(), higher_is_better=True,
                         today=date(2025, 7, 15))  # fmt: skip
    assert status.status == "missed"
    assert status.days_left == 0
    # June 2025 (t = 17) is observed: 100 + 34 + 1 = 135; no forecast is needed any more.
    assert status.current == status.projection == status.projection_high == 135.0
    assert status.probability == 0.0


def test_a_goal_met_at_its_deadline_stays_met_afterwards():
    status = goal_status(goal(target=135.0), rising(), higher_is_better=True,
                         today=date(2026, 1, 1))  # fmt: skip
    assert (status.status, status.current_period, status.probability) == (
        "met", date(2025, 6, 1), 1.0)  # fmt: skip


@pytest.mark.parametrize(
    ("higher_is_better", "target", "expected"),
    [(True, 133.0, "on_track"), (True, 140.0, "at_risk"), (False, 110.0, "at_risk")],
)
def test_on_track_or_at_risk_on_a_rising_series(higher_is_better, target, expected):
    status = goal_status(goal(target=target), rising(), higher_is_better=higher_is_better,
                         today=date(2025, 3, 15))  # fmt: skip
    assert status.status == expected
    assert status.current == 127.0  # February 2025, not yet beyond the target
    assert (status.probability >= 0.5) == (expected == "on_track")
    assert status.days_left == 107


def test_probability_matches_the_t_predictive_distribution_by_hand():
    status = goal_status(goal(target=133.0), rising(), higher_is_better=True,
                         today=date(2025, 3, 15))  # fmt: skip
    # History: Jan 2024..Feb 2025, t = 0..13; the deadline's period is June 2025, t = 17.
    y = rising().to_numpy()[:14]
    t = np.arange(14.0)
    slope, intercept = np.polyfit(t, y, 1)
    s = math.sqrt(np.sum((y - intercept - slope * t) ** 2) / 12)
    se = s * math.sqrt(1 + 1 / 14 + (17 - t.mean()) ** 2 / np.sum((t - t.mean()) ** 2))
    expected = intercept + slope * 17
    assert status.projection == pytest.approx(expected, rel=1e-12)
    assert status.probability == pytest.approx(stats.t.sf((133.0 - expected) / se, df=12))
    half = stats.t.ppf(0.975, df=12) * se
    assert (status.projection_low, status.projection_high) == (
        pytest.approx(expected - half), pytest.approx(expected + half))  # fmt: skip
    lower = goal_status(goal(target=133.0), rising(), higher_is_better=False,
                        today=date(2025, 3, 15))  # fmt: skip
    assert lower.probability == pytest.approx(stats.t.cdf((133.0 - expected) / se, df=12))


def test_days_left_counts_calendar_days_and_stops_at_zero():
    days = [goal_status(goal(), rising(), higher_is_better=True, today=today).days_left
            for today in (date(2025, 1, 1), date(2025, 6, 29), date(2025, 6, 30), date(2025, 7, 1))]  # fmt: skip
    assert days == [180, 1, 0, 0]


def test_a_short_history_gives_unknown_with_a_note():
    status = goal_status(goal(), rising(2), higher_is_better=True, today=date(2024, 6, 1))
    assert status.status == "unknown"
    assert math.isnan(status.probability) and math.isnan(status.projection)
    assert "too short to project: 3 points are needed for a trend; got 2." in status.note


def test_a_relative_target_without_baseline_data_is_unknown():
    recent = rising()["2025-01-01":]
    status = goal_status(goal(target=None, target_change=0.05), recent, higher_is_better=True,
                         today=date(2025, 5, 10))  # fmt: skip
    assert status.status == "unknown"
    assert math.isnan(status.baseline) and math.isnan(status.target)
    assert "No value of the series in the baseline window 2024-07-01..2024-12-31" in status.note


def test_a_target_equal_to_the_baseline_has_undefined_progress():
    status = goal_status(goal(target=120.0), rising(), higher_is_better=True,
                         today=date(2025, 2, 10), baseline=120.0)  # fmt: skip
    assert math.isnan(status.progress)
    assert "progress is undefined" in status.note


def test_a_target_against_the_kpi_direction_is_pointed_out():
    status = goal_status(goal(target=None, target_change=-0.05), rising(), higher_is_better=True,
                         today=date(2025, 2, 10))  # fmt: skip
    assert "is below the baseline (117) although higher is better" in status.note


def test_to_row_is_flat_and_named():
    row = goal_status(goal(channel="email"), rising(), higher_is_better=True,
                      today=datetime(2025, 3, 15, 12, 0)).to_row()  # fmt: skip
    assert row["goal"] == "g" and row["channel"] == "email" and row["status"] in STATUSES
    assert set(row) >= {"kpi", "baseline", "target", "current", "progress", "projection",
                        "probability", "days_left", "note", "deadline"}  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"higher_is_better": 1}, "The 'higher_is_better' parameter of goal_status must be a bool"),
        ({"today": "2025-01-01"}, "The 'today' parameter of goal_status must be a date"),
        ({"baseline": float("inf")}, "The 'baseline' parameter of goal_status must be a finite"),
        ({"level": 2}, "The 'level' parameter of goal_status must be a float in (0, 1)"),
    ],
)
def test_goal_status_refuses_bad_arguments(kwargs, message):
    arguments = {"higher_is_better": True, "today": date(2025, 3, 1)} | kwargs
    with pytest.raises(ConfigError) as caught:
        goal_status(goal(), rising(), **arguments)
    assert message in str(caught.value)


@settings(max_examples=80, deadline=None)
@given(
    expected=st.floats(-1e3, 1e3),
    se=st.floats(1e-3, 1e3),
    df=st.integers(1, 200),
    threshold=st.floats(-1e3, 1e3),
)
def test_probabilities_of_both_directions_add_up_and_fall_with_the_target(
    expected, se, df, threshold
):
    up = probability_beyond(expected, se, df, threshold, higher_is_better=True)
    down = probability_beyond(expected, se, df, threshold, higher_is_better=False)
    assert 0.0 <= up <= 1.0
    assert up + down == pytest.approx(1.0)
    assert probability_beyond(expected, se, df, threshold + 1.0, higher_is_better=True) <= up
    if abs(expected - threshold) > 1e-9 * se:  # on-track means the projection reaches the target
        assert (up > 0.5) == (expected > threshold)


# Every goal of a warehouse


def test_evaluate_goals_measures_each_declared_goal_on_its_kpi_series(wh, tmp_path):
    from omnimetrics.metrics.goals import evaluate_goals
    from omnimetrics.metrics.kpis import kpi_series
    from tests.helpers import NOW, write

    orders = ("order_id,timestamp,sales_channel,revenue,currency,customer_id\n"
              "O1,2026-03-02T12:00:00Z,web,100,EUR,C1\nO2,2026-03-05T12:00:00Z,store,50,EUR,C2\n"
              "O3,2026-04-03T12:00:00Z,web,60,EUR,C1\nO4,2026-04-10T12:00:00Z,app,40,EUR,C3\n")  # fmt: skip
    wh.ingest("orders", write(tmp_path / "orders.csv", orders), now=NOW)
    # Visits on the first and last days: the data covers March and April whole (not partial).
    visits = (
        "event_id,timestamp,event_type,anonymous_id\n"
        "v1,2026-03-01T08:00:00Z,visit,a1\nv2,2026-04-30T20:00:00Z,visit,a2\n"
    )
    wh.ingest("touchpoints", write(tmp_path / "touchpoints.csv", visits), now=NOW)
    wh.resolve_identities()
    with pytest.raises(ConfigError, match=r"No goals declared: add \[\[goals\]\]"):
        evaluate_goals(wh)
    declared = ({"name": "grow", "kpi": "revenue", "target": 200, "start": date(2026, 4, 1),
                 "deadline": date(2026, 6, 30)},
                {"name": "web", "kpi": "average_basket", "target": 90, "channel": "web",
                 "start": date(2026, 4, 1), "deadline": date(2026, 6, 30)})  # fmt: skip
    with_goals = wh.using(wh.settings.with_(goals=declared))
    today = date(2026, 5, 15)
    grow, web = evaluate_goals(with_goals, today=today)
    assert (grow.goal.name, grow.current, grow.target) == ("grow", 100.0, 200.0)  # April
    assert (web.goal.where, web.current) == ({"channel": "web"}, 60.0)  # O3 alone in April
    by_hand = goal_status(goals_from_config(declared)[1], kpi_series(wh, "average_basket",
                          where={"channel": "web"}), higher_is_better=True, today=today)  # fmt: skip
    assert pd.Series(web.to_row()).equals(pd.Series(by_hand.to_row()))


# The KPI's possible values


def falling(periods: int = 12) -> pd.Series:
    """Monthly revenue from 2024-01: 1000 - 90t with a ±5 wobble: below 0 from t = 12."""
    t = np.arange(periods)
    values = 1000.0 - 90.0 * t + np.where(t % 2 == 0, -5.0, 5.0)
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=periods, freq="MS"))


def test_a_goal_projection_stays_within_the_kpis_range():
    shrink = goal(start=date(2024, 10, 1), deadline=date(2025, 6, 30), target=200.0)
    today = date(2025, 1, 1)  # twelve complete months, the deadline six months ahead
    free = goal_status(shrink, falling(), higher_is_better=True, today=today)
    assert free.projection < 0 and free.projection_low < 0  # the bare line
    kept = goal_status(shrink, falling(), higher_is_better=True, today=today,
                       bounds=(0.0, math.inf))  # fmt: skip
    assert kept.projection == 0.0 and kept.projection_low == 0.0
    assert kept.projection_high == max(0.0, free.projection_high)
    assert kept.probability == pytest.approx(free.probability)  # the target is inside the range
    assert "possible range [0, inf)" in kept.note
    # A share can never pass 1: a target of 1.2 is met with probability 0, whatever the trend.
    share = pd.Series(np.linspace(0.5, 0.95, 12), index=falling().index)
    above = goal(kpi="csat", start=date(2024, 10, 1), deadline=date(2025, 6, 30), target=1.2)
    status = goal_status(above, share, higher_is_better=True, today=today, bounds=(0.0, 1.0))
    assert status.probability == 0.0 and status.status == "at_risk"
    assert status.projection_high <= 1.0 and "cannot be met" in status.note
    # Lower is better and the target is the ceiling: every possible value meets it.
    wobbly = share + np.where(np.arange(12) % 2 == 0, -0.04, 0.04)
    easy = goal(kpi="churn_rate", start=date(2024, 10, 1), deadline=date(2025, 6, 30), target=1)
    bare = goal_status(easy, wobbly, higher_is_better=False, today=today)
    sure = goal_status(easy, wobbly, higher_is_better=False, today=today, bounds=(0.0, 1.0))
    assert bare.probability < 1.0 and sure.probability == 1.0
    with pytest.raises(ConfigError, match="'bounds' parameter of goal_status"):
        goal_status(shrink, falling(), higher_is_better=True, today=today, bounds=(0.0,))
