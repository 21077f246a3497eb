"""Shapley math: golden games, the axioms as properties, the sampler against exact values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimetrics.attribution.shapley_math import (
    ShapleyResult,
    dividend_shapley,
    exact_shapley,
    popcount,
    sampled_shapley,
    shapley_values,
    subset_sums,
)
from omnimetrics.errors import ConfigError

finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False)


@st.composite
def games(draw, min_players: int = 1, max_players: int = 6, players: int | None = None):
    """A random game on n players: one value per mask (values[0] = v(empty), not always 0)."""
    n = players if players is not None else draw(st.integers(min_players, max_players))
    return np.array(draw(st.lists(finite, min_size=1 << n, max_size=1 << n)))


def random_dividend_game(n: int, terms: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct non-empty masks of 1 to 3 players with normal dividends."""
    rng = np.random.default_rng(seed)
    masks = set()
    while len(masks) < terms:
        members = rng.choice(n, size=rng.integers(1, 4), replace=False)
        masks.add(int(np.bitwise_or.reduce(np.left_shift(1, members))))
    return np.array(sorted(masks), dtype=np.int64), rng.normal(size=terms)


def dividend_value_of(masks: np.ndarray, dividends: np.ndarray):
    """v(S) = sum of d(T) over the listed T contained in S, vectorised over S."""

    def value_of(coalitions: np.ndarray) -> np.ndarray:
        contained = (coalitions[:, None] & masks[None, :]) == masks[None, :]
        return contained @ dividends

    return value_of


def swap_bits(masks: np.ndarray, a: int, b: int) -> np.ndarray:
    """Masks with players a and b exchanged."""
    bit_a, bit_b = (masks >> a) & 1, (masks >> b) & 1
    cleared = masks & ~((1 << a) | (1 << b))
    return cleared | (bit_a << b) | (bit_b << a)


# Golden games, computed by hand.


def test_two_player_game():
    np.testing.assert_allclose(exact_shapley(np.array([0, 1, 2, 5])), [2.0, 3.0])


def test_glove_game():
    # Player 0 holds a left glove, 1 and 2 right gloves; a coalition with a pair is worth 1.
    masks = np.arange(8)
    values = (((masks & 1) == 1) & ((masks & 6) != 0)).astype(float)
    np.testing.assert_allclose(exact_shapley(values), [2 / 3, 1 / 6, 1 / 6])


def test_one_player_gets_everything_above_the_empty_coalition():
    np.testing.assert_allclose(exact_shapley(np.array([3.0, 7.5])), [4.5])


def test_inputs_are_not_mutated():
    values = np.array([0.0, 1.0, 2.0, 5.0])
    exact_shapley(values)
    subset_sums(values)
    np.testing.assert_array_equal(values, [0.0, 1.0, 2.0, 5.0])


# The Shapley axioms as properties.


@given(games())
def test_efficiency(values):
    phi = exact_shapley(values)
    assert phi.sum() == pytest.approx(values[-1] - values[0], abs=1e-9)


@given(games(min_players=2), st.data())
def test_symmetry(values, data):
    n = values.size.bit_length() - 1
    a, b = data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
    masks = np.arange(values.size)
    symmetric = values + values[swap_bits(masks, a, b)]
    phi = exact_shapley(symmetric)
    assert phi[a] == pytest.approx(phi[b], abs=1e-9)


@given(games(max_players=5), st.data())
def test_null_player_gets_zero_and_changes_nothing_else(values, data):
    n = values.size.bit_length() - 1
    k = data.draw(st.integers(0, n))
    masks = np.arange(1 << (n + 1))
    low = masks & ((1 << k) - 1)
    without_k = low | ((masks >> (k + 1)) << k)  # drop bit k, close the gap
    phi = exact_shapley(values[without_k])
    assert phi[k] == 0.0
    np.testing.assert_allclose(np.delete(phi, k), exact_shapley(values), atol=1e-9)


@given(st.integers(1, 6).flatmap(lambda n: st.tuples(games(players=n), games(players=n))))
def test_additivity(pair):
    v, w = pair
    np.testing.assert_allclose(exact_shapley(v + w), exact_shapley(v) + exact_shapley(w), atol=1e-9)


# Subset sums and Harsanyi dividends.


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
def test_subset_sums_match_brute_force(n):
    dividends = np.random.default_rng(n).normal(size=1 << n)
    expected = [sum(dividends[t] for t in range(1 << n) if t & s == t) for s in range(1 << n)]
    np.testing.assert_allclose(subset_sums(dividends), expected, atol=1e-12)


