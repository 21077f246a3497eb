"""Cohorts: every cell of a tiny table worked out by hand (5 people over 4 months), cut by first
sales channel and by a segment with unknown values, weekly periods, the end date, and the
acquisition channel from attribution credit."""

from __future__ import annotations

import doctest
from datetime import UTC, date, datetime

import ibis
import pytest

from omnimetrics.clv import cohorts as cohorts_module
from omnimetrics.clv.cohorts import COHORT_COLUMNS, acquisition_channels, cohorts
from omnimetrics.errors import ConfigError, SchemaError
from tests import test_clv_summary as summary_tests


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


# p1 Jan 3 web 10, Jan 20 store 20, Mar 5 web 30     cohort Jan, first sales channel web
# p2 Jan 15 store 50, Apr 2 store 10                 cohort Jan, store
# p3 Feb 1 web 40, Feb 2 web 5, Mar 10 app 15,
#    Apr 30 web 25                                   cohort Feb, web
# p4 Feb 28 app 100                                  cohort Feb, app
# p5 Mar 31 23:00 UTC web 60, Apr 1 web 20           cohort Mar, web
# an order without a person (Jan 10, 999) is no one's.
ORDERS = ibis.memtable({
    "order_id": ["o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8", "o9", "o10", "o11", "o12",
                 "o13"],
    "person_id": ["p1", "p1", "p1", "p2", "p2", "p3", "p3", "p3", "p3", "p4", "p5", "p5", None],
    "at": [at(1, 3), at(1, 20), at(3, 5), at(1, 15), at(4, 2), at(2, 1), at(2, 2), at(3, 10),
           at(4, 30), at(2, 28), at(3, 31, 23), at(4, 1), at(1, 10)],
    "revenue": [10.0, 20.0, 30.0, 50.0, 10.0, 40.0, 5.0, 15.0, 25.0, 100.0, 60.0, 20.0, 999.0],
    "sales_channel": ["web", "store", "web", "store", "store", "web", "web", "app", "web", "app",
                      "web", "web", "web"],
    "segment": ["omni", "omni", "omni", "single", "single", "omni", "omni", "omni", "omni", None,
                None, None, None],
})  # fmt: skip


con = summary_tests.con  # the module's DuckDB connection, in UTC


def cells(con, table, columns):
    return [tuple(row[c] for c in columns) for row in con.to_pyarrow(table).to_pylist()]


JAN, FEB, MAR = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)


def test_every_cell_by_hand(con):
    """Month cohorts up to April, the month of the latest order.

    Jan (p1, p2; size 2): Jan p1 2 orders 30 + p2 50: active 2, 3 orders, 80; p1's second order
    is in Jan: 1 repeater. Feb: nobody. Mar: p1 30. Apr: p2 10, p2's second order: 2 repeaters.
    Cumulative revenue 80, 80, 110, 120: per customer 40, 40, 55, 60.
    Feb (p3, p4): Feb p3 45 (2 orders) + p4 100: 145, p3 repeats; Mar p3 15; Apr p3 25:
    cumulative 145, 160, 185 -> 72.5, 80, 92.5. Mar (p5, 23:00 UTC on the 31st is March): Mar
    60, Apr 20 and its second order: cumulative 60, 80.
    """
    table = cohorts(ORDERS)
    assert table.columns == COHORT_COLUMNS
    assert cells(con, table, COHORT_COLUMNS) == [
        # cohort, period, customers, active, rate, orders, revenue, repeat, rate, cum, per cust.
        (JAN, 0, 2, 2, 1.0, 3, 80.0, 1, 0.5, 80.0, 40.0),
        (JAN, 1, 2, 0, 0.0, 0, 0.0, 1, 0.5, 80.0, 40.0),
        (JAN, 2, 2, 1, 0.5, 1, 30.0, 1, 0.5, 110.0, 55.0),
        (JAN, 3, 2, 1, 0.5, 1, 10.0, 2, 1.0, 120.0, 60.0),
        (FEB, 0, 2, 2, 1.0, 3, 145.0, 1, 0.5, 145.0, 72.5),
        (FEB, 1, 2, 1, 0.5, 1, 15.0, 1, 0.5, 160.0, 80.0),
        (FEB, 2, 2, 1, 0.5, 1, 25.0, 1, 0.5, 185.0, 92.5),
        (MAR, 0, 1, 1, 1.0, 1, 60.0, 0, 0.0, 60.0, 60.0),
        (MAR, 1, 1, 1, 1.0, 1, 20.0, 1, 1.0, 80.0, 80.0),
    ]


