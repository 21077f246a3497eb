"""Pseudonymisation: emails and phones normalised, then keyed-hashed, in SQL for DuckDB.

    email: trim, lower-case; valid when it looks like local@domain.tld
    phone: drop spaces and punctuation; 00 -> +; a leading 0 -> +<country code>; E.164 check
    hash:  HMAC-SHA256(secret, normalised value), lower-case hex (RFC 2104)

The SQL fragments serve the door (`ingest.door.Door`, on whole chunks) and a few values at a time
(look-ups, erasure requests). Activation hashes are the plain SHA-256 of the same normalised value
(the form ad platforms match audiences on); free text has its emails and phones masked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import duckdb
import pyarrow as pa

from omnimetrics.config import Settings

EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}"
TEXT_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
TEXT_PHONE = r"(\+|\b0)[0-9][0-9 .\-]{7,16}[0-9]"
PHONE_PATTERN = r"\+[1-9][0-9]{6,14}"

IdentifierSql = tuple[str, str, str]
"""(identifier kind, SQL of the normalised value, SQL of its validity condition)."""


class Pseudonymiser:
    """Normalises and keyed-hashes emails and phones, in SQL run by a DuckDB connection.

    `kernel`: a DuckDB connection to run on (the warehouse's own); None opens a private one.
    """

    def __init__(self, settings: Settings, kernel: duckdb.DuckDBPyConnection | None = None) -> None:
        key = settings.require_secret()
        if len(key) > 64:  # RFC 2104: longer keys are hashed first
            key = hashlib.sha256(key).digest()
        block = key.ljust(64, b"\0")
        self._ipad = bytes(b ^ 0x36 for b in block).hex()
        self._opad = bytes(b ^ 0x5C for b in block).hex()
        self._country = settings.phone_country_code
        self._own = kernel is None
        self._kernel = kernel or duckdb.connect(":memory:")
        if self._own:  # a private kernel holds one chunk at a time, never the whole file
            self._kernel.execute("SET memory_limit = '512MB'")

    def close(self) -> None:
        if self._own:
            self._kernel.close()

    # SQL fragments, written once and used for both kinds of identifier.
    def hmac_sql(self, value: str) -> str:
        """SQL: HMAC-SHA256 of the text `value` with the secret."""
        inner = f"sha256(unhex('{self._ipad}') || encode({value}))"
        return f"sha256(unhex('{self._opad}') || unhex({inner}))"

    def normalised_sql(self, kind: str, raw: str) -> tuple[str, str]:
        """SQL: (normalised value, validity condition) of a raw email or phone."""
        if kind == "email":
            value = f"nullif(lower(trim({raw})), '')"
            return value, f"regexp_full_match({value}, '{EMAIL_PATTERN}')"
        digits = rf"nullif(regexp_replace(trim({raw}), '[\s().\-/]', '', 'g'), '')"
        value = (
            f"(CASE WHEN {digits} LIKE '+%' THEN {digits} "
            f"WHEN {digits} LIKE '00%' THEN '+' || substr({digits}, 3) "
            f"WHEN {digits} LIKE '0%' THEN '+{self._country}' || substr({digits}, 2) "
            f"ELSE '+' || {digits} END)"
        )
        return value, f"regexp_full_match({value}, '{PHONE_PATTERN}')"

    @staticmethod
    def activation_sql(kinds: Sequence[IdentifierSql], kind_sql: str | None) -> tuple[str, str]:
        """SQL: plain SHA-256 of valid normalised values, and of a phone's digits alone.

        kind_sql: the SQL giving a row's kind when the column holds several kinds (identities),
        None when it holds one.
        """
        standard, digits = [], []
        for kind, value, valid in kinds:
            when = f"{valid}" if kind_sql is None else f"{kind_sql} = '{kind}' AND {valid}"
            standard.append(f"WHEN {when} THEN sha256({value})")
            if kind == "phone":  # E.164 without its "+": the form some platforms hash
                digits.append(f"WHEN {when} THEN sha256(substr({value}, 2))")
        digits_sql = f"CASE {' '.join(digits)} END" if digits else "CAST(NULL AS VARCHAR)"
        return f"CASE {' '.join(standard)} END", digits_sql

    @staticmethod
    def mask_sql(value: str) -> str:
        """SQL: emails and phone numbers inside a text replaced by [email] / [phone]."""
        return (
            f"regexp_replace(regexp_replace({value}, '{TEXT_EMAIL}', '[email]', 'g'), "
            f"'{TEXT_PHONE}', '[phone]', 'g')"
        )

    # A few values at a time.
    def _each(self, values: Sequence[str | None], sql: str) -> list[str | None]:
        """`sql` (over the column `v`) applied to each value."""
        relation = self._kernel.from_arrow(pa.table({"v": pa.array(list(values), pa.string())}))
        return [row[0] for row in relation.project(sql).fetchall()]

    def mask_text(self, text: str) -> str:
        """Free text with emails and phone numbers masked (as the door does for columns)."""
        return self._kernel.execute(f"SELECT {self.mask_sql('$1')}", [text]).fetchall()[0][0]

    def mask_texts(self, texts: Sequence[str]) -> list[str]:
        """Many free texts masked at once."""
        return [str(t) for t in self._each(texts, self.mask_sql("v"))]

    def hmac_keys(self, keys: Sequence[str]) -> list[str]:
        """HMAC of identifier keys ("type:value"), as kept for erased persons."""
        return [str(key) for key in self._each(keys, self.hmac_sql("v"))]

    def activation_values(
        self, kind: str, values: list[str | None], *, digits: bool = False
    ) -> list[str | None]:
        """Plain SHA-256 of normalised emails/phones (None when invalid), as kept for activation;
        `digits`: of a phone's E.164 digits without "+"."""
        value, valid = self.normalised_sql(kind, "v")
        hashed = f"substr({value}, 2)" if digits and kind == "phone" else value
        return self._each(values, f"CASE WHEN {valid} THEN sha256({hashed}) END")

    def hash_values(self, kind: str, values: list[str | None]) -> list[str | None]:
        """Hash a few identifiers the way ingest does (look-ups, erasure requests, tests)."""
        if kind not in ("email", "phone"):
            return list(values)
        value, valid = self.normalised_sql(kind, "v")
        return self._each(values, f"CASE WHEN {valid} THEN {self.hmac_sql(value)} END")
