"""Charts show the numbers their result returns, in colour-blind-safe colours, with units."""

from __future__ import annotations

import base64
import doctest
import re
from collections import Counter
from datetime import date

import pyarrow as pa
import pytest

import omnimetrics
from omnimetrics import charts
from omnimetrics.errors import UnknownNameError
from omnimetrics.results import Result


@pytest.fixture(scope="module")
def ws(run_world):
    return run_world


@pytest.fixture(scope="module")
def journeys(ws):
    return ws.journeys()


@pytest.fixture(scope="module")
def credit(ws):
    """Three models with their disagreement, roles and bootstrap intervals, in one call."""
    return ws.attribution(["last_touch", "linear", "markov"], compare=True, intervals=20)


def test_the_module_example_runs():
    assert doctest.testmod(charts).failed == 0


def test_kpi_panels_hold_the_kpi_values_with_their_unit(ws):
    result = ws.kpis(["revenue", "conversion_rate"], by=["channel"], grain="month")
    figure = result.plot()
    rows = result.to_records()
    for trace in figure.data:
        axis = "yaxis" if trace.yaxis == "y" else "yaxis" + trace.yaxis[1:]
        kpi = "revenue" if figure.layout[axis].tickformat == ",.2f" else "conversion_rate"
        mine = sorted((r for r in rows if r["kpi"] == kpi and r["channel"] == trace.name),
                      key=lambda r: r["period"])  # fmt: skip
        assert list(trace.y) == pytest.approx([r["value"] for r in mine], nan_ok=True)
        assert list(trace.x) == [r["period"] for r in mine]
        symbols = ["circle-open" if r["partial"] else "circle" for r in mine]
        assert list(trace.marker.symbol) == symbols  # the month in progress: an open marker
    formats = {figure.layout[a].tickformat for a in ("yaxis", "yaxis2")}
    assert formats == {",.2f", ".1%"}  # revenue in money, conversion rate in percent
    assert {t.line.color for t in figure.data} <= set(charts.PALETTE)
    for axis in ("xaxis", "xaxis2"):  # monthly periods: a tick per month, named by month
        assert (figure.layout[axis].dtick, figure.layout[axis].tickformat) == ("M1", "%b %Y")


def test_attribution_bars_are_each_models_shares(credit):
    result = credit
    figure = result.plot()
    assert [t.name for t in figure.data] == ["last_touch", "linear", "markov"]
    for trace in figure.data:
        mine = [r for r in result.to_records() if r["model"] == trace.name]
        assert list(trace.x) == [r["channel"] for r in mine]
        assert list(trace.y) == pytest.approx([r["share"] for r in mine])
        assert sum(trace.y) == pytest.approx(1.0)
    assert figure.layout.barmode == "group" and figure.layout.yaxis.tickformat == ".0%"


def test_funnel_segments_and_maturity_show_their_counts(ws, journeys):
    steps = journeys["funnel"]
    assert list(steps.plot().data[0].x) == [r["persons"] for r in steps.to_records()]
    assert list(steps.plot().data[0].y) == [f"{r['step']}. {r['event_type']}"
                                            for r in steps.to_records()]  # fmt: skip
    sizes = ws.segments("rfm_segment")
    assert list(sizes.plot().data[0].y) == [r["persons"] for r in sizes.to_records()]
    dimensions = ws.maturity()["dimensions"]
    bars = dimensions.plot().data[0]
    assert list(bars.x) == pytest.approx([r["score"] for r in dimensions.to_records()])
    assert all(0 <= x <= 100 for x in bars.x)


def test_a_result_without_a_picture_says_which_have_one():
    with pytest.raises(UnknownNameError, match=r"No chart for 'tables'.*kpis"):
        Result("tables", "Tables", pa.table({"table": ["orders"], "rows": [3]})).plot()


