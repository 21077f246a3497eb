"""Shapley-value attribution on the channel sets of journeys (simplified Shapley with conversion
rates, Zhao et al. 2018, arXiv:1804.05327).

Each journey's channel set T has a conversion rate CR(T) = conversions / journeys among the
journeys whose set of channels is exactly T. The value of a coalition S of channels is
v(S) = sum over T ⊆ S of CR(T): what the channels of S achieve on the journeys they can reach
alone. Channel shares are phi_c / sum(phi). The game is solved exactly by enumerating the 2^n
coalitions up to `exact_limit` channels (15 by default) and by permutation sampling above, with a
95% error bound on every value (`shapley_math`). The ordered variant credits (channel, position)
pairs: each ordered sequence of first touches T gets CR(T), shared equally by its positions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from omnimetrics.attribution.learned import Learner
from omnimetrics.attribution.paths import PathTable
from omnimetrics.attribution.shapley_math import SAMPLED_MAX_PLAYERS, shapley_values, subset_sums
from omnimetrics.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

_CELLS_PER_BLOCK = 20_000_000  # coalitions x channel sets compared at once when sampling


def channel_sets(paths: PathTable) -> np.ndarray:
    """The set of labels of every (non-empty) path as a bitmask."""
    if len(paths.labels) > SAMPLED_MAX_PLAYERS:
        raise ConfigError(
            f"Shapley attribution handles up to {SAMPLED_MAX_PLAYERS} channels or campaigns; "
            f"this table has {len(paths.labels)}. Attribute by channel, or group campaigns."
        )
    bits = np.left_shift(np.int64(1), paths.codes.astype(np.int64))
    return np.bitwise_or.reduceat(bits, paths.offsets[:-1]) if len(bits) else bits


def set_conversion_rates(
    keys: np.ndarray, conversions: np.ndarray, journeys: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys (rows or masks) and the conversion rate of the journeys sharing each."""
    axis = 0 if keys.ndim > 1 else None
    unique, index = np.unique(keys, axis=axis, return_inverse=True)
    index = index.ravel()
    won = np.bincount(index, conversions, minlength=len(unique)).astype(float)
    seen = np.bincount(index, journeys, minlength=len(unique)).astype(float)
    return unique, np.divide(won, seen, out=np.zeros_like(won), where=seen > 0)


class ShapleyAttribution(Learner):
    """Shapley attribution, scikit-learn style: fit(path table) then credits().

    ordered: credit (channel, position) pairs (`position_credits()`); exact_limit: most channels
    solved exactly; permutations, seed: the sampling above that limit (seeded: repeatable).
    """

    def __init__(
        self, ordered: bool = False, exact_limit: int = 15, permutations: int = 2000, seed: int = 0
    ) -> None:
        self.ordered = ordered
        self.exact_limit = exact_limit
        self.permutations = permutations
        self.seed = seed

    def fit(self, paths: PathTable) -> ShapleyAttribution:
        paths = paths.touched
        self.labels_ = paths.labels
        journeys = paths.conversions + paths.nulls
        if not len(paths):
            self.values_ = self.error_bound_ = np.zeros(len(paths.labels))
            self.position_values_ = np.zeros((len(paths.labels), 0))
            self.exact_ = True
            return self
        if self.ordered:
            return self._fit_ordered(paths, journeys)
        n = len(paths.labels)
        sets, rates = set_conversion_rates(channel_sets(paths), paths.conversions, journeys)
        if n <= self.exact_limit:
            dividends = np.zeros(1 << n)
            dividends[sets] = rates
            values = subset_sums(dividends)

            def value_of(masks: np.ndarray) -> np.ndarray:
                return values[masks]
        else:

            def value_of(masks: np.ndarray) -> np.ndarray:
                block = max(1, _CELLS_PER_BLOCK // max(1, len(sets)))
                out = np.empty(len(masks))
                for start in range(0, len(masks), block):
                    part = masks[start : start + block]
                    inside = (sets[None, :] & ~part[:, None]) == 0
                    out[start : start + block] = inside @ rates
                return out

        result = shapley_values(value_of, n, exact_limit=self.exact_limit,
                                permutations=self.permutations, seed=self.seed)  # fmt: skip
        self.values_ = result.values
        self.error_bound_ = result.error_bound
        self.exact_ = result.exact
        return self

    def _fit_ordered(self, paths: PathTable, journeys: np.ndarray) -> ShapleyAttribution:
        n = len(paths.labels)
        path = paths.path_of_touch
        _, first = np.unique(path * n + paths.codes, return_index=True)  # first touch per channel
        keep = np.zeros(len(path), bool)
        keep[first] = True
        kept_path, kept_code = path[keep], paths.codes[keep]
        lengths = np.bincount(kept_path, minlength=len(paths))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        slot = np.arange(len(kept_path)) - starts[kept_path]
        width = int(lengths.max()) if len(lengths) else 0
        if (n + 1) ** width < 2**62:  # each sequence as one integer: a fast 1-D unique
            digits = (kept_code.astype(np.int64) + 1) * (n + 1) ** (width - 1 - slot)
            keys = np.add.reduceat(digits, starts)  # every touched path keeps >= 1 touch
            unique_keys, rates = set_conversion_rates(keys, paths.conversions, journeys)
            powers = (n + 1) ** np.arange(width - 1, -1, -1, dtype=np.int64)
            unique = (unique_keys[:, None] // powers[None, :]) % (n + 1) - 1  # -1: no touch
        else:
            sequences = np.full((len(paths), width), -1, dtype=np.int32)
            sequences[kept_path, slot] = kept_code
            unique, rates = set_conversion_rates(sequences, paths.conversions, journeys)
        size = (unique >= 0).sum(axis=1)
        credit = np.zeros((len(paths.labels), width))
        rows, slots = np.nonzero(unique >= 0)
        np.add.at(credit, (unique[rows, slots], slots), rates[rows] / size[rows])
        self.position_values_ = credit
        self.values_ = credit.sum(axis=1)
        self.error_bound_ = np.zeros(len(paths.labels))
        self.exact_ = True
        return self

    def _scores(self) -> np.ndarray:
        return self.values_  # phi >= 0 here: shares are phi / sum(phi)

    def share_error_bounds(self) -> dict[str, float]:
        """95% bound on each share from sampling (0 when solved exactly)."""
        self.check_fitted()
        total = float(self.values_.sum())
        bounds = self.error_bound_ / total if total > 0 else self.error_bound_
        return dict(zip(self.labels_, bounds.tolist(), strict=True))

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
