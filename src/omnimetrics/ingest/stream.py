"""The collector's writer: events of many requests stored in one transaction, then acknowledged.

DuckDB allows one writer: a single thread takes the requests waiting (up to `GROUP_EVENTS`
events), and for all of them at once

1. recognises duplicates: a (source, messageId) already in `collector_messages` (or earlier in
   the group) with the same payload digest is a duplicate; with another digest, a conflict;
2. suppresses what may not be measured: events without consent (orders are kept, linked to
   nobody) and events of erased persons;
3. runs the rows through the door and the validation of file ingestion (the same SQL, prepared
   once per table on a private DuckDB, so a batch costs milliseconds);
4. stores accepted rows, quarantined messages (reason and masked payload), every message's
   outcome and the ledger rows, in ONE transaction on its own connection to the warehouse;

then answers each request. A crash before the commit loses only unacknowledged requests, which
the client retries and step 1 deduplicates; readers use another connection and never wait.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import pyarrow as pa

from omnimetrics.errors import ConfigError
from omnimetrics.ingest.door import ERASED_VIEW, Door
from omnimetrics.ingest.segment import Message, strip_identifiers
from omnimetrics.ingest.validate import ERASED, typed_with_verdict
from omnimetrics.schema import (
    BATCHES_SCHEMA,
    ERASED_TABLE,
    MESSAGES_SCHEMA,
    MESSAGES_TABLE,
    QUARANTINE_SCHEMA,
    table_contract,
)

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

log = logging.getLogger("omnimetrics.collector")

TABLES = ("touchpoints", "identities", "orders")
GROUP_EVENTS = 5_000
"""Most events stored by one transaction."""
PRUNE_EVERY = timedelta(minutes=10)
WAL_CHECKPOINT = "256MB"
CHECKPOINT_EVERY = 100
"""Checks between two CHECKPOINTs of the validation's in-memory tables (freeing deleted rows:
without it each check reads a little more)."""


class DiskFull(OSError):
    """The warehouse's disk has less free space than `[server] min_free_mb`."""


@dataclass
class Outcome:
    """What became of the events of one request."""

    request: str
    received: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    suppressed: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"success": True, **self.__dict__}


@dataclass
class Submission:
    source: str
    messages: list[Message]
    received_at: datetime
    request: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    future: Future[Outcome] = field(default_factory=Future)


class Counters:
    """Events and refusals since the server started, for `/metrics`."""

    NAMES = ("received", "accepted", "quarantined", "deduplicated", "suppressed")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: Counter[tuple[str, str]] = Counter()
        self.refused: Counter[tuple[int, str]] = Counter()

    def add(self, source: str, outcome: Outcome) -> None:
        values = (outcome.received, outcome.accepted, outcome.quarantined, outcome.duplicates,
                  outcome.suppressed)  # fmt: skip
        with self._lock:
            for name, value in zip(self.NAMES, values, strict=True):
                self.events[(name, source)] += value

    def total(self, name: str) -> int:
        """Events of every source counted under `name` (received, accepted...)."""
        with self._lock:
            return sum(v for (kind, _), v in self.events.items() if kind == name)

    def refuse(self, status: int, code: str) -> None:
        with self._lock:
            self.refused[(status, code)] += 1

    def prometheus(self) -> str:
        lines = []
        with self._lock:
            for name in self.NAMES:
                lines.append(f"# TYPE omnimetrics_events_{name}_total counter")
                for (kind, source), value in sorted(self.events.items()):
                    if kind == name:
                        lines.append(
                            f'omnimetrics_events_{name}_total{{source="{source}"}} {value}'
                        )
            lines.append("# TYPE omnimetrics_requests_refused_total counter")
            for (status, code), value in sorted(self.refused.items()):
                lines.append(
                    f'omnimetrics_requests_refused_total{{status="{status}",code="{code}"}} {value}'
                )
        return "\n".join(lines) + "\n"