def test_the_report_is_one_offline_file_with_every_section_and_a_summary(ws, tmp_path):
    from omnimetrics.report import HEADLINE_KPIS, write_report

    page = write_report(ws, tmp_path / "report.html").read_text(encoding="utf-8")
    assert not re.findall(r"<script[^>]*\bsrc=", page)  # Plotly's JavaScript inside, no CDN
    assert page.count("Plotly.newPlot") >= 5
    # a section per dashboard page
    pages = ("Summary", "Overview", "Channels", "Attribution", "Journeys", "Customers", "Goals",
             "Maturity", "Data quality")  # fmt: skip
    for title in pages:
        assert f"<h2>{title}</h2>" in page, title
    assert "Not available" not in page
    kpis = ws.kpis(list(HEADLINE_KPIS), grain="month").to_records()
    last = max(r["period"] for r in kpis if not r["partial"])  # not the month in progress
    revenue = next(r for r in kpis if r["kpi"] == "revenue" and r["period"] == last)
    assert f"Revenue in {last:%B %Y}: {revenue['value']:,.2f}" in page


def test_a_partial_month_is_shown_so_far_not_compared():
    """The tile and the summary tell the latest whole month and its change; the month in
    progress is shown "so far", with no change against a whole month."""
    from omnimetrics.report import summary_lines
    from omnimetrics.service.dashboard import _tiles

    table = pa.table({
        "kpi": ["revenue"] * 3, "period": [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)],
        "value": [1000.0, 1200.0, 400.0], "partial": [False, False, True],
        "change": [None, 0.2, None], "change_kind": ["relative"] * 3,
    })  # fmt: skip
    kpis = Result("kpis", "KPIs", table)
    tile = _tiles([kpis], "en")
    assert "data-period='2026-10-01'" in tile and "data-value='1200.0'" in tile
    assert "+20.0% vs the month before" in tile
    assert "2026-11 so far: 400.00" in tile
    assert summary_lines(kpis, None, None) == [
        "Revenue in October 2026: 1,200.00 (+20.0% on the month before, better)."
    ]


def kpi_rows(periods: list[date]) -> Result:
    table = pa.table({"kpi": ["orders"] * len(periods), "period": periods,
                      "value": [3.0] * len(periods)})  # fmt: skip
    return Result("kpis", "KPIs", table)


@pytest.mark.parametrize(
    ("periods", "monthly"),
    [
        ([date(2026, 1, 1), date(2026, 2, 1), date(2026, 4, 1)], True),  # a month missing
        ([date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)], False),  # weeks
        ([date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1)], False),  # quarters
        ([date(1970, 1, 1)], False),  # grain=total: one period, not told as a month
    ],
)
def test_only_monthly_kpis_get_a_tick_per_month(periods, monthly):
    axis = kpi_rows(periods).plot().layout.xaxis
    assert (axis.dtick, axis.tickformat) == (("M1", "%b %Y") if monthly else (None, None))


def nodes_of(sankey) -> list[tuple[int, str]]:
    """(position, channel) of each node, the conversion node as (0, "conversion")."""
    positions = [int(c.split()[1]) if c.startswith("touch") else 0 for c in sankey.node.customdata]
    return list(zip(positions, sankey.node.label, strict=True))


def test_the_path_sankey_conserves_the_conversions_of_the_shown_paths(journeys):
    paths = journeys["paths"]
    sankey = paths.plot().data[0]
    nodes = nodes_of(sankey)
    into, out = Counter(), Counter()
    for source, target, value in zip(sankey.link.source, sankey.link.target, sankey.link.value,
                                     strict=True):  # fmt: skip
        out[nodes[source]] += value
        into[nodes[target]] += value
    expected = Counter()  # conversions through each (position, channel), from the table
    for row in (r for r in paths.to_records() if r["conversions"]):
        for position, channel in enumerate(row["path"].split(" > ")[:4], start=1):
            expected[position, channel] += row["conversions"]
    assert len(nodes) == len(set(nodes)) == len(expected) + 1
    converted = sum(r["conversions"] for r in paths.to_records())
    assert into[0, "conversion"] == converted and out[0, "conversion"] == 0
    for node in expected:
        if node[0] > 1:  # a later touch: what enters it leaves it
            assert into[node] == out[node] == expected[node], node
        else:
            assert into[node] == 0 and out[node] == expected[node], node
    assert any(len(r["path"].split(" > ")) > 4 for r in paths.to_records())  # the fold is tested
    assert set(sankey.node.color) <= set(charts.PALETTE)


def test_the_transitions_heatmap_holds_each_rows_count(journeys):
    moves = journeys["transitions"]
    heatmap = moves.plot().data[0]
    for row in moves.to_records():
        cell = heatmap.z[list(heatmap.y).index(row["channel"])][
            list(heatmap.x).index(row["next_channel"])
        ]
        assert cell == row["transitions"]
    assert sum(v is not None for line in heatmap.z for v in line) == moves.num_rows
    assert heatmap.colorscale[-1][1] == charts.PALETTE[0]