@given(games())
def test_dividend_shapley_matches_exact(dividends):
    n = dividends.size.bit_length() - 1
    masks = np.arange(dividends.size, dtype=np.int64)
    np.testing.assert_allclose(
        dividend_shapley(masks, dividends, n), exact_shapley(subset_sums(dividends)), atol=1e-9
    )


def test_dividend_shapley_splits_each_dividend_equally():
    phi = dividend_shapley(np.array([0b011, 0b111, 0b100]), np.array([6.0, 3.0, 2.0]), 3)
    np.testing.assert_allclose(phi, [4.0, 4.0, 3.0])


def test_popcount():
    masks = np.array([0, 1, 0b1011, (1 << 62) - 1, 1 << 61])
    np.testing.assert_array_equal(popcount(masks), [0, 1, 3, 62, 1])


# Sampling.


def test_sampled_is_deterministic_for_a_seed():
    values = np.random.default_rng(1).normal(size=1 << 6)
    first = sampled_shapley(lambda m: values[m], 6, permutations=300, seed=7)
    again = sampled_shapley(lambda m: values[m], 6, permutations=300, seed=7)
    other = sampled_shapley(lambda m: values[m], 6, permutations=300, seed=8)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def test_sampled_is_within_its_error_of_exact_and_efficient():
    values = np.random.default_rng(2).normal(size=1 << 8)
    estimate, error = sampled_shapley(lambda m: values[m], 8, permutations=2000, seed=0)
    assert np.all(error > 0)
    assert np.all(np.abs(estimate - exact_shapley(values)) <= 4 * error)
    assert estimate.sum() == pytest.approx(values[-1] - values[0], abs=1e-9)


def test_sampled_twenty_players_agrees_with_dividends():
    masks, dividends = random_dividend_game(20, terms=60, seed=3)
    value_of = dividend_value_of(masks, dividends)
    estimate, error = sampled_shapley(value_of, 20, permutations=2000, seed=0)
    exact = dividend_shapley(masks, dividends, 20)
    assert np.all(np.abs(estimate - exact) <= 4 * error + 1e-9)


def test_sampled_handles_all_sixty_two_players():
    masks, dividends = random_dividend_game(62, terms=80, seed=4)
    estimate, error = sampled_shapley(dividend_value_of(masks, dividends), 62, permutations=50)
    assert estimate.sum() == pytest.approx(dividends.sum(), abs=1e-9)
    assert np.all(np.abs(estimate - dividend_shapley(masks, dividends, 62)) <= 5 * error + 1e-9)


def test_shapley_values_switches_from_exact_to_sampled():
    values = np.random.default_rng(5).normal(size=1 << 6)
    exact = shapley_values(lambda m: values[m], 6)
    assert exact == ShapleyResult(exact.values, exact.error_bound, exact=True, permutations=0)
    np.testing.assert_allclose(exact.values, exact_shapley(values))
    np.testing.assert_array_equal(exact.error_bound, np.zeros(6))

    sampled = shapley_values(lambda m: values[m], 6, exact_limit=4, permutations=500, seed=1)
    estimate, error = sampled_shapley(lambda m: values[m], 6, permutations=500, seed=1)
    assert not sampled.exact and sampled.permutations == 500
    np.testing.assert_array_equal(sampled.values, estimate)
    np.testing.assert_array_equal(sampled.error_bound, 1.96 * error)


# Errors that say what to do.


def test_bad_length_is_refused():
    with pytest.raises(ConfigError, match="length 2\\^n"):
        exact_shapley(np.zeros(6))
    with pytest.raises(ConfigError, match="length 2\\^n"):
        subset_sums(np.zeros((2, 2)))


def test_too_many_players_for_exact():
    with pytest.raises(ConfigError, match="use sampled_shapley"):
        exact_shapley(np.zeros(1 << 21))
    with pytest.raises(ConfigError, match="exact_limit"):
        shapley_values(lambda m: m * 0.0, 25, exact_limit=21)


def test_too_many_players_or_permutations_for_sampling():
    with pytest.raises(ConfigError, match="merge rare players"):
        sampled_shapley(lambda m: m * 0.0, 63)
    with pytest.raises(ConfigError, match="at least 2"):
        sampled_shapley(lambda m: m * 0.0, 3, permutations=1)


def test_value_of_must_be_vectorised():
    with pytest.raises(ConfigError, match="one value per mask"):
        sampled_shapley(lambda m: 0.0, 3)
    with pytest.raises(ConfigError, match="one value per mask"):
        shapley_values(lambda m: 0.0, 3)


def test_dividend_masks_outside_the_players_are_refused():
    with pytest.raises(ConfigError, match="check n"):
        dividend_shapley(np.array([1, 8]), np.array([1.0, 1.0]), 3)
