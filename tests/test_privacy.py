"""Erasure is complete and sticks; consent travels with the person."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from omnimetrics import journeys as jr
from omnimetrics.errors import UnknownNameError
from tests.helpers import write

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def dump(wh) -> str:
    return "".join(
        json.dumps(wh.table(t).to_pyarrow().to_pylist(), default=str) for t in wh.tables()
    )


@pytest.fixture
def loaded(wh, tmp_path):
    wh.ingest("customers", write(tmp_path / "c.csv",
              "customer_id,email,loyalty_id,consent_analytics\n"
              "C1,jane@example.com,L1,true\nC2,john@example.com,L2,false\n"), now=NOW)  # fmt: skip
    wh.ingest("identities", write(tmp_path / "i.csv",
              "identifier_type_a,identifier_a,identifier_type_b,identifier_b\n"
              "anonymous_id,ck-jane,customer_id,C1\nanonymous_id,ck-john,customer_id,C2\n"), now=NOW)  # fmt: skip
    wh.ingest("touchpoints", write(tmp_path / "t.csv",
              "event_id,timestamp,event_type,anonymous_id,source,medium\n"
              "e1,2026-03-01,visit,ck-jane,google,cpc\ne2,2026-03-01,visit,ck-john,google,cpc\n"
              "e3,bad-date,visit,ck-jane,google,cpc\n"), now=NOW)  # fmt: skip
    wh.ingest("orders", write(tmp_path / "o.csv",
              "order_id,timestamp,sales_channel,revenue,currency,loyalty_id\n"
              "S1,2026-03-02,store,10,EUR,L1\nS2,2026-03-02,store,10,EUR,L2\n"), now=NOW)  # fmt: skip
    wh.resolve_identities()
    jr.build_events(wh)
    return wh


def test_erasure_removes_the_person_everywhere(loaded, tmp_path):
    wh = loaded
    jane = {"C1", "L1", "ck-jane", "e1", "S1"}
    assert all(value in dump(wh) for value in jane)
    report = wh.erase("jane@example.com")
    assert report.identifiers == 4  # customer id, email, loyalty card, cookie
    after = dump(wh)
    leftover = [value for value in jane if f'"{value}"' in after]
    assert leftover == []
    assert report.rows_deleted["quarantine"] == 1  # e3 carried her cookie
    assert {"customers", "identities", "touchpoints", "orders", "orders_reports",
            "identity_graph", "events"} <= set(report.rows_deleted)  # fmt: skip
    assert '"C2"' in after and '"ck-john"' in after  # John is untouched
    with pytest.raises(UnknownNameError):
        wh.erase("jane@example.com")


def test_later_rows_of_an_erased_person_are_suppressed_and_counted(loaded, tmp_path):
    wh = loaded
    wh.erase("C1", "customer_id")
    late = write(tmp_path / "late.csv",
                 "event_id,timestamp,event_type,anonymous_id,customer_id,email\n"
                 "e9,2026-04-01,visit,ck-jane,,\ne10,2026-04-01,visit,new-cookie,C1,\n"
                 "e11,2026-04-01,visit,other,,JANE@example.com\ne12,2026-04-01,visit,ck-new,,\n"
                 "e13,not-a-date,visit,ck-jane,,\n")  # fmt: skip
    report = wh.ingest("touchpoints", late, now=NOW)
    assert (report.rows_read, report.accepted, report.suppressed, report.quarantined) == (
        5,
        1,
        4,
        0,
    )
    assert '"e9"' not in dump(wh) and '"e13"' not in dump(wh)
    ledger = wh.table("ingest_batches").to_pyarrow().to_pylist()[-1]
    assert ledger["suppressed"] == 4


def test_consent_refusal_keeps_a_person_out_of_journeys(loaded):
    wh = loaded
    persons = set(wh.table("events").person_id.to_pyarrow().to_pylist())
    graph = {
        r["identifier"]: r["person_id"] for r in wh.table("identity_graph").to_pyarrow().to_pylist()
    }
    assert graph["C1"] in persons and graph["C2"] not in persons  # John refused analytics
    jr.build_events(wh, jr.JourneySettings(consent_purpose=None))
    assert graph["C2"] in set(wh.table("events").person_id.to_pyarrow().to_pylist())
    # The timeline is an operational view: it shows John's history whatever his analytics consent.
    items = jr.timeline(wh, graph["C2"]).to_pyarrow().to_pylist()
    assert [(r["kind"], r["reference"]) for r in items] == [("touchpoint", "e2"), ("order", "S2")]


def test_erasure_removes_activation_hashes(tmp_path):
    import hashlib

    import omnimetrics
    from omnimetrics.config import Settings
    from tests.helpers import SECRET

    settings = Settings(secret=SECRET, activation_hashes=True)
    wh = omnimetrics.connect(tmp_path / "a.duckdb", settings=settings)
    wh.ingest("customers", write(tmp_path / "c.csv",
              "customer_id,email,phone\nC1,jane@example.com,06 12 34 56 78\n"
              "C2,john@example.com,\n"), now=NOW)  # fmt: skip
    wh.resolve_identities()
    stored = {r["sha256"] for r in wh.table("activation_identifiers").to_pyarrow().to_pylist()}
    jane = {hashlib.sha256(v.encode()).hexdigest() for v in ("jane@example.com", "+33612345678")}
    john = hashlib.sha256(b"john@example.com").hexdigest()
    assert stored == jane | {john}
    report = wh.erase("jane@example.com")
    assert report.rows_deleted["activation_identifiers"] == 2
    left = wh.table("activation_identifiers").to_pyarrow().to_pylist()
    assert [r["sha256"] for r in left] == [john]
    # Her rows arriving later are suppressed at the door: no activation hash comes back.
    late = write(tmp_path / "late.csv", "customer_id,email\nC9,JANE@example.com\n")
    assert wh.ingest("customers", late, now=NOW).suppressed == 1
    assert wh.table("activation_identifiers").count().execute() == 1
    wh.close()
