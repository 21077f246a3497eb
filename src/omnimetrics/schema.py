"""Table contracts: the columns, types, rules and keys of every warehouse table.

One declaration per table drives validation at the door, the warehouse DDL, the simulator's output
and docs/data-model.md (generated from here by `python -m omnimetrics.schema`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import ibis.expr.datatypes as dt

from omnimetrics.errors import SchemaError, did_you_mean
from omnimetrics.registry import Registry
from omnimetrics.vocabulary import (  # noqa: F401 - re-exported: the contracts' vocabulary
    CHANNEL_KINDS,
    CHANNELS,
    CODE_TYPES,
    COSTLESS_CHANNELS,
    CURRENCIES,
    DEVICE_TYPES,
    EVENT_TYPES,
    FULFILMENTS,
    IDENTIFIER_TYPES,
    OFFLINE_CHANNELS,
    OFFLINE_SALES,
    ONLINE_SALES,
    ORDER_STATUSES,
    SALES_CHANNEL_ONLINE,
    SALES_CHANNELS,
    SCORE_RANGES,
    SESSION_EVENTS,
    SURVEY_TYPES,
    TOUCH_EVENTS,
)

Kind = Literal["string", "timestamp", "date", "float", "int", "bool", "json"]

DTYPES: dict[str, dt.DataType] = {
    "string": dt.string,
    "timestamp": dt.Timestamp(timezone="UTC"),
    "date": dt.date,
    "float": dt.float64,
    "int": dt.int64,
    "bool": dt.boolean,
    "json": dt.string,  # stored as JSON text: portable across engines
}


MAX_AMOUNT = 10_000_000.0
"""Amounts above this are treated as input errors (a misplaced decimal, cents read as units)."""


@dataclass(frozen=True)
class Column:
    """One column of a contract."""

    name: str
    kind: Kind
    doc: str
    example: str = ""
    required: bool = False
    allowed: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    pii: Literal["email", "phone"] | None = None
    """Raw email/phone arrive under `input_name`, are normalised and stored only as an HMAC."""
    pii_by: str | None = None
    """Name of a column holding an identifier type: the value is hashed when that type is pii."""
    currency: bool = False
    free_text: bool = False
    """Free text may hold emails or phones typed by people: they are masked at the door."""

    @property
    def input_name(self) -> str:
        """The column name expected in source files (raw `email`, stored `email_hash`)."""
        return self.name.removesuffix("_hash") if self.pii else self.name

    @property
    def dtype(self) -> dt.DataType:
        return DTYPES[self.kind]


@dataclass(frozen=True)
class Table:
    """A table contract: columns, natural key, and how to pick the one row kept per key."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    prefer: tuple[tuple[str, Literal["asc", "desc"]], ...] = ()
    """Among reports of one key, which is kept; empty means the first one stored wins."""
    require_any: tuple[str, ...] = ()
    """At least one of these columns must be present on a row."""
    not_after: tuple[tuple[str, str], ...] = ()
    """Pairs (a, b) where a must not exceed b (returned_amount <= revenue)."""
    score_ranges: tuple[str, str] | None = None
    """(score column, type column) checked against SCORE_RANGES."""
    keep_reports: bool = False
    """Keep every report of a key (not only the winner) in `<name>_reports` as evidence."""

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise SchemaError(
            f"Table {self.name!r} has no column {name!r}. "
            + did_you_mean(name, [c.name for c in self.columns])
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def ibis_schema(self) -> dict[str, dt.DataType]:
        """Stored schema: contract columns plus lineage columns."""
        return {**{c.name: c.dtype for c in self.columns}, **LINEAGE}


LINEAGE: dict[str, dt.DataType] = {
    "ingest_batch": dt.string,
    "source_file": dt.string,
    "source_row": dt.int64,
}
"""Every stored row says which batch, file and row (1-based, header excluded) it came from."""


def _identifiers(doc_suffix: str = "") -> tuple[Column, ...]:
    return (
        Column("anonymous_id", "string", "Cookie or anonymous web id" + doc_suffix, "c-8f2a91"),
        Column("device_id", "string", "Mobile device / app instance id", "d-77e1"),
        Column("customer_id", "string", "CRM / account id (known when logged in)", "C000123"),
        Column(
            "email_hash",
            "string",
            "HMAC-SHA256 of the trimmed, lower-cased email; the file column is `email`",
            "jane.doe@example.com",
            pii="email",
        ),
        Column(
            "phone_hash",
            "string",
            "HMAC-SHA256 of the E.164 phone; the file column is `phone`",
            "+33 6 12 34 56 78",
            pii="phone",
        ),
        Column("loyalty_id", "string", "Loyalty card number", "L-0042017"),
    )


def _message_id() -> Column:
    return Column(
        "message_id",
        "string",
        "Segment messageId, on rows the collector received (`omnimetrics serve`)",
        "ajs-next-1f0c2d9e",
    )


IDENTIFIER_COLUMNS = tuple(c.name for c in _identifiers())


def _timestamp(doc: str) -> Column:
    return Column(
        "timestamp",
        "timestamp",
        doc + "; ISO 8601 with offset or Z, or Unix time (s, ms, µs); without offset: the "
        "source's time zone (--timezone, default UTC); stored UTC",
        "2026-03-01T10:15:00+01:00",
        required=True,
    )


def _amount(name: str, doc: str, example: str, required: bool = False) -> Column:
    return Column(name, "float", doc, example, required=required, min=0.0, max=MAX_AMOUNT)


TABLES = Registry[Table]("table")
"""Every table a user can ingest, by name."""


def _register(table: Table) -> Table:
    return TABLES.add(table.name, table)


TOUCHPOINTS = _register(
    Table(
        "touchpoints",
        "Every interaction on every channel: ads, visits, emails, SMS, push, social, store visits, "
        "calls, chats, QR scans, promo redemptions, app installs.",
        (
            Column(
                "event_id",
                "string",
                "Unique id of the event in its source",
                "ev-0001",
                required=True,
            ),
            _timestamp("When it happened"),
            *_identifiers(),
            Column(
                "channel",
                "string",
                "Channel, when the source knows it; else derived from source/medium",
                "email",
                allowed=CHANNELS,
            ),
            Column("source", "string", "Traffic source (utm_source)", "google"),
            Column("medium", "string", "Traffic medium (utm_medium)", "cpc"),
            Column("campaign", "string", "Campaign name (utm_campaign)", "spring_sale"),
            Column("content", "string", "Ad or creative (utm_content)", "banner_a"),
            Column("term", "string", "Keyword (utm_term)", "running shoes"),
            Column(
                "landing_url",
                "string",
                "Landing page URL, with its query string",
                "https://shop.example/?utm_source=google&utm_medium=cpc",
                free_text=True,
            ),
            Column(
                "referrer", "string", "Referring URL", "https://www.google.com/", free_text=True
            ),
            Column(
                "event_type", "string", "What happened", "visit", required=True, allowed=EVENT_TYPES
            ),
            Column("device_type", "string", "Device class", "mobile", allowed=DEVICE_TYPES),
            Column("store_id", "string", "Store where it happened (offline)", "S012"),
            Column(
                "duration_seconds",
                "float",
                "Time on site/app or call length",
                "184",
                min=0.0,
                max=86_400.0,
            ),
            Column(
                "properties",
                "json",
                "Anything else, as a JSON object",
                '{"page": "/shoes"}',
                free_text=True,
            ),
            _message_id(),
        ),
        key=("event_id",),
        require_any=IDENTIFIER_COLUMNS,
    )
)

ORDERS = _register(
    Table(
        "orders",
        "Orders from every sales channel (web, app, store, call centre, marketplace). The same "
        "order reported by several systems is one order: the report of the most trusted source is "
        "kept, every report is kept in `orders_reports` as evidence.",
        (
            Column("order_id", "string", "Business key of the order", "W-100045", required=True),
            _timestamp("When it was placed"),
            *_identifiers(),
            Column(
                "sales_channel",
                "string",
                "Where it was sold",
                "store",
                required=True,
                allowed=SALES_CHANNELS,
            ),
            Column(
                "fulfilment",
                "string",
                "How it reached the customer",
                "click_and_collect",
                allowed=FULFILMENTS,
            ),
            _amount(
                "revenue", "Amount paid, after discount, taxes included", "59.90", required=True
            ),
            Column("currency", "string", "ISO 4217 code", "EUR", required=True, currency=True),
            _amount("margin", "Gross margin, when known", "21.50"),
            _amount("cost_of_goods", "Cost of goods sold, when known", "38.40"),
            _amount("discount", "Discount granted", "5.00"),
            Column(
                "promo_code",
                "string",
                "Promo code used (links offline sales to campaigns)",
                "SPRING10",
            ),
            Column("store_id", "string", "Store that sold or fulfilled it", "S012"),
            Column("items", "int", "Number of items", "3", min=0, max=10_000),
            Column("status", "string", "Order status", "completed", allowed=ORDER_STATUSES),
            _amount("returned_amount", "Amount refunded for returns", "0"),
            Column(
                "source", "string", "System that reported it (web_shop, pos, crm, ads...)", "pos"
            ),
            _message_id(),
        ),
        key=("order_id",),
        prefer=(("source", "asc"),),  # replaced by the configured source rank at ingest time
        not_after=(("returned_amount", "revenue"), ("margin", "revenue")),
        keep_reports=True,
    )
)

SPEND = _register(
    Table(
        "spend",
        "Media spend per day, channel and campaign (ad platform exports, media plans).",
        (
            Column("date", "date", "Day of the spend", "2026-03-01", required=True),
            Column("channel", "string", "Channel", "paid_search", required=True, allowed=CHANNELS),
            Column("campaign", "string", "Campaign name", "spring_sale"),
            _amount("spend", "Amount spent", "1250.00", required=True),
            Column("currency", "string", "ISO 4217 code", "EUR", required=True, currency=True),
            Column("impressions", "int", "Impressions bought", "120000", min=0),
            Column("clicks", "int", "Clicks", "2400", min=0),
        ),
        key=("date", "channel", "campaign"),
    )
)

FEEDBACK = _register(
    Table(
        "feedback",
        "Survey answers and reviews (NPS, CSAT, CES, reviews) with free text and 'how did you "
        "hear of us'.",
        (
            Column("response_id", "string", "Unique id of the answer", "R-555", required=True),
            _timestamp("When it was answered"),
            *_identifiers(),
            Column(
                "survey_type",
                "string",
                "Kind of survey",
                "nps",
                required=True,
                allowed=SURVEY_TYPES,
            ),
            Column(
                "score",
                "float",
                "Score on the survey's scale (NPS 0-10, CSAT 1-5, CES 1-7, review 1-5)",
                "9",
                required=True,
            ),
            Column("channel", "string", "Channel the answer is about", "store", allowed=CHANNELS),
            Column("touchpoint_id", "string", "Event or order the answer is about", "W-100045"),
            Column("store_id", "string", "Store the answer is about", "S012"),
            Column("comment", "string", "Free text", "Friendly staff, long queue", free_text=True),
            Column(
                "heard_from",
                "string",
                "'How did you hear of us' answer",
                "instagram",
                free_text=True,
            ),
        ),
        key=("response_id",),
        score_ranges=("score", "survey_type"),
    )
)

CUSTOMERS = _register(
    Table(
        "customers",
        "CRM attributes. A newer `updated_at` for the same customer replaces the stored row.",
        (
            Column("customer_id", "string", "CRM id", "C000123", required=True),
            Column("birth_year", "int", "Year of birth", "1987", min=1900, max=2030),
            Column("age_band", "string", "Age band, when the birth year is not known", "25-34"),
            Column("gender", "string", "Gender, optional", "f"),
            Column("city", "string", "City", "Lyon"),
            Column("region", "string", "Region", "Auvergne-Rhone-Alpes"),
            Column("country", "string", "ISO 3166-1 alpha-2", "FR"),
            Column("signup_date", "date", "Account creation", "2024-05-17"),
            Column("loyalty_id", "string", "Loyalty card number", "L-0042017"),
            *[c for c in _identifiers() if c.pii],
            Column("consent_analytics", "bool", "Agreed to analytics", "true"),
            Column("consent_marketing", "bool", "Agreed to marketing contact", "false"),
            Column("created_at", "timestamp", "Record created", "2024-05-17T09:00:00Z"),
            Column("updated_at", "timestamp", "Record last updated", "2026-02-01T12:00:00Z"),
        ),
        key=("customer_id",),
        prefer=(("updated_at", "desc"),),
    )
)

IDENTITIES = _register(
    Table(
        "identities",
        "Explicit links between two identifiers (a login, a CRM record, a loyalty enrolment).",
        (
            Column(
                "identifier_type_a",
                "string",
                "Type of the first identifier",
                "anonymous_id",
                required=True,
                allowed=IDENTIFIER_TYPES,
            ),
            Column(
                "identifier_a",
                "string",
                "First identifier (emails/phones hashed)",
                "c-8f2a91",
                required=True,
                pii_by="identifier_type_a",
            ),
            Column(
                "identifier_type_b",
                "string",
                "Type of the second identifier",
                "customer_id",
                required=True,
                allowed=IDENTIFIER_TYPES,
            ),
            Column(
                "identifier_b",
                "string",
                "Second identifier (emails/phones hashed)",
                "C000123",
                required=True,
                pii_by="identifier_type_b",
            ),
            Column("link_source", "string", "How the link was made", "login"),
            Column("timestamp", "timestamp", "When the link was seen", "2026-03-01T10:15:00Z"),
            _message_id(),
        ),
        key=("identifier_type_a", "identifier_a", "identifier_type_b", "identifier_b"),
    )
)

CAMPAIGN_CODES = _register(
    Table(
        "campaign_codes",
        "Promo codes and QR codes of campaigns: they link offline sales and scans to a campaign.",
        (
            Column("code", "string", "The code as printed or typed", "SPRING10", required=True),
            Column(
                "code_type", "string", "promo or qr", "promo", required=True, allowed=CODE_TYPES
            ),
            Column("campaign", "string", "Campaign it belongs to", "spring_sale", required=True),
            Column(
                "channel",
                "string",
                "Channel of that campaign",
                "direct_mail",
                required=True,
                allowed=CHANNELS,
            ),
            Column("valid_from", "date", "First valid day", "2026-03-01"),
            Column("valid_to", "date", "Last valid day", "2026-03-31"),
        ),
        key=("code",),
        not_after=(("valid_from", "valid_to"),),
    )
)

EXPERIMENT_ASSIGNMENTS = _register(
    Table(
        "experiment_assignments",
        "Which unit saw which variant of which experiment.",
        (
            Column("experiment", "string", "Experiment name", "subject_line_test", required=True),
            Column("variant", "string", "Variant name", "B", required=True),
            Column(
                "unit_type",
                "string",
                "Type of the unit identifier",
                "customer_id",
                required=True,
                allowed=IDENTIFIER_TYPES,
            ),
            Column(
                "unit_id",
                "string",
                "Unit identifier (emails/phones hashed)",
                "C000123",
                required=True,
                pii_by="unit_type",
            ),
            Column("timestamp", "timestamp", "When the unit was assigned", "2026-03-01T00:00:00Z"),
        ),
        key=("experiment", "unit_type", "unit_id"),
    )
)

QUARANTINE_SCHEMA: dict[str, dt.DataType] = {
    "ingest_batch": dt.string,
    "table_name": dt.string,
    "source_file": dt.string,
    "source_row": dt.int64,
    "column_name": dt.string,
    "reason": dt.string,
    "message": dt.string,
    "raw_record": dt.string,
}
"""Rejected rows: where they came from, why, and the record as read (emails/phones hashed)."""

BATCHES_SCHEMA: dict[str, dt.DataType] = {
    "ingest_batch": dt.string,
    "table_name": dt.string,
    "source_file": dt.string,
    "file_sha256": dt.string,
    "rows_read": dt.int64,
    "accepted": dt.int64,
    "duplicates": dt.int64,
    "quarantined": dt.int64,
    "suppressed": dt.int64,
    "started_at": dt.Timestamp(timezone="UTC"),
    "finished_at": dt.Timestamp(timezone="UTC"),
}
"""One row per file ingested: the ledger that makes ingest idempotent and auditable."""


MESSAGES_TABLE = "collector_messages"
MESSAGES_SCHEMA: dict[str, dt.DataType] = {
    "source": dt.string,
    "message_id": dt.string,
    "digest": dt.string,
    "outcome": dt.string,
    "ingest_batch": dt.string,
    "received_at": dt.Timestamp(timezone="UTC"),
}
"""Every message the collector resolved (accepted, quarantined or suppressed), per write key's
source, with the SHA-256 of its payload: a messageId seen again within `[server] dedup_days` is a
duplicate, or a conflict when its payload differs."""

ERASED_TABLE = "erased_identifiers"
ERASED_SCHEMA: dict[str, dt.DataType] = {
    "identifier_key": dt.string,
    "erased_at": dt.Timestamp(timezone="UTC"),
}
"""HMAC of each erased identifier ("type:value"): later rows carrying one are suppressed."""


ACTIVATION = Table(
    "activation_identifiers",
    "Written by ingest, only with `[privacy] activation_hashes = true` (not a file to ingest): "
    "the plain SHA-256 of each valid email and phone of a stored row, the form ad platforms "
    "match audiences on, next to the keyed hash used everywhere else. One row per identifier, "
    "erased with its person. A plain SHA-256 of an email can be re-computed by anyone who knows "
    "the email: it is weaker than the keyed hash, hence off by default (docs/segments.md).",
    (
        Column(
            "identifier_type",
            "string",
            "Kind of identifier",
            "email",
            required=True,
            allowed=("email", "phone"),
        ),
        Column(
            "identifier",
            "string",
            "HMAC-SHA256 of the normalised value, as in every other table",
            "667b5b0cc64f...",
            required=True,
        ),
        Column(
            "sha256",
            "string",
            "SHA-256 hex of the normalised value: trimmed, lower-cased email; phone in E.164 "
            "with its + (Google Customer Match)",
            "86e0b9e56c17...",
            required=True,
        ),
        Column(
            "sha256_digits",
            "string",
            "Phones only: SHA-256 hex of the E.164 digits without + (Meta custom audiences)",
            "8a3e7886c933...",
        ),
    ),
    key=("identifier_type", "identifier"),
)
"""Not a contract of `TABLES`: nobody ingests it; it is declared here for its schema and docs."""
ACTIVATION_TABLE = ACTIVATION.name


def table_contract(name: str) -> Table:
    """The contract of a table, or a clear error naming the tables that exist."""
    if name not in TABLES:
        raise SchemaError(f"Unknown table {name!r}. " + did_you_mean(name, TABLES))
    return TABLES[name]


def data_model_markdown() -> str:
    """docs/data-model.md, generated from the contracts so the two never drift."""
    lines = [
        "# Data model",
        "",
        "Generated from `src/omnimetrics/schema.py` (`make docs`); do not edit by hand.",
        "",
        "Every table also stores lineage: `ingest_batch`, `source_file`, `source_row`.",
        "Timestamps are stored in UTC. Emails and phones never reach a table: they are normalised",
        "and stored only as HMAC-SHA256 hashes (see docs/ingest.md).",
        "",
    ]
    for table in [*TABLES.values(), ACTIVATION]:
        lines += [f"## `{table.name}`", "", table.doc, ""]
        lines.append(f"Natural key: `{', '.join(table.key)}`.")
        if table.require_any:
            lines.append(f"Each row needs at least one of: `{', '.join(table.require_any)}`.")
        for a, b in table.not_after:
            lines.append(f"`{a}` must not exceed `{b}`.")
        if table.score_ranges:
            ranges = ", ".join(f"{k} {lo}-{hi}" for k, (lo, hi) in SCORE_RANGES.items())
            lines.append(f"`{table.score_ranges[0]}` must lie on its survey's scale: {ranges}.")
        lines += [
            "",
            "| column | type | required | allowed values / range | example | meaning |",
            "|---|---|---|---|---|---|",
        ]
        for col in table.columns:
            rule = ""
            if col.allowed:
                rule = ", ".join(col.allowed)
            elif col.currency:
                rule = "ISO 4217 code"
            elif col.min is not None or col.max is not None:
                rule = f"{col.min:g} .. {col.max:g}" if col.max is not None else f">= {col.min:g}"
            name = col.name if not col.pii else f"{col.name} (file: `{col.input_name}`)"
            req = "yes" if col.required else ""
            lines.append(f"| {name} | {col.kind} | {req} | {rule} | {col.example} | {col.doc} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(data_model_markdown())
