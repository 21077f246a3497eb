"""KPIs on a tiny hand-built warehouse: every formula checked by hand."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from omnimetrics import journeys as jr
from omnimetrics.errors import UnknownNameError
from omnimetrics.metrics.kpis import KPI_SETS, KPIS, compute_kpis, get_kpi, kpi_series
from tests.helpers import write

NOW = datetime(2026, 6, 1, tzinfo=UTC)
MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)

ORDERS = """order_id,timestamp,sales_channel,revenue,currency,customer_id,fulfilment,margin,returned_amount
O1,2026-03-02T12:00:00Z,web,100,EUR,C1,delivery,40,10
O2,2026-03-05T12:00:00Z,store,50,EUR,C2,in_store,20,
O3,2026-04-03T12:00:00Z,web,60,EUR,C1,click_and_collect,30,
O4,2026-04-10T12:00:00Z,app,40,EUR,C3,delivery,10,0
"""
TOUCHES = """event_id,timestamp,event_type,customer_id,source,medium,campaign,duration_seconds
t1,2026-03-01T10:00:00Z,visit,C1,google,cpc,brand,100
t2,2026-03-04T10:00:00Z,visit,C2,newsletter,email,spring,200
t5,2026-03-20T10:00:00Z,visit,C3,google,cpc,brand,60
t3,2026-04-03T09:00:00Z,visit,C1,,,,300
t4,2026-04-09T10:00:00Z,visit,C3,google,organic,,50
s1,2026-03-03T09:00:00Z,email_send,C1,newsletter,email,spring,
s1o,2026-03-03T09:00:20Z,email_open,C1,newsletter,email,spring,
s2,2026-03-03T09:00:00Z,email_send,C2,newsletter,email,spring,
s2o,2026-03-03T12:00:00Z,email_open,C2,newsletter,email,spring,
s2c,2026-03-03T12:01:00Z,email_click,C2,newsletter,email,spring,
s3,2026-03-03T09:00:00Z,email_send,C3,newsletter,email,spring,
c1,2026-04-05T10:00:00Z,call,C2,,,,
"""
SPEND = """date,channel,campaign,spend,currency,impressions,clicks
2026-03-01,paid_search,brand,300,EUR,1000,50
2026-03-01,email,spring,30,EUR,,
2026-04-01,paid_search,brand,200,EUR,1000,30
2026-04-01,call_centre,,100,EUR,,
"""
FEEDBACK = """response_id,timestamp,customer_id,survey_type,score,channel
f1,2026-03-10T10:00:00Z,C1,nps,10,email
f2,2026-03-10T10:00:00Z,C2,nps,5,store
f3,2026-03-10T10:00:00Z,C3,nps,8,app
f4,2026-03-11T10:00:00Z,C1,csat,5,email
f5,2026-03-11T10:00:00Z,C2,csat,3,store
"""


@pytest.fixture
def shop(wh, tmp_path):
    for table, text in (("orders", ORDERS), ("touchpoints", TOUCHES), ("spend", SPEND),
                        ("feedback", FEEDBACK)):  # fmt: skip
        report = wh.ingest(table, write(tmp_path / f"{table}.csv", text), now=NOW)
        assert report.quarantined == 0, report.reasons
    wh.resolve_identities()
    jr.build_events(wh)
    return wh


METRIC_COLUMNS = {"kpi", "value", "numerator", "denominator", "persons", "previous", "change",
                  "change_kind", "change_note", "suppressed", "flag", "partial"}  # fmt: skip


def values(result, kpi, **where) -> dict:
    """{period: value}, or {(period, dimension...): value} when the table has dimensions."""
    table = result.table[result.table.kpi == kpi]
    for column, value in where.items():
        table = table[table[column] == value]
    dims = [c for c in table.columns if c not in METRIC_COLUMNS]
    return {tuple(None if pd.isna(row[d]) else row[d] for d in dims) if len(dims) > 1 else row[dims[0]]: row["value"]
            for _, row in table.iterrows()}  # fmt: skip


def test_sales_and_customer_kpis_by_month(shop):
    result = compute_kpis(shop, ["revenue", "orders", "average_basket", "new_customers",
                                 "returning_customers", "repeat_purchase_rate", "margin",
                                 "return_rate", "click_and_collect_share"])  # fmt: skip
    assert values(result, "revenue") == {MARCH: 150, APRIL: 100}
    assert values(result, "orders") == {MARCH: 2, APRIL: 2}
    assert values(result, "average_basket") == {MARCH: 75, APRIL: 50}
    assert values(result, "new_customers") == {MARCH: 2, APRIL: 1}  # C1, C2; then C3
    assert values(result, "returning_customers") == {MARCH: 0, APRIL: 1}  # C1 again
    assert values(result, "repeat_purchase_rate") == {MARCH: 0, APRIL: 0.5}
    assert values(result, "margin") == {MARCH: 60, APRIL: 40}
    assert values(result, "return_rate")[MARCH] == pytest.approx(10 / 150)
    assert values(result, "click_and_collect_share") == {MARCH: 0, APRIL: 0.5}
    revenue = result.table[result.table.kpi == "revenue"].set_index("period")
    assert revenue.loc[APRIL, "previous"] == 150
    # The data ends on 10 April: April is partial, and not compared with a whole March.
    assert revenue.partial.to_dict() == {MARCH: False, APRIL: True}
    assert math.isnan(revenue.loc[APRIL, "change"]) and math.isnan(revenue.loc[MARCH, "change"])
    assert revenue.loc[APRIL, "change_note"].startswith("partial period")


def test_partial_periods(shop):
    """The shop's data runs from 1 March (a visit) to 10 April (an order)."""

    def partial(**kwargs) -> dict:
        table = compute_kpis(shop, ["revenue"], **kwargs).table
        return dict(zip(table.period, table.partial, strict=True))

    assert partial() == {MARCH: False, APRIL: True}
    assert partial(until=date(2026, 3, 20)) == {MARCH: True}  # the window ends before March
    assert partial(since=date(2026, 3, 5)) == {MARCH: True, APRIL: True}
    assert partial(until=date(2026, 4, 30)) == {MARCH: False, APRIL: True}  # no data after 10/4
    # Weeks start on Monday: the data starts on Sunday 1 March, so the week of 23 February is
    # partial (it has visits, no order), and so is the week of 6 April (it ends on the 12th).
    weeks = compute_kpis(shop, ["sessions", "revenue"], grain="week").table
    flags = weeks.groupby("period").partial.first()
    assert flags.to_dict() == {date(2026, 2, 23): True, date(2026, 3, 2): False,
                               date(2026, 3, 16): False, date(2026, 3, 30): False,
                               date(2026, 4, 6): True}  # fmt: skip
    assert set(partial(grain="total").values()) == {False}
    # The week after a partial one keeps its value and the previous one, without a change.
    visits = weeks[weeks.kpi == "sessions"].set_index("period")
    assert (
        visits.loc[date(2026, 3, 2), "previous"] == 1 and visits.loc[date(2026, 3, 2), "value"] > 0
    )
    assert math.isnan(visits.loc[date(2026, 3, 2), "change"])
    assert visits.loc[date(2026, 3, 2), "change_note"].startswith("the previous period")


