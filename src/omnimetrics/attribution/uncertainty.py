"""Bootstrap intervals on attribution credits, by resampling journeys (Poisson bootstrap).

Each journey is redrawn k ~ Poisson(1) times (Hanley & MacGibbon, 2006, "Creating non-parametric
bootstrap samples using Poisson frequencies"), which equals multinomial resampling for large
samples and needs no Python loop over journeys: a path of c conversions becomes Poisson(c). A
rule-based model's credits are per journey, so a replicate is a weighted sum (one sparse product);
a data-driven model is refitted on every replicate. Orders without any touch are redrawn too
(their count becomes Poisson), so a replicate's share has the same base as the estimate's: all
orders, the untouched ones included. Intervals are percentile intervals; the random generator is
seeded, so the same input gives the same intervals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omnimetrics.attribution.learned import NO_TOUCH
from omnimetrics.attribution.paths import LABEL_JOIN, NOT_SET, PathTable

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from omnimetrics.attribution.registry import AttributionModel

LEVEL = 0.95
CHUNK = 16


def rule_intervals(
    spec: AttributionModel,
    credited: ir.Table,
    by: list[str],
    replicates: int,
    seed: int,
    untouched: float = 0.0,
) -> pd.DataFrame:
    """Intervals for a rule-based model from its per-touch credits (`touch_credits`);
    `untouched`: the orders (conversions) without any touch, reported as NO_TOUCH."""
    amount = (credited.credit * credited.unit).sum() if spec.additive else credited.unit.max()
    per_order = credited.group_by(["order_id", *by]).agg(_amount=amount, _w=credited.unit.max())
    frame = per_order.to_pandas()
    orders, order_index = np.unique(frame.order_id.to_numpy(dtype=str), return_inverse=True)
    keys = frame[by].astype(object).where(frame[by].notna(), None)
    key_tuples = list(map(tuple, keys.to_numpy()))
    key_labels, key_index = _index(key_tuples)
    matrix = sp.csr_matrix((frame._amount.to_numpy(float), (order_index, key_index)),
                           shape=(len(orders), len(key_labels)))  # fmt: skip
    units = np.zeros(len(orders))
    units[order_index] = frame._w.to_numpy(float)
    rng = np.random.default_rng(seed)
    draws, totals, lonely = [], [], []
    for start in range(0, replicates, CHUNK):
        size = min(CHUNK, replicates - start)
        drawn = rng.poisson(np.broadcast_to(units, (size, len(units))))
        factor = drawn / np.where(units > 0, units, 1.0)
        draws.append(np.asarray((matrix.T @ factor.T).T))
        lonely.append(rng.poisson(untouched, size))
        totals.append(drawn.sum(axis=1) + lonely[-1])
    conversions, total = np.vstack(draws), np.concatenate(totals)
    # Orders left without credit: untouched ones, and those an abstaining model passes over.
    left = total - conversions.sum(axis=1) if spec.additive else np.concatenate(lonely)
    return _bands(spec.name, by, [*key_labels, (NO_TOUCH,) * len(by)],
                  np.column_stack([conversions, left]), total)  # fmt: skip


def learner_intervals(
    spec: AttributionModel,
    paths: PathTable,
    by: list[str],
    replicates: int,
    seed: int,
    untouched: float = 0.0,
) -> pd.DataFrame:
    """Intervals for a data-driven model: refitted on every resampled path table; `untouched`:
    the conversions without any touch (reported as NO_TOUCH), redrawn as well."""
    assert spec.learner is not None
    touched = paths.touched
    rng = np.random.default_rng(seed)
    conversions = np.zeros((replicates, len(touched.labels) + 1))
    for replicate in range(replicates):
        sample = touched.resample(rng)
        conversions[replicate, :-1] = spec.learner().fit(sample).conversions_
        conversions[replicate, -1] = rng.poisson(untouched)
    keys = [tuple(None if part == NOT_SET and column == "campaign" else part
                  for column, part in zip(by, label.split(LABEL_JOIN), strict=True))
            for label in touched.labels]  # fmt: skip
    keys.append((NO_TOUCH,) * len(by))
    return _bands(spec.name, by, keys, conversions, conversions.sum(axis=1))


def _index(keys: list[tuple]) -> tuple[list[tuple], np.ndarray]:
    positions: dict[tuple, int] = {}
    index = np.array([positions.setdefault(key, len(positions)) for key in keys], dtype=np.int64)
    return list(positions), index


def _bands(
    model: str, by: list[str], keys: list[tuple], conversions: np.ndarray, totals: np.ndarray
) -> pd.DataFrame:
    """Percentile bands of replicate conversions and of their shares of the replicate's orders
    (`totals`: all orders, untouched ones included, the base of the estimate's share)."""
    low, high = (1 - LEVEL) / 2 * 100, (1 + LEVEL) / 2 * 100
    frame = pd.DataFrame(keys, columns=by)
    frame.insert(0, "model", model)
    frame["conversions_low"] = np.percentile(conversions, low, axis=0)
    frame["conversions_high"] = np.percentile(conversions, high, axis=0)
    totals = np.asarray(totals, dtype=float)[:, None]
    shares = np.divide(conversions, totals, out=np.zeros_like(conversions), where=totals > 0)
    frame["share_low"] = np.percentile(shares, low, axis=0)
    frame["share_high"] = np.percentile(shares, high, axis=0)
    return frame
