"""The RFM summary: a hand-computed tiny case, the lifetimes package's outputs on CDNOW and on
hand-made transactions (tests/data/clv/README.md), the compressed form, errors, and invariants."""

from __future__ import annotations

import doctest
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimetrics.clv import summary as summary_module
from omnimetrics.clv.summary import compress_rfm, rfm_summary
from omnimetrics.errors import ConfigError, SchemaError

DATA = Path(__file__).parent / "data" / "clv"
RELATIVE = 1e-9  # the expected values are stored with 10 significant digits


@pytest.fixture(scope="module")
def con():
    backend = ibis.duckdb.connect()
    backend.raw_sql("SET TimeZone = 'UTC'")
    yield backend
    backend.disconnect()


def by_customer(con, expr) -> dict:
    rows = con.to_pyarrow(expr).to_pylist()
    return {row.pop("customer_id"): row for row in rows}


def read_transactions(con, name: str):
    return con.read_csv(DATA / name, types={"customer_id": "VARCHAR", "date": "DATE"})


def expected(con, name: str, **where) -> dict:
    table = con.read_csv(DATA / name, types={"customer_id": "VARCHAR"})
    for column, value in where.items():
        table = table.filter(table[column].cast("string") == value)
    return by_customer(con, table)


def assert_matches(got: dict, want: dict, columns: dict[str, str]) -> None:
    """Every customer of `want` in `got` and no other; each of our columns equal to lifetimes'."""
    assert sorted(got) == sorted(want)
    for customer, row in want.items():
        for ours, theirs in columns.items():
            assert got[customer][ours] == pytest.approx(row[theirs], rel=RELATIVE, abs=1e-12), (
                customer,
                ours,
            )


TINY = ibis.memtable(
    {
        "person_id": ["ann", "ann", "ann", "ann", "bob", "cy", "cy"],
        "at": [
            datetime(2024, 3, 1, 9, tzinfo=UTC),
            datetime(2024, 3, 1, 18, tzinfo=UTC),
            datetime(2024, 3, 4, tzinfo=UTC),
            datetime(2024, 3, 11, tzinfo=UTC),
            datetime(2024, 3, 5, tzinfo=UTC),
            datetime(2024, 3, 8, 23, 59, tzinfo=UTC),
            datetime(2024, 3, 12, tzinfo=UTC),
        ],
        "revenue": [10.0, 30.0, 15.0, 5.0, 50.0, 8.0, 12.0],
    }
)


def test_tiny_case_by_hand(con):
    """Calibration ends on 2024-03-10 (a Sunday), observation on 2024-03-17.

    Days. ann buys on 03-01 (twice: one purchase of 40), 03-04 (15) and 03-11 (5, in the
    holdout): frequency 1 (03-04), recency 3, T = 10 - 1 = 9, monetary 15; holdout 1 purchase of
    5. bob buys once on 03-05: 0, 0, T = 5, monetary 0, no holdout. cy buys on 03-08 (8) and
    03-12 (12, holdout): 0, 0, T = 2, monetary 0; holdout 1 of 12. duration = 17 - 10 = 7.
    Weeks (Monday to Sunday): 03-01 is in the week of 02-26 (w0), 03-04 to 03-10 is w1, 03-11 to
    03-17 is w2. ann: purchases in w0 (40) and w1 (15): frequency 1, recency 1, T = 1,
    monetary 15; holdout w2 (5). bob: w1 only: 0, 0, T 0. cy: w1 (8), holdout w2 (12).
    duration 1.
    """
    days = rfm_summary(TINY, calibration_end=date(2024, 3, 10), observation_end=date(2024, 3, 17))
    assert by_customer(con, days) == with_holdout(
        ann=(1, 3, 9, 15.0, 1, 5.0, 7), bob=(0, 0, 5, 0.0, 0, 0.0, 7), cy=(0, 0, 2, 0.0, 1, 12.0, 7)
    )
    weeks = rfm_summary(TINY, unit="week", calibration_end=datetime(2024, 3, 10, 20, tzinfo=UTC),
                        observation_end=date(2024, 3, 17))  # fmt: skip
    assert by_customer(con, weeks) == with_holdout(
        ann=(1, 1, 1, 15.0, 1, 5.0, 1), bob=(0, 0, 0, 0.0, 0, 0.0, 1), cy=(0, 0, 0, 0.0, 1, 12.0, 1)
    )