def test_kpis_by_sales_channel_and_small_cells(shop):
    result = compute_kpis(shop, ["revenue"], by=["channel"])
    assert values(result, "revenue") == {(MARCH, "web"): 100, (MARCH, "store"): 50,
                                         (APRIL, "web"): 60, (APRIL, "app"): 40}  # fmt: skip
    shared = compute_kpis(shop, ["revenue", "orders"], min_cell_persons=2)
    rows = shared.table.set_index(["kpi", "period"])
    assert rows.loc[("revenue", MARCH), "value"] == 150  # two persons: shown
    assert not rows.loc[("revenue", MARCH), "suppressed"]
    by_channel = compute_kpis(shop, ["revenue"], by=["channel"], min_cell_persons=2)
    assert by_channel.table.suppressed.all() and by_channel.table.value.isna().all()


def test_conversion_sessions_and_omnichannel(shop):
    result = compute_kpis(shop, ["sessions", "conversion_rate", "omnichannel_conversion_rate",
                                 "time_on_site"])  # fmt: skip
    assert values(result, "sessions") == {MARCH: 3, APRIL: 2}
    # Web and app orders per session: March O1 (web; O2 is a store sale, not of a session) over
    # t1, t2, t5; April O3 (web) and O4 (app) over t3, t4.
    assert values(result, "conversion_rate") == {MARCH: pytest.approx(1 / 3), APRIL: 1.0}
    by_channel = compute_kpis(shop, ["conversion_rate"], by=["channel"])
    rates = values(by_channel, "conversion_rate")
    # last touches: O1 paid_search (t1), O2 email (t2, but a store order), O3 direct, O4 organic
    assert rates[(MARCH, "paid_search")] == 0.5 and rates[(MARCH, "email")] == 0.0
    # Nobody interacted on two channels in a month (C2's email click and visit are one channel;
    # sends and opens are no interaction; the store order is no channel): no base, no value.
    assert values(result, "omnichannel_conversion_rate") == {}
    assert values(result, "time_on_site")[MARCH] == pytest.approx((100 + 200 + 60) / 3)


