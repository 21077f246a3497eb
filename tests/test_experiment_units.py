"""Experiment units and their per-variant sufficient statistics, on a tiny warehouse where every
number is computed by hand, and on a simulated world against the simulator's truth."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import ibis
import pytest

from omnimetrics import journeys as jr
from omnimetrics.config import Settings
from omnimetrics.errors import ConfigError, SchemaError, UnknownNameError
from omnimetrics.experiments.units import (
    METRICS,
    experiment_summary,
    experiment_units,
    experiments,
    unit_counts,
    unit_metrics,
)
from omnimetrics.metrics.facts import Facts
from tests.helpers import NOW, SECRET, loaded_world, write

# Experiment "subject" (A/B, by customer): C1, C2, C7 see A; C3, C4, C6 see B. C5 is stored in
# both variants (excluded), C6 has no timestamp (exposed on the first day, 03-10 00:00), C8
# refused analytics consent (excluded), C3's email is a second unit of C3 (excluded: same
# person, assigned later). C7 is in no identity graph: a unit without behaviour.
ASSIGNMENTS = """experiment,variant,unit_type,unit_id,timestamp
subject,A,customer_id,C1,2026-03-10T00:00:00Z
subject,A,customer_id,C2,2026-03-10T12:00:00Z
subject,B,customer_id,C3,2026-03-11T00:00:00Z
subject,B,customer_id,C4,2026-03-11T00:00:00Z
subject,A,customer_id,C5,2026-03-10T00:00:00Z
subject,B,customer_id,C6,
subject,A,customer_id,C7,2026-03-11T09:00:00Z
subject,B,customer_id,C8,2026-03-11T00:00:00Z
subject,B,email,c3@example.com,2026-03-12T00:00:00Z
other_test,X,customer_id,C1,2026-03-01T00:00:00Z
"""
CUSTOMERS = """customer_id,email,consent_analytics
C1,c1@example.com,true
C2,,true
C3,c3@example.com,true
C4,,true
C5,,true
C6,,true
C8,,false
"""
ORDERS = """order_id,timestamp,sales_channel,revenue,currency,customer_id
O1,2026-03-09T12:00:00Z,web,100,EUR,C1
O2,2026-03-12T00:00:00Z,web,40,EUR,C1
O3,2026-03-25T00:00:00Z,web,60,EUR,C1
O4,2026-03-10T06:00:00Z,web,30,EUR,C2
O5,2026-03-11T00:00:00Z,web,50,EUR,C3
O6,2026-03-13T00:00:00Z,store,20,EUR,C3
O7,2026-03-15T00:00:00Z,web,999,EUR,C5
O8,2026-03-10T08:00:00Z,web,10,EUR,C6
O9,2026-03-15T00:00:00Z,web,500,EUR,C8
O10,2026-03-15T00:00:00Z,store,7,EUR,
O11,2026-02-01T00:00:00Z,web,5,EUR,C2
"""
TOUCHES = """event_id,timestamp,event_type,customer_id,source,medium,campaign
s1,2026-03-09T10:00:00Z,email_send,C1,newsletter,email,spring
s1o,2026-03-09T12:00:00Z,email_open,C1,newsletter,email,spring
s2,2026-03-12T10:00:00Z,email_send,C1,newsletter,email,spring
s2o,2026-03-12T12:00:00Z,email_open,C1,newsletter,email,spring
s2c,2026-03-12T12:01:00Z,email_click,C1,newsletter,email,spring
s3,2026-03-12T10:00:00Z,email_send,C2,newsletter,email,spring
s4,2026-03-12T10:00:00Z,email_send,C3,newsletter,email,spring
s4o,2026-03-12T14:00:00Z,email_open,C3,newsletter,email,spring
s5,2026-03-13T10:00:00Z,email_send,C3,newsletter,email,spring
s6,2026-03-12T10:00:00Z,email_send,C4,newsletter,email,spring
"""


def load(wh, tmp_path, tables):
    for table, text in tables:
        report = wh.ingest(table, write(tmp_path / f"{table}.csv", text), now=NOW)
        assert report.quarantined == 0, report.reasons


def stored_again(wh, of: str, **changes) -> None:
    """A copy of the stored assignment of unit `of` with `changes`, written past the ingest."""
    stored = wh.table("experiment_assignments")
    row = stored.filter(stored.unit_id == of)
    row = row.mutate(**{k: ibis.literal(v, type=stored[k].type()) for k, v in changes.items()})
    wh.insert("experiment_assignments", wh.materialize(row))


def build_shop(wh, folder):
    """The hand-built warehouse: files ingested, C5 stored again in B, identities, events."""
    load(wh, folder, [("customers", CUSTOMERS), ("orders", ORDERS), ("touchpoints", TOUCHES),
                      ("experiment_assignments", ASSIGNMENTS)])  # fmt: skip
    # The ingest keeps one row per (experiment, unit_type, unit_id): a unit in two variants
    # can only come from another writer of the warehouse.
    stored_again(wh, "C5", variant="B")
    wh.resolve_identities()
    jr.build_events(wh)
    return wh


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The hand-built warehouse on DuckDB, built once: the tests only read it."""
    import omnimetrics

    folder = tmp_path_factory.mktemp("experiment-shop")
    wh = omnimetrics.connect(folder / "shop.duckdb", settings=Settings(secret=SECRET))
    yield build_shop(wh, folder)
    wh.close()


