"""Project settings, in one place: `omnimetrics.toml` plus the environment.

The HMAC secret that pseudonymises emails and phones comes from the environment variable
`OMNIMETRICS_SECRET` (or the variable named by `privacy.secret_env`), else from the owner-only file
named by `privacy.secret_file` (`omnimetrics init` writes one); it is never stored in the
warehouse. Outside demo mode a missing secret is an error, never a silent default.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omnimetrics.errors import ConfigError, did_you_mean
from omnimetrics.labels import LANGUAGES
from omnimetrics.vocabulary import EVENT_TYPES, TOUCH_EVENTS

DEMO_SECRET = b"omnimetrics-demo-secret-not-for-real-data"
"""Used only in demo mode, on simulated data; a warehouse made with it is marked as demo."""

DEFAULT_SOURCE_PRIORITY = ("pos", "web_shop", "app", "call_centre", "marketplace", "crm", "ads")
"""Which system is trusted first when several report the same order."""


def known_keys(kind: type, raw: Mapping[str, Any], section: str, origin: str) -> dict[str, Any]:
    """The settings of a section as a dict; a key the dataclass `kind` lacks is an error that
    names the known ones."""
    known = {f.name for f in fields(kind)}
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"{origin}: unknown setting {section}.{key}. " + did_you_mean(key, known)
            )
    return dict(raw)


@dataclass(frozen=True)
class JourneySettings:
    """Windows and rules of sessions and journeys (`[journeys]`): every number built on journeys
    (paths, attribution, KPIs, segments, maturity) reads the same ones."""

    session_timeout_minutes: int = 30
    lookback_days: int = 30
    since_previous_conversion: bool = True
    """A journey starts after the person's previous order (when within the lookback)."""
    touch_events: tuple[str, ...] = TOUCH_EVENTS
    consent_purpose: str | None = "analytics"
    """Leave out persons who refused this purpose (None: no consent filter)."""
    survey_days: int = 7
    """A "how did you hear of us" answer belongs to the order it follows by at most this."""

    def __post_init__(self) -> None:
        for name in ("session_timeout_minutes", "lookback_days", "survey_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"journeys.{name} must be a whole number of at least 1; got {value!r}."
                )
        unknown = sorted(set(self.touch_events) - set(EVENT_TYPES))
        if unknown:
            raise ConfigError(
                f"journeys.touch_events: unknown event types {unknown}. "
                + did_you_mean(unknown[0], EVENT_TYPES)
            )

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], origin: str = "settings") -> JourneySettings:
        """`[journeys]` of omnimetrics.toml; an unknown key is an error that names the known."""
        values = known_keys(cls, raw, "journeys", origin)
        if "touch_events" in values:
            values["touch_events"] = tuple(values["touch_events"])
        if values.get("consent_purpose") in ("", "none"):
            values["consent_purpose"] = None
        return cls(**values)


SEGMENT_EVENTS: Mapping[str, str] = {
    "Product Viewed": "product_view",
    "Product Added": "add_to_cart",
    "Checkout Started": "checkout",
    "Email Delivered": "email_send",
    "Email Opened": "email_open",
    "Email Link Clicked": "email_click",
    "Push Notification Received": "push_send",
    "Push Notification Tapped": "push_open",
    "Application Installed": "app_install",
    "Promotion Clicked": "ad_click",
    "Promotion Viewed": "ad_impression",
    "Coupon Applied": "promo_redemption",
}
"""Segment's spec event names (e-commerce, email, mobile) and the event type each one becomes;
`Order Completed` is an order, `page` and `screen` calls are page views."""

MIN_KEY_LENGTH = 16


