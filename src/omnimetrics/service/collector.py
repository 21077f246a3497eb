"""The collector: Segment's HTTP API (`/v1/track`, `identify`, `page`, `screen`, `alias`,
`batch`), so analytics.js, the mobile SDKs and the server libraries can send to omnimetrics.

A request is answered only once its events are committed (see `ingest.stream`). The body says
what became of each event:

    {"success": true, "request": "3f2a...", "received": 100, "accepted": 98, "quarantined": 1,
     "duplicates": 1, "suppressed": 0, "rejected": [{"index": 7, "messageId": "...",
     "reason": "unmapped_event", "message": "..."}]}

Refusals (JSON bodies with code, message and fix): 400 unreadable body, 401 no or unknown key,
403 a read key, 413 over 32 KB (one event) or 500 KB (a batch), 415 not JSON, 422 an empty
batch, 429 over the key's rate, 503 the disk is full or the writer is behind (Retry-After).
"""

from __future__ import annotations

import asyncio
import zlib
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from omnimetrics.ingest.segment import (
    KINDS,
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    RequestError,
    parse_json,
    read_request,
)
from omnimetrics.ingest.stream import DiskFull, EventWriter
from omnimetrics.service.keys import Keys, presented_key
from omnimetrics.service.problems import Problem, ProblemBody

router = APIRouter(prefix="/v1", tags=["collector"])
CONTENT_TYPES = ("application/json", "text/plain")
"""text/plain: what browsers send with `navigator.sendBeacon` (no CORS preflight)."""
RETRY_SECONDS = "5"


def add_cors(app: FastAPI, origins: tuple[str, ...]) -> None:
    """Browsers of the configured origins may send events (never "*"; never the read API)."""
    app.state.cors_origins = frozenset(origins)


def _cors_headers(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    if origin and origin in request.app.state.cors_origins:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                "Access-Control-Allow-Credentials": "true"}  # fmt: skip
    return {}


@router.options("/{kind}", include_in_schema=False)
async def preflight(kind: str, request: Request) -> Response:
    headers = _cors_headers(request)
    if headers:
        headers |= {"Access-Control-Allow-Methods": "POST, OPTIONS",
                    "Access-Control-Allow-Headers": "Authorization, Content-Type",
                    "Access-Control-Max-Age": "600"}  # fmt: skip
    return Response(status_code=204, headers=headers)


async def _collect(kind: str, request: Request) -> JSONResponse:
    writer: EventWriter = request.app.state.writer
    try:
        return await _answer(kind, request, writer)
    except Problem as problem:
        writer.counters.refuse(problem.status, problem.code)
        problem.headers.update(_cors_headers(request))
        raise


async def _answer(kind: str, request: Request, writer: EventWriter) -> JSONResponse:
    limit = MAX_BATCH_BYTES if kind == "batch" else MAX_EVENT_BYTES
    _check_length(request, limit)
    _check_type(request)
    body = await _body(request, limit)
    keys: Keys = request.app.state.keys
    key = presented_key(request) or _body_key(body)
    caller = keys.require(key, "write")
    received = datetime.now(UTC)
    try:
        messages = read_request(kind, body, keys.settings, caller.name, received)
    except RequestError as exc:
        raise Problem(exc.status, exc.code, exc.message, exc.fix) from None
    keys.take(caller, len(messages))
    try:
        writer.check_room(len(messages))
    except DiskFull as exc:
        raise _disk_full(exc) from None
    except OverflowError as exc:
        raise Problem(503, "busy", f"The writer is behind: {exc}.", "Retry shortly.",
                      {"Retry-After": RETRY_SECONDS}) from None  # fmt: skip
    submission = writer.submit(caller.name, messages, received)
    try:
        outcome = await asyncio.wrap_future(submission.future)
    except DiskFull as exc:
        raise _disk_full(exc) from None
    except Exception:
        raise Problem(503, "store_failed", "The events could not be stored; nothing of this "
                      "request was kept.", "Send the request again.",
                      {"Retry-After": RETRY_SECONDS}) from None  # fmt: skip
    return JSONResponse(outcome.to_dict(), headers=_cors_headers(request))


def _disk_full(exc: DiskFull) -> Problem:
    return Problem(503, "disk_full", f"Events cannot be stored now: {exc}.",
                   "Free disk space (or lower [server] min_free_mb); nothing of this request "
                   "was stored: send it again.", {"Retry-After": "60"})  # fmt: skip