def test_email_kpis_with_and_without_machine_opens(shop):
    names = ["email_open_rate", "email_open_rate_human", "machine_open_share",
             "email_click_rate", "email_click_to_open_rate"]  # fmt: skip
    result = compute_kpis(shop, names)
    got = {name: values(result, name)[MARCH] for name in names}
    # 3 sends; C1 opened 20 s after the send (a proxy), C2 three hours later and clicked.
    assert got == pytest.approx({"email_open_rate": 2 / 3, "email_open_rate_human": 1 / 3,
                                 "machine_open_share": 0.5, "email_click_rate": 1 / 3,
                                 "email_click_to_open_rate": 1.0})  # fmt: skip


def test_marketing_efficiency_blended_and_attributed(shop):
    result = compute_kpis(shop, ["spend", "cac", "roas", "roi", "ctr"])
    assert values(result, "spend") == {MARCH: 330, APRIL: 300}
    assert values(result, "cac") == {MARCH: 165, APRIL: 300}
    assert values(result, "roas")[MARCH] == pytest.approx(150 / 330)
    assert values(result, "roi")[MARCH] == pytest.approx((60 - 330) / 330)
    assert values(result, "ctr") == {MARCH: 0.05, APRIL: 0.03}
    by_channel = compute_kpis(shop, ["cac", "roas"], by=["channel"])
    cac = values(by_channel, "cac")
    assert cac[(MARCH, "paid_search")] == 300  # O1 (C1's first order) closed by paid search
    assert cac[(MARCH, "email")] == 30  # O2 (C2's first) closed by email
    assert math.isnan(cac[(APRIL, "paid_search")])  # spend, no new customer: no number
    roas = values(by_channel, "roas")
    assert roas[(MARCH, "paid_search")] == pytest.approx(100 / 300)
    assert roas[(MARCH, "email")] == pytest.approx(50 / 30)


def test_surveys_and_service(shop):
    result = compute_kpis(shop, ["nps", "csat", "contacts", "cost_per_contact"])
    assert values(result, "nps") == {MARCH: 0.0}  # 1 promoter, 1 detractor, 1 passive
    assert values(result, "csat") == {MARCH: 0.5}
    assert values(result, "contacts")[APRIL] == 1
    by_channel = compute_kpis(shop, ["nps", "cost_per_contact"], by=["channel"])
    assert values(by_channel, "nps") == {(MARCH, "email"): 100.0, (MARCH, "store"): -100.0,
                                         (MARCH, "app"): 0.0}  # fmt: skip
    assert values(by_channel, "cost_per_contact")[(APRIL, "call_centre")] == 100


def test_missing_inputs_and_impossible_cuts_are_explained(wh, tmp_path):
    wh.ingest("orders", write(tmp_path / "o.csv", ORDERS), now=NOW)
    wh.ingest("touchpoints", write(tmp_path / "t.csv", TOUCHES), now=NOW)
    wh.resolve_identities()
    jr.build_events(wh)
    result = compute_kpis(wh, ["revenue", "cac", "nps"])
    assert set(result.unavailable) == {"cac", "nps"}
    assert "needs spend" in result.unavailable["cac"]
    assert "needs feedback" in result.unavailable["nps"]
    cut = compute_kpis(wh, ["revenue", "email_open_rate"], by=["fulfilment"])
    assert "cannot be cut by 'fulfilment'" in cut.unavailable["email_open_rate"]
    with pytest.raises(UnknownNameError, match="Did you mean 'revenue'"):
        get_kpi("revenu")


