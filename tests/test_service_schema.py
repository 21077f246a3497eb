"""The service's contract, tested from its own OpenAPI schema: never a 5xx, whatever the input.

Schemathesis generates requests for every operation of `/openapi.json` (the query API, the
collector, /health and /metrics), inside and outside the schema, and sends them with the read
key (`/api`) or the write key (`/v1`) to an app over a small loaded world. Only Schemathesis'
`not_a_server_error` check is asserted: the contract is "never a 5xx"; its stricter checks
(documented status codes, response schemas) are not part of it.

- The app runs in ONE TestClient (its lifespan starts the collector's writer once);
  Schemathesis only builds the requests (`Case.as_transport_kwargs`) and judges the answers
  (`Case.validate_response`).
- The schema is read at import from an app over an empty in-memory warehouse (the routes do not
  depend on the data; `test_schema_is_the_served_one` checks it), because Schemathesis' lazy
  loader (`schemathesis.pytest.from_fixture`) sets `Function._nodeid`, which pytest 9.2 removed.
  (With pytest 9.2 the items of all the operations also share one node id: the operation shows in
  the item's name and in the failure's curl line.)
- The served schema describes the collector's body loosely (`properties`, `traits`, `context`:
  any object), so here those get the fields the collector reads, with Segment's types
  (`EVENT`, `BATCH`): Schemathesis then generates bodies that reach them, following the types
  and breaking them.
- The 5xx this module found (a far forecast, a NUL in a parameter, the last day of the calendar,
  a `top` over 64 bits) are fixed; each stays a plain regression test at the end of this module.
  Nothing is set aside: the property runs over every input.
"""

from __future__ import annotations

import copy
import json
import time
from datetime import date
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

import omnimetrics
from omnimetrics.service import collector, create_app
from omnimetrics.workspace.pipeline import demo_goals
from tests.helpers import loaded_world

pytestmark = pytest.mark.slow  # about 70 s of generated requests: `make test-slow`

READ, WRITE = "schema-read-key-000001", "schema-write-key-00002"
START, DAYS = date(2025, 1, 1), 40  # the simulator's default start
CONFIG = {
    "server": {"read_keys": {"bi": READ}, "write_keys": {"web": WRITE}, "refresh_minutes": 0},
    "goals": list(demo_goals(START, DAYS)),
}
BASE_URL = "http://testserver"
CALLS: dict[str, list[float]] = {}
"""Seconds of every call, by operation: printed when the module's app stops."""


def key_for(path: str) -> dict[str, str]:
    """The key a route needs: read for the query API, write for the collector."""
    if path.startswith("/api"):
        return {"Authorization": f"Bearer {READ}"}
    if path.startswith("/v1"):
        return {"Authorization": f"Bearer {WRITE}"}
    return {}


# -- the schema ----------------------------------------------------------------------------------
def _spec() -> dict[str, Any]:
    """The OpenAPI document of the service, from an app that starts nothing (no writer)."""
    ws = omnimetrics.open(":memory:", demo=True)
    try:
        app = create_app(ws, collect=False)
        app.include_router(collector.router)
        return app.openapi()
    finally:
        ws.close()


TEXT = {"type": "string"}
EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "messageId": TEXT, "userId": TEXT, "anonymousId": TEXT, "previousId": TEXT,
        "event": {"type": "string", "enum": ["Order Completed", "Product Viewed", "Signed Up"]},
        "name": TEXT,
        "timestamp": {"type": "string", "format": "date-time"},
        "originalTimestamp": {"type": "string", "format": "date-time"},
        "sentAt": {"type": "string", "format": "date-time"},
        "properties": {"type": "object", "properties": {
            "order_id": TEXT, "total": {"type": "number"}, "revenue": {"type": "number"},
            "currency": TEXT, "discount": {"type": "number"}, "coupon": TEXT, "url": TEXT,
            "products": {"type": "array", "maxItems": 3, "items": {
                "type": "object", "properties": {"quantity": {"type": "number"}}}},
        }},
        "traits": {"type": "object", "properties": {"email": TEXT, "phone": TEXT}},
        "context": {"type": "object", "properties": {
            "ip": TEXT, "userAgent": TEXT,
            "traits": {"type": "object", "properties": {"email": TEXT, "phone": TEXT}},
            "device": {"type": "object", "properties": {"id": TEXT, "type": TEXT}},
            "campaign": {"type": "object", "properties": {"source": TEXT, "medium": TEXT,
                                                           "name": TEXT}},
            "page": {"type": "object", "properties": {"url": TEXT, "referrer": TEXT}},
            "consent": {"type": "object", "properties": {"categoryPreferences": {
                "type": "object", "properties": {"analytics": {"type": "boolean"}}}}},
        }},
    },
}  # fmt: skip
"""Segment's event, with the nested fields the collector reads (the served schema stops at
`properties`, `traits` and `context` being objects)."""
BATCH = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {"type": "array", "maxItems": 4, "items": {
            **EVENT, "properties": {**EVENT["properties"], "type": {
                "type": "string", "enum": ["track", "identify", "page", "screen", "alias"]}}}},
        "context": EVENT["properties"]["context"],
    },
}  # fmt: skip


