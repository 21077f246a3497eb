"""Model comparison, journey roles and cross-channel influence: hand-computed cases."""

from __future__ import annotations

import doctest
import math

import ibis
import numpy as np
import pandas as pd
import pytest

from omnimetrics.attribution import NO_TOUCH, attribute, compare
from omnimetrics.attribution.compare import (
    compare_models,
    cross_channel_influence,
    influence_summary,
    journey_roles,
)
from omnimetrics.errors import ConfigError, SchemaError
from tests.helpers import touches as journeys

# Model a ranks display < email < search < direct; b is the exact reverse; c swaps display and
# email of a. Each model's shares sum to 1.
SHARES = {
    "a": {"display": 0.1, "email": 0.2, "search": 0.3, "direct": 0.4},
    "b": {"display": 0.4, "email": 0.3, "search": 0.2, "direct": 0.1},
    "c": {"display": 0.2, "email": 0.1, "search": 0.3, "direct": 0.4},
}


def tidy(shares: dict[str, dict[str, float]], **extra: dict[str, object]) -> pd.DataFrame:
    rows = [
        {"model": model, "channel": channel, "conversions": 10 * share, "revenue": 0.0,
         "share": share, **{name: values[model] for name, values in extra.items()}}
        for model, per_channel in shares.items() for channel, share in per_channel.items()
    ]  # fmt: skip
    return pd.DataFrame(rows)


def pair(comparison, a: str, b: str) -> pd.Series:
    agreement = comparison.agreement
    return agreement[(agreement.model_a == a) & (agreement.model_b == b)].iloc[0]


def test_shares_pivot_and_largest_shift():
    comparison = compare_models(ibis.memtable(tidy(SHARES)))
    shares = comparison.shares
    assert list(shares.columns) == [
        "channel", "a", "b", "c", "min_share", "max_share", "largest_shift", "lowest_model",
        "highest_model",
    ]  # fmt: skip
    # direct and display both shift 0.4 - 0.1 = 0.3 (tie broken by name), email 0.2, search 0.1.
    assert list(shares.channel) == ["direct", "display", "email", "search"]
    display = shares.set_index("channel").loc["display"]
    assert (display.a, display.b, display.c) == (0.1, 0.4, 0.2)
    assert display.largest_shift == pytest.approx(0.3)
    assert (display.lowest_model, display.highest_model) == ("a", "b")
    search = shares.set_index("channel").loc["search"]
    assert search.largest_shift == pytest.approx(0.1)
    assert (search.lowest_model, search.highest_model) == ("b", "a")  # a and c tie: first wins


def test_rank_agreement_by_hand():
    comparison = compare_models(tidy(SHARES))
    # a vs c: ranks 1 2 3 4 and 2 1 3 4, d^2 = 2, rho = 1 - 6*2/(4*15) = 0.8; one discordant
    # pair of six: tau = (5 - 1)/6.
    a_c = pair(comparison, "a", "c")
    assert a_c.spearman == pytest.approx(0.8)
    assert a_c.kendall == pytest.approx(2 / 3)
    assert a_c.top_channel_same and a_c.top_a == "direct"
    assert a_c.ranked_values == 4 and a_c.note is None
    a_b = pair(comparison, "a", "b")  # reversed order
    assert a_b.spearman == pytest.approx(-1.0) and a_b.kendall == pytest.approx(-1.0)
    assert not a_b.top_channel_same and a_b.top_b == "display"
    # b vs c: ranks 4 3 2 1 and 2 1 3 4, d^2 = 18, rho = 1 - 108/60.
    assert pair(comparison, "b", "c").spearman == pytest.approx(-0.8)
    assert list(comparison.agreement.model_a + comparison.agreement.model_b) == ["ab", "bc", "ac"]
    lines = comparison.summary()
    assert "Models disagree most on direct: 10% (b) to 40% (a)." in lines
    assert "Lowest agreement: a vs b (Spearman -1.00)." in lines
    assert "The top channel differs: a -> direct, b -> display, c -> direct." in lines


def test_perfect_agreement_gives_one():
    same_order = {"a": SHARES["a"], "d": {"display": 0.05, "email": 0.15, "search": 0.3, "direct": 0.5}}  # fmt: skip
    row = pair(compare_models(tidy(same_order)), "a", "d")
    assert row.spearman == pytest.approx(1.0) and row.kendall == pytest.approx(1.0)
    assert "Every model ranks direct first." in compare_models(tidy(same_order)).summary()


def test_two_channels_or_constant_shares_give_nan_with_a_note_and_no_warning():
    # filterwarnings = error: any scipy ConstantInputWarning would fail this test.
    two = compare_models(tidy({"a": {"x": 0.3, "y": 0.7}, "b": {"x": 0.6, "y": 0.4}}))
    row = pair(two, "a", "b")
    assert math.isnan(row.spearman) and math.isnan(row.kendall)
    assert "fewer than 3 channel values (2)" in row.note
    assert any("Rank agreement is undefined" in line for line in two.summary())
    flat = {"a": SHARES["a"], "e": dict.fromkeys(SHARES["a"], 0.25)}
    row = pair(compare_models(tidy(flat)), "a", "e")
    assert math.isnan(row.spearman) and "e give(s) every channel the same share" in row.note