@pytest.mark.parametrize(
    ("name", "labels", "count"),
    [
        ("time_to_convert", ["time_to_convert"], "orders"),
        ("lengths", ["touches"], "orders"),
        ("exits", ["channel", "event_type"], "journeys"),
    ],
)
def test_bucket_bars_are_the_shares_in_row_order(journeys, name, labels, count):
    result = journeys[name]
    figure = result.plot()
    bars = figure.data[0]
    rows = result.to_records()
    assert list(bars.x) == [" ".join(str(r[c]) for c in labels) for r in rows]
    assert list(bars.y) == pytest.approx([r["share"] for r in rows])
    assert list(bars.customdata) == [r[count] for r in rows]
    assert list(figure.layout.xaxis.categoryarray) == list(bars.x)  # row order, not sorted
    assert figure.layout.yaxis.tickformat == ".0%" and bars.marker.color in charts.PALETTE


def test_ropo_bars_are_the_identified_rates_of_each_direction(journeys):
    ropo = journeys["ropo"]
    figure = ropo.plot()
    identified = [r for r in ropo.to_records() if r["method"] == "identified"]
    assert [t.name for t in figure.data] == ["online_to_store", "store_to_online"]
    for trace in figure.data:
        mine = [r for r in identified if r["direction"] == trace.name]
        assert list(trace.x) == [r["channel"] for r in mine]
        assert list(trace.y) == pytest.approx([r["rate"] for r in mine])
    assert sum(len(t.x) for t in figure.data) == len(identified) < ropo.num_rows
    assert {t.marker.color for t in figure.data} <= set(charts.PALETTE)


def test_the_influence_heatmap_holds_each_share_as_a_percentage(ws):
    result = ws.influence()
    figure = result.plot()
    heatmap = figure.data[0]
    for row in result.to_records():
        cell = heatmap.z[list(heatmap.y).index(row["sales_channel"])][
            list(heatmap.x).index(row["channel"])
        ]
        assert cell == pytest.approx(row["share_of_sales_channel"])
    assert sum(v is not None for line in heatmap.z for v in line) == result.num_rows
    assert heatmap.colorbar.tickformat == ".0%" and "%{z:.1%}" in heatmap.hovertemplate
    assert heatmap.colorscale[-1][1] == charts.PALETTE[0]


def test_the_disagreement_dumbbells_run_from_the_lowest_to_the_highest_model(credit):
    spread = credit["disagreement"]
    line, lowest, highest = spread.plot().data
    rows = spread.to_records()
    assert list(line.x) == [x for r in rows for x in (r["min_share"], r["max_share"], None)]
    assert list(line.y) == [y for r in rows for y in (r["channel"], r["channel"], None)]
    assert list(lowest.x) == [r["min_share"] for r in rows]
    assert list(lowest.customdata) == [r["lowest_model"] for r in rows]
    assert list(highest.x) == [r["max_share"] for r in rows]
    assert list(highest.customdata) == [r["highest_model"] for r in rows]
    assert {line.line.color, lowest.marker.color, highest.marker.color} <= set(charts.PALETTE)


def test_the_role_bars_stack_each_channels_shares(credit):
    roles = credit["roles"]
    figure = roles.plot()
    columns = {"opening": "early_share", "middle": "middle_share", "closing": "late_share",
               "only touch": "only_share"}  # fmt: skip
    assert [t.name for t in figure.data] == list(columns)
    for trace in figure.data:
        column = columns[trace.name]
        assert list(trace.y) == [r["channel"] for r in roles.to_records()]
        assert list(trace.x) == pytest.approx([r[column] for r in roles.to_records()])
    stacked = [sum(parts) for parts in zip(*(t.x for t in figure.data), strict=True)]
    assert stacked == pytest.approx([1.0] * roles.num_rows)  # every touch has one role
    assert figure.layout.barmode == "stack" and figure.layout.xaxis.tickformat == ".0%"
    assert {t.marker.color for t in figure.data} <= set(charts.PALETTE)


