"""The door must be strict and lose nothing: every rule, every reason code, atomicity, idempotency."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import omnimetrics
from omnimetrics import ConfigError, CsvOptions, SchemaError, SourceError
from omnimetrics.config import Settings
from tests.helpers import EXPECTED_UTC, LATER, SECRET, TIMES, write

NOW = datetime(2026, 6, 1, tzinfo=UTC)

ORDERS_HEADER = "order_id,timestamp,sales_channel,revenue,currency,source"


def orders_file(tmp_path: Path, *rows: str, name: str = "orders.csv") -> Path:
    return write(tmp_path / name, "\n".join([ORDERS_HEADER, *rows]) + "\n")


def quarantine_rows(wh) -> list[dict]:
    return wh.quarantine().order_by("source_row").to_pyarrow().to_pylist()


def balanced(report) -> bool:
    return report.accepted + report.duplicates + report.quarantined == report.rows_read


def test_valid_rows_are_typed_and_stored_in_utc(wh, tmp_path):
    path = orders_file(
        tmp_path,
        "W1,2026-03-01T10:00:00+01:00,web,59.90,eur,web_shop",
        "W2,2026-03-01 10:00:00Z,Store,10,EUR,pos",
        "W3,2026-03-02,app,0,EUR,web_shop",
    )
    report = wh.ingest("orders", path, now=NOW)
    assert (report.rows_read, report.accepted, report.duplicates, report.quarantined) == (
        3,
        3,
        0,
        0,
    )
    rows = {r["order_id"]: r for r in wh.table("orders").to_pyarrow().to_pylist()}
    assert rows["W1"]["timestamp"] == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert rows["W2"]["timestamp"] == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert rows["W3"]["timestamp"] == datetime(2026, 3, 2, tzinfo=UTC)
    assert rows["W1"]["revenue"] == pytest.approx(59.9)
    assert rows["W1"]["currency"] == "EUR"  # normalised case
    assert rows["W2"]["sales_channel"] == "store"
    assert rows["W1"]["source_row"] == 1 and rows["W3"]["source_row"] == 3
    assert rows["W1"]["source_file"] == str(path)


@pytest.mark.parametrize(
    ("row", "reason", "column"),
    [
        (",2026-03-01,web,10,EUR,pos", "missing_required", "order_id"),
        ("W1,not a date,web,10,EUR,pos", "invalid_type", "timestamp"),
        ("W1,2026-03-01,web,12;5O,EUR,pos", "invalid_type", "revenue"),
        ("W1,2026-03-01,web,nan,EUR,pos", "invalid_type", "revenue"),
        ("W1,2026-03-01,moon,10,EUR,pos", "not_allowed", "sales_channel"),
        ("W1,2026-03-01,web,-3,EUR,pos", "out_of_range", "revenue"),
        ("W1,2026-03-01,web,20000000,EUR,pos", "out_of_range", "revenue"),
        ("W1,2026-03-01,web,10,EURO,pos", "invalid_currency", "currency"),
        ("W1,2026-06-05,web,10,EUR,pos", "future_timestamp", "timestamp"),
        ("W1,2026-03-01,web,,EUR,pos", "missing_required", "revenue"),
    ],
)
def test_each_rule_quarantines_with_its_reason(wh, tmp_path, row, reason, column):
    report = wh.ingest("orders", orders_file(tmp_path, row), now=NOW)
    assert (report.accepted, report.quarantined) == (0, 1)
    [rejected] = quarantine_rows(wh)
    assert (rejected["reason"], rejected["column_name"]) == (reason, column)
    assert rejected["source_row"] == 1
    assert rejected["table_name"] == "orders"
    assert json.loads(rejected["raw_record"])["order_id"] == (row.split(",")[0] or None)
    assert rejected["message"]  # a sentence for a person, never empty


def test_cross_column_and_table_rules(wh, tmp_path):
    path = write(
        tmp_path / "o.csv",
        "order_id,timestamp,sales_channel,revenue,currency,returned_amount,email\n"
        "R1,2026-03-01,web,10,EUR,12,\n"
        "R2,2026-03-01,web,10,EUR,,jane.doe@\n",
    )
    wh.ingest("orders", path, now=NOW)
    reasons = [(r["reason"], r["column_name"]) for r in quarantine_rows(wh)]
    assert reasons == [("inconsistent", "returned_amount"), ("invalid_email", "email_hash")]
    touch = write(tmp_path / "t.csv", "event_id,timestamp,event_type\nE1,2026-03-01,visit\n")
    wh.ingest("touchpoints", touch, now=NOW)
    [touch_row] = [r for r in quarantine_rows(wh) if r["table_name"] == "touchpoints"]
    assert touch_row["reason"] == "no_identifier"
    survey = write(
        tmp_path / "f.csv",
        "response_id,timestamp,survey_type,score,customer_id\n"
        "F1,2026-03-01,nps,11,C1\nF2,2026-03-01,csat,5,C1\nF3,2026-03-01,ces,0,C1\n",
    )
    report = wh.ingest("feedback", survey, now=NOW)
    assert (report.accepted, report.quarantined) == (1, 2)


def test_identities_hash_only_email_and_phone_values(wh, tmp_path):
    path = write(
        tmp_path / "ids.csv",
        "identifier_type_a,identifier_a,identifier_type_b,identifier_b,link_source\n"
        "email, Jane@Example.com ,customer_id,C1,crm\n"
        "anonymous_id,c-1,customer_id,C1,login\n"
        "phone,06 12 34 56 78,customer_id,C1,crm\n"
        "phone,12,customer_id,C2,crm\n",
    )
    report = wh.ingest("identities", path, now=NOW)
    assert (report.accepted, report.quarantined) == (3, 1)
    rows = wh.table("identities").order_by("source_row").to_pyarrow().to_pylist()
    expected_email = hmac.new(SECRET, b"jane@example.com", hashlib.sha256).hexdigest()
    expected_phone = hmac.new(SECRET, b"+33612345678", hashlib.sha256).hexdigest()
    assert [r["identifier_a"] for r in rows] == [expected_email, "c-1", expected_phone]
    assert quarantine_rows(wh)[0]["reason"] == "invalid_phone"


@pytest.mark.parametrize("activation", [False, True])
def test_no_raw_email_or_phone_reaches_any_table(tmp_path, activation):
    settings = Settings(secret=SECRET, activation_hashes=activation)
    wh = omnimetrics.connect(tmp_path / "raw.duckdb", settings=settings)
    path = write(
        tmp_path / "f.csv",
        "response_id,timestamp,survey_type,score,email,phone,comment\n"
        'F1,2026-03-01,nps,9,jane.doe@example.com,+33 6 12 34 56 78,"write me at jane.doe@example.com or 06 12 34 56 78"\n'
        "F2,2026-03-01,nps,99,john@example.org,0698765432,bad score\n"
        'F3,broken,nps,1,"x,y\n',
    )
    wh.ingest("feedback", path, now=NOW)
    dump = ""
    for name in wh.tables():
        dump += json.dumps(wh.table(name).to_pyarrow().to_pylist(), default=str)
    for raw in ("jane.doe@example.com", "john@example.org", "12 34 56 78", "0698765432"):
        assert raw not in dump
    stored = wh.table("feedback").to_pyarrow().to_pylist()[0]
    assert stored["comment"] == "write me at [email] or [phone]"
    # With activation hashes: only the plain SHA-256 of the valid, stored row's identifiers.
    assert ("activation_identifiers" in wh.tables()) == activation
    if activation:
        kept = wh.table("activation_identifiers").to_pyarrow().to_pylist()
        assert sorted(r["sha256"] for r in kept) == sorted(
            hashlib.sha256(v).hexdigest() for v in (b"jane.doe@example.com", b"+33612345678")
        )
    wh.close()


def test_duplicates_within_file_and_against_warehouse(wh, tmp_path):
    first = orders_file(
        tmp_path, "A,2026-03-01,web,1,EUR,web_shop", "A,2026-03-01,web,1,EUR,web_shop"
    )
    report = wh.ingest("orders", first, now=NOW)
    assert (report.accepted, report.duplicates) == (1, 1)
    second = orders_file(
        tmp_path,
        "A,2026-03-01,web,1,EUR,web_shop",
        "B,2026-03-02,web,2,EUR,web_shop",
        name="o2.csv",
    )
    report = wh.ingest("orders", second, now=NOW)
    assert (report.accepted, report.duplicates) == (1, 1)
    assert wh.table("orders").count().execute() == 2


def test_reingesting_the_same_file_adds_nothing(wh, tmp_path):
    path = orders_file(tmp_path, "A,2026-03-01,web,1,EUR,pos", "B,bad,web,1,EUR,pos")
    wh.ingest("orders", path, now=NOW)
    before = wh.summary().to_pylist()
    again = wh.ingest("orders", path, now=NOW)
    assert again.rows_read == 0 and again.files[0].already_ingested
    assert wh.summary().to_pylist() == before


def test_most_trusted_source_wins_and_every_report_is_kept(wh, tmp_path):
    crm = orders_file(tmp_path, "S1,2026-03-01,store,30,EUR,crm", name="crm.csv")
    pos = orders_file(tmp_path, "S1,2026-03-01,store,29.5,EUR,pos", name="pos.csv")
    wh.ingest("orders", crm, now=NOW)
    report = wh.ingest("orders", pos, now=NOW)
    assert (report.accepted, report.updated, report.duplicates) == (1, 1, 0)
    [order] = wh.table("orders").to_pyarrow().to_pylist()
    assert (order["source"], order["revenue"]) == ("pos", 29.5)
    # A less trusted report arriving later is evidence only.
    late = orders_file(tmp_path, "S1,2026-03-01,store,31,EUR,crm", name="crm2.csv")
    report = wh.ingest("orders", late, now=NOW)
    assert (report.accepted, report.duplicates) == (0, 1)
    assert wh.table("orders").to_pyarrow().to_pylist()[0]["source"] == "pos"
    assert wh.table("orders_reports").count().execute() == 3


def test_source_priority_is_configurable(tmp_path):
    settings = Settings(secret=SECRET, source_priority=("crm", "pos"))
    wh = omnimetrics.connect(tmp_path / "p.duckdb", settings=settings)
    path = orders_file(
        tmp_path, "S1,2026-03-01,store,29.5,EUR,pos", "S1,2026-03-01,store,30,EUR,crm"
    )
    wh.ingest("orders", path, now=NOW)
    assert wh.table("orders").to_pyarrow().to_pylist()[0]["source"] == "crm"


def test_newer_crm_record_replaces_older(wh, tmp_path):
    header = "customer_id,city,updated_at\n"
    wh.ingest("customers", write(tmp_path / "c1.csv", header + "C1,Lyon,2026-01-01\n"), now=NOW)
    wh.ingest("customers", write(tmp_path / "c2.csv", header + "C1,Paris,2026-02-01\n"), now=NOW)
    wh.ingest("customers", write(tmp_path / "c3.csv", header + "C1,Nice,2025-12-01\n"), now=NOW)
    assert wh.table("customers").to_pyarrow().to_pylist()[0]["city"] == "Paris"


def test_interrupted_ingest_leaves_the_warehouse_unchanged(wh, tmp_path, monkeypatch):
    wh.ingest("orders", orders_file(tmp_path, "A,2026-03-01,web,1,EUR,pos"), now=NOW)
    before = wh.summary().to_pylist()
    calls = []
    original = wh.insert

    def interrupted(name, expr):
        calls.append(name)
        if name == "quarantine":
            raise KeyboardInterrupt
        original(name, expr)

    monkeypatch.setattr(wh, "insert", interrupted)
    path = orders_file(tmp_path, "B,2026-03-01,web,1,EUR,pos", "C,bad,web,1,EUR,pos", name="o2.csv")
    with pytest.raises(KeyboardInterrupt):
        wh.ingest("orders", path, now=NOW)
    assert calls[0] == "orders"  # the orders were written inside the batch, then rolled back
    monkeypatch.undo()
    assert wh.summary().to_pylist() == before
    report = wh.ingest("orders", path, now=NOW)  # and the same file can be ingested again
    assert (report.accepted, report.quarantined) == (1, 1)


def test_missing_required_column_rejects_the_file_and_writes_nothing(wh, tmp_path):
    path = write(
        tmp_path / "o.csv",
        "OrderID,timestamp,sales_channel,revenue,currency\nA,2026-03-01,web,1,EUR\n",
    )
    with pytest.raises(SchemaError, match=r"order_id.*--map"):
        wh.ingest("orders", path, now=NOW)
    assert "orders" not in wh.tables() or wh.table("orders").count().execute() == 0
    report = wh.ingest("orders", path, columns={"OrderID": "order_id"}, now=NOW)
    assert report.accepted == 1


def test_column_mapping_from_config(tmp_path):
    settings = Settings(secret=SECRET, column_maps={"orders": {"OrderID": "order_id"}})
    wh = omnimetrics.connect(tmp_path / "m.duckdb", settings=settings)
    path = write(
        tmp_path / "o.csv",
        "OrderID,timestamp,sales_channel,revenue,currency\nA,2026-03-01,web,1,EUR\n",
    )
    assert wh.ingest("orders", path, now=NOW).accepted == 1


def test_unreadable_files_fail_clearly_and_change_nothing(wh, tmp_path):
    broken = tmp_path / "x.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(SourceError, match="not a readable Parquet"):
        wh.ingest("orders", broken, now=NOW)
    latin = write(
        tmp_path / "l.csv", ORDERS_HEADER + "\nA,2026-03-01,web,1,EUR,caf\xe9\n", "latin-1"
    )
    with pytest.raises(SourceError, match="encoding"):
        wh.ingest("orders", latin, now=NOW)
    report = wh.ingest("orders", latin, csv=CsvOptions(encoding="latin-1"), now=NOW)
    assert report.accepted == 1
    with pytest.raises(SourceError, match="does not exist"):
        wh.ingest("orders", tmp_path / "missing.csv", now=NOW)
    with pytest.raises(SourceError, match="empty"):
        wh.ingest("orders", write(tmp_path / "e.csv", ""), now=NOW)
    with pytest.raises(SourceError, match="header"):
        wh.ingest("orders", write(tmp_path / "n.csv", "A,2026-03-01,web,1,EUR\n"), now=NOW)


def test_csv_dialects_headerless_and_malformed_lines(wh, tmp_path):
    semi = write(
        tmp_path / "s.csv",
        "order_id;timestamp;sales_channel;revenue;currency\nA;2026-03-01;web;1.5;EUR\n",
    )
    assert wh.ingest("orders", semi, now=NOW).accepted == 1
    bare = write(tmp_path / "b.csv", "B,2026-03-01,web,1,EUR\n")
    names = ("order_id", "timestamp", "sales_channel", "revenue", "currency")
    report = wh.ingest("orders", bare, csv=CsvOptions(column_names=names), now=NOW)
    assert report.accepted == 1
    ragged = orders_file(
        tmp_path,
        "C,2026-03-01,web,1,EUR,pos",
        "D,2026-03-01,web",
        "E,2026-03-01,web,1,EUR,pos",
        name="r.csv",
    )
    report = wh.ingest("orders", ragged, now=NOW)
    assert (report.rows_read, report.accepted, report.quarantined) == (3, 2, 1)
    rows = wh.table("orders").filter(lambda t: t.order_id == "E").to_pyarrow().to_pylist()
    assert rows[0]["source_row"] == 3  # numbering survives the skipped line
    bad = [r for r in quarantine_rows(wh) if r["reason"] == "malformed_row"]
    assert bad[0]["source_row"] == 2 and bad[0]["raw_record"] == "D,2026-03-01,web"


def test_parquet_jsonl_glob_and_folder(wh, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(
        pa.table(
            {
                "event_id": ["e1", "e2"],
                "timestamp": pa.array(
                    [datetime(2026, 3, 1, tzinfo=UTC)] * 2, pa.timestamp("us", "UTC")
                ),
                "anonymous_id": ["c1", "c2"],
                "event_type": ["visit", "ad_click"],
                "duration_seconds": [12.0, None],
            }
        ),
        folder / "a.parquet",
    )
    (folder / "b.jsonl").write_text(
        '{"event_id": "e3", "timestamp": "2026-03-01T10:00:00Z", "customer_id": "C1",'
        ' "event_type": "email_open", "properties": {"subject": "Hi", "mpp": true}}\n'
    )
    report = wh.ingest("touchpoints", folder, now=NOW)
    assert (report.rows_read, report.accepted) == (3, 3)
    props = wh.table("touchpoints").filter(lambda t: t.event_id == "e3").properties.to_pyarrow()
    assert json.loads(props[0].as_py()) == {"subject": "Hi", "mpp": True}
    again = wh.ingest("touchpoints", str(folder / "*.parquet"), now=NOW)
    assert again.files[0].already_ingested


def test_a_warehouse_refuses_a_second_secret(tmp_path):
    path = orders_file(tmp_path, "A,2026-03-01,web,1,EUR,pos")
    omnimetrics.connect(tmp_path / "k.duckdb", settings=Settings(secret=SECRET)).ingest(
        "orders", path, now=NOW
    )
    other = omnimetrics.connect(
        tmp_path / "k.duckdb", settings=Settings(secret=b"another-secret-0123456789")
    )
    with pytest.raises(ConfigError, match="another secret"):
        other.ingest("orders", path, now=NOW)


def test_missing_secret_outside_demo_is_an_error(tmp_path):
    wh = omnimetrics.connect(tmp_path / "s.duckdb", settings=Settings())
    with pytest.raises(ConfigError, match="OMNIMETRICS_SECRET"):
        wh.ingest("orders", orders_file(tmp_path, "A,2026-03-01,web,1,EUR,pos"), now=NOW)


def test_unknown_table_and_mapping_are_explained(wh, tmp_path):
    with pytest.raises(SchemaError, match="Did you mean 'orders'"):
        wh.ingest("ordrs", orders_file(tmp_path, "A,2026-03-01,web,1,EUR,pos"))
    with pytest.raises(SchemaError, match="Did you mean 'order_id'"):
        wh.ingest(
            "orders", orders_file(tmp_path, "A,2026-03-01,web,1,EUR,pos"), columns={"x": "orderid"}
        )
    with pytest.raises(SchemaError, match="omnimetrics ingest touchpoints"):
        wh.table("touchpoints")


def stored_times(wh) -> dict[str, datetime]:
    rows = wh.table("touchpoints").select("event_id", "timestamp").to_pyarrow().to_pylist()
    return {r["event_id"]: r["timestamp"] for r in rows}


def test_timestamps_without_offset_are_read_in_the_source_time_zone(wh, tmp_path):
    path = write(tmp_path / "t.csv", TIMES)
    report = wh.ingest("touchpoints", path, timezone="Europe/Paris", now=LATER)
    assert report.accepted == len(EXPECTED_UTC), report.reasons
    assert stored_times(wh) == EXPECTED_UTC


def test_timestamps_default_to_utc_and_typed_parquet_times_follow_the_zone(tmp_path):
    utc = omnimetrics.connect(tmp_path / "utc.duckdb", settings=Settings(secret=SECRET))
    utc.ingest("touchpoints", write(tmp_path / "t.csv", TIMES), now=LATER)
    assert stored_times(utc)["s"] == datetime(2026, 7, 15, 10, tzinfo=UTC)
    assert stored_times(utc)["o"] == EXPECTED_UTC["o"]
    # Parquet: naive timestamps follow the configured zone, zoned ones and epoch numbers do not.
    table = pa.table({
        "event_id": ["n", "a", "e"],
        "timestamp": pa.array([datetime(2026, 7, 15, 10)] * 3, pa.timestamp("us")),
        "anonymous_id": ["c1"] * 3, "event_type": ["visit"] * 3,
    })  # fmt: skip
    pq.write_table(table.slice(0, 1), tmp_path / "naive.parquet")
    zoned = table.set_column(1, "timestamp", pa.array([datetime(2026, 7, 15, 10, tzinfo=UTC)] * 3))
    pq.write_table(zoned.slice(1, 1), tmp_path / "zoned.parquet")
    epoch = table.set_column(1, "timestamp", pa.array([1784109600] * 3, pa.int64()))
    pq.write_table(epoch.slice(2, 1), tmp_path / "epoch.parquet")
    paris = Settings.from_mapping({"ingest": {"timezone": "Europe/Paris"}}).with_(secret=SECRET)
    wh = omnimetrics.connect(tmp_path / "paris.duckdb", settings=paris)
    wh.ingest("touchpoints", tmp_path / "naive.parquet", now=LATER)
    wh.ingest("touchpoints", [tmp_path / "zoned.parquet", tmp_path / "epoch.parquet"], now=LATER)
    times = stored_times(wh)
    assert times["n"] == datetime(2026, 7, 15, 8, tzinfo=UTC)
    assert times["a"] == times["e"] == datetime(2026, 7, 15, 10, tzinfo=UTC)


def test_an_unknown_time_zone_is_explained(wh, tmp_path):
    with pytest.raises(ConfigError, match="not a time zone name"):
        wh.ingest("touchpoints", write(tmp_path / "t.csv", TIMES), timezone="Paris")
    with pytest.raises(ConfigError, match=r"ingest\.timezone"):
        Settings.from_mapping({"ingest": {"timezone": "Mars/Olympus"}})


def test_a_file_read_in_many_chunks_loses_nothing(wh, tmp_path, monkeypatch):
    """Small CSV blocks and chunks: numbering, malformed lines, duplicates and rejects across
    chunk boundaries come out as for a file read at once."""
    from omnimetrics.ingest import door, readers

    lines = []
    for n in range(60):
        if n % 17 == 5:
            lines.append(f"X{n},2026-03-01,web")  # malformed: too few fields
        elif n % 13 == 7:
            lines.append(f"O{n},2026-03-01,web,-5,EUR,pos")  # negative revenue: out of range
        else:
            lines.append(f"O{n % 50},2026-03-01,web,{n},EUR,pos")  # O0-O9 again at n >= 50
    path = orders_file(tmp_path, *lines, name="many.csv")
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 120)
    monkeypatch.setattr(door, "CHUNK_ROWS", 4)
    report = wh.ingest("orders", path, now=NOW)
    malformed = [n for n in range(60) if n % 17 == 5]
    negative = [n for n in range(60) if n % 13 == 7 and n % 17 != 5]
    valid = [n for n in range(60) if n not in malformed + negative]
    repeated = [n for n in range(50, 60) if n in valid and n - 50 in valid]
    assert report.rows_read == 60
    assert report.quarantined == len(malformed) + len(negative)
    assert report.duplicates == len(repeated)
    assert report.accepted == 60 - len(malformed) - len(negative) - len(repeated)
    rows = {r["order_id"]: r["source_row"] for r in wh.table("orders").to_pyarrow().to_pylist()}
    assert {k: rows[k] for k in (f"O{n}" for n in range(50) if n in valid)} == {
        f"O{n}": n + 1 for n in range(50) if n in valid}  # fmt: skip
    assert {rows[f"O{n - 50}"] for n in range(50, 60) if n in valid and n - 50 not in valid} == {
        n + 1 for n in range(50, 60) if n in valid and n - 50 not in valid}  # fmt: skip
    bad = {r["source_row"]: r["reason"] for r in quarantine_rows(wh)}
    assert bad == {**{n + 1: "malformed_row" for n in malformed},
                   **{n + 1: "out_of_range" for n in negative}}  # fmt: skip


def test_a_jsonl_field_whose_type_changes_quarantines_only_the_rows_that_do_not_fit(wh, tmp_path):
    lines = [
        {"order_id": "J1", "timestamp": "2026-03-01T10:00:00Z", "sales_channel": "web",
         "revenue": 10, "currency": "EUR", "items": 2},
        {"order_id": "J2", "timestamp": "2026-03-01T10:00:00Z", "sales_channel": "web",
         "revenue": "abc", "currency": "EUR"},
        {"order_id": "J3", "timestamp": 1772359200, "sales_channel": "store",
         "revenue": {"amount": 5}, "currency": "EUR"},
        {"order_id": 4, "timestamp": "2026-03-01T10:00:00Z", "sales_channel": "web",
         "revenue": "12.5", "currency": "EUR", "email": "Ann@Example.com"},
        {"order_id": "J5", "timestamp": "2026-03-01T10:00:00Z", "sales_channel": "web",
         "revenue": 7.25, "currency": "EUR", "items": "3"},
    ]  # fmt: skip
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    path = write(tmp_path / "mixed.jsonl", text.replace("\n", "\n\n", 1))  # a blank line too
    report = wh.ingest("orders", path, now=NOW)
    assert (report.rows_read, report.accepted, report.quarantined) == (5, 3, 2)
    assert report.accepted + report.quarantined == report.rows_read
    stored = wh.table("orders").order_by("order_id").to_pyarrow().to_pylist()
    assert [(r["order_id"], r["revenue"], r["source_row"]) for r in stored] == [
        ("4", 12.5, 4),  # a number where text is expected is text; "12.5" is a number
        ("J1", 10.0, 1),
        ("J5", 7.25, 5),
    ]
    assert (
        stored[0]["email_hash"] == hmac.new(SECRET, b"ann@example.com", hashlib.sha256).hexdigest()
    )
    assert [r["items"] for r in stored] == [None, 2, 3]  # 2 and "3" alike
    bad = quarantine_rows(wh)
    assert [(r["source_row"], r["column_name"], r["reason"]) for r in bad] == [
        (2, "revenue", "invalid_type"),
        (3, "revenue", "invalid_type"),
    ]
    assert json.loads(bad[1]["raw_record"])["revenue"] == '{"amount":5}'


def test_jsonl_lines_that_are_not_objects_are_quarantined_and_the_others_kept(wh, tmp_path):
    path = write(tmp_path / "broken.jsonl",
                 '{"order_id": "K1", "timestamp": "2026-03-01", "sales_channel": "web", "revenue": 1, "currency": "EUR"}\n'
                 '{"order_id": "K2", "timestamp": "2026-03-01", "sales_channel": \n'
                 '[1, 2]\n'
                 '{"order_id": "K3", "timestamp": "2026-03-01", "sales_channel": "web", "revenue": "x", "currency": "EUR"}\n'
                 '{"order_id": "K4", "timestamp": "2026-03-01", "sales_channel": "web", "revenue": 2, "currency": "EUR"}\n')  # fmt: skip
    report = wh.ingest("orders", path, now=NOW)
    assert (report.rows_read, report.accepted, report.quarantined) == (5, 2, 3)
    assert report.reasons == {"malformed_row": 2, "invalid_type": 1}
    bad = quarantine_rows(wh)
    assert [(r["source_row"], r["reason"]) for r in bad] == [
        (2, "malformed_row"),
        (3, "malformed_row"),
        (4, "invalid_type"),
    ]
    assert bad[1]["raw_record"] == "[1, 2]"
    rows = wh.table("orders").order_by("order_id").to_pyarrow().to_pylist()
    assert [(r["order_id"], r["source_row"]) for r in rows] == [("K1", 1), ("K4", 5)]


def test_a_json_array_is_not_json_lines(wh, tmp_path):
    path = write(
        tmp_path / "orders.json", '[\n  {"order_id": "A", "revenue": 1},\n  {"order_id": "B"}\n]\n'
    )
    with pytest.raises(SourceError, match="line 1, the first one, is not a JSON object"):
        wh.ingest("orders", path, now=NOW)
    assert wh.table("orders").count().execute() == 0  # nothing written