class Validator:
    """The door and the validation of each table, prepared once on a private in-memory DuckDB:
    one connection per table, so the tables of a group are checked at the same time."""

    def __init__(self, wh: Warehouse) -> None:
        settings = wh.settings
        self.kernel = duckdb.connect(":memory:")
        self.kernel.execute("SET threads = 1")
        self.door = Door(settings.with_(activation_hashes=False), self.kernel)
        self.kernel.execute(f"CREATE TABLE {ERASED_VIEW} (k VARCHAR)")
        self.inputs = {
            name: [c.input_name for c in table_contract(name).columns] for name in TABLES
        }
        self.cons = {name: self.kernel.cursor() for name in TABLES}
        self.pool = ThreadPoolExecutor(len(TABLES), thread_name_prefix="omnimetrics-check")
        self._runs = 0
        # Every table first, then the statements: a catalog change after a PREPARE makes each
        # later run of it plan again (tens of ms). A row in each table while preparing.
        samples = {}
        for name, con in self.cons.items():
            samples[name] = _raw_table(self.inputs[name], [{}], ["-"], [0], datetime.now(UTC))
            con.register("_incoming", samples[name])
            # A plain table of the in-memory database (never on disk: it holds raw emails), so
            # that CHECKPOINT frees its deleted rows; a temporary table would keep growing.
            con.execute(f"CREATE TABLE _raw_{name} AS SELECT * FROM _incoming")
            con.unregister("_incoming")
        tolerance = timedelta(hours=settings.future_tolerance_hours)
        extra = {"channel": settings.extra_channels} if settings.extra_channels else None
        for name, con in self.cons.items():
            contract = table_contract(name)
            # The door as a materialised CTE: computed once, read by every check.
            door = self.door.select_sql(contract, samples[name].schema, f"_raw_{name}")
            schema = con.sql(door).to_arrow_table().schema
            staged = ibis.table(ibis.Schema.from_pyarrow(schema), name=f"_door_{name}")
            verdict = typed_with_verdict(
                staged, contract, now=staged._received_at, future_tolerance=tolerance,
                extra_allowed=extra,
            )  # fmt: skip
            con.execute(
                f"PREPARE validate AS WITH _door_{name} AS MATERIALIZED ({door}) "
                f"SELECT * FROM ({ibis.to_sql(verdict, 'duckdb')})"
            )

    def erased(self, keys: Sequence[str]) -> None:
        """The keyed hashes of erased identifiers: their later events are suppressed."""
        self.kernel.execute(f"DELETE FROM {ERASED_VIEW}")
        if keys:
            rows = pa.table({"k": pa.array(list(keys), pa.string())})
            self.kernel.from_arrow(rows).insert_into(ERASED_VIEW)

    def check(self, raws: dict[str, pa.Table]) -> dict[str, pa.Table]:
        """Per table, typed rows with their verdict (`reason` null when valid)."""
        running = {name: self.pool.submit(self._check, name, raw) for name, raw in raws.items()}
        checked = {name: job.result() for name, job in running.items()}
        self._runs += 1
        if self._runs % CHECKPOINT_EVERY == 0:
            self.kernel.execute("CHECKPOINT")
        return checked

    def _check(self, name: str, raw: pa.Table) -> pa.Table:
        con = self.cons[name]
        con.execute(f"DELETE FROM _raw_{name}")
        con.from_arrow(raw).insert_into(f"_raw_{name}")  # no catalog change: no re-plan
        return con.execute("EXECUTE validate").to_arrow_table()

    def mask(self, texts: list[str]) -> list[str]:
        return self.door.mask_texts(texts) if texts else []

    def close(self) -> None:
        self.pool.shutdown()
        for con in self.cons.values():
            con.close()
        self.kernel.close()