def test_no_touch_row_is_kept_apart_and_non_additive_models_left_out():
    # Model a reports 20% of orders without a touch; its channel shares are of the other 80%.
    with_none = {
        "a": {**{c: 0.8 * s for c, s in SHARES["a"].items()}, NO_TOUCH: 0.2},
        "c": SHARES["c"],
        "p": {"display": 0.9, "email": 0.9, "search": 0.1, "direct": 0.1},  # participation
    }
    table = tidy(with_none, additive={"a": True, "c": True, "p": False})
    comparison = compare_models(table)
    assert comparison.compared == ("a", "c")
    shares = comparison.shares.set_index("channel")
    assert shares.loc["direct", "a"] == pytest.approx(0.4)  # 0.32 / (1 - 0.2)
    assert shares.loc["display", "p"] == 0.9  # shown as given
    assert comparison.shares.channel.iloc[-1] == NO_TOUCH
    assert shares.loc[NO_TOUCH, "a"] == 0.2 and math.isnan(shares.loc[NO_TOUCH, "largest_shift"])
    assert shares.loc["display", "largest_shift"] == pytest.approx(0.1)  # p not counted
    assert comparison.agreement[["model_a", "model_b"]].values.tolist() == [["a", "c"]]
    assert pair(comparison, "a", "c").spearman == pytest.approx(0.8)
    lines = comparison.summary()
    assert lines[0].startswith("Left out of the comparison") and "p." in lines[0]
    assert lines[-1].startswith("From 0% (c) to 20% (a) of orders have no attributable touch")


def test_missing_column_is_explained():
    with pytest.raises(SchemaError, match=r"'chanel'.*Did you mean 'channel'"):
        compare_models(tidy(SHARES), by="chanel")


# O1: A > B > C, O2: A > C, O3: B alone.
ROLE_JOURNEYS = [("O1", "A", 3, 10.0, "web"), ("O1", "B", 2, 10.0, "web"), ("O1", "C", 1, 10.0, "web"),
                 ("O2", "A", 2, 5.0, "web"), ("O2", "C", 1, 5.0, "web"), ("O3", "B", 0, 1.0, "web")]  # fmt: skip
ROLES = [
    # A opens both journeys; B is in the middle of O1 and alone in O3; C closes both.
    {"channel": "A", "touches": 2, "opening": 2, "middle": 0, "closing": 0, "only": 0,
     "early_share": 1.0, "middle_share": 0.0, "late_share": 0.0, "only_share": 0.0, "role": "opener"},
    {"channel": "B", "touches": 2, "opening": 0, "middle": 1, "closing": 0, "only": 1,
     "early_share": 0.0, "middle_share": 0.5, "late_share": 0.0, "only_share": 0.5, "role": "assist"},
    {"channel": "C", "touches": 2, "opening": 0, "middle": 0, "closing": 2, "only": 0,
     "early_share": 0.0, "middle_share": 0.0, "late_share": 1.0, "only_share": 0.0, "role": "closer"},
]  # fmt: skip


def test_journey_roles_by_hand():
    assert journey_roles(journeys(ROLE_JOURNEYS)).to_pyarrow().to_pylist() == ROLES


# S1 (store, 100): display then a store visit, 0.5 / 0.5 under linear; S2 (store, 60): a store
# visit only; W1 (web, 40): one email.
SALES = [("S1", "display", 3, 100.0, "store"), ("S1", "store", 1, 100.0, "store"),
         ("S2", "store", 0, 60.0, "store"), ("W1", "email", 2, 40.0, "web")]  # fmt: skip


def test_cross_channel_influence_by_hand():
    rows = cross_channel_influence(journeys(SALES), "linear").to_pyarrow().to_pylist()
    got = {(r["sales_channel"], r["channel"]): r for r in rows}
    assert set(got) == {("store", "store"), ("store", "display"), ("web", "email")}
    store = got["store", "store"]
    assert store["conversions"] == pytest.approx(1.5) and store["revenue"] == pytest.approx(110)
    assert store["share_of_sales_channel"] == pytest.approx(0.75)
    assert not store["online_touch"] and not store["online_sale"]
    display = got["store", "display"]
    assert display["conversions"] == pytest.approx(0.5) and display["revenue"] == pytest.approx(50)
    assert display["share_of_sales_channel"] == pytest.approx(0.25) and display["online_touch"]
    email = got["web", "email"]
    assert (email["conversions"], email["revenue"], email["share_of_sales_channel"]) == (1, 40, 1)
    assert email["online_touch"] and email["online_sale"]
    per_sale = pd.DataFrame(rows).groupby("sales_channel").conversions.sum()
    assert per_sale.to_dict() == pytest.approx({"store": 2, "web": 1})  # one credit per order


