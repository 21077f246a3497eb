"""The dashboard in a real browser: Debian's Chromium, driven by Playwright, against
`omnimetrics serve` started as a user would (issue 14).

A small simulated world is loaded and run into a DuckDB file, then served; every page must load
without a console error and draw its charts, the filters must change the numbers, and the numbers
shown (tiles, timeline, CSV downloads) must be the query API's, which stands on the same
Workspace. Screenshots of every page go to tests/artifacts/dashboard/ (or
$OMNIMETRICS_ARTIFACTS/dashboard) for a human to look at.

Needs the `chromium` binary (`apt-get install chromium`) and the `playwright` package (the dev
extra); Playwright's own browser download is never used.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import duckdb
import httpx
import pytest

import omnimetrics
from omnimetrics.workspace.pipeline import demo_goals
from tests.helpers import loaded_world, serving

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

READ, WRITE = "bi-read-key-dashboard-0123", "web-write-key-dashboard-01"
START, DAYS = date(2025, 1, 1), 90  # the simulator's default start: January to March 2025
PAGES = ("overview", "channels", "attribution", "journeys", "customers", "value", "experiments",
         "mix", "goals", "maturity", "quality")  # fmt: skip
WAIT_MS = 10_000  # for one selector or one page; a missing selector fails in seconds, not minutes
UNKNOWN = "nobody-known-0000"


def artifacts() -> Path:
    """Where screenshots go: $OMNIMETRICS_ARTIFACTS/dashboard, else tests/artifacts/dashboard."""
    root = os.environ.get("OMNIMETRICS_ARTIFACTS")
    folder = Path(root) if root else Path(__file__).parent / "artifacts"
    (folder / "dashboard").mkdir(parents=True, exist_ok=True)
    return folder / "dashboard"


# -- the server, the API and the browser --------------------------------------------------------
@dataclass(frozen=True)
class Served:
    base: str
    person: str  # a customer id with orders, read from the warehouse before serving


def _toml(value: object) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Served]:
    """`omnimetrics serve` on a loaded and run world, one per module.

    The run uses the server's own settings (its goals): the dashboard shows what the run stored.
    """
    folder = tmp_path_factory.mktemp("dashboard-browser")
    goals = "".join(
        "[[goals]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in goal.items())
        for goal in demo_goals(START, DAYS)
    )
    config = folder / "omnimetrics.toml"
    config.write_text(
        f'[server]\nwrite_keys = {{ web = "{WRITE}" }}\nread_keys = {{ bi = "{READ}" }}\n'
        f"refresh_minutes = 0\n\n{goals}"
    )
    _, warehouse = loaded_world(folder, customers=300, days=DAYS, seed=7)
    warehouse.close()
    with omnimetrics.open(folder / "w.duckdb", config, demo=True, create=False) as workspace:
        workspace.run()
    with duckdb.connect(str(folder / "w.duckdb"), read_only=True) as con:
        (person,) = con.sql(
            "SELECT customer_id FROM orders WHERE customer_id IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()
    with serving(folder / "w.duckdb", config, folder / "server.log") as (base, _):
        yield Served(base, person)


@pytest.fixture(scope="module")
def api(server: Served) -> Iterator[httpx.Client]:
    """The query API of the same server, with the read key."""
    headers = {"Authorization": f"Bearer {READ}"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=120) as client:
        yield client


def get(api: httpx.Client, url: str, **params) -> list[dict]:
    response = api.get(url, params=params)
    assert response.status_code == 200, f"{url} {params}: {response.text}"
    return response.json()["rows"]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright (never Playwright's own download)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "The dashboard tests need Chromium and it is not installed: run "
            "`apt-get install chromium` (Debian's package; .ci/run does it)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI may run as root, where Chromium's sandbox refuses to start.
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@dataclass
class Tab:
    """A page of the browser, logged in with the read key, and the errors it reported."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def open(self, path: str):
        response = self.page.goto(path)
        assert response is not None and response.status == 200, (
            f"{path}: HTTP {response and response.status}\n{response and response.text()[:2000]}"
        )
        return response

    def submit(self, button: str):
        """Click a submit button and wait for the page it loads (status 200)."""
        with self.page.expect_navigation() as navigation:
            self.page.click(button)
        response = navigation.value
        assert response is not None and response.status == 200, (
            f"{self.page.url}: HTTP {response and response.status}\n"
            f"{response and response.text()[:2000]}"
        )

    def fill(self, selector: str, value: str) -> None:
        """Type into a text input, or choose in a select: the contract allows either."""
        field_ = self.page.locator(selector)
        if field_.evaluate("e => e.tagName") == "SELECT":
            field_.select_option(value)
        else:
            field_.fill(value)

    def rows(self, table: str) -> list[str]:
        """The text of each body row of a table."""
        return self.page.locator(f"{table} tr:has(td)").all_inner_texts()

    def charts_in_div_chart(self) -> None:
        """Every drawn Plotly chart of the page sits in a div.chart (the page contract)."""
        self.page.locator(".js-plotly-plot svg.main-svg").first.wait_for(state="attached")
        outside = self.page.locator(".js-plotly-plot").evaluate_all(
            "charts => charts.filter(c => !c.closest('div.chart')).map(c => c.id || c.className)"
        )
        assert not outside, f"charts not in a div.chart: {outside}"

    def no_errors(self) -> None:
        # Late requests (the favicon, a chart's data) report their errors after the load event.
        self.page.wait_for_load_state("networkidle")
        assert not self.errors, "the page reported errors:\n" + "\n".join(self.errors)