def test_attribution_error_bars_span_each_shares_interval(credit):
    assert {"share_low", "share_high"} <= set(credit.columns)
    for trace in credit.plot().data:
        mine = [r for r in credit.to_records() if r["model"] == trace.name]
        drawn = zip(trace.y, trace.error_y.arrayminus, trace.error_y.array, strict=True)
        low, high = zip(*((y - minus, y + plus) for y, minus, plus in drawn), strict=True)
        assert list(low) == pytest.approx([r["share_low"] for r in mine])
        assert list(high) == pytest.approx([r["share_high"] for r in mine])
    plain = Result("attribution", "A", credit.table.drop_columns(["share_low", "share_high"]))
    assert plain.plot().data[0].error_y.array is None


def test_the_experiment_forest_plot_spans_each_relative_interval():
    rows = {"experiment": ["t", "t", "t"], "measure": ["conversion", "revenue", "conversion"],
            "variant": ["B", "B", "C"], "control": ["A", "A", "A"],
            "lift_rel": [0.10, -0.02, 0.30], "rel_ci_low": [0.02, -0.10, 0.05],
            "rel_ci_high": [0.19, 0.07, 0.60], "significant": [True, False, True],
            "p_value": [0.01, 0.6, 0.02]}  # fmt: skip
    figure = Result("experiment_results", "T", pa.table(rows)).plot()
    drawn = {}
    for trace in figure.data:
        for y, x, minus, plus in zip(trace.y, trace.x, trace.error_x.arrayminus,
                                     trace.error_x.array, strict=True):  # fmt: skip
            drawn[y] = (x - minus, x, x + plus, trace.name)
    assert drawn == {
        "t · conversion · B vs A": pytest.approx((0.02, 0.10, 0.19, "significant")),
        "t · revenue · B vs A": pytest.approx((-0.10, -0.02, 0.07, "not significant")),
        "t · conversion · C vs A": pytest.approx((0.05, 0.30, 0.60, "significant")),
    }
    assert figure.layout.xaxis.tickformat == "+.0%"


def test_ingest_bars_stack_what_became_of_each_tables_rows(ws):
    quality = ws.quality()
    ledger = quality["ingest"]
    figure = ledger.plot()
    assert [t.name for t in figure.data] == ["accepted", "duplicates", "quarantined", "suppressed"]
    for trace in figure.data:
        assert list(trace.x) == [r["table_name"] for r in ledger.to_records()]
        assert list(trace.y) == [r[trace.name] for r in ledger.to_records()]
    assert figure.layout.barmode == "stack"
    assert {t.marker.color for t in figure.data} <= set(charts.PALETTE)
    reasons = quality["quarantine_reasons"]
    bars = reasons.plot().data[0]
    assert list(bars.y) == [f"{r['table_name']}: {r['reason']}" for r in reasons.to_records()]
    assert list(bars.x) == [r["rows"] for r in reasons.to_records()]
    assert bars.marker.color in charts.PALETTE


def test_goal_bars_show_progress_to_the_target_line_by_status(ws):
    baseline = {"baseline_start": date(2024, 12, 30), "baseline_end": date(2025, 1, 26)}
    goals = (
        {"name": "orders +20%", "kpi": "orders", "target_change": 0.2, "start": date(2025, 1, 27),
         "deadline": date(2025, 3, 2)} | baseline,
        {"name": "conversion 5%", "kpi": "conversion_rate", "target": 0.05,
         "start": date(2025, 1, 27), "deadline": date(2025, 2, 10)} | baseline,
    )  # fmt: skip
    settings = ws.settings.with_(goals=goals)
    result = omnimetrics.Workspace(ws.warehouse.using(settings)).goals(
        grain="week", today=date(2025, 2, 20)
    )
    rows = {r["goal"]: r for r in result.to_records()}
    assert len({r["status"] for r in rows.values()}) == 2  # two colours to tell apart
    figure = result.plot()
    shown = []
    for trace in figure.data:
        for goal, progress in zip(trace.y, trace.x, strict=True):
            status = rows[goal]["status"]
            assert progress == pytest.approx(rows[goal]["progress"])
            assert trace.name == status.replace("_", " ")
            assert trace.marker.color == charts.STATUS_COLOURS[status]
            shown.append(goal)
    assert sorted(shown) == sorted(rows)
    colours = list(charts.STATUS_COLOURS.values())
    assert len(set(colours)) == len(colours) and set(colours) <= set(charts.PALETTE)
    [target] = figure.layout.shapes
    assert (target.x0, target.x1) == (1, 1) and figure.layout.xaxis.tickformat == ".0%"
    [untold] = result.brief(("goal", "kpi", "current", "target", "progress")).plot().data
    assert untold.name == "progress" and untold.marker.color == charts.PALETTE[0]
    assert dict(zip(untold.y, untold.x, strict=True)) == pytest.approx(
        {goal: row["progress"] for goal, row in rows.items()}
    )