def test_the_metrics_doc_is_generated_from_the_registry():
    from pathlib import Path

    from omnimetrics.metrics.kpis import metrics_markdown

    doc = Path(__file__).parents[1] / "docs" / "metrics.md"
    assert doc.read_text(encoding="utf-8") == metrics_markdown(), "run `make docs`"


def test_total_grain_sets_and_series(shop):
    total = compute_kpis(shop, ["revenue", "orders"], grain="total")
    assert values(total, "revenue") == {date(1970, 1, 1): 250}
    for names in KPI_SETS.values():
        assert set(names) <= set(KPIS)
    series = kpi_series(shop, "revenue", where={"channel": "web"})
    # April is partial (the data ends on 10 April): a series, which forecasts and goals read,
    # leaves it out.
    assert series.to_dict() == {datetime(2026, 3, 1): 100}
    assert {k.unit for k in KPIS.values()} <= {"share", "currency", "count", "seconds", "score",
                                               "ratio"}  # fmt: skip


def test_retention_churn_customer_value_and_ltv_cac(shop):
    result = compute_kpis(shop, ["retention_rate", "churn_rate", "clv_historical", "clv_margin",
                                 "ltv_cac"])  # fmt: skip
    # March buyers C1, C2; in April only C1 buys again: retention 1/2, churn 1/2.
    assert values(result, "retention_rate")[APRIL] == 0.5
    assert values(result, "churn_rate")[APRIL] == 0.5
    assert values(result, "clv_historical") == {MARCH: 75, APRIL: 50}
    assert values(result, "clv_margin")[MARCH] == 30
    ltv_cac = values(result, "ltv_cac")
    assert ltv_cac[MARCH] == pytest.approx(30 / 165)  # margin per buyer / CAC
    flags = result.table[result.table.kpi == "ltv_cac"].flag
    assert (flags == "under 3").all()
    total = compute_kpis(shop, ["clv_historical"], grain="total")
    assert values(total, "clv_historical") == {date(1970, 1, 1): 250 / 3}


def test_revenue_of_promoters_and_detractors(shop):
    from omnimetrics.metrics.kpis import nps_revenue

    table = nps_revenue(shop).set_index("nps_group")
    assert table.loc["promoter", "revenue_per_person"] == 160  # C1: O1 + O3
    assert table.loc["detractor", "revenue_per_person"] == 50  # C2
    assert table.loc["passive", "orders_per_person"] == 1  # C3