def with_holdout(**customers: tuple) -> dict:
    """Rows by customer from (frequency, recency, T, monetary_value, frequency_holdout,
    monetary_value_holdout, duration_holdout)."""
    names = ("frequency", "recency", "T", "monetary_value", "frequency_holdout",
             "monetary_value_holdout", "duration_holdout")  # fmt: skip
    return {customer: dict(zip(names, row, strict=True)) for customer, row in customers.items()}


def test_months_are_calendar_months(con):
    """ann: 02-29 (Feb), 03-01 (Mar) and 03-31 (Mar, same purchase): frequency 1, recency 1;
    T from Feb to May = 3; monetary = 2 + 3. bob buys in May only: T = 0."""
    orders = ibis.memtable({"person_id": ["ann", "ann", "ann", "bob"],
                            "at": [date(2024, 2, 29), date(2024, 3, 1), date(2024, 3, 31),
                                   date(2024, 5, 2)],
                            "revenue": [1.0, 2.0, 3.0, 4.0]})  # fmt: skip
    assert by_customer(con, rfm_summary(orders, unit="M")) == {
        "ann": dict(frequency=1, recency=1, T=3, monetary_value=5.0),
        "bob": dict(frequency=0, recency=0, T=0, monetary_value=0.0),
    }


def test_without_amounts_and_with_unknown_amounts(con):
    """amount=None: no value columns. A null amount adds nothing; a purchase with no known
    amount is left out of the mean: ann's repeat purchases are 03-02 (unknown) and 03-03 (6)."""
    orders = ibis.memtable({"person_id": ["ann", "ann", "ann", None],
                            "at": [date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3),
                                   date(2024, 3, 9)],
                            "revenue": [None, None, 6.0, 1.0]})  # fmt: skip
    assert by_customer(con, rfm_summary(orders, amount=None)) == {
        "ann": dict(frequency=2, recency=2, T=2)  # the order without a person is not there
    }
    assert by_customer(con, rfm_summary(orders))["ann"]["monetary_value"] == 6.0


DATASETS = {"hand": ("hand_transactions.csv", ".csv", "2024-01-31"),
            "cdnow": ("cdnow_sample_transactions.csv.gz", ".csv.gz", "1998-06-30")}  # fmt: skip
"""Each dataset's transactions, the ending of lifetimes' files, and the observation end."""
each_lifetimes_case = pytest.mark.parametrize(
    ("dataset", "unit"), [(dataset, unit) for dataset in DATASETS for unit in ("D", "W")]
)


def lifetimes_case(con, dataset: str, kind: str, unit: str):
    """The transactions, the observation end, and lifetimes' rows by customer of one case."""
    path, ext, end = DATASETS[dataset]
    want = expected(con, f"lifetimes_{dataset}_{kind}{ext}", unit=unit)
    return read_transactions(con, path), date.fromisoformat(end), want


@each_lifetimes_case
def test_summary_equals_lifetimes(con, dataset, unit):
    transactions, end, want = lifetimes_case(con, dataset, "summary", unit)
    got = rfm_summary(transactions, customer="customer_id", timestamp="date", amount="amount",
                      unit=unit, calibration_end=end)  # fmt: skip
    same = {c: c for c in ("frequency", "recency", "T", "monetary_value")}
    assert_matches(by_customer(con, got), want, same)


@each_lifetimes_case
def test_calibration_and_holdout_equal_lifetimes(con, dataset, unit):
    """Equal to lifetimes' calibration_and_holdout_data, but for monetary_value_holdout where a
    holdout period has several transactions: lifetimes averages transactions, we purchases."""
    transactions, end, want = lifetimes_case(con, dataset, "calibration_holdout", unit)
    (calibration_end,) = {row["calibration_end"] for row in want.values()}
    got = by_customer(con, rfm_summary(
        transactions, customer="customer_id", timestamp="date", amount="amount", unit=unit,
        calibration_end=calibration_end, observation_end=end,
    ))  # fmt: skip
    columns = {"frequency": "frequency_cal", "recency": "recency_cal", "T": "T_cal",
               "monetary_value": "monetary_value_cal", "frequency_holdout": "frequency_holdout",
               "duration_holdout": "duration_holdout"}  # fmt: skip
    assert_matches(got, want, columns)
    single = {k: v for k, v in want.items() if not v["holdout_period_with_several"]}
    assert single
    assert_matches({k: got[k] for k in single}, single,
                   {"monetary_value_holdout": "monetary_value_holdout"})  # fmt: skip


