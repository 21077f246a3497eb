"""Fixtures: a warehouse per test on DuckDB, and the engine (DuckDB or PySpark) a test runs on.

Helpers and constants that tests import (SECRET, write, loaded_world, cli, ...) live in
`tests/helpers.py`; this file holds only fixtures and pytest hooks.

Running the tests
-----------------
- The fast set (what to run while working)::

      pytest -m "not spark and not slow"

- Only one engine for the tests that take the `engine` fixture (default: all)::

      pytest --engine=duckdb     # never starts Spark
      pytest --engine=spark      # only the PySpark variants
      pytest --engine=all

- Everything, as CI does: `pytest`. Spark variants are skipped, with the reason, when PySpark or
  Java is missing. The markers `spark` and `slow` are declared in pyproject.toml.

Same test, every engine
-----------------------
A test that takes `engine` runs once per engine (ids `[duckdb]` and `[spark]`; the Spark one is
marked `spark`). `engine.warehouse(settings)` opens a fresh, empty warehouse on it; `reference`
is DuckDB, the engine the others are compared with::

    def test_split_parity(tmp_path, engine, reference):
        def persons(eng):
            wh = eng.warehouse(Settings(secret=SECRET))
            wh.ingest("touchpoints", shared_cookie_touchpoints(tmp_path / "t.csv"), now=NOW)
            return wh.resolve_identities().persons
        assert persons(engine) == persons(reference)

A known gap of one engine is marked in the test (as Narwhals does), strict so that it fails
loudly once the gap is closed::

    def test_something(engine, reference, request):
        if engine.name == "spark":
            request.applymarker(pytest.mark.xfail(strict=True, reason="Spark: why, issue link"))
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import omnimetrics
from omnimetrics.config import Settings
from tests.helpers import ENGINES, SECRET, Engine, loaded_world, spark_unavailable


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engine",
        choices=[*ENGINES, "all"],
        default="all",
        help="engine(s) for the tests that take the `engine` fixture (default: all)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise every test that uses `engine` over the engines chosen with --engine."""
    if "engine" not in metafunc.fixturenames:
        return
    chosen = metafunc.config.getoption("engine")
    names = ENGINES if chosen == "all" else (chosen,)
    why_not = spark_unavailable()
    params = [
        pytest.param(
            name,
            id=name,
            marks=[pytest.mark.spark, pytest.mark.skipif(why_not is not None, reason=why_not or "")]
            if name == "spark"
            else [],
        )
        for name in names
    ]
    metafunc.parametrize("engine", params, indirect=True)


@pytest.fixture
def settings() -> Settings:
    return Settings(secret=SECRET)


@pytest.fixture
def wh(settings: Settings, tmp_path: Path):
    warehouse = omnimetrics.connect(tmp_path / "test.duckdb", settings=settings)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory):
    """One local PySpark session for the whole run (started only if a Spark test runs)."""
    if why_not := spark_unavailable():
        pytest.skip(why_not)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("omnimetrics-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def engine(request: pytest.FixtureRequest, tmp_path: Path):
    """The engine this run of the test is on (see the module docstring); cleaned up after it."""
    name = request.param
    session = request.getfixturevalue("spark_session") if name == "spark" else None
    current = Engine(name, tmp_path, session)
    yield current
    current.close()


@pytest.fixture
def reference(tmp_path: Path):
    """DuckDB: the engine every other engine's results are compared with."""
    current = Engine("duckdb", tmp_path)
    yield current
    current.close()


@pytest.fixture(scope="session")
def run_world(tmp_path_factory: pytest.TempPathFactory):
    """A small simulated world, loaded and run (pages stored): shared by the tests that only
    read it (charts, pages, dashboard)."""
    _, warehouse = loaded_world(tmp_path_factory.mktemp("run-world"), customers=250, days=90,
                                seed=5)  # fmt: skip
    # the segment cuts of the dashboard for the two columns test_pages filters by
    ui = replace(warehouse.settings.ui, segment_filters=("rfm_segment", "channel_mix"))
    workspace = omnimetrics.Workspace(warehouse.using(warehouse.settings.with_(ui=ui)))
    workspace.run()
    yield workspace
    workspace.close()
