"""Shapley-value attribution journey by journey: each converting journey's conversions are split
among its own channels (per-path Shapley values, as in Google's fractribution).

Every journey's channel set T has a conversion rate CR(T) = conversions / journeys among the
journeys whose set is exactly T (converting and non-converting journeys). The game of a converting
journey with channel set J has the channels of J as players and v(S) = sum of CR(T) over the sets
T within S (Zhao et al. 2018's simplified Shapley value, restricted to J), so its Shapley values
have a closed form: phi_c = sum over T within J containing c of CR(T) / |T|. They are >= 0 and
sum to v(J) >= CR(J) > 0; the journey's conversions and revenue are split by phi / sum(phi). A
channel is therefore never credited more than the conversions of the journeys that contain it.
Journeys with the same set play the same game: one split per distinct set, by enumerating its
subsets (up to ENUMERATED channels) or by testing which converting sets lie within it (above).
The ordered variant plays on sequences of first touches (T within J: a subsequence) and credits
(channel, position) pairs. Formulas and sources: docs/attribution.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from omnimetrics.attribution.learned import Learner
from omnimetrics.attribution.paths import PathTable
from omnimetrics.attribution.shapley_math import SAMPLED_MAX_PLAYERS, popcount
from omnimetrics.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

ENUMERATED = 12  # journeys of up to this many channels enumerate their 2^k subsets
_CELLS_PER_BLOCK = 1 << 22  # keys or positions compared at once: a few dozen MB


def journey_items(paths: PathTable, ordered: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Each path's distinct labels as a row of codes padded with -1 (sorted by code for a set,
    in order of first touch for a sequence), and the number of them per path."""
    n = max(len(paths.labels), 1)
    path = paths.path_of_touch
    pairs, first = np.unique(path.astype(np.int64) * n + paths.codes, return_index=True)
    if ordered:
        first.sort()  # first touches of each (path, label), in touch order
        owner, code = path[first], paths.codes[first]
    else:
        owner, code = pairs // n, pairs % n
    sizes = np.bincount(owner, minlength=len(paths))
    slot = np.arange(len(owner)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    rows = np.full((len(paths), int(sizes.max(initial=0))), -1, np.int32)
    rows[owner, slot] = code
    return rows, sizes


def _encoding(labels: int, width: int, ordered: bool) -> str:
    """How coalitions of labels become sortable keys: a bitmask (sets of up to 62 labels),
    base-(labels + 1) digits (sequences that fit an int64) or the bytes of the padded row."""
    if not ordered and labels <= SAMPLED_MAX_PLAYERS:
        return "mask"
    return "digits" if (labels + 1) ** width < 2**62 else "bytes"


def row_keys(rows: np.ndarray, labels: int, encoding: str) -> np.ndarray:
    """One key per row of label codes (-1 = empty slot); equal rows, equal keys."""
    if encoding == "mask":
        bits = np.left_shift(np.int64(1), np.maximum(rows, 0).astype(np.int64))
        return np.where(rows >= 0, bits, 0).sum(axis=-1)
    if encoding == "digits":
        powers = (labels + 1) ** np.arange(rows.shape[-1] - 1, -1, -1, dtype=np.int64)
        return (rows.astype(np.int64) + 1) @ powers
    packed = np.ascontiguousarray(rows, dtype=np.int32)
    return packed.view(np.dtype((np.void, 4 * rows.shape[-1])))[..., 0]


def _rows_of(masks: np.ndarray, labels: int) -> np.ndarray:
    """The label codes of bitmask sets as rows, in code order, padded with -1."""
    inside = ((masks[:, None] >> np.arange(labels)) & 1).astype(bool)
    sizes = inside.sum(axis=1)
    rows = np.full((len(masks), int(sizes.max(initial=0))), -1, np.int32)
    owner, code = np.nonzero(inside)
    rows[owner, np.arange(len(owner)) - np.repeat(np.cumsum(sizes) - sizes, sizes)] = code
    return rows


def coalition_keys(
    items: np.ndarray, coalitions: np.ndarray, labels: int, width: int, encoding: str
) -> np.ndarray:
    """Keys (games x coalitions) of the coalitions (bitmasks over positions 0..k-1) of games
    whose players are the rows of `items` (games x k label codes): the key of the row of the
    chosen labels, in their order, padded to `width`."""
    k = items.shape[1]
    chosen = ((coalitions[:, None] >> np.arange(k)) & 1).astype(bool)
    if encoding == "mask":
        return np.left_shift(np.int64(1), items.astype(np.int64)) @ chosen.T.astype(np.int64)
    rank = np.maximum(np.cumsum(chosen, axis=1) - 1, 0)  # place of each chosen label
    if encoding == "digits":
        powers = (labels + 1) ** np.arange(width - 1, -1, -1, dtype=np.int64)
        return (items.astype(np.int64) + 1) @ np.where(chosen, powers[rank], 0).T
    coalition, player = np.nonzero(chosen)
    rows = np.full((len(items), len(coalitions), width), -1, np.int32)
    rows[:, coalition, rank[coalition, player]] = items[:, player]
    return row_keys(rows, labels, encoding)


class ShapleyAttribution(Learner):
    """Shapley attribution journey by journey, scikit-learn style: fit(path table) then
    credits() (or `conversions_`, `revenue_`); `journey_shares()` shows each journey's split.

    ordered: play on sequences of first touches and credit (channel, position) pairs
    (`position_credits()`).
    """

    def __init__(self, ordered: bool = False) -> None:
        self.ordered = ordered

    def fit(self, paths: PathTable) -> ShapleyAttribution:
        paths = paths.touched
        n = len(paths.labels)
        encoding = _encoding(n, 0, self.ordered)
        if encoding == "mask":  # a set of channels is a bitmask: no need to sort the touches
            bits = np.left_shift(np.int64(1), paths.codes.astype(np.int64))
            masks = np.bitwise_or.reduceat(bits, paths.offsets[:-1]) if len(bits) else bits
            keys, index = np.unique(masks, return_inverse=True)
        else:
            items, _ = journey_items(paths, self.ordered)
            encoding = _encoding(n, items.shape[1], self.ordered)
            keys, first, index = np.unique(row_keys(items, n, encoding), return_index=True,
                                           return_inverse=True)  # fmt: skip
        index = index.ravel()
        won = np.bincount(index, paths.conversions, minlength=len(keys))
        seen = np.bincount(index, paths.conversions + paths.nulls, minlength=len(keys))
        value = np.bincount(index, paths.value, minlength=len(keys))
        converting = np.flatnonzero(won > 0)
        self.labels_ = paths.labels
        self.keys_ = keys[converting]  # sorted; a set that never converted has CR 0
        self.rates_ = won[converting] / seen[converting]
        self.journeys_ = (_rows_of(self.keys_, n) if encoding == "mask"
                          else items[first[converting]])  # fmt: skip
        self.journey_conversions_ = won[converting]
        self.journey_revenue_ = value[converting]
        values = self._values(self.journeys_, self.rates_, encoding)
        total = values.sum(axis=1, keepdims=True)  # >= CR(journey's own set) > 0
        self.journey_shares_ = np.divide(values, total, out=values, where=total > 0)
        slots = self.journeys_ >= 0
        code = self.journeys_[slots]

        def credited(amount: np.ndarray) -> np.ndarray:
            return (amount[:, None] * self.journey_shares_)[slots]

        self.conversions_ = np.bincount(code, credited(self.journey_conversions_), minlength=n)
        self.revenue_ = np.bincount(code, credited(self.journey_revenue_), minlength=n)
        self.position_values_ = np.zeros((n, self.journeys_.shape[1]))
        if self.ordered:
            np.add.at(self.position_values_, (code, np.nonzero(slots)[1]),
                      credited(self.journey_conversions_))  # fmt: skip
        return self

    def _values(self, journeys: np.ndarray, rates: np.ndarray, encoding: str) -> np.ndarray:
        """Shapley value of every channel of every journey (rows as `journeys`): the sum of
        CR(T) / |T| over the converting sets T (with `rates`) within it that contain it."""
        labels, width = len(self.labels_), journeys.shape[1]
        sizes = (journeys >= 0).sum(axis=1)
        values = np.zeros(journeys.shape)
        for k in np.unique(sizes).tolist():
            which = np.flatnonzero(sizes == k)
            if k <= ENUMERATED:
                subsets = np.arange(1, 1 << k, dtype=np.int64)
                members = ((subsets[:, None] >> np.arange(k)) & 1).astype(float)
                weight = 1.0 / popcount(subsets)
                cells = len(subsets) * (width if encoding == "bytes" else k)
            else:
                cells = journeys.size
            block = max(1, _CELLS_PER_BLOCK // cells)
            for start in range(0, len(which), block):
                rows = which[start : start + block]
                games = journeys[rows, :k]
                if k <= ENUMERATED:
                    keys = coalition_keys(games, subsets, labels, width, encoding)
                    values[rows, :k] = (self._rate(keys) * weight) @ members
                else:
                    values[rows, :k] = self._within(games, journeys, rates)
        return values

    def _within(self, games: np.ndarray, sets: np.ndarray, rates: np.ndarray) -> np.ndarray:
        """The same sums for long journeys, over the converting `sets` (rows of codes) that lie
        within each game (as subsequences when ordered)."""
        place = np.full((len(games), len(self.labels_)), -1, np.int32)
        place[np.arange(len(games))[:, None], games] = np.arange(games.shape[1])
        filled = sets >= 0
        where = place[:, np.maximum(sets, 0)]  # games x sets x slots: place in the game
        inside = ((where >= 0) | ~filled).all(axis=2)
        if self.ordered:
            rising = (where[:, :, 1:] > where[:, :, :-1]) | ~filled[:, 1:]
            inside &= rising.all(axis=2)
        share = inside * (rates / filled.sum(axis=1))  # CR(T) / |T| for T within the game
        members = np.zeros((len(sets), len(self.labels_)))
        members[np.nonzero(filled)[0], sets[filled]] = 1.0
        return np.take_along_axis(share @ members, games.astype(np.intp), axis=1)

    def _rate(self, keys: np.ndarray) -> np.ndarray:
        """Conversion rate of the journeys with each key (0 for sets that never converted)."""
        if not len(self.keys_):
            return np.zeros(keys.shape)
        at = np.minimum(np.searchsorted(self.keys_, keys), len(self.keys_) - 1)
        return np.where(self.keys_[at] == keys, self.rates_[at], 0.0)

    def journey_shares(self) -> pd.DataFrame:
        """How each converting channel set (or sequence, ordered) is split: journey (labels
        joined by " + ", or " > " in order), label, share (sums to 1 per journey), conversions
        and revenue (of the journeys with that set, credited to the label)."""
        import pandas as pd
        import pyarrow as pa
        import pyarrow.compute as pc

        self.check_fitted()
        names = np.array(self.labels_, dtype=object)
        slots = self.journeys_ >= 0
        sizes = slots.sum(axis=1)
        label = names[self.journeys_[slots]]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
        lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(label, pa.string()))
        joined = pc.binary_join(lists, " > " if self.ordered else " + ").to_numpy(False)
        share = self.journey_shares_[slots]
        return pd.DataFrame({
            "journey": np.repeat(joined, sizes), "label": label, "share": share,
            "conversions": np.repeat(self.journey_conversions_, sizes) * share,
            "revenue": np.repeat(self.journey_revenue_, sizes) * share,
        })  # fmt: skip

    def position_credits(self) -> pd.DataFrame:
        """Ordered Shapley: label, position (1 = first), share of all credit."""
        import pandas as pd

        self.check_fitted()
        if not self.ordered:
            raise ConfigError("position_credits() needs ShapleyAttribution(ordered=True).")
        total = float(self.position_values_.sum())
        label, slot = np.nonzero(self.position_values_ > 0)
        table = pd.DataFrame({
            "label": np.array(self.labels_, dtype=object)[label], "position": slot + 1,
            "share": self.position_values_[label, slot] / total,
        })  # fmt: skip
        return table.sort_values(["position", "share"], ascending=[True, False], ignore_index=True)
