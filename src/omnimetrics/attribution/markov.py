"""Markov chain attribution of order 1 to 4: removal effects solved exactly on the absorbing chain.

States: `(start)`, the absorbing `(conversion)` and `(null)`, and the touches: in a chain of order
k a state is the last k labels of the path so far (fewer at the start of a path). Transition
counts are taken from a path table (converting and non-converting journeys). With Q the
transient-to-transient block and r the transient-to-conversion column, the probability of
converting from each transient state is x = (I - Q)^-1 r, so P(conversion) = x[start]. Removing
channel c removes every state that contains c (its inflow is lost, i.e. goes to `(null)`);
removal effect RE_c = 1 - P_without_c / P; credit_c = RE_c / sum(RE) (Anderl et al., 2016,
"Mapping the customer journey: Lessons learned from graph-based online attribution modeling").
The linear systems are solved exactly (dense LU for small chains, sparse LU for large ones), never
by random walks. Chains of up to DENSE_STATES states are dense numpy arrays throughout (no sparse
machinery to load); larger ones are SciPy sparse matrices.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from omnimetrics.attribution.learned import Learner, shared_out
from omnimetrics.attribution.paths import PathTable
from omnimetrics.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    import scipy.sparse as sp

    Matrix = np.ndarray | sp.csr_matrix

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
ORDERS = (1, 2, 3, 4)
DENSE_LIMIT = 1 << 24  # up to this many cells, count with a dense array rather than a sort
BLOCK = 1 << 18  # touches counted at once: a few MB of temporaries, reused, whatever the size
DENSE_SOLVE = 100  # up to this many transient states, a dense solve (no sparse solver to load)
DENSE_STATES = 100  # up to this many transient states, matrices are dense arrays


def chain_counts(paths: PathTable, order: int = 1) -> tuple[np.ndarray, Matrix]:
    """Transition counts of the order-k chain of a path table.

    Returns (states, counts): states[i] is the i-th touch state as a row of k label codes (-1 =
    empty slot, oldest first); matrix index 0 is `(start)`, 1..m the touch states, m+1
    `(conversion)`, m+2 `(null)`. counts is a dense array up to DENSE_STATES states, a sparse
    CSR matrix above. A table that keeps what is derived from its paths (`PathTable.shared`)
    keeps the chain's moves, so its resamples are counted in one weighted sum.
    """
    paths = paths.touched
    base = len(paths.labels) + 1
    if base**order >= 2**62:
        raise ConfigError(
            f"A Markov chain of order {order} over {base - 1} labels has too many states; "
            "lower the order or attribute by channel rather than campaign."
        )
    key = ("markov", order)
    chain = None if paths.memo is None else paths.memo.get(key)
    if chain is None:
        chain = _Chain.of(paths, order, base, distinct=paths.memo is not None)
        if paths.memo is not None:
            paths.memo[key] = chain
    slots = np.stack([(chain.states // base**j) % base - 1 for j in range(order)], axis=1)
    return slots, chain.counts(paths)


@dataclass(frozen=True)
class _Chain:
    """The moves of a path table's chain, which depend on its paths, not on their counts."""

    states: np.ndarray
    """The touch states, as base-(labels + 1) numbers of their labels."""
    touch_state: np.ndarray
    """Each touch's state, 0..m-1."""
    blocks: list[tuple[int, int]]
    distinct: tuple[np.ndarray, ...] | None = None
    """Kept for resampled tables: the path, cell and times of every distinct move of every
    path, and the cells of each path's moves to `(conversion)` and `(null)`."""

    @classmethod
    def of(cls, paths: PathTable, order: int, base: int, distinct: bool) -> _Chain:
        blocks = _blocks(paths.offsets)
        if order == 1:  # every label occurs in some path: the label codes are the states
            states, touch_state = np.arange(1, base), paths.codes
        else:
            states, touch_state = _compact(_histories(paths, order, base, blocks), base**order)
        chain = cls(states, touch_state, blocks)
        size = len(states) + 3
        if not distinct or size * size > DENSE_LIMIT:
            return chain
        cells = [rows.astype(np.intp) * size + cols for rows, cols, _ in chain._moves(paths)]
        owner = np.repeat(np.arange(len(paths)), paths.lengths)
        moves, times = np.unique(owner * (size * size) + np.concatenate(cells[:-2]),
                                 return_counts=True)  # fmt: skip
        path, cell = np.divmod(moves, size * size)
        return cls(states, touch_state, blocks, (path, cell, times.astype(float), *cells[-2:]))

    def counts(self, paths: PathTable) -> Matrix:
        """Transition counts of the paths' conversions and nulls (laid out as `chain_counts`)."""
        size = len(self.states) + 3
        if self.distinct is None:
            return _summed(size, self._moves(paths))
        path, cell, times, converted, lost = self.distinct
        flat = np.bincount(cell, (paths.conversions + paths.nulls)[path] * times,
                           minlength=size * size)  # fmt: skip
        flat += np.bincount(converted, paths.conversions, minlength=size * size)
        flat += np.bincount(lost, paths.nulls, minlength=size * size)
        return _matrix(flat, size)

    def _moves(self, paths: PathTable) -> Moves:
        """(from, to, weight) of the moves of every path, block by block: into each touch
        state (from `(start)`, 0, at a path's start), then from the last one to `(conversion)`
        and `(null)`. Touch states are 1..m (`touch_state` + 1)."""
        offsets, lengths = paths.offsets, paths.lengths
        journeys = paths.conversions + paths.nulls
        for first, end in self.blocks:
            a, b = offsets[first], offsets[end]
            into = self.touch_state[a:b] + 1
            source = np.empty_like(into)
            source[1:] = into[:-1]
            source[offsets[first:end] - a] = 0
            yield source, into, np.repeat(journeys[first:end], lengths[first:end])
        m = len(self.states)
        last = self.touch_state[offsets[1:] - 1] + 1
        yield last, np.full_like(last, m + 1), paths.conversions
        yield last, np.full_like(last, m + 2), paths.nulls