@dataclass(frozen=True)
class ServerSettings:
    """`[server]`: the collector and the query API of `omnimetrics serve`."""

    host: str = "127.0.0.1"
    port: int = 8321
    write_keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Source name -> write key (collect only); `$OMNIMETRICS_WRITE_KEY` adds source "segment"."""
    read_keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Name -> read key (query API, dashboard); `$OMNIMETRICS_READ_KEY` adds "env"."""
    cors_origins: tuple[str, ...] = ()
    """Web origins allowed to send events from a browser (never "*")."""
    rate_limit: float = 20_000.0
    """Events per second per write key (and requests per second per read key), burst of 1 s."""
    dedup_days: int = 30
    """A messageId seen within this many days is a duplicate (at least 7)."""
    consent_categories: tuple[str, ...] = ("analytics",)
    """Categories of `context.consent.categoryPreferences` that measurement needs; a category
    missing from an event's preferences counts as refused."""
    consent_when_absent: str = "granted"
    """An event with no `context.consent` at all: "granted" (the site has no consent manager)
    or "refused"."""
    events: Mapping[str, str] = field(default_factory=dict)
    """Track event name -> event type, over SEGMENT_EVENTS (`[server.events]`)."""
    min_free_mb: int = 200
    """Below this much free disk, the collector answers 503 with Retry-After."""
    max_queue_events: int = 50_000
    """Events waiting for the writer past which the collector answers 503 with Retry-After."""
    refresh_minutes: float = 15.0
    """While serving, run the pipeline (identity, journeys, aggregates) this often when events
    arrived since the last run, so collected events reach journeys and the dashboard; 0: never."""

    def __post_init__(self) -> None:
        if self.dedup_days < 7:
            raise ConfigError(f"server.dedup_days must be at least 7; got {self.dedup_days}.")
        if self.consent_when_absent not in ("granted", "refused"):
            raise ConfigError(
                'server.consent_when_absent must be "granted" or "refused"; '
                f"got {self.consent_when_absent!r}."
            )
        for kind, keys in (("write_keys", self.write_keys), ("read_keys", self.read_keys)):
            for name, key in keys.items():
                if not isinstance(key, str) or len(key) < MIN_KEY_LENGTH:
                    raise ConfigError(
                        f"server.{kind}.{name}: a key must be at least {MIN_KEY_LENGTH} random "
                        "characters: python -c 'import secrets; print(secrets.token_urlsafe())'"
                    )
        shared = set(self.write_keys.values()) & set(self.read_keys.values())
        if shared:
            raise ConfigError("server: a key cannot be both a write key and a read key.")
        if "*" in self.cors_origins:
            raise ConfigError('server.cors_origins: list the sites\' origins; "*" is refused.')
        unknown = sorted(set(self.events.values()) - set(EVENT_TYPES))
        if unknown:
            raise ConfigError(
                f"server.events: unknown event types {unknown}. "
                + did_you_mean(unknown[0], EVENT_TYPES)
            )

    @cached_property
    def event_types(self) -> dict[str, str]:
        """Track event name, trimmed and lower-cased -> event type: Segment's spec names, then
        the configured ones (made once: the collector looks one up per event)."""
        return {k.strip().lower(): v for k, v in {**SEGMENT_EVENTS, **self.events}.items()}

    @classmethod
    def from_mapping(
        cls, raw: Mapping[str, Any], environ: Mapping[str, str], origin: str = "settings"
    ) -> ServerSettings:
        """`[server]` of omnimetrics.toml, and the keys of the environment."""
        values = known_keys(cls, raw, "server", origin)
        write = dict(values.pop("write_keys", {}))
        read = dict(values.pop("read_keys", {}))
        if environ.get("OMNIMETRICS_WRITE_KEY"):
            write["segment"] = environ["OMNIMETRICS_WRITE_KEY"]
        if environ.get("OMNIMETRICS_READ_KEY"):
            read["env"] = environ["OMNIMETRICS_READ_KEY"]
        for name in ("cors_origins", "consent_categories"):
            if name in values:
                values[name] = tuple(values[name])
        try:
            return cls(write_keys=write, read_keys=read, **values)
        except TypeError as exc:
            raise ConfigError(f"{origin}: [server] {exc}") from None


@dataclass(frozen=True)
class UISettings:
    """`[ui]`: the words of the dashboard and the report (`omnimetrics.labels`)."""

    language: str = "en"
    """English ("en") or French ("fr"): page titles, section titles, column headers, KPI names."""
    segment_filters: tuple[str, ...] = ("rfm_segment", "channel_mix", "customer_type",
                                        "age_band", "region")  # fmt: skip
    """Segment columns whose dashboard filter reads KPIs stored by each run (others are computed
    live); a user segment of [[segments]] may be named too."""

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            allowed = " or ".join(f'"{name}"' for name in LANGUAGES)
            raise ConfigError(f"ui.language must be {allowed}; got {self.language!r}.")
        filters = self.segment_filters
        if isinstance(filters, str) or not all(isinstance(f, str) and f for f in filters):
            raise ConfigError("ui.segment_filters must be a list of segment column names, e.g. "
                              f'["rfm_segment", "region"]; got {filters!r}.')  # fmt: skip
        object.__setattr__(self, "segment_filters", tuple(filters))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], origin: str = "settings") -> UISettings:
        """`[ui]` of omnimetrics.toml; an unknown key is an error that names the known."""
        return cls(**known_keys(cls, raw, "ui", origin))