@pytest.mark.parametrize("name", sorted(set(charts.CHARTS) - {"segments", "channel_mix"}))
def test_a_result_without_the_columns_of_its_chart_says_which(name):
    with pytest.raises(
        UnknownNameError, match=r"No chart for 'T': a '\w+' chart needs the columns"
    ):
        Result(name, "T", pa.table({"unrelated": [1]})).plot()


READ = "dashboard-read-key-0123456789"


@pytest.fixture(scope="module")
def browser(ws):
    from fastapi.testclient import TestClient

    from omnimetrics.service import create_app

    settings = ws.settings.with_(server=ws.settings.server.__class__(read_keys={"bi": READ}))
    app = create_app(omnimetrics.Workspace(ws.warehouse.using(settings)), collect=False)
    basic = "Basic " + base64.b64encode(f"{READ}:".encode()).decode()
    with TestClient(app, headers={"Authorization": basic}) as client:  # as a browser sends it
        yield client


def test_every_dashboard_page_shows_its_charts_from_local_javascript(browser):
    from omnimetrics.service.dashboard import PAGES

    for page in PAGES:
        response = browser.get(f"/dashboard/{page}")
        assert response.status_code == 200, (page, response.text[:300])
        assert '<script src="/dashboard/static/plotly.min.js">' in response.text
        assert "Not available" not in response.text, (page, response.text[-500:])
        if page == "mix":  # 12 weeks: too few for a model, and the page says why
            assert "too few" in response.text
        elif page not in ("quality", "goals"):  # no goals are declared in this world
            assert "Plotly.newPlot" in response.text, page
    script = browser.get("/dashboard/static/plotly.min.js")
    assert script.status_code == 200 and len(script.content) > 1_000_000


def test_a_dashboard_filter_changes_the_numbers_and_its_csv_matches(browser, ws):
    every = browser.get("/dashboard/channels/kpis.csv").text.splitlines()
    email = browser.get("/dashboard/channels/kpis.csv?channel=email").text.splitlines()
    assert every[0] == email[0] and 1 < len(email) < len(every)
    assert all(',"email",' in line or ",email," in line for line in email[1:])
    page = browser.get("/dashboard/channels?channel=email").text
    assert "value='email'" in page  # the filter stays in the form, and in every CSV link
    assert "/dashboard/channels/kpis.csv?channel=email" in page


def test_the_dashboard_asks_a_browser_for_the_read_key(ws):
    from fastapi.testclient import TestClient

    from omnimetrics.service import create_app

    settings = ws.settings.with_(server=ws.settings.server.__class__(read_keys={"bi": READ}))
    app = create_app(omnimetrics.Workspace(ws.warehouse.using(settings)), collect=False)
    with TestClient(app) as client:
        refused = client.get("/dashboard")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")


def test_the_summary_sentence_by_hand():
    from datetime import date

    from omnimetrics.report import change_sentence

    share = {"period": date(2026, 3, 1), "value": 0.123, "change": 0.021, "change_kind": "points"}
    assert change_sentence("conversion_rate", share) == (
        "Conversion rate in March 2026: 12.3% (+2.1 points on the month before, better)."
    )
    money = {
        "period": date(2026, 3, 1),
        "value": 1500.0,
        "change": -0.25,
        "change_kind": "relative",
    }
    assert change_sentence("revenue", money) == (
        "Revenue in March 2026: 1,500.00 (-25.0% on the month before, worse)."
    )


def test_a_change_is_written_by_its_kind_and_unit():
    from omnimetrics.report import change_text

    assert change_text(-0.25, "relative", "currency") == "-25.0%"
    assert change_text(0.021, "points", "share") == "+2.1 points"
    assert change_text(0.021, "points", "share", "fr") == "+2.1 pts"
    assert change_text(1.5, "points", "score") == "+1.50"  # a score's points, not a percentage
