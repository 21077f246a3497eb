"""Shapley attribution on channel sets: hand-computed, exact vs sampled, ordered."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from omnimetrics.attribution import PathTable, ShapleyAttribution
from omnimetrics.attribution.shapley import channel_sets, set_conversion_rates
from omnimetrics.attribution.shapley_math import dividend_shapley
from omnimetrics.errors import ConfigError, NotFittedError


def paths(rows) -> PathTable:
    return PathTable.from_arrow(pa.table({
        "path": pa.array([r[0] for r in rows], pa.list_(pa.string())),
        "conversions": [float(r[1]) for r in rows], "nulls": [float(r[2]) for r in rows],
        "value": [0.0] * len(rows),
    }))  # fmt: skip


def test_hand_computed_shapley_on_conversion_rates():
    # Sets: {A, B} 1 of 1 converts (CR 1), {B} 2 of 4 (CR 1/2), {A} 0 of 2 (CR 0).
    # v(S) = sum of CR(T) for T in S: phi_A = 1/2, phi_B = 1/2 + 1/2 = 1 -> shares 1/3, 2/3.
    table = paths([(["A", "B", "A"], 1, 0), (["B"], 2, 2), (["A"], 0, 2)])
    model = ShapleyAttribution().fit(table)
    assert model.exact_
    assert model.values_ == pytest.approx([0.5, 1.0])
    assert model.credits() == pytest.approx({"A": 1 / 3, "B": 2 / 3})
    assert model.share_error_bounds() == {"A": 0.0, "B": 0.0}


def test_ordered_shapley_credits_positions():
    # Sequences of first touches: (A, B) CR 1 -> A at 1 and B at 2 get 1/2 each;
    # (B) CR 1/2 -> B at 1 gets 1/2. Total 3/2: A 1/3, B 2/3; B first = 1/3 of all credit.
    table = paths([(["A", "B", "A"], 1, 0), (["B"], 1, 1)])
    model = ShapleyAttribution(ordered=True).fit(table)
    assert model.credits() == pytest.approx({"A": 1 / 3, "B": 2 / 3})
    positions = {(r.label, r.position): r.share for r in model.position_credits().itertuples()}
    assert positions == pytest.approx({("A", 1): 1 / 3, ("B", 2): 1 / 3, ("B", 1): 1 / 3})


def test_sampled_above_the_exact_limit_agrees_within_its_bound_and_is_repeatable():
    rng = np.random.default_rng(7)
    labels = [f"c{i}" for i in range(18)]
    rows = []
    for _ in range(300):
        size = int(rng.integers(1, 5))
        rows.append((list(rng.choice(labels, size)), int(rng.integers(0, 3)),
                     int(rng.integers(0, 5)) + 1))  # fmt: skip
    table = paths(rows)
    sampled = ShapleyAttribution(permutations=400).fit(table)
    assert not sampled.exact_ and (sampled.error_bound_ > 0).any()
    sets, rates = set_conversion_rates(channel_sets(table), table.conversions,
                                       table.conversions + table.nulls)  # fmt: skip
    exact = dividend_shapley(sets, rates, len(table.labels))
    assert np.all(np.abs(sampled.values_ - exact) <= 2.5 * sampled.error_bound_ + 1e-12)
    again = ShapleyAttribution(permutations=400).fit(table)
    assert np.array_equal(again.values_, sampled.values_)


def test_exact_enumeration_equals_the_dividend_closed_form():
    rng = np.random.default_rng(3)
    labels = [f"c{i}" for i in range(9)]
    rows = [(list(rng.choice(labels, int(rng.integers(1, 6)))), int(rng.integers(0, 4)),
             int(rng.integers(0, 4))) for _ in range(200)]  # fmt: skip
    table = paths(rows)
    model = ShapleyAttribution().fit(table)
    sets, rates = set_conversion_rates(channel_sets(table), table.conversions,
                                       table.conversions + table.nulls)  # fmt: skip
    assert model.values_ == pytest.approx(dividend_shapley(sets, rates, len(table.labels)))


def test_misuse_is_explained():
    with pytest.raises(NotFittedError, match="call fit"):
        ShapleyAttribution().credits()
    with pytest.raises(ConfigError, match="ordered=True"):
        ShapleyAttribution().fit(paths([(["A"], 1, 0)])).position_credits()
    many = paths([([f"c{i}" for i in range(70)], 1, 0)])
    with pytest.raises(ConfigError, match="up to 62"):
        ShapleyAttribution().fit(many)
