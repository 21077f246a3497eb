"""Same test, every engine (tests/test_parity.py): the RFM summary, its compressed form, cohorts
and acquisition channels give on PySpark what they give on DuckDB, the reference."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.csv as pv
import pytest

from omnimetrics.clv.cohorts import acquisition_channels, cohorts
from omnimetrics.clv.summary import compress_rfm, rfm_summary

DATA = Path(__file__).parent / "data" / "clv"


def cdnow() -> pa.Table:
    """CDNOW's sample transactions (customer_id text, date, amount)."""
    types = {"customer_id": pa.string(), "date": pa.date32(), "amount": pa.float64()}
    return pv.read_csv(DATA / "cdnow_sample_transactions.csv.gz",
                       convert_options=pv.ConvertOptions(column_types=types))  # fmt: skip


def orders() -> pa.Table:
    """Timestamped orders whose UTC day differs from their day in other zones (23:30 UTC)."""
    at = [datetime(2024, m, d, h, 30, tzinfo=UTC)
          for m, d, h in ((1, 3, 23), (1, 20, 0), (3, 31, 23), (2, 1, 12), (2, 29, 23),
                          (4, 1, 0), (4, 7, 23), (1, 10, 5))]  # fmt: skip
    return pa.table({
        "order_id": [f"o{i}" for i in range(len(at))],
        "person_id": ["p1", "p1", "p1", "p2", "p2", "p3", "p3", None],
        "at": pa.array(at, pa.timestamp("us", "UTC")),
        "revenue": [10.0, 20.0, 30.0, 40.0, 5.0, 15.0, None, 99.0],
        "sales_channel": ["web", "store", "web", "app", "web", "store", "store", "web"],
    })  # fmt: skip


def rows(table) -> list[dict]:
    return table.to_pyarrow().to_pylist()


def assert_same(got: dict, expected: dict) -> None:
    """The same tables, floats equal to 1e-9 (the engines sum in other orders): rounding both to
    a number of decimals would split values lying on a rounding boundary (a mean over 16)."""
    assert {k: len(v) for k, v in got.items()} == {k: len(v) for k, v in expected.items()}
    for name, table in expected.items():
        for ours, theirs in zip(got[name], table, strict=True):
            assert ours.keys() == theirs.keys(), name
            for column, value in theirs.items():
                close = isinstance(value, float) and ours[column] == pytest.approx(value, rel=1e-9)
                assert close or ours[column] == value, (name, column, ours, theirs)


def test_rfm_summary_and_cohorts_parity(engine, reference):
    def results(eng):
        wh = eng.warehouse()
        transactions = wh.replace_table("clv_transactions", cdnow())
        timed = wh.replace_table("clv_orders", orders())
        named = {"customer": "customer_id", "timestamp": "date", "amount": "amount"}
        units = [rfm_summary(timed, unit=unit, calibration_end=datetime(2024, 3, 1, 12),
                             observation_end=date(2024, 4, 7)).mutate(unit=ibis.literal(unit))
                 for unit in ("D", "W", "M")]  # fmt: skip
        credited = ibis.memtable({
            "person_id": ["p1", "p1", "p2", "p3"], "channel": ["email", "search", "social", "x"],
            "first_order": [True, True, True, False], "credit": [0.5, 0.5, 1.0, 1.0],
        })  # fmt: skip
        channels = acquisition_channels(credited)
        joined = timed.left_join(channels, "person_id").drop("person_id_right")
        cuts = [
            cohorts(timed, unit="week", by="sales_channel").rename(by="sales_channel"),
            cohorts(joined, by=["acquisition_channel"]).rename(by="acquisition_channel"),
        ]
        return {
            "days_holdout": rows(rfm_summary(
                transactions, **named, calibration_end=date(1997, 9, 30),
                observation_end=date(1998, 6, 30)).order_by("customer_id")),
            "compressed_weeks": rows(compress_rfm(rfm_summary(transactions, **named, unit="W"))),
            "orders": rows(ibis.union(*units).order_by(["unit", "customer_id"])),
            "cdnow_months": rows(cohorts(transactions, **named)),
            "cuts": rows(ibis.union(*cuts).order_by(["cohort", "by", "period"])),
        }  # fmt: skip

    expected = results(reference)
    assert len(expected["days_holdout"]) == 2357
    assert len(expected["cdnow_months"]) == 3 * 18 - 3  # cohorts Jan-Mar 1997, up to Jun 1998
    assert_same(results(engine), expected)
