"""The collector (`/v1/...`): Segment payloads in every way a Segment library sends them, mapped
to contract rows, refused with a JSON problem when they cannot be read, deduplicated, filtered by
consent and erasure, and counted in every answer and in `/metrics`.

Each test serves a small demo workspace of its own (`serve`) and reads the stored rows back only
once the app has stopped (its writer thread joined); tests that store nothing share one app.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import omnimetrics
from omnimetrics.config import DEMO_SECRET
from omnimetrics.service import create_app

SOURCE = "web_shop"
WRITE, READ = "write-key-0123456789abcdef", "read-key-0123456789abcdef"
ORIGIN = "https://shop.example"
BEARER = {"Authorization": f"Bearer {WRITE}"}
BASIC = {"Authorization": "Basic " + base64.b64encode(f"{WRITE}:".encode()).decode()}
JSON = {"Content-Type": "application/json"}
EMAIL, PHONE = "jane.doe@example.com", "06 12 34 56 78"
IP = "203.0.113.7"
PAST = "2025-06-01T08:00:00Z"  # a time surely before now: stored as sent
COUNTS = ("received", "accepted", "quarantined", "duplicates", "suppressed")


def keyed(value: str) -> str:
    """The keyed hash of a normalised email or phone (HMAC-SHA256 with the demo secret)."""
    return hmac.new(DEMO_SECRET, value.encode(), hashlib.sha256).hexdigest()


EMAIL_HASH, PHONE_HASH = keyed(EMAIL), keyed("+33612345678")


# -- workspaces and requests ---------------------------------------------------------------------
@pytest.fixture
def workspace(tmp_path: Path):
    """Opens small demo workspaces (`[server]` settings over the defaults of these tests)."""
    opened: list[omnimetrics.Workspace] = []

    def open_(**server: Any) -> omnimetrics.Workspace:
        settings = {"write_keys": {SOURCE: WRITE}, "read_keys": {"bi": READ},
                    "cors_origins": [ORIGIN], **server}  # fmt: skip
        ws = omnimetrics.open(tmp_path / f"w{len(opened)}.duckdb", {"server": settings}, demo=True)
        opened.append(ws)
        return ws

    yield open_
    for ws in opened:
        ws.close()


@contextmanager
def serve(ws: omnimetrics.Workspace) -> Iterator[TestClient]:
    """The app of `ws`, its writer running; 500s come back as responses, not exceptions."""
    with TestClient(create_app(ws), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One app for the tests that store nothing (refusals, CORS): (workspace, client)."""
    settings = {"write_keys": {SOURCE: WRITE}, "read_keys": {"bi": READ},
                "cors_origins": [ORIGIN]}  # fmt: skip
    path = tmp_path_factory.mktemp("collector") / "w.duckdb"
    ws = omnimetrics.open(path, {"server": settings}, demo=True)
    with serve(ws) as client:
        yield ws, client
    ws.close()


def post(client: TestClient, kind: str, payload: Any, mode: str = "bearer"):
    """POST a Segment payload the way a library does: `mode` is how the key travels."""
    body = json.dumps(payload).encode()
    headers = dict(JSON)
    if mode == "basic":  # Segment's server libraries and HTTP API
        headers |= BASIC
    elif mode == "bearer":
        headers |= BEARER
    elif mode == "beacon":  # analytics.js over navigator.sendBeacon: no header can be set
        headers = {"Content-Type": "text/plain;charset=UTF-8"}
        body = json.dumps({**payload, "writeKey": WRITE}).encode()
    elif mode == "gzip":  # the mobile libraries compress their batches
        headers |= BEARER | {"Content-Encoding": "gzip"}
        body = gzip.compress(body)
    else:
        raise AssertionError(mode)
    return client.post(f"/v1/{kind}", content=body, headers=headers)


def collect(client: TestClient, kind: str, payload: Any, mode: str = "bearer") -> dict:
    """The outcome of a request that must be answered 200, with its counts adding up."""
    response = post(client, kind, payload, mode)
    assert response.status_code == 200, response.text
    return outcome(response)


def outcome(response) -> dict:
    body = response.json()
    assert set(body) == {"success", "request", *COUNTS, "rejected"}, body
    assert body["success"] is True and body["request"]
    resolved = sum(body[name] for name in COUNTS[1:])
    assert body["received"] == resolved, body  # every event sent is counted exactly once
    assert len(body["rejected"]) == body["quarantined"], body
    return body


def counts(body: dict) -> tuple[int, ...]:
    return tuple(body[name] for name in COUNTS)