def _raw_table(
    inputs: Sequence[str],
    rows: Sequence[dict[str, str | None]],
    files: Sequence[str],
    numbers: Sequence[int],
    received: datetime | Sequence[datetime],
) -> pa.Table:
    """Rows as a file would give them: every input column as text, with lineage."""
    times = [received] * len(rows) if isinstance(received, datetime) else list(received)
    columns = {c: pa.array([r.get(c) for r in rows], pa.string()) for c in inputs}
    return pa.table({
        **columns,
        "source_file": pa.array(files, pa.string()),
        "source_row": pa.array(numbers, pa.int64()),
        "_received_at": pa.array(times, pa.timestamp("us", tz="UTC")),
    })  # fmt: skip


class EventWriter:
    """The single writer of the collector (see the module's docstring)."""

    def __init__(self, wh: Warehouse) -> None:
        if wh.engine != "duckdb":
            raise ConfigError(
                "The collector writes to a DuckDB warehouse (one writer, durable commits); "
                f"this one runs on {wh.engine}. Serve a DuckDB file, or use --no-collect."
            )
        self.wh, self.settings = wh, wh.settings.server
        self.counters = Counters()
        self._queue: queue.SimpleQueue[Submission | None] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pruned = datetime.min.replace(tzinfo=UTC)
        for name in TABLES:
            contract = table_contract(name)
            wh.ensure_table(name, contract.ibis_schema())
            if contract.keep_reports:
                wh.ensure_table(f"{name}_reports", contract.ibis_schema())
        wh.ensure_table("quarantine", QUARANTINE_SCHEMA)
        wh.ensure_table("ingest_batches", BATCHES_SCHEMA)
        wh.ensure_table(MESSAGES_TABLE, MESSAGES_SCHEMA)
        self.folder = _folder(wh)
        self.validator = Validator(wh)
        erased = wh.table(ERASED_TABLE) if ERASED_TABLE in wh.tables() else None
        if erased is not None:
            self.validator.erased(erased.identifier_key.to_pyarrow().to_pylist())
        self.con = wh.backend.con.cursor()
        # A checkpoint runs inside the commit that crosses this much WAL and stalls every request
        # waiting; larger, it comes less often (the WAL is replayed at the next open after a crash).
        self.con.execute(f"SET wal_autocheckpoint = '{WAL_CHECKPOINT}'")
        self.con.execute(
            f"CREATE INDEX IF NOT EXISTS {MESSAGES_TABLE}_id ON {MESSAGES_TABLE} (message_id)"
        )

    # -- the routes' side ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def check_room(self, events: int) -> None:
        """Refuse (DiskFull, OverflowError) before queueing what could not be stored soon."""
        if self.folder is not None:
            free = shutil.disk_usage(self.folder).free
            if free < self.settings.min_free_mb * 1024 * 1024:
                raise DiskFull(f"{free // 2**20} MB free on the warehouse's disk")
        if self._pending + events > self.settings.max_queue_events:
            raise OverflowError(f"{self._pending} events are waiting to be stored")

    def submit(self, source: str, messages: list[Message], received_at: datetime) -> Submission:
        submission = Submission(source, messages, received_at)
        with self._lock:
            self._pending += len(messages)
        self._queue.put(submission)
        return submission

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="omnimetrics-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
        self.validator.close()
        with contextlib.suppress(duckdb.Error):
            self.con.close()

    # -- the writer thread ---------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, size, last = [first], len(first.messages), False
            while size < GROUP_EVENTS:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    last = True
                    break
                group.append(more)
                size += len(more.messages)
            self._store_group(group)
            with self._lock:
                self._pending -= size
            self._prune()
            if last:
                return

    def _store_group(self, group: list[Submission]) -> None:
        try:
            outcomes = self._commit(group)
        except Exception as exc:  # one bad request must not fail the others: retry alone
            if len(group) > 1 and not isinstance(exc, DiskFull):
                for submission in group:
                    self._store_group([submission])
                return
            log.exception("could not store request %s", group[0].request)
            for submission in group:
                submission.future.set_exception(exc)
            return
        for submission, outcome in zip(group, outcomes, strict=True):
            self.counters.add(submission.source, outcome)
            submission.future.set_result(outcome)

    def _commit(self, group: list[Submission]) -> list[Outcome]:
        batch, started = uuid.uuid4().hex[:16], datetime.now(UTC)
        items = [(s, m) for s in group for m in s.messages]
        outcomes = [Outcome(s.request, received=len(s.messages)) for s in group]
        where = {id(s): o for s, o in zip(group, outcomes, strict=True)}
        verdicts = self._known(items)
        fresh = [(s, m) for (s, m), v in zip(items, verdicts, strict=True) if v is None]
        quarantine: list[tuple[Submission, Message, str, str, str, str]] = []
        for (s, m), verdict in zip(items, verdicts, strict=True):
            if verdict == "duplicate":
                where[id(s)].duplicates += 1
            elif verdict == "conflict":
                quarantine.append((s, m, "collector", "", "message_conflict",
                                   f"messageId {m.message_id!r} was received before with "
                                   "another payload"))  # fmt: skip
        outcome_of: dict[tuple[int, int], str] = {}
        rows: dict[str, list[tuple[Submission, Message, dict[str, str | None]]]] = {
            t: [] for t in TABLES
        }
        for s, m in fresh:
            if m.problem is not None:
                quarantine.append((s, m, "collector", "", *m.problem))
                continue
            order_only = bool(m.rows) and all(t == "orders" for t, _ in m.rows)
            if not m.consented and not order_only:  # orders are counted, linked to nobody
                outcome_of[(id(s), m.index)] = "suppressed"
                continue
            for table, row in m.rows:
                kept = row if m.consented else strip_identifiers(row)
                rows[table].append((s, m, kept))
        raws = {t: self._raw(t, r) for t, r in rows.items() if r}
        checked = self.validator.check(raws)
        typed = {t: _valid(t, rows[t], c, outcome_of, quarantine) for t, c in checked.items()}
        for s, m, *_ in quarantine:
            outcome_of[(id(s), m.index)] = "quarantined"
        for s, m in fresh:
            state = outcome_of.setdefault((id(s), m.index), "accepted")
            outcome = where[id(s)]
            if state == "accepted":
                outcome.accepted += 1
            elif state == "suppressed":
                outcome.suppressed += 1
        for s, m, _table, _column, reason, text in quarantine:
            if outcome_of.get((id(s), m.index)) == "quarantined":
                where[id(s)].quarantined += 1
                where[id(s)].rejected.append({"index": m.index, "messageId": m.message_id,
                                              "reason": reason, "message": text})  # fmt: skip
        self._write(batch, started, group, typed, outcome_of, quarantine, fresh)
        for outcome in outcomes:
            outcome.rejected.sort(key=lambda item: item["index"])
        return outcomes

    def _known(self, items: list[tuple[Submission, Message]]) -> list[str | None]:
        """Per message: "duplicate", "conflict" or None (new), against the ledger and the
        messages before it in the group."""
        seen: dict[tuple[str, str], str] = {}
        for source in {s.source for s, _ in items}:
            ids = sorted({m.message_id for s, m in items if s.source == source})
            # Literal lists: DuckDB then looks them up in the ledger's index (a join would scan).
            listed = ", ".join(_literal(i) for i in ids)
            stored = self.con.execute(
                f"SELECT message_id, digest FROM {MESSAGES_TABLE} "
                f"WHERE message_id IN ({listed}) AND source = {_literal(source)}"
            ).fetchall()
            seen |= {(source, mid): digest for mid, digest in stored}
        verdicts: list[str | None] = []
        for s, m in items:
            digest = seen.get((s.source, m.message_id))
            if digest is None:
                seen[(s.source, m.message_id)] = m.digest
                verdicts.append(None)
            else:
                verdicts.append("duplicate" if digest == m.digest else "conflict")
        return verdicts

    def _raw(
        self, table: str, rows: list[tuple[Submission, Message, dict[str, str | None]]]
    ) -> pa.Table:
        """The rows of a table as the validation reads them; `source_row` is each one's place."""
        files = [f"collector/{s.source}/{s.request}" for s, _, _ in rows]
        return _raw_table(self.validator.inputs[table], [r for _, _, r in rows], files,
                          list(range(len(rows))), [s.received_at for s, _, _ in rows])  # fmt: skip

    def _write(
        self,
        batch: str,
        started: datetime,
        group: list[Submission],
        typed: dict[str, pa.Table],
        outcome_of: dict[tuple[int, int], str],
        quarantine: list[tuple[Submission, Message, str, str, str, str]],
        fresh: list[tuple[Submission, Message]],
    ) -> None:
        """Everything of the group in one transaction."""
        masked = self.validator.mask([m.quarantine_text() for _, m, *_ in quarantine])
        rejected = pa.table({
            "ingest_batch": [batch] * len(quarantine),
            "table_name": [q[2] for q in quarantine],
            "source_file": [f"collector/{s.source}/{s.request}" for s, *_ in quarantine],
            "source_row": pa.array([m.index for _, m, *_ in quarantine], pa.int64()),
            "column_name": [q[3] for q in quarantine],
            "reason": [q[4] for q in quarantine],
            "message": [q[5] for q in quarantine],
            "raw_record": masked,
        })  # fmt: skip
        received = [s.received_at for s, _ in fresh]
        ledger = pa.table({
            "source": [s.source for s, _ in fresh],
            "message_id": [m.message_id for _, m in fresh],
            "digest": [m.digest for _, m in fresh],
            "outcome": [outcome_of[(id(s), m.index)] for s, m in fresh],
            "ingest_batch": [batch] * len(fresh),
            "received_at": pa.array(received, pa.timestamp("us", tz="UTC")),
        })  # fmt: skip
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            for table, rows in typed.items():
                self._insert(table, rows, batch)
            if rejected.num_rows:
                self._append("quarantine", rejected)
            if ledger.num_rows:
                self._append(MESSAGES_TABLE, ledger)
            self._append("ingest_batches", _ledger_rows(batch, started, group, fresh, outcome_of))
            con.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            if isinstance(exc, duckdb.IOException | OSError) and self._disk_full():
                raise DiskFull(str(exc)) from exc
            raise

    def _insert(self, table: str, rows: pa.Table, batch: str) -> None:
        contract = table_contract(table)
        rows = rows.append_column("ingest_batch", pa.array([batch] * rows.num_rows, pa.string()))
        columns = [*contract.names, "ingest_batch", "source_file", "source_row"]
        listed = ", ".join(f'"{c}"' for c in columns)
        self.con.register("_rows", rows)
        try:
            if contract.keep_reports:
                self.con.execute(
                    f'INSERT INTO "{table}_reports" ({listed}) SELECT {listed} FROM _rows'
                )
            if table == "touchpoints":  # event ids are new: their messageIds were
                self.con.execute(f'INSERT INTO "{table}" ({listed}) SELECT {listed} FROM _rows')
                return
            key = " AND ".join(f't."{k}" IS NOT DISTINCT FROM r."{k}"' for k in contract.key)
            first = ", ".join(f'"{k}"' for k in contract.key)
            self.con.execute(
                f'INSERT INTO "{table}" ({listed}) SELECT {listed} FROM ('
                f"SELECT *, row_number() OVER (PARTITION BY {first} ORDER BY source_row) AS _n "
                f'FROM _rows) AS r WHERE _n = 1 AND NOT EXISTS (SELECT 1 FROM "{table}" AS t '
                f"WHERE {key})"
            )
        finally:
            self.con.unregister("_rows")

    def _append(self, table: str, rows: pa.Table) -> None:
        listed = ", ".join(f'"{c}"' for c in rows.column_names)
        self.con.register("_rows", rows)
        try:
            self.con.execute(f'INSERT INTO "{table}" ({listed}) SELECT {listed} FROM _rows')
        finally:
            self.con.unregister("_rows")

    def _disk_full(self) -> bool:
        if self.folder is None:
            return False
        return shutil.disk_usage(self.folder).free < self.settings.min_free_mb * 1024 * 1024

    def _prune(self) -> None:
        """Forget messageIds older than the deduplication window (every few minutes)."""
        now = datetime.now(UTC)
        if now - self._pruned < PRUNE_EVERY:
            return
        self._pruned = now
        cutoff = now - timedelta(days=self.settings.dedup_days)
        try:
            self.con.execute(f"DELETE FROM {MESSAGES_TABLE} WHERE received_at < ?", [cutoff])
        except duckdb.Error:
            log.exception("could not prune %s", MESSAGES_TABLE)


