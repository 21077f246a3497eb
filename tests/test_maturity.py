"""Maturity: indicators computed by hand on a tiny warehouse, scores and levels, the
questionnaire, model support verdicts, the business case, and one simulated world."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime

import pandas as pd
import pytest

import omnimetrics
from omnimetrics import journeys as jr
from omnimetrics.config import Settings
from omnimetrics.errors import ConfigError, UnknownNameError
from omnimetrics.metrics import maturity as mt
from tests.helpers import SECRET, loaded_world, write

NOW = datetime(2026, 6, 1, tzinfo=UTC)
MARCH_END = datetime(2026, 3, 31, 12, tzinfo=UTC)

TOUCH = "event_id,timestamp,event_type,anonymous_id,customer_id,source,medium,channel\n"
MARCH_TOUCHES = (
    "t1,2026-03-01T10:00:00Z,visit,,C1,google,cpc,\n"  # paid_search
    "t2,2026-03-02T10:00:00Z,visit,,C2,google,cpc,\n"  # paid_search
    "t3,2026-03-05T10:00:00Z,ad_click,A9,,,,display\n"  # anonymous
    "t5,2026-03-03T10:00:00Z,visit,A8,,google,organic,\n"  # organic_search, anonymous
    "tx,2026-03-03T11:00:00Z,teleport,A8,,,,\n"  # quarantined: unknown event type
)
APRIL_TOUCHES = "t4,2026-04-10T10:00:00Z,email_click,,C3,,,email\n"
ORDERS = (
    "order_id,timestamp,sales_channel,revenue,currency,customer_id,loyalty_id\n"
    "O1,2026-03-02T12:00:00Z,web,100,EUR,C1,\n"
    "O2,2026-03-03T12:00:00Z,store,200,EUR,C2,\n"
    "O3,2026-03-04T12:00:00Z,store,300,EUR,,\n"  # anonymous store sale
    "O4,2026-04-15T12:00:00Z,call_centre,100,EUR,C3,\n"
    "O5,2026-04-20T12:00:00Z,store,400,EUR,,L5\n"  # identified by its loyalty card only
    "O6,2026-04-25T12:00:00Z,web,60,EUR,C1,\n"  # C1 buys again
)
SPEND = (
    "date,channel,campaign,spend,currency\n"
    "2026-03-02,paid_search,brand,100,EUR\n"
    "2026-04-15,email,news,50,EUR\n"
)
FEEDBACK = (
    "response_id,timestamp,customer_id,survey_type,score\n"
    "F1,2026-03-10T10:00:00Z,C1,nps,9\n"
    "F2,2026-04-30T10:00:00Z,C2,csat,4\n"
    "F3,2026-03-20T10:00:00Z,C4,nps,3\n"  # C4 never buys
    "F4,2026-04-22T10:00:00Z,C3,nps,8\n"
)
CUSTOMERS = (
    "customer_id,consent_analytics,consent_marketing,created_at\n"
    "C1,true,true,2026-01-01T00:00:00Z\n"
    "C2,true,false,2026-01-01T00:00:00Z\n"
    "C3,true,true,2026-01-01T00:00:00Z\n"
    "C4,true,,2026-04-01T00:00:00Z\n"  # marketing consent not recorded
)
ASSIGNMENTS = (
    "experiment,variant,unit_type,unit_id\n"
    "exp1,A,customer_id,u1\nexp1,A,customer_id,u2\nexp1,B,customer_id,u3\n"
    "exp2,A,customer_id,u4\n"
)


def connect(folder):
    return omnimetrics.connect(folder / "w.duckdb", settings=Settings(secret=SECRET))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The hand-computed warehouse; tests only read it."""
    folder = tmp_path_factory.mktemp("maturity")
    wh = connect(folder)
    wh.ingest("touchpoints", write(folder / "t3.csv", TOUCH + MARCH_TOUCHES), now=MARCH_END)
    for table, name, text in (
        ("touchpoints", "t4.csv", TOUCH + APRIL_TOUCHES),
        ("orders", "o.csv", ORDERS),
        ("spend", "s.csv", SPEND),
        ("feedback", "f.csv", FEEDBACK),
        ("customers", "c.csv", CUSTOMERS),
        ("experiment_assignments", "x.csv", ASSIGNMENTS),
    ):
        wh.ingest(table, write(folder / name, text), now=NOW)
    wh.resolve_identities()
    jr.build_events(wh)
    yield wh
    wh.close()


