"""Shapley values of cooperative games, as plain functions on numpy arrays.

Players are 0..n-1 and a coalition is an int bitmask (bit i set = player i in it). A game is
v(S) for every coalition S, given densely as an array indexed by mask or as a vectorised
callable `value_of(masks) -> values`.

Shapley value (Shapley 1953, "A value for n-person games"):

    phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n! * (v(S + {i}) - v(S)),

the weight being 1 / (n * C(n - 1, |S|)). It is efficient (sum phi = v(N) - v(empty)),
symmetric, gives a null player 0 and is linear in v.

Sampling estimator (Castro, Gomez & Tejada 2009, "Polynomial calculation of the Shapley value
based on sampling"): phi_i is the mean, over uniformly random orders of the players, of i's
marginal contribution v(P_i + {i}) - v(P_i), P_i being the players before i. With m independent
orders the estimate is the sample mean, its standard error s_i / sqrt(m) (s_i the sample standard
deviation of i's contributions), and phi_i +- 1.96 s_i / sqrt(m) a 95% normal bound. Each order's
contributions telescope to v(N) - v(empty), so the estimate is exactly efficient.

Harsanyi dividends (Harsanyi 1963, "A simplified bargaining model for the n-person cooperative
game"): every game is v(S) = sum over T subset of S of d(T), and then
phi_i = sum over T containing i of d(T) / |T|. Zhao et al. 2018, "Shapley value methods for
attribution modeling in online advertising" (arXiv:1804.05327), use this simplified form to
attribute conversions to channel sets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from omnimetrics.errors import ConfigError

__all__ = [
    "ShapleyResult",
    "dividend_shapley",
    "exact_shapley",
    "popcount",
    "sampled_shapley",
    "shapley_values",
    "subset_sums",
]

EXACT_MAX_PLAYERS = 20  # 2^20 coalitions: about 8 MB of float64 values
SAMPLED_MAX_PLAYERS = 62  # every coalition of 62 players fits a non-negative int64 mask
_MASKS_PER_CALL = 1 << 20  # prefixes evaluated per value_of call in sampled_shapley
_BYTE_BITS = np.array([bin(b).count("1") for b in range(256)], dtype=np.int64)


@dataclass(frozen=True)
class ShapleyResult:
    """Shapley values with a 95% error bound (zeros when enumerated exactly)."""

    values: np.ndarray
    error_bound: np.ndarray
    exact: bool
    permutations: int


def popcount(masks: np.ndarray) -> np.ndarray:
    """Number of set bits of each int64 mask (coalition sizes), same shape as `masks`."""
    masks = np.ascontiguousarray(masks, dtype=np.int64)
    by_byte = masks.view(np.uint8).reshape((*masks.shape, 8))
    return _BYTE_BITS[by_byte].sum(axis=-1)


def subset_sums(dividends: np.ndarray) -> np.ndarray:
    """Zeta transform: v[S] = sum of dividends[T] over T subset of S, in O(n 2^n)."""
    v = np.array(dividends, dtype=np.float64)  # a copy: the input is never mutated
    n = _players_of(v, "dividends")
    for i in range(n):
        # Axis 1 of this view is bit i; adding the bit-clear half into the bit-set half
        # folds player i's subsets in.
        halves = v.reshape(-1, 2, 1 << i)
        halves[:, 1, :] += halves[:, 0, :]
    return v


def exact_shapley(values: np.ndarray) -> np.ndarray:
    """Shapley values of a game given as values[S] = v(S) for all 2^n masks S.

    >>> exact_shapley(np.array([0.0, 1.0, 2.0, 5.0]))
    array([2., 3.])
    """
    v = np.asarray(values, dtype=np.float64)
    n = _players_of(v, "values")
    if n > EXACT_MAX_PLAYERS:
        raise ConfigError(
            f"exact Shapley enumerates 2^n coalitions and {n} players is more than "
            f"{EXACT_MAX_PLAYERS}; use sampled_shapley (or shapley_values) above "
            f"{EXACT_MAX_PLAYERS} players."
        )
    masks = np.arange(1 << n, dtype=np.int64)
    # Weight of a coalition of size k, 1 / (n C(n-1, k)); the full coalition (k = n) never
    # lacks a player, so its weight is never used.
    weight = np.array([1.0 / (n * math.comb(n - 1, k)) for k in range(n)] + [0.0])
    size_weight = weight[popcount(masks)]
    phi = np.empty(n)
    for i in range(n):
        without = masks[(masks >> i) & 1 == 0]
        phi[i] = np.dot(size_weight[without], v[without | (1 << i)] - v[without])
    return phi


def sampled_shapley(
    value_of: Callable[[np.ndarray], np.ndarray],
    n: int,
    *,
    permutations: int = 2000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo Shapley values (Castro et al. 2009): (estimate, standard error) per player.

    Draws `permutations` independent uniform orders (no antithetic pairs, so contributions are
    i.i.d. and the standard error formula holds) from `np.random.default_rng(seed)`; the same seed
    and a deterministic `value_of` give the same result. All prefixes are evaluated in a few
    vectorised `value_of` calls.
    """
    if not 1 <= n <= SAMPLED_MAX_PLAYERS:
        raise ConfigError(
            f"The number of players n of sampled_shapley must be in [1, {SAMPLED_MAX_PLAYERS}] "
            f"(coalitions are int64 bitmasks). Got {n} instead; merge rare players into groups."
        )
    if permutations < 2:
        raise ConfigError(
            "The 'permutations' parameter of sampled_shapley must be at least 2 to estimate a "
            f"standard error. Got {permutations} instead; 2000 is a reasonable default."
        )
    rng = np.random.default_rng(seed)
    orders = rng.permuted(np.tile(np.arange(n, dtype=np.int64), (permutations, 1)), axis=1)
    prefixes = np.zeros((permutations, n + 1), dtype=np.int64)  # column 0: the empty coalition
    np.cumsum(np.left_shift(np.int64(1), orders), axis=1, out=prefixes[:, 1:])
    flat = prefixes.ravel()
    values = np.empty(flat.shape, dtype=np.float64)
    for start in range(0, flat.size, _MASKS_PER_CALL):
        chunk = flat[start : start + _MASKS_PER_CALL]
        out = np.asarray(value_of(chunk), dtype=np.float64)
        if out.shape != chunk.shape:
            raise ConfigError(
                f"value_of must return one value per mask: got shape {out.shape} for "
                f"{chunk.size} masks; vectorise it over a 1-D int64 array."
            )
        values[start : start + chunk.size] = out
    contributions = np.empty((permutations, n))
    np.put_along_axis(contributions, orders, np.diff(values.reshape(prefixes.shape)), axis=1)
    estimate = contributions.mean(axis=0)
    standard_error = contributions.std(axis=0, ddof=1) / math.sqrt(permutations)
    return estimate, standard_error


