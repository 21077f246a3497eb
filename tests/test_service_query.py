"""The query API: every route answers with a read key, says the Workspace's numbers, refuses
bad keys and bad questions with a JSON problem, and its filters really filter."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

import omnimetrics
from omnimetrics.errors import ConfigError, UnknownNameError
from omnimetrics.results import Result
from omnimetrics.service import create_app
from omnimetrics.service.query import as_json
from omnimetrics.workspace.pipeline import demo_goals

READ, WRITE = "r" * 24, "w" * 24
SERVER = {"server": {"read_keys": {"bi": READ}, "write_keys": {"web": WRITE}}}
START, DAYS = date(2025, 1, 1), 90  # the shared world's (the simulator's default start)
AS_READER = {"Authorization": f"Bearer {READ}"}
FAST_MODELS = "model=last_touch&model=linear&model=markov"

KPIS = "/api/kpis?kpi=revenue,orders&grain=week&by=channel&forecast=2&alerts=true"
ATTRIBUTION = f"/api/attribution?{FAST_MODELS}&compare=true"
ROUTES = [
    KPIS,
    ATTRIBUTION,
    "/api/influence?model=linear",
    "/api/segments?by=rfm_segment",
    "/api/goals?today=2025-03-01",
    "/api/maturity",
    "/api/journeys?top=5&by=device_type",
    "/api/timeline?identifier=C000010&identifier_type=customer_id",
    "/api/channels",
    "/api/tables",
    "/api/quarantine?limit=5",
    "/api/runs",
    "/api/quality",
]


@pytest.fixture(scope="module")
def world(run_world):
    """The shared small world, run once, behind a query-only app with keys and goals."""
    from omnimetrics.config import Settings

    config = {**SERVER, "goals": list(demo_goals(START, DAYS))}
    settings = Settings.from_mapping(config, demo=True).with_(secret=run_world.settings.secret)
    ws = omnimetrics.Workspace(run_world.warehouse.using(settings))
    with TestClient(create_app(ws, collect=False)) as client:
        yield ws, client


@pytest.fixture(scope="module")
def answers(world):
    """The answer of every route of ROUTES, asked once."""
    _, client = world
    return {url: get(client, url) for url in ROUTES}


def get(client: TestClient, url: str, headers: dict | None = AS_READER):
    return client.get(url, headers=headers)


def same_json(result: Result) -> dict:
    """The result as the API sends it: converted, then through JSON text."""
    return rounded(json.loads(json.dumps(as_json(result), allow_nan=False)))


def same(got, want) -> bool:
    """Equal, floats to a relative 1e-9: DuckDB sums in parallel, so the last bits of a sum
    depend on the order its threads finish (1901.33 or 1901.3299999999997)."""
    if isinstance(got, float) and isinstance(want, float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(same(got[k], want[k]) for k in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(same(a, b) for a, b in zip(got, want, strict=True))
    return got == want


def rounded(value):
    """Floats to 12 significant digits: DuckDB sums in parallel, so the last bits of a sum
    depend on the order its threads finish (1901.33 or 1901.3299999999997)."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


@pytest.mark.parametrize("url", ROUTES, ids=lambda url: url.split("?")[0])
def test_every_route_answers_with_a_read_key(answers, url):
    response = answers[url]
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"name", "title", "rows", "figures", "notes", "parts"}
    assert body["rows"], body["notes"]


def test_numbers_are_the_workspace_numbers(world, answers):
    ws, client = world
    kpis = rounded(get(client, "/api/kpis?kpi=revenue&grain=month").json())
    assert same(kpis, same_json(ws.kpis(["revenue"], grain="month")))
    assert kpis["rows"] and all(row["kpi"] == "revenue" for row in kpis["rows"])
    weekly = ws.kpis(["revenue", "orders"], by=["channel"], grain="week", forecast=2, alerts=True)
    assert same(rounded(answers[KPIS].json()), same_json(weekly))
    attribution = rounded(answers[ATTRIBUTION].json())
    expected = ws.attribution(["last_touch", "linear", "markov"], compare=True)
    assert same(attribution, same_json(expected))
    assert [p["name"] for p in attribution["parts"]] == [p.name for p in expected.parts]
    segments = rounded(get(client, "/api/segments?by=rfm_segment").json())
    assert same(segments, same_json(ws.segments("rfm_segment")))
    since = get(client, "/api/kpis?kpi=orders&grain=day&since=2025-02-01&until=2025-02-10")
    days = {row["period"][:10] for row in since.json()["rows"]}
    assert days and min(days) >= "2025-02-01" and max(days) <= "2025-02-10"


def test_keys_are_checked(world):
    _, client = world
    for headers, status, code in [
        ({}, 401, "missing_key"),
        ({"Authorization": f"Bearer {'x' * 24}"}, 401, "unknown_key"),
        ({"Authorization": f"Bearer {WRITE}"}, 403, "wrong_key_kind"),
    ]:
        response = get(client, "/api/tables", headers)
        assert response.status_code == status
        assert response.json()["code"] == code
    assert get(client, "/api/kpis?grain=fortnight", {}).status_code == 401  # keys come first


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("/api/kpis?kpi=revenu", "Did you mean 'revenue'"),
        ("/api/attribution?model=markv", "Did you mean 'markov'"),
        ("/api/kpis?kpi=revenue&since=2030-01-01", "the data covers 2025-01-"),
        ("/api/kpis?kpi=revenue&grain=fortnight", "grain"),
        ("/api/journeys?funnel=visit,buy", "'buy': not a known event type"),
        ("/api/kpis?kpi=revenue&campaign=spring", "no column 'campaign'"),
        ("/api/segments?segment=champions", "segment"),
    ],
    ids=["kpi", "model", "period", "grain", "funnel", "filter", "segment"],
)
def test_a_bad_question_is_a_422_with_a_message(world, url, says):
    _, client = world
    response = get(client, url)
    assert response.status_code == 422, response.text
    body = response.json()
    assert {"code", "message", "fix"} <= set(body) and body["fix"]
    assert says in body["message"]