def rows(summary) -> dict:
    """{variant: {column: value}} (or {(variant, period): ...} with periods)."""
    out = {}
    for row in summary.to_pylist():
        key = (row.pop("variant"), row.pop("period")) if "period" in row else row.pop("variant")
        out[key] = row
    return out


def test_units_exposure_persons_and_exclusions(shop):
    units = experiment_units(shop, "subject").to_pyarrow().to_pylist()
    by_unit = {u["unit_id"] if u["unit_type"] == "customer_id" else "email": u for u in units}
    assert len(units) == 9  # C5's two rows are one unit
    excluded = {k: u["excluded"] for k, u in by_unit.items() if u["excluded"]}
    assert excluded == {"C5": "several_variants", "C8": "consent_refused", "email": "same_person"}
    assert by_unit["C6"]["assigned_at"] is None
    assert by_unit["C6"]["exposed_at"] == datetime(2026, 3, 10, tzinfo=UTC)  # the first day
    assert by_unit["C2"]["exposed_at"] == datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert by_unit["C7"]["person_id"] is None  # in no identity graph
    assert by_unit["C8"]["person_id"] is None  # refused consent: not linked
    assert by_unit["email"]["person_id"] == by_unit["C3"]["person_id"] is not None
    listing = {r.pop("experiment"): r for r in experiments(shop).to_pylist()}
    assert listing["subject"] == {
        "variants": ["A", "B"], "assignments": 10,
        "first_assignment": datetime(2026, 3, 10, tzinfo=UTC),
        "last_assignment": datetime(2026, 3, 12, tzinfo=UTC), "undated": 1,
    }  # fmt: skip
    assert listing["other_test"]["assignments"] == 1 and listing["other_test"]["variants"] == ["X"]
    assert unit_counts(shop, "subject") == {"units": 6, "undated": 1, "several_variants": 1,
                                            "same_person": 1, "consent_refused": 1}  # fmt: skip
    everything = experiment_units(shop).to_pyarrow().to_pylist()
    assert sorted(u["unit_id"] for u in everything if u["experiment"] == "subject") == sorted(
        u["unit_id"] for u in units
    )
    assert [u["excluded"] for u in everything if u["experiment"] == "other_test"] == [None]


def test_conversion_revenue_and_orders_after_exposure(shop):
    # A: C1 (O2 40, O3 60; O1 was before exposure), C2 (O4 before exposure), C7 (nothing).
    # B: C3 (O5 at the exposure instant, O6), C4 (nothing), C6 (O8 after the first day).
    conversion = rows(experiment_summary(shop, "subject", "conversion"))
    assert conversion == {"A": {"units": 3, "conversions": 1}, "B": {"units": 3, "conversions": 2}}
    revenue = rows(experiment_summary(shop, "subject", "revenue"))
    assert revenue == {"A": {"units": 3, "sum": 100.0, "sum_squares": 100.0**2},
                       "B": {"units": 3, "sum": 80.0, "sum_squares": 70.0**2 + 10.0**2}}  # fmt: skip
    orders = rows(experiment_summary(shop, "subject", "orders"))
    assert orders == {"A": {"units": 3, "sum": 2.0, "sum_squares": 4.0},
                      "B": {"units": 3, "sum": 3.0, "sum_squares": 2.0**2 + 1.0}}  # fmt: skip


