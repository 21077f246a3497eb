"""Segment's HTTP API payloads read into rows of the table contracts.

One request (`/v1/track`, `/v1/identify`, `/v1/page`, `/v1/screen`, `/v1/alias` or a
`/v1/batch` of them) becomes `Message`s; each message carries the rows it gives, ready for the
door and the validation that file rows go through:

    page, screen            -> touchpoints, a page_view (screens of an app: channel app)
    track                   -> touchpoints, the event type its name maps to ([server.events]
                               over SEGMENT_EVENTS); "Order Completed" -> orders
    identify                -> identities: the user id linked to the anonymous id, and to the
                               email and phone of its traits (hashed at the door)
    alias                   -> identities: the previous id (as a user id and as an anonymous id)
                               linked to the user id

A message that cannot become rows (not an object, unknown type, no identity, a track without a
name or with a name that maps to nothing, over 32 KB) has its `problem` set instead: it is
quarantined with that reason and its payload. The event time is Segment's: `timestamp` (else
`originalTimestamp`) corrected for the device's clock skew by `receivedAt - sentAt`, else the
time it was received. Consent: `context.consent.categoryPreferences` must grant every category of
`[server] consent_categories` (a category not listed counts as refused).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from omnimetrics.config import ServerSettings
from omnimetrics.privacy.pseudonymise import EMAIL_PATTERN

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
KINDS = ("track", "identify", "page", "screen", "alias")
EMAIL = re.compile(EMAIL_PATTERN)
ORDER_EVENT = "order completed"
RETRY_FIELDS = ("sentAt", "receivedAt", "writeKey")
"""Fields a client may change when it retries: left out of the payload digest."""
MOBILE_LIBRARIES = ("analytics-ios", "analytics-android", "analytics-react-native",
                    "analytics-flutter", "analytics-kotlin", "analytics-swift")  # fmt: skip

REASONS = {
    "not_an_object": "an item of the batch is not a JSON object",
    "event_too_large": f"an event is over {MAX_EVENT_BYTES // 1024} KB",
    "unknown_type": "the type is not track, identify, page, screen or alias",
    "invalid_field": "a field has the wrong JSON type (an object where text is expected...)",
    "missing_identity": "neither userId nor anonymousId (alias: userId and previousId)",
    "missing_event": "a track call without an event name",
    "unmapped_event": "a track event name that maps to no event type ([server.events])",
    "message_conflict": "a messageId already received with a different payload",
}
"""Reasons of the collector, besides those of the validation every row goes through."""


def parse_json(body: bytes) -> Any:
    """Strict JSON: NaN and Infinity, which JSON does not have, are refused."""
    return json.loads(body, parse_constant=_not_json)


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


class RequestError(ValueError):
    """The request as a whole cannot be read (400) or makes no sense (422)."""

    def __init__(self, status: int, code: str, message: str, fix: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fix = status, code, message, fix


@dataclass
class Message:
    """One event of a request: its id, digest and raw text, and its rows or its problem."""

    index: int
    """1-based position in its request."""
    message_id: str
    digest: str
    payload: Any
    """The event as received (without the fields a retry changes)."""
    rows: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    problem: tuple[str, str] | None = None
    """(reason, message) when the event cannot become rows."""
    consented: bool = True

    def quarantine_text(self) -> str:
        """The payload as kept by the quarantine (made only for quarantined events)."""
        return _for_quarantine(self.payload)


def read_request(
    kind: str, body: bytes, settings: ServerSettings, source: str, received: datetime
) -> list[Message]:
    """The messages of one request body; RequestError when the body is not one."""
    try:
        payload = parse_json(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        fix = "Send one JSON object (Content-Type: application/json)."
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise RequestError(
            400, "invalid_json", f"The body is not valid JSON: {why}.", fix
        ) from None
    if not isinstance(payload, dict):
        raise RequestError(400, "not_an_object", "The body is JSON but not an object.",
                           "Send one JSON object: {\"type\": ..., ...}.")  # fmt: skip
    if kind != "batch":
        return [_message(1, {**payload, "type": kind}, settings, source, received)]
    items = payload.get("batch")
    if not isinstance(items, list):
        raise RequestError(400, "missing_batch", "A /v1/batch body needs a `batch` list.",
                           'Send {"batch": [{"type": "track", ...}, ...]}.')  # fmt: skip
    if not items:
        raise RequestError(422, "empty_batch", "The batch is empty: nothing to collect.",
                           "Send at least one event in `batch`.")  # fmt: skip
    shared = payload.get("context")
    if shared is not None and not isinstance(shared, dict):
        raise RequestError(422, "invalid_context", "The batch's `context` is not an object.",
                           "Send `context` as a JSON object, or leave it out.")  # fmt: skip
    out = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict) and shared:  # the batch's context, under each event's own
            own = item.get("context")
            item = {
                **item,
                "context": {**shared, **own} if isinstance(own, dict) else own or shared,
            }
        out.append(_message(number, item, settings, source, received))
    return out


def _message(
    index: int, event: Any, settings: ServerSettings, source: str, received: datetime
) -> Message:
    kept = (
        {k: v for k, v in event.items() if k not in RETRY_FIELDS}
        if isinstance(event, dict)
        else event
    )
    raw = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    data = raw.encode("utf-8", "surrogatepass")  # "\ud800" is JSON, but not Unicode
    digest = hashlib.sha256(data).hexdigest()
    given = event.get("messageId") if isinstance(event, dict) else None
    message_id = (
        str(given) if isinstance(given, str | int) and str(given) else f"auto-{digest[:32]}"
    )
    if "\x00" in message_id:  # no id holds a NUL: the event is refused, under its digest
        message = Message(index, f"auto-{digest[:32]}", digest, kept)
        message.problem = ("invalid_field", "messageId holds a NUL character")
        return message
    message = Message(index, _unicode(message_id), digest, kept)
    if not _is_unicode(raw):
        message.problem = ("invalid_field", "text with an unpaired surrogate (\\ud800-\\udfff) "
                           "is not Unicode: fix the client's string encoding")  # fmt: skip
        return message
    if not isinstance(event, dict):
        message.problem = ("not_an_object", f"item {index} of the batch is not a JSON object")
        return message
    if len(data) > MAX_EVENT_BYTES:
        size = len(data) // 1024
        message.problem = ("event_too_large", f"the event is {size} KB; the limit is 32 KB")
        return message
    try:
        message.consented = _consented(event, settings)
        message.rows = _rows(event, settings, source, message_id, received)
    except _Problem as problem:
        message.problem = (problem.reason, str(problem))
    return message


class _Problem(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _rows(
    event: Mapping[str, Any], settings: ServerSettings, source: str, message_id: str,
    received: datetime,
) -> list[tuple[str, dict[str, str | None]]]:  # fmt: skip
    kind = event.get("type")
    if kind not in KINDS:
        known = ", ".join(KINDS)
        raise _Problem("unknown_type", f"type {str(kind)[:40]!r} is not collected; use {known}")
    context = _object(event, "context")
    ids = _identifiers(event, context)
    when = _event_time(event, received)
    if kind in ("identify", "alias"):
        return [("identities", row) for row in _links(kind, event, ids, when, message_id)]
    if not _identified(event):
        raise _Problem("missing_identity", "the event has neither userId nor anonymousId")
    properties = _object(event, "properties")
    if kind == "track":
        name = event.get("event")
        if not isinstance(name, str) or not name.strip():
            raise _Problem("missing_event", "a track call needs an `event` name")
        if name.strip().lower() == ORDER_EVENT:
            return [("orders", _order(event, properties, context, ids, when, source, message_id))]
        event_type = _event_type(name, settings)
    else:
        event_type = "page_view"
    row = _touchpoint(event, properties, context, ids, when, event_type)
    return [("touchpoints", {**row, "event_id": f"{source}:{message_id}",
                             "message_id": message_id})]  # fmt: skip


def _object(event: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = event.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Problem("invalid_field", f"`{name}` must be a JSON object")
    return value


def _text(value: Any, name: str) -> str | None:
    """A scalar as text (numbers too, as sent); an object or list where text is expected is a
    problem."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _Problem(
        "invalid_field", f"`{name}` must be text or a number, not {type(value).__name__}"
    )


