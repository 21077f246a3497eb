"""The simulated world goes through the door exactly as its truth says: every broken row
quarantined with the injected reason, every re-reported order counted once, no raw email stored."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import loaded_world


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    world, wh = loaded_world(folder, 800, 60, 11)
    reports = wh.table("ingest_batches").to_pyarrow().to_pylist()
    yield world, wh, reports
    wh.close()


def test_quarantine_and_duplicates_match_the_injected_truth(loaded):
    world, wh, reports = loaded
    quarantine = wh.quarantine().to_pyarrow().to_pylist()
    for file in reports:  # the ingest ledger: one row per file
        name = Path(file["source_file"]).name
        assert file["accepted"] + file["duplicates"] + file["quarantined"] == file["rows_read"]
        assert file["rows_read"] == world.truth["rows"][name]
        reasons = Counter(
            q["reason"] for q in quarantine if q["source_file"] == file["source_file"]
        )
        assert dict(reasons) == world.truth["dirty_rows"][name], name
        assert file["duplicates"] == world.truth["duplicates"][name], name


def test_no_raw_identifier_of_the_world_is_stored(loaded):
    world, wh, _ = loaded
    ids = world.truth_tables["truth_identifiers"].to_pylist()
    raw = {r["identifier"].strip() for r in ids if r["identifier_type"] in ("email", "phone")}
    dump = "".join(
        json.dumps(wh.table(t).to_pyarrow().to_pylist(), default=str) for t in wh.tables()
    )
    leaked = [value for value in raw if value and value in dump]
    assert not leaked[:5]