def _valid(
    table: str,
    rows: list[tuple[Submission, Message, dict[str, str | None]]],
    checked: pa.Table,
    outcome_of: dict[tuple[int, int], str],
    quarantine: list[tuple[Submission, Message, str, str, str, str]],
) -> pa.Table:
    """The valid rows of `table`; a message with an invalid row is quarantined whole, one of
    an erased person suppressed."""
    order = checked.column("source_row").to_pylist()  # each checked row's place in `rows`
    reasons, columns, texts = (checked.column(c).to_pylist()
                               for c in ("reason", "column_name", "message"))  # fmt: skip
    failed: set[tuple[int, int]] = set()
    for place in sorted(range(len(order)), key=order.__getitem__):
        if reasons[place] is None:
            continue
        s, m, _ = rows[order[place]]
        key = (id(s), m.index)
        if key in failed or outcome_of.get(key) == "suppressed":
            continue
        failed.add(key)
        if reasons[place] == ERASED:
            outcome_of[key] = "suppressed"
        else:
            quarantine.append((s, m, table, columns[place] or "", reasons[place], texts[place]))
    keep = [i for i, n in enumerate(order)
            if (id(rows[n][0]), rows[n][1].index) not in failed
            and outcome_of.get((id(rows[n][0]), rows[n][1].index)) != "suppressed"]  # fmt: skip
    valid = checked.take(pa.array(keep, pa.int64()))
    numbers = pa.array([rows[order[i]][1].index for i in keep], pa.int64())
    return valid.set_column(valid.schema.get_field_index("source_row"), "source_row", numbers)