def _identifiers(event: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, str | None]:
    traits = {**_object(context, "traits"), **_object(event, "traits")}
    device = _object(context, "device")
    user = _text(event.get("userId"), "userId")
    email = _text(traits.get("email"), "traits.email")
    if user and looks_like_email(user):  # a user id that is an email is an email: hashed
        user, email = None, email or user
    return {
        "anonymous_id": _text(event.get("anonymousId"), "anonymousId"),
        "customer_id": user,
        "device_id": _text(device.get("id"), "context.device.id"),
        "email": email,
        "phone": _text(traits.get("phone"), "traits.phone"),
    }


def _identified(event: Mapping[str, Any]) -> bool:
    return any(event.get(name) not in (None, "") for name in ("userId", "anonymousId"))


def looks_like_email(value: str) -> bool:
    return EMAIL.fullmatch(value.strip()) is not None


def _event_time(event: Mapping[str, Any], received: datetime) -> str:
    """Segment's event time: the client's time shifted by its clock skew (receivedAt - sentAt);
    the time received when the client gives none. Text that is not a time is passed on as is,
    for the validation to quarantine."""
    given = event.get("timestamp") or event.get("originalTimestamp")
    if given is None:
        return received.isoformat()
    happened, sent = _instant(given), _instant(event.get("sentAt"))
    if happened is None:
        return _text(given, "timestamp") or received.isoformat()
    if sent is not None:
        with contextlib.suppress(OverflowError):  # a time near year 9999: left for validation
            happened += received - sent
    return happened.isoformat()


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _links(
    kind: str, event: Mapping[str, Any], ids: dict[str, str | None], when: str, message_id: str
) -> list[dict[str, str | None]]:
    """The identity links of an identify or alias call."""

    def link(type_a: str, a: str, type_b: str, b: str) -> dict[str, str | None]:
        return {"identifier_type_a": type_a, "identifier_a": a, "identifier_type_b": type_b,
                "identifier_b": b, "link_source": kind, "timestamp": when,
                "message_id": message_id}  # fmt: skip

    user = ids["customer_id"]
    if kind == "alias":
        previous = _text(event.get("previousId"), "previousId")
        target = ("customer_id", user) if user else ("email", ids["email"])
        if not target[1] or not previous:
            raise _Problem("missing_identity", "an alias call needs userId and previousId")
        if looks_like_email(previous):
            return [link("email", previous, *target)]
        # The previous id is a former user id or an anonymous id: Segment does not say which.
        return [link("customer_id", previous, *target), link("anonymous_id", previous, *target)]
    anchors = [(t, ids[t]) for t in ("customer_id", "email", "anonymous_id") if ids[t]]
    if not _identified(event):
        raise _Problem("missing_identity", "the identify call has neither userId nor anonymousId")
    anchor_type, anchor = anchors[0]
    others = [(t, ids[t]) for t in ("anonymous_id", "device_id", "email", "phone")]
    return [
        link(anchor_type, anchor, t, v) for t, v in others if v and (t, v) != (anchor_type, anchor)
    ]


