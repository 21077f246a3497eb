"""The pages a run stores answer a view exactly as the `Workspace` computes it live."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from omnimetrics.errors import OmnimetricsError
from omnimetrics.pages import (
    ATTRIBUTION_MODELS,
    INTERVALS,
    PAGES,
    View,
    page_results,
    stored_results,
)


@pytest.fixture(scope="module")
def ws(run_world):
    return run_world


def _rows(result, drop=()):
    keys = [c for c in result.columns if c not in drop]
    return sorted(
        (tuple((k, r[k]) for k in keys) for r in result.to_records()),
        key=lambda t: tuple(str(v) for _, v in t),
    )


def _same(stored, live, drop=()):
    assert stored.name == live.name and stored.columns == live.columns
    a, b = _rows(stored, drop), _rows(live, drop)
    assert len(a) == len(b) and len(a) > 0, stored.name
    for x, y in zip(a, b, strict=True):
        for (column, u), (_, v) in zip(x, y, strict=True):
            if isinstance(u, float) and isinstance(v, float):
                assert u == pytest.approx(v, rel=1e-9, nan_ok=True), (stored.name, column)
            else:
                assert u == v, (stored.name, column)


def test_the_experiments_page_shows_each_tests_analysis(ws):
    listed, results, srm = stored_results(ws, "experiments")
    (name,) = listed.table.column("experiment").to_pylist()
    shown = results.to_pandas()
    assert set(shown.measure) == {"conversion", "revenue", "average_basket", "click_rate"}
    live = ws.experiment(name, "click_rate").to_pandas()
    row = shown[shown.measure == "click_rate"].iloc[0]
    for column in ("lift_abs", "ci_low", "ci_high", "p_value", "chance_to_win", "srm_p_value"):
        assert row[column] == pytest.approx(live[column].iloc[0], rel=1e-9), column
    assert row["decision"] == live["decision"].iloc[0]
    assert srm.to_pandas().units.sum() == live.control_units.iloc[0] + live.variant_units.iloc[0]


def test_views_read_months_and_name_the_last_day():
    assert View.of("2026-03", "2026-03") == View(date(2026, 3, 1), date(2026, 3, 31))
    assert View.of("2025-12-15", "2026-02").until == date(2026, 2, 28)
    assert View.of(until="2024-02").until == date(2024, 2, 29)
    assert View.of(channel="", campaign="spring").rows == {"campaign": "spring"}
    assert View.of(segment="rfm_segment: champions").rows == {"rfm_segment": "champions"}
    with pytest.raises(OmnimetricsError, match="YYYY-MM"):
        View.of("March")
    with pytest.raises(OmnimetricsError, match="name:value"):
        View.of(segment="champions")


def test_a_run_stores_every_page_but_the_live_one(ws):
    tables = ws.warehouse.backend.list_tables()
    for name in PAGES:
        stored = stored_results(ws, name)
        assert (stored is None) == (name == "quality"), name
        for result in stored or []:
            assert f"agg_{name}_{result.name}" in tables


@pytest.mark.slow  # every page computed twice: CI runs it with the slow set
@pytest.mark.parametrize(
    "name", ["overview", "channels", "attribution", "journeys", "maturity", "experiments"]
)
def test_a_stored_page_equals_the_live_computation(ws, name):
    stored = stored_results(ws, name)
    live = PAGES[name].build(ws, View())
    assert [r.name for r in stored] == [r.name for r in live]
    for s, v in zip(stored, live, strict=True):
        if s.name in ("maturity", "progress"):  # days since the latest data: time passes
            s, v = (replace(r, table=r.table.filter(pc.field("indicator") != "freshness_days"))
                    for r in (s, v))  # fmt: skip
        if s.num_rows or v.num_rows:  # maturity's detail writes sums of floats as text
            _same(s, v, drop=("detail",) if s.name == "maturity" else ())
        assert s.title == v.title and s.notes == v.notes


def test_a_month_range_is_read_from_the_stored_months(ws):
    months = sorted({r["period"] for r in ws.kpis(["revenue"], grain="month").to_records()})
    first, last = months[1], months[-2]
    view = View.of(f"{first:%Y-%m}", f"{last:%Y-%m}")
    kpis = page_results(ws, "overview", view)[0]
    assert not any("live" in n for n in kpis.notes)  # answered by the stored months
    assert {r["period"] for r in kpis.to_records()} == {m for m in months if first <= m <= last}
    live = ws.kpis(list(kpis.table.column("kpi").unique().to_pylist()), grain="month",
                   since=view.since, until=view.until)  # fmt: skip
    stored = {(r["kpi"], r["period"]): r["value"] for r in kpis.to_records()}
    computed = {(r["kpi"], r["period"]): r["value"] for r in live.to_records()}
    assert computed and set(computed) <= set(stored)  # more: a rate that needs the month before
    for key, value in computed.items():
        assert stored[key] == pytest.approx(value, rel=1e-9, nan_ok=True), key
    goals = page_results(ws, "overview", view)[-1]
    assert any("month range" in n for n in goals.notes)  # a state, not cut by months: said


def test_a_channel_is_read_from_the_stored_rows_of_every_channel(ws):
    kpis = page_results(ws, "channels", View.of(channel="email"))[0]
    assert not any("live" in n for n in kpis.notes)
    assert set(kpis.table.column("channel").to_pylist()) == {"email"}
    live = ws.kpis(list(kpis.table.column("kpi").unique().to_pylist()), by=["channel"],
                   grain="month").where(channel="email")  # fmt: skip
    _same(kpis, live)


def test_a_month_range_is_attributed_from_the_stored_paths_as_the_journeys_are(ws):
    months = sorted({r["period"] for r in ws.kpis(["orders"], grain="month").to_records()})
    view = View.of(f"{months[-2]:%Y-%m}", f"{months[-1]:%Y-%m}")
    pages = {name: {r.name: r for r in page_results(ws, name, view)}
             for name in ("channels", "attribution")}  # fmt: skip
    for result in [*pages["channels"].values(), *pages["attribution"].values()]:
        assert not any("Computed live" in n for n in result.notes), result.name
    months_of = {"since": view.since, "until": view.until}
    value = ws.attribution(["last_touch", "linear"], spend=True, support=False, **months_of)
    _same(pages["channels"]["channel_value"], replace(value, name="channel_value"))
    credit = ws.attribution(list(ATTRIBUTION_MODELS), compare=True, intervals=INTERVALS,
                            **months_of)  # fmt: skip
    for live in (credit, *credit.parts):  # intervals too: one implementation, one seed
        _same(pages["attribution"][live.name], live)
    assert pages["attribution"]["attribution"].notes == credit.notes
    campaigns = ws.attribution(["last_touch", "linear", "markov"], by=["campaign"],
                               support=False, **months_of)  # fmt: skip
    _same(pages["attribution"]["campaign_credit"], replace(campaigns, name="campaign_credit"))
    whole = stored_results(ws, "attribution")[0]
    assert sum(r["conversions"] for r in credit.to_records()) < sum(
        r["conversions"] for r in whole.to_records()
    )
    sales = pages["channels"]["sales_channels"]  # monthly rows: the stored months answer
    assert {r["period"] for r in sales.to_records()} == {months[-2], months[-1]}


def test_the_paths_of_the_months_credit_the_touches_of_their_orders(ws):
    """The stored paths, independently of them: the rule models and Markov over the journey
    touches of the orders of two months."""
    from omnimetrics import journeys as jr
    from omnimetrics.attribution import attribute, select_orders

    months = sorted({r["period"] for r in ws.kpis(["orders"], grain="month").to_records()})
    view = View.of(f"{months[-2]:%Y-%m}", f"{months[-1]:%Y-%m}")
    credit = {r.name: r for r in page_results(ws, "attribution", view)}["attribution"]
    wh, days = ws.warehouse, {"since": view.since, "until": view.until}
    touches = attribute(select_orders(jr.journey_touches(wh), **days), list(ATTRIBUTION_MODELS),
                        orders=select_orders(jr.conversions(wh), **days),
                        non_converting=jr.non_conversion_touches(wh)).to_pyarrow()  # fmt: skip
    shown = {(r["model"], r["channel"]): r["conversions"] for r in credit.to_records()}
    expected = {(r["model"], r["channel"]): r["conversions"] for r in touches.to_pylist()}
    assert shown == pytest.approx(expected, rel=1e-9)


def test_a_segment_is_attributed_from_its_stored_paths_as_from_its_journeys(ws):
    from omnimetrics import journeys as jr
    from omnimetrics.metrics.segments import person_segments

    tables = ws.warehouse.backend.list_tables()
    assert {"agg_paths_channel_segments", "agg_paths_campaign_segments"} <= set(tables)
    by_segment = ws.warehouse.table("agg_paths_channel_segments").to_pandas()
    plain = ws.warehouse.table("agg_paths_channel").to_pandas()
    # each segment column holds every journey once (those of no segment under no value)
    assert set(by_segment.segment_column) == set(ws.settings.ui.segment_filters)
    for _, rows in by_segment.groupby("segment_column"):
        for column in ("conversions", "value", "nulls"):
            assert rows[column].sum() == pytest.approx(plain[column].sum(), rel=1e-12)
    mix = person_segments(ws.warehouse).select("person_id", "channel_mix").to_pandas()
    segment = mix.channel_mix[mix.channel_mix != "none"].value_counts().index[0]  # buyers
    view = View.of(segment=f"channel_mix:{segment}")
    pages = {name: {r.name: r for r in page_results(ws, name, view)}
             for name in ("channels", "attribution")}  # fmt: skip
    cut = ("channel_mix", segment)
    credit = ws.attribution(
        list(ATTRIBUTION_MODELS), compare=True, intervals=INTERVALS, segment=cut
    )  # fmt: skip (live: from the segment's journeys)
    for live in (credit, *credit.parts):
        shown = pages["attribution"][live.name]
        assert not any("Not filtered" in n for n in shown.notes), (live.name, shown.notes)
        _same(shown, live)
    value = ws.attribution(["last_touch", "linear"], spend=True, support=False, segment=cut)
    _same(pages["channels"]["channel_value"], replace(value, name="channel_value"))
    # a second source: the segment's conversions are its persons' orders
    members = set(mix.person_id[mix.channel_mix == segment])
    orders = jr.conversions(ws.warehouse).to_pandas()
    expected = orders.person_id.isin(members).sum()
    last = [r for r in credit.to_records() if r["model"] == "last_touch"]
    assert sum(r["conversions"] for r in last) == pytest.approx(expected)
    assert 0 < expected < len(orders)
    # a segment column the run did not store: the run's results, said to be not cut by it
    city = ws.segments("city").to_records()[0]["city"]
    shown = page_results(ws, "attribution", View.of(segment=f"city:{city}"))[0]
    assert any(f"city={city}" in n for n in shown.notes)


def test_what_the_stored_rows_cannot_answer_is_computed_live_and_said(ws):
    assert "city" not in ws.settings.ui.segment_filters
    city = ws.segments("city").to_records()[0]["city"]
    overview = page_results(ws, "overview", View.of(segment=f"city:{city}"))[0]
    assert any("Computed live" in n for n in overview.notes)
    assert set(overview.table.column("city").to_pylist()) == {city}


def _top_campaign(ws):
    return next(r["campaign"] for r in stored_results(ws, "attribution")[-2].to_records()
                if r["campaign"] and not r["campaign"].startswith("("))  # fmt: skip


@pytest.mark.parametrize("page", ["overview", pytest.param("channels", marks=pytest.mark.slow)])
def test_a_campaign_or_a_segment_is_read_from_the_kpis_stored_cut_by_it(ws, page):
    from omnimetrics.pages import CHANNEL_KPIS, HEADLINE_KPIS

    named = [r["rfm_segment"] for r in ws.segments("rfm_segment").to_records()]
    channels = stored_results(ws, "channels")[0].table.column("channel").to_pylist()
    busiest = max(set(channels), key=channels.count)
    views = [View.of(campaign=_top_campaign(ws)), View.of(segment=f"rfm_segment:{named[0]}"),
             View.of(channel=busiest, segment="channel_mix:omnichannel")]  # fmt: skip
    for view in views:
        kpis, alerts = page_results(ws, page, view)[:2]
        by = ["channel", *view.rows] if page == "channels" or view.channel else list(view.rows)
        names = CHANNEL_KPIS if "channel" in by else HEADLINE_KPIS
        live = ws.kpis(list(names), by=list(dict.fromkeys(by)), grain="month", alerts=True)
        for shown, expected in ((kpis, live), (alerts, live.part("alerts"))):
            assert not any("live" in n for n in shown.notes), (view, shown.notes)
            expected = expected.where(**view.rows)
            if page == "overview":  # the headline KPIs (those cut by channel, with a channel)
                kpi = expected.table.column("kpi").cast(pa.string())
                keep = pc.is_in(kpi, pa.array(HEADLINE_KPIS))
                expected = replace(expected, table=expected.table.filter(keep))
            if shown.num_rows or expected.num_rows:
                _same(shown, expected)
        assert kpis.num_rows > 0, view
        assert kpis.num_rows > 0


def test_a_cut_a_run_cannot_store_is_named_and_the_view_computed_live(ws):
    from omnimetrics.pages import cut_columns

    assert cut_columns(ws) == ("campaign", *ws.settings.ui.segment_filters)
    with pytest.raises(OmnimetricsError, match="colour"):  # what the run notes for that cut
        PAGES["overview"].cut(ws, View(), ("colour",))


def test_ui_segment_filters_are_a_list_of_names():
    from omnimetrics.config import UISettings

    assert UISettings(segment_filters=["region"]).segment_filters == ("region",)
    for wrong in ("region", [""], [3]):
        with pytest.raises(OmnimetricsError, match="segment_filters"):
            UISettings(segment_filters=wrong)


def test_a_filter_a_table_lacks_is_named_under_it(ws):
    funnel = page_results(ws, "journeys", View.of(channel="email"))[0]
    assert funnel.name == "funnel" and any("channel=email" in n for n in funnel.notes)


def test_a_segment_cuts_the_kpis_and_keeps_its_rows(ws):
    live = ws.kpis(["revenue", "orders"], by=["rfm_segment"], grain="month").to_records()
    named = [r["rfm_segment"] for r in live if r["rfm_segment"]]
    top = max(set(named), key=named.count)
    view = View.of(segment=f"rfm_segment:{top}")
    kpis = page_results(ws, "overview", view)[0]
    assert set(kpis.table.column("rfm_segment").to_pylist()) == {top}
    expected = {(r["kpi"], r["period"]): r["value"] for r in live if r["rfm_segment"] == top}
    shown = {(r["kpi"], r["period"]): r["value"] for r in kpis.to_records()
             if r["kpi"] in ("revenue", "orders")}  # fmt: skip
    assert shown and shown == pytest.approx(expected, nan_ok=True)
    sizes = ws.segments("rfm_segment").to_records()
    shown_sizes = page_results(ws, "customers", view)[0]
    assert shown_sizes.to_records() == [r for r in sizes if r["rfm_segment"] == top]


def test_the_overview_of_one_channel_is_read_from_the_channels_page(ws):
    kpis = page_results(ws, "overview", View.of(channel="email"))[0]
    assert not any("live" in n for n in kpis.notes)
    assert any("Not cut by channel: retention_rate" in n for n in kpis.notes)
    live = PAGES["overview"].build(ws, View.of(channel="email"))[0]
    _same(kpis, _without(live, "retention_rate"))
    alerts = page_results(ws, "overview", View.of(channel="email"))[1]
    live_alerts = PAGES["overview"].build(ws, View.of(channel="email"))[1]
    assert alerts.name == live_alerts.name == "alerts"
    assert _rows(alerts) == _rows(_without(live_alerts, "retention_rate"))


def _without(result, kpi):
    return replace(result, table=result.table.filter(pc.field("kpi") != kpi))
