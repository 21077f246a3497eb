"""The collector survives SIGKILL under load: a real `omnimetrics serve` process is killed at a
random moment while several senders post /v1/batch requests, 50 times over, on one warehouse.

After every kill:

- the warehouse opens (read-write, as the next server will open it);
- every acknowledged messageId (a 200) is stored exactly once in `collector_messages`, and each
  page/track message has exactly one touchpoints row (an order: one orders row and one
  orders_reports row; an identify: its identities rows); nothing is stored that was never sent,
  and no row points to a message missing from `collector_messages`;
- every batch ever sent, acknowledged or not, is all or nothing: all its messageIds are in
  `collector_messages`, or none.

Then the server restarts on the same file (a new free port) and the senders go on; most
unacknowledged batches are retried, and the answer must match what the warehouse holds: a batch
committed before the kill (its answer lost) answers 50 duplicates, one that was not answers 50
accepted. A few acknowledged batches are also resent (a client that never saw the answer): all
duplicates. The server may answer 503 only with Retry-After, and no other 5xx or 4xx.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import httpx
import pytest

import omnimetrics

pytestmark = pytest.mark.slow

ROUNDS = 50
SENDERS = 4
BATCH = 50
SEED = 20_250_611
KILL_AFTER = (0.05, 1.5)
"""Seconds between the server answering /health and its SIGKILL."""
RETRY_SHARE = 0.8
"""Unacknowledged batches retried on the next server (the others are abandoned by the client)."""
MAX_RETRIES = 6
RESEND_SHARE = 0.05
"""Sends that repeat an acknowledged batch (a client that lost the answer)."""
WRITE_KEY = "crash-test-write-key-0123456789"
SECRET = "crash-test-secret-0123456789abcdef"
SOURCE = "web"
AUTH = {
    "Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode(),
    "Content-Type": "application/json",
}
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
TOUCHING = ("page", "track")
"""Kinds of this test's events that give one touchpoints row each."""


@dataclass
class Batch:
    """One /v1/batch body, sent once or more, and what the client knows of it."""

    number: int
    body: bytes
    kinds: dict[str, str]
    """messageId -> page, track, identify or order."""
    committed: bool | None = False
    """In the warehouse: False/True when known (a 200, a 503, the last check), None after a
    transport error until the next check."""
    acked: bool = False
    sends: int = 0
    retries: int = 0
    answers: list[str] = field(default_factory=list)