def values(frame) -> dict[str, float]:
    return dict(zip(frame.indicator, frame.value, strict=True))


def test_indicators_by_hand(tiny):
    frame = mt.maturity_indicators(tiny)
    got = values(frame)
    # Rows read: 5 + 1 touchpoints, 6 orders, 2 spend, 4 feedback, 4 customers, 4 assignments.
    assert got["data_quality"] == pytest.approx(1 - 1 / 26)
    assert got["channels_tracked"] == 4  # paid_search, display, organic_search, email
    assert got["channels_with_spend"] == pytest.approx(2 / 3)  # display has no spend
    assert got["identity_match_rate"] == pytest.approx(5 / 6)  # O3 is anonymous
    assert got["identified_touchpoints"] == pytest.approx(3 / 5)  # A8 and A9 are cookies
    assert got["offline_revenue_linked"] == pytest.approx((200 + 100) / 1000)  # O2, O4
    assert got["store_orders_identified"] == pytest.approx(2 / 3)  # O2, O5 of O2, O3, O5
    assert got["survey_coverage"] == pytest.approx(3 / 4)  # C1, C2, C3 of C1, C2, C3, L5
    assert got["consent_coverage"] == pytest.approx(3 / 4)  # C4 lacks marketing consent
    assert (frame.note == "").all()
    row = frame.set_index("indicator").loc["channels_with_spend"]
    assert "no spend: display" in row.detail and (row.poor, row.good) == (0.5, 1.0)
    assert set(frame.columns) >= {"dimension", "measures", "unit", "poor", "good"}


def test_as_of_keeps_only_the_rows_up_to_that_day(tiny):
    got = values(mt.maturity_indicators(tiny, as_of=date(2026, 3, 31)))
    assert got["data_quality"] == pytest.approx(1 - 1 / 5)  # only the March file was ingested
    assert got["freshness_days"] == pytest.approx(27.5)  # O3, 4 March 12:00 -> 1 April 00:00
    assert got["channels_tracked"] == 3
    assert got["channels_with_spend"] == pytest.approx(1 / 2)
    assert got["identity_match_rate"] == pytest.approx(2 / 3)
    assert got["identified_touchpoints"] == pytest.approx(2 / 4)
    assert got["offline_revenue_linked"] == pytest.approx(200 / 500)
    assert got["store_orders_identified"] == pytest.approx(1 / 2)
    assert got["survey_coverage"] == pytest.approx(1 / 2)  # C2 answered only in April
    assert got["consent_coverage"] == 1.0  # C4 was created in April
    april = values(mt.maturity_indicators(tiny, as_of="2026-04-30"))
    assert april["freshness_days"] == pytest.approx(20 + 14 / 24)  # t4, the staler feed
    assert april["data_quality"] == pytest.approx(1 - 1 / 5)  # the others came in June


def test_missing_tables_give_nan_and_a_note_not_zero(tmp_path):
    wh = connect(tmp_path)
    wh.ingest("touchpoints", write(tmp_path / "t.csv", TOUCH + APRIL_TOUCHES), now=NOW)
    wh.ingest("orders", write(tmp_path / "o.csv", ORDERS), now=NOW)
    wh.resolve_identities()  # no journeys built: no events table
    frame = mt.maturity_indicators(wh).set_index("indicator")
    for name, table in (
        ("channels_with_spend", "spend"),
        ("survey_coverage", "feedback"),
        ("consent_coverage", "customers"),
        ("offline_revenue_linked", "events"),
    ):
        assert math.isnan(frame.loc[name, "value"]), name
        assert table in frame.loc[name, "note"], name
    assert "omnimetrics journeys" in frame.loc["offline_revenue_linked", "note"]
    assert "omnimetrics ingest spend" in frame.loc["channels_with_spend", "note"]
    report = mt.assess(wh, as_of="2026-04-30", models=False)
    dims = report.dimensions.set_index("dimension")
    assert math.isnan(dims.loc["privacy", "score"]) and pd.isna(dims.loc["privacy", "level"])
    assert dims.loc["offline", "unknown"] == 1
    # The offline score is store_orders_identified alone: the unknown one is not a zero.
    assert dims.loc["offline", "score"] == pytest.approx(100 * (2 / 3 - 0.2) / 0.5)
    assert not math.isnan(report.score)
    assert any("privacy" in n and "left out" in n for n in report.notes)
    assert any(r.startswith("consent_coverage cannot be measured") for r in report.recommendations)
    support = mt.model_support(wh, "experiments")
    assert not support.supported and "experiment_assignments" in support.reasons[0]
    wh.close()