def test_window_counts_only_the_first_days_after_exposure(shop):
    # C1's O3 comes 15 days after exposure: out of a 7-day window; C3's orders are in it.
    revenue = rows(experiment_summary(shop, "subject", "revenue", window_days=7))
    assert revenue["A"] == {"units": 3, "sum": 40.0, "sum_squares": 1600.0}
    assert revenue["B"] == {"units": 3, "sum": 80.0, "sum_squares": 5000.0}
    # Half a day: only O5 (at C3's exposure) and O8 (8 hours after C6's).
    conversion = rows(experiment_summary(shop, "subject", "conversion", window_days=0.5))
    assert conversion == {"A": {"units": 3, "conversions": 0}, "B": {"units": 3, "conversions": 2}}


def test_average_basket_is_a_ratio_of_per_unit_sums(shop):
    basket = rows(experiment_summary(shop, "subject", "average_basket"))
    # Per unit (revenue, orders): A (100, 2), (0, 0), (0, 0); B (70, 2), (0, 0), (10, 1).
    assert basket["A"] == {"units": 3, "sum": 100.0, "sum_squares": 10000.0,
                           "denominator_sum": 2.0, "denominator_sum_squares": 4.0,
                           "cross_sum": 200.0}  # fmt: skip
    assert basket["B"] == {"units": 3, "sum": 80.0, "sum_squares": 5000.0,
                           "denominator_sum": 3.0, "denominator_sum_squares": 5.0,
                           "cross_sum": 70.0 * 2 + 10.0 * 1}  # fmt: skip


def test_cuped_covariate_is_the_metric_over_the_days_before_exposure(shop):
    revenue = rows(experiment_summary(shop, "subject", "revenue", covariate_days=28))
    # A: y = (100, 0, 0); x = (O1 100, O4 30 (O11 is 37 days before), 0).
    assert revenue["A"] == {"units": 3, "sum": 100.0, "sum_squares": 10000.0,
                            "covariate_sum": 130.0, "covariate_sum_squares": 100.0**2 + 30.0**2,
                            "covariate_cross_sum": 100.0 * 100.0}  # fmt: skip
    assert revenue["B"]["covariate_sum"] == 0.0 and revenue["B"]["covariate_cross_sum"] == 0.0
    conversion = rows(experiment_summary(shop, "subject", "conversion", covariate_days=28))
    assert conversion["A"] == {"units": 3, "conversions": 1, "covariate_sum": 2.0,
                               "covariate_sum_squares": 2.0, "covariate_cross_sum": 1.0}  # fmt: skip
    per_unit = unit_metrics(shop, "subject", "revenue", covariate_days=28).to_pyarrow()
    assert set(per_unit.column_names) >= {"variant", "value", "covariate", "exposed_at"}
    with pytest.raises(ConfigError, match="ratio metric 'average_basket'"):
        experiment_summary(shop, "subject", "average_basket", covariate_days=28)


def test_email_metrics_per_unit_and_per_send(shop):
    # After exposure: C1 one send, opened and clicked (s1 was before); C2 one send; C3 two
    # sends, one opened; C4 one send.
    click_rate = rows(experiment_summary(shop, "subject", "click_rate"))
    assert click_rate["A"] == {"units": 3, "sum": 1.0, "sum_squares": 1.0, "denominator_sum": 2.0,
                               "denominator_sum_squares": 2.0, "cross_sum": 1.0}  # fmt: skip
    assert click_rate["B"] == {"units": 3, "sum": 0.0, "sum_squares": 0.0, "denominator_sum": 3.0,
                               "denominator_sum_squares": 5.0, "cross_sum": 0.0}  # fmt: skip
    open_rate = rows(experiment_summary(shop, "subject", "open_rate"))
    assert open_rate["B"]["sum"] == 1.0 and open_rate["B"]["cross_sum"] == 2.0
    assert rows(experiment_summary(shop, "subject", "click")) == {
        "A": {"units": 3, "conversions": 1},
        "B": {"units": 3, "conversions": 0},
    }
    opened = rows(experiment_summary(shop, "subject", "open", covariate_days=28))
    assert opened["A"]["conversions"] == 1 and opened["A"]["covariate_sum"] == 1.0  # s1o


def test_periods_of_exposure_are_increments(shop):
    summary = experiment_summary(shop, "subject", "conversion", by_period="day")
    assert rows(summary) == {
        ("A", date(2026, 3, 10)): {"units": 2, "conversions": 1},
        ("A", date(2026, 3, 11)): {"units": 1, "conversions": 0},
        ("B", date(2026, 3, 10)): {"units": 1, "conversions": 1},
        ("B", date(2026, 3, 11)): {"units": 2, "conversions": 1},
    }
    about = json.loads(summary.schema.metadata[b"omnimetrics"])
    assert about["metric"] == "conversion" and about["kind"] == "proportion"
    assert about["unit_counts"]["several_variants"] == 1