def _event_type(name: str, settings: ServerSettings) -> str:
    found = settings.event_types.get(name.strip().lower())
    if found is None:
        raise _Problem(
            "unmapped_event",
            f"no event type for track event {name[:60]!r}: map it in omnimetrics.toml, e.g. "
            f'[server.events] "{name[:60]}" = "page_view"',
        )
    return found


def _touchpoint(
    event: Mapping[str, Any],
    properties: Mapping[str, Any],
    context: Mapping[str, Any],
    ids: dict[str, str | None],
    when: str,
    event_type: str,
) -> dict[str, str | None]:
    campaign = _object(context, "campaign")
    page = _object(context, "page")
    utm = {key: _text(campaign.get(name), f"context.campaign.{name}") for key, name in
           (("source", "source"), ("medium", "medium"), ("campaign", "name"),
            ("content", "content"), ("term", "term"))}  # fmt: skip
    in_app = event.get("type") == "screen" or _from_app(context)
    url = page.get("url") or (properties.get("url") if event.get("type") == "page" else None)
    referrer = page.get("referrer") or properties.get("referrer")
    return {
        "timestamp": when,
        **ids,
        "channel": "app" if in_app and not utm["source"] else None,
        **utm,
        "landing_url": _text(url, "context.page.url"),
        "referrer": _text(referrer, "context.page.referrer"),
        "event_type": event_type,
        "device_type": _device_type(context, in_app),
        "properties": _properties(event, properties),
    }


def _properties(event: Mapping[str, Any], properties: Mapping[str, Any]) -> str | None:
    """What else the event says, as JSON: its name (track), page name and properties."""
    kept: dict[str, Any] = dict(properties)
    for name in ("event", "name", "category"):
        if isinstance(event.get(name), str):
            kept[f"segment_{name}"] = event[name]
    return json.dumps(kept, ensure_ascii=False, default=str) if kept else None


