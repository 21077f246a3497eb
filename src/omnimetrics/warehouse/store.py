"""The `Warehouse`: typed tables in one engine, and the few operations the layers above need
(read, materialise, replace, insert, delete, views, transactions, the key check, erasure's
file rewrite). Everything above it writes Ibis expressions and calls these methods."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from omnimetrics.config import Settings
from omnimetrics.errors import ConfigError, EngineError, SchemaError, did_you_mean
from omnimetrics.schema import QUARANTINE_SCHEMA, TABLES

if TYPE_CHECKING:
    from omnimetrics.identity import IdentityReport
    from omnimetrics.ingest import IngestReport
    from omnimetrics.privacy import ErasureReport

DEFAULT_PATH = "omnimetrics.duckdb"
META_TABLE = "omnimetrics_meta"
STAGING_PREFIX = "_omni_stage_"


BUILT_TABLES = ("identity_graph", "identity_conflicts", "identity_excluded", "events")
"""Tables computed from the loaded data by the pipeline (identity resolution, journeys)."""


class Warehouse:
    """One warehouse: table access, ingest, and the few engine operations ingest needs."""

    def __init__(self, backend: BaseBackend, settings: Settings | None = None) -> None:
        self.backend = backend
        self.settings = settings or Settings.load()
        self.engine: str = backend.name
        self._configure()
        self._drop_leftover_staging()
        if self._meta("demo") == "true":
            # A warehouse made from simulated data keeps using the public demo key.
            self.settings = self.settings.with_(demo=True)

    # -- reading -------------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        """An Ibis table of the warehouse; a clear error when it is not there yet."""
        if name not in self.backend.list_tables():
            known = self.tables()
            if name in TABLES:
                raise SchemaError(
                    f"The warehouse has no {name!r} table yet. Load it with "
                    f"`omnimetrics ingest {name} FILE` (or wh.ingest({name!r}, FILE))."
                )
            if name in BUILT_TABLES:
                raise SchemaError(
                    f"The warehouse has no {name!r} table yet: it is built from the data by "
                    "`omnimetrics run` (ws.run()); `omnimetrics serve` runs it every "
                    "[server] refresh_minutes once events arrive."
                )
            raise SchemaError(f"No table {name!r} in the warehouse. " + did_you_mean(name, known))
        return self.backend.table(name)

    def tables(self) -> list[str]:
        """The tables a user may read (contract tables, quarantine, ledger, evidence)."""
        return sorted(
            t
            for t in self.backend.list_tables()
            if not t.startswith((STAGING_PREFIX, "ibis_")) and t != META_TABLE
        )

    def summary(self) -> pa.Table:
        """Rows per table, as an Arrow table."""
        names = self.tables()
        counts = [int(self.backend.table(n).count().execute()) for n in names]
        return pa.table({"table": names, "rows": counts})

    def quarantine(self) -> ir.Table:
        """Rejected rows with their reason (empty table when nothing was rejected)."""
        self.ensure_table("quarantine", QUARANTINE_SCHEMA)
        return self.backend.table("quarantine")

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        return self.backend.to_pyarrow(expr)

    # -- writing -------------------------------------------------------------------------------
    def ingest(
        self, table: str, source: str | Path | Sequence[str | Path], **options: Any
    ) -> IngestReport:
        """Validate, pseudonymise and load files into `table`; see `omnimetrics.ingest.ingest`."""
        from omnimetrics.ingest import ingest

        return ingest(self, table, source, **options)

    def load(self, folder: str | Path, progress: Any = None) -> list[IngestReport]:
        """Ingest every file of a folder described by its manifest.json (a simulated world)."""
        from omnimetrics.ingest import load_manifest

        return load_manifest(self, folder, progress)

    def resolve_identities(self, **options: Any) -> IdentityReport:
        """Build the identity graph (`identity_graph`, `identity_links`, `identity_excluded`)."""
        from omnimetrics.identity import resolve

        return resolve(self, **options)

    def classify_channels(self) -> ir.Table:
        """Touchpoints classified into channels with the configured rules (an Ibis expression)."""
        from omnimetrics.channels import classify_touchpoints

        return classify_touchpoints(self)

    def ensure_table(self, name: str, schema: Mapping[str, dt.DataType | str]) -> None:
        """Create `name` with `schema`, or add the columns a newer contract gave it (nulls)."""
        wanted = ibis.schema(schema)
        if name not in self.backend.list_tables():
            self.backend.create_table(name, schema=wanted)
            return
        have = set(self.backend.table(name).columns)
        for column, dtype in wanted.items():
            if column not in have:
                sql_type = self.backend.compiler.type_mapper.to_string(dtype)
                add = "ADD COLUMNS" if self.engine == "pyspark" else "ADD COLUMN"
                q = "`" if self.engine == "pyspark" else '"'
                spec = (
                    f"({q}{column}{q} {sql_type})"
                    if add == "ADD COLUMNS"
                    else f'"{column}" {sql_type}'
                )
                self._sql(f"ALTER TABLE {q}{name}{q} {add} {spec}")

    def _meta(self, key: str) -> str | None:
        if META_TABLE not in self.backend.list_tables():
            return None
        meta = self.backend.table(META_TABLE)
        values = meta.filter(meta.key == key).value.to_pyarrow().to_pylist()
        return values[0] if values else None

    def verify_key(self) -> None:
        """Refuse to look up or add hashes made with another secret than the warehouse's."""
        stored = self._meta("key_fingerprint")
        if stored is not None and stored != self.settings.key_fingerprint():
            raise ConfigError(
                "This warehouse was built with another secret: emails and phones hashed with "
                "this one would not match. Use the secret of earlier ingests (OMNIMETRICS_SECRET "
                "or the [privacy] secret_file of its omnimetrics.toml), or a new warehouse."
            )

    def check_key(self) -> None:
        """Refuse to mix hashes made with two different secrets in one warehouse."""
        self.verify_key()
        fingerprint = self.settings.key_fingerprint()
        stored = self._meta("key_fingerprint")
        self.ensure_table(META_TABLE, {"key": dt.string, "value": dt.string})
        meta = self.backend.table(META_TABLE)
        if stored is None:
            rows = {
                "key": ["key_fingerprint", "demo"],
                "value": [fingerprint, str(self.settings.demo).lower()],
            }
            arrow = pa.table(rows, schema=meta.schema().to_pyarrow())
            self.backend.insert(META_TABLE, ibis.memtable(arrow))

    def from_local_time(self, naive: ir.TimestampValue, zone: str) -> ir.TimestampValue:
        """Naive timestamps read as wall-clock time in `zone` (IANA name) -> UTC instants."""
        utc = dt.Timestamp(timezone="UTC")
        if self.engine == "duckdb":

            @ibis.udf.scalar.builtin(name="timezone", signature=((dt.string, dt.timestamp), utc))
            def zoned(zone, naive):  # type: ignore[no-untyped-def]
                """DuckDB's timezone(zone, timestamp) -> timestamptz."""

            return zoned(zone, naive)

        @ibis.udf.scalar.builtin(
            name="to_utc_timestamp", signature=((dt.timestamp, dt.string), dt.timestamp)
        )
        def to_utc(naive, zone):  # type: ignore[no-untyped-def]
            """Spark's to_utc_timestamp(timestamp, zone)."""

        return to_utc(naive, zone).cast(utc)

    def kernel(self) -> duckdb.DuckDBPyConnection | None:
        """The DuckDB connection of a DuckDB warehouse (the door runs its SQL there), else None."""
        return self.backend.con if self.engine == "duckdb" else None

    def materialize_chunks(
        self, chunks: Iterator[duckdb.DuckDBPyRelation], build: Callable[[ir.Table], ir.Table]
    ) -> ir.Table:
        """`build(rows)` computed over chunks into one staging table; each chunk read once.

        Chunks are lazy DuckDB relations: of this warehouse's connection on DuckDB (each one is
        then read where it is, on all cores, and appended to a temporary table); on other
        engines, of the door's private kernel, loaded first.
        """
        name = f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
        if self.engine != "duckdb":
            rows = pa.concat_tables([chunk.to_arrow_table() for chunk in chunks])
            staged = self.backend.create_table(name, rows)
            try:
                return self.materialize(build(staged))
            finally:
                self.drop(staged)
        con = self.backend.con
        out: ir.Table | None = None
        insert = ""
        try:
            for chunk in chunks:
                con.register(name, chunk)
                if out is None:
                    expr = build(self.backend.table(name))
                    out = self.materialize(expr)
                    insert = f'INSERT INTO "{out.op().name}" {self.backend.compile(expr)}'
                else:
                    con.execute(insert)
                con.unregister(name)
        except BaseException:
            with contextlib.suppress(Exception):
                con.unregister(name)
            if out is not None:
                self.drop(out)
            raise
        assert out is not None, "the door yields at least one chunk"
        return out

    def materialize(self, expr: ir.Table) -> ir.Table:
        """Compute an expression once into a staging table (used several times afterwards).

        On DuckDB it is a temporary table: in memory, spilled to disk past the memory limit,
        never written to the warehouse file.
        """
        name = f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
        return self.backend.create_table(name, expr, temp=self.engine == "duckdb")

    def replace_table(self, name: str, expr: ir.Table | pa.Table) -> ir.Table:
        """Store `expr` (an expression or Arrow rows) as the table `name`, replacing it."""
        return self.backend.create_table(name, expr, overwrite=True)

    def append_rows(
        self, name: str, schema: Mapping[str, dt.DataType | str], rows: pa.Table
    ) -> None:
        """Append Arrow rows to `name`, created with `schema` if it is not there yet."""
        self.ensure_table(name, schema)
        self.insert(name, ibis.memtable(rows))

    def using(self, settings: Settings) -> Warehouse:
        """The same connection read with other settings (nothing is reconnected)."""
        copy = object.__new__(Warehouse)
        copy.__dict__.update(self.__dict__, settings=settings)
        return copy

    def sibling(self) -> Warehouse:
        """Another connection to the same DuckDB database, for work on another thread (DuckDB
        runs transactions of several connections of one process side by side)."""
        if self.engine != "duckdb":
            raise EngineError(
                f"A second connection needs a DuckDB warehouse; this is {self.engine}."
            )
        return Warehouse(ibis.duckdb.from_connection(self.backend.con.cursor()), self.settings)

    def views(self) -> set[str]:
        """The tables that are views (computed when read: counting them costs a computation)."""
        if self.engine == "duckdb":
            rows = self.backend.con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
            return {name for (name,) in rows}
        if self.engine == "pyspark":
            return {row["viewName"] for row in self.backend.raw_sql("SHOW VIEWS").collect()}
        return set()

    def replace_view(self, name: str, expr: ir.Table) -> None:
        """Store `expr` as the view `name` (computed when read), replacing what was there."""
        if self.engine == "pyspark":
            # Ibis makes Spark views temporary (gone with the session): keep it in the catalog.
            self._sql(f"CREATE OR REPLACE VIEW `{name}` AS {self.backend.compile(expr)}")
            return
        self.backend.create_view(name, expr, overwrite=True)

    def drop(self, table: ir.Table | str) -> None:
        name = table if isinstance(table, str) else table.op().name
        self.backend.drop_table(name, force=True)

    def insert(self, name: str, expr: ir.Table) -> None:
        target = self.backend.table(name)
        self.backend.insert(name, expr.select(*target.columns).cast(target.schema()))

    def replace_rows(self, name: str, key: Sequence[str], rows: ir.Table) -> None:
        """Delete the stored rows whose key is in `rows`, then insert `rows` (an upsert)."""
        target = self.backend.table(name)
        if self.engine == "duckdb":
            keys = self.materialize(rows.select(*key).distinct())
            match = " AND ".join(f't."{k}" IS NOT DISTINCT FROM k."{k}"' for k in key)
            self._sql(
                f'DELETE FROM "{name}" AS t WHERE EXISTS '
                f'(SELECT 1 FROM "{keys.op().name}" AS k WHERE {match})'
            )
            self.drop(keys)
            self.insert(name, rows)
            return
        # Engines without DELETE: rebuild the table from what is kept plus the new rows.
        kept = target.anti_join(rows.select(*key), list(key))
        rebuilt = self.materialize(kept.union(rows.select(*target.columns).cast(target.schema())))
        self.backend.create_table(name, rebuilt, overwrite=True)
        self.drop(rebuilt)

    def delete_where(self, table: ir.Table, condition: ir.BooleanValue) -> None:
        """Remove the rows of a table that meet `condition` (the table is rewritten)."""
        name = table.op().name
        kept = self.materialize(table.filter(~condition.fill_null(False)))
        self.backend.create_table(name, kept, overwrite=True)
        self.drop(kept)

    def erase(self, identifier: str, identifier_type: str | None = None) -> ErasureReport:
        """Erase the person behind an identifier from every table; suppress them from now on."""
        from omnimetrics.privacy import erase

        return erase(self, identifier, identifier_type)

    def rewrite_file(self) -> bool:
        """Copy the DuckDB file into a fresh one that replaces it: deleted rows leave no bytes.

        DuckDB reuses the blocks of deleted rows without wiping them (CHECKPOINT and VACUUM do
        not either), so a byte scan of the file still finds them; a copy (`COPY FROM DATABASE`)
        holds only the live rows. The connection is reopened on the new file, transparently for
        every `using()` copy. False when there is no file to rewrite (in memory, other engines).
        """
        if self.engine != "duckdb":
            return False
        con = self.backend.con
        catalog, location, tags = con.execute(
            "SELECT database_name, path, tags FROM duckdb_databases() "
            "WHERE database_name = current_database()"
        ).fetchone()
        if not location or location == ":memory:":
            return False
        path = Path(location)
        if not getattr(self.backend, "_can_reconnect", True):  # ibis from_connection()
            raise EngineError(
                f"Cannot rewrite {path}: this warehouse was opened on a DuckDB connection it "
                "cannot reopen. Open it with omnimetrics.connect(PATH) and call rewrite_file()."
            )
        fresh = path.with_name(f".{path.name}.rewrite-{uuid.uuid4().hex[:12]}")
        alias = f"omni_rewrite_{uuid.uuid4().hex[:12]}"
        version = dict(tags or {}).get("storage_version", "").rstrip("+")
        options = f" (STORAGE_VERSION '{version}')" if version else ""
        try:
            con.execute(f"ATTACH '{_quoted(fresh)}' AS {alias}{options}")
            try:
                con.execute(f"COPY FROM DATABASE {_identifier(catalog)} TO {alias}")
            finally:
                con.execute(f"DETACH {alias}")
            # Another connection of this process to the same file would keep the old file alive
            # behind the new one: a probe attached to the database instance shows whether the
            # instance outlives this connection.
            con.execute(f"ATTACH ':memory:' AS {alias}")
            self.backend.disconnect()
            self._reopen()
            if alias in self._databases():
                self.backend.con.execute(f"DETACH {alias}")
                raise EngineError(
                    f"Cannot rewrite {path}: another connection of this process has it open. The "
                    "changes are saved, but the old bytes of deleted rows stay in the file until "
                    "it is rewritten: close the other connection, then call rewrite_file()."
                )
            self.backend.disconnect()
            try:
                wal = path.with_name(path.name + ".wal")
                if wal.exists():  # it would be replayed onto the new file
                    raise EngineError(f"Cannot rewrite {path}: its write-ahead log {wal} remains.")
                fresh.replace(path)
            finally:
                self._reopen()
        except BaseException:
            fresh.unlink(missing_ok=True)
            raise
        return True

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all (DuckDB); others: best effort."""
        if self.engine != "duckdb":
            yield
            return
        self._sql("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._sql("ROLLBACK")
            raise
        self._sql("COMMIT")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.backend.disconnect()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Warehouse(engine={self.engine!r}, tables={self.tables()})"

    # -- engine specifics ----------------------------------------------------------------------
    def _configure(self) -> None:
        """Session settings of a new connection: UTC, and the memory limit of the settings."""
        if self.engine == "duckdb":
            self._sql("SET TimeZone = 'UTC'")
            if self.settings.memory_limit:
                self._sql(f"SET memory_limit = '{self.settings.memory_limit}'")

    def _databases(self) -> set[str]:
        rows = self.backend.con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
        return {row[0] for row in rows}

    def _reopen(self) -> None:
        """Connect the backend again (same object, same file path) and set the session up."""
        self.backend.reconnect()
        # In-memory tables registered on the old connection are gone: Ibis registers them again.
        with contextlib.suppress(AttributeError):
            self.backend._memtables.clear()
        self._configure()

    def _sql(self, statement: str) -> None:
        if self.engine == "duckdb":
            self.backend.con.execute(statement)
        else:
            self.backend.raw_sql(statement)

    def _drop_leftover_staging(self) -> None:
        """Staging tables of an interrupted ingest are dropped at the next connect."""
        for name in self.backend.list_tables():
            if name.startswith(STAGING_PREFIX):
                self.drop(name)


def _quoted(path: Path) -> str:
    """A path inside a single-quoted SQL string."""
    return str(path).replace("'", "''")


def _identifier(name: str) -> str:
    """A name quoted as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
