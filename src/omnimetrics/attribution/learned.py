"""Data-driven models: the `Learner` base (fit a path table, credit shares) and their credit table.

Everything here is numpy and Arrow: a path table is attributed with Markov or Shapley without
loading an engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Self

import numpy as np
import pyarrow as pa

from omnimetrics.attribution.arrow import booleans, floats, strings
from omnimetrics.attribution.paths import PathTable, label_keys
from omnimetrics.fitted import Fitted

if TYPE_CHECKING:
    from omnimetrics.attribution.registry import AttributionModel

NO_TOUCH = "(no attributable touch)"


class Learner(Fitted, ABC):
    """A data-driven attribution model: `fit(paths)` credits the conversions and revenue of the
    converting paths to the labels (`conversions_`, `revenue_`, in `labels_` order);
    `credits()` are the credited conversions as shares (all 0 when nothing was credited)."""

    labels_: tuple[str, ...]
    conversions_: np.ndarray
    revenue_: np.ndarray

    @abstractmethod
    def fit(self, paths: PathTable) -> Self: ...

    def credits(self) -> dict[str, float]:
        """Share of conversions credited to each label."""
        self.check_fitted()
        total = float(self.conversions_.sum())
        shares = self.conversions_ / total if total > 0 else np.zeros(len(self.labels_))
        return dict(zip(self.labels_, shares.tolist(), strict=True))


def shared_out(scores: np.ndarray, paths: PathTable) -> tuple[np.ndarray, np.ndarray]:
    """(conversions, revenue) of a path table credited to its labels in proportion to one
    score >= 0 per label (score / sum of scores; nothing when nothing scored): how a model that
    scores channels over all journeys (Markov's removal effects) hands out credit."""
    scores = np.asarray(scores, dtype=float)
    total = float(scores.sum())
    shares = scores / total if total > 0 else np.zeros_like(scores)
    return shares * float(paths.conversions.sum()), shares * float(paths.value.sum())


def untouched(paths: PathTable) -> tuple[float, float]:
    """(conversions, value) of the converting paths without any touch."""
    empty = (paths.lengths == 0) & (paths.conversions > 0)
    return float(paths.conversions[empty].sum()), float(paths.value[empty].sum())


def learned_credit(
    spec: AttributionModel, paths: PathTable, by: Sequence[str], lonely: tuple[float, float]
) -> pa.Table:
    """The conversions and value of the touched paths as a data-driven model credits them;
    `lonely` (conversions, value without a touch) is reported under NO_TOUCH."""
    assert spec.learner is not None
    model = spec.learner().fit(paths.touched)
    credited = np.flatnonzero(model.conversions_ > 0)
    keys = label_keys([model.labels_[i] for i in credited.tolist()], by)
    conversions, revenue = model.conversions_[credited], model.revenue_[credited]
    if lonely[0] > 0:
        for column in by:
            keys[column].append(NO_TOUCH)
        conversions = np.append(conversions, lonely[0])
        revenue = np.append(revenue, lonely[1])
    total = float(conversions.sum())
    rows = len(conversions)
    return pa.table({
        "model": strings([spec.name] * rows),
        **{column: strings(keys[column]) for column in by},
        "conversions": floats(conversions),
        "revenue": floats(revenue),
        "share": floats(conversions / total if total else np.zeros(rows)),
        "additive": booleans(np.ones(rows, bool)),
    })  # fmt: skip


def path_credit(
    paths: PathTable,
    specs: Sequence[AttributionModel],
    by: Sequence[str],
    *,
    intervals: int = 0,
    seed: int = 0,
) -> pa.Table:
    """The credit table of data-driven models on a path table, sorted as `attribute` sorts it
    (model, most conversions first), with bootstrap bands when `intervals` > 0."""
    lonely = untouched(paths)
    table = pa.concat_tables([learned_credit(spec, paths, by, lonely) for spec in specs])
    if intervals:
        import pandas as pd

        from omnimetrics.attribution.uncertainty import learner_intervals

        bands = [learner_intervals(spec, paths, list(by), intervals, seed, lonely[0])
                 for spec in specs]  # fmt: skip
        merged = table.to_pandas().merge(
            pd.concat(bands, ignore_index=True), on=["model", *by], how="left"
        )
        table = pa.Table.from_pandas(merged, preserve_index=False)
    order = [("model", "ascending"), ("conversions", "descending")]
    return table.sort_by([*order, *((column, "ascending") for column in by)])