def _check_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)


def _too_large(limit: int) -> Problem:
    what = "a batch" if limit == MAX_BATCH_BYTES else "one event"
    return Problem(413, "too_large", f"The body is over {limit // 1024} KB, the limit of {what}.",
                   "Split it: at most 500 KB per /v1/batch request, 32 KB per event.")  # fmt: skip


def _check_type(request: Request) -> None:
    given = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if given not in CONTENT_TYPES:
        raise Problem(415, "unsupported_media_type",
                      f"Content-Type {given or '(none)'!r} is not accepted.",
                      "Send JSON with Content-Type: application/json.")  # fmt: skip
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip"):
        raise Problem(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not "
                      "accepted.", "Send the body plain or gzip-compressed.")  # fmt: skip


async def _body(request: Request, limit: int) -> bytes:
    """The body, read no further than `limit` bytes (after gzip, when compressed)."""
    gzip = request.headers.get("content-encoding", "").strip().lower() == "gzip"
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
    parts, size = [], 0
    async for chunk in request.stream():
        if inflate is not None:
            try:
                chunk = inflate.decompress(chunk, limit + 1 - size)
            except zlib.error:
                raise Problem(400, "invalid_gzip", "The body is not valid gzip.",
                              "Compress with gzip, or send it plain.") from None  # fmt: skip
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def _body_key(body: bytes) -> str | None:
    """`writeKey` of a body sent without headers (analytics.js over sendBeacon)."""
    if b'"writeKey"' not in body:
        return None
    try:
        payload: Any = parse_json(body)
    except (ValueError, RecursionError):
        return None
    key = payload.get("writeKey") if isinstance(payload, dict) else None
    return key if isinstance(key, str) else None


def _route(kind: str) -> None:
    async def collect(request: Request) -> JSONResponse:
        return await _collect(kind, request)

    collect.__doc__ = (
        f"Segment's `{kind}` call: the events are stored once committed; the answer counts what "
        "was accepted, quarantined (with reasons), deduplicated and suppressed."
        if kind != "batch"
        else "Segment's batch: many calls in one request (at most 500 KB); each event is "
        "accepted, quarantined, deduplicated or suppressed on its own."
    )
    schema = {"type": "object", "properties": {"batch": {"type": "array", "items": EVENT}},
              "required": ["batch"]} if kind == "batch" else EVENT  # fmt: skip
    body = {"content": {"application/json": {"schema": schema}}, "required": True}
    router.add_api_route(f"/{kind}", collect, methods=["POST"], name=f"collect_{kind}",
                         response_class=JSONResponse, responses=REFUSALS,
                         openapi_extra={"requestBody": body})  # fmt: skip


EVENT = {
    "type": "object",
    "description": "A Segment event (https://segment.com/docs/connections/spec/common/).",
    "properties": {
        "type": {"type": "string", "enum": list(KINDS)},
        "messageId": {"type": "string"},
        "anonymousId": {"type": "string"},
        "userId": {"type": "string"},
        "previousId": {"type": "string", "description": "alias"},
        "event": {"type": "string", "description": "track: the event name"},
        "name": {"type": "string", "description": "page, screen: the page name"},
        "properties": {"type": "object"},
        "traits": {"type": "object"},
        "context": {"type": "object"},
        "timestamp": {"type": "string", "format": "date-time"},
        "originalTimestamp": {"type": "string", "format": "date-time"},
        "sentAt": {"type": "string", "format": "date-time"},
    },
}
"""The shape the OpenAPI description gives (the collector reads more loosely, quarantining what
it cannot use rather than refusing the request)."""
REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemBody, "description": what}
    for status, what in (
        (400, "The body is not a JSON object (or not a batch)."),
        (401, "No write key, or a key not configured."),
        (403, "A read key: it cannot collect."),
        (413, "Over 32 KB (one event) or 500 KB (a batch)."),
        (415, "Not JSON (application/json or text/plain), or an encoding other than gzip."),
        (422, "An empty batch, or a batch context that is not an object."),
        (429, "The key is over its rate (Retry-After)."),
        (503, "The disk is full or the writer is behind (Retry-After): send it again."),
    )
}


for _kind in (*KINDS, "batch"):
    _route(_kind)