def test_periods_by_week_start_on_monday(shop):
    # Exposures on Tue 03-10, Wed 03-11 and Thu 03-12: one week, from Monday 03-09.
    total = rows(experiment_summary(shop, "subject", "revenue"))
    weekly = rows(experiment_summary(shop, "subject", "revenue", by_period="week"))
    assert weekly == {("A", date(2026, 3, 9)): total["A"], ("B", date(2026, 3, 9)): total["B"]}


BOUNDS = """experiment,variant,unit_type,unit_id,timestamp
t,A,customer_id,C1,2026-03-08T23:59:59.999999Z
t,A,customer_id,C2,2026-03-09T00:00:00Z
t,B,customer_id,C3,
t,B,customer_id,C4,2026-03-15T23:59:59Z
t,B,customer_id,C5,2026-03-16T00:00:00.000001Z
t,B,customer_id,C6,2026-03-16T00:00:00Z
"""


def test_the_period_of_an_exposure_is_its_utc_day_or_monday_week(wh, tmp_path):
    # Sunday 03-08 is the first day (C3, undated, is exposed then); weeks start on Mondays
    # 03-02, 03-09 and 03-16. C6 is also stored again with a second variant (excluded).
    load(wh, tmp_path, [("orders", ORDERS), ("experiment_assignments", BOUNDS)])
    stored_again(wh, "C6", variant="A")
    wh.resolve_identities()
    daily = experiment_summary(wh, "t", "conversion", by_period="day")
    assert {key: row["units"] for key, row in rows(daily).items()} == {
        ("A", date(2026, 3, 8)): 1, ("A", date(2026, 3, 9)): 1,
        ("B", date(2026, 3, 8)): 1, ("B", date(2026, 3, 15)): 1, ("B", date(2026, 3, 16)): 1,
    }  # fmt: skip
    weekly = experiment_summary(wh, "t", "conversion", by_period="week")
    assert {key: row["units"] for key, row in rows(weekly).items()} == {
        ("A", date(2026, 3, 2)): 1, ("A", date(2026, 3, 9)): 1,
        ("B", date(2026, 3, 2)): 1, ("B", date(2026, 3, 9)): 1, ("B", date(2026, 3, 16)): 1,
    }  # fmt: skip
    # The counts of the summary's own query are those of the units.
    about = json.loads(weekly.schema.metadata[b"omnimetrics"])
    assert about["unit_counts"] == unit_counts(wh, "t") == {
        "units": 5, "undated": 1, "several_variants": 1, "same_person": 0, "consent_refused": 0,
    }  # fmt: skip


def test_facts_of_a_window_are_read_as_given(shop):
    facts = Facts(shop, since=date(2026, 3, 1), until=date(2026, 3, 20))
    revenue = rows(experiment_summary(facts, "subject", "revenue"))
    assert revenue["A"]["sum"] == 40.0  # O3 (03-25) is after `until`
    # Facts whose orders were built already (by KPIs) give the same sums from them.
    built = Facts(shop)
    assert built.orders.count().execute() == 11
    assert rows(experiment_summary(built, "subject", "average_basket")) == rows(
        experiment_summary(shop, "subject", "average_basket"))  # fmt: skip


def test_errors_say_what_and_what_to_do(shop, wh_empty):
    with pytest.raises(UnknownNameError, match="Did you mean 'subject'"):
        experiment_summary(shop, "subjet", "conversion")
    with pytest.raises(UnknownNameError, match="Unknown experiment metric 'convertion'"):
        experiment_summary(shop, "subject", "convertion")
    with pytest.raises(ConfigError, match="window_days must be"):
        experiment_summary(shop, "subject", "revenue", window_days=0)
    with pytest.raises(ConfigError, match="by_period"):
        experiment_summary(shop, "subject", "revenue", by_period="hour")
    with pytest.raises(SchemaError, match="omnimetrics ingest experiment_assignments"):
        experiments(wh_empty)
    assert sorted(METRICS) == sorted(["conversion", "revenue", "orders", "average_basket", "open",
                                      "click", "open_rate", "click_rate"])  # fmt: skip


@pytest.fixture
def wh_empty(tmp_path):
    import omnimetrics

    warehouse = omnimetrics.connect(tmp_path / "empty.duckdb", settings=Settings(secret=SECRET))
    yield warehouse
    warehouse.close()


