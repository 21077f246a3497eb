"""Helpers and constants shared by the tests: import them from here, never from a test module.

`tests/conftest.py` holds only fixtures and pytest hooks; everything a test imports by name lives
here, so no test module depends on another one.

- `SECRET`, `NOW`: the pseudonymisation key of the `settings` fixture and a fixed "now" for ingest.
- `write`, `loaded_world`, `cli`, `run_python`: a small source file, a simulated world in a
  warehouse, the CLI, a Python script in a process of its own.
- Shared data: `shared_cookie_touchpoints` (identity), `TIMES`/`EXPECTED_UTC`/`LATER` (time
  zones), `touches`/`JOURNEYS`/`ORDER_AT` (hand-computed attribution journeys).
- `Engine`: the engine a test runs on (see the `engine` fixture in conftest.py), and
  `spark_unavailable`, why PySpark tests cannot run here, if they cannot.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pytest

import omnimetrics
from omnimetrics.config import Settings

SECRET = b"test-secret-0123456789abcdef"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
ENGINES = ("duckdb", "spark")
_WAREHOUSES = itertools.count()  # numbers the warehouses Engine opens: files and databases


# -- files, worlds and the CLI -----------------------------------------------------------------
def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write a small source file for a test and return its path."""
    path.write_text(text, encoding=encoding)
    return path