def test_influence_summary_by_hand():
    summary = influence_summary(cross_channel_influence(journeys(SALES), "linear"))
    store, web = summary.set_index("sales_channel").loc[["store", "web"]].to_dict("records")
    assert store["conversions"] == pytest.approx(2) and store["revenue"] == pytest.approx(160)
    assert store["online_credit_share"] == pytest.approx(0.25)
    assert store["offline_credit_share"] == pytest.approx(0.75)
    assert store["online_revenue_share"] == pytest.approx(50 / 160)
    assert store["summary"] == "store sales: 25% of credit goes to online touchpoints"
    assert web["online_credit_share"] == 1 and web["offline_revenue_share"] == 0
    assert web["summary"] == "web sales: 0% of credit goes to offline touchpoints"


def test_cross_channel_influence_of_a_data_driven_model_by_hand():
    with pytest.raises(ConfigError, match="non-converting"):
        cross_channel_influence(journeys(SALES), "markov")
    with pytest.raises(ConfigError, match="choose an additive model"):
        cross_channel_influence(journeys(SALES), "participation")
    lost = ibis.memtable({"person_id": ["p"], "position": [1], "channel": ["display"]})
    rows = cross_channel_influence(journeys(SALES), "markov", non_converting=lost)
    got = {(r["sales_channel"], r["channel"]): r for r in rows.to_pyarrow().to_pylist()}
    # Store: start -> display 2/3, -> store 1/3; display -> store 1/2, -> null 1/2; P = 2/3.
    # Without display P = 1/3 (RE 1/2), without store 0 (RE 1): display 1/3 of 2 orders.
    assert got["store", "display"]["conversions"] == pytest.approx(2 / 3)
    assert got["store", "display"]["revenue"] == pytest.approx(160 / 3)
    assert got["store", "store"]["share_of_sales_channel"] == pytest.approx(2 / 3)
    assert got["store", "display"]["online_touch"] and not got["store", "store"]["online_touch"]
    # Web: the lost display journey never converts: email takes it all.
    assert got["web", "email"]["conversions"] == pytest.approx(1.0)
    assert ("web", "display") not in got


# O1: display > email > direct (100), O2: paid_search > direct (50), O3: direct (10); O4 has no
# touch (7), as in tests/test_attribution_rules.py.
RULE_JOURNEYS = [("O1", "display", 14, 100.0, "web"), ("O1", "email", 7, 100.0, "web"),
                 ("O1", "direct", 0, 100.0, "web"), ("O2", "paid_search", 1, 50.0, "web"),
                 ("O2", "direct", 0, 50.0, "web"), ("O3", "direct", 0, 10.0, "store")]  # fmt: skip


def test_compare_models_on_attribute_output():
    orders = ibis.memtable(
        {"order_id": ["O1", "O2", "O3", "O4"], "revenue": [100.0, 50.0, 10.0, 7.0]}
    )
    models = ["first_touch", "last_touch", "linear", "participation", "position_based"]
    comparison = compare_models(attribute(journeys(RULE_JOURNEYS), models, orders=orders))
    assert comparison.models == tuple(models)
    assert "participation" not in comparison.compared  # additive == False: shown, not compared
    shares = comparison.shares.set_index("channel")
    # Of the 3 attributable orders: first touch 1/3 each to display, paid search and direct;
    # last touch all to direct; linear direct (1/3 + 1/2 + 1)/3 = 11/18.
    assert shares.loc["direct", "first_touch"] == pytest.approx(1 / 3)
    assert shares.loc["direct", "last_touch"] == pytest.approx(1.0)
    assert shares.loc["direct", "linear"] == pytest.approx(11 / 18)
    assert shares.loc["email", "first_touch"] == 0
    top = comparison.shares.iloc[0]
    assert top.channel == "direct" and top.largest_shift == pytest.approx(2 / 3)
    assert (top.lowest_model, top.highest_model) == ("first_touch", "last_touch")
    assert shares.loc[NO_TOUCH, "linear"] == pytest.approx(0.25)
    assert len(comparison.agreement) == 6 and comparison.agreement.note.isna().all()
    lines = comparison.summary()
    assert lines[1] == "Models disagree most on direct: 33% (first_touch) to 100% (last_touch)."
    assert lines[-1].startswith("25% of orders have no attributable touch")


def test_rank_correlations_are_scipys_without_importing_it():
    from scipy import stats

    from omnimetrics.attribution.compare import rank_correlations

    rng = np.random.default_rng(7)
    for n in (3, 5, 12, 40, 1500):  # ties in one, the other or both; more pairs than one step
        x = rng.integers(0, 4, n).astype(float) if n % 2 else rng.random(n)
        y = rng.integers(0, 3, n).astype(float) if n > 12 else rng.random(n)
        expected = (stats.spearmanr(x, y).statistic, stats.kendalltau(x, y).statistic)
        assert rank_correlations(x, y) == pytest.approx(expected, abs=1e-12)
    with np.errstate(all="raise"):
        assert all(map(math.isnan, rank_correlations(np.ones(4), np.arange(4.0))))
    assert doctest.testmod(compare).failed == 0