def _blocks(offsets: np.ndarray) -> list[tuple[int, int]]:
    """(first, end) ranges of whole paths of about BLOCK touches each."""
    cuts = np.searchsorted(offsets, np.arange(0, offsets[-1], BLOCK), side="right") - 1
    bounds = np.unique(np.concatenate([cuts, [len(offsets) - 1]]))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))


def _histories(
    paths: PathTable, order: int, base: int, blocks: list[tuple[int, int]]
) -> np.ndarray:
    """Each touch's last `order` labels (code + 1; 0 before the path) as one base-`base` number."""
    dtype = np.int32 if base**order < 2**31 else np.int64  # half the memory when it fits
    offsets, lengths = paths.offsets, paths.lengths
    state = np.empty(len(paths.codes), dtype)
    for first, end in blocks:
        a, b = offsets[first], offsets[end]
        current = paths.codes[a:b].astype(dtype) + 1
        position = np.arange(b - a) - np.repeat(offsets[first:end] - a, lengths[first:end])
        history = current.copy()
        for lag in range(1, order):
            shifted = np.zeros_like(current)
            shifted[lag:] = current[:-lag]
            shifted[position < lag] = 0  # touches with fewer than `lag` predecessors
            history = history * base + shifted
        state[a:b] = history
    return state


Moves = Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]


