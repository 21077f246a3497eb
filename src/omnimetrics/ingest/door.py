"""Pseudonymisation at the door: emails and phones become keyed hashes before anything is stored.

Runs on the Arrow batches read from a file, as SQL in an in-process DuckDB: the warehouse's own
connection when the warehouse is DuckDB (the door and the validation are then one query, on all
cores), otherwise a private one used only as a vectorised kernel. Nothing is persisted on the way,
so raw identifiers never reach a table, the quarantine or a log, whatever the engine.

    email: trim, lower-case; valid when it looks like local@domain.tld
    phone: drop spaces and punctuation; 00 -> +; a leading 0 -> +<country code>; E.164 check
    hash:  HMAC-SHA256(secret, normalised value), lower-case hex (RFC 2104)

With `[privacy] activation_hashes = true`, valid emails and phones also get the plain SHA-256 of
the same normalised value (the form ad platforms match audiences on), in columns named
`_activation__<column>` (and `_activation_digits__<column>`: a phone's E.164 digits without "+"),
which ingest keeps only in `activation_identifiers`.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pyarrow as pa

from omnimetrics.config import Settings
from omnimetrics.schema import IDENTIFIER_COLUMNS, Table

INVALID_PREFIX = "_invalid__"
"""Flag column `_invalid__<column>`: a raw email/phone was present but could not be normalised."""
SUPPRESSED = "_suppressed"
"""Flag column: the row carries an identifier of an erased person."""
ACTIVATION_PREFIX = "_activation_"
"""Columns `_activation__<column>` and `_activation_digits__<column>`: plain SHA-256 of the
normalised value (E.164 with "+" for phones) and of a phone's digits alone, for activation."""

EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[^@\s.]{2,}"
TEXT_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
TEXT_PHONE = r"(\+|\b0)[0-9][0-9 .\-]{7,16}[0-9]"
PHONE_PATTERN = r"\+[1-9][0-9]{6,14}"
ERASED_VIEW = "_omni_erased_keys"
CHUNK_ROWS = 262_144
"""Rows the door and the validation handle at a time: big enough to use every core."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Door:
    """Turns raw email/phone columns of a stream into hashes plus validity flags."""

    def __init__(self, settings: Settings, kernel: duckdb.DuckDBPyConnection | None = None) -> None:
        key = settings.require_secret()
        if len(key) > 64:  # RFC 2104: longer keys are hashed first
            key = hashlib.sha256(key).digest()
        block = key.ljust(64, b"\0")
        self._ipad = bytes(b ^ 0x36 for b in block).hex()
        self._opad = bytes(b ^ 0x5C for b in block).hex()
        self._country = settings.phone_country_code
        self._activation = settings.activation_hashes
        self._own = kernel is None
        self._kernel = kernel or duckdb.connect(":memory:")
        if self._own:  # a private kernel holds one chunk at a time, never the whole file
            self._kernel.execute("SET memory_limit = '512MB'")

    def close(self) -> None:
        if self._own:
            self._kernel.close()
        else:
            with contextlib.suppress(duckdb.Error):
                self._kernel.unregister(ERASED_VIEW)

    # SQL fragments, written once and used for both kinds of column.
    def _hmac(self, value: str) -> str:
        inner = f"sha256(unhex('{self._ipad}') || encode({value}))"
        return f"sha256(unhex('{self._opad}') || unhex({inner}))"

    @staticmethod
    def _email(raw: str) -> str:
        return f"nullif(lower(trim({raw})), '')"

    def _phone(self, raw: str) -> str:
        digits = rf"nullif(regexp_replace(trim({raw}), '[\s().\-/]', '', 'g'), '')"
        return (
            f"(CASE WHEN {digits} LIKE '+%' THEN {digits} "
            f"WHEN {digits} LIKE '00%' THEN '+' || substr({digits}, 3) "
            f"WHEN {digits} LIKE '0%' THEN '+{self._country}' || substr({digits}, 2) "
            f"ELSE '+' || {digits} END)"
        )

    def _normalised(self, kind: str, raw: str) -> tuple[str, str]:
        """(normalised value, validity condition) for a kind of identifier."""
        if kind == "email":
            value = self._email(raw)
            return value, f"regexp_full_match({value}, '{EMAIL_PATTERN}')"
        value = self._phone(raw)
        return value, f"regexp_full_match({value}, '{PHONE_PATTERN}')"

    def _select_list(
        self, table: Table, schema: pa.Schema, constants: Mapping[str, str | None]
    ) -> list[str]:
        present = set(schema.names)
        out: list[str] = []
        handled: set[str] = set()
        for col in table.columns:
            if col.pii and col.input_name in present:
                raw = f"CAST({_quote(col.input_name)} AS VARCHAR)"
                value, valid = self._normalised(col.pii, raw)
                out.append(f"{self._hmac(value)} AS {_quote(col.name)}")
                out.append(
                    f"({value} IS NOT NULL AND NOT {valid}) AS {_quote(INVALID_PREFIX + col.name)}"
                )
                if self._activation:
                    out += self._activation_columns(col.name, [(col.pii, value, valid)], None)
                handled.add(col.input_name)
            elif col.pii_by and col.name in present and col.pii_by in present:
                raw = f"CAST({_quote(col.name)} AS VARCHAR)"
                kind = f"lower(trim(CAST({_quote(col.pii_by)} AS VARCHAR)))"
                email, email_ok = self._normalised("email", raw)
                phone, phone_ok = self._normalised("phone", raw)
                out.append(
                    f"CASE WHEN {kind} = 'email' THEN {self._hmac(email)} "
                    f"WHEN {kind} = 'phone' THEN {self._hmac(phone)} "
                    f"ELSE {self._mask(raw)} END AS {_quote(col.name)}"
                )
                out.append(
                    f"CASE WHEN {kind} = 'email' THEN {email} IS NOT NULL AND NOT {email_ok} "
                    f"WHEN {kind} = 'phone' THEN {phone} IS NOT NULL AND NOT {phone_ok} "
                    f"ELSE false END AS {_quote(INVALID_PREFIX + col.name)}"
                )
                if self._activation:
                    kinds = [("email", email, email_ok), ("phone", phone, phone_ok)]
                    out += self._activation_columns(col.name, kinds, kind)
                handled.add(col.name)
        free_text = {c.name for c in table.columns if c.free_text}
        for field in schema:
            if field.name in handled:
                continue
            expr = _quote(field.name)
            if pa.types.is_nested(field.type):
                expr = f"CAST(to_json({expr}) AS VARCHAR)"
            if field.name in free_text:
                expr = self._mask(f"CAST({expr} AS VARCHAR)")
            out.append(f"{expr} AS {_quote(field.name)}")
        for name, value in constants.items():
            literal = "NULL" if value is None else "'" + value.replace("'", "''") + "'"
            out.append(f"CAST({literal} AS VARCHAR) AS {_quote(name)}")
        return out

    @staticmethod
    def _activation_columns(
        name: str, kinds: Sequence[tuple[str, str, str]], kind_sql: str | None
    ) -> list[str]:
        """SQL: plain SHA-256 of valid normalised values (and of a phone's digits alone).

        kinds: (identifier kind, normalised value, validity condition); kind_sql: the SQL giving a
        row's kind when the column holds several kinds (identities), None when it holds one.
        """
        standard, digits = [], []
        for kind, value, valid in kinds:
            when = f"{valid}" if kind_sql is None else f"{kind_sql} = '{kind}' AND {valid}"
            standard.append(f"WHEN {when} THEN sha256({value})")
            if kind == "phone":  # E.164 without its "+": the form some platforms hash
                digits.append(f"WHEN {when} THEN sha256(substr({value}, 2))")
        digits_sql = f"CASE {' '.join(digits)} END" if digits else "CAST(NULL AS VARCHAR)"
        return [
            f"CASE {' '.join(standard)} END AS {_quote(ACTIVATION_PREFIX + '_' + name)}",
            f"{digits_sql} AS {_quote(ACTIVATION_PREFIX + 'digits__' + name)}",
        ]

    @staticmethod
    def _mask(value: str) -> str:
        """SQL: emails and phone numbers inside a text replaced by [email] / [phone]."""
        return (
            f"regexp_replace(regexp_replace({value}, '{TEXT_EMAIL}', '[email]', 'g'), "
            f"'{TEXT_PHONE}', '[phone]', 'g')"
        )

    def mask_text(self, text: str) -> str:
        """Free text with emails and phone numbers masked (as the door does for columns)."""
        return self._kernel.execute(f"SELECT {self._mask('$1')}", [text]).fetchall()[0][0]

    def apply(
        self,
        table: Table,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        constants: Mapping[str, str | None] | None = None,
        erased: Sequence[str] = (),
    ) -> Iterator[duckdb.DuckDBPyRelation]:
        """The rows in chunks, pii hashed, free text masked, nested values as JSON, constants added.

        `erased`: keyed hashes of erased identifiers ("type:value"); rows carrying one get
        `_suppressed` = true. Each chunk (about CHUNK_ROWS rows) is a lazy relation of the door's
        DuckDB connection, to be read once.
        """
        select = ", ".join(self._select_list(table, schema, constants or {}))
        if erased:
            keys = pa.table({"k": pa.array(list(erased), pa.string())})
            self._kernel.register(ERASED_VIEW, keys)
        for chunk in _read_ahead(_chunks(schema, batches, CHUNK_ROWS)):
            relation = self._kernel.from_arrow(chunk).project(select)
            tests = [
                f"coalesce({self._hmac(kind + ' || ' + repr(':') + ' || ' + _quote(name))} "
                f"IN (SELECT k FROM {ERASED_VIEW}), false)"
                for name, kind in self._identifier_columns(table, relation.columns)
            ]
            if erased and tests:
                relation = relation.project(f"*, ({' OR '.join(tests)}) AS {SUPPRESSED}")
            yield relation

    @staticmethod
    def _identifier_columns(table: Table, present: Sequence[str]) -> list[tuple[str, str]]:
        """(column, SQL giving its identifier type) for the identifiers a row can carry."""
        found = []
        for col in table.columns:
            if col.name not in present:
                continue
            if col.name in IDENTIFIER_COLUMNS:
                found.append((col.name, repr(col.name.removesuffix("_hash"))))
            elif col.pii_by and col.pii_by in present:
                found.append((col.name, f"lower(trim({_quote(col.pii_by)}))"))
        return found

    def hmac_keys(self, keys: Sequence[str]) -> list[str]:
        """HMAC of identifier keys ("type:value"), as kept for erased persons."""
        relation = self._kernel.from_arrow(pa.table({"v": pa.array(list(keys), pa.string())}))
        return [row[0] for row in relation.project(self._hmac("v")).fetchall()]

    def activation_values(
        self, kind: str, values: list[str | None], *, digits: bool = False
    ) -> list[str | None]:
        """Plain SHA-256 of normalised emails/phones (None when invalid), as kept for activation;
        `digits`: of a phone's E.164 digits without "+"."""
        arrow = pa.table({"v": pa.array(values, pa.string())})
        value, valid = self._normalised(kind, "v")
        hashed = f"substr({value}, 2)" if digits and kind == "phone" else value
        relation = self._kernel.from_arrow(arrow)
        rows = relation.project(f"CASE WHEN {valid} THEN sha256({hashed}) END").fetchall()
        return [row[0] for row in rows]

    def hash_values(self, kind: str, values: list[str | None]) -> list[str | None]:
        """Hash a few identifiers the way ingest does (look-ups, erasure requests, tests)."""
        if kind not in ("email", "phone"):
            return list(values)
        arrow = pa.table({"v": pa.array(values, pa.string())})
        value, valid = self._normalised(kind, "v")
        relation = self._kernel.from_arrow(arrow)
        rows = relation.project(f"CASE WHEN {valid} THEN {self._hmac(value)} END").fetchall()
        return [row[0] for row in rows]


def _chunks(schema: pa.Schema, batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Batches gathered into tables of about `rows` rows (at least one table, maybe empty)."""
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        pending.append(batch)
        size += batch.num_rows
        if size >= rows:
            yield pa.Table.from_batches(pending, schema)
            pending, size = [], 0
    if pending or size == 0:
        yield pa.Table.from_batches(pending, schema)


def _read_ahead(chunks: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """The same chunks, the next one read by a thread while the engine works on the current."""
    with ThreadPoolExecutor(1, thread_name_prefix="omnimetrics-read") as pool:
        pending = pool.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = pool.submit(next, chunks, None)
            yield chunk
