"""Erasure leaves no byte of the person in the warehouse file, its WAL or an export."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import omnimetrics
from omnimetrics import journeys as jr
from omnimetrics.config import Settings
from omnimetrics.errors import EngineError
from tests.helpers import NOW, SECRET, loaded_world, write

JANE = {"customer_id": "CUST-JANE-0001", "loyalty_id": "LOY-JANE-0077", "cookie": "ck-jane-4f1c9"}
JOHN = {"customer_id": "CUST-JOHN-0002", "loyalty_id": "LOY-JOHN-0088", "cookie": "ck-john-8e2d7"}


def files_of(database: Path) -> list[Path]:
    """The warehouse file and whatever DuckDB keeps next to it (WAL, temporary files)."""
    return sorted(database.parent.glob(database.name + "*"))


def hits(paths: list[Path], needles: set[str]) -> dict[str, int]:
    """How many times each needle occurs in the bytes of the files (only those found)."""
    found: dict[str, int] = {}
    for path in paths:
        data = path.read_bytes()
        for needle in needles:
            if count := data.count(needle.encode()):
                found[needle] = found.get(needle, 0) + count
    return found


def load(database: Path, folder: Path) -> omnimetrics.Warehouse:
    wh = omnimetrics.connect(database, settings=Settings(secret=SECRET))
    rows = [(JANE, "jane@example.com", "+33 6 12 34 56 78", "true", "ORD-JANE-1"),
            (JOHN, "john@example.com", "", "false", "ORD-JOHN-2")]  # fmt: skip
    wh.ingest("customers", write(folder / "c.csv", "customer_id,email,phone,loyalty_id,"
              "consent_analytics\n" + "".join(f"{p['customer_id']},{e},{ph},{p['loyalty_id']},{c}\n"
                                              for p, e, ph, c, _ in rows)), now=NOW)  # fmt: skip
    wh.ingest("identities", write(folder / "i.csv", "identifier_type_a,identifier_a,"
              "identifier_type_b,identifier_b\n" + "".join(
                  f"anonymous_id,{p['cookie']},customer_id,{p['customer_id']}\n"
                  for p, *_ in rows)), now=NOW)  # fmt: skip
    wh.ingest("touchpoints", write(folder / "t.csv", "event_id,timestamp,event_type,anonymous_id,"
              "source,medium\n" + "".join(f"ev-{p['cookie']},2026-03-01,visit,{p['cookie']},"
                                          "google,cpc\n" for p, *_ in rows)
              + f"ev-bad,bad-date,visit,{JANE['cookie']},google,cpc\n"), now=NOW)  # fmt: skip
    wh.ingest("orders", write(folder / "o.csv", "order_id,timestamp,sales_channel,revenue,"
              "currency,loyalty_id\n" + "".join(f"{o},2026-03-02,store,10,EUR,{p['loyalty_id']}\n"
                                                for p, *_, o in rows)), now=NOW)  # fmt: skip
    wh.resolve_identities()
    jr.build_events(wh)
    return wh


def identifiers(wh: omnimetrics.Warehouse, customer_id: str) -> set[str]:
    """Every stored identifier of the person (hashed emails and phones included) and the id."""
    graph = wh.table("identity_graph")
    person = graph.filter(graph.identifier == customer_id).person_id.execute()[0]
    mine = graph.filter(graph.person_id == person).identifier.to_pyarrow().to_pylist()
    return {*mine, person}


def counts(wh: omnimetrics.Warehouse) -> dict[str, int]:
    return {name: int(wh.table(name).count().execute()) for name in wh.tables()}


@pytest.fixture
def stored(tmp_path):
    """A warehouse of Jane and John, written to its file (closed once) and opened again."""
    database = tmp_path / "w.duckdb"
    wh = load(database, tmp_path)
    jane, john = identifiers(wh, JANE["customer_id"]), identifiers(wh, JOHN["customer_id"])
    wh.close()
    wh = omnimetrics.connect(database, settings=Settings(secret=SECRET))
    yield wh, database, jane, john
    wh.close()


def test_erase_leaves_no_byte_of_the_person_in_the_file_or_its_wal(stored, tmp_path):
    wh, database, jane, john = stored
    assert len(jane) == 6  # customer id, loyalty card, cookie, email and phone hashes, person
    assert hits(files_of(database), jane), "the scan must see her before erasure"
    before = counts(wh)
    report = wh.erase(JANE["customer_id"], "customer_id")
    assert report.file_rewritten
    assert hits(files_of(database), jane) == {}  # while the warehouse is still open
    # The rest is intact, on the same Warehouse object (reconnected): John, the view, the meta.
    after = counts(wh)
    deleted = report.rows_deleted
    tables = set(before) - {"identity_links"}  # a view: it follows the tables
    assert {t: before[t] - deleted.get(t, 0) for t in tables} == {t: after[t] for t in tables}
    assert after["erased_identifiers"] == 5  # one keyed hash per identifier
    links = wh.table("identity_links").to_pyarrow().to_pylist()
    assert links and all(JANE["cookie"] not in str(row) for row in links)
    assert identifiers(wh, JOHN["customer_id"]) == john
    # Erased rows arriving later are still suppressed; the key check passes (meta table kept).
    late = write(
        tmp_path / "late.csv", "customer_id,email\nC9,JANE@example.com\nC10,ann@example.com\n"
    )
    report = wh.ingest("customers", late, now=NOW)
    assert (report.accepted, report.suppressed) == (1, 1)
    wh.close()
    assert hits(files_of(database), jane) == {}
    assert [p.name for p in files_of(database)] == ["w.duckdb"]  # no copy, no WAL left behind


def test_exports_after_erasure_hold_nothing_of_the_person(stored, tmp_path):
    wh, _, jane, john = stored
    wh.erase("jane@example.com")
    exports = []
    for name in wh.tables():
        rows = wh.to_arrow(wh.table(name))
        exports.append(tmp_path / f"{name}.parquet")
        pq.write_table(rows, exports[-1], compression="none")
        exports.append(tmp_path / f"{name}.csv")
        pacsv.write_csv(rows, exports[-1])
    assert hits(exports, jane) == {}
    assert set(hits(exports, john)) == john  # the scan finds what is there


def test_a_using_copy_follows_the_rewritten_file(stored):
    wh, *_ = stored
    other = wh.using(wh.settings.with_(memory_limit="1GB"))
    wh.erase(JANE["customer_id"], "customer_id")
    assert other.table("customers").count().execute() == 1


def test_rewrite_is_refused_while_another_connection_of_the_process_holds_the_file(stored):
    wh, database, jane, _ = stored
    second = omnimetrics.connect(database, settings=Settings(secret=SECRET))
    try:
        with pytest.raises(EngineError, match="another connection"):
            wh.erase(JANE["customer_id"], "customer_id")
        # The erasure itself is committed; the file stays the one both connections share.
        assert second.table("customers").count().execute() == 1
        assert wh.table("customers").count().execute() == 1
    finally:
        second.close()
    assert wh.rewrite_file()
    assert hits(files_of(database), jane) == {}
    assert [p.name for p in files_of(database)] == ["w.duckdb"]


def test_nothing_to_rewrite_in_memory():
    wh = omnimetrics.connect(":memory:", settings=Settings(secret=SECRET))
    assert wh.rewrite_file() is False
    wh.close()


@pytest.mark.slow
def test_erasure_on_a_simulated_world_leaves_no_byte_of_the_person(tmp_path):
    _, wh = loaded_world(tmp_path, customers=80, days=30, seed=3)
    wh.resolve_identities()
    jr.build_events(wh)
    graph = wh.table("identity_graph").to_pyarrow().to_pylist()
    kinds: dict[str, set[str]] = {}
    for row in graph:
        kinds.setdefault(row["person_id"], set()).add(row["identifier_type"])
    person = next(p for p, k in sorted(kinds.items()) if {"email", "customer_id"} <= k)
    needles = {row["identifier"] for row in graph if row["person_id"] == person} | {person}
    customer = next(
        r["identifier"]
        for r in graph
        if r["person_id"] == person and r["identifier_type"] == "customer_id"
    )
    database = tmp_path / "w.duckdb"
    wh.close()
    assert hits(files_of(database), needles)
    wh = omnimetrics.connect(database, settings=Settings(demo=True))
    wh.erase(customer, "customer_id")
    assert hits(files_of(database), needles) == {}
    wh.close()
    assert hits(files_of(database), needles) == {}
