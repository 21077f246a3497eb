"""The simulated world goes through the door exactly as its truth says: every broken row
quarantined with the injected reason, every re-reported order counted once, no raw email stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import omnimetrics
from omnimetrics.cli import load_world
from omnimetrics.config import Settings


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    simulate = pytest.importorskip("omnimetrics.simulate").simulate
    folder = tmp_path_factory.mktemp("world")
    world = simulate(customers=800, days=60, seed=11)
    world.write(folder)
    wh = omnimetrics.connect(folder / "w.duckdb", settings=Settings(demo=True))
    reports = load_world(wh, folder, lambda step, fraction: None)
    yield world, wh, reports
    wh.close()


def test_quarantine_and_duplicates_match_the_injected_truth(loaded):
    world, _, reports = loaded
    for report in reports:
        [file] = report.files
        name = Path(file.path).name
        assert file.accepted + file.duplicates + file.quarantined == file.rows_read
        assert file.rows_read == world.truth["rows"][name]
        assert report.reasons == world.truth["dirty_rows"][name], name
        assert file.duplicates == world.truth["duplicates"][name], name


def test_no_raw_identifier_of_the_world_is_stored(loaded):
    world, wh, _ = loaded
    ids = world.truth_tables["truth_identifiers"].to_pylist()
    raw = {r["identifier"].strip() for r in ids if r["identifier_type"] in ("email", "phone")}
    dump = "".join(
        json.dumps(wh.table(t).to_pyarrow().to_pylist(), default=str) for t in wh.tables()
    )
    leaked = [value for value in raw if value and value in dump]
    assert not leaked[:5]
