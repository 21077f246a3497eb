"""Journeys on tiny hand-built logs: sessions, lookback edges, paths, ROPO, funnels, timeline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omnimetrics import journeys as jr
from omnimetrics.errors import UnknownNameError
from omnimetrics.identity import find_person
from tests.helpers import write

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TOUCH_HEADER = "event_id,timestamp,event_type,anonymous_id,customer_id,loyalty_id,source,medium,channel,referrer\n"
ORDER_HEADER = "order_id,timestamp,sales_channel,revenue,currency,customer_id,loyalty_id\n"


def build(wh, tmp_path, touches: str, orders: str, **settings) -> None:
    wh.ingest("touchpoints", write(tmp_path / "t.csv", TOUCH_HEADER + touches), now=NOW)
    wh.ingest("orders", write(tmp_path / "o.csv", ORDER_HEADER + orders), now=NOW)
    wh.resolve_identities()
    jr.build_events(wh, jr.JourneySettings(**settings) if settings else None)


def rows(expr) -> list[dict]:
    return expr.to_pyarrow().to_pylist()


def test_sessions_split_on_visits_and_timeout_and_inherit_the_channel(wh, tmp_path):
    build(
        wh, tmp_path,
        "e1,2026-03-01T10:00:00Z,visit,A,,,google,cpc,,\n"
        "e2,2026-03-01T10:10:00Z,page_view,A,,,,,,\n"
        "e3,2026-03-01T10:35:00Z,page_view,A,,,,,,\n"  # 25 min later: same session
        "e4,2026-03-01T11:20:00Z,page_view,A,,,,,,\n"  # 45 min later: new session (direct)
        "e5,2026-03-01T11:25:00Z,visit,A,,,newsletter,email,,\n"  # a visit: new session
        "e6,2026-03-01T11:26:00Z,email_click,A,,,,,email,\n",  # not a web hit
        "X1,2026-03-01T12:00:00Z,web,10,EUR,,\n",
    )  # fmt: skip
    listed = rows(wh.table("events"))
    events = {r["event_id"]: r for r in listed}
    # Hits (sessioned) and other touchpoints (not) both land in events, each once.
    assert sorted(r["event_id"] for r in listed) == ["e1", "e2", "e3", "e4", "e5", "e6"]
    assert events["e1"]["session_id"] == events["e2"]["session_id"] == events["e3"]["session_id"]
    assert events["e4"]["session_id"] not in (
        events["e1"]["session_id"],
        events["e5"]["session_id"],
    )
    assert [events[e]["channel"] for e in ("e1", "e2", "e3", "e4", "e5")] == [
        "paid_search", "paid_search", "paid_search", "direct", "email"]  # fmt: skip
    assert [events[e]["is_touch"] for e in ("e1", "e2", "e3", "e4", "e5", "e6")] == [
        True, False, False, True, True, True]  # fmt: skip
    assert events["e6"]["session_id"] is None


def test_the_session_timeout_is_elapsed_time(wh, tmp_path):
    build(
        wh, tmp_path,
        "a1,2026-03-01T10:00:59Z,visit,A,,,google,cpc,,\n"
        "a2,2026-03-01T10:30:30Z,page_view,A,,,,,,\n"  # 29 min 31 s (30 minute marks): same
        "a3,2026-03-01T11:00:30Z,page_view,A,,,,,,\n"  # exactly 30 min: same session
        "a4,2026-03-01T11:30:31Z,page_view,A,,,,,,\n",  # 30 min 1 s: a new session
        "X1,2026-03-01T12:00:00Z,web,10,EUR,,\n",
    )  # fmt: skip
    events = {r["event_id"]: r for r in rows(wh.table("events"))}
    sessions = [events[e]["session_id"] for e in ("a1", "a2", "a3", "a4")]
    assert sessions[0] == sessions[1] == sessions[2] != sessions[3]
    assert [events[e]["is_touch"] for e in ("a1", "a2", "a3", "a4")] == [True, False, False, True]


def test_lookback_window_and_previous_conversion_edges(wh, tmp_path):
    build(
        wh, tmp_path,
        "t0,2026-01-30T09:00:00Z,visit,,C1,,google,organic,,\n"  # 31 days before O1: out
        "t1,2026-02-01T10:00:00Z,visit,,C1,,google,cpc,,\n"  # exactly 30 days before O1: out
        "t2,2026-02-01T10:00:01Z,visit,,C1,,facebook,paid_social,,\n"
        "t3,2026-03-03T09:00:00Z,visit,,C1,,newsletter,email,,\n"
        "t4,2026-03-03T11:00:00Z,visit,,C1,,google,cpc,,\n"  # after O1, before O2
        "t5,2026-03-05T11:00:00Z,visit,,C2,,google,cpc,,\n",  # C2 never buys
        "O1,2026-03-03T10:00:00Z,web,50,EUR,C1,\n"
        "O2,2026-03-04T10:00:00Z,web,70,EUR,C1,\n"
        "O3,2026-03-04T10:00:00Z,store,5,EUR,,\n",  # anonymous store sale
        lookback_days=30,
    )  # fmt: skip
    paths = {r["order_id"]: r for r in rows(jr.conversion_paths(wh))}
    assert paths["O1"]["path"] == "paid_social > email"
    assert paths["O1"]["touches"] == 2
    assert paths["O1"]["hours_to_convert"] == pytest.approx((30 * 24 * 3600 - 1) / 3600)
    assert paths["O2"]["path"] == "paid_search"  # starts after the previous order
    assert paths["O3"]["path"] == "(none)" and paths["O3"]["person_id"] is None
    lost = {r["path"]: r["touches"] for r in rows(jr.non_conversion_paths(wh))}
    assert lost == {"paid_search": 1}  # C2's journey; C1 has no touch after O2
    summary = {r["path"]: r for r in rows(jr.path_summary(wh))}
    assert summary["paid_search"]["conversions"] == 1
    assert summary["paid_search"]["non_conversions"] == 1
    assert summary["paid_search"]["conversion_rate"] == pytest.approx(0.5)
    # The path table counts every order, the one without any touch (O3) as "(none)".
    assert sum(r["conversions"] for r in summary.values()) == 3  # O1, O2, O3
    assert sum(r["revenue"] for r in summary.values()) == 50 + 70 + 5
    assert summary["(none)"]["conversions"] == 1 and summary["(none)"]["revenue"] == 5
    assert summary["(none)"]["conversion_rate"] is None  # who had no touch and did not buy?
    switches = {(r["channel"], r["next_channel"]): r["transitions"]
                for r in rows(jr.channel_transitions(wh))}  # fmt: skip
    assert switches == {("paid_social", "email"): 1}


def test_ropo_both_ways(wh, tmp_path):
    build(
        wh, tmp_path,
        "w1,2026-03-01T10:00:00Z,visit,,C1,,google,organic,,\n"
        "s1,2026-03-10T10:00:00Z,store_visit,,,L2,,,,\n",
        # C1 researched online 2 days before buying in store; L3 did not research.
        "S1,2026-03-03T10:00:00Z,store,20,EUR,C1,\n"
        "S2,2026-03-03T10:00:00Z,store,20,EUR,,L3\n"
        "W1,2026-03-12T10:00:00Z,web,30,EUR,,L2\n"  # L2 visited the store 2 days before
        "W2,2026-03-12T10:00:00Z,web,30,EUR,C1,\n",
    )  # fmt: skip
    result = {r["measure"]: r for r in rows(jr.ropo(wh, window_days=7))}
    store = result["store orders after online research"]
    online = result["online orders after a store visit"]
    assert (store["orders"], store["preceded"], store["rate"]) == (2, 1, 0.5)
    # W2: C1's store order S1 was 9 days earlier: outside the 7-day window.
    assert (online["orders"], online["preceded"], online["rate"]) == (2, 1, 0.5)


def test_funnel_counts_ordered_steps(wh, tmp_path):
    build(
        wh, tmp_path,
        "a1,2026-03-01T10:00:00Z,visit,A,,,google,cpc,,\n"
        "a2,2026-03-01T10:05:00Z,product_view,A,,,,,,\n"
        "a3,2026-03-01T10:08:00Z,add_to_cart,A,,,,,,\n"
        "b1,2026-03-01T10:00:00Z,visit,B,,,google,organic,,\n"
        "b0,2026-03-01T09:00:00Z,add_to_cart,B,,,,,,\n"  # before the visit: does not count
        "b2,2026-03-01T11:00:00Z,product_view,B,,,,,,\n"
        "c1,2026-03-01T10:00:00Z,visit,C,,,google,cpc,,\n",
        "X,2026-03-02T00:00:00Z,web,1,EUR,,\n",
    )  # fmt: skip
    steps = rows(jr.funnel(wh, ["visit", "product_view", "add_to_cart"]))
    assert [(s["event_type"], s["persons"]) for s in steps] == [
        ("visit", 3), ("product_view", 2), ("add_to_cart", 1)]  # fmt: skip
    assert steps[1]["step_conversion"] == pytest.approx(2 / 3)
    assert steps[2]["drop_off"] == pytest.approx(0.5)
    assert steps[1]["median_hours_from_previous"] == pytest.approx((5 / 60 + 1) / 2)
    by_channel = rows(jr.funnel(wh, ["visit", "product_view"], by="channel"))
    assert {(s["channel"], s["step"], s["persons"]) for s in by_channel} == {
        ("paid_search", 1, 2), ("paid_search", 2, 1), ("organic_search", 1, 1),
        ("organic_search", 2, 1)}  # fmt: skip
    # by a segment of the person (here a hand-made table; person_segments(wh) in practice)
    graph = wh.table("identity_graph")
    person_of = {r["identifier"]: r["person_id"] for r in rows(graph)}
    import ibis

    segments = ibis.memtable({"person_id": [person_of["A"], person_of["B"], person_of["C"]],
                              "tier": ["gold", "gold", "new"]})  # fmt: skip
    by_tier = rows(jr.funnel(wh, ["visit", "product_view"], by="tier", persons=segments))
    assert {(s["tier"], s["step"], s["persons"]) for s in by_tier} == {
        ("gold", 1, 2), ("gold", 2, 2), ("new", 1, 1)}  # fmt: skip
    with pytest.raises(jr.JourneyError, match="two steps"):
        jr.funnel(wh, ["visit"])
    with pytest.raises(jr.JourneyError, match="Cannot cut a funnel by 'tierr'"):
        jr.funnel(wh, ["visit", "product_view"], by="tierr", persons=segments)


def test_timeline_finds_a_person_by_any_identifier(wh, tmp_path):
    wh.ingest("customers", write(tmp_path / "c.csv",
              "customer_id,email,loyalty_id\nC1, Jane@Example.com ,L1\n"), now=NOW)  # fmt: skip
    build(
        wh, tmp_path,
        "t1,2026-03-01T10:00:00Z,visit,,C1,,google,cpc,,\n"
        "t2,2026-03-02T10:00:00Z,store_visit,,,L1,,,,\n",
        "S1,2026-03-02T10:30:00Z,store,20,EUR,,L1\n",
    )  # fmt: skip
    person = find_person(wh, "jane@example.com")
    assert person == find_person(wh, "L1", "loyalty_id") == find_person(wh, "C1")
    items = [(r["kind"], r["what"], r["channel"]) for r in rows(jr.timeline(wh, person))]
    assert items == [("touchpoint", "visit", "paid_search"), ("touchpoint", "store_visit", "store"),
                     ("order", "completed", "store")]  # fmt: skip
    with pytest.raises(UnknownNameError, match="No person"):
        find_person(wh, "nobody@example.com")


def test_promo_codes_exits_and_distributions(wh, tmp_path):
    wh.ingest("campaign_codes", write(tmp_path / "codes.csv",
              "code,code_type,campaign,channel\nSPRING10,promo,spring_sale,direct_mail\n"), now=NOW)  # fmt: skip
    wh.ingest("touchpoints", write(tmp_path / "t.csv", TOUCH_HEADER
              + "t1,2026-03-01T10:00:00Z,visit,,C1,,google,cpc,,\n"
              + "t2,2026-03-01T12:00:00Z,visit,,C2,,newsletter,email,,\n"
              + "t3,2026-03-03T12:00:00Z,visit,,C2,,google,organic,,\n"), now=NOW)  # fmt: skip
    wh.ingest("orders", write(tmp_path / "o.csv",
              "order_id,timestamp,sales_channel,revenue,currency,customer_id,promo_code\n"
              "O1,2026-03-01T10:30:00Z,web,10,EUR,C1,\n"
              "S1,2026-03-05T10:00:00Z,store,20,EUR,,spring10\n"), now=NOW)  # fmt: skip
    wh.resolve_identities()
    jr.build_events(wh)
    paths = {r["order_id"]: r["path"] for r in rows(jr.conversion_paths(wh))}
    assert paths == {"O1": "paid_search", "S1": "direct_mail"}  # an anonymous store sale, linked
    exits = rows(jr.journey_exits(wh))
    assert [(e["channel"], e["journeys"], e["share"]) for e in exits] == [
        ("organic_search", 1, 1.0)
    ]
    lengths = rows(jr.journey_lengths(wh))
    assert [(r["touches"], r["orders"]) for r in lengths] == [(1, 2)]
    buckets = rows(jr.time_to_convert(wh))
    assert [(b["time_to_convert"], b["orders"]) for b in buckets] == [("< 1 hour", 2)]


def test_match_rates_and_coverage_hand_computed(wh, tmp_path):
    from omnimetrics.identity import match_rates

    build(
        wh, tmp_path,
        # C1: web visit (paid search) + store order -> 2 channels; A: anonymous cookie only.
        "t1,2026-03-01T10:00:00Z,visit,,C1,,google,cpc,,\n"
        "t2,2026-03-01T11:00:00Z,visit,A,,,google,organic,,\n"
        "t3,2026-03-02T10:00:00Z,email_open,,C2,,,,email,\n",
        "S1,2026-03-02T10:00:00Z,store,20,EUR,C1,\n"
        "S2,2026-03-02T10:00:00Z,store,20,EUR,,\n"  # anonymous store sale
        "W1,2026-03-03T10:00:00Z,web,20,EUR,,L9\n",  # a loyalty card: identified
    )  # fmt: skip
    rates = match_rates(wh)
    assert rates == {"orders": pytest.approx(2 / 3), "store_orders": pytest.approx(1 / 2)}
    reach = jr.coverage(wh)
    # Touchpoints of identified persons: t1 (C1), t3 (C2) of 3. Persons with a channel: C1
    # (paid_search, store), A (organic_search), C2 (email), L9 (web) -> 1 of 4 on 2+ channels.
    assert reach["touchpoints of identified persons"] == pytest.approx(2 / 3)
    assert reach["persons seen on 2+ channels"] == pytest.approx(1 / 4)


def test_how_did_you_hear_of_us_answers_are_touches_of_the_order_they_follow(wh, tmp_path):
    wh.ingest("feedback", write(tmp_path / "f.csv",
              "response_id,timestamp,loyalty_id,survey_type,score,heard_from\n"
              "h1,2026-03-03T10:00:00Z,L1,nps,9, Instagram \n"  # 2 days after S1
              "h2,2026-03-03T10:00:00Z,L2,nps,9,friend\n"  # names no channel
              "h3,2026-03-20T10:00:00Z,L3,nps,9,search\n"),  # 19 days after S3: too late
              now=NOW)  # fmt: skip
    build(
        wh, tmp_path,
        "v1,2026-02-25T10:00:00Z,visit,,,L1,newsletter,email,,\n",
        "S1,2026-03-01T10:00:00Z,store,20,EUR,,L1\n"
        "S2,2026-03-01T10:00:00Z,store,20,EUR,,L2\n"
        "S3,2026-03-01T10:00:00Z,store,20,EUR,,L3\n",
    )  # fmt: skip
    touches = rows(jr.journey_touches(wh).order_by(["order_id", "position"]))
    s1 = [(t["channel"], t["position"], t["event_id"]) for t in touches if t["order_id"] == "S1"]
    assert s1 == [("paid_social", 1, "heard:h1"), ("email", 2, "v1")]  # discovery comes first
    assert not [t for t in touches if t["order_id"] in ("S2", "S3")]