def _from_app(context: Mapping[str, Any]) -> bool:
    library = context.get("library")
    name = library.get("name") if isinstance(library, dict) else None
    return isinstance(context.get("app"), dict) or (
        isinstance(name, str) and name in MOBILE_LIBRARIES
    )


def _device_type(context: Mapping[str, Any], in_app: bool) -> str | None:
    device = context.get("device") if isinstance(context.get("device"), dict) else {}
    kind = str(device.get("type") or "").lower()
    agent = str(context.get("userAgent") or "")
    if kind in ("ios", "android") or in_app:
        return (
            "tablet"
            if "ipad" in agent.lower() or "tablet" in str(device.get("model", "")).lower()
            else "mobile"
        )
    if not agent:
        return None
    if "iPad" in agent or "Tablet" in agent:
        return "tablet"
    return "mobile" if "Mobi" in agent or "Android" in agent else "desktop"


def _order(
    event: Mapping[str, Any],
    properties: Mapping[str, Any],
    context: Mapping[str, Any],
    ids: dict[str, str | None],
    when: str,
    source: str,
    message_id: str,
) -> dict[str, str | None]:
    """An "Order Completed" event as an order (Segment's e-commerce spec)."""
    products = properties.get("products")
    items = None
    if isinstance(products, list):
        items = str(sum(_quantity(p) for p in products))
    revenue = properties.get("total", properties.get("revenue"))
    return {
        "order_id": _text(properties.get("order_id"), "properties.order_id"),
        "timestamp": when,
        **ids,
        "sales_channel": "app" if _from_app(context) else "web",
        "revenue": _text(revenue, "properties.total"),
        "currency": _text(properties.get("currency"), "properties.currency"),
        "discount": _text(properties.get("discount"), "properties.discount"),
        "promo_code": _text(properties.get("coupon"), "properties.coupon"),
        "items": items,
        "status": "completed",
        "source": source,
        "message_id": message_id,
    }


def _quantity(product: Any) -> int:
    quantity = product.get("quantity") if isinstance(product, dict) else None
    if isinstance(quantity, int | float) and math.isfinite(quantity) and 0 < quantity < 1e6:
        return int(quantity)
    return 1


def _consented(event: Mapping[str, Any], settings: ServerSettings) -> bool:
    """Whether the event may be measured: every required category granted."""
    context = event.get("context")
    consent = context.get("consent") if isinstance(context, dict) else None
    if not isinstance(consent, dict) or not isinstance(consent.get("categoryPreferences"), dict):
        return settings.consent_when_absent == "granted"
    given = {str(k).strip().lower(): v for k, v in consent["categoryPreferences"].items()}
    return all(given.get(c.strip().lower()) is True for c in settings.consent_categories)


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unicode(text: str) -> str:
    """Text that can be stored: unpaired surrogates written as escapes."""
    return text if _is_unicode(text) else text.encode("utf-8", "backslashreplace").decode()


IDENTIFYING = {"email": "[email]", "phone": "[phone]", "ip": "[removed]"}
"""Fields of a payload never kept in the quarantine, wherever they sit (traits, context)."""


def _for_quarantine(event: Any) -> str:
    """The raw text kept for the quarantine: the payload with its emails, phones and IP address
    replaced by markers (found by field name; the door also masks what free text holds), and
    an email used as an id masked too."""

    def clean(value: Any, depth: int = 0) -> Any:
        if depth > 20:
            return "[nested]"
        if isinstance(value, dict):
            return {k: IDENTIFYING.get(str(k).lower()) if str(k).lower() in IDENTIFYING
                    and value[k] not in (None, "") else clean(value[k], depth + 1)
                    for k in value}  # fmt: skip
        if isinstance(value, list):
            return [clean(item, depth + 1) for item in value]
        if isinstance(value, str) and looks_like_email(value):
            return "[email]"
        return value

    return _unicode(json.dumps(clean(event), ensure_ascii=False, default=str))


def strip_identifiers(row: dict[str, str | None]) -> dict[str, str | None]:
    """An order of a person who refused measurement: counted, linked to nobody."""
    return {**row, **dict.fromkeys(("anonymous_id", "customer_id", "device_id", "email", "phone"))}