def test_a_filter_on_a_missing_column_names_the_columns(world):
    _, client = world
    body = get(client, "/api/kpis?kpi=revenue&segment=rfm_segment:champions").json()
    assert body["code"] == "unknown_filter_column"
    assert "'kpi'" in body["message"] and "'period'" in body["message"]


def test_an_unknown_customer_is_a_404(world):
    _, client = world
    response = get(client, "/api/timeline?identifier=nobody@example.com")
    assert response.status_code == 404
    assert "No person carries the identifier" in response.json()["message"]
    known = get(client, "/api/timeline?identifier=C000010").json()
    assert known["figures"]["person_id"] and known["rows"]
    assert known["rows"] == sorted(known["rows"], key=lambda row: row["at"])


def test_filters_keep_only_the_matching_rows(world, answers):
    _, client = world
    every = answers[ATTRIBUTION].json()["rows"]
    email = get(client, f"{ATTRIBUTION}&channel=email").json()["rows"]
    assert email and len(email) < len(every)
    assert {row["channel"] for row in email} == {"email"}
    assert rounded(email) == rounded([row for row in every if row["channel"] == "email"])
    web = get(client, "/api/kpis?kpi=orders&by=channel&channel=web").json()["rows"]
    assert web and {row["channel"] for row in web} == {"web"}
    spend = get(client, "/api/kpis?kpi=spend&by=campaign").json()["rows"]
    name = spend[0]["campaign"]
    one = get(client, f"/api/kpis?kpi=spend&by=campaign&campaign={name}").json()["rows"]
    assert one == [row for row in spend if row["campaign"] == name] and len(one) < len(spend)
    segments = get(client, "/api/segments").json()["rows"]
    first = segments[0]["rfm_segment"]
    only = get(client, f"/api/segments?segment=rfm_segment:{first}").json()["rows"]
    assert only == [segments[0]] and len(segments) > 1


def test_quality_says_how_fresh_each_table_is(world):
    ws, client = world
    body = get(client, "/api/quality").json()
    latest = {row["table"]: row["latest"] for row in body["rows"]}
    assert latest["orders"][:10] == str(ws.warehouse.table("orders").timestamp.max().execute())[:10]
    parts = {part["name"]: part["rows"] for part in body["parts"]}
    quarantined = sum(row["rows"] for row in parts["quarantine_reasons"])
    assert quarantined == ws.quarantine().figures["rows"]
    assert sum(row["quarantined"] for row in parts["ingest"]) == quarantined
    assert 0 < body["figures"]["orders of identified persons"] <= 1


def test_readers_take_turns_on_the_connection(world):
    _, client = world
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda url: get(client, url).status_code, ROUTES[9:12] * 3))
    assert statuses == [200] * 9


def test_openapi_describes_every_route_and_its_parameters(world):
    _, client = world
    spec = client.get("/openapi.json").json()
    for url in ROUTES:
        operation = spec["paths"][url.split("?")[0]]["get"]
        assert operation["description"] and "401" in operation["responses"]
    kpis = {p["name"]: p for p in spec["paths"]["/api/kpis"]["get"]["parameters"]}
    assert kpis["grain"]["schema"]["enum"] == ["day", "week", "month", "quarter", "year", "total"]
    assert kpis["since"]["schema"]["anyOf"][0]["format"] == "date"
    assert {"channel", "campaign", "segment"} <= set(kpis)


def test_as_json_writes_what_json_cannot():
    at = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    table = pa.table({
        "day": [date(2025, 3, 1)], "at": [at], "share": [math.nan], "lift": [math.inf],
        "price": pa.array([Decimal("1.50")], pa.decimal128(5, 2)), "wait": [timedelta(hours=1)],
    })  # fmt: skip
    result = Result("x", "X", table, figures={"score": float("nan")})
    row = as_json(result)["rows"][0]
    assert row == {"day": "2025-03-01", "at": "2025-03-01T09:30:00+00:00", "share": None,
                   "lift": None, "price": 1.5, "wait": 3600.0}  # fmt: skip
    assert as_json(result)["figures"] == {"score": None}
    json.dumps(as_json(result), allow_nan=False)


def test_result_where_keeps_matching_rows_and_names_the_columns():
    import doctest

    import omnimetrics.results

    assert doctest.testmod(omnimetrics.results).failed == 0
    result = Result("kpis", "KPIs", pa.table({"channel": ["web", None], "orders": [1.0, 2.0]}))
    assert result.where(channel=None).to_records() == [{"channel": None, "orders": 2.0}]
    assert result.where(orders="2").num_rows == 1 and result.where().num_rows == 2
    with pytest.raises(UnknownNameError, match=r"Choose from \['channel', 'orders'\]"):
        result.where(chanel="web")
    with pytest.raises(ConfigError, match="not a value of type double"):
        result.where(orders="many")