def test_scores_and_level_cutoffs():
    assert mt.indicator_score(0.3, 0.1, 0.6) == pytest.approx(40)
    assert mt.indicator_score(0.05, 0.1, 0.6) == 0 and mt.indicator_score(0.9, 0.1, 0.6) == 100
    assert mt.indicator_score(15.5, 30, 1) == pytest.approx(50)  # fewer days is better
    assert math.isnan(mt.indicator_score(math.nan, 0, 1))
    assert [mt.level_of(s) for s in (0, 24.99, 25, 49.9, 50, 74.9, 75, 100)] == [
        1, 1, 2, 2, 3, 3, 4, 4]  # fmt: skip
    assert mt.level_of(math.nan) is None
    assert mt.LEVELS == {1: "siloed", 2: "multichannel", 3: "cross-channel", 4: "omnichannel"}


def test_assess_weights_levels_and_recommendations(tiny):
    answers = {"single_stock_view": "no", "shared_kpis": 3, "unified_customer_view": "yes"}
    report = mt.assess(tiny, as_of=date(2026, 4, 30), answers=answers, models=False)
    dims = report.dimensions.set_index("dimension")
    offline = (2 * 40 + 1 * 100 * (2 / 3 - 0.2) / 0.5) / 3  # weights 2 and 1
    assert dims.loc["offline", "score"] == pytest.approx(offline)
    assert dims.loc["offline", "level_name"] == "cross-channel"
    assert dims.loc["organisation", "score"] == pytest.approx((0 + 75 + 100) / 3)
    known = report.dimensions.dropna(subset=["score"])
    overall = (known.score * known.weight).sum() / known.weight.sum()
    assert report.score == pytest.approx(overall)
    assert report.level == mt.level_of(overall) and report.level_name == mt.LEVELS[report.level]
    assert any("7 question(s) unanswered" in n for n in report.notes)
    # Weakest first: two zero scores (the stock question answered "no"; 1 quarantined row in 5
    # read by April, below the 90% floor), then freshness (score 32.5), then channel counts.
    quality = "20.0% of the rows read were quarantined (most in touchpoints)"
    assert report.recommendations[0].startswith(quality)
    assert report.recommendations[1].startswith(mt.QUESTIONS["single_stock_view"].advice)
    assert report.recommendations[2].startswith("The newest touchpoints are 21 days old")
    assert any(
        r.startswith("1 channel(s) have touches but no spend data: display")
        for r in report.recommendations
    )
    assert not any("store orders carry" in r for r in report.recommendations)  # scores 93
    assert report.to_dict()["level_name"] == report.level_name


def test_compare_shows_progress(tiny):
    march = mt.assess(tiny, as_of="2026-03-31", models=False)
    april = mt.assess(tiny, as_of="2026-04-30", models=False)
    table = mt.compare(march, april).set_index(["dimension", "indicator"])
    row = table.loc[("identity", "identity_match_rate")]
    assert (row.before, row.after) == (pytest.approx(2 / 3), pytest.approx(5 / 6))
    assert row.change == pytest.approx(5 / 6 - 2 / 3)
    overall = table.loc[("overall", "score")]
    assert overall.change == pytest.approx(april.score - march.score)
    assert list(table.columns) == ["unit", "before", "after", "change"]


def test_questionnaire_files_and_validation(tmp_path):
    toml = write(tmp_path / "a.toml", '[answers]\nunified_customer_view = "Yes"\nshared_kpis = 3\n')
    assert mt.load_answers(toml) == {"unified_customer_view": 4, "shared_kpis": 3}
    js = write(
        tmp_path / "a.json", json.dumps({"single_stock_view": "partly", "store_staff_tools": 0})
    )
    assert mt.load_answers(js) == {"single_stock_view": 2, "store_staff_tools": 0}
    bad = write(tmp_path / "b.toml", "shared_kpis = 5\n")
    with pytest.raises(ConfigError, match=r"'shared_kpis'.*0, 1, 2, 3, 4.*yes, partly, no.*Got 5"):
        mt.load_answers(bad)
    with pytest.raises(ConfigError, match=r"unknown question 'shared_kpi'.*'shared_kpis'"):
        mt.validate_answers({"shared_kpi": 2})
    with pytest.raises(ConfigError, match="single_stock_view"):
        mt.validate_answers({"single_stock_view": True})  # a bool is not a 0-4 answer
    with pytest.raises(ConfigError, match="maybe"):
        mt.validate_answers({"single_stock_view": "maybe"})
    with pytest.raises(ConfigError, match=r"\.toml or \.json"):
        mt.load_answers(write(tmp_path / "a.yaml", "x: 1\n"))
    with pytest.raises(ConfigError, match="not valid TOML"):
        mt.load_answers(write(tmp_path / "c.toml", "shared_kpis = \n"))
    assert 8 <= len(mt.QUESTIONS) <= 10
    assert mt.validate_answers(mt.load_answers(toml)) == {
        "unified_customer_view": 4,
        "shared_kpis": 3,
    }
    assert "[answers]" in mt.questionnaire_template()