def _compact(values: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (sorted) and each value's index among them; a lookup table instead of a
    sort when the values are small integers."""
    if space > DENSE_LIMIT:
        return np.unique(values, return_inverse=True)
    present = np.zeros(space, bool)
    present[values] = True
    lookup = (np.cumsum(present) - 1).astype(np.int32)  # space <= DENSE_LIMIT < 2**31
    return np.flatnonzero(present), lookup[values]


def _summed(size: int, parts: Moves) -> Matrix:
    """The size x size matrix of the summed weights of (rows, cols, weights) parts: dense up to
    DENSE_STATES + 2 rows, else sparse."""
    if size * size <= DENSE_LIMIT:
        flat = np.zeros(size * size)
        for rows, cols, weights in parts:
            cells = rows.astype(np.intp)  # the index type bincount needs, computed in place
            cells *= size
            cells += cols
            flat += np.bincount(cells, weights, minlength=size * size)
        return _matrix(flat, size)
    import scipy.sparse as sp

    counts = sp.csr_matrix((size, size))
    for rows, cols, weights in parts:
        counts = counts + sp.coo_matrix((weights, (rows, cols)), shape=(size, size)).tocsr()
    counts.sum_duplicates()
    counts.eliminate_zeros()
    return counts


def _matrix(flat: np.ndarray, size: int) -> Matrix:
    """The size x size matrix of flat cells: dense up to DENSE_STATES + 2 rows, else sparse."""
    if size - 2 <= DENSE_STATES:
        return flat.reshape(size, size)
    import scipy.sparse as sp

    cells = np.flatnonzero(flat)
    return sp.csr_matrix((flat[cells], (cells // size, cells % size)), shape=(size, size))


def transition_probabilities(counts: Matrix) -> Matrix:
    """Row-normalised counts. `(conversion)` and `(null)` absorb; a state never left (only
    `(start)` of an empty table) goes to `(null)`."""
    totals = np.asarray(counts.sum(axis=1)).ravel()
    scale = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
    n = counts.shape[0]
    stuck = np.flatnonzero(totals == 0)
    sink = np.where(stuck == n - 2, n - 2, n - 1)
    if isinstance(counts, np.ndarray):
        matrix = counts * scale[:, None]
        matrix[stuck, sink] += 1.0
        return matrix
    import scipy.sparse as sp

    absorb = sp.coo_matrix((np.ones(len(stuck)), (stuck, sink)), shape=counts.shape)
    return (sp.diags(scale) @ counts + absorb).tocsr()


def conversion_probability(matrix: Matrix, keep: np.ndarray | None = None) -> float:
    """P(reaching `(conversion)` from `(start)`, index 0) through the transient states kept.

    matrix: (m+3)x(m+3) transition probabilities laid out as in `chain_counts` (dense or
    sparse); keep: boolean mask over the m+1 transient states (start first), False for removed
    states.
    """
    transient = matrix.shape[0] - 2
    keep = np.ones(transient, bool) if keep is None else keep
    kept = np.flatnonzero(keep)
    if isinstance(matrix, np.ndarray):
        q, r = matrix[np.ix_(kept, kept)], matrix[kept, transient]
        return float(np.linalg.solve(np.identity(len(kept)) - q, r)[0])
    q = matrix[kept][:, kept]
    r = matrix[kept, transient].toarray().ravel()
    if len(kept) <= DENSE_SOLVE:
        return float(np.linalg.solve(np.identity(len(kept)) - q.toarray(), r)[0])
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla  # only large chains need the sparse solver

    system = (sp.identity(len(kept), format="csc") - q.tocsc()).tocsc()
    return float(np.atleast_1d(spla.spsolve(system, r))[0])


def removal_effects(slots: np.ndarray, matrix: Matrix, labels: int) -> np.ndarray:
    """Removal effect of every label code 0..labels-1 (1 - P without it / P)."""
    base = conversion_probability(matrix)
    effects = np.zeros(labels)
    if base <= 0:
        return effects
    for code in np.unique(slots[slots >= 0]):
        keep = np.concatenate([[True], ~(slots == code).any(axis=1)])
        effects[code] = 1.0 - conversion_probability(matrix, keep) / base
    # Removing states can only lower P(conversion): a negative effect is rounding (~1e-16).
    return np.clip(effects, 0.0, None)


class MarkovAttribution(Learner):
    """Markov attribution of order k, scikit-learn style: fit(path table) then credits()."""

    def __init__(self, order: int = 1) -> None:
        if order not in ORDERS:
            raise ConfigError(f"The Markov order must be one of {list(ORDERS)}; got {order!r}.")
        self.order = order

    def fit(self, paths: PathTable) -> MarkovAttribution:
        slots, counts = chain_counts(paths, self.order)
        self.labels_ = paths.labels
        self.states_ = slots
        self.transition_counts_ = counts
        self.transition_matrix_ = transition_probabilities(counts)
        self.conversion_probability_ = conversion_probability(self.transition_matrix_)
        effects = removal_effects(slots, self.transition_matrix_, len(paths.labels))
        self.removal_effects_ = dict(zip(paths.labels, effects.tolist(), strict=True))
        # Shares of all conversions, not journey by journey: see docs/attribution.md.
        self.conversions_, self.revenue_ = shared_out(effects, paths.touched)
        return self

    def state_names(self) -> list[str]:
        """Names of the matrix rows: (start), touch states ("a > b"), (conversion), (null)."""
        self.check_fitted()
        touch = [" > ".join(self.labels_[c] for c in row if c >= 0) for row in self.states_]
        return [START, *touch, CONVERSION, NULL]

    def transitions(self) -> pd.DataFrame:
        """The transition matrix as a tidy table: from_state, to_state, transitions, probability."""
        import pandas as pd

        names = np.array(self.state_names(), dtype=object)
        counts, matrix = self.transition_counts_, self.transition_matrix_
        if isinstance(counts, np.ndarray):
            rows, cols = np.nonzero(counts)
            moves = counts[rows, cols]
        else:
            cells = counts.tocoo()
            rows, cols, moves = cells.row, cells.col, cells.data
            matrix = matrix.tocsr()
        probabilities = np.asarray(matrix[rows, cols]).ravel() if len(rows) else np.zeros(0)
        return pd.DataFrame({
            "from_state": names[rows], "to_state": names[cols], "transitions": moves,
            "probability": probabilities,
        }).sort_values(["from_state", "to_state"], ignore_index=True)  # fmt: skip
