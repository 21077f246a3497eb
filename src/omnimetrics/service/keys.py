"""Who may do what: write keys collect, read keys query; each key has its rate.

A key arrives as Segment's HTTP API sends it (HTTP Basic, the write key as the user name and an
empty password), as `Authorization: Bearer <key>`, or, for browsers sending with `sendBeacon`
(which cannot set headers), as `writeKey` in the JSON body. Keys are compared in constant time
against every configured key, and never logged or echoed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from fastapi import Request

from omnimetrics.config import ServerSettings
from omnimetrics.service.problems import Problem

Kind = Literal["write", "read"]


@dataclass(frozen=True)
class Caller:
    """An authenticated key: its kind and its name (a write key's name is its source)."""

    kind: Kind
    name: str


def presented_key(request: Request) -> str | None:
    """The key of a request's Authorization header (Basic user name or Bearer token)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):  # not base64, not ASCII, not UTF-8
            return None
        return decoded.partition(":")[0] or None
    return None


@dataclass
class Keys:
    """The configured keys, and a token bucket per key."""

    settings: ServerSettings
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def identify(self, key: str | None) -> Caller | None:
        """The caller holding `key`, or None; every key is compared, in constant time."""
        if not key:
            return None
        found: Caller | None = None
        given = key.encode("utf-8", "surrogatepass")
        for kind, keys in (("write", self.settings.write_keys), ("read", self.settings.read_keys)):
            for name, known in keys.items():
                if hmac.compare_digest(given, known.encode()):
                    found = Caller(kind, name)  # type: ignore[arg-type]
        return found

    def require(self, key: str | None, kind: Kind) -> Caller:
        """The caller, or 401 (no key, unknown key) / 403 (a key of the other kind)."""
        if not key:
            how = (
                "Send the write key as the HTTP Basic user name (Segment libraries do), or as "
                "`Authorization: Bearer <key>`."
                if kind == "write"
                else "Send a read key as `Authorization: Bearer <key>`."
            )
            raise Problem(401, "missing_key", f"This route needs a {kind} key.", how,
                          {"WWW-Authenticate": 'Basic realm="omnimetrics"'})  # fmt: skip
        caller = self.identify(key)
        if caller is None:
            raise Problem(401, "unknown_key", f"The {kind} key given is not configured.",
                          f"Use a key of [server] {kind}_keys in omnimetrics.toml (or "
                          f"$OMNIMETRICS_{kind.upper()}_KEY).",
                          {"WWW-Authenticate": 'Basic realm="omnimetrics"'})  # fmt: skip
        if caller.kind != kind:
            what = "collect events" if kind == "write" else "read the numbers"
            raise Problem(403, "wrong_key_kind", f"A {caller.kind} key cannot {what}.",
                          f"Use a {kind} key here.")  # fmt: skip
        return caller

    def take(self, caller: Caller, cost: float = 1.0) -> None:
        """Spend `cost` tokens of the caller's bucket, or 429 with the seconds to wait."""
        rate = self.settings.rate_limit
        now = time.monotonic()
        with self._lock:
            if cost > rate:
                raise Problem(
                    429, "rate_limited",
                    f"{cost:g} events in one request exceed the rate of key {caller.name!r} "
                    f"({rate:g} per second): it can never pass.",
                    "Split it into smaller batches, or raise [server] rate_limit.",
                    {"Retry-After": "1"},
                )  # fmt: skip
            tokens, last = self._buckets.get(caller.name, (rate, now))
            tokens = min(rate, tokens + (now - last) * rate)
            if cost > tokens:
                self._buckets[caller.name] = (tokens, now)
                wait = max(1, math.ceil((cost - tokens) / rate))
                raise Problem(
                    429, "rate_limited",
                    f"Key {caller.name!r} is over its rate of {rate:g} per second.",
                    f"Retry after {wait} s; raise [server] rate_limit if this traffic is normal.",
                    {"Retry-After": str(wait)},
                )  # fmt: skip
            self._buckets[caller.name] = (tokens - cost, now)


def read_access(request: Request) -> Caller:
    """FastAPI dependency of the query API: a read key within its rate."""
    keys: Keys = request.app.state.keys
    caller = keys.require(presented_key(request), "read")
    keys.take(caller)
    return caller