def test_email_metrics_without_touchpoints_and_units_without_timestamps(wh, tmp_path):
    undated = "experiment,variant,unit_type,unit_id,timestamp\nt,A,customer_id,C1,\n"
    load(wh, tmp_path, [("orders", ORDERS), ("experiment_assignments", undated)])
    wh.resolve_identities()
    with pytest.raises(SchemaError, match="No unit of experiment 't' has an assignment time"):
        experiment_summary(wh, "t", "conversion")
    stored_again(wh, "C1", unit_id="C2", variant="B", timestamp=datetime(2026, 3, 10, tzinfo=UTC))
    assert rows(experiment_summary(wh, "t", "orders"))["A"]["sum"] == 2.0  # C1 from 03-10
    with pytest.raises(SchemaError, match="no touchpoints"):
        experiment_summary(wh, "t", "click_rate")


def realised_without_refusals(world, wh) -> dict:
    """The simulator's realised units, sends and clicks per variant, less the units whose
    customer refused analytics consent (they are excluded: their behaviour is not linked)."""
    customers = wh.table("customers")
    refused = customers.filter(customers.consent_analytics == False)  # noqa: E712 - Ibis
    refused = set(refused.customer_id.to_pyarrow().to_pylist())
    persons = world.truth_tables["truth_persons"].to_pandas()
    persons = persons[persons.experiment_variant.notna() & ~persons.customer_id.isin(refused)]
    touches = world.truth_tables["truth_touchpoints"].to_pandas()
    touches = touches.merge(persons[["person_id", "experiment_variant"]], on="person_id")
    out = {}
    for variant in world.truth["experiment"]["variants"]:
        mine = touches[touches.experiment_variant == variant]
        out[variant] = {
            "units": int((persons.experiment_variant == variant).sum()),
            "sends": int((mine.event_type == "email_send").sum()),
            "clicks": int((mine.event_type == "email_click").sum()),
        }
    return out


def check_click_rate_against_truth(folder, customers, days, seed):
    world, wh = loaded_world(folder, customers=customers, days=days, seed=seed)
    try:
        wh.resolve_identities()
        jr.build_events(wh)
        truth = world.truth["experiment"]
        summary = rows(experiment_summary(wh, truth["name"], "click_rate"))
        expected = realised_without_refusals(world, wh)
        refused = sum(truth["realised"][v]["units"] - expected[v]["units"] for v in expected)
        assert refused == unit_counts(wh, truth["name"])["consent_refused"]
        for variant, realised in expected.items():
            got = summary[variant]
            assert (got["units"], got["denominator_sum"], got["sum"]) == (
                realised["units"], realised["sends"], realised["clicks"]), variant  # fmt: skip
        return summary
    finally:
        wh.close()


@pytest.mark.slow  # a simulated world loaded (CI runs the slow set too)
def test_click_rate_per_send_is_the_simulators_realised_rate(tmp_path):
    # The simulator counts every send and click of the persons it put in the test; the
    # warehouse leaves out the units whose customer refused analytics consent, and counts the
    # same sends and clicks for everyone else.
    check_click_rate_against_truth(tmp_path, customers=300, days=60, seed=3)


@pytest.mark.slow
def test_click_rate_per_send_on_a_larger_world(tmp_path):
    summary = check_click_rate_against_truth(tmp_path, customers=3000, days=120, seed=8)
    assert all(summary[v]["sum"] > 20 for v in summary)  # enough clicks to mean something


SUMMARIES = [("conversion", {"covariate_days": 28, "by_period": "day"}),
             ("revenue", {"window_days": 7, "covariate_days": 28}),
             ("average_basket", {}), ("click_rate", {}), ("open", {"covariate_days": 28}),
             ("orders", {"by_period": "week", "window_days": 3})]  # fmt: skip


def test_summaries_parity(engine, shop, tmp_path):
    """The same units and summaries on every engine (DuckDB: the hand-computed tests above)."""
    if engine.name == "duckdb":
        pytest.skip("DuckDB is the reference: the hand-computed tests above run on it")
    wh = build_shop(engine.warehouse(Settings(secret=SECRET)), tmp_path)
    for metric, options in SUMMARIES:
        got = experiment_summary(wh, "subject", metric, **options)
        assert got.to_pylist() == experiment_summary(shop, "subject", metric, **options).to_pylist()
    assert experiments(wh).to_pylist() == experiments(shop).to_pylist()
    assert unit_counts(wh, "subject") == unit_counts(shop, "subject")
