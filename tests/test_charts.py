"""Charts show the numbers their result returns, in colour-blind-safe colours, with units."""

from __future__ import annotations

import base64
import doctest
import re

import pyarrow as pa
import pytest

import omnimetrics
from omnimetrics import charts
from omnimetrics.errors import UnknownNameError
from omnimetrics.results import Result
from tests.helpers import loaded_world


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    _, warehouse = loaded_world(tmp_path_factory.mktemp("charts"), customers=250, days=60, seed=5)
    workspace = omnimetrics.Workspace(warehouse)
    workspace.run()
    return workspace


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
    formats = {figure.layout[a].tickformat for a in ("yaxis", "yaxis2")}
    assert formats == {",.2f", ".1%"}  # revenue in money, conversion rate in percent
    assert {t.line.color for t in figure.data} <= set(charts.PALETTE)


def test_attribution_bars_are_each_models_shares(ws):
    result = ws.attribution(["last_touch", "linear", "markov"])
    figure = result.plot()
    assert [t.name for t in figure.data] == ["last_touch", "linear", "markov"]
    for trace in figure.data:
        mine = [r for r in result.to_records() if r["model"] == trace.name]
        assert list(trace.x) == [r["channel"] for r in mine]
        assert list(trace.y) == pytest.approx([r["share"] for r in mine])
        assert sum(trace.y) == pytest.approx(1.0)
    assert figure.layout.barmode == "group" and figure.layout.yaxis.tickformat == ".0%"


def test_funnel_segments_and_maturity_show_their_counts(ws):
    steps = ws.journeys()["funnel"]
    assert list(steps.plot().data[0].x) == [r["persons"] for r in steps.to_records()]
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
    for title in ("Summary", "KPIs by month", "Attribution: the models side by side",
                  "Journeys", "Customers", "Omnichannel maturity", "Data quality"):  # fmt: skip
        assert f"<h2>{title}</h2>" in page, title
    assert "Not available" not in page
    kpis = ws.kpis(list(HEADLINE_KPIS), grain="month").to_records()
    last = max(r["period"] for r in kpis)
    revenue = next(r for r in kpis if r["kpi"] == "revenue" and r["period"] == last)
    assert f"Revenue in {last:%B %Y}: {revenue['value']:,.2f}" in page


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
        if page != "quality":
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

    from omnimetrics.report import _change_sentence

    share = {"period": date(2026, 3, 1), "value": 0.123, "change": 0.021, "change_kind": "points"}
    assert _change_sentence("conversion_rate", share) == (
        "Conversion rate in March 2026: 12.3% (+2.1 points on the month before, better)."
    )
    money = {
        "period": date(2026, 3, 1),
        "value": 1500.0,
        "change": -0.25,
        "change_kind": "relative",
    }
    assert _change_sentence("revenue", money) == (
        "Revenue in March 2026: 1,500.00 (-25.0% on the month before, worse)."
    )