def test_by_first_sales_channel(con):
    """p1's first order is on the web (its store order does not move it); p3 stays web though it
    bought on the app later. Jan store = p2; Jan web = p1; Feb app = p4; Feb web = p3."""
    table = cohorts(ORDERS, by="sales_channel")
    columns = ["cohort", "sales_channel", "period", "customers", "active", "revenue",
               "repeat_customers", "cumulative_revenue_per_customer"]  # fmt: skip
    assert cells(con, table, columns) == [
        (JAN, "store", 0, 1, 1, 50.0, 0, 50.0),
        (JAN, "store", 1, 1, 0, 0.0, 0, 50.0),
        (JAN, "store", 2, 1, 0, 0.0, 0, 50.0),
        (JAN, "store", 3, 1, 1, 10.0, 1, 60.0),
        (JAN, "web", 0, 1, 1, 30.0, 1, 30.0),
        (JAN, "web", 1, 1, 0, 0.0, 1, 30.0),
        (JAN, "web", 2, 1, 1, 30.0, 1, 60.0),
        (JAN, "web", 3, 1, 0, 0.0, 1, 60.0),
        (FEB, "app", 0, 1, 1, 100.0, 0, 100.0),
        (FEB, "app", 1, 1, 0, 0.0, 0, 100.0),
        (FEB, "app", 2, 1, 0, 0.0, 0, 100.0),
        (FEB, "web", 0, 1, 1, 45.0, 1, 45.0),
        (FEB, "web", 1, 1, 1, 15.0, 1, 60.0),
        (FEB, "web", 2, 1, 1, 25.0, 1, 85.0),
        (MAR, "web", 0, 1, 1, 60.0, 0, 60.0),
        (MAR, "web", 1, 1, 1, 20.0, 1, 80.0),
    ]


def test_unknown_segment_is_its_own_group(con):
    """p4 and p5 have no segment: each is a cohort of one under a null segment, not dropped."""
    table = cohorts(ORDERS, by=["segment"])
    rows = cells(con, table.filter(table.segment.isnull()), ["cohort", "period", "customers",
                                                            "active", "revenue"])  # fmt: skip
    assert rows == [(FEB, 0, 1, 1, 100.0), (FEB, 1, 1, 0, 0.0), (FEB, 2, 1, 0, 0.0),
                    (MAR, 0, 1, 1, 60.0), (MAR, 1, 1, 1, 20.0)]  # fmt: skip
    sizes = table.filter(table.period == 0)
    assert sorted(con.to_pyarrow(sizes.customers).to_pylist()) == [1, 1, 1, 1, 1]


def test_weeks_and_end(con):
    """Weeks start on Monday: p5's Sunday 2024-03-31 is in the week of 03-25 and its Monday
    04-01 in the next. The latest order (Tue 04-30) is in the week of 04-29: periods 0 to 5.
    With end = 03-31 April is left out: p5 has period 0 only, and Jan's cohort ends in March."""
    weekly = cohorts(ORDERS, unit="week")
    p5 = weekly.filter(weekly.cohort == date(2024, 3, 25))
    assert cells(con, p5, ["period", "customers", "active", "repeat_customers"]) == [
        (0, 1, 1, 0), (1, 1, 1, 1), (2, 1, 0, 1), (3, 1, 0, 1), (4, 1, 0, 1), (5, 1, 0, 1),
    ]  # fmt: skip
    cut = cohorts(ORDERS, end=date(2024, 3, 31))
    assert cells(con, cut, ["cohort", "period", "revenue", "repeat_customers"]) == [
        (JAN, 0, 80.0, 1), (JAN, 1, 0.0, 1), (JAN, 2, 30.0, 1),
        (FEB, 0, 145.0, 1), (FEB, 1, 15.0, 1),
        (MAR, 0, 60.0, 0),
    ]  # fmt: skip


def test_ties_of_first_orders_go_to_the_lowest_order_id(con):
    """Two orders at the same instant: the first is o1 (store), whatever the rows' order."""
    orders = ibis.memtable({"order_id": ["o2", "o1"], "person_id": ["p", "p"],
                            "at": [at(1, 1), at(1, 1)], "revenue": [1.0, 2.0],
                            "sales_channel": ["app", "store"]})  # fmt: skip
    table = cohorts(orders, by="sales_channel")
    assert cells(con, table, ["sales_channel", "orders", "repeat_customers"]) == [("store", 2, 1)]


def test_acquisition_channel_from_credit(con):
    """p1's first order: search 0.6, email 0.4 -> search; p2's: email and social 0.5 each ->
    email (by name); p3's only credited order is not a first order: not listed, so its cohort
    row has a null acquisition channel."""
    credited = ibis.memtable({
        "person_id": ["p1", "p1", "p2", "p2", "p3"],
        "channel": ["search", "email", "social", "email", "search"],
        "first_order": [True, True, True, True, False],
        "credit": [0.6, 0.4, 0.5, 0.5, 1.0],
    })  # fmt: skip
    channels = acquisition_channels(credited)
    assert sorted(cells(con, channels, ["person_id", "acquisition_channel"])) == [
        ("p1", "search"), ("p2", "email")]  # fmt: skip
    orders = ORDERS.filter(ORDERS.person_id.isin(["p1", "p2", "p3"]))
    joined = orders.left_join(channels, "person_id").drop("person_id_right")
    table = cohorts(joined, by="acquisition_channel")
    first = table.filter(table.period == 0)
    assert cells(con, first, ["cohort", "acquisition_channel", "customers"]) == [
        (JAN, "email", 1), (JAN, "search", 1), (FEB, None, 1)]  # fmt: skip


def test_errors_teach():
    with pytest.raises(ConfigError, match="Unknown time unit 'quarter'"):
        cohorts(ORDERS, unit="quarter")
    with pytest.raises(SchemaError, match=r"\['channel'\]. Did you mean 'sales_channel'"):
        cohorts(ORDERS, by="channel")
    with pytest.raises(SchemaError, match=r"credit table lacks the column\(s\) \['credit'\]"):
        acquisition_channels(ORDERS.mutate(channel=ORDERS.sales_channel,
                                           first_order=ibis.literal(True)))  # fmt: skip


def test_docstring_examples():
    assert doctest.testmod(cohorts_module).failed == 0