def _with_bodies(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with the detailed request body for each collector route."""
    spec = copy.deepcopy(spec)
    for path, operations in spec["paths"].items():
        if path.startswith("/v1/"):
            body = BATCH if path == "/v1/batch" else EVENT
            operations["post"]["requestBody"] = {
                "required": True, "content": {"application/json": {"schema": body}}}  # fmt: skip
    return spec


NO_COVERAGE = {"coverage": {"enabled": False}}
"""Schemathesis' coverage phase adds a hundred or more deterministic boundary cases per
operation, beyond `max_examples`: too many for the routes that compute, or write."""


COMPUTING = r"^/api/(kpis|attribution|influence|segments|goals|maturity|journeys|channels|quality)$"
"""Routes that compute over the world (0.2 to 2 s a call): only their `max_examples` generated
cases. The cheap ones (/api/tables, quarantine, runs, timeline, /health, /metrics) get the
coverage phase too."""
SPEC = _spec()
query_schema = schemathesis.openapi.from_dict(
    SPEC,
    config=schemathesis.Config.from_dict(
        {"operations": [{"include-path-regex": COMPUTING, "phases": NO_COVERAGE}]}
    ),
).exclude(path_regex="^/v1/")
collector_schema = schemathesis.openapi.from_dict(
    _with_bodies(SPEC), config=schemathesis.Config.from_dict({"phases": NO_COVERAGE})
).include(path_regex="^/v1/")
"""Two schemas: with a per-operation config (`[[operations]] include-path-regex`),
`schema.include()` no longer filters anything in Schemathesis 4.32 (`exclude()` still does)."""


# -- the app -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A small simulated world (200 customers, 40 days), loaded and run, behind the app."""
    folder = tmp_path_factory.mktemp("schema")
    _, wh = loaded_world(folder, customers=200, days=DAYS, seed=13)
    wh.close()
    ws = omnimetrics.open(folder / "w.duckdb", CONFIG, demo=True)
    ws.run()
    app = create_app(ws)
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        yield app, client
    ws.close()
    calls = sum(len(v) for v in CALLS.values())
    seconds = sum(sum(v) for v in CALLS.values())
    print(f"\nschemathesis: {calls} calls over {len(CALLS)} method+path pairs in {seconds:.1f} s")
    for label, times in sorted(CALLS.items(), key=lambda item: -sum(item[1]))[:24]:
        print(f"  {label:28} {len(times):4} calls {sum(times):6.1f} s")


def call(client: TestClient, case: Any):
    """Send a Schemathesis case through the app's TestClient, with the route's key."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=key_for(case.path))
    headers = dict(kwargs.get("headers") or {})
    if kwargs.get("cookies"):  # per-request cookies= is deprecated in httpx: as a header
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in kwargs["cookies"].items())
    if "json" in kwargs:
        content = json.dumps(kwargs["json"]).encode()
    else:
        data = kwargs.get("data")
        content = data.encode() if isinstance(data, str) else data
    started = time.perf_counter()
    response = client.request(
        kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=headers,
        content=content,
    )  # fmt: skip
    CALLS.setdefault(f"{case.method.upper()} {case.path}", []).append(time.perf_counter() - started)
    return response


def test_schema_is_the_served_one(service):
    app, client = service
    served = client.get("/openapi.json").json()
    assert served["paths"] == SPEC["paths"] == app.openapi()["paths"]
    assert {"/api/kpis", "/v1/track", "/v1/batch", "/health", "/metrics"} <= set(SPEC["paths"])


# -- the properties ------------------------------------------------------------------------------
@query_schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_query_api_never_answers_a_server_error(case, service):
    _, client = service
    case.validate_response(call(client, case), checks=[not_a_server_error])


@collector_schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_collector_never_answers_a_server_error(case, service):
    _, client = service
    case.validate_response(call(client, case), checks=[not_a_server_error])


# -- 5xx found by this module, now refused with a 422 ---------------------------------------------------------------------
def get(client: TestClient, url: str):
    return client.get(url, headers=key_for(url))


@pytest.mark.parametrize("grain, forecast", [("day", 198_016), ("week", 20_000),
                                              ("month", 100_000)])  # fmt: skip
def test_a_far_forecast(service, grain, forecast):
    _, client = service
    response = get(client, f"/api/kpis?grain={grain}&alerts=false&forecast={forecast}")
    assert response.status_code < 500, response.text[:200]


@pytest.mark.parametrize("url", ["/api/quarantine?table=%00", "/api/quarantine?reason=a%00b",
                                 "/api/timeline?identifier=C%00", "/api/segments?campaign=%00x"])  # fmt: skip
def test_nul_in_a_parameter(service, url):
    _, client = service
    response = get(client, url)
    assert response.status_code < 500, response.text[:200]


@pytest.mark.parametrize("url", ["/api/kpis?grain=day&until=9999-12-31",
                                 "/api/attribution?model=linear&until=9999-12-31",
                                 "/api/maturity?as_of=9999-12-31",
                                 "/api/maturity?compare=9999-12-31"])  # fmt: skip
def test_the_last_day_of_the_calendar(service, url):
    _, client = service
    response = get(client, url)
    assert response.status_code < 500, response.text[:200]


def test_top_over_64_bits(service):
    _, client = service
    response = get(client, "/api/journeys?top=99999999999999999999")
    assert response.status_code < 500, response.text[:200]