def test_holdout_value_is_the_mean_purchase(con):
    """hand_transactions.csv, days, calibration to 01-14, holdout to 01-31: c1's holdout is one
    purchase on 01-20 of 6 + 1 = 7 (lifetimes: 3.5, the mean transaction); c5's holdout is 01-15
    (7) and 01-28 (5 + 5 = 10): 8.5 (lifetimes: 17 / 3)."""
    got = by_customer(con, rfm_summary(
        read_transactions(con, "hand_transactions.csv"), customer="customer_id",
        timestamp="date", amount="amount", calibration_end=date(2024, 1, 14),
        observation_end=date(2024, 1, 31),
    ))  # fmt: skip
    assert (got["c1"]["frequency_holdout"], got["c1"]["monetary_value_holdout"]) == (1, 7.0)
    assert (got["c5"]["frequency_holdout"], got["c5"]["monetary_value_holdout"]) == (2, 8.5)
    assert "c4" not in got  # first purchase after the calibration end


def test_compressed_summary(con):
    """cdnow, days: the weights count every customer once, and expand back to the summary."""
    summary = rfm_summary(read_transactions(con, "cdnow_sample_transactions.csv.gz"),
                          customer="customer_id", timestamp="date", amount="amount")  # fmt: skip
    compressed = con.to_pyarrow(compress_rfm(summary))
    assert pc.sum(compressed["weight"]).as_py() == 2357
    assert compressed.num_rows < 2357
    full = con.to_pyarrow(summary.group_by(["frequency", "recency", "T"]).agg(n=summary.count()))
    assert sorted(zip(*compressed.to_pydict().values(), strict=True)) == sorted(
        zip(*full.to_pydict().values(), strict=True)
    )


def test_errors_teach(con):
    with pytest.raises(ConfigError, match=r"Unknown time unit 'weak'.*'week'"):
        rfm_summary(TINY, unit="weak")
    with pytest.raises(SchemaError, match=r"lacks the column\(s\) \['amount'\].*'revenue'"):
        rfm_summary(TINY, amount="amount")
    text = ibis.memtable({"person_id": ["a"], "at": ["19970101"], "revenue": [1.0]})
    with pytest.raises(SchemaError, match="'at' must be a date or a timestamp; got string"):
        rfm_summary(text)
    with pytest.raises(ConfigError, match="give calibration_end"):
        rfm_summary(TINY, observation_end=date(2024, 3, 17))
    with pytest.raises(ConfigError, match="must not be before calibration_end"):
        rfm_summary(TINY, calibration_end=date(2024, 3, 10), observation_end=date(2024, 3, 9))
    with pytest.raises(SchemaError, match=r"RFM summary lacks the column\(s\) \['T'\]"):
        compress_rfm(ibis.memtable({"frequency": [0], "recency": [0]}))


def test_docstring_examples():
    assert doctest.testmod(summary_module).failed == 0


START = datetime(2024, 1, 1, tzinfo=UTC)
transactions_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d", "e"]),
        st.integers(min_value=0, max_value=60 * 24 * 3),  # hours: up to 180 days
        st.floats(min_value=0, max_value=1e4, allow_nan=False),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=25, deadline=None)
@given(rows=transactions_strategy, unit=st.sampled_from(["D", "W", "M"]), seed=st.randoms())
def test_invariants(con, rows, unit, seed):
    """recency <= T; frequency <= recency (one purchase a period at most), so <= the number of
    periods; monetary value >= 0; weights count the customers; order does not matter."""
    table = pa.table({
        "person_id": [r[0] for r in rows],
        "at": pa.array([START + timedelta(hours=r[1]) for r in rows], pa.timestamp("us", "UTC")),
        "revenue": [r[2] for r in rows],
    })  # fmt: skip
    summary = con.to_pyarrow(rfm_summary(ibis.memtable(table), unit=unit)).sort_by("customer_id")
    for row in summary.to_pylist():
        assert 0 <= row["frequency"] <= row["recency"] <= row["T"]
        assert row["monetary_value"] >= 0
    assert summary.num_rows == len({r[0] for r in rows})
    compressed = con.to_pyarrow(compress_rfm(ibis.memtable(summary)))
    assert pc.sum(compressed["weight"]).as_py() == summary.num_rows
    shuffled = table.take(seed.sample(range(len(rows)), len(rows)))
    again = con.to_pyarrow(rfm_summary(ibis.memtable(shuffled), unit=unit)).sort_by("customer_id")
    assert again["customer_id"] == summary["customer_id"]
    for column in summary.column_names[1:]:
        assert again[column].to_pylist() == pytest.approx(summary[column].to_pylist(), rel=1e-12)
