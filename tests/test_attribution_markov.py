"""Markov attribution of order 1-4: chains solved by hand, reductions, invariants, tidy output."""

from __future__ import annotations

from datetime import UTC, datetime

import ibis
import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimetrics.attribution import MarkovAttribution, PathTable, attribute, journey_paths
from omnimetrics.attribution.markov import chain_counts, conversion_probability, removal_effects
from omnimetrics.errors import ConfigError, NotFittedError

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def paths(rows) -> PathTable:
    """rows: (path list, conversions, nulls, value)."""
    return PathTable.from_arrow(pa.table({
        "path": pa.array([r[0] for r in rows], pa.list_(pa.string())),
        "conversions": [float(r[1]) for r in rows], "nulls": [float(r[2]) for r in rows],
        "value": [float(r[3]) for r in rows],
    }))  # fmt: skip


def journeys():
    # Converting: A > B (revenue 30), B (revenue 10). Not converting: A.
    converting = ibis.memtable({
        "order_id": ["o1", "o1", "o2"], "position": [1, 2, 1], "channel": ["A", "B", "B"],
        "campaign": ["a", "b", "b"], "revenue": [30.0, 30.0, 10.0],
        "touch_at": [NOW] * 3, "order_at": [NOW] * 3,
    })  # fmt: skip
    non_converting = ibis.memtable(
        {"person_id": ["p1"], "position": [1], "channel": ["A"], "campaign": ["a"]}
    )
    return converting, non_converting


def test_small_chain_solved_by_hand():
    converting, non_converting = journeys()
    table = PathTable.from_arrow(journey_paths(converting, non_converting).to_pyarrow())
    model = MarkovAttribution().fit(table)
    moves = {(r.from_state, r.to_state): r.transitions for r in model.transitions().itertuples()}
    assert moves == {("(start)", "A"): 2, ("(start)", "B"): 1, ("A", "B"): 1, ("A", "(null)"): 1,
                     ("B", "(conversion)"): 2}  # fmt: skip
    # P(conv) = 2/3 * 1/2 * 1 + 1/3 * 1 = 2/3; without A: 1/3 (RE 1/2); without B: 0 (RE 1).
    assert model.conversion_probability_ == pytest.approx(2 / 3)
    assert model.removal_effects_ == pytest.approx({"A": 0.5, "B": 1.0})
    assert model.credits() == pytest.approx({"A": 1 / 3, "B": 2 / 3})
    rows = attribute(converting, ["markov"], non_converting=non_converting).to_pyarrow().to_pylist()
    by = {r["channel"]: r for r in rows}
    assert by["A"]["conversions"] == pytest.approx(2 / 3)
    assert by["B"]["revenue"] == pytest.approx(40 * 2 / 3)
    by_campaign = attribute(converting, ["markov"], by=["channel", "campaign"],
                            non_converting=non_converting).to_pyarrow().to_pylist()  # fmt: skip
    assert {(r["channel"], r["campaign"]) for r in by_campaign} == {("A", "a"), ("B", "b")}


def test_order_matters_where_it_must():
    # A > B converts, B > A does not. First order: x_B = 1/2 + 1/2 x_A, x_A = 1/2 x_B, so
    # x_B = 2/3, x_A = 1/3, P = 1/2; without A, P = 1/4 (RE 1/2); without B, P = 0 (RE 1).
    # Second order: states remember the previous channel; removing either kills every path.
    table = paths([(["A", "B"], 1, 0, 10), (["B", "A"], 0, 1, 0)])
    first = MarkovAttribution(order=1).fit(table)
    assert first.conversion_probability_ == pytest.approx(0.5)
    assert first.removal_effects_ == pytest.approx({"A": 0.5, "B": 1.0})
    second = MarkovAttribution(order=2).fit(table)
    assert second.conversion_probability_ == pytest.approx(0.5)
    assert second.credits() == pytest.approx({"A": 0.5, "B": 0.5})
    assert set(second.state_names()) == {"(start)", "A", "B", "A > B", "B > A", "(conversion)",
                                         "(null)"}  # fmt: skip


def test_removal_effects_can_credit_a_channel_beyond_its_own_journeys():
    # Why Markov is exempt from the journey bound (docs/attribution.md). X > B never converts
    # (100 journeys), B alone converts 1000 of 1100. Chain: start -> X 100, start -> B 1100,
    # X -> B 100, B -> conversion 1000, B -> null 200: P = 5/6; without X, P = 1100/1200 * 5/6
    # (RE_X = 1/12); without B, P = 0 (RE_B = 1). X gets (1/12) / (13/12) of 1000 = 1000/13
    # conversions although no journey with X converted: the chain forgets where a visit to B
    # came from, and removal effects are shared out over all conversions (Anderl et al. 2016).
    table = paths([(["X", "B"], 0, 100, 0), (["B"], 1000, 100, 0)])
    model = MarkovAttribution().fit(table)
    assert model.removal_effects_ == pytest.approx({"B": 1.0, "X": 1 / 12})
    assert dict(zip(model.labels_, model.conversions_, strict=True)) == pytest.approx(
        {"B": 12000 / 13, "X": 1000 / 13}
    )
    for order in (2, 3, 4):  # a chain of order k forgets X after k more touches
        later = [f"C{i}" for i in range(order)]
        longer = paths([(["X", *later], 0, 100, 0), (later, 1000, 100, 0)])
        assert MarkovAttribution(order=order).fit(longer).credits()["X"] > 0, order


