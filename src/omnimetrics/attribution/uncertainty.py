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

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omnimetrics.attribution.learned import NO_TOUCH
from omnimetrics.attribution.paths import PathTable, label_keys

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from omnimetrics.attribution.registry import AttributionModel

LEVEL = 0.95
CHUNK = 16


def rule_intervals(
    specs: Sequence[AttributionModel],
    credited: ir.Table,
    by: list[str],
    replicates: int,
    seed: int,
    untouched: float = 0.0,
) -> pd.DataFrame:
    """Intervals for rule-based models from their per-touch credits (`credit_columns`: `unit`
    and a `credit_<model>` column per model), in one pass over the touches; `untouched`: the
    orders (conversions) without any touch, reported as NO_TOUCH."""
    amounts = {
        f"_amount{i}": (credited[f"credit_{spec.name}"] * credited.unit).sum()
        if spec.additive else credited.unit.max()
        for i, spec in enumerate(specs)
    }  # fmt: skip
    per_order = credited.group_by(["order_id", *by]).agg(_w=credited.unit.max(), **amounts)
    frame = per_order.to_pandas()
    orders, order_index = np.unique(frame.order_id.to_numpy(dtype=str), return_inverse=True)
    keys = frame[by].astype(object).where(frame[by].notna(), None)
    key_labels, key_index = _index(list(map(tuple, keys.to_numpy())))
    units = np.zeros(len(orders))
    units[order_index] = frame._w.to_numpy(float)
    bands = []
    for i, spec in enumerate(specs):
        matrix = sp.csr_matrix((frame[f"_amount{i}"].to_numpy(float), (order_index, key_index)),
                               shape=(len(orders), len(key_labels)))  # fmt: skip
        rng = np.random.default_rng(seed)  # every model sees the same replicates
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
        bands.append(_bands(spec.name, by, [*key_labels, (NO_TOUCH,) * len(by)],
                            np.column_stack([conversions, left]), total))  # fmt: skip
    return pd.concat(bands, ignore_index=True)


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
    touched = paths.touched.shared()
    rng = np.random.default_rng(seed)
    conversions = np.zeros((replicates, len(touched.labels) + 1))
    for replicate in range(replicates):
        sample = touched.resample(rng)
        conversions[replicate, :-1] = spec.learner().fit(sample).conversions_
        conversions[replicate, -1] = rng.poisson(untouched)
    keys = list(zip(*label_keys(touched.labels, by).values(), strict=True))
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