def shapley_values(
    value_of: Callable[[np.ndarray], np.ndarray],
    n: int,
    *,
    exact_limit: int = 15,
    permutations: int = 2000,
    seed: int = 0,
) -> ShapleyResult:
    """Exact Shapley values up to `exact_limit` players, sampled above.

    Sampled values come with error_bound = 1.96 * standard error, a 95% normal bound.
    """
    if not 0 <= exact_limit <= EXACT_MAX_PLAYERS:
        raise ConfigError(
            f"The 'exact_limit' parameter of shapley_values must be an int in "
            f"[0, {EXACT_MAX_PLAYERS}]. Got {exact_limit} instead; larger games are sampled."
        )
    if 0 <= n <= exact_limit:
        masks = np.arange(1 << n, dtype=np.int64)
        values = np.asarray(value_of(masks), dtype=np.float64)
        if values.shape != masks.shape:
            raise ConfigError(
                f"value_of must return one value per mask: got shape {values.shape} for "
                f"{masks.size} masks; vectorise it over a 1-D int64 array."
            )
        phi = exact_shapley(values)
        return ShapleyResult(phi, np.zeros(n), exact=True, permutations=0)
    phi, standard_error = sampled_shapley(value_of, n, permutations=permutations, seed=seed)
    return ShapleyResult(phi, 1.96 * standard_error, exact=False, permutations=permutations)


def dividend_shapley(masks: np.ndarray, dividends: np.ndarray, n: int) -> np.ndarray:
    """Shapley values of v(S) = sum of d(T) over T subset of S: phi_i = sum_{T ni i} d(T)/|T|.

    A dividend on the empty coalition only shifts v(empty) and earns no credit.
    """
    masks = np.asarray(masks, dtype=np.int64)
    dividends = np.asarray(dividends, dtype=np.float64)
    if masks.ndim != 1 or masks.shape != dividends.shape:
        raise ConfigError(
            f"masks and dividends must be 1-D arrays of the same length. Got shapes "
            f"{masks.shape} and {dividends.shape} instead."
        )
    if not 0 <= n <= SAMPLED_MAX_PLAYERS:
        raise ConfigError(
            f"The number of players n of dividend_shapley must be in [0, {SAMPLED_MAX_PLAYERS}]. "
            f"Got {n} instead."
        )
    outside = (masks < 0) | (masks >= (1 << n))
    if outside.any():
        raise ConfigError(
            f"masks must be coalitions of the n={n} players, in [0, 2^{n}). "
            f"Got {masks[outside][:5].tolist()}; check n or the player numbering."
        )
    sizes = popcount(masks)
    share = np.divide(dividends, sizes, out=np.zeros_like(dividends), where=sizes > 0)
    return np.array([share[(masks >> i) & 1 == 1].sum() for i in range(n)])


def _players_of(values: np.ndarray, name: str) -> int:
    """n for an array of 2^n per-coalition values, or a ConfigError saying what is wrong."""
    size = values.size
    if values.ndim != 1 or size & (size - 1) or size == 0:
        raise ConfigError(
            f"{name} must be a 1-D array with one entry per coalition, i.e. length 2^n indexed "
            f"by bitmask. Got shape {values.shape} instead."
        )
    return size.bit_length() - 1