def test_attribution_support(tiny):
    support = mt.model_support(tiny, "attribution", min_conversions=2)
    assert not support.supported
    # O1 and O2 come after paid_search visits, O4 after an email click; O6 has no new touch.
    assert support.figures["conversions_by_channel"] == {
        "display": 0, "email": 1, "organic_search": 0, "paid_search": 2}  # fmt: skip
    assert support.figures["unsupported_channels"] == ["display", "email", "organic_search"]
    assert "display (0)" in support.reasons[0] and "email (1)" in support.reasons[0]
    default = mt.model_support(tiny, "attribution")
    assert "Only 3 orders have a journey" in default.reasons[0]
    early = mt.model_support(tiny, "attribution", as_of="2026-03-02", min_conversions=1)
    assert early.supported and early.figures["conversions_by_channel"] == {"paid_search": 1}


def test_mmm_support(tiny):
    # Spend weeks (Mondays) 2 March and 13 April both have orders.
    short = mt.model_support(tiny, "mmm")
    assert not short.supported and short.figures["weeks_with_spend_and_orders"] == 2
    assert "at least 26" in short.reasons[0] and "52 recommended" in short.reasons[0]
    fits = mt.model_support(tiny, "mmm", min_weeks=2, recommended_weeks=3)
    assert fits.supported and "3 are recommended" in fits.reasons[0]
    assert mt.model_support(tiny, "mmm", min_weeks=1, recommended_weeks=2).supported


def test_clv_and_experiment_support(tiny):
    clv = mt.model_support(tiny, "clv")
    assert not clv.supported and (clv.figures["buyers"], clv.figures["repeat_buyers"]) == (4, 1)
    assert "Only 1 identified customers" in clv.reasons[0]
    assert mt.model_support(tiny, "clv", min_repeat_buyers=1).supported
    exp = mt.model_support(tiny, "experiments", min_units_per_variant=1)
    assert exp.figures["units"] == {"exp1": {"A": 2, "B": 1}, "exp2": {"A": 1}}
    assert not exp.supported and exp.figures["unsupported_experiments"] == ["exp2"]
    assert "only one variant" in exp.reasons[0]
    strict = mt.model_support(tiny, "experiments", min_units_per_variant=2)
    assert strict.figures["unsupported_experiments"] == ["exp1", "exp2"]
    assert "B (1)" in strict.reasons[0]


def test_model_support_names_and_options(tiny):
    with pytest.raises(UnknownNameError, match=r"Unknown model kind 'mmn'.*'mmm'"):
        mt.model_support(tiny, "mmn")
    with pytest.raises(ConfigError, match=r"no option 'min_week'.*'min_weeks'"):
        mt.model_support(tiny, "mmm", min_week=10)
    with pytest.raises(ConfigError, match=r"positive integer\. Got -1"):
        mt.model_support(tiny, "clv", min_repeat_buyers=-1)
    assert set(mt.SUPPORT_CHECKS) == {"attribution", "mmm", "clv", "experiments"}