@pytest.mark.parametrize("order", [2, 3, 4])
def test_higher_orders_reduce_to_first_order(order):
    # Single touches, and paths where each channel has one fixed place (prefixes of A > B > C):
    # every longer memory is implied by the current channel, so all orders agree.
    singles = paths([(["A"], 3, 2, 30), (["B"], 1, 4, 5), (["C"], 0, 1, 0)])
    prefixes = paths([(["A"], 1, 5, 10), (["A", "B"], 2, 3, 20), (["A", "B", "C"], 4, 1, 40)])
    for table in (singles, prefixes):
        first = MarkovAttribution(order=1).fit(table)
        higher = MarkovAttribution(order=order).fit(table)
        assert higher.conversion_probability_ == pytest.approx(first.conversion_probability_)
        assert higher.credits() == pytest.approx(first.credits())


def test_linear_chain_probability_and_removal():
    # start -> A (1); A -> B (0.5), A -> null (0.5); B -> conv (0.8), B -> null (0.2)
    matrix = np.zeros((5, 5))
    matrix[0, 1] = 1
    matrix[1, 2], matrix[1, 4] = 0.5, 0.5
    matrix[2, 3], matrix[2, 4] = 0.8, 0.2
    matrix[3, 3] = matrix[4, 4] = 1
    matrix = sp.csr_matrix(matrix)
    assert conversion_probability(matrix) == pytest.approx(0.4)
    # Every path goes through both A and B: removing either kills all conversions.
    slots = np.array([[0], [1]])
    assert removal_effects(slots, matrix, 2) == pytest.approx([1.0, 1.0])


def test_chain_counts_of_order_two_keep_partial_states_at_the_start():
    slots, counts = chain_counts(paths([(["A", "B", "B"], 2, 1, 0)]), order=2)
    # states: (A), (A,B), (B,B) as code rows, -1 = empty slot
    assert sorted(map(tuple, slots.tolist())) == [(-1, 0), (0, 1), (1, 1)]
    assert counts.sum() == 3 * 3 + 3  # 3 moves of 3 journeys, then 2 conversions + 1 null


def test_no_conversion_gives_no_credit_and_misuse_is_explained():
    empty = MarkovAttribution().fit(paths([(["A"], 0, 3, 0)]))
    assert empty.conversion_probability_ == 0 and empty.credits() == {"A": 0.0}
    with pytest.raises(NotFittedError, match="call fit"):
        MarkovAttribution().credits()
    with pytest.raises(ConfigError, match="order"):
        MarkovAttribution(order=5)
    converting, _ = journeys()
    with pytest.raises(ConfigError, match="non-converting"):
        attribute(converting, ["markov"])


def test_state_names_read_oldest_first():
    model = MarkovAttribution(order=3).fit(paths([(["A", "B", "C", "D"], 1, 0, 0)]))
    assert model.state_names()[1:-2] == ["A", "A > B", "A > B > C", "B > C > D"]


def test_fitted_models_follow_the_scikit_learn_contract():
    import doctest

    import omnimetrics.fitted
    from omnimetrics.attribution import ShapleyAttribution

    assert doctest.testmod(omnimetrics.fitted).failed == 0
    table = paths([(["A", "B"], 1, 1, 10)])
    for model in (MarkovAttribution(order=2), ShapleyAttribution(ordered=True)):
        assert not model.is_fitted and not [k for k in vars(model) if k.endswith("_")]
        name = type(model).__name__
        with pytest.raises(NotFittedError, match=f"^{name} is not fitted: call fit first"):
            model.credits()
        assert model.fit(table) is model and model.is_fitted
    assert repr(MarkovAttribution(order=3)) == "MarkovAttribution(order=3)"
    assert ShapleyAttribution(ordered=True).get_params() == {"ordered": True}
    with pytest.raises(NotFittedError):
        MarkovAttribution().state_names()
    with pytest.raises(NotFittedError):
        ShapleyAttribution().position_credits()


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.lists(st.sampled_from("ABCD"), min_size=1, max_size=6),
                       st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=30),
    st.integers(1, 4),
)  # fmt: skip
def test_counts_in_blocks_and_sparse_matrices_equal_dense_counts_in_one_go(rows, order):
    from omnimetrics.attribution import markov

    table = paths([(path, c, n, 0) for path, c, n in rows])
    slots, whole = markov.chain_counts(table, order)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(markov, "BLOCK", 3)  # a block every 3 touches (whole paths)
        patch.setattr(markov, "DENSE_LIMIT", 4)  # sparse sums and np.unique states
        patch.setattr(markov, "DENSE_STATES", 0)
        block_slots, blocks = markov.chain_counts(table, order)
        sparse = MarkovAttribution(order).fit(table)
    assert block_slots.tolist() == slots.tolist()
    assert isinstance(whole, np.ndarray) and sp.issparse(blocks)
    assert np.array_equal(blocks.toarray(), whole)
    dense = MarkovAttribution(order).fit(table)
    assert sparse.credits() == pytest.approx(dense.credits(), abs=1e-12)
    assert sparse.transitions().equals(dense.transitions())
