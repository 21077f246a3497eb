"""Rule-based attribution: hand-computed credits, invariants, registry."""

from __future__ import annotations

import ibis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimetrics.attribution import MODELS, NO_TOUCH, attribute, define_model, get_model, models_for
from omnimetrics.attribution.rules import touch_credits
from omnimetrics.errors import ConfigError, UnknownNameError
from tests.helpers import touches


def credits(model: str, registry=None) -> dict[str, float]:
    rows = attribute(touches(), [model], registry=registry).to_pyarrow().to_pylist()
    return {r["channel"]: r["conversions"] for r in rows}


EXPECTED = {
    "first_touch": {"display": 1, "paid_search": 1, "direct": 1},
    "last_touch": {"direct": 3},
    "last_non_direct": {"email": 1, "paid_search": 1, "direct": 1},
    "linear": {"display": 1 / 3, "email": 1 / 3, "direct": 1 / 3 + 1 / 2 + 1, "paid_search": 1 / 2},
    "position_based": {"display": 0.4, "email": 0.2, "direct": 0.4 + 0.5 + 1, "paid_search": 0.5},
    "j_shaped": {"display": 0.2, "email": 0.2, "direct": 0.6 + 0.75 + 1, "paid_search": 0.25},
    "inverse_j": {"display": 0.6, "email": 0.2, "direct": 0.2 + 0.25 + 1, "paid_search": 0.75},
    # weights 2^(-days/7): O1 0.25, 0.5, 1 (sum 1.75); O2 2^(-1/7), 1; O3 1.
    "time_decay": {
        "display": 0.25 / 1.75,
        "email": 0.5 / 1.75,
        "direct": 1 / 1.75 + 1 / (1 + 2 ** (-1 / 7)) + 1,
        "paid_search": 2 ** (-1 / 7) / (1 + 2 ** (-1 / 7)),
    },
    # every last touch is at the order's time: same session
    "same_touch": {"direct": 3},
    # orders each channel took part in (not additive: 6 credits for 3 orders)
    "participation": {"display": 1, "email": 1, "direct": 3, "paid_search": 1},
}


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_hand_computed_credits(model):
    got = credits(model)
    assert set(got) == set(EXPECTED[model])
    for channel, value in EXPECTED[model].items():
        assert got[channel] == pytest.approx(value, abs=1e-9), channel


RULE_MODELS = sorted(name for name, model in MODELS.items() if model.weigh is not None)


def test_same_touch_needs_the_order_session_and_reports_the_rest():
    # O1's last touch is 2 hours before its order: no same-session touch, kept under NO_TOUCH.
    late = [("O1", "email", 1 / 12, 80.0), ("O2", "store", 0, 20.0), ("O2", "store", 0, 20.0)]
    rows = attribute(touches(late), ["same_touch"]).to_pyarrow().to_pylist()
    by = {r["channel"]: r for r in rows}
    assert by[NO_TOUCH]["conversions"] == 1 and by[NO_TOUCH]["revenue"] == 80.0
    # Two store touches at the same instant (a tie): the one ordered last gets it all.
    assert by["store"]["conversions"] == 1 and by["store"]["share"] == 0.5


def test_participation_is_flagged_as_not_additive():
    rows = attribute(touches(), ["participation", "linear"]).to_pyarrow().to_pylist()
    participation = [r for r in rows if r["model"] == "participation"]
    assert all(not r["additive"] for r in participation)
    assert all(r["additive"] for r in rows if r["model"] == "linear")
    assert sum(r["conversions"] for r in participation) == 6  # 3 orders
    assert {r["channel"]: r["share"] for r in participation}["direct"] == 1.0
    assert {r["channel"]: r["revenue"] for r in participation}["display"] == 100.0


def test_path_table_touches_carry_their_conversions():
    import pyarrow as pa

    from omnimetrics.attribution import PathTable

    paths = PathTable.from_arrow(pa.table({
        "path": [["display", "direct"], ["direct"], [], ["display"]],
        "conversions": [3.0, 2.0, 1.0, 0.0], "nulls": [1.0, 5.0, 0.0, 4.0],
        "value": [300.0, 40.0, 9.0, 0.0],
    }))  # fmt: skip
    rows = attribute(paths, ["position_based", "participation"]).to_pyarrow().to_pylist()
    got = {(r["model"], r["channel"]): (r["conversions"], r["revenue"]) for r in rows}
    assert got[("position_based", "display")] == pytest.approx((1.5, 150.0))
    assert got[("position_based", "direct")] == pytest.approx((3.5, 190.0))
    assert got[("position_based", NO_TOUCH)] == pytest.approx((1.0, 9.0))
    assert got[("participation", "direct")] == pytest.approx((5.0, 340.0))
    with pytest.raises(ConfigError, match="time of every touch"):
        attribute(paths, ["time_decay"])


def test_every_registered_rule_model_is_checked_by_hand():
    assert set(RULE_MODELS) == set(EXPECTED)