@dataclass(frozen=True)
class MixSettings:
    """`[mix]`: the experiments the mix model and the reconciliation read (docs/mmm.md)."""

    holdouts: Mapping[str, str] = field(default_factory=dict)
    """Experiments that held a channel out, experiment -> channel (or "channel:variant" naming
    the holdout variant): their measured lifts appear beside the mix model (`reconcile`)."""
    calibrate: bool = False
    """Fit the mix model with those lifts (every mix model, budget and page)."""

    def __post_init__(self) -> None:
        holdouts = self.holdouts
        if not isinstance(holdouts, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in holdouts.items()
        ):
            raise ConfigError('mix.holdouts maps experiments to channels, e.g. '
                              f'{{ email_holdout = "email" }}; got {holdouts!r}.')  # fmt: skip
        if not isinstance(self.calibrate, bool):
            raise ConfigError(f"mix.calibrate must be true or false; got {self.calibrate!r}.")
        object.__setattr__(self, "holdouts", dict(holdouts))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], origin: str = "settings") -> MixSettings:
        """`[mix]` of omnimetrics.toml; an unknown key is an error that names the known."""
        return cls(**known_keys(cls, raw, "mix", origin))


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with defaults that suit a European retailer."""

    secret: bytes | None = None
    demo: bool = False
    phone_country_code: str = "33"
    """Calling code for phone numbers written in national form (06..., 0 6...)."""
    source_priority: tuple[str, ...] = DEFAULT_SOURCE_PRIORITY
    extra_channels: tuple[str, ...] = ()
    channel_rules: tuple[Mapping[str, Any], ...] = ()
    """User channel rules ([[channels.rules]]), tried before the defaults."""
    column_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per table, the user's column name -> the contract's column name."""
    future_tolerance_hours: float = 24.0
    """Timestamps later than now plus this are rejected (clock or time-zone errors)."""
    timezone: str = "UTC"
    """Time zone of timestamps written without an offset (`[ingest] timezone`, IANA name)."""
    memory_limit: str | None = "1GB"
    """DuckDB memory cap: past it, work spills to disk instead of growing (None: engine default)."""
    spark_warehouse: str = "spark-warehouse"
    """Folder of the local Spark warehouse (`[engine] spark_warehouse`, used by `--db spark`): its
    Parquet tables and their catalog. A relative path in a settings file is read from its folder."""
    attribution_models: tuple[Mapping[str, Any], ...] = ()
    """User attribution models ([[attribution.models]]): a name, a kind and its parameters."""
    activation_hashes: bool = False
    """Also keep the plain SHA-256 of normalised emails and phones (the form ad platforms match
    audiences on), in `activation_identifiers`. Off by default: it is weaker than the keyed hash."""
    min_cell_persons: int = 10
    """Outputs meant for sharing suppress cells of fewer persons than this."""
    segments: tuple[Mapping[str, Any], ...] = ()
    """User segments ([[segments]]): a name and a filter expression over the person table."""
    goals: tuple[Mapping[str, Any], ...] = ()
    """SMART goals ([[goals]]): KPI, target, segment or channel, start and deadline."""
    journeys: JourneySettings = field(default_factory=JourneySettings)
    """Sessions and journeys ([journeys]), the same for every number."""
    server: ServerSettings = field(default_factory=ServerSettings)
    """The collector and query API of `omnimetrics serve` ([server])."""
    ui: UISettings = field(default_factory=UISettings)
    """The language of the dashboard and the report ([ui])."""
    mix: MixSettings = field(default_factory=MixSettings)
    """The experiments the mix model reads ([mix])."""

    def require_secret(self) -> bytes:
        """The HMAC key; in demo mode always the public demo key (a secret in the environment
        never silently replaces it: a demo warehouse is pseudonymised with the demo key only)."""
        if self.demo:
            return DEMO_SECRET
        if self.secret:
            return self.secret
        raise ConfigError(
            "No secret to pseudonymise emails and phones. Run `omnimetrics init` (it writes "
            "omnimetrics.toml and a secret file readable only by you), or set the environment "
            "variable OMNIMETRICS_SECRET to a long random value, e.g.\n"
            "  export OMNIMETRICS_SECRET=$(python -c "
            "'import secrets; print(secrets.token_hex(32))')\n"
            "and keep it: the same secret must be used for every ingest into one warehouse. "
            "(Demo mode, on simulated data only, uses a public key.)"
        )

    def key_fingerprint(self) -> str:
        """A value that identifies the key without revealing it (stored with the warehouse)."""
        return hmac.new(
            self.require_secret(), b"omnimetrics-key-check", hashlib.sha256
        ).hexdigest()[:16]

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        demo: bool = False,
    ) -> Settings:
        """Read omnimetrics.toml (if present) and the environment."""
        environ = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        toml_path = Path(path) if path is not None else Path("omnimetrics.toml")
        if toml_path.exists():
            try:
                raw = tomllib.loads(toml_path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{toml_path}: not valid TOML ({exc}). Fix the file.") from None
        elif path is not None:
            raise ConfigError(f"Config file {toml_path} does not exist.")
        return cls.from_mapping(raw, environ=environ, demo=demo, origin=str(toml_path))

    @classmethod
    def from_mapping(
        cls,
        raw: Mapping[str, Any],
        *,
        environ: Mapping[str, str] | None = None,
        demo: bool = False,
        origin: str = "settings",
    ) -> Settings:
        environ = os.environ if environ is None else environ
        sections = {"privacy", "ingest", "engine", "columns", "channels", "attribution",
                    "metrics", "segments", "goals", "journeys", "server", "ui", "mix"}  # fmt: skip
        for name in raw:
            if name not in sections:
                raise ConfigError(
                    f"{origin}: unknown section [{name}]. " + did_you_mean(name, sections)
                )
        privacy = dict(raw.get("privacy", {}))
        ingest = dict(raw.get("ingest", {}))
        engine = dict(raw.get("engine", {}))
        secret_env = privacy.get("secret_env", "OMNIMETRICS_SECRET")
        secret, where = environ.get(secret_env), f"${secret_env}"
        if secret is None and privacy.get("secret_file"):
            folder = Path(origin).parent if origin.endswith(".toml") else Path.cwd()
            secret_path = folder / str(privacy["secret_file"])
            secret, where = read_secret_file(secret_path), str(secret_path)
        if secret is not None and len(secret) < 16:
            raise ConfigError(
                f"The secret in {where} is {len(secret)} characters long; use at least 16 "
                "random characters."
            )
        column_maps = {table: dict(mapping) for table, mapping in raw.get("columns", {}).items()}
        priority = ingest.get("source_priority", DEFAULT_SOURCE_PRIORITY)
        if not isinstance(priority, list | tuple) or not all(isinstance(p, str) for p in priority):
            raise ConfigError(
                f"{origin}: ingest.source_priority must be a list of source names; "
                f"got {priority!r}."
            )
        return cls(
            secret=secret.encode() if secret else None,
            demo=demo or bool(privacy.get("demo", False)),
            phone_country_code=str(privacy.get("phone_country_code", "33")).lstrip("+"),
            source_priority=tuple(priority),
            extra_channels=tuple(raw.get("channels", {}).get("extra", ())),
            channel_rules=tuple(raw.get("channels", {}).get("rules", ())),
            column_maps=column_maps,
            future_tolerance_hours=float(ingest.get("future_tolerance_hours", 24.0)),
            timezone=check_timezone(
                str(ingest.get("timezone", "UTC")), f"{origin}: ingest.timezone"
            ),
            memory_limit=engine.get("memory_limit", "1GB"),
            spark_warehouse=spark_folder(engine.get("spark_warehouse", "spark-warehouse"), origin),
            attribution_models=tuple(raw.get("attribution", {}).get("models", ())),
            activation_hashes=bool(privacy.get("activation_hashes", False)),
            min_cell_persons=int(raw.get("metrics", {}).get("min_cell_persons", 10)),
            segments=tuple(raw.get("segments", ())),
            goals=tuple(raw.get("goals", ())),
            journeys=JourneySettings.from_mapping(raw.get("journeys", {}), origin),
            server=ServerSettings.from_mapping(raw.get("server", {}), environ, origin),
            ui=UISettings.from_mapping(raw.get("ui", {}), origin),
            mix=MixSettings.from_mapping(raw.get("mix", {}), origin),
        )


def read_secret_file(path: Path) -> str:
    """The secret kept in `path`: it must exist and be readable by its owner only."""
    if not path.is_file():
        raise ConfigError(
            f"privacy.secret_file: {path} does not exist. Restore it from your backup (hashes made "
            "with another secret will not match), or run `omnimetrics init` for a new project."
        )
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} can be read by other users; make it private: chmod 600 {path}")
    return path.read_text(encoding="utf-8").strip()


def spark_folder(value: Any, origin: str) -> str:
    """`[engine] spark_warehouse`: a folder path, read from the settings file's folder."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f'{origin}: engine.spark_warehouse must be a folder path, e.g. "spark-warehouse"; '
            f"got {value!r}."
        )
    folder = Path(value).expanduser()
    if not folder.is_absolute() and origin.endswith(".toml"):
        folder = Path(origin).parent / folder
    return str(folder)


def check_timezone(name: str, where: str = "time zone") -> str:
    """An IANA time zone name, checked; a clear error otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{where}: {name!r} is not a time zone name; use an IANA name such as "
            "'Europe/Paris', 'America/New_York' or 'UTC'."
        ) from None
    return name