def make_batch(number: int) -> Batch:
    """50 events with distinct messageIds: pages and tracks, some identifies and orders."""
    rng = random.Random(SEED * 1_000_003 + number)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    events, kinds = [], {}
    for i in range(BATCH):
        message_id = f"crash-{number:05d}-{i:02d}-{rng.getrandbits(32):08x}"
        anonymous = f"anon-{rng.randrange(10**9)}"
        common = {
            "messageId": message_id,
            "anonymousId": anonymous,
            "timestamp": now,
            "sentAt": now,
            "context": {
                "userAgent": AGENT,
                "ip": "203.0.113.7",
                "library": {"name": "analytics.js", "version": "next-1.70.0"},
                "page": {
                    "url": f"https://shop.example/p/{rng.randrange(500)}?utm_source=google",
                    "referrer": "https://www.google.com/",
                },
                "campaign": {"source": "google", "medium": "cpc", "name": "winter_sale"},
            },
        }
        roll = rng.random()
        if roll < 0.5:
            kind = "page"
            event = {**common, "type": "page", "name": "Product", "properties": {"title": "Shoes"}}
        elif roll < 0.84:
            kind = "track"
            name = rng.choice(("Product Viewed", "Product Added"))
            props = {"product_id": f"sku-{rng.randrange(900)}", "price": 59.9, "currency": "EUR"}
            event = {**common, "type": "track", "event": name, "properties": props}
        elif roll < 0.94:
            kind = "identify"
            traits = {"email": f"person-{number}-{i}@example.com"}
            user = f"C{number:05d}{i:02d}"
            event = {**common, "type": "identify", "userId": user, "traits": traits}
        else:
            kind = "order"
            props = {
                "order_id": f"W-{number:05d}-{i:02d}",
                "total": 89.5,
                "currency": "EUR",
                "products": [{"product_id": "sku-1", "quantity": 2}],
            }
            event = {**common, "type": "track", "event": "Order Completed",
                     "userId": f"C{number:05d}{i:02d}", "properties": props}  # fmt: skip
        events.append(event)
        kinds[message_id] = kind
    return Batch(number, json.dumps({"batch": events}).encode(), kinds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Load:
    """The client side: batches to send, retried and resent, and every answer checked."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(SEED)
        self.batches: list[Batch] = []
        self.retry: list[Batch] = []
        self.acked: list[Batch] = []
        self.in_flight: set[int] = set()
        self.unresolved: list[Batch] = []
        """Sent, no answer (the kill): committed or not is known after the next check."""
        self.problems: list[str] = []
        """Answers that break a promise (checked after each round)."""
        self.counts: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.stored: dict[str, int] = {}
        """Rows in the warehouse at the last check."""

    def next(self) -> tuple[Batch, str]:
        with self.lock:
            if self.retry:
                batch, why = self.retry.pop(0), "retry"
                batch.retries += 1
            else:
                idle = [b for b in self.acked if b.number not in self.in_flight]
                if idle and self.rng.random() < RESEND_SHARE:
                    batch, why = self.rng.choice(idle), "resend"
                else:
                    batch, why = make_batch(len(self.batches)), "new"
                    self.batches.append(batch)
            self.in_flight.add(batch.number)
            batch.sends += 1
            self.counts[f"sent_{why}"] += 1
            return batch, why

    def send(self, client: httpx.Client, stop: threading.Event, round_: int) -> None:
        """One sender: batches back to back until the server is killed."""
        while not stop.is_set():
            batch, why = self.next()
            before = batch.committed
            try:
                response = client.post("/v1/batch", content=batch.body, headers=AUTH)
            except httpx.TransportError as exc:
                killed = stop.wait(10)
                with self.lock:
                    self.in_flight.discard(batch.number)
                    batch.committed = None if not batch.acked else True
                    if not batch.acked:
                        self.unresolved.append(batch)
                    batch.answers.append(f"round {round_} {why}: {type(exc).__name__}")
                    self.counts["unanswered"] += 1
                    if not killed:
                        self.problems.append(
                            f"round {round_}: batch {batch.number} ({why}) got "
                            f"{type(exc).__name__}: {exc} while the server was running"
                        )
                continue
            self.answered(batch, why, before, response, round_)
            if response.status_code == 503:
                stop.wait(0.2)  # Retry-After says seconds; a short pause is enough here

    def answered(
        self, batch: Batch, why: str, before: bool | None, response: httpx.Response, round_: int
    ) -> None:
        status = response.status_code
        with self.lock:
            self.in_flight.discard(batch.number)
            self.statuses[status] += 1
            batch.answers.append(f"round {round_} {why}: {status}")
            where = f"round {round_}: batch {batch.number} ({why}, send {batch.sends})"
            if status == 503:
                self.counts["refused_503"] += 1
                if "retry-after" not in response.headers:
                    self.problems.append(f"{where}: 503 without Retry-After: {response.text}")
                # "nothing of this request was kept": a retry must find it new
                if not batch.acked:
                    self.retry.append(batch)
                return
            if status != 200:
                self.problems.append(f"{where}: unexpected {status}: {response.text[:500]}")
                if not batch.acked:
                    batch.committed = None
                    self.unresolved.append(batch)
                return
            outcome = response.json()
            # Known before this send (a 200, a 503 or the last check): what the answer counts.
            expected = {
                "received": BATCH,
                "accepted": 0 if before else BATCH,
                "duplicates": BATCH if before else 0,
                "quarantined": 0,
                "suppressed": 0,
            }
            got = {k: outcome.get(k) for k in expected}
            if before is None:
                self.problems.append(f"{where}: sent while its state was unknown (test bug)")
            elif got != expected:
                known = "stored before" if before else "not stored before"
                self.problems.append(
                    f"{where}: the batch was {known} this send, so the answer should count "
                    f"{expected}, got {got} (rejected: {outcome.get('rejected', [])[:3]})"
                )
            if why == "retry":
                self.counts["retry_acked_" + ("was_stored" if before else "was_not_stored")] += 1
            batch.committed = True
            if not batch.acked:
                batch.acked = True
                self.acked.append(batch)
                self.counts["batches_acked"] += 1


def check_warehouse(path: Path, load: Load, round_: int) -> list[str]:
    """The promises, on the warehouse as the killed server left it (opened read-write)."""
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        return [f"the warehouse does not open after kill {round_}: {type(exc).__name__}: {exc}"]
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "collector_messages" not in tables:
            # Killed before the writer made its tables: nothing may have been acknowledged.
            return (
                [f"collector_messages is missing but {len(load.acked)} batches were acknowledged"]
                if load.acked
                else []
            )
        ledger = dict(
            con.execute(
                "SELECT message_id, count(*) FROM collector_messages WHERE source = ? "
                "GROUP BY message_id",
                [SOURCE],
            ).fetchall()
        )
        other_sources = con.execute(
            "SELECT count(*) FROM collector_messages WHERE source <> ?", [SOURCE]
        ).fetchone()[0]
        outcomes = dict(
            con.execute(
                "SELECT outcome, count(*) FROM collector_messages GROUP BY outcome"
            ).fetchall()
        )

        def per_message(table: str) -> dict[str | None, int]:
            if table not in tables:
                return {}
            query = f'SELECT message_id, count(*) FROM "{table}" GROUP BY message_id'
            return dict(con.execute(query).fetchall())

        touch, orders, reports, links = (
            per_message(t) for t in ("touchpoints", "orders", "orders_reports", "identities")
        )
    finally:
        con.close()

    problems = []
    twice = {m: n for m, n in ledger.items() if n > 1}
    if twice:
        problems.append(f"{len(twice)} messageIds stored more than once in collector_messages: "
                        f"{sorted(twice.items())[:5]}")  # fmt: skip
    if other_sources:
        problems.append(f"{other_sources} collector_messages rows of another source")
    if set(outcomes) - {"accepted"}:
        problems.append(f"outcomes other than accepted in collector_messages: {outcomes}")
    kinds = {m: k for b in load.batches for m, k in b.kinds.items()}
    unknown = set(ledger) - set(kinds)
    if unknown:
        problems.append(f"{len(unknown)} stored messageIds were never sent: {sorted(unknown)[:5]}")
    for batch in load.batches:
        stored = [m for m in batch.kinds if m in ledger]
        if stored and len(stored) != BATCH:
            missing = [m for m in batch.kinds if m not in ledger]
            problems.append(
                f"batch {batch.number} is stored in part: {len(stored)} of {BATCH} messageIds "
                f"(missing e.g. {missing[:3]}); its sends: {batch.answers}"
            )
        elif batch.acked and not stored:
            problems.append(
                f"batch {batch.number} was acknowledged but none of its messageIds is stored; "
                f"its sends: {batch.answers}"
            )
    exactly_one = (
        ("touchpoints", touch, TOUCHING),
        ("orders", orders, ("order",)),
        ("orders_reports", reports, ("order",)),
    )
    for table, counts, kind in exactly_one:
        wrong = {
            m: counts.get(m, 0) for m in ledger if kinds.get(m) in kind and counts.get(m, 0) != 1
        }
        if wrong:
            problems.append(
                f"{len(wrong)} stored {'/'.join(kind)} messages do not have exactly one {table} "
                f"row (messageId: rows): {sorted(wrong.items())[:5]}"
            )
    no_links = [m for m in ledger if kinds.get(m) == "identify" and not links.get(m)]
    if no_links:
        problems.append(f"{len(no_links)} stored identifies have no identities row: "
                        f"{no_links[:5]}")  # fmt: skip
    everything = {"touchpoints": touch, "orders": orders, "orders_reports": reports,
                  "identities": links}  # fmt: skip
    for table, counts in everything.items():
        orphans = {m: n for m, n in counts.items() if m not in ledger}
        if orphans:
            problems.append(
                f"{sum(orphans.values())} {table} rows of {len(orphans)} messageIds not in "
                "collector_messages (stored without their ledger row): "
                f"{sorted(orphans, key=str)[:5]}"
            )
    load.stored = {"collector_messages": len(ledger)} | {
        t: sum(c.values()) for t, c in everything.items()
    }
    if not problems:
        # What each unanswered batch became: the next answer must match it.
        for batch in load.batches:
            batch.committed = all(m in ledger for m in batch.kinds)
    return problems


def start_server(folder: Path, port: int, log: Path) -> tuple[subprocess.Popen, float]:
    """`omnimetrics serve` on the warehouse of `folder`; returns it once /health answers, with
    the seconds that took."""
    env = {**os.environ, "OMNIMETRICS_SECRET": SECRET}
    for name in ("OMNIMETRICS_WRITE_KEY", "OMNIMETRICS_READ_KEY"):
        env.pop(name, None)
    started = time.perf_counter()
    with log.open("ab") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "omnimetrics.cli", "serve", "--db", str(folder / "w.duckdb"),
             "--config", str(folder / "omnimetrics.toml"), "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=folder,
        )  # fmt: skip
    deadline = started + 60
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            break
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server, time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    if server.poll() is None:
        server.kill()
    server.wait()
    pytest.fail(f"the server did not start (exit {server.returncode}); its log:\n{tail(log)}")


def tail(log: Path, lines: int = 120) -> str:
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) or "(empty log)"


def test_sigkill_under_load_keeps_every_acknowledged_event_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "omnimetrics.toml").write_text(
        f'[server]\nwrite_keys = {{ {SOURCE} = "{WRITE_KEY}" }}\nrate_limit = 1000000\n'
    )
    warehouse = tmp_path / "w.duckdb"
    load = Load()
    kills = random.Random(SEED + 1)
    startups: list[float] = []
    began = time.perf_counter()
    for round_ in range(1, ROUNDS + 1):
        log = tmp_path / f"server-{round_:02d}.log"
        port = free_port()
        server, startup = start_server(tmp_path, port, log)
        startups.append(startup)
        stop = threading.Event()
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
                   for _ in range(SENDERS)]  # fmt: skip
        senders = [
            threading.Thread(target=load.send, args=(c, stop, round_), name=f"sender-{i}")
            for i, c in enumerate(clients)
        ]
        try:
            for t in senders:
                t.start()
            time.sleep(kills.uniform(*KILL_AFTER))
            alive = server.poll() is None
            if alive:
                os.kill(server.pid, signal.SIGKILL)
        finally:
            stop.set()
            if server.poll() is None:
                server.kill()
            server.wait()
            for t in senders:
                if t.is_alive():
                    t.join(timeout=60)
            for c in clients:
                c.close()
        stuck = [t.name for t in senders if t.is_alive()]
        assert not stuck, f"round {round_}: senders {stuck} did not stop"
        assert alive, (
            f"round {round_}: the server exited on its own (code {server.returncode}) before "
            f"its kill; its log:\n{tail(log)}"
        )
        problems = load.problems + check_warehouse(warehouse, load, round_)
        if problems:
            previous = tmp_path / f"server-{round_ - 1:02d}.log"
            pytest.fail(
                f"after kill {round_} of {ROUNDS} (counts so far {dict(load.counts)}):\n- "
                + "\n- ".join(problems)
                + f"\n\nserver log of round {round_}:\n{tail(log)}"
                + (f"\n\nserver log of round {round_ - 1}:\n{tail(previous)}" if round_ > 1 else "")
            )
        # The client's retries: most unanswered batches are sent again to the next server.
        for batch in load.unresolved:
            if batch.retries < MAX_RETRIES and load.rng.random() < RETRY_SHARE:
                load.retry.append(batch)
                load.counts["retry_" + ("stored" if batch.committed else "not_stored")] += 1
            else:
                load.counts["abandoned"] += 1
        load.counts["unanswered_but_stored"] += sum(b.committed for b in load.unresolved)
        load.unresolved = []
    seconds = time.perf_counter() - began
    # The library opens what the last kill left, as `omnimetrics serve` and every command do.
    monkeypatch.setenv("OMNIMETRICS_SECRET", SECRET)
    with omnimetrics.open(warehouse, tmp_path / "omnimetrics.toml", create=False) as ws:
        held = ws.warehouse.table("collector_messages").count().to_pyarrow().as_py()
    assert held == load.stored["collector_messages"], (
        f"omnimetrics.open sees {held} collector_messages rows, duckdb saw "
        f"{load.stored['collector_messages']}"
    )
    summary = {
        "rounds": ROUNDS,
        "kills": ROUNDS,
        "seconds": round(seconds, 1),
        "startup_s": {
            "min": round(min(startups), 2),
            "median": round(statistics.median(startups), 2),
            "max": round(max(startups), 2),
        },
        "batches_made": len(load.batches),
        "batches_acked": len(load.acked),
        "statuses": dict(load.statuses),
        "stored_rows": load.stored,
        **dict(sorted(load.counts.items())),
    }
    print("collector crash test:", json.dumps(summary))
    assert load.counts["sent_retry"] > 0, "no unacknowledged batch was ever retried"
    assert len(load.acked) > ROUNDS, f"too little load to mean anything: {summary}"