def loaded_world(folder: Path, customers: int, days: int, seed: int):
    """A simulated world written to `folder` and ingested into a demo warehouse there."""
    from omnimetrics.simulate import simulate

    world = simulate(customers=customers, days=days, seed=seed)
    world.write(folder)
    warehouse = omnimetrics.connect(folder / "w.duckdb", settings=Settings(demo=True))
    warehouse.load(folder)
    return world, warehouse


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `omnimetrics ARGS` in a subprocess, as a user would, and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "omnimetrics.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def run_python(script: str, cwd: Path, env: dict | None = None, timeout: float = 900):
    """Run a Python script in a new process (its own engine session) and capture its output."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


# -- identity ----------------------------------------------------------------------------------
@contextlib.contextmanager
def serving(db: Path, config: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`omnimetrics serve` for real in its own process, on a free loopback port: yields its base
    URL and process once /health answers; stopped (SIGINT, then kill) at the end."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMNIMETRICS_SECRET": SECRET.decode()}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "omnimetrics.cli", "serve", "--db", str(db),
             "--config", str(config), "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                if process.poll() is not None:
                    break
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            if process.poll() is not None or not _healthy(base):
                pytest.fail("the server did not start:\n" + log.read_text())
            yield base, process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _healthy(base: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{base}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def shared_cookie_touchpoints(path: Path) -> Path:
    """k_shared is seen logged in as C1, C2 and C3 (a shared computer); each customer also has
    a cookie of their own, and k1 chains to a device of C1."""
    rows = ["event_id,timestamp,anonymous_id,device_id,customer_id,event_type"]
    for n, (cookie, device, customer) in enumerate([
        ("k_shared", "", "C1"), ("k_shared", "", "C2"), ("k_shared", "", "C3"),
        ("k1", "", "C1"), ("k1", "d1", ""), ("k2", "", "C2"), ("k3", "", "C3"),
    ]):  # fmt: skip
        rows.append(f"e{n},2026-05-01T10:0{n}:00Z,{cookie},{device},{customer},visit")
    return write(path, "\n".join(rows) + "\n")


# -- time zones --------------------------------------------------------------------------------
LATER = datetime(2026, 12, 1, tzinfo=UTC)
TIMES = (
    "event_id,timestamp,anonymous_id,event_type\n"
    "w,2026-01-15 10:00:00,c1,visit\n"  # Paris winter: UTC+1
    "s,2026-07-15T10:00:00,c1,visit\n"  # Paris summer: UTC+2
    "z,2026-07-15T10:00:00Z,c1,visit\n"  # an explicit Z stays as written
    "o,2026-07-15 10:00:00+05:30,c1,visit\n"  # an explicit offset too
    "u,1784109600,c1,visit\n"  # Unix seconds = 2026-07-15T10:00:00Z
    "m,1784109600123,c1,visit\n"  # Unix milliseconds
    "µ,1784109600123456,c1,visit\n"  # Unix microseconds
    "f,1784109600.5,c1,visit\n"  # Unix seconds with a fraction
    "d,2026-07-15,c1,visit\n"  # a date alone: local midnight
)
EXPECTED_UTC = {  # TIMES read with timezone="Europe/Paris"
    "w": datetime(2026, 1, 15, 9, tzinfo=UTC),
    "s": datetime(2026, 7, 15, 8, tzinfo=UTC),
    "z": datetime(2026, 7, 15, 10, tzinfo=UTC),
    "o": datetime(2026, 7, 15, 4, 30, tzinfo=UTC),
    "u": datetime(2026, 7, 15, 10, tzinfo=UTC),
    "m": datetime(2026, 7, 15, 10, 0, 0, 123000, tzinfo=UTC),
    "µ": datetime(2026, 7, 15, 10, 0, 0, 123456, tzinfo=UTC),
    "f": datetime(2026, 7, 15, 10, 0, 0, 500000, tzinfo=UTC),
    "d": datetime(2026, 7, 14, 22, tzinfo=UTC),
}


# -- attribution -------------------------------------------------------------------------------
ORDER_AT = datetime(2026, 3, 10, tzinfo=UTC)
# O1: display 14 days before, email 7 days before, direct at the order; O2: paid search a day
# before, direct; O3: direct only. Revenues 100, 50, 10.
JOURNEYS = [("O1", "display", 14, 100.0), ("O1", "email", 7, 100.0), ("O1", "direct", 0, 100.0),
            ("O2", "paid_search", 1, 50.0), ("O2", "direct", 0, 50.0), ("O3", "direct", 0, 10.0)]  # fmt: skip


def touches(rows=JOURNEYS) -> ibis.Table:
    """rows: (order_id, channel, days before the order, revenue[, sales_channel]) in touch order."""
    positions, seen = [], {}
    for order_id, *_ in rows:
        seen[order_id] = seen.get(order_id, 0) + 1
        positions.append(seen[order_id])
    columns = {
        "order_id": [r[0] for r in rows], "position": positions, "channel": [r[1] for r in rows],
        "touch_at": [ORDER_AT - timedelta(days=r[2]) for r in rows],
        "order_at": [ORDER_AT] * len(rows), "revenue": [r[3] for r in rows],
    }  # fmt: skip
    if rows and len(rows[0]) > 4:
        columns["sales_channel"] = [r[4] for r in rows]
    return ibis.memtable(columns)


# -- engines -----------------------------------------------------------------------------------
def spark_unavailable() -> str | None:
    """Why the PySpark tests cannot run on this machine, or None when they can."""
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install 'omnimetrics[spark]')"
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and Path(java_home, "bin", "java").exists()):
        return "Java is not installed (PySpark needs Java 17 on PATH or in JAVA_HOME)"
    return None


@dataclass
class Engine:
    """The engine a test runs on, and fresh, empty warehouses on it.

    On DuckDB each `warehouse()` is a new file in the test's folder. On Spark (one session for the
    whole test run) each `warehouse()` is a new database made the current one, so open one Spark
    warehouse at a time; the `engine` fixture drops the databases and temporary views after the
    test. Spark warehouses are never closed here: closing one would stop the shared session.
    """

    name: str  # "duckdb" or "spark"
    folder: Path
    session: Any = None  # the SparkSession, on Spark
    databases: list[str] = field(default_factory=list)
    _opened: list[omnimetrics.Warehouse] = field(default_factory=list, repr=False)

    def warehouse(self, settings: Settings | None = None) -> omnimetrics.Warehouse:
        """A new, empty warehouse on this engine (`Settings(secret=SECRET)` by default)."""
        settings = settings or Settings(secret=SECRET)
        n = next(_WAREHOUSES)
        if self.name == "duckdb":
            opened = omnimetrics.connect(self.folder / f"duckdb-{n}.duckdb", settings=settings)
            self._opened.append(opened)
            return opened
        database = f"omni_test_{n}"
        self.session.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")
        self.session.sql(f"CREATE DATABASE {database}")
        self.session.catalog.setCurrentDatabase(database)
        self.databases.append(database)
        return omnimetrics.connect(self.session, settings=settings)

    def close(self) -> None:
        """Close the DuckDB warehouses; drop the Spark databases and temporary views."""
        for opened in self._opened:
            opened.close()
        if self.session is None:
            return
        self.session.catalog.setCurrentDatabase("default")
        for database in self.databases:
            self.session.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")
        for table in self.session.catalog.listTables():
            if table.isTemporary:
                self.session.catalog.dropTempView(table.name)