def test_business_case_by_hand():
    current = {"conversion_rate": 0.02, "average_basket": 50.0, "retention": 0.25}
    targets = {"conversion_rate": 0.025, "average_basket": 55.0, "retention": 0.30}
    case = mt.business_case(
        current, targets, orders=1000, revenue=50_000, spend=10_000, margin_rate=0.4
    ).set_index("measure")
    # The conversion rate is orders per session: traffic is orders / rate, repeat orders in.
    assert case.loc["traffic", "current"] == pytest.approx(1000 / 0.02)  # 50 000
    assert case.loc["orders", "projected"] == pytest.approx(50_000 * 0.025 * 1.3 / 1.25)  # 1 300
    assert case.loc["revenue", "projected"] == pytest.approx(50_000 * 1.3 * 1.1)  # 71 500
    assert case.loc["revenue", "change"] == pytest.approx(21_500)
    assert case.loc["margin", "change"] == pytest.approx(21_500 * 0.4)
    assert case.loc["roi", "current"] == pytest.approx((20_000 - 10_000) / 10_000)
    assert case.loc["roi", "projected"] == pytest.approx((28_600 - 10_000) / 10_000)
    assert case.loc["roas", "projected"] == pytest.approx(7.15)
    more = mt.business_case(
        current, {**targets, "spend": 12_000}, orders=1000, revenue=50_000, spend=10_000,
        margin_rate=0.4,
    ).set_index("measure")  # fmt: skip
    assert more.loc["roi", "projected"] == pytest.approx((28_600 - 12_000) / 12_000)
    plain = mt.business_case({"conversion_rate": 0.02}, {"conversion_rate": 0.03}, orders=10,
                             revenue=500, spend=100).set_index("measure")  # fmt: skip
    assert "retention" not in plain.index
    assert plain.loc["revenue", "projected"] == pytest.approx(750)
    assert plain.loc["average_basket", "current"] == pytest.approx(50)
    assert math.isnan(plain.loc["roi", "projected"])  # no margin rate: no ROI, not a guess
    assert plain.loc["roas", "relative_change"] == pytest.approx(0.5)


def test_business_case_moves_only_the_orders_its_conversion_rate_counts():
    # 1 000 orders, 400 of them web and app orders of 10 000 sessions (4 %), 600 in store.
    current = {"conversion_rate": 0.04, "average_basket": 50.0}
    inputs = {"orders": 1000, "revenue": 50_000, "spend": 0.0, "session_orders": 400,
              "session_revenue": 24_000}  # fmt: skip
    case = mt.business_case(current, {"conversion_rate": 0.05}, **inputs).set_index("measure")
    assert case.loc["traffic", "current"] == pytest.approx(10_000)  # 400 / 0.04: the sessions
    assert case.loc["session_orders", "projected"] == pytest.approx(10_000 * 0.05)  # 500
    assert case.loc["other_orders", "projected"] == 600  # store orders held
    assert case.loc["orders", "projected"] == pytest.approx(1100)
    assert case.loc["revenue", "projected"] == pytest.approx(24_000 * 1.25 + 26_000)  # 56 000
    # Every order scaled instead (the mixed base) would have said 1 250 orders, 62 500.
    mixed = mt.business_case(current, {"conversion_rate": 0.05}, orders=1000, revenue=50_000,
                             spend=0.0).set_index("measure")  # fmt: skip
    assert mixed.loc["revenue", "projected"] == pytest.approx(62_500)
    with pytest.raises(ConfigError, match="'session_orders' of the business case"):
        mt.business_case(current, {}, **{**inputs, "session_orders": 1001})


def test_business_case_errors():
    with pytest.raises(ConfigError, match=r"Unknown target KPI 'conversion'.*'conversion_rate'"):
        mt.business_case({"conversion_rate": 0.02}, {"conversion": 0.03}, orders=1, revenue=1,
                         spend=1)  # fmt: skip
    with pytest.raises(ConfigError, match=r"'conversion_rate' must be a number in \(0, 1\]"):
        mt.business_case({"conversion_rate": 0}, {}, orders=1, revenue=1, spend=1)
    with pytest.raises(ConfigError, match="current 'retention'"):
        mt.business_case({"conversion_rate": 0.1}, {"retention": 0.3}, orders=1, revenue=1,
                         spend=1)  # fmt: skip
    with pytest.raises(ConfigError, match="needs the current 'conversion_rate'"):
        mt.business_case({}, {}, orders=1, revenue=1, spend=1)


def test_simulated_world_report(tmp_path):
    _, wh = loaded_world(tmp_path, 800, 60, 5)
    wh.resolve_identities()
    jr.build_events(wh)
    report = mt.assess(wh, answers={"shared_kpis": "partly"})
    shares = report.indicators[report.indicators.unit.isin(["share", "answer"])]
    assert shares.value.notna().all()
    assert ((shares.value >= 0) & (shares.value <= 1)).all()
    assert ((report.indicators.score >= 0) & (report.indicators.score <= 100)).all()
    assert 0 <= report.score <= 100 and report.level in mt.LEVELS
    assert report.recommendations
    assert json.loads(json.dumps(report.to_dict(), default=str))["level"] == report.level
    assert {s.kind for s in report.models} == set(mt.SUPPORT_CHECKS)
    wh.close()
