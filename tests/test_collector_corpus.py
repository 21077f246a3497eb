"""The collector against a labelled corpus of malformed requests and events.

`tests/data/collector_corpus.jsonl` holds one case a line: a request (route, body or raw text,
headers) and what the collector must answer: a refusal (`status` and request-level `code`), or
a 200 saying what became of each event (`reason` each rejected event is quarantined with,
`rejected` [index, reason] of them all, `counts`). Events of a batch carry distinct messageIds
unless the case is about a duplicate or a conflict, and sit among good events.

The corpus is written by `generate()` below, deterministically; after a change to it:

    .venv/bin/python -m tests.test_collector_corpus      # rewrites the .jsonl

Every case goes to ONE app (the writer running); each must get its status and code or reasons
(the share right is printed and must be 100%), every 200 must account for each event sent, and
the quarantine table must hold exactly one row per quarantined event, with its reason and its
raw record (emails, phones and IP masked).

Cases `crash/...` crashed the service (a 5xx) when the corpus was first run; they are fixed,
and kept. A case found to crash it is marked `bug` (kept out of the share) until fixed.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import re
import sys
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import omnimetrics
from omnimetrics.ingest import segment, validate
from omnimetrics.privacy.pseudonymise import EMAIL_PATTERN
from omnimetrics.service import collector, create_app, keys

CORPUS = Path(__file__).parent / "data" / "collector_corpus.jsonl"
WRITE = "corpus-write-key-web-0001"
WRITE_APP = "corpus-write-key-app-0002"
READ = "corpus-read-key-bi-0003"
SERVER = {
    "server": {
        "write_keys": {"web": WRITE, "app": WRITE_APP},
        "read_keys": {"bi": READ},
        "max_queue_events": 12_000,  # so that one batch can find the writer "busy"
        "refresh_minutes": 0,  # no pipeline run in the background
    }
}
JSON = "application/json"
DEFAULT_HEADERS = {"Content-Type": JSON, "Authorization": f"Bearer {WRITE}"}
REQUEST_CODES = (
    "invalid_json", "not_an_object", "missing_batch", "empty_batch", "invalid_context",
    "too_large", "unsupported_media_type", "unsupported_encoding", "invalid_gzip", "missing_key",
    "unknown_key", "wrong_key_kind", "rate_limited", "busy",
)  # fmt: skip
NOT_BY_INPUT = {
    "disk_full": "needs a full disk ([server] min_free_mb)",
    "store_failed": "needs the warehouse to fail a commit",
}
"""Request-level codes no request can provoke on a healthy server."""
UNREACHABLE = {
    "not_allowed": "the collector only writes allowed values (channel app, mapped event types, "
    "device and sales channels it derives itself)",
    "inconsistent": "the collector never fills returned_amount or margin, the only `not_after` "
    "pairs of orders; a discount over the total is not checked",
    "malformed_row": "CSV and JSON Lines files only",
}
"""Validation reasons no request can reach through the collector (why, for the report)."""


# -- the corpus --------------------------------------------------------------------------------
def encode(body: Any) -> bytes:
    """A JSON body as the test sends it: compact, ASCII (escapes kept as escapes)."""
    return json.dumps(body, separators=(",", ":")).encode()


def _put(target: Any, path: list[Any], value: Any) -> None:
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


def materialise(case: dict[str, Any]) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, url, body bytes, headers) of a case."""
    if "raw_hex" in case:
        content = bytes.fromhex(case["raw_hex"])
    elif "raw" in case:
        content = case["raw"].encode()
    elif "body" not in case:
        content = b""
    else:
        body = copy.deepcopy(case["body"])
        for fill in case.get("fill", ()):
            if "item" in fill:
                _put(body, fill["path"], [fill["item"]] * fill["count"])
            else:
                _put(body, fill["path"], fill["text"] * fill["size"])
        content = encode(body)
    packing = case.get("encoding")
    if packing == "gzip":
        content = gzip.compress(content, mtime=0)
    elif packing == "gzip-truncated":
        packed = gzip.compress(content, mtime=0)
        content = packed[: len(packed) // 2]
    elif packing == "zlib":
        content = zlib.compress(content)
    headers = case.get("headers", DEFAULT_HEADERS)
    return case.get("method", "POST"), f"/v1/{case['route']}", content, headers


def basic(key: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{key}:{password}".encode()).decode()


class Generator:
    """Builds the cases; every id it hands out (messageId, anonymousId, order id) is new."""

    def __init__(self) -> None:
        self.n = 0
        self.cases: list[dict[str, Any]] = []
        self.goods = 0

    # ids and events
    def next(self) -> int:
        self.n += 1
        return self.n

    def ids(self) -> dict[str, str]:
        n = self.next()
        return {"messageId": f"m-{n:05d}", "anonymousId": f"anon-{n:05d}"}

    def when(self) -> str:
        return f"2025-{1 + self.n % 12:02d}-{1 + self.n % 28:02d}T{self.n % 24:02d}:15:00Z"

    def event(self, kind: str = "track", **extra: Any) -> dict[str, Any]:
        """A valid event of `kind` (track: Product Viewed; order: Order Completed), with an
        email, a phone and an IP for the masking to hide when it is quarantined."""
        ids = self.ids()
        n = self.n
        context = {"ip": f"203.0.113.{n % 250}", "userAgent": "Mozilla/5.0 (X11; Linux)",
                   "traits": {"email": f"visitor.{n}@example.com",
                              "phone": f"+3361234{n % 10000:04d}"}}  # fmt: skip
        base: dict[str, Any] = {"type": "track" if kind == "order" else kind, **ids,
                                "userId": f"user-{n:05d}", "timestamp": self.when(),
                                "context": context}  # fmt: skip
        if kind == "track":
            base |= {"event": "Product Viewed", "properties": {"sku": f"SKU-{n}", "price": 19.9}}
        elif kind == "order":
            base |= {"event": "Order Completed",
                     "properties": {"order_id": f"ord-{n:05d}", "total": 59.9, "currency": "EUR",
                                    "discount": 5, "coupon": "SPRING10",
                                    "products": [{"sku": "A", "quantity": 2}]}}  # fmt: skip
        elif kind == "page":
            base |= {"name": "Shoes", "properties": {"url": f"https://shop.example/p/{n}"},
                     "context": {**context, "page": {"url": f"https://shop.example/p/{n}",
                                                     "referrer": "https://www.google.com/"},
                                 "campaign": {"source": "google", "medium": "cpc",
                                              "name": "spring"}}}  # fmt: skip
        elif kind == "screen":
            base |= {"name": "Home", "context": {**context, "app": {"name": "Shop"},
                                                 "device": {"id": f"dev-{n}", "type": "ios"}}}  # fmt: skip
        elif kind == "identify":
            base |= {"traits": {"email": f"jane.{n}@example.com", "phone": f"+4479460{n % 10000:04d}",
                                "name": "Jane"}}  # fmt: skip
        elif kind == "alias":
            base |= {"previousId": f"anon-{n:05d}"}
            base.pop("anonymousId")
        return base | extra

    def good(self) -> dict[str, Any]:
        self.goods += 1
        return self.event(("track", "page", "identify", "order", "screen", "alias")[self.goods % 6])

    # cases
    def add(self, case: str, fault: str, route: str, **rest: Any) -> None:
        self.cases.append({"case": case, "fault": fault, "route": route, **rest})

    def refused(self, case: str, fault: str, route: str, status: int, code: str | None,
                headers_expected: tuple[str, ...] = (), **rest: Any) -> None:  # fmt: skip
        expect: dict[str, Any] = {"status": status}
        if code is not None:
            expect["code"] = code
        if headers_expected:
            expect["headers"] = list(headers_expected)
        self.add(case, fault, route, expect=expect, **rest)

    def single(self, case: str, fault: str, route: str, event: dict[str, Any], outcome: str,
               **rest: Any) -> None:  # fmt: skip
        """One event on its own route; `outcome`: a reason, "accepted", "duplicate" or
        "suppressed"."""
        body = {k: v for k, v in event.items() if k != "type"}
        self.add(case, fault, route, body=body, expect=expect_of([outcome]), **rest)

    def batch(self, case: str, fault: str, items: list[tuple[Any, str]], **rest: Any) -> None:
        body = {"batch": [item for item, _ in items], **rest.pop("extra", {})}
        self.add(case, fault, "batch", body=body, expect=expect_of([o for _, o in items]), **rest)

    def among_goods(self, case: str, fault: str, bad: Any, outcome: str, at: int,
                    size: int, **rest: Any) -> None:  # fmt: skip
        """A batch of `size` events: good ones around the bad one, at position `at` (0-based)."""
        items = [(self.good(), "accepted") for _ in range(size - 1)]
        items.insert(at, (bad, outcome))
        self.batch(case, fault, items, **rest)


OUTCOMES = ("accepted", "duplicate", "suppressed")


def expect_of(outcomes: list[str]) -> dict[str, Any]:
    """The 200 answer of a request whose events end as `outcomes` (reasons for quarantined)."""
    rejected = [[i, o] for i, o in enumerate(outcomes, start=1) if o not in OUTCOMES]
    counts = {"received": len(outcomes), "accepted": outcomes.count("accepted"),
              "quarantined": len(rejected), "duplicates": outcomes.count("duplicate"),
              "suppressed": outcomes.count("suppressed")}  # fmt: skip
    expect: dict[str, Any] = {"status": 200}
    if rejected:
        expect["reason"] = rejected[0][1]
    else:
        expect["outcome"] = next((o for o in outcomes if o != "accepted"), "accepted")
    return expect | {"rejected": rejected, "counts": counts}


ROUTES = ("track", "identify", "page", "screen", "alias", "batch")
EVENT_KINDS = ("track", "page", "screen", "identify", "alias", "order")


def generate() -> list[dict[str, Any]]:
    """The corpus, the same at every call."""
    g = Generator()
    _request_faults(g)
    _item_faults(g)
    _field_faults(g)
    _identity_and_name_faults(g)
    _validation_faults(g)
    _repeats_and_consent(g)
    _mixed_batches(g)
    _privacy(g)
    _former_crashes(g)
    names = [c["case"] for c in g.cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return g.cases


def _body_of(g: Generator, route: str) -> dict[str, Any]:
    """A plausible body for `route` (the request-level fault is elsewhere)."""
    if route == "batch":
        return {"batch": [g.good(), g.good()]}
    kind = route if route in EVENT_KINDS else "track"
    return {k: v for k, v in g.event(kind).items() if k != "type"}


def _request_faults(g: Generator) -> None:
    # Bodies that are not JSON, or not whole.
    broken = [
        ("empty", ""), ("open-brace", "{"), ("unclosed-object", '{"userId": "u-1"'),
        ("words", "not json at all"), ("single-quotes", "{'userId': 'u-2', 'event': 'x'}"),
        ("trailing-comma", '{"userId":"u-3","event":"Product Viewed",}'),
        ("trailing-garbage", '{"userId":"u-4","event":"Product Viewed"} trailing'),
        ("undefined", '{"userId": undefined}'), ("two-objects", '{"a":1}{"b":2}'),
        ("open-bracket", "["), ("unterminated-string", '{"userId": "u-5'),
        ("bare-key", "{userId: 1}"), ("comment", '{"userId": "u-6" /* c */}'),
        ("html", "<html><body>hi</body></html>"), ("form", "userId=u-7&event=Product+Viewed"),
        ("truncated-event", '{"userId":"u-8","event":"Product Viewed","properties":{"sku":"A'),
        ("truncated-batch", '{"batch":[{"type":"track","userId":"u-9","event":"Product Viewed"},{"ty'),
        ("huge-integer", '{"userId":"u-10","event":"Product Viewed","n":' + "7" * 5000 + "}"),
    ]  # fmt: skip
    for number, (name, raw) in enumerate(broken):
        route = ROUTES[number % len(ROUTES)]
        g.refused(f"invalid-json/{name}/{route}", f"invalid_json:{name}", route, 400,
                  "invalid_json", raw=raw)  # fmt: skip
    for name, route, raw in [("latin1", "track", '{"userId":"Ren\xe9"}'.encode("latin-1")),
                             ("invalid-utf8", "batch", b'{"batch":[\xff\xfe]}')]:  # fmt: skip
        g.refused(f"invalid-json/{name}/{route}", f"invalid_json:{name}", route, 400,
                  "invalid_json", raw_hex=raw.hex())  # fmt: skip
    # JSON, but not an object.
    for number, raw in enumerate(["[]", '[{"type":"track","userId":"u"}]', "1", '"text"', "null",
                                  "true", "3.5", "[[]]", "false", "-0"]):  # fmt: skip
        route = ROUTES[number % len(ROUTES)]
        g.refused(f"body-not-object/{raw[:12]}/{route}", f"not_an_object:{raw[:8]}", route, 400,
                  "not_an_object", raw=raw)  # fmt: skip
    # A batch without its list.
    for name, body in [("no-batch", {}), ("batch-object", {"batch": {"0": g.good()}}),
                       ("batch-text", {"batch": "events"}), ("batch-null", {"batch": None}),
                       ("events-key", {"events": [g.good()]}), ("batch-number", {"batch": 5}),
                       ("capitalised", {"Batch": [g.good()]}), ("batch-true", {"batch": True}),
                       ("single-event", g.good())]:  # fmt: skip
        g.refused(f"missing-batch/{name}", f"missing_batch:{name}", "batch", 400,
                  "missing_batch", body=body)  # fmt: skip
    for name, body in [("empty", {"batch": []}), ("empty-with-context", {"batch": [],
                       "context": {"library": {"name": "analytics.js"}}}),
                       ("empty-bad-context", {"batch": [], "context": 5}),
                       ("empty-with-key", {"batch": [], "writeKey": WRITE})]:  # fmt: skip
        g.refused(f"empty-batch/{name}", f"empty_batch:{name}", "batch", 422, "empty_batch",
                  body=body)  # fmt: skip
    for name, context in [("text", "web"), ("number", 5), ("list", [{"ip": "1.2.3.4"}]),
                          ("true", True), ("zero", 0)]:  # fmt: skip
        g.refused(f"invalid-context/{name}", f"invalid_context:{name}", "batch", 422,
                  "invalid_context", body={"batch": [g.good()], "context": context})  # fmt: skip
    # Content types and encodings.
    types = ["text/html", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
             "application/xml", None, "application/jsonx", "json", "application/ld+json",
             "text/json", "application/vnd.api+json", "application/octet-stream", "*/*"]  # fmt: skip
    for number, kind in enumerate(types):
        route = ROUTES[number % len(ROUTES)]
        headers = {"Authorization": f"Bearer {WRITE}"}
        if kind is not None:
            headers["Content-Type"] = kind
        g.refused(f"media-type/{kind or 'none'}/{route}", f"unsupported_media_type:{kind}",
                  route, 415, "unsupported_media_type", body=_body_of(g, route),
                  headers=headers)  # fmt: skip
    g.refused("media-type/before-key", "unsupported_media_type:no-key", "track", 415,
              "unsupported_media_type", body=_body_of(g, "track"),
              headers={"Content-Type": "text/html"})  # fmt: skip
    for number, coding in enumerate(["br", "deflate", "compress", "gzip, br", "x-gzip",
                                     "identity, gzip", "zstd"]):  # fmt: skip
        route = ROUTES[number % len(ROUTES)]
        g.refused(f"encoding/{coding}/{route}", f"unsupported_encoding:{coding}", route, 415,
                  "unsupported_encoding", body=_body_of(g, route),
                  headers={**DEFAULT_HEADERS, "Content-Encoding": coding})  # fmt: skip
    gzipped = {**DEFAULT_HEADERS, "Content-Encoding": "gzip"}
    g.refused("gzip/plain-body/track", "invalid_gzip:plain", "track", 400, "invalid_gzip",
              body=_body_of(g, "track"), headers=gzipped)  # fmt: skip
    g.refused("gzip/plain-body/batch", "invalid_gzip:plain", "batch", 400, "invalid_gzip",
              body=_body_of(g, "batch"), headers=gzipped)  # fmt: skip
    g.refused("gzip/zlib-stream", "invalid_gzip:zlib", "identify", 400, "invalid_gzip",
              body=_body_of(g, "identify"), headers=gzipped, encoding="zlib")  # fmt: skip
    g.refused("gzip/text", "invalid_gzip:text", "page", 400, "invalid_gzip",
              raw="definitely not gzip", headers=gzipped)  # fmt: skip
    g.refused("gzip/truncated", "invalid_json:gzip-truncated", "batch", 400, "invalid_json",
              body=_body_of(g, "batch"), headers=gzipped, encoding="gzip-truncated")  # fmt: skip
    g.refused("gzip/empty", "invalid_json:gzip-empty", "track", 400, "invalid_json", raw="",
              headers=gzipped)  # fmt: skip
    # Keys.
    no_key = {"Content-Type": JSON}
    for number, (name, auth) in enumerate([
        ("none", None), ("bearer-empty", "Bearer "), ("bearer-alone", "Bearer"),
        ("basic-not-base64", "Basic !!!not-base64!!!"), ("basic-password-only", basic("", WRITE)),
        ("token-scheme", f"Token {WRITE}"), ("no-scheme", WRITE),
        ("basic-not-utf8", "Basic " + base64.b64encode(b"\xff\xfe:").decode()),
    ]):  # fmt: skip
        route = ROUTES[number % len(ROUTES)]
        headers = no_key if auth is None else {**no_key, "Authorization": auth}
        g.refused(f"key/missing/{name}/{route}", f"missing_key:{name}", route, 401,
                  "missing_key", ("www-authenticate",), body=_body_of(g, route),
                  headers=headers)  # fmt: skip
    g.refused("key/missing/write-key-not-text", "missing_key:body-key-number", "track", 401,
              "missing_key", body={**_body_of(g, "track"), "writeKey": 12345},
              headers={"Content-Type": "text/plain"})  # fmt: skip
    g.refused("key/missing/write-key-empty", "missing_key:body-key-empty", "batch", 401,
              "missing_key", body={**_body_of(g, "batch"), "writeKey": ""},
              headers={"Content-Type": "text/plain"})  # fmt: skip
    for number, (name, headers, extra) in enumerate([
        ("bearer-wrong", {**no_key, "Authorization": "Bearer not-a-configured-key-at-all"}, {}),
        ("basic-wrong", {**no_key, "Authorization": basic("wrong-key-0000000000")}, {}),
        ("bearer-upper", {**no_key, "Authorization": f"Bearer {WRITE.upper()}"}, {}),
        ("bearer-suffix", {**no_key, "Authorization": f"Bearer {WRITE}x"}, {}),
        ("bearer-prefix", {**no_key, "Authorization": f"Bearer {WRITE[:-1]}"}, {}),
        ("body-key-wrong", {"Content-Type": "text/plain"}, {"writeKey": "nope-nope-nope-nope"}),
        ("body-key-padded", {"Content-Type": "text/plain"}, {"writeKey": f" {WRITE}"}),
    ]):  # fmt: skip
        route = ROUTES[number % len(ROUTES)]
        g.refused(f"key/unknown/{name}/{route}", f"unknown_key:{name}", route, 401,
                  "unknown_key", ("www-authenticate",), body={**_body_of(g, route), **extra},
                  headers=headers)  # fmt: skip
    for name, route, headers, extra in [
        ("bearer-read", "track", {**no_key, "Authorization": f"Bearer {READ}"}, {}),
        ("bearer-read", "batch", {**no_key, "Authorization": f"Bearer {READ}"}, {}),
        ("basic-read", "identify", {**no_key, "Authorization": basic(READ)}, {}),
        ("body-read", "page", {"Content-Type": "text/plain"}, {"writeKey": READ}),
    ]:
        g.refused(f"key/read/{name}/{route}", f"wrong_key_kind:{name}", route, 403,
                  "wrong_key_kind", body={**_body_of(g, route), **extra}, headers=headers)  # fmt: skip
    # Sizes.
    blob = ["properties", "blob"]
    for route, size in [("track", 40_000), ("page", 100_000), ("screen", 32_800),
                        ("alias", 33_000)]:  # fmt: skip
        g.refused(f"too-large/{route}-{size}", f"too_large:{route}", route, 413, "too_large",
                  body=_body_of(g, route) | {"properties": {"blob": ""}},
                  fill=[{"path": blob, "text": "x", "size": size}])  # fmt: skip
    g.refused("too-large/identify-traits", "too_large:identify", "identify", 413, "too_large",
              body=_body_of(g, "identify") | {"traits": {"bio": ""}},
              fill=[{"path": ["traits", "bio"], "text": "y", "size": 40_000}])  # fmt: skip
    g.refused("too-large/batch-520kb", "too_large:batch", "batch", 413, "too_large",
              body={"batch": [g.good(), g.event(properties={"blob": ""})]},
              fill=[{"path": ["batch", 1, "properties", "blob"], "text": "z",
                     "size": 520_000}])  # fmt: skip
    g.refused("too-large/gzip-bomb-track", "too_large:gzip-track", "track", 413, "too_large",
              body=_body_of(g, "track") | {"properties": {"blob": ""}},
              fill=[{"path": blob, "text": "0", "size": 60_000}], headers=gzipped,
              encoding="gzip")  # fmt: skip
    g.refused("too-large/gzip-bomb-batch", "too_large:gzip-batch", "batch", 413, "too_large",
              body={"batch": [g.event(properties={"blob": ""})]},
              fill=[{"path": ["batch", 0, "properties", "blob"], "text": "0", "size": 700_000}],
              headers=gzipped, encoding="gzip")  # fmt: skip
    g.refused("too-large/before-media-type", "too_large:bad-type", "track", 413, "too_large",
              body=_body_of(g, "track") | {"properties": {"blob": ""}},
              fill=[{"path": blob, "text": "x", "size": 40_000}],
              headers={"Content-Type": "text/html"})  # fmt: skip
    # Rates: over the key's rate in one batch; more events than the writer's queue takes.
    g.refused("rate/batch-over-rate", "rate_limited:batch", "batch", 429, "rate_limited",
              ("retry-after",), body={"batch": []},
              fill=[{"path": ["batch"], "item": 1, "count": 25_000}])  # fmt: skip
    g.refused("busy/batch-over-queue", "busy:batch", "batch", 503, "busy", ("retry-after",),
              body={"batch": []}, fill=[{"path": ["batch"], "item": 2, "count": 15_000}])  # fmt: skip
    # Which check answers first.
    g.refused("first/no-key-and-bad-json", "missing_key:bad-json", "track", 401, "missing_key",
              raw='{"userId": ', headers={"Content-Type": JSON})  # fmt: skip
    g.refused("first/read-key-and-empty-batch", "wrong_key_kind:empty-batch", "batch", 403,
              "wrong_key_kind", body={"batch": []},
              headers={"Content-Type": JSON, "Authorization": f"Bearer {READ}"})  # fmt: skip
    g.refused("first/unknown-key-and-bad-type", "unsupported_media_type:unknown-key", "batch",
              415, "unsupported_media_type", body={"batch": []},
              headers={"Content-Type": "text/html", "Authorization": "Bearer nope-nope-nope"})  # fmt: skip
    g.refused("first/bad-encoding-and-bad-json", "unsupported_encoding:bad-json", "page", 415,
              "unsupported_encoding", raw="{",
              headers={**DEFAULT_HEADERS, "Content-Encoding": "br"})  # fmt: skip
    g.refused("first/header-key-over-body-key", "unknown_key:header-wins", "track", 401,
              "unknown_key", body={**_body_of(g, "track"), "writeKey": WRITE},
              headers={"Content-Type": JSON, "Authorization": "Bearer not-a-configured-key"})  # fmt: skip
    # Routes and methods that do not exist (FastAPI's own answers: no problem code).
    g.refused("route/group", "no_route:group", "group", 405, None, body=_body_of(g, "track"))
    g.refused("route/get-track", "no_route:get", "track", 405, None, method="GET")
    g.refused("route/nested", "no_route:nested", "track/extra", 404, None,
              body=_body_of(g, "track"))  # fmt: skip


def _item_faults(g: Generator) -> None:
    """Items of a batch that are not events."""
    for number, item in enumerate([1001, "an event", None, True, False, [], [1, 2], 3.5, "",
                                   0, -7, ["track", {"userId": "x"}], 1e300]):  # fmt: skip
        size = 1 + number % 4
        g.among_goods(f"item/not-object/{json.dumps(item)[:16]}", "not_an_object:item", item,
                      "not_an_object", at=number % size, size=size)  # fmt: skip
    for number, kind in enumerate(["group", "Group", "TRACK", "Track", "event", "", 5, None,
                                   ["track"], "pageview", "identify ", "page_view",
                                   "screenview", {"name": "track"}, "batch", "t"]):  # fmt: skip
        event = g.event("track", type=kind) if kind is not None else g.event("track")
        if kind is None:
            event.pop("type")
        size = 1 + number % 5
        g.among_goods(f"item/unknown-type/{json.dumps(kind)[:12]}", f"unknown_type:{kind}",
                      event, "unknown_type", at=(number * 3) % size, size=size)  # fmt: skip
    # Too large: one event over 32 KB in a batch, alone or among others.
    for number, (kind, at, size) in enumerate([("track", 0, 1), ("page", 1, 3), ("identify", 2, 3),
                                               ("order", 0, 2)]):  # fmt: skip
        event = g.event(kind, blob="")
        items = [(g.good(), "accepted") for _ in range(size - 1)]
        items.insert(at, (event, "event_too_large"))
        g.batch(f"item/too-large/{kind}", f"event_too_large:{kind}", items,
                fill=[{"path": ["batch", at, "blob"], "text": "abcd", "size": 8_500 + number}])  # fmt: skip
    # The event limit is on the event as stored (with its type), the body limit on the body:
    # a body of 32 760 or 32 768 bytes passes the door of the route, its event does not.
    for limit in (32_760, 32_768):
        event = {k: v for k, v in g.event("track", blob="").items() if k != "type"}
        room = limit - len(encode(event))
        g.add(f"item/too-large/route-{limit}", "event_too_large:route-edge", "track",
              body=event, fill=[{"path": ["blob"], "text": "e", "size": room}],
              expect=expect_of(["event_too_large"]))  # fmt: skip
    event = {k: v for k, v in g.event("track", blob="").items() if k != "type"}
    g.refused("too-large/route-32769", "too_large:route-edge", "track", 413, "too_large",
              body=event, fill=[{"path": ["blob"], "text": "e",
                                 "size": 32_769 - len(encode(event))}])  # fmt: skip
    # An item under 32 KB that the batch's shared context takes over it.
    item = g.event("track", blob="")
    item.pop("context")
    shared = {"library": {"name": "analytics.js"}, "note": "n" * 400}
    g.batch("item/too-large/with-shared-context", "event_too_large:shared-context",
            [(item, "event_too_large"), (g.good(), "accepted")], extra={"context": shared},
            fill=[{"path": ["batch", 0, "blob"], "text": "s",
                   "size": 32_768 - len(json.dumps(item, sort_keys=True, separators=(",", ":")))
                   - 200}])  # fmt: skip


# Fields of the wrong JSON type: (path, bad value, kinds of event that read the field).
ALL = EVENT_KINDS
TOUCH = ("track", "page", "screen")
FIELD_FAULTS: list[tuple[tuple[str, ...], Any, tuple[str, ...]]] = [
    (("userId",), {"id": 1}, ALL), (("userId",), ["u1", "u2"], ALL),
    (("anonymousId",), ["a1"], ALL), (("anonymousId",), {"cookie": "a"}, ALL),
    (("context",), 5, ALL), (("context",), "web", ALL), (("context",), ["ip"], ALL),
    (("context",), True, ALL),
    (("traits",), ["email"], ALL), (("traits",), "vip", ALL), (("traits",), 3, ALL),
    (("context", "traits"), "vip", ALL), (("context", "traits"), [1], ALL),
    (("context", "device"), "iphone", ALL), (("context", "device"), 7, ALL),
    (("context", "device", "id"), {"idfa": "x"}, ALL), (("context", "device", "id"), ["d"], ALL),
    (("traits", "email"), {"address": "x"}, ALL), (("traits", "email"), ["a@b.co"], ALL),
    (("context", "traits", "email"), {"a": 1}, ALL), (("traits", "phone"), ["+33612345678"], ALL),
    (("traits", "phone"), {"n": 1}, ALL),
    (("timestamp",), {"iso": "2025-01-01"}, ALL), (("timestamp",), ["2025-01-01"], ALL),
    (("originalTimestamp",), {"t": 1}, ALL),
    (("previousId",), {"id": "p"}, ("alias",)), (("previousId",), ["p"], ("alias",)),
    (("properties",), "cheap", TOUCH), (("properties",), 12, TOUCH), (("properties",), [1], TOUCH),
    (("properties",), False, (*TOUCH, "order")),
    (("context", "campaign"), "spring", TOUCH), (("context", "campaign"), ["spring"], TOUCH),
    (("context", "campaign"), 3, TOUCH),
    (("context", "campaign", "source"), {"s": 1}, TOUCH),
    (("context", "campaign", "medium"), ["cpc"], TOUCH),
    (("context", "campaign", "name"), {"n": "spring"}, TOUCH),
    (("context", "campaign", "content"), ["banner"], TOUCH),
    (("context", "campaign", "term"), {"q": "shoes"}, TOUCH),
    (("context", "page"), "/shoes", TOUCH), (("context", "page"), 404, TOUCH),
    (("context", "page", "url"), {"href": "x"}, TOUCH), (("context", "page", "url"), ["u"], TOUCH),
    (("context", "page", "referrer"), ["r"], TOUCH),
    (("properties", "url"), {"href": "x"}, ("page",)),
    (("properties", "referrer"), {"r": 1}, ("track", "screen")),
    (("properties", "order_id"), {"id": 1}, ("order",)),
    (("properties", "order_id"), ["o1"], ("order",)),
    (("properties", "total"), [59.9], ("order",)), (("properties", "total"), {"v": 1}, ("order",)),
    (("properties", "currency"), ["EUR"], ("order",)),
    (("properties", "discount"), {"v": 5}, ("order",)),
    (("properties", "coupon"), ["SPRING10"], ("order",)),
]  # fmt: skip


def _set_path(event: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = event
    for step in path[:-1]:
        if not isinstance(target.get(step), dict):
            target[step] = {}
        target = target[step]
    target[path[-1]] = value


def _field_faults(g: Generator) -> None:
    turn = 0
    for path, value, kinds in FIELD_FAULTS:
        for kind in kinds:
            turn += 1
            event = g.event(kind)
            if path[0] == "originalTimestamp":
                event.pop("timestamp")
            if path == ("properties", "url"):
                event["context"].pop("page")
            if path == ("properties", "referrer"):
                event["context"].pop("page", None)
            if path[:2] == ("context", "traits") and len(path) == 3:
                event.get("traits", {}).pop(path[2], None)  # the event's own traits win
            _set_path(event, path, value)
            name = f"field/{'.'.join(path)}/{type(value).__name__}/{kind}"
            fault = f"invalid_field:{'.'.join(path)}"
            route = "track" if kind == "order" else kind
            if turn % 3 == 0:  # in a batch, among good events
                size = 2 + turn % 4
                g.among_goods(name, fault, event, "invalid_field", at=turn % size, size=size)
            else:
                g.single(name, fault, route, event, "invalid_field")
    # Fields the event's kind does not read: no fault.
    for name, kind, path, value in [
        ("identify-properties", "identify", ("properties",), "cheap"),
        ("identify-campaign", "identify", ("context", "campaign"), "spring"),
        ("alias-page", "alias", ("context", "page"), "/shoes"),
        ("order-campaign", "order", ("context", "campaign"), "spring"),
        ("track-properties-url", "track", ("properties", "url"), {"href": "x"}),
        ("screen-consent-text", "screen", ("context", "consent"), "yes"),
    ]:
        event = g.event(kind)
        _set_path(event, path, value)
        route = "track" if kind == "order" else kind
        g.single(f"field/not-read/{name}", f"control:{name}", route, event, "accepted")


def _identity_and_name_faults(g: Generator) -> None:
    def without(kind: str, *names: str, **extra: Any) -> dict[str, Any]:
        event = g.event(kind, **extra)
        for name in names:
            event.pop(name, None)
        return event

    cases = [
        ("track-none", "track", without("track", "userId", "anonymousId")),
        ("page-none", "page", without("page", "userId", "anonymousId")),
        ("screen-none", "screen", without("screen", "userId", "anonymousId")),
        ("order-none", "track", without("order", "userId", "anonymousId")),
        ("identify-none", "identify", without("identify", "userId", "anonymousId")),
        ("alias-no-previous", "alias", without("alias", "previousId")),
        ("alias-no-user", "alias", without("alias", "userId", "context")),
        ("alias-empty-previous", "alias", g.event("alias", previousId="")),
        ("track-empty-strings", "track", g.event("track", userId="", anonymousId="")),
        ("track-nulls", "track", g.event("track", userId=None, anonymousId=None)),
        ("page-device-only", "page", without("page", "userId", "anonymousId")
         | {"context": {"device": {"id": "dev-only"}}}),
        ("track-email-only", "track", without("track", "userId", "anonymousId")
         | {"context": {"traits": {"email": "only.email@example.com"}}}),
        ("identify-traits-only", "identify", without("identify", "userId", "anonymousId")),
    ]  # fmt: skip
    for number, (name, route, event) in enumerate(cases):
        if number % 4 == 3:
            g.among_goods(f"identity/{name}", f"missing_identity:{name}", event,
                          "missing_identity", at=number % 3, size=3)  # fmt: skip
        else:
            g.single(f"identity/{name}", f"missing_identity:{name}", route, event,
                     "missing_identity")  # fmt: skip
    for number, name in enumerate([None, "", "   ", 42, ["Product Viewed"], {"name": "x"},
                                   True, "\t\n"]):  # fmt: skip
        event = g.event("track", event=name)
        if number == 0:
            event.pop("event")
        label = json.dumps(name) if number else "absent"
        if number % 3 == 2:
            g.among_goods(f"event-name/{label}", "missing_event", event, "missing_event",
                          at=1, size=2)  # fmt: skip
        else:
            g.single(f"event-name/{label}", "missing_event", "track", event, "missing_event")
    for number, name in enumerate(["Signed Up", "Order Refunded", "Products Searched",
                                   "Cart Viewed", "order_completed", "Order Completed!",
                                   "Page Viewed", "Product Viewed (v2)", "Checkout Step Viewed",
                                   "Email Bounced", "Application Opened",
                                   "Produkt angesehen"]):  # fmt: skip
        event = g.event("track", event=name)
        if number % 2:
            g.among_goods(f"event-name/unmapped/{name}", f"unmapped_event:{name}", event,
                          "unmapped_event", at=number % 3, size=3)  # fmt: skip
        else:
            g.single(f"event-name/unmapped/{name}", f"unmapped_event:{name}", "track", event,
                     "unmapped_event")  # fmt: skip
    # Names that do map (case and spaces folded): no fault.
    for name in ("product viewed", "  Product Added  ", "ORDER COMPLETED"):
        kind = "order" if "ORDER" in name else "track"
        g.single(f"event-name/maps/{name.strip()}", "control:event-name", "track",
                 g.event(kind, event=name), "accepted")  # fmt: skip


def _validation_faults(g: Generator) -> None:
    """Values the collector passes on, that the validation of the rows quarantines."""

    def case(name: str, reason: str, kind: str, changes: dict[tuple[str, ...], Any],
             drop: tuple[tuple[str, ...], ...] = (), batch_at: int | None = None) -> None:  # fmt: skip
        event = g.event(kind)
        for path in drop:
            target = event
            for step in path[:-1]:
                target = target[step]
            target.pop(path[-1], None)
        for path, value in changes.items():
            _set_path(event, path, value)
        route = "track" if kind == "order" else kind
        if batch_at is None:
            g.single(f"valid/{reason}/{name}", f"{reason}:{name}", route, event, reason)
        else:
            g.among_goods(f"valid/{reason}/{name}", f"{reason}:{name}", event, reason,
                          at=batch_at, size=batch_at + 2)  # fmt: skip

    ts = ("timestamp",)
    for number, (name, kind, value) in enumerate([
        ("words", "track", "yesterday"), ("day-first", "page", "31/12/2025"),
        ("month-13", "screen", "2025-13-01T00:00:00Z"), ("feb-30", "track", "2025-02-30T10:00:00Z"),
        ("exponent", "order", "1e5"), ("now", "identify", "now"), ("bool", "track", True),
        ("17-digits", "page", "17000000000000000"), ("time-only", "alias", "12:00"),
        ("hour-25", "order", "2025-01-01T25:00:00Z"), ("rfc2822", "track", "Mon, 01 Dec 2025 10:00:00 GMT"),
        ("nan-text", "screen", "NaN"), ("tomorrow", "identify", "tomorrow"),
    ]):  # fmt: skip
        case(f"timestamp-{name}", "invalid_type", kind, {ts: value},
             batch_at=number % 3 if number % 4 == 1 else None)  # fmt: skip
    case("original-timestamp-text", "invalid_type", "track", {("originalTimestamp",): "soon"},
         drop=(ts,))  # fmt: skip
    for number, value in enumerate(["abc", "12,50", "€10", "0x10", "1e400", True, "ten",
                                    "1 000", "59.90 EUR"]):  # fmt: skip
        case(f"total-{value}", "invalid_type", "order", {("properties", "total"): value},
             batch_at=1 if number % 3 == 0 else None)  # fmt: skip
    case("revenue-text", "invalid_type", "order", {("properties", "revenue"): "lots"},
         drop=(("properties", "total"),))  # fmt: skip
    case("discount-text", "invalid_type", "order", {("properties", "discount"): "5%"})
    case("discount-word", "invalid_type", "order", {("properties", "discount"): "five"})
    for number, (name, kind, value, extra) in enumerate([
        ("year-2099", "track", "2099-01-01T00:00:00Z", {}),
        ("year-9999", "page", "9999-12-31T23:59:59Z", {}),
        ("infinity", "screen", "infinity", {}),
        ("year-3000", "order", "3000-06-01", {}),
        ("unix-ms-2100", "track", 4102444800000, {}),
        ("unix-s-text-2100", "identify", "4102444800", {}),
        ("alias-2200", "alias", "2200-01-01T00:00:00+02:00", {}),
        ("skewed-clock", "track", "2025-06-01T00:00:00Z", {("sentAt",): "1990-01-01T00:00:00Z"}),
        ("skewed-order", "order", "2025-06-01T00:00:00Z", {("sentAt",): "1985-01-01T00:00:00Z"}),
    ]):  # fmt: skip
        case(f"timestamp-{name}", "future_timestamp", kind, {ts: value, **extra},
             batch_at=number % 2 if number % 3 == 2 else None)  # fmt: skip
    case("original-timestamp-2100", "future_timestamp", "page",
         {("originalTimestamp",): "2100-01-01T00:00:00Z"}, drop=(ts,))  # fmt: skip
    for number, (name, kind, path, value) in enumerate([
        ("no-tld", "identify", ("traits", "email"), "jane.doe@example"),
        ("no-at", "identify", ("traits", "email"), "not-an-email"),
        ("short", "identify", ("traits", "email"), "a@b"),
        ("no-local", "identify", ("traits", "email"), "@example.com"),
        ("two-ats", "identify", ("traits", "email"), "jane@@example.com"),
        ("number", "identify", ("traits", "email"), 42),
        ("bool", "identify", ("traits", "email"), True),
        ("track-context", "track", ("context", "traits", "email"), "visitor-at-example.com"),
        ("page-context", "page", ("context", "traits", "email"), "visitor@localhost"),
        ("order-context", "order", ("context", "traits", "email"), "buyer@"),
        ("screen-traits", "screen", ("traits", "email"), "x@y"),
    ]):  # fmt: skip
        case(f"email-{name}", "invalid_email", kind, {path: value},
             batch_at=number % 3 if number % 4 == 0 else None)  # fmt: skip
    for number, (name, kind, path, value) in enumerate([
        ("two-digits", "identify", ("traits", "phone"), "12"),
        ("letters", "identify", ("traits", "phone"), "call me"),
        ("plus-one", "identify", ("traits", "phone"), "+1"),
        ("zeros", "identify", ("traits", "phone"), "+0000000"),
        ("number", "identify", ("traits", "phone"), 12),
        ("double-plus", "identify", ("traits", "phone"), "++33612345678"),
        ("track-context", "track", ("context", "traits", "phone"), "phone"),
        ("order-context", "order", ("context", "traits", "phone"), "+999"),
    ]):  # fmt: skip
        case(f"phone-{name}", "invalid_phone", kind, {path: value},
             batch_at=1 if number % 3 == 1 else None)  # fmt: skip
    props = ("properties",)
    for number, (name, kind, changes, drop) in enumerate([
        ("no-order-id", "order", {}, ((*props, "order_id"),)),
        ("empty-order-id", "order", {(*props, "order_id"): ""}, ()),
        ("blank-order-id", "order", {(*props, "order_id"): "   "}, ()),
        ("null-order-id", "order", {(*props, "order_id"): None}, ()),
        ("no-total", "order", {}, ((*props, "total"),)),
        ("empty-total", "order", {(*props, "total"): ""}, ()),
        ("no-currency", "order", {}, ((*props, "currency"),)),
        ("empty-currency", "order", {(*props, "currency"): ""}, ()),
        ("blank-currency", "order", {(*props, "currency"): "  "}, ()),
        ("no-properties", "order", {}, (props,)),
        ("blank-anonymous-id", "identify", {("anonymousId",): "  "}, ()),
        ("blank-timestamp", "track", {("timestamp",): " "}, ()),
        ("blank-previous-id", "alias", {("previousId",): "   "}, ()),
    ]):  # fmt: skip
        case(name, "missing_required", kind, changes, drop,
             batch_at=number % 2 if number % 4 == 2 else None)  # fmt: skip
    for number, value in enumerate(["EURO", "XYZ", "€", "E", 978, "US$", "BTC", "eur.",
                                    "Euro"]):  # fmt: skip
        case(f"currency-{value}", "invalid_currency", "order", {(*props, "currency"): value},
             batch_at=number % 3 if number % 3 == 1 else None)  # fmt: skip
    for number, (name, changes, drop) in enumerate([
        ("total-negative", {(*props, "total"): -5}, ()),
        ("total-cent-below", {(*props, "total"): -0.01}, ()),
        ("total-huge", {(*props, "total"): 1e12}, ()),
        ("total-just-over", {(*props, "total"): 10_000_000.01}, ()),
        ("total-negative-text", {(*props, "total"): "-3"}, ()),
        ("revenue-negative", {(*props, "revenue"): -1}, ((*props, "total"),)),
        ("discount-negative", {(*props, "discount"): -1}, ()),
        ("discount-huge", {(*props, "discount"): 2e7}, ()),
        ("items-20000", {(*props, "products"): [{"sku": "A", "quantity": 20_000}]}, ()),
        ("items-sum", {(*props, "products"): [{"quantity": 4_000}, {"quantity": 4_000},
                                              {"quantity": 4_000}]}, ()),
        ("items-10001", {(*props, "products"): [{"quantity": 10_000}, {"sku": "extra"}]}, ()),
    ]):  # fmt: skip
        case(name, "out_of_range", "order", changes, drop,
             batch_at=number % 2 if number % 3 == 0 else None)  # fmt: skip
    for number, (name, kind, user, anonymous) in enumerate([
        ("blank-user", "track", "   ", None), ("blank-anonymous", "page", None, "  "),
        ("blank-both", "screen", " ", "  "), ("blank-user-empty-anonymous", "page", "    ", ""),
    ]):  # fmt: skip
        changes = {("userId",): user, ("anonymousId",): anonymous,
                   ("context",): {"ip": "198.51.100.1"}}  # fmt: skip
        case(name, "no_identifier", kind, changes, batch_at=1 if number % 2 else None)


def _repeats_and_consent(g: Generator) -> None:
    """The same messageId again: a duplicate (same payload) or a conflict (another payload);
    events without consent: suppressed (orders kept, linked to nobody)."""
    for number, kind in enumerate(("track", "order", "identify")):
        first = g.event(kind)
        route = "track" if kind == "order" else kind
        body = {k: v for k, v in first.items() if k != "type"}
        again = copy.deepcopy(body)
        again["properties" if kind != "identify" else "traits"] = {"changed": number}
        g.add(f"repeat/conflict/{kind}", "message_conflict:across-requests", route, body=again,
              before=[{"route": route, "body": body, "expect": expect_of(["accepted"])}],
              expect=expect_of(["message_conflict"]))  # fmt: skip
    first = g.event("track")
    other = {**first, "event": "Product Added"}
    g.batch("repeat/conflict/in-batch", "message_conflict:in-batch",
            [(first, "accepted"), (g.good(), "accepted"), (other, "message_conflict")])  # fmt: skip
    first = g.event("page")
    other = {**first, "timestamp": "2025-03-03T03:03:03Z"}
    g.batch("repeat/conflict/only-time", "message_conflict:timestamp",
            [(first, "accepted"), (other, "message_conflict")])  # fmt: skip
    bad = g.event("track", event="Signed Up")
    fixed = {**bad, "event": "Product Viewed"}
    g.add("repeat/conflict/after-quarantine", "message_conflict:after-quarantine", "batch",
          body={"batch": [fixed]},
          before=[{"route": "batch", "body": {"batch": [bad]},
                   "expect": expect_of(["unmapped_event"])}],
          expect=expect_of(["message_conflict"]))  # fmt: skip
    long_a, long_b = g.event("track"), g.event("track")
    long_b["messageId"] = long_a["messageId"] = "L" * 200
    long_a["messageId"] += "-first"
    long_b["messageId"] += "-second"
    g.batch(
        "repeat/long-ids-differ-after-200-chars",
        "control:long-message-ids",
        [(long_a, "accepted"), (long_b, "accepted")],
    )
    event = g.event("identify")
    g.batch(
        "repeat/duplicate/in-batch",
        "duplicate:in-batch",
        [(event, "accepted"), (g.good(), "accepted"), (copy.deepcopy(event), "duplicate")],
    )
    event = g.event("order")
    body = {k: v for k, v in event.items() if k != "type"}
    g.add("repeat/duplicate/retry", "duplicate:retry", "track", body=body,
          before=[{"route": "track", "body": body, "expect": expect_of(["accepted"])}],
          expect=expect_of(["duplicate"]))  # fmt: skip
    event = g.event("track", sentAt="2025-06-01T10:00:00Z")
    event.pop("timestamp")  # else sentAt, long ago, would move it (clock skew) to the future
    retried = {**event, "sentAt": "2025-06-01T10:05:00Z", "writeKey": WRITE}
    g.batch("repeat/duplicate/retry-later-sent-at", "duplicate:sent-at",
            [(event, "accepted"), (retried, "duplicate")])  # fmt: skip
    event = g.event("page")
    g.add("repeat/duplicate/whole-batch", "duplicate:batch", "batch",
          body={"batch": [event]},
          before=[{"route": "batch", "body": {"batch": [event]},
                   "expect": expect_of(["accepted"])}],
          expect=expect_of(["duplicate"]))  # fmt: skip
    event = g.event("track")
    body = {k: v for k, v in event.items() if k != "type"}
    g.add("repeat/other-source-is-new", "control:other-source", "track", body=body,
          headers={"Content-Type": JSON, "Authorization": basic(WRITE_APP)},
          before=[{"route": "track", "body": body, "expect": expect_of(["accepted"])}],
          expect=expect_of(["accepted"]))  # fmt: skip
    refused = {"consent": {"categoryPreferences": {"analytics": False, "ads": True}}}
    missing = {"consent": {"categoryPreferences": {"ads": True}}}
    not_true = {"consent": {"categoryPreferences": {"analytics": "yes"}}}
    for name, kind, consent, outcome in [
        ("track-refused", "track", refused, "suppressed"),
        ("page-category-missing", "page", missing, "suppressed"),
        ("identify-refused", "identify", refused, "suppressed"),
        ("screen-not-true", "screen", not_true, "suppressed"),
        ("alias-refused", "alias", refused, "suppressed"),
        ("future-track-refused", "track", refused, "suppressed"),
        ("order-refused", "order", refused, "accepted"),
        ("order-refused-bad-currency", "order", refused, "invalid_currency"),
        ("unmapped-refused", "track", refused, "unmapped_event"),
    ]:
        event = g.event(kind)
        event["context"] |= consent
        if name.startswith("future"):
            event["timestamp"] = "2099-01-01T00:00:00Z"
        if name.endswith("bad-currency"):
            event["properties"]["currency"] = "DOLLARS"
        if name.startswith("unmapped"):
            event["event"] = "Signed Up"
        g.among_goods(f"consent/{name}", f"consent:{name}", event, outcome, at=1, size=3)


def _mixed_batches(g: Generator) -> None:
    """Several faults in one batch, and the batch's shared context."""
    for number in range(6):
        faults: list[tuple[Any, str]] = [
            (g.event("track", event="Signed Up"), "unmapped_event"),
            (f"not-an-event-{number}", "not_an_object"),
            (g.event("track", type="group"), "unknown_type"),
            (g.event("page", userId={"id": number}), "invalid_field"),
            (g.event("order", timestamp="2199-01-01T00:00:00Z"), "future_timestamp"),
            (g.event("identify", traits={"email": f"broken{number}.example.com"}), "invalid_email"),
            (g.event("order", properties={"order_id": f"mix-{number}", "total": 5}),
             "missing_required"),
        ]  # fmt: skip
        chosen = faults[number % 3 :: 2] if number % 2 else faults[number % 4 :]
        items = [(g.good(), "accepted") for _ in range(3)]
        for offset, fault in enumerate(chosen):
            items.insert((offset * 2 + number) % (len(items) + 1), fault)
        g.batch(f"mixed/{number}", "mixed", items)
    shared = {"campaign": "spring"}  # under each event's own context: its own campaign wins
    items = []
    for number in range(6):
        event = g.event("track")
        if number % 3 == 1:
            event["context"]["campaign"] = {"source": "newsletter", "medium": "email"}
            items.append((event, "accepted"))
        elif number % 3 == 2:
            items.append((event, "invalid_field"))  # a context of its own, without campaign
        else:
            event.pop("context")
            items.append((event, "invalid_field"))
    g.batch("shared-context/bad-campaign", "invalid_field:shared-context", items,
            extra={"context": shared})  # fmt: skip
    identify = g.event("identify")
    identify.pop("context")
    track = g.event("track")
    track.pop("context")
    g.batch("shared-context/traits-list", "invalid_field:shared-traits",
            [(identify, "invalid_field"), (track, "invalid_field")],
            extra={"context": {"traits": ["vip"]}})  # fmt: skip
    page = g.event("page")
    page.pop("context")
    own = g.event("track")
    own["context"]["consent"] = {"categoryPreferences": {"analytics": True}}
    g.batch("shared-context/consent-refused", "consent:shared-context",
            [(page, "suppressed"), (own, "accepted"), (g.event("identify"), "suppressed")],
            extra={"context": {"consent": {"categoryPreferences": {"analytics": False}}}})  # fmt: skip
    g.add("sendbeacon/text-plain-with-body-key", "invalid_field:sendbeacon", "track",
          body={k: v for k, v in g.event("track", userId=["x"], writeKey=WRITE).items()
                if k != "type"},
          headers={"Content-Type": "text/plain;charset=UTF-8"},
          expect=expect_of(["invalid_field"]))  # fmt: skip
    g.add("gzip/batch-with-faults", "unmapped_event:gzip", "batch",
          body={"batch": [g.good(), g.event("track", event="Signed Up"), g.good()]},
          headers={**DEFAULT_HEADERS, "Content-Encoding": "gzip"}, encoding="gzip",
          expect=expect_of(["accepted", "unmapped_event", "accepted"]))  # fmt: skip
    g.add("nan/total-nan", "invalid_json:nan", "track",
          raw='{"userId":"nan-1","messageId":"nan-1","event":"Order Completed",'
          '"properties":{"order_id":"nan-1","total":NaN,"currency":"EUR"}}',
          expect={"status": 400, "code": "invalid_json"})  # fmt: skip
    g.add("nan/total-infinity", "invalid_json:infinity", "batch",
          raw='{"batch":[{"type":"track","userId":"nan-2","messageId":"nan-2",'
          '"event":"Order Completed","properties":{"order_id":"nan-2","total":Infinity,'
          '"currency":"EUR"}}]}',
          expect={"status": 400, "code": "invalid_json"})  # fmt: skip
    g.add("nan/discount-minus-infinity", "invalid_json:minus-infinity", "track",
          raw='{"userId":"nan-3","messageId":"nan-3","event":"Order Completed",'
          '"properties":{"order_id":"nan-3","total":5,"currency":"EUR","discount":-Infinity}}',
          expect={"status": 400, "code": "invalid_json"})  # fmt: skip
    g.add("utf8/non-ascii-fault", "unmapped_event:utf8", "track",
          raw=json.dumps({"userId": "Renée", "messageId": "utf8-1", "event": "Produit vu"},
                         ensure_ascii=False),
          expect=expect_of(["unmapped_event"]))  # fmt: skip


def _former_crashes(g: Generator) -> None:
    """Inputs that crashed the collector (5xx) when this corpus was first run, fixed since."""
    g.add("crash/quantity-infinite", "control:quantity-1e999", "track",
          raw='{"userId":"u-q","messageId":"crash-4","event":"Order Completed","properties":'
          '{"order_id":"crash-4","total":5,"currency":"EUR","products":[{"quantity":1e999}]}}',
          expect=expect_of(["accepted"]))  # fmt: skip  # a quantity out of reach counts as 1
    g.add("crash/total-1e999", "invalid_type:total-1e999", "track",
          raw='{"userId":"u-t","messageId":"crash-4b","event":"Order Completed","properties":'
          '{"order_id":"crash-4b","total":1e999,"currency":"EUR"}}',
          expect=expect_of(["invalid_type"]))  # fmt: skip
    g.add("crash/skew-overflow-future", "future_timestamp:skew-overflow", "track",
          body={"userId": "u-s", "messageId": "crash-5", "event": "Product Viewed",
                "timestamp": "9999-12-31T00:00:00Z", "sentAt": "0001-01-02T00:00:00Z"},
          expect=expect_of(["future_timestamp"]))  # fmt: skip
    g.add("crash/skew-overflow-past", "control:skew-overflow-past", "batch",
          body={"batch": [{"type": "page", "userId": "u-p", "messageId": "crash-6",
                           "timestamp": "0001-01-01T00:00:00Z",
                           "sentAt": "9999-12-31T00:00:00Z"}]},
          expect=expect_of(["accepted"]))  # fmt: skip  # no lower bound on event times
    g.add("crash/lone-surrogate-user-id", "invalid_field:surrogate", "track",
          raw='{"userId":"\\ud800","messageId":"crash-1","event":"Product Viewed"}',
          expect=expect_of(["invalid_field"]))  # fmt: skip
    g.add("crash/lone-surrogate-in-batch", "invalid_field:surrogate", "batch",
          raw='{"batch":[{"type":"identify","userId":"u","messageId":"crash-2",'
          '"traits":{"name":"\\udfff"}},{"type":"track","userId":"u","messageId":"crash-2b",'
          '"event":"Product Viewed"}]}',
          expect=expect_of(["invalid_field", "accepted"]))  # fmt: skip
    g.refused("crash/lone-surrogate-write-key", "unknown_key:surrogate", "track", 401,
              "unknown_key", raw='{"writeKey":"\\ud83d","userId":"u","messageId":"crash-3",'
              '"event":"Product Viewed"}', headers={"Content-Type": "text/plain"})  # fmt: skip
    deep = "[" * 3000 + "]" * 3000
    g.refused("crash/deep-nesting-track", "invalid_json:deep", "track", 400, "invalid_json",
              raw='{"userId":"u","messageId":"crash-7","event":"Product Viewed",'
              '"properties":{"a":' + deep + "}}")  # fmt: skip
    g.refused("crash/deep-nesting-batch", "invalid_json:deep", "batch", 400, "invalid_json",
              raw='{"batch":[' + deep + "]}")  # fmt: skip
    g.refused("crash/deep-nesting-body-key", "missing_key:deep-body", "track", 401,
              "missing_key", raw='{"writeKey":"x","a":' + deep + "}",
              headers={"Content-Type": "text/plain"})  # fmt: skip


def _privacy(g: Generator) -> None:
    """Identifiers the quarantine must not keep in clear, whatever their form."""
    for name, traits in [
        ("non-ascii-email", {"email": "rené.privacy@example.com"}),
        ("uppercase-accented-email", {"email": "ÉLODIE.PRIVACY@exemple.fr"}),
        ("national-phone", {"phone": "(202) 555-0143"}),
        ("spaced-phone", {"phone": "06 12 34 56 78"}),
        ("invalid-email", {"email": "jane.privacy@example"}),
    ]:
        event = g.event("track", event="Not Mapped")
        event["context"]["traits"] = traits
        g.single(f"privacy/{name}", "unmapped_event:privacy", "track", event, "unmapped_event")
    g.single("privacy/email-as-user-id", "unmapped_event:privacy", "track",
             g.event("track", event="Not Mapped", userId="user.as.email@example.com"),
             "unmapped_event")  # fmt: skip
    g.single("privacy/email-in-a-note", "unmapped_event:privacy", "track",
             g.event("track", event="Not Mapped",
                     properties={"note": "call back at note.writer@example.com"}),
             "unmapped_event")  # fmt: skip
    g.single("privacy/email-key-case", "unmapped_event:privacy", "identify",
             g.event("identify", traits={"Email": "upper.key@example.com"},
                     timestamp="2099-01-01T00:00:00Z"),
             "future_timestamp")  # fmt: skip


def write_corpus(path: Path = CORPUS) -> int:
    cases = generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(case, sort_keys=True) + "\n" for case in cases))
    return len(cases)


def load_corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


# -- the checks --------------------------------------------------------------------------------
def send(client: TestClient, case: dict[str, Any]):
    method, url, content, headers = materialise(case)
    if method == "GET":
        return client.get(url, headers=headers)
    return client.request(method, url, content=content, headers=headers)


def wrongs(case: dict[str, Any], response) -> list[str]:
    """What is wrong with the answer to `case` (nothing: right)."""
    expect = case["expect"]
    if response.status_code != expect["status"]:
        return [f"status {response.status_code} != {expect['status']}: {response.text[:300]}"]
    try:
        body = response.json()
    except ValueError:
        return [f"not JSON: {response.text[:200]}"]
    found = []
    if "code" in expect and body.get("code") != expect["code"]:
        found.append(f"code {body.get('code')!r} != {expect['code']!r}")
    found += [f"no {h} header" for h in expect.get("headers", ()) if h not in response.headers]
    if response.status_code != 200:
        return found
    counts = {k: body.get(k) for k in expect["counts"]}
    if counts != expect["counts"]:
        found.append(f"counts {counts} != {expect['counts']}")
    rejected = sorted([r["index"], r["reason"]] for r in body["rejected"])
    if rejected != sorted(expect["rejected"]):
        found.append(f"rejected {rejected} != {expect['rejected']}")
    parts = body["accepted"] + body["quarantined"] + body["duplicates"] + body["suppressed"]
    if parts != body["received"]:
        found.append(f"received {body['received']} != the sum of the outcomes {parts}")
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.fixture(scope="module")
def corpus_app(tmp_path_factory):
    ws = omnimetrics.open(tmp_path_factory.mktemp("corpus") / "w.duckdb", SERVER, demo=True)
    with TestClient(create_app(ws), raise_server_exceptions=False) as client:
        yield ws, client
    ws.close()


def test_corpus_file_is_the_generators_output():
    assert CORPUS.read_text() == "".join(
        json.dumps(c, sort_keys=True) + "\n" for c in generate()
    ), "tests/data/collector_corpus.jsonl is stale: python -m tests.test_collector_corpus"


def test_corpus_covers_every_fault():
    cases = [c for c in load_corpus() if "bug" not in c]
    assert len(cases) >= 300
    reasons = {r for c in cases for _, r in c["expect"].get("rejected", ())}
    codes = {c["expect"].get("code") for c in cases} - {None}
    assert set(segment.REASONS) <= reasons
    assert set(validate.REASONS) - reasons == set(UNREACHABLE)
    raised = {
        code
        for module in (segment, collector, keys)
        for code in re.findall(r'(?:Problem|RequestError)\(\s*\d+,\s*"(\w+)"', _source_of(module))
    }
    assert raised == set(REQUEST_CODES) | set(NOT_BY_INPUT)  # every code the collector has
    assert set(REQUEST_CODES) <= codes
    fields = {c["fault"] for c in cases if c["fault"].startswith("invalid_field:")}
    assert len(fields) >= 30, sorted(fields)


@pytest.mark.slow  # the whole corpus through the app (CI runs the slow set too)
def test_every_case_gets_its_status_and_reason(corpus_app):
    ws, client = corpus_app
    cases = [c for c in load_corpus() if "bug" not in c]
    started = time.perf_counter()
    right, answers, quarantined = 0, {}, Counter()
    for case in cases:
        found = []
        for step in [*case.get("before", ()), case]:
            response = send(client, step)
            found += wrongs(step, response)
            if response.status_code == 200:
                body = response.json()
                source = _source(step)
                for r in body["rejected"]:
                    quarantined[(f"collector/{source}/{body['request']}", r["index"],
                                 r["reason"])] += 1  # fmt: skip
        answers[case["case"]] = found
        right += not found
    share = right / len(cases)
    elapsed = time.perf_counter() - started
    print(f"\ncollector corpus: {right}/{len(cases)} right ({share:.1%}) in {elapsed:.1f} s; "
          f"{sum(quarantined.values())} events quarantined")  # fmt: skip
    wrong = {name: found for name, found in answers.items() if found}
    assert not wrong, json.dumps(wrong, indent=1)[:6000]
    assert share == 1.0

    rows = ws.warehouse.backend.con.execute(
        "SELECT source_file, source_row, reason, raw_record FROM quarantine"
    ).fetchall()
    stored = Counter((f, n, r) for f, n, r, _ in rows)
    assert stored == quarantined  # exactly one row per quarantined event, with its reason
    _check_masked(cases, [raw for *_, raw in rows])


def _source_of(module: Any) -> str:
    return Path(module.__file__).read_text()


def _source(case: dict[str, Any]) -> str:
    auth = case.get("headers", DEFAULT_HEADERS).get("Authorization", "")
    return "app" if WRITE_APP in auth or basic(WRITE_APP) == auth else "web"


IDENTIFYING = ("email", "phone", "ip")
"""Fields whose value the quarantine never keeps, wherever they sit in a payload."""


def _identifying(value: Any, inside: bool = False) -> list[str]:
    """Texts of `value` that identify a person: under an email, phone or ip field, or an email
    anywhere (a userId that is an email)."""
    if isinstance(value, dict):
        return [s for k, v in value.items()
                for s in _identifying(v, inside or str(k).lower() in IDENTIFYING)]  # fmt: skip
    if isinstance(value, list):
        return [s for v in value for s in _identifying(v, inside)]
    if isinstance(value, str) and (inside or re.fullmatch(EMAIL_PATTERN, value)):
        return [value]
    return []


def _check_masked(cases: list[dict[str, Any]], raws: list[str | None]) -> None:
    """Every raw record is there, as JSON, with no email, phone or IP address in clear: not as
    a value, not inside a text."""
    assert all(raws)
    bodies = [step.get("body") for c in cases for step in (c, *c.get("before", ()))]
    secrets = {s for body in bodies for s in _identifying(body) if len(s.strip()) >= 3}
    assert len(secrets) > 500
    for raw in raws:
        values = set(_strings(json.loads(raw)))
        assert not values & secrets, (values & secrets, raw[:300])
        assert not [v for v in values if "@" in v and re.search(EMAIL_PATTERN, v)], raw[:300]
    every = "\n".join(raws)
    inside = [s for s in secrets if len(s) >= 6 and s in every]
    assert not inside, [(s, next(r[:300] for r in raws if s in r)) for s in inside]


if __name__ == "__main__":
    print(f"{write_corpus()} cases written to {CORPUS}", file=sys.stderr)