def test_revenue_and_shares_and_orders_without_touch():
    orders = ibis.memtable(
        {"order_id": ["O1", "O2", "O3", "O4"], "revenue": [100.0, 50.0, 10.0, 7.0]}
    )
    rows = attribute(touches(), ["position_based"], orders=orders).to_pyarrow().to_pylist()
    by = {r["channel"]: r for r in rows}
    assert by[NO_TOUCH]["conversions"] == 1 and by[NO_TOUCH]["revenue"] == 7.0
    assert by["display"]["revenue"] == pytest.approx(40.0)
    assert sum(r["conversions"] for r in rows) == pytest.approx(4)
    assert sum(r["revenue"] for r in rows) == pytest.approx(167.0)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)


journeys = st.lists(
    st.tuples(st.integers(0, 5), st.sampled_from(["direct", "email", "display", "seo"]),
              st.integers(0, 29), st.floats(0.01, 1000)),
    min_size=1, max_size=30,
)  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(journeys)
def test_credits_sum_to_one_per_order_and_conserve_revenue(rows):
    revenue = {}
    data = []
    for order, channel, days, amount in rows:
        order_id = f"O{order}"
        revenue.setdefault(order_id, amount)  # one revenue per order
        data.append((order_id, channel, days, revenue[order_id]))
    table = touches(data)
    for model in RULE_MODELS:
        spec = get_model(model)
        credited = touch_credits(table, model).to_pyarrow().to_pandas()
        assert (credited.credit >= -1e-12).all(), model
        per_order = credited.groupby("order_id").credit.sum().to_numpy()
        if not spec.additive:
            assert (credited.credit == 1.0).all(), model
            continue
        if spec.abstains:  # all or nothing per order; what is left is reported, not lost
            assert all(c == pytest.approx(1.0) or c == 0.0 for c in per_order), model
            rows = attribute(table, [model]).to_pyarrow().to_pylist()
            assert sum(r["conversions"] for r in rows) == pytest.approx(len(per_order)), model
            assert sum(r["revenue"] for r in rows) == pytest.approx(sum(revenue.values())), model
            continue
        assert per_order == pytest.approx(1.0), model
        assert credited.attributed_revenue.sum() == pytest.approx(sum(revenue.values())), model


def test_registry_refuses_duplicates_and_explains_unknown_names():
    with pytest.raises(ConfigError, match="twice"):
        MODELS.extended({"linear": define_model("again", "time_decay", half_life_days=2)})
    with pytest.raises(UnknownNameError, match="Did you mean 'linear'"):
        get_model("lineer")


def test_user_defined_position_and_decay_models():
    registry = models_for([
        {"name": "u_30_50", "kind": "position_based", "first": 0.3, "last": 0.5},
        {"name": "decay_1d", "kind": "time_decay", "half_life_days": 1},
    ])  # fmt: skip
    got = {m: credits(m, registry) for m in ("u_30_50", "decay_1d")}
    # O1 (3 touches): 0.3 / 0.2 / 0.5; O2 (2 touches): 0.3/0.8 and 0.5/0.8; O3: 1.
    assert got["u_30_50"] == pytest.approx({"display": 0.3, "email": 0.2, "paid_search": 0.375,
                                            "direct": 0.5 + 0.625 + 1})  # fmt: skip
    o1 = 2**-14 + 2**-7 + 1  # weights halve every day: 14 and 7 days before, then 0
    assert got["decay_1d"]["display"] == pytest.approx(2**-14 / o1)
    assert got["decay_1d"]["paid_search"] == pytest.approx(0.5 / 1.5)
    assert registry["u_30_50"].doc.startswith("30% first, 50% last")
    with pytest.raises(ConfigError, match="built-in"):
        define_model("linear", "time_decay", half_life_days=2)
    with pytest.raises(ConfigError, match="first \\+ last"):
        define_model("bad", "position_based", first=0.7, last=0.6)
    with pytest.raises(ConfigError, match="half_life_days"):
        define_model("bad", "time_decay", days=2)
    with pytest.raises(ConfigError, match="> 0 days"):
        define_model("bad", "time_decay", half_life_days=0)
    with pytest.raises(ConfigError, match="kind"):
        define_model("bad", "w_shaped", first=0.2, last=0.2)
    with pytest.raises(ConfigError, match="needs a name and a kind"):
        models_for([{"name": "no_kind"}])
    with pytest.raises(ConfigError, match="twice"):
        models_for([{"name": "d", "kind": "time_decay", "half_life_days": 1}] * 2)


def test_registries_of_different_projects_coexist_and_leave_the_built_ins_alone():
    built_in = list(MODELS)
    shop = models_for([{"name": "mine", "kind": "position_based", "first": 0.5, "last": 0.5}])
    store = models_for([{"name": "mine", "kind": "time_decay", "half_life_days": 3}])
    assert list(MODELS) == built_in and "mine" not in MODELS
    assert shop["mine"].doc != store["mine"].doc
    assert list(shop)[: len(built_in)] == built_in and len(shop) == len(built_in) + 1
    # O2: paid search a day before, direct at the order: 50/50 in the shop, decay favours direct
    assert credits("mine", shop)["paid_search"] == pytest.approx(0.5)
    assert credits("mine", store)["paid_search"] == pytest.approx(
        2 ** (-1 / 3) / (1 + 2 ** (-1 / 3))
    )
    with pytest.raises(UnknownNameError, match="attribution model 'mine'"):
        attribute(touches(), ["mine"])
