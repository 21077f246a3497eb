"""Attribution reports: the same numbers as the functions they orchestrate, and what they add."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime

import ibis
import pyarrow as pa
import pytest

from omnimetrics.attribution import (
    NO_TOUCH,
    PathTable,
    attribute,
    attribution_report,
    cross_channel_influence,
    influence_report,
    models_for,
    month_paths,
    path_file_report,
    path_table_report,
    paths_report,
    relabelled,
    select_orders,
)
from omnimetrics.attribution.aggregate import SUMS
from omnimetrics.errors import ConfigError, SchemaError, UnknownNameError

MARCH = [datetime(2026, 3, day, tzinfo=UTC) for day in (1, 5, 7)]
APRIL = datetime(2026, 4, 10, tzinfo=UTC)
SEGMENT = {"since": date(2026, 3, 1), "until": date(2026, 3, 31)}


def journeys():
    """O1 (web, 1 March, a first order): display > email, 100; O2 (store, 5 March): email, 50;
    O3 (web, 10 April): direct, 10; O4 (web, 7 March): no touch, 20. Not converting: p1 display,
    p2 email > display."""
    touches = ibis.memtable({
        "order_id": ["O1", "O1", "O2", "O3"], "position": [1, 2, 1, 1],
        "channel": ["display", "email", "email", "direct"], "campaign": ["d", "e", "e", None],
        "touch_at": [MARCH[0], MARCH[0], MARCH[1], APRIL],
        "order_at": [MARCH[0], MARCH[0], MARCH[1], APRIL],
        "revenue": [100.0, 100.0, 50.0, 10.0], "sales_channel": ["web", "web", "store", "web"],
        "first_order": [True, True, False, True], "person_id": ["a", "a", "b", "c"],
    })  # fmt: skip
    orders = ibis.memtable({
        "order_id": ["O1", "O2", "O3", "O4"], "revenue": [100.0, 50.0, 10.0, 20.0],
        "order_at": [MARCH[0], MARCH[1], APRIL, MARCH[2]],
        "sales_channel": ["web", "store", "web", "web"],
    })  # fmt: skip
    lost = ibis.memtable({
        "person_id": ["p1", "p2", "p2"], "position": [1, 1, 2],
        "channel": ["display", "email", "display"], "campaign": ["d", "e", "d"],
    })  # fmt: skip
    return touches, orders, lost


def rows(table: pa.Table, *columns: str) -> dict:
    return {tuple(r[c] for c in columns[:-1]): r[columns[-1]] for r in table.to_pylist()}


def test_credit_is_what_attribute_gives_for_the_segment():
    touches, orders, lost = journeys()
    models = ["linear", "markov", "shapley"]
    report = attribution_report(touches, orders, lost, models=models, **SEGMENT)
    direct = attribute(select_orders(touches, **SEGMENT), models,
                       orders=select_orders(orders, **SEGMENT), non_converting=lost).to_pyarrow()  # fmt: skip
    assert report.credit.equals(direct)
    linear = rows(report.credit.filter(pa.compute.equal(report.credit["model"], "linear")),
                  "channel", "conversions")  # fmt: skip
    assert linear == pytest.approx({("display",): 0.5, ("email",): 1.5, (NO_TOUCH,): 1.0})
    assert report.comparison is None and report.roles is None and report.transitions is None
    web = attribution_report(touches, orders, lost, models=["last_touch"],
                             sales_channels=["web"], **SEGMENT).credit  # fmt: skip
    assert rows(web, "channel", "conversions") == {("email",): 1.0, (NO_TOUCH,): 1.0}


def test_spend_adds_costs_over_the_same_days():
    touches, orders, lost = journeys()
    spend = ibis.memtable({
        "date": [date(2026, 3, 2), date(2026, 3, 3), date(2026, 4, 2)],
        "channel": ["email", "display", "display"], "campaign": ["e", "d", "d"],
        "spend": [30.0, 10.0, 99.0],
    })  # fmt: skip
    report = attribution_report(touches, orders, lost, models=["linear"], spend=spend, **SEGMENT)
    got = {r["channel"]: r for r in report.credit.to_pylist()}
    # linear: email 0.5 (O1) + 1 (O2), display 0.5; first orders: O1 only
    assert got["email"]["spend"] == 30 and got["email"]["cost_per_conversion"] == 20
    assert got["email"]["new_customers"] == 0.5 and got["email"]["cac"] == 60
    assert got["display"]["spend"] == 10 and got["display"]["cac"] == 20
    assert got["email"]["roas"] == pytest.approx((50 + 50) / 30)
    with pytest.raises(SchemaError, match="first_order"):
        attribution_report(touches.drop("first_order"), orders, lost, models=["linear"],
                           spend=spend, **SEGMENT)  # fmt: skip


def test_paths_by_month_by_hand():
    touches, orders, lost = journeys()
    rows = month_paths(touches, orders, lost).to_pyarrow().to_pylist()
    got = {(r["month"], tuple(r["path"])): tuple(r[c] for c in SUMS) for r in rows}
    march, april = date(2026, 3, 1), date(2026, 4, 1)
    assert got == {  # conversions, value, first_orders, first_value, nulls
        (march, ("display", "email")): (1.0, 100.0, 1.0, 100.0, 0.0),
        (march, ("email",)): (1.0, 50.0, 0.0, 0.0, 0.0),
        (april, ("direct",)): (1.0, 10.0, 1.0, 10.0, 0.0),
        (march, ()): (1.0, 20.0, None, None, 0.0),  # O4: no touch; the orders do not say first
        (None, ("display",)): (0.0, 0.0, 0.0, 0.0, 1.0),
        (None, ("email", "display")): (0.0, 0.0, 0.0, 0.0, 1.0),
    }
    both = month_paths(touches, orders, lost, by=["channel", "campaign"])
    for key in ("channel", "campaign"):  # one pass over the journeys gives either
        cut = relabelled(both, ["channel", "campaign"], [key]).to_pyarrow().to_pylist()
        alone = month_paths(touches, orders, lost, by=[key]).to_pyarrow().to_pylist()
        assert sorted(map(str, cut)) == sorted(map(str, alone))


def test_the_paths_of_whole_months_answer_as_the_journeys_do():
    touches, orders, lost = journeys()
    spend = ibis.memtable({"date": [date(2026, 3, 2), date(2026, 4, 2)], "channel": ["email",
                           "direct"], "campaign": ["e", None], "spend": [30.0, 5.0]})  # fmt: skip
    asked = {"models": ["first_touch", "linear", "markov", "participation"], "intervals": 30,
             "seed": 2, "spend": spend, "compare": True, "transitions": True, **SEGMENT}  # fmt: skip
    stored = paths_report(month_paths(touches, orders, lost), **asked)
    live = attribution_report(touches, orders, lost, **asked)
    assert stored.credit.equals(live.credit)  # intervals and seeds included
    assert stored.roles.equals(live.roles) and stored.transitions.equals(live.transitions)
    # CAC: March spend over first orders (O1 only: display > email); Markov fitted on O1 and
    # the two journeys that did not convert credits email 2/3 of O1 (removal effects 1 and 1/2)
    cac = {key: value for key, value in rows(stored.credit, "model", "channel", "cac").items()
           if value is not None}  # fmt: skip
    assert cac == pytest.approx({("linear", "email"): 60.0, ("markov", "email"): 45.0,
                                 ("participation", "email"): 30.0})  # fmt: skip
    with pytest.raises(ConfigError, match="first day"):
        paths_report(month_paths(touches, orders, lost), models=["linear"], since=date(2026, 3, 2))
    with pytest.raises(ConfigError, match="time or the channel"):
        paths_report(month_paths(touches, orders, lost), models=["time_decay"])


def test_a_models_credit_does_not_depend_on_the_models_asked_with_it():
    touches, orders, lost = journeys()
    both = attribution_report(touches, orders, lost, models=["time_decay", "linear"],
                              intervals=25, seed=1, **SEGMENT).credit  # fmt: skip
    alone = attribution_report(touches, orders, lost, models=["linear"], intervals=25, seed=1,
                               **SEGMENT).credit  # fmt: skip
    assert both.filter(pa.compute.equal(both["model"], "linear")).equals(alone)
    assert both.column("model").to_pylist()[0] == "linear"  # ordered as `attribute` orders


def test_rule_models_on_paths_by_channel_and_campaign_are_those_on_the_touches():
    touches, orders, lost = journeys()
    keys = ["channel", "campaign"]
    models = ["first_touch", "last_non_direct", "linear", "position_based"]
    report = attribution_report(touches, orders, lost, models=models, by=keys, **SEGMENT)
    direct = attribute(select_orders(touches, **SEGMENT), models, by=keys,
                       orders=select_orders(orders, **SEGMENT)).to_pyarrow()  # fmt: skip
    assert report.credit.equals(direct)


def test_comparison_roles_and_the_first_markov_models_transitions():
    touches, orders, lost = journeys()
    report = attribution_report(touches, orders, lost, models=["linear", "markov_2", "markov"],
                                compare=True, transitions=True, **SEGMENT)  # fmt: skip
    assert report.comparison.models == ("linear", "markov", "markov_2")
    assert {r["channel"]: r["role"] for r in report.roles.to_pylist()} == {
        "display": "opener", "email": "closer"}  # fmt: skip
    assert report.markov_model == "markov_2"
    moves = set(zip(report.transitions.from_state, report.transitions.to_state, strict=True))
    assert ("display", "display > email") in moves and ("email", "(conversion)") in moves
    with pytest.raises(ConfigError, match="needs a Markov model"):
        attribution_report(touches, orders, lost, models=["linear", "shapley"], transitions=True)


def test_a_projects_own_models_reach_every_report():
    touches, orders, lost = journeys()
    registry = models_for([{"name": "u_10_90", "kind": "position_based", "first": 0.1,
                            "last": 0.9}])  # fmt: skip
    credit = attribution_report(touches, orders, lost, models=["u_10_90"], registry=registry,
                                **SEGMENT).credit  # fmt: skip
    assert rows(credit, "channel", "conversions") == pytest.approx(
        {("display",): 0.1, ("email",): 1.9, (NO_TOUCH,): 1.0})  # fmt: skip
    with pytest.raises(UnknownNameError, match="u_10_90"):
        attribution_report(touches, orders, lost, models=["u_10_90"])
    table, summary = influence_report(touches, lost, "u_10_90", registry=registry)
    assert rows(table, "sales_channel", "channel", "conversions") == pytest.approx(
        {("store", "email"): 1.0, ("web", "display"): 0.1, ("web", "email"): 0.9,
         ("web", "direct"): 1.0})  # fmt: skip
    assert len(summary) == 2 and summary[0].startswith("store sales")


def test_influence_report_is_cross_channel_influence_and_its_summary():
    touches, _, lost = journeys()
    table, summary = influence_report(touches, lost, "markov")
    assert table.equals(
        cross_channel_influence(touches, "markov", non_converting=lost).to_pyarrow()
    )
    assert summary == [
        "store sales: 100% of credit goes to online touchpoints",
        "web sales: 0% of credit goes to offline touchpoints",
    ]


def path_table() -> PathTable:
    return PathTable.from_arrow(pa.table({
        "path": pa.array([["email", "display"], ["display", "email", "email"], [], ["search"],
                          ["direct", "email"]], pa.list_(pa.string())),
        "conversions": [3.0, 1.0, 2.0, 0.0, 1.0], "nulls": [10.0, 0.0, 0.0, 7.0, 2.0],
        "value": [300.0, 20.0, 15.0, 0.0, 40.0],
    }))  # fmt: skip


@pytest.mark.parametrize("models", [["markov", "shapley", "markov_3"], ["linear", "markov"]])
def test_path_table_credit_is_what_attribute_gives(models):
    paths = path_table()
    report = path_table_report(paths, models=models, intervals=20, seed=4)
    direct = attribute(paths, models, intervals=20, seed=4).to_pandas()
    mine = report.credit.to_pandas()
    assert list(mine.columns) == list(direct.columns)
    assert mine.drop(columns=mine.select_dtypes("number").columns).equals(
        direct.drop(columns=direct.select_dtypes("number").columns)
    )
    numbers = mine.select_dtypes("number").columns
    assert mine[numbers].to_numpy() == pytest.approx(direct[numbers].to_numpy(), nan_ok=True)


def test_path_table_transforms_comparison_and_transitions(tmp_path):
    paths = path_table()
    report = path_table_report(paths, models=["linear", "markov"], drop=["direct"],
                               compare=True, transitions=True)  # fmt: skip
    assert "direct" not in set(report.credit["channel"].to_pylist())
    assert report.comparison.by == "channel" and report.roles is None
    assert "(conversion)" in set(report.transitions.to_state)
    file = tmp_path / "paths.csv"
    file.write_text("journey;conv;lost\nemail > display;3;10\ndisplay>email>email;1;0\n")
    read = path_file_report(file, path="journey", conversions="conv", nulls="lost",
                            models=["markov"])  # fmt: skip
    assert sum(read.credit["conversions"].to_pylist()) == pytest.approx(4)
    with pytest.raises(ConfigError, match="path transform"):
        path_table_report(paths, models=["markov"], transform="reverse")


def test_a_path_table_file_is_attributed_without_loading_an_engine_pandas_or_scipy(tmp_path):
    file = tmp_path / "paths.csv"
    file.write_text("path,conversions,nulls,value\na > b,3,2,10\nb,1,1,5\n,1,0,2\n")
    code = (
        "import sys\n"
        "from omnimetrics.attribution import path_file_report\n"
        f"report = path_file_report({str(file)!r}, models=['markov', 'shapley'])\n"
        "assert report.credit.num_rows == 6, report.credit\n"
        "print(sorted(m for m in ('ibis', 'duckdb', 'pandas', 'scipy') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
