"""Shared fixtures: a warehouse per test, on DuckDB (and on PySpark for the parity suite)."""

from __future__ import annotations

from pathlib import Path

import pytest

import omnimetrics
from omnimetrics.config import Settings

SECRET = b"test-secret-0123456789abcdef"


@pytest.fixture
def settings() -> Settings:
    return Settings(secret=SECRET)


@pytest.fixture
def wh(settings: Settings, tmp_path: Path):
    warehouse = omnimetrics.connect(tmp_path / "test.duckdb", settings=settings)
    yield warehouse
    warehouse.close()


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