@pytest.fixture
def tab(browser, server: Served) -> Iterator[Tab]:
    context = browser.new_context(
        base_url=server.base,
        http_credentials={"username": READ, "password": ""},  # the dashboard asks with Basic
        accept_downloads=True,
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    tab = Tab(page)

    def console(message) -> None:
        if message.type == "error":
            tab.errors.append(f"console: {message.text} ({message.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda error: tab.errors.append(f"page error: {error}"))
    yield tab
    context.close()


def same(got: float | None, want: float | None) -> bool:
    """Equal, floats to a relative 1e-9 (DuckDB's parallel sums differ in the last bits)."""
    if got is None or want is None:
        return got is want
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


# -- 1. every page ------------------------------------------------------------------------------
CHART = "div.chart, .plotly-graph-div, .js-plotly-plot"
"""A chart of the contract (div.chart) or any Plotly figure: each must have been drawn."""


@pytest.mark.parametrize("name", PAGES)
def test_every_page_loads_without_errors_and_draws_its_charts(tab: Tab, name: str) -> None:
    try:
        tab.open(f"/dashboard/{name}")
        if name == "mix":  # 12 weeks of data: the page says why there is no model yet
            assert "too few" in tab.page.content()
        else:  # every other page has a chart (with the goals of the config, the goals page too)
            tab.page.locator(".js-plotly-plot svg.main-svg").first.wait_for(state="attached")
            for chart in tab.page.locator(CHART).all():
                chart.locator("svg.main-svg").first.wait_for(state="attached")
        tab.page.wait_for_load_state("networkidle")
    finally:
        tab.page.screenshot(path=artifacts() / f"{name}.png", full_page=True)
    tab.no_errors()


# -- 2. filters ---------------------------------------------------------------------------------
def test_a_channel_filter_keeps_that_channel_only(tab: Tab) -> None:
    tab.open("/dashboard/channels")
    tab.charts_in_div_chart()
    unfiltered = tab.rows("section#kpis table")
    assert any("email" not in row for row in unfiltered), unfiltered
    tab.fill("form#filters [name=channel]", "email")
    tab.submit("form#filters #apply")
    assert parse_qs(urlsplit(tab.page.url).query).get("channel") == ["email"], tab.page.url
    filtered = tab.rows("section#kpis table")
    assert filtered, "no row for channel=email"
    assert all("email" in row for row in filtered), filtered
    assert filtered != unfiltered
    tab.no_errors()


def tiles(tab: Tab) -> dict[str, tuple[str, str]]:
    """The overview's KPI tiles: name -> (data-value, data-period)."""
    found = tab.page.locator("div.tile[data-kpi]")
    found.first.wait_for(state="attached")
    return {
        tile.get_attribute("data-kpi"): (
            tile.get_attribute("data-value"),
            tile.get_attribute("data-period"),
        )
        for tile in found.all()
    }


def test_a_month_range_moves_the_tiles_to_its_latest_period(tab: Tab, api) -> None:
    tab.open("/dashboard/overview")
    before = tiles(tab)
    tab.fill("form#filters [name=since]", "2025-01")
    tab.fill("form#filters [name=until]", "2025-02")
    tab.submit("form#filters #apply")
    query = parse_qs(urlsplit(tab.page.url).query)
    assert (query.get("since"), query.get("until")) == (["2025-01"], ["2025-02"]), tab.page.url
    after = tiles(tab)
    assert after.keys() == before.keys()
    for kpi, (_, period) in after.items():
        rows = get(api, "/api/kpis", kpi=kpi, grain="month", since="2025-01-01",
                   until="2025-02-28")  # fmt: skip
        latest = max(r["period"] for r in rows)
        assert latest == "2025-02-01", (kpi, rows)
        assert period == latest, (kpi, period, before[kpi])
        assert before[kpi][1] > period, (kpi, before[kpi], period)
    tab.no_errors()


# -- 3. the tiles say the Workspace's numbers ---------------------------------------------------
def test_the_tiles_show_the_query_api_numbers(tab: Tab, api) -> None:
    tab.open("/dashboard/overview")
    tab.charts_in_div_chart()
    shown = tiles(tab)
    assert len(shown) >= 3, shown
    for kpi, (value, period) in shown.items():
        rows = get(api, "/api/kpis", kpi=kpi, grain="month")
        # The latest month the data covers whole; the month in progress is shown "so far".
        whole = [r["period"] for r in rows if not r["partial"]]
        assert period == max(whole), (kpi, period, rows)
        (want,) = [r["value"] for r in rows if r["period"] == period]
        assert same(float(value) if value else None, want), (kpi, period, value, want)
        tile = tab.page.locator(f"div.tile[data-kpi='{kpi}']")
        later = [r for r in rows if r["period"] > period]
        assert tile.locator(".so-far").count() == len(later), (kpi, later)
        assert tile.locator(".value").inner_text().strip(), f"tile {kpi}: no formatted value"
        tile.locator("div.chart .js-plotly-plot svg.main-svg").first.wait_for(state="attached")
    tab.no_errors()


# -- 4. the timeline search ---------------------------------------------------------------------
def test_the_timeline_search_finds_a_customer(tab: Tab, api, server: Served) -> None:
    want = get(api, "/api/timeline", identifier=server.person)
    assert want, f"{server.person} has an empty timeline in the API"
    tab.open("/dashboard/customers")
    tab.fill("form#timeline-search input[name=person]", server.person)
    tab.submit("form#timeline-search [type=submit]")
    assert parse_qs(urlsplit(tab.page.url).query).get("person") == [server.person]
    shown = tab.rows("section#timeline table")
    assert len(shown) == len(want), (
        f"{len(shown)} timeline rows shown, the API has {len(want)}:\n" + "\n".join(shown)
    )
    tab.no_errors()


def test_an_unknown_person_is_a_note_not_an_error(tab: Tab) -> None:
    tab.open("/dashboard/customers")
    tab.fill("form#timeline-search input[name=person]", UNKNOWN)
    tab.submit("form#timeline-search [type=submit]")
    notes = " ".join(tab.page.locator("p.note").all_inner_texts())
    assert re.search(r"unknown|not known|no person", notes, re.IGNORECASE), notes
    assert not tab.rows("section#timeline table")
    tab.no_errors()


# -- 5. CSV downloads ---------------------------------------------------------------------------
def _number(text: str) -> float | None:
    return float(text) if text else None


@pytest.mark.parametrize("query", ["", "channel=web"])
def test_the_channels_csv_matches_the_query_api(tab: Tab, api, query: str) -> None:
    tab.open("/dashboard/channels" + (f"?{query}" if query else ""))
    link = tab.page.locator("section#kpis a.csv")
    href = urlsplit(link.get_attribute("href"))
    assert href.path == "/dashboard/channels/kpis.csv"
    assert parse_qs(href.query) == parse_qs(query)
    with tab.page.expect_download() as download:
        link.click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    got = {(r["kpi"], r["channel"], r["period"]): _number(r["value"]) for r in rows}
    names = sorted({kpi for kpi, _, _ in got})
    params = dict(parse_qs(query, keep_blank_values=True))
    answer = get(api, "/api/kpis", kpi=names, by="channel", grain="month", **params)
    want = {(r["kpi"], r["channel"], r["period"]): r["value"] for r in answer}
    assert len(got) == len(rows), "a (kpi, channel, period) appears twice in the CSV"
    assert got.keys() == want.keys(), got.keys() ^ want.keys()
    assert len(got) >= (6 if query else 40), len(got)
    if query:
        assert {channel for _, channel, _ in got} == {"web"}
    differ = {key: (got[key], want[key]) for key in got if not same(got[key], want[key])}
    assert not differ, differ
    tab.no_errors()