def _ledger_rows(
    batch: str,
    started: datetime,
    group: list[Submission],
    fresh: list[tuple[Submission, Message]],
    outcome_of: dict[tuple[int, int], str],
) -> pa.Table:
    """One `ingest_batches` row per source of the group: messages read and what became of them."""
    counts: dict[str, Counter[str]] = {}
    for s in group:
        counts.setdefault(s.source, Counter())["read"] += len(s.messages)
    for s, m in fresh:
        counts[s.source][outcome_of[(id(s), m.index)]] += 1
    finished = datetime.now(UTC)
    sources = sorted(counts)
    c = [counts[s] for s in sources]
    return pa.table({
        "ingest_batch": [batch] * len(sources),
        "table_name": ["collector"] * len(sources),
        "source_file": [f"collector/{s}" for s in sources],
        "file_sha256": pa.array([None] * len(sources), pa.string()),
        "rows_read": pa.array([x["read"] for x in c], pa.int64()),
        "accepted": pa.array([x["accepted"] for x in c], pa.int64()),
        "duplicates": pa.array(
            [x["read"] - x["accepted"] - x["quarantined"] - x["suppressed"] for x in c], pa.int64()
        ),
        "quarantined": pa.array([x["quarantined"] for x in c], pa.int64()),
        "suppressed": pa.array([x["suppressed"] for x in c], pa.int64()),
        "started_at": pa.array([started] * len(sources), pa.timestamp("us", tz="UTC")),
        "finished_at": pa.array([finished] * len(sources), pa.timestamp("us", tz="UTC")),
    })  # fmt: skip


def _literal(text: str) -> str:
    """A SQL string literal (quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def _folder(wh: Warehouse) -> Path | None:
    """The folder of the warehouse's file (None in memory)."""
    rows = wh.backend.con.execute(
        "SELECT path FROM duckdb_databases() WHERE NOT internal"
    ).fetchall()
    paths = [Path(p) for (p,) in rows if p]
    return paths[0].parent if paths else None