def problem(response, status: int, code: str) -> dict:
    """A refusal: its status and the JSON body every refusal has."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"status", "code", "message", "fix"}, body
    assert body["status"] == status and body["code"] == code, body
    assert body["message"] and body["fix"]
    return body


def rows(ws: omnimetrics.Workspace, table: str) -> list[dict]:
    return ws.warehouse.table(table).to_pyarrow().to_pylist()


def by(records: list[dict], key: str) -> dict[Any, dict]:
    return {record[key]: record for record in records}


def every_text(ws: omnimetrics.Workspace) -> str:
    """Every value of every table of the warehouse, as one text."""
    return "\n".join(
        json.dumps(rows(ws, name), default=str, ensure_ascii=False)
        for name in ws.warehouse.tables()
    )


def links(ws: omnimetrics.Workspace) -> set[tuple]:
    return {(r["message_id"], r["identifier_type_a"], r["identifier_a"], r["identifier_type_b"],
             r["identifier_b"], r["link_source"]) for r in rows(ws, "identities")}  # fmt: skip


# -- 1. every route, every way of giving the key -------------------------------------------------
MODES = ("basic", "bearer", "beacon", "gzip")


def calls(s: str) -> dict[str, dict]:
    """One payload per route, its ids suffixed by `s`."""
    return {
        "track": {"anonymousId": f"anon-{s}", "messageId": f"track-{s}", "event": "Product Viewed"},
        "identify": {"anonymousId": f"anon-{s}", "userId": f"user-{s}",
                     "messageId": f"identify-{s}"},
        "page": {"anonymousId": f"anon-{s}", "messageId": f"page-{s}", "name": "Home"},
        "screen": {"userId": f"user-{s}", "messageId": f"screen-{s}", "name": "Cart"},
        "alias": {"previousId": f"old-{s}", "userId": f"user-{s}", "messageId": f"alias-{s}"},
        "batch": {"batch": [
            {"type": "track", "anonymousId": f"anon-{s}", "messageId": f"batch1-{s}",
             "event": "Checkout Started"},
            {"type": "page", "anonymousId": f"anon-{s}", "messageId": f"batch2-{s}"},
        ]},
    }  # fmt: skip


def test_every_route_takes_the_key_as_basic_bearer_or_in_the_body_and_gzip(workspace):
    ws = workspace()
    answers = {}
    with serve(ws) as client:
        for mode in MODES:
            for kind, payload in calls(mode).items():
                answers[(kind, mode)] = collect(client, kind, payload, mode)
    for (kind, mode), body in answers.items():
        sent = 2 if kind == "batch" else 1
        assert counts(body) == (sent, sent, 0, 0, 0), (kind, mode, body)
        assert body["rejected"] == []
    stored = by(rows(ws, "touchpoints"), "event_id")
    expected = {f"{SOURCE}:{name}-{mode}": event_type for mode in MODES for name, event_type in
                [("track", "product_view"), ("page", "page_view"), ("screen", "page_view"),
                 ("batch1", "checkout"), ("batch2", "page_view")]}  # fmt: skip
    assert {e: r["event_type"] for e, r in stored.items()} == expected
    assert {r["source_file"] for r in stored.values()} == {
        f"collector/{SOURCE}/{a['request']}" for (kind, _), a in answers.items()
        if kind not in ("identify", "alias")
    }  # fmt: skip
    expected_links = set()
    for mode in MODES:
        user, anon, old = f"user-{mode}", f"anon-{mode}", f"old-{mode}"
        expected_links |= {
            (f"identify-{mode}", "customer_id", user, "anonymous_id", anon, "identify"),
            (f"alias-{mode}", "customer_id", old, "customer_id", user, "alias"),
            (f"alias-{mode}", "anonymous_id", old, "customer_id", user, "alias"),
        }
    assert links(ws) == expected_links
    assert WRITE not in every_text(ws)  # a key sent in the body is never kept


# -- 2. mapping ----------------------------------------------------------------------------------
def test_segment_calls_become_contract_rows(workspace):
    ws = workspace(events={"Wishlist Added": "product_view"})
    page = {"anonymousId": "anon-1", "messageId": "page-1", "name": "Shoes", "timestamp": PAST,
            "properties": {"path": "/shoes"},
            "context": {"campaign": {"source": "newsletter", "medium": "email",
                                     "name": "spring_sale", "content": "hero",
                                     "term": "running shoes"},
                        "page": {"url": "https://shop.example/shoes?utm_source=newsletter",
                                 "referrer": "https://mail.example/inbox"},
                        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}}  # fmt: skip
    screen = {"userId": "user-1", "messageId": "screen-1", "name": "Cart", "timestamp": PAST,
              "context": {"device": {"type": "ios", "id": "dev-1"}}}  # fmt: skip
    added = {"anonymousId": "anon-1", "messageId": "add-1", "event": "Product Added",
             "timestamp": PAST, "properties": {"sku": "SH-1"}}  # fmt: skip
    wished = {"anonymousId": "anon-1", "messageId": "wish-1", "event": "wishlist added",
              "timestamp": PAST}  # fmt: skip
    unmapped = {"anonymousId": "anon-1", "messageId": "gift-1", "event": "Gift Wrapped",
                "context": {"traits": {"email": EMAIL}}}  # fmt: skip
    order = {"userId": "user-1", "anonymousId": "anon-1", "messageId": "order-1",
             "event": "Order Completed", "timestamp": PAST,
             "properties": {"order_id": "W-1", "total": 59.9, "revenue": 50, "currency": "EUR",
                            "discount": 5, "coupon": "SPRING10",
                            "products": [{"sku": "a", "quantity": 2}, {"sku": "b", "quantity": 3},
                                         {"sku": "c"}]},
             "context": {"traits": {"email": EMAIL}}}  # fmt: skip
    identify = {"userId": "user-1", "anonymousId": "anon-1", "messageId": "identify-1",
                "timestamp": PAST,
                "traits": {"email": " Jane.Doe@Example.COM ", "phone": PHONE}}  # fmt: skip
    alias = {"previousId": "anon-1", "userId": "user-1", "messageId": "alias-1",
             "timestamp": PAST}  # fmt: skip
    with serve(ws) as client:
        for kind, payload in [("page", page), ("screen", screen), ("track", added),
                              ("track", wished), ("track", order), ("identify", identify),
                              ("alias", alias)]:  # fmt: skip
            assert counts(collect(client, kind, payload)) == (1, 1, 0, 0, 0), payload
        refused = collect(client, "track", unmapped)
    assert counts(refused) == (1, 0, 1, 0, 0)
    [rejected] = refused["rejected"]
    assert rejected["reason"] == "unmapped_event" and rejected["messageId"] == "gift-1"
    assert "[server.events]" in rejected["message"] and "Gift Wrapped" in rejected["message"]

    at = datetime(2025, 6, 1, 8, tzinfo=UTC)
    touch = by(rows(ws, "touchpoints"), "message_id")
    assert set(touch) == {"page-1", "screen-1", "add-1", "wish-1"}
    assert {k: touch["page-1"][k] for k in (
        "event_id", "timestamp", "anonymous_id", "customer_id", "channel", "source", "medium",
        "campaign", "content", "term", "landing_url", "referrer", "event_type", "device_type",
    )} == {
        "event_id": f"{SOURCE}:page-1", "timestamp": at, "anonymous_id": "anon-1",
        "customer_id": None, "channel": None, "source": "newsletter", "medium": "email",
        "campaign": "spring_sale", "content": "hero", "term": "running shoes",
        "landing_url": "https://shop.example/shoes?utm_source=newsletter",
        "referrer": "https://mail.example/inbox", "event_type": "page_view",
        "device_type": "desktop",
    }  # fmt: skip
    assert json.loads(touch["page-1"]["properties"]) == {"path": "/shoes", "segment_name": "Shoes"}
    screen_row = touch["screen-1"]
    assert (screen_row["event_type"], screen_row["channel"], screen_row["device_type"],
            screen_row["device_id"], screen_row["customer_id"]) == (
        "page_view", "app", "mobile", "dev-1", "user-1")  # fmt: skip
    assert touch["add-1"]["event_type"] == "add_to_cart"
    assert json.loads(touch["add-1"]["properties"]) == {
        "sku": "SH-1",
        "segment_event": "Product Added",
    }
    assert touch["wish-1"]["event_type"] == "product_view"  # [server.events], any letter case
    assert {r["event_id"] for r in touch.values()} == {f"{SOURCE}:{m}" for m in touch}

    [stored] = rows(ws, "orders")
    assert {k: stored[k] for k in (
        "order_id", "timestamp", "customer_id", "anonymous_id", "email_hash", "sales_channel",
        "revenue", "currency", "discount", "promo_code", "items", "status", "source", "message_id",
    )} == {
        "order_id": "W-1", "timestamp": at, "customer_id": "user-1", "anonymous_id": "anon-1",
        "email_hash": EMAIL_HASH, "sales_channel": "web", "revenue": 59.9, "currency": "EUR",
        "discount": 5.0, "promo_code": "SPRING10", "items": 6, "status": "completed",
        "source": SOURCE, "message_id": "order-1",
    }  # fmt: skip
    assert links(ws) == {
        ("identify-1", "customer_id", "user-1", "anonymous_id", "anon-1", "identify"),
        ("identify-1", "customer_id", "user-1", "email", EMAIL_HASH, "identify"),
        ("identify-1", "customer_id", "user-1", "phone", PHONE_HASH, "identify"),
        ("alias-1", "customer_id", "anon-1", "customer_id", "user-1", "alias"),
        ("alias-1", "anonymous_id", "anon-1", "customer_id", "user-1", "alias"),
    }
    assert {r["timestamp"] for r in rows(ws, "identities")} == {at}
    [quarantined] = rows(ws, "quarantine")
    assert (quarantined["reason"], quarantined["source_row"]) == ("unmapped_event", 1)

    text = every_text(ws).lower()  # the raw email and phone nowhere, in any table
    assert EMAIL not in text and "12 34 56 78" not in text and "612345678" not in text
    assert "[email]" in quarantined["raw_record"]


def test_the_event_time_is_corrected_for_the_device_clock(workspace):
    ws = workspace()
    skewed = {"userId": "u", "messageId": "skew", "event": "Product Viewed",
              "timestamp": "2025-06-01T10:00:00Z", "sentAt": "2025-06-01T10:00:05Z"}  # fmt: skip
    original = {"userId": "u", "messageId": "original", "event": "Product Viewed",
                "originalTimestamp": PAST}  # fmt: skip
    untimed = {"userId": "u", "messageId": "untimed", "event": "Product Viewed"}
    with serve(ws) as client:
        before = datetime.now(UTC)
        collect(client, "track", skewed)
        collect(client, "track", untimed)
        after = datetime.now(UTC)
        collect(client, "track", original)
    at = {r["message_id"]: r["timestamp"] for r in rows(ws, "touchpoints")}
    # The device's clock is 5 s ahead of the server's: the event happened 5 s before receipt.
    second = timedelta(seconds=1)
    assert before - timedelta(seconds=5) - second <= at["skew"] <= after - timedelta(seconds=5)
    assert before - second <= at["untimed"] <= after + second
    assert at["original"] == datetime(2025, 6, 1, 8, tzinfo=UTC)


# -- 3. refusals ---------------------------------------------------------------------------------
def big_event(size: int) -> dict:
    return {"userId": "u", "event": "Product Viewed", "properties": {"blob": "x" * size}}


REFUSALS = {
    "invalid_json": ("track", b'{"userId": "u",', JSON | BEARER, 400, "invalid_json"),
    "not_an_object": ("track", b'[{"userId": "u"}]', JSON | BEARER, 400, "not_an_object"),
    "batch_missing": ("batch", b'{"events": []}', JSON | BEARER, 400, "missing_batch"),
    "invalid_gzip": ("track", b"{}", JSON | BEARER | {"Content-Encoding": "gzip"}, 400,
                     "invalid_gzip"),
    "no_key": ("track", b'{"userId": "u"}', JSON, 401, "missing_key"),
    "unknown_key": ("track", b'{"userId": "u"}', JSON | {"Authorization": f"Bearer {'z' * 24}"},
                    401, "unknown_key"),
    "unknown_basic_key": ("page", b'{"userId": "u"}',
                          JSON | {"Authorization": "Basic " + base64.b64encode(b"z" * 24 + b":")
                                  .decode()}, 401, "unknown_key"),
    "unknown_body_key": ("track", json.dumps({"writeKey": "z" * 24, "userId": "u"}).encode(),
                         {"Content-Type": "text/plain"}, 401, "unknown_key"),
    "read_key": ("track", b'{"userId": "u"}', JSON | {"Authorization": f"Bearer {READ}"}, 403,
                 "wrong_key_kind"),
    "track_over_32kb": ("track", json.dumps(big_event(33 * 1024)).encode(), JSON | BEARER, 413,
                        "too_large"),
    "batch_over_500kb": ("batch", json.dumps({"batch": [big_event(20_000)] * 26}).encode(),
                         JSON | BEARER, 413, "too_large"),
    "gzip_over_32kb": ("track", gzip.compress(json.dumps(big_event(40_000)).encode()),
                       JSON | BEARER | {"Content-Encoding": "gzip"}, 413, "too_large"),
    "form_body": ("track", b"userId=u", {"Content-Type": "application/x-www-form-urlencoded"}
                  | BEARER, 415, "unsupported_media_type"),
    "no_content_type": ("track", b'{"userId": "u"}', BEARER, 415, "unsupported_media_type"),
    "brotli": ("track", b'{"userId": "u"}', JSON | BEARER | {"Content-Encoding": "br"}, 415,
               "unsupported_encoding"),
    "empty_batch": ("batch", b'{"batch": []}', JSON | BEARER, 422, "empty_batch"),
    "batch_context": ("batch", b'{"batch": [{"type": "page", "userId": "u"}], "context": 1}',
                      JSON | BEARER, 422, "invalid_context"),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSALS)
def test_a_request_that_cannot_be_collected_is_refused_with_a_json_problem(shared, case):
    _, client = shared
    kind, body, headers, status, code = REFUSALS[case]
    response = client.post(f"/v1/{kind}", content=body, headers=headers)
    problem(response, status, code)
    if status == 401:
        assert response.headers["WWW-Authenticate"] == 'Basic realm="omnimetrics"'


@pytest.mark.parametrize(("kind", "size"), [("track", 33 * 1024), ("batch", 501 * 1024)])
def test_a_streamed_body_is_cut_at_the_limit(shared, kind, size):
    """No Content-Length (chunked): the body is read no further than the limit."""
    _, client = shared
    sent = []

    def chunks():
        for _ in range(size // 1024 + 1):
            sent.append(1024)
            yield b" " * 1024

    response = client.post(f"/v1/{kind}", content=chunks(), headers=JSON | BEARER)
    assert "content-length" not in response.request.headers
    problem(response, 413, "too_large")


def test_over_the_rate_or_the_queue_is_refused_until_later(workspace):
    ws = workspace(rate_limit=5, max_queue_events=3)
    batch = {"batch": [{"type": "page", "userId": "u", "messageId": f"m{n}"} for n in range(10)]}
    with serve(ws) as client:
        limited = post(client, "batch", batch)
        problem(limited, 429, "rate_limited")
        assert limited.headers["Retry-After"] == "1"  # 5 events over the 5 of the bucket, at 5/s
        busy = post(client, "batch", {"batch": batch["batch"][:4]})  # 4 tokens: 1 left
        problem(busy, 503, "busy")
        assert busy.headers["Retry-After"] == "5"
        one = collect(client, "page", {"userId": "u", "messageId": "one"})
        assert counts(one) == (1, 1, 0, 0, 0)
        metrics = client.get("/metrics").text
    assert 'omnimetrics_requests_refused_total{status="429",code="rate_limited"} 1' in metrics
    assert 'omnimetrics_requests_refused_total{status="503",code="busy"} 1' in metrics
    assert [r["message_id"] for r in rows(ws, "touchpoints")] == ["one"]
    assert [r["message_id"] for r in rows(ws, "collector_messages")] == ["one"]


def test_a_full_disk_is_a_503_and_nothing_is_stored(workspace):
    ws = workspace(min_free_mb=10**9)
    with serve(ws) as client:
        response = post(
            client, "track", {"userId": "u", "messageId": "m", "event": "Product Viewed"}
        )
        problem(response, 503, "disk_full")
        assert response.headers["Retry-After"] == "60"
        assert client.get("/health").status_code == 200
    assert rows(ws, "touchpoints") == [] and rows(ws, "collector_messages") == []


# -- 4. duplicates, conflicts, a batch of good and bad events ------------------------------------
def test_a_message_is_stored_once(workspace):
    ws = workspace()
    first = {"type": "track", "anonymousId": "a", "messageId": "m1", "event": "Product Viewed",
             "timestamp": PAST, "sentAt": PAST, "properties": {"sku": "A"}}  # fmt: skip
    second = {"type": "page", "anonymousId": "a", "messageId": "m2", "timestamp": PAST}
    with serve(ws) as client:
        assert counts(collect(client, "batch", {"batch": [first, second]})) == (2, 2, 0, 0, 0)
        again = collect(client, "batch", {"batch": [first, second]})
        assert counts(again) == (2, 0, 0, 2, 0) and again["rejected"] == []
        # A retry changes sentAt only: still the same message.
        retried = collect(client, "track", {**first, "sentAt": "2025-06-01T08:00:09Z"})
        assert counts(retried) == (1, 0, 0, 1, 0)
        twice = {"type": "page", "anonymousId": "a", "messageId": "m3"}
        assert counts(collect(client, "batch", {"batch": [twice, twice]})) == (2, 1, 0, 1, 0)
        changed = collect(client, "track", {**first, "properties": {"sku": "B"}})
    assert counts(changed) == (1, 0, 1, 0, 0)
    [rejected] = changed["rejected"]
    assert (rejected["reason"], rejected["messageId"]) == ("message_conflict", "m1")
    touch = rows(ws, "touchpoints")
    assert sorted(r["event_id"] for r in touch) == [f"{SOURCE}:m1", f"{SOURCE}:m2", f"{SOURCE}:m3"]
    assert json.loads(by(touch, "message_id")["m1"]["properties"])["sku"] == "A"  # the first kept
    [conflict] = rows(ws, "quarantine")
    assert conflict["reason"] == "message_conflict"
    assert json.loads(conflict["raw_record"])["properties"] == {"sku": "B"}
    ledger = rows(ws, "collector_messages")
    assert sorted((r["message_id"], r["outcome"]) for r in ledger) == [
        ("m1", "accepted"), ("m2", "accepted"), ("m3", "accepted")]  # fmt: skip


def test_a_batch_stores_its_good_events_and_quarantines_the_bad_ones(workspace):
    ws = workspace()
    future = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    unmapped = {"type": "track", "anonymousId": "a1", "messageId": "b2", "event": "Nope",
                "context": {"ip": IP, "traits": {"email": EMAIL, "phone": PHONE}}}  # fmt: skip
    batch = [
        {"type": "page", "anonymousId": "a1", "messageId": "b1",
         "context": {"ip": IP, "page": {"url": f"https://shop.example/?email={EMAIL}"}}},
        unmapped,
        {"type": "group", "userId": "u", "messageId": "b3"},
        5,
        {"type": "track", "messageId": "b5", "event": "Product Added"},
        {"type": "track", "userId": "u", "messageId": "b6"},
        {"type": "track", "userId": "u", "messageId": "b7", "event": "Product Added",
         "timestamp": "yesterday"},
        {"type": "track", "userId": "u", "messageId": "b8", "event": "Product Added",
         "timestamp": future},
        {"type": "track", "userId": "u", "messageId": "b9", "event": "Order Completed",
         "properties": {"order_id": "X", "total": 10}},
        {"type": "track", "userId": "u", "messageId": "b10", **big_event(33_000)},
        {"type": "screen", "userId": "u", "messageId": "b11", "name": "Home"},
        {"type": "track", "userId": "u", "messageId": "b12", "event": "Product Added",
         "context": {"page": {"url": {"not": "text"}}}},
    ]  # fmt: skip
    with serve(ws) as client:
        body = collect(client, "batch", {"batch": batch})
    assert counts(body) == (12, 2, 10, 0, 0)
    expected = {2: "unmapped_event", 3: "unknown_type", 4: "not_an_object",
                5: "missing_identity", 6: "missing_event", 7: "invalid_type",
                8: "future_timestamp", 9: "missing_required", 10: "event_too_large",
                12: "invalid_field"}  # fmt: skip
    assert {r["index"]: r["reason"] for r in body["rejected"]} == expected
    assert {r["index"]: r["messageId"] for r in body["rejected"] if r["index"] != 4} == {
        i: f"b{i}" for i in expected if i != 4}  # fmt: skip

    touch = rows(ws, "touchpoints")
    assert {(r["message_id"], r["source_row"]) for r in touch} == {("b1", 1), ("b11", 11)}
    assert by(touch, "message_id")["b1"]["landing_url"] == "https://shop.example/?email=[email]"
    quarantine = rows(ws, "quarantine")
    assert {r["source_row"]: r["reason"] for r in quarantine} == expected
    assert {r["source_file"] for r in quarantine} == {f"collector/{SOURCE}/{body['request']}"}
    where = {r["source_row"]: (r["table_name"], r["column_name"]) for r in quarantine}
    assert where[2] == ("collector", "") and where[9] == ("orders", "currency")
    assert where[7] == where[8] == ("touchpoints", "timestamp")
    raw = by(quarantine, "source_row")
    assert json.loads(raw[2]["raw_record"]) == {
        **unmapped, "context": {"ip": "[removed]",
                                "traits": {"email": "[email]", "phone": "[phone]"}}}  # fmt: skip
    assert json.loads(raw[4]["raw_record"]) == 5
    text = every_text(ws)
    assert EMAIL not in text and IP not in text
    ledger = {r["message_id"]: r["outcome"] for r in rows(ws, "collector_messages")}
    assert ledger["b1"] == ledger["b11"] == "accepted" and ledger["b9"] == "quarantined"
    assert len(ledger) == 12


# -- 5. consent ----------------------------------------------------------------------------------
def consent(**preferences: bool) -> dict:
    return {"consent": {"categoryPreferences": preferences}}


def test_events_need_the_analytics_consent(workspace):
    ws = workspace()
    refused = {"userId": "u1", "messageId": "refused", "event": "Product Viewed",
               "context": consent(Advertising=True)}  # fmt: skip
    order = {"userId": "u1", "anonymousId": "a1", "messageId": "order", "event": "Order Completed",
             "context": {**consent(Advertising=True, Analytics=False), "traits": {"email": EMAIL},
                         "device": {"id": "d1"}},
             "properties": {"order_id": "W-7", "total": 42.5, "currency": "EUR"}}  # fmt: skip
    granted = {"userId": "u2", "messageId": "granted", "event": "Product Viewed",
               "context": consent(Analytics=True)}  # fmt: skip
    identify = {"userId": "u1", "anonymousId": "a1", "messageId": "identify",
                "context": consent(analytics=False)}  # fmt: skip
    silent = {"userId": "u3", "messageId": "silent", "event": "Product Viewed"}
    with serve(ws) as client:
        assert counts(collect(client, "track", refused)) == (1, 0, 0, 0, 1)
        assert counts(collect(client, "track", order)) == (1, 1, 0, 0, 0)
        assert counts(collect(client, "track", granted)) == (1, 1, 0, 0, 0)
        assert counts(collect(client, "identify", identify)) == (1, 0, 0, 0, 1)
        assert counts(collect(client, "track", silent)) == (1, 1, 0, 0, 0)  # no consent manager
        assert counts(collect(client, "track", refused)) == (1, 0, 0, 1, 0)  # a retry
    touch = {r["message_id"]: r["customer_id"] for r in rows(ws, "touchpoints")}
    assert touch == {"granted": "u2", "silent": "u3"}
    [stored] = rows(ws, "orders")
    assert (stored["order_id"], stored["revenue"], stored["currency"]) == ("W-7", 42.5, "EUR")
    assert [
        stored[c] for c in ("anonymous_id", "device_id", "customer_id", "email_hash", "phone_hash")
    ] == [None] * 5  # counted, linked to nobody
    assert rows(ws, "identities") == []
    ledger = {r["message_id"]: r["outcome"] for r in rows(ws, "collector_messages")}
    assert ledger == {"refused": "suppressed", "order": "accepted", "granted": "accepted",
                      "identify": "suppressed", "silent": "accepted"}  # fmt: skip
    assert EMAIL_HASH not in every_text(ws)


def test_without_a_consent_manager_events_can_count_as_refused(workspace):
    ws = workspace(consent_when_absent="refused")
    with serve(ws) as client:
        page = {"anonymousId": "a1", "messageId": "p1"}
        assert counts(collect(client, "page", page)) == (1, 0, 0, 0, 1)
        granted = {"anonymousId": "a1", "messageId": "p2", "context": consent(Analytics=True)}
        assert counts(collect(client, "page", granted)) == (1, 1, 0, 0, 0)
        order = {"anonymousId": "a1", "messageId": "o1", "event": "Order Completed",
                 "properties": {"order_id": "W-8", "total": 10, "currency": "EUR"}}  # fmt: skip
        assert counts(collect(client, "track", order)) == (1, 1, 0, 0, 0)
    assert [r["message_id"] for r in rows(ws, "touchpoints")] == ["p2"]
    [stored] = rows(ws, "orders")
    assert (stored["order_id"], stored["revenue"], stored["anonymous_id"]) == ("W-8", 10.0, None)


# -- 6. erasure ----------------------------------------------------------------------------------
def test_an_erased_person_is_not_collected_again(workspace):
    ws = workspace()
    with serve(ws) as client:
        collect(client, "identify", {"userId": "u9", "anonymousId": "a9", "messageId": "i1",
                                     "traits": {"email": EMAIL}})  # fmt: skip
        collect(client, "page", {"anonymousId": "a9", "messageId": "p1"})
    ws.identity()  # erasure finds the person in the resolved identity graph
    erased = ws.erase(EMAIL, "email")
    assert erased.figures["identifiers"] == 3  # the email, the user id, the anonymous id
    assert rows(ws, "touchpoints") == [] and rows(ws, "identities") == []
    with serve(ws) as client:
        by_email = {"anonymousId": "a-new", "messageId": "t1", "event": "Product Viewed",
                    "context": {"traits": {"email": " Jane.Doe@example.com"}}}  # fmt: skip
        assert counts(collect(client, "track", by_email)) == (1, 0, 0, 0, 1)
        cookie = {"anonymousId": "a9", "messageId": "p2"}
        assert counts(collect(client, "page", cookie)) == (1, 0, 0, 0, 1)
        order = {"userId": "u9", "messageId": "o1", "event": "Order Completed",
                 "properties": {"order_id": "W-9", "total": 10, "currency": "EUR"}}  # fmt: skip
        assert counts(collect(client, "track", order)) == (1, 0, 0, 0, 1)
        stranger = {"anonymousId": "a-other", "messageId": "p3"}
        assert counts(collect(client, "page", stranger)) == (1, 1, 0, 0, 0)
        metrics = client.get("/metrics").text
    assert f'omnimetrics_events_suppressed_total{{source="{SOURCE}"}} 3' in metrics
    assert [r["message_id"] for r in rows(ws, "touchpoints")] == ["p3"]
    assert rows(ws, "orders") == [] and rows(ws, "identities") == []
    ledger = {r["message_id"]: r["outcome"] for r in rows(ws, "collector_messages")}
    assert {k: ledger[k] for k in ("t1", "p2", "o1", "p3")} == {
        "t1": "suppressed", "p2": "suppressed", "o1": "suppressed", "p3": "accepted"}  # fmt: skip


# -- 7. CORS -------------------------------------------------------------------------------------
def test_only_configured_origins_may_send_from_a_browser(shared):
    _, client = shared
    ask = {"Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type"}  # fmt: skip
    allowed = client.options("/v1/track", headers={"Origin": ORIGIN, **ask})
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "Origin" in allowed.headers["Vary"]
    other = client.options("/v1/batch", headers={"Origin": "https://evil.example", **ask})
    assert "Access-Control-Allow-Origin" not in other.headers
    refused = client.post("/v1/track", content=b"{}", headers=JSON | {"Origin": ORIGIN})
    problem(refused, 401, "missing_key")  # the page's script can read why
    assert refused.headers["Access-Control-Allow-Origin"] == ORIGIN
    reader = {"Authorization": f"Bearer {READ}"}
    for response in (
        client.options("/api/tables", headers={"Origin": ORIGIN, **ask}),
        client.get("/api/tables", headers={"Origin": ORIGIN, **reader}),
        client.get("/api/tables", headers={"Origin": "https://evil.example", **reader}),
    ):
        assert response.status_code < 500
        assert response.headers.get("Access-Control-Allow-Origin") is None


# -- 8. /metrics and /health ---------------------------------------------------------------------
def metric_values(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_metrics_add_up_the_answers(workspace):
    ws = workspace()
    page = {"anonymousId": "a", "messageId": "p1"}
    answers = []
    with serve(ws) as client:
        assert client.get("/health").json() == {"status": "ok", "collecting": True}
        answers.append(collect(client, "page", page))
        answers.append(collect(client, "page", page))
        answers.append(collect(client, "batch", {"batch": [
            {"type": "track", "userId": "u", "messageId": "t1", "event": "Unknown Thing"},
            {"type": "track", "userId": "u", "messageId": "t2", "event": "Product Viewed",
             "context": consent(Analytics=False)},
            {"type": "screen", "userId": "u", "messageId": "s1"},
        ]}, "basic"))  # fmt: skip
        problem(client.post("/v1/page", content=b"{}", headers=JSON), 401, "missing_key")
        problem(client.post("/v1/page", content=b"{}", headers=BEARER), 415,
                "unsupported_media_type")  # fmt: skip
        problem(post(client, "batch", {"batch": []}), 422, "empty_batch")
        problem(post(client, "batch", {"batch": []}), 422, "empty_batch")
        health = client.get("/health")
        response = client.get("/metrics")
    assert health.status_code == 200
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    values = metric_values(response.text)
    totals = {name: sum(a[name] for a in answers) for name in COUNTS}
    assert totals == {"received": 5, "accepted": 2, "quarantined": 1, "duplicates": 1,
                      "suppressed": 1}  # fmt: skip
    for metric, name in [("received", "received"), ("accepted", "accepted"),
                         ("quarantined", "quarantined"), ("deduplicated", "duplicates"),
                         ("suppressed", "suppressed")]:  # fmt: skip
        assert values[f'omnimetrics_events_{metric}_total{{source="{SOURCE}"}}'] == totals[name]
    refused = {k: v for k, v in values.items() if k.startswith("omnimetrics_requests_refused")}
    assert refused == {
        'omnimetrics_requests_refused_total{status="401",code="missing_key"}': 1,
        'omnimetrics_requests_refused_total{status="415",code="unsupported_media_type"}': 1,
        'omnimetrics_requests_refused_total{status="422",code="empty_batch"}': 2,
    }
    [ledger] = [r for r in rows(ws, "ingest_batches") if r["rows_read"] == 3]
    assert (ledger["accepted"], ledger["quarantined"], ledger["suppressed"]) == (1, 1, 1)


# -- 9. journeys ---------------------------------------------------------------------------------
def test_an_identify_joins_the_anonymous_visits_to_the_customer(workspace):
    ws = workspace()
    visits = [
        {"anonymousId": "anon-j", "messageId": "v1", "timestamp": "2025-06-01T10:00:00Z",
         "context": {"campaign": {"source": "google", "medium": "cpc", "name": "brand"}}},
        {"anonymousId": "anon-j", "messageId": "v2", "timestamp": "2025-06-01T10:05:00Z"},
    ]  # fmt: skip
    with serve(ws) as client:
        for visit in visits:
            collect(client, "page", visit)
        collect(
            client,
            "identify",
            {
                "anonymousId": "anon-j",
                "userId": "user-j",
                "messageId": "i1",
                "timestamp": "2025-06-01T10:06:00Z",
            },
        )
        collect(client, "track", {"userId": "user-j", "messageId": "o1",
                                  "event": "Order Completed", "timestamp": "2025-06-01T10:07:00Z",
                                  "properties": {"order_id": "W-J", "total": 80,
                                                 "currency": "EUR"}})  # fmt: skip
    ws.build_journeys()
    timeline = ws.timeline("user-j", "customer_id").to_records()
    assert [(r["at"], r["kind"], r["what"], r["reference"]) for r in timeline] == [
        (datetime(2025, 6, 1, 10, tzinfo=UTC), "touchpoint", "page_view", f"{SOURCE}:v1"),
        (datetime(2025, 6, 1, 10, 5, tzinfo=UTC), "touchpoint", "page_view", f"{SOURCE}:v2"),
        (datetime(2025, 6, 1, 10, 7, tzinfo=UTC), "order", "completed", "W-J"),
    ]
    assert timeline[0]["channel"] == "paid_search" and timeline[0]["detail"] == "brand"
    assert timeline[2]["amount"] == 80.0


# -- strange input, long ids, late links: once bugs, now guarded ------------------------------------
def test_a_user_id_that_is_an_email_is_never_stored_raw(workspace):
    ws = workspace()
    with serve(ws) as client:
        for n, user in enumerate(("jane.doe@example.com", "john.roe@example.com")):
            collect(client, "identify", {"userId": user, "anonymousId": f"a{n}",
                                         "messageId": f"i{n}"})  # fmt: skip
            collect(client, "page", {"userId": user, "messageId": f"p{n}"})
    text = every_text(ws)
    assert "jane.doe@example.com" not in text and "john.roe@example.com" not in text
    users = {r["identifier_a"] for r in rows(ws, "identities")}
    assert len(users) == 2  # two users stay two identifiers: their emails, hashed
    assert {r["identifier_type_a"] for r in rows(ws, "identities")} == {"email"}
    assert users == {r["email_hash"] for r in rows(ws, "touchpoints")}  # and link their events
    assert {r["customer_id"] for r in rows(ws, "touchpoints")} == {None}


NEVER_500 = {
    "deeply_nested_json": pytest.param(
        "track", b'{"userId": "u", "event": "Product Viewed", "properties": {"x": '
        + b"[" * 5000 + b"]" * 5000 + b"}}", JSON | BEARER, None,
        id="deeply_nested_json",
    ),
    "basic_not_ascii": pytest.param(
        "track", b'{"userId": "u"}', JSON | {"Authorization": b"Basic \xe9\xe9"}, None,
        id="basic_not_ascii",
    ),
    "clock_overflow": pytest.param(
        "batch", json.dumps({"batch": [
            {"type": "page", "userId": "u", "messageId": "good"},
            {"type": "page", "userId": "u", "messageId": "bad",
             "timestamp": "9999-12-31T23:00:00Z", "sentAt": "2000-01-01T00:00:00Z"},
        ]}).encode(), JSON | BEARER, (2, 1, 1, 0, 0),
        id="clock_overflow",
    ),
    "quantity_1e400": pytest.param(
        "track", b'{"userId": "u", "messageId": "q", "event": "Order Completed", "properties": '
        b'{"order_id": "Q", "total": 5, "currency": "EUR", "products": [{"quantity": 1e400}]}}',
        JSON | BEARER, None,
        id="quantity_1e400",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("kind", "body", "headers", "expected"), list(NEVER_500.values()))
def test_a_strange_request_is_never_a_server_error(shared, kind, body, headers, expected):
    """A body a client will send again and again must not be a 500 (retried forever): it is a
    4xx problem, or collected with its bad events quarantined."""
    _, client = shared
    response = client.post(f"/v1/{kind}", content=body, headers=headers)
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        answer = outcome(response)
        if expected is not None:
            assert counts(answer) == expected
    else:
        assert {"status", "code", "message", "fix"} == set(response.json())


def test_long_message_ids_are_told_apart(workspace):
    ws = workspace()
    with serve(ws) as client:
        first = collect(client, "track", {"userId": "u", "messageId": "x" * 200 + "1",
                                          "event": "Product Viewed"})  # fmt: skip
        second = collect(client, "track", {"userId": "u", "messageId": "x" * 200 + "2",
                                           "event": "Product Viewed"})  # fmt: skip
    assert counts(first) == (1, 1, 0, 0, 0)
    assert all(r["reason"] != "message_conflict" for r in second["rejected"]), second
    ledger = {r["message_id"] for r in rows(ws, "collector_messages")}
    assert {r["message_id"] for r in rows(ws, "touchpoints")} <= ledger


def test_an_erasure_covers_identifiers_linked_since_the_last_resolution(workspace):
    ws = workspace()
    with serve(ws) as client:
        collect(client, "identify", {"userId": "u9", "anonymousId": "a1", "messageId": "i1",
                                     "traits": {"email": EMAIL}})  # fmt: skip
    ws.identity()
    with serve(ws) as client:  # later, the person logs in from a new browser
        collect(client, "identify", {"userId": "u9", "anonymousId": "a2", "messageId": "i2"})
        collect(client, "page", {"anonymousId": "a2", "messageId": "p2"})
    ws.erase(EMAIL, "email")
    assert rows(ws, "touchpoints") == []
    with serve(ws) as client:
        assert counts(collect(client, "page", {"anonymousId": "a2", "messageId": "p3"})) == (
            1, 0, 0, 0, 1)  # fmt: skip


def test_the_batch_context_reaches_every_event_under_its_own(workspace):
    ws = workspace()
    refused = {"consent": {"categoryPreferences": {"Analytics": False}}}
    with serve(ws) as client:
        got = collect(client, "batch", {"context": refused, "batch": [
            {"type": "page", "anonymousId": "a", "messageId": "p1"},
            {"type": "page", "anonymousId": "a", "messageId": "p2",
             "context": {"page": {"url": "https://shop.example/"}}},
            {"type": "page", "anonymousId": "a", "messageId": "p3",
             "context": {"consent": {"categoryPreferences": {"Analytics": True}}}},
        ]})  # fmt: skip
    assert (got["accepted"], got["suppressed"]) == (1, 2)
    assert [r["message_id"] for r in rows(ws, "touchpoints")] == ["p3"]


def test_nan_is_not_json(workspace):
    ws = workspace()
    with serve(ws) as client:
        body = b'{"userId": "u", "event": "Product Viewed", "properties": {"price": NaN}}'
        response = client.post("/v1/track", content=body, headers=JSON | BEARER)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json" and "NaN" in response.json()["message"]
