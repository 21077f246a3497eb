"""The door: each chunk read from a file is pseudonymised before anything is stored.

Runs on the Arrow batches read from a file, as SQL in an in-process DuckDB: the warehouse's own
connection when the warehouse is DuckDB (the door and the validation are then one query, on all
cores), otherwise a private one used only as a vectorised kernel. Nothing is persisted on the way,
so raw identifiers never reach a table, the quarantine or a log, whatever the engine. How emails
and phones are normalised and hashed: `privacy.pseudonymise`.

With `[privacy] activation_hashes = true`, valid emails and phones also get the plain SHA-256 of
the same normalised value (the form ad platforms match audiences on), in columns named
`_activation__<column>` (and `_activation_digits__<column>`: a phone's E.164 digits without "+"),
which ingest keeps only in `activation_identifiers`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pyarrow as pa

from omnimetrics.config import Settings
from omnimetrics.privacy.pseudonymise import IdentifierSql, Pseudonymiser
from omnimetrics.schema import IDENTIFIER_COLUMNS, Column, Table

INVALID_PREFIX = "_invalid__"
"""Flag column `_invalid__<column>`: a raw email/phone was present but could not be normalised."""
SUPPRESSED = "_suppressed"
"""Flag column: the row carries an identifier of an erased person."""
ACTIVATION_PREFIX = "_activation_"
"""Columns `_activation__<column>` and `_activation_digits__<column>`: plain SHA-256 of the
normalised value (E.164 with "+" for phones) and of a phone's digits alone, for activation."""

ERASED_VIEW = "_omni_erased_keys"
CHUNK_ROWS = 262_144
"""Rows the door and the validation handle at a time: big enough to use every core."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Door(Pseudonymiser):
    """Turns raw email/phone columns of a stream into hashes plus validity flags."""

    def __init__(self, settings: Settings, kernel: duckdb.DuckDBPyConnection | None = None) -> None:
        super().__init__(settings, kernel)
        self._activation = settings.activation_hashes

    def close(self) -> None:
        super().close()
        if not self._own:
            with contextlib.suppress(duckdb.Error):
                self._kernel.unregister(ERASED_VIEW)

    def _select_list(
        self, table: Table, schema: pa.Schema, constants: Mapping[str, str | None]
    ) -> list[str]:
        """SQL select items: identifiers hashed and flagged, free text masked, constants added."""
        present = set(schema.names)
        out: list[str] = []
        handled: set[str] = set()
        for col in table.columns:
            if col.pii and col.input_name in present:
                out += self._identifier_items(col, col.pii)
                handled.add(col.input_name)
            elif col.pii_by and col.name in present and col.pii_by in present:
                out += self._typed_identifier_items(col)
                handled.add(col.name)
        free_text = {c.name for c in table.columns if c.free_text}
        for field in schema:
            if field.name not in handled:
                out.append(self._passed_item(field, field.name in free_text))
        for name, value in constants.items():
            literal = "NULL" if value is None else "'" + value.replace("'", "''") + "'"
            out.append(f"CAST({literal} AS VARCHAR) AS {_quote(name)}")
        return out

    def _identifier_items(self, col: Column, kind: str) -> list[str]:
        """A column of one kind of identifier (email or phone): hash, invalid flag, activation."""
        raw = f"CAST({_quote(col.input_name)} AS VARCHAR)"
        value, valid = self.normalised_sql(kind, raw)
        items = [
            f"{self.hmac_sql(value)} AS {_quote(col.name)}",
            f"({value} IS NOT NULL AND NOT {valid}) AS {_quote(INVALID_PREFIX + col.name)}",
        ]
        return items + self._activation_items(col.name, [(kind, value, valid)], None)

    def _typed_identifier_items(self, col: Column) -> list[str]:
        """A value column whose kind is in another column (identities): emails and phones
        hashed, other identifiers masked."""
        raw = f"CAST({_quote(col.name)} AS VARCHAR)"
        kind = f"lower(trim(CAST({_quote(col.pii_by)} AS VARCHAR)))"
        email, email_ok = self.normalised_sql("email", raw)
        phone, phone_ok = self.normalised_sql("phone", raw)
        items = [
            f"CASE WHEN {kind} = 'email' THEN {self.hmac_sql(email)} "
            f"WHEN {kind} = 'phone' THEN {self.hmac_sql(phone)} "
            f"ELSE {self.mask_sql(raw)} END AS {_quote(col.name)}",
            f"CASE WHEN {kind} = 'email' THEN {email} IS NOT NULL AND NOT {email_ok} "
            f"WHEN {kind} = 'phone' THEN {phone} IS NOT NULL AND NOT {phone_ok} "
            f"ELSE false END AS {_quote(INVALID_PREFIX + col.name)}",
        ]
        kinds = [("email", email, email_ok), ("phone", phone, phone_ok)]
        return items + self._activation_items(col.name, kinds, kind)

    def _activation_items(
        self, name: str, kinds: Sequence[IdentifierSql], kind_sql: str | None
    ) -> list[str]:
        """The activation hash columns of an identifier column (none unless switched on)."""
        if not self._activation:
            return []
        standard, digits = self.activation_sql(kinds, kind_sql)
        return [
            f"{standard} AS {_quote(ACTIVATION_PREFIX + '_' + name)}",
            f"{digits} AS {_quote(ACTIVATION_PREFIX + 'digits__' + name)}",
        ]

    def _passed_item(self, field: pa.Field, free_text: bool) -> str:
        """Any other column: nested values as JSON text, free text masked."""
        expr = _quote(field.name)
        if pa.types.is_nested(field.type):
            expr = f"CAST(to_json({expr}) AS VARCHAR)"
        if free_text:
            expr = self.mask_sql(f"CAST({expr} AS VARCHAR)")
        return f"{expr} AS {_quote(field.name)}"

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
            erased_test = self._erased_test(table, relation.columns)
            if erased and erased_test:
                relation = relation.project(f"*, {erased_test} AS {SUPPRESSED}")
            yield relation

    def select_sql(self, table: Table, schema: pa.Schema, source: str) -> str:
        """The door as one SQL query over the relation `source` (of `schema`), the erased test
        included (against a relation `ERASED_VIEW` with a column `k`): for a prepared statement
        run again and again on small batches (the collector)."""
        items = self._select_list(table, schema, {})
        inner = f"SELECT {', '.join(items)} FROM {_quote(source)}"
        columns = [item.rsplit(" AS ", 1)[1].strip('"') for item in items]
        test = self._erased_test(table, columns) or "false"
        return f"SELECT *, {test} AS {SUPPRESSED} FROM ({inner})"

    def _erased_test(self, table: Table, columns: Sequence[str]) -> str | None:
        """SQL: whether a row carries an identifier of an erased person (None: it has none)."""
        tests = [
            f"coalesce({self.hmac_sql(kind + ' || ' + repr(':') + ' || ' + _quote(name))} "
            f"IN (SELECT k FROM {ERASED_VIEW}), false)"
            for name, kind in self._identifier_columns(table, columns)
        ]
        return f"({' OR '.join(tests)})" if tests else None

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