def test_kpis_goals_and_maturity_from_the_command_line(shop, tmp_path):
    import json

    from tests.helpers import SECRET, cli

    db = str(tmp_path / "test.duckdb")
    # A visit on 30 April: the data covers April whole, and the goal is judged on it.
    visit = "event_id,timestamp,event_type,anonymous_id\nv9,2026-04-30T20:00:00Z,visit,a9\n"
    shop.ingest("touchpoints", write(tmp_path / "late.csv", visit), now=NOW)
    shop.close()
    env = {"OMNIMETRICS_SECRET": SECRET.decode(), "PATH": "/usr/bin:/bin"}
    done = cli("kpis", "--db", db, "--kpis", "revenue,nps,cac", "--by", "channel", "--out",
               "k.json", "--forecast", "2", cwd=tmp_path, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "k.json").read_text())
    web = [r for r in rows if r["kpi"] == "revenue" and r["channel"] == "web"]
    assert [r["value"] for r in web] == [100, 60]
    assert "Forecast" in done.stdout
    (tmp_path / "omnimetrics.toml").write_text(
        '[[goals]]\nname = "grow"\nkpi = "revenue"\ntarget = 200\nstart = 2026-04-01\n'
        "deadline = 2026-06-30\n"
    )
    done = cli("goals", "--db", db, "--today", "2026-05-15", "--out", "g.json", cwd=tmp_path,
               env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    goal = json.loads((tmp_path / "g.json").read_text())[0]
    assert goal["goal"] == "grow" and goal["target"] == 200 and goal["current"] == 100
    done = cli("maturity", "--db", db, "--out", "m.csv", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "Score" in done.stdout and "identity_match_rate" in (tmp_path / "m.csv").read_text()
    done = cli("segments", "--db", db, "--by", "channel_mix", "--out", "s.json", cwd=tmp_path,
               env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    mix = {r["channel_mix"]: r["persons"] for r in json.loads((tmp_path / "s.json").read_text())}
    assert mix["omnichannel"] == 1 and mix["online_only"] == 2
    done = cli("business-case", "--db", db, "--average-basket", "75", "--out", "b.json",
               cwd=tmp_path, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    case = {r["measure"]: r for r in json.loads((tmp_path / "b.json").read_text())}
    assert case["revenue"]["current"] == 250 and case["revenue"]["projected"] == 300  # 4 x 75
    done = cli("kpis", "--db", db, "--kpis", "revenu", cwd=tmp_path, env=env)
    assert done.returncode == 2 and "Did you mean 'revenue'" in done.stderr


def test_kpis_cut_by_segment_omnichannel_vs_single_channel(shop):
    # C2 bought in store and visited the site: omnichannel; C1 (web) and C3 (app): online only.
    result = compute_kpis(shop, ["clv_historical", "orders"], by=["channel_mix"], grain="total")
    clv = values(result, "clv_historical")
    assert clv[(date(1970, 1, 1), "omnichannel")] == 50
    assert clv[(date(1970, 1, 1), "online_only")] == (160 + 40) / 2


def test_each_answer_is_tied_to_the_journey_before_it(shop):
    from omnimetrics.metrics.facts import Facts

    answers = Facts(shop).feedback.to_pandas().set_index("response_id")
    # f2 (C2, 10 March): C2's last touch before was the email visit t2 of 4 March.
    assert answers.loc["f2", "preceding_touch"] == "t2"
    assert answers.loc["f2", "preceding_channel"] == "email"
    assert answers.loc["f2", "channel"] == "store"  # its own channel comes first
    assert pd.isna(answers.loc["f3", "preceding_touch"])  # C3 had only been sent an email


def test_nps_by_the_channel_of_the_journey_before_the_answer(shop):
    result = compute_kpis(shop, ["nps"], by=["preceding_channel"])
    # C1 (promoter) last opened an email (3 March), C2 (detractor) came from the newsletter
    # (4 March): email 1 promoter + 1 detractor = 0; C3 (passive) had no touch yet.
    assert values(result, "nps") == {(MARCH, "email"): 0.0, (MARCH, None): 0.0}


ENGAGEMENT = """event_id,timestamp,event_type,customer_id,source,medium,campaign
m1,2026-03-01T10:00:00Z,sms_send,C1,sms_tool,sms,flash
m2,2026-03-01T10:00:00Z,sms_send,C2,sms_tool,sms,flash
m3,2026-03-01T10:00:00Z,sms_send,C3,sms_tool,sms,flash
m4,2026-03-01T10:00:00Z,sms_send,C4,sms_tool,sms,flash
m5,2026-03-01T10:05:00Z,sms_click,C1,sms_tool,sms,flash
p1,2026-03-02T10:00:00Z,push_send,C1,app,push,promo
p2,2026-03-02T10:00:00Z,push_send,C2,app,push,promo
p3,2026-03-02T10:10:00Z,push_open,C2,app,push,promo
i1,2026-03-03T10:00:00Z,app_install,C3,,,
i2,2026-03-04T10:00:00Z,app_install,C4,,,
"""
MORE_ANSWERS = """response_id,timestamp,customer_id,survey_type,score,channel
e1,2026-03-10T10:00:00Z,C1,ces,2,call_centre
e2,2026-03-10T10:00:00Z,C2,ces,5,call_centre
r1,2026-03-11T10:00:00Z,C3,review,4,store
r2,2026-03-11T10:00:00Z,C4,review,3,store
"""
SHIPPED = """order_id,timestamp,sales_channel,revenue,currency,customer_id,fulfilment
A1,2026-03-02T12:00:00Z,web,10,EUR,C1,ship_from_store
A2,2026-03-03T12:00:00Z,web,10,EUR,C1,delivery
A3,2026-03-04T12:00:00Z,store,10,EUR,C2,in_store
A4,2026-03-05T12:00:00Z,app,10,EUR,C3,ship_from_store
"""


def test_engagement_review_and_fulfilment_kpis_by_hand(wh, tmp_path):
    for table, text in (("touchpoints", ENGAGEMENT), ("feedback", MORE_ANSWERS),
                        ("orders", SHIPPED)):  # fmt: skip
        report = wh.ingest(table, write(tmp_path / f"{table}.csv", text), now=NOW)
        assert report.quarantined == 0, report.reasons
    wh.resolve_identities()
    jr.build_events(wh)
    names = ["sms_click_rate", "push_open_rate", "app_installs", "interaction_rate", "ces",
             "review_score", "ship_from_store_share", "buyers", "social_engagement_rate"]  # fmt: skip
    result = compute_kpis(wh, names)
    got = {name: values(result, name).get(MARCH) for name in names}
    assert got["sms_click_rate"] == 0.25  # 1 click / 4 sends
    assert got["push_open_rate"] == 0.5
    assert got["app_installs"] == 2
    assert got["interaction_rate"] == 0.25  # (1 SMS click) / (4 SMS sends); no ads, no email
    assert got["ces"] == 3.5 and got["review_score"] == 3.5
    assert got["ship_from_store_share"] == 0.5 and got["buyers"] == 3
    assert got["social_engagement_rate"] is None or math.isnan(got["social_engagement_rate"])


CONSENTS = """customer_id,consent_analytics
C1,true
C2,false
C3,true
"""
STATUSES = """order_id,timestamp,sales_channel,revenue,currency,customer_id,status
O1,2026-03-02T12:00:00Z,web,100,EUR,C1,completed
O2,2026-03-05T12:00:00Z,store,50,EUR,C2,completed
X1,2026-03-06T12:00:00Z,web,999,EUR,C1,cancelled
O3,2026-04-03T12:00:00Z,web,60,EUR,C1,completed
O4,2026-04-10T12:00:00Z,app,40,EUR,C3,
O5,2026-04-12T12:00:00Z,store,30,EUR,C2,completed
"""


@pytest.fixture
def refusing_shop(wh, tmp_path):
    """C2 refused analytics: their orders count in the totals, not in person-level figures."""
    for table, text in (("customers", CONSENTS), ("orders", STATUSES),
                        ("touchpoints", TOUCHES), ("feedback", FEEDBACK)):  # fmt: skip
        report = wh.ingest(table, write(tmp_path / f"{table}.csv", text), now=NOW)
        assert report.quarantined == 0, report.reasons
    wh.resolve_identities()
    jr.build_events(wh)
    return wh


def test_business_totals_count_the_orders_of_persons_who_refused_consent(refusing_shop, tmp_path):
    source = pd.read_csv(tmp_path / "orders.csv", parse_dates=["timestamp"])
    valid = source[source.status.fillna("") != "cancelled"]
    month = valid.timestamp.dt.tz_localize(None).dt.to_period("M").dt.start_time.dt.date
    expected = valid.groupby(month).revenue.agg(["sum", "count"])
    names = ["revenue", "orders", "average_basket", "buyers", "new_customers"]
    result = compute_kpis(refusing_shop, names)
    assert values(result, "revenue") == expected["sum"].to_dict()  # {MARCH: 150, APRIL: 130}
    assert values(result, "orders") == expected["count"].to_dict()
    assert values(result, "average_basket") == (expected["sum"] / expected["count"]).to_dict()
    # Person-level figures leave C2 out: March buyers and new customers are C1 only.
    assert values(result, "buyers") == {MARCH: 1, APRIL: 2}
    assert values(result, "new_customers") == {MARCH: 1, APRIL: 1}


def test_survey_answers_of_a_refusing_person_count_but_are_not_linked(refusing_shop):
    from omnimetrics.metrics.kpis import nps_revenue

    assert values(compute_kpis(refusing_shop, ["nps"]), "nps") == {MARCH: 0.0}  # C2's 5 counts
    groups = set(nps_revenue(refusing_shop).nps_group)
    assert groups == {"promoter", "passive"}  # C2 (the detractor) is linked to no revenue


def test_kpis_read_the_journey_settings_of_the_warehouse(shop):
    from omnimetrics.config import JourneySettings

    one_day = shop.using(shop.settings.with_(journeys=JourneySettings(lookback_days=1)))
    names = ["cac", "roas"]
    default = compute_kpis(shop, names, by=["channel"])
    short = compute_kpis(one_day, names, by=["channel"])
    # t1 (paid search) came 26 hours before O1: in a 30-day journey, out of a 1-day one.
    assert values(default, "cac")[(MARCH, "paid_search")] == 300
    assert math.isnan(values(short, "cac")[(MARCH, "paid_search")])
    assert values(default, "roas")[(MARCH, "paid_search")] == pytest.approx(100 / 300)
    assert math.isnan(values(short, "roas")[(MARCH, "paid_search")])
    assert math.isnan(values(short, "cac")[(MARCH, "email")])  # t2 too: 26 hours before O2


UNLINKED = "O5,2026-03-20T12:00:00Z,store,90,EUR,,in_store,30,\n"


def test_customer_value_counts_the_revenue_of_identified_buyers_only(wh, tmp_path):
    # O5 is an anonymous store sale (no identifier): in the revenue, in no buyer's value.
    for table, text in (("orders", ORDERS + UNLINKED), ("spend", SPEND)):
        report = wh.ingest(table, write(tmp_path / f"{table}.csv", text), now=NOW)
        assert report.quarantined == 0, report.reasons
    wh.resolve_identities()
    names = ["revenue", "buyers", "clv_historical", "clv_margin", "cac", "ltv_cac"]
    result = compute_kpis(wh, names)
    assert values(result, "revenue") == {MARCH: 100 + 50 + 90, APRIL: 100}  # a business total
    assert values(result, "buyers") == {MARCH: 2, APRIL: 2}  # C1, C2; C1, C3
    # (O1 + O2) / (C1, C2), not (O1 + O2 + O5) / 2 = 120
    assert values(result, "clv_historical") == {MARCH: 75, APRIL: 50}
    assert values(result, "clv_margin")[MARCH] == (40 + 20) / 2  # not (40 + 20 + 30) / 2
    assert values(result, "cac")[MARCH] == 330 / 2
    assert values(result, "ltv_cac")[MARCH] == pytest.approx(30 / 165)
    total = compute_kpis(wh, ["clv_historical"], grain="total")
    assert values(total, "clv_historical") == {date(1970, 1, 1): 250 / 3}  # not 340 / 3


def test_customer_value_leaves_out_the_orders_of_persons_who_refused_consent(refusing_shop):
    # C2 refused analytics: O2 (50) and O5 (30) count in revenue, in nobody's value.
    result = compute_kpis(refusing_shop, ["clv_historical"])
    assert values(result, "clv_historical") == {MARCH: 100, APRIL: (60 + 40) / 2}


def nps_answers() -> str:
    """March: 2 promoters and 1 detractor of 10 answers (NPS 10); April: 2 and 3 of 20 (-5)."""
    march = [10, 9, 3] + [8] * 7
    april = [10, 9, 0, 5, 6] + [7] * 15
    lines = ["response_id,timestamp,customer_id,survey_type,score"]
    for n, (month, score) in enumerate([(3, s) for s in march] + [(4, s) for s in april]):
        day = "03-01" if month == 3 else "04-30"  # the data covers both months whole
        lines.append(f"n{n},2026-{day}T10:00:00Z,N{n},nps,{score}")
    return "\n".join(lines) + "\n"


def test_scores_and_shares_change_in_points_amounts_relatively(wh, tmp_path):
    for table, text in (("orders", ORDERS), ("feedback", nps_answers())):
        report = wh.ingest(table, write(tmp_path / f"{table}.csv", text), now=NOW)
        assert report.quarantined == 0, report.reasons
    wh.resolve_identities()
    names = ["nps", "repeat_purchase_rate", "returning_customers", "revenue"]
    table = compute_kpis(wh, names).table.set_index(["kpi", "period"])
    nps = table.loc[("nps", APRIL)]
    assert (nps.previous, nps.value) == (10.0, -5.0)
    assert nps.change == pytest.approx(-15.0) and nps.change_kind == "points"  # not -150 %
    share = table.loc[("repeat_purchase_rate", APRIL)]  # 0 in March, 1 of 2 buyers in April
    assert (share.change, share.change_kind) == (0.5, "points")  # shown from 0
    count = table.loc[("returning_customers", APRIL)]  # 0 in March, 1 in April
    assert count.change_kind == "relative" and math.isnan(count.change)  # not inf
    assert count.change_note == "previous value is 0: no relative change"
    revenue = table.loc[("revenue", APRIL)]
    assert revenue.change == pytest.approx(100 / 150 - 1) and revenue.change_note is None
    assert get_kpi("nps").change_kind == "points" and get_kpi("revenue").change_kind == "relative"


def test_kpis_declare_their_change_and_range():
    from omnimetrics.errors import ConfigError
    from omnimetrics.metrics.kpi_definition import KPI, Measure

    assert get_kpi("nps").bounds == (-100.0, 100.0)
    assert get_kpi("csat").bounds == (0.0, 1.0) and get_kpi("revenue").bounds == (0.0, math.inf)
    assert get_kpi("ces").bounds == (1.0, 7.0)
    assert all(k.change_kind in ("relative", "points") for k in KPIS.values())
    count = Measure(fact="orders", column="order_id", agg="count")
    with pytest.raises(ConfigError, match="unknown change_kind 'percent'"):
        KPI(name="x", label="x", unit="count", higher_is_better=True, formula="x",
            numerator=count, change_kind="percent")  # fmt: skip
    with pytest.raises(ConfigError, match="low < high"):
        KPI(name="x", label="x", unit="count", higher_is_better=True, formula="x",
            numerator=count, bounds=(1.0, 0.0))  # fmt: skip


OMNI_TOUCHES = """event_id,timestamp,event_type,customer_id,source,medium,campaign
a1,2026-03-02T10:00:00Z,visit,P1,google,cpc,
a2,2026-03-05T10:00:00Z,store_visit,P1,,,
b1,2026-03-03T10:00:00Z,email_click,P2,newsletter,email,spring
b2,2026-03-04T10:00:00Z,visit,P2,,,
c1,2026-03-01T09:00:00Z,sms_send,P3,sms_tool,sms,flash
c2,2026-03-01T09:00:00Z,email_send,P3,newsletter,email,spring
c3,2026-03-06T10:00:00Z,visit,P3,,,
d1,2026-03-02T10:00:00Z,ad_impression,P4,dsp,display,prospecting
d2,2026-03-07T10:00:00Z,visit,P4,google,organic,
"""
OMNI_ORDERS = """order_id,timestamp,sales_channel,revenue,currency,customer_id
Q1,2026-03-09T12:00:00Z,web,10,EUR,P1
Q3,2026-03-09T12:00:00Z,web,10,EUR,P3
Q4,2026-03-09T12:00:00Z,app,10,EUR,P4
"""


def test_omnichannel_conversion_counts_what_persons_do_not_what_they_are_sent(wh, tmp_path):
    # P1 visited from paid search and came to a store, then bought: two channels, bought.
    # P2 clicked an email and came back directly, did not buy: two channels, did not buy.
    # P3 was sent an SMS and an email and visited once: one channel of their own (bought).
    # P4 was shown a display ad and visited from organic search: one channel (bought).
    # M0..M19 were only sent an SMS and an email (a mass send): no interaction at all.
    mass = "".join(f"m{n},2026-03-01T09:00:00Z,sms_send,M{n},sms_tool,sms,flash\n"
                   f"e{n},2026-03-01T09:00:00Z,email_send,M{n},newsletter,email,spring\n"
                   for n in range(20))  # fmt: skip
    for table, text in (("touchpoints", OMNI_TOUCHES + mass), ("orders", OMNI_ORDERS)):
        report = wh.ingest(table, write(tmp_path / f"{table}.csv", text), now=NOW)
        assert report.quarantined == 0, report.reasons
    wh.resolve_identities()
    jr.build_events(wh)
    channels = {r["event_id"]: r["channel"] for r in wh.table("events").to_pyarrow().to_pylist()}
    assert [channels[e] for e in ("a1", "a2", "b1", "b2", "d1", "d2")] == [
        "paid_search", "store", "email", "direct", "display", "organic_search"]  # fmt: skip
    result = compute_kpis(wh, ["omnichannel_conversion_rate"])
    row = result.table.set_index("period").loc[MARCH]
    # P1 of (P1, P2); counting sends, impressions and the sales channel it would be 3 of 24.
    assert (row.numerator, row.denominator, row.value) == (1, 2, 0.5)
