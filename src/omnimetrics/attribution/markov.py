"""Markov chain attribution (first order): removal effects solved exactly on the absorbing chain.

States: `(start)`, one per channel, and the absorbing `(conversion)` and `(null)`. Transition
counts come from the engine (converting and non-converting journeys); only the small matrix
reaches numpy. With Q the transient-to-transient block and r the transient-to-conversion column,
the probability of converting from each transient state is x = (I - Q)^-1 r, so
P(conversion) = x[start]. Removing channel c sends every transition into c to `(null)`;
removal effect RE_c = 1 - P_without_c / P; credit_c = RE_c / sum(RE) (Anderl et al., 2016,
"Mapping the customer journey: Lessons learned from graph-based online attribution modeling").
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from omnimetrics.attribution.registry import register_data_driven
from omnimetrics.errors import NotFittedError

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
register_data_driven("markov", "First-order Markov chain: credit by removal effect.")


def markov_attribution(
    converting: ir.Table, non_converting: ir.Table, *, by: str = "channel"
) -> ir.Table:
    """Tidy table like `attribute`: model, <by>, conversions, revenue, share.

    Conversions and revenue of the converting journeys are shared in proportion to the removal
    effects of the states (channels, or campaigns with by="campaign").
    """
    conv = converting.select("order_id", "position", "revenue", channel=converting[by])
    non = non_converting.select("person_id", "position", channel=non_converting[by])
    model = MarkovAttribution().fit(transition_counts(conv, non).to_pyarrow().to_pandas())
    totals = conv.group_by("order_id").agg(revenue=conv.revenue.max())
    orders = int(totals.count().execute())
    revenue = float(totals.revenue.sum().execute() or 0.0)
    shares = model.credits()
    return ibis.memtable({
        "model": ["markov"] * len(shares), by: list(shares),
        "conversions": [s * orders for s in shares.values()],
        "revenue": [s * revenue for s in shares.values()],
        "share": list(shares.values()),
    })  # fmt: skip


def transition_counts(converting: ir.Table, non_converting: ir.Table) -> ir.Table:
    """Counts of state-to-state moves: from_state, to_state, transitions.

    converting: (order_id, position, channel); non_converting: (person_id, position, channel).
    """

    def moves(touches: ir.Table, key: str, end: str) -> ir.Table:
        journey = ibis.window(group_by=key, order_by="position")
        steps = touches.mutate(
            from_state=ibis.coalesce(touches.channel.lag().over(journey), ibis.literal(START)),
            last=touches.position == touches.position.max().over(ibis.window(group_by=key)),
        )
        inner = steps.select(from_state="from_state", to_state=steps.channel)
        final = steps.filter(steps.last).select(
            from_state=steps.channel, to_state=ibis.literal(end)
        )
        return ibis.union(inner, final)

    all_moves = ibis.union(
        moves(converting.select(key=converting.order_id, position="position", channel="channel"),
              "key", CONVERSION),
        moves(non_converting.select(key=non_converting.person_id, position="position",
                                    channel="channel"), "key", NULL),
    )  # fmt: skip
    return all_moves.group_by(["from_state", "to_state"]).agg(transitions=all_moves.count())


def conversion_probability(states: list[str], matrix: np.ndarray) -> float:
    """P(reaching (conversion) from (start)) for a row-stochastic matrix over `states`."""
    transient = [i for i, s in enumerate(states) if s not in (CONVERSION, NULL)]
    q = matrix[np.ix_(transient, transient)]
    r = matrix[transient, states.index(CONVERSION)]
    x = np.linalg.solve(np.eye(len(transient)) - q, r)
    return float(x[transient.index(states.index(START))])


def removal_effects(states: list[str], matrix: np.ndarray) -> dict[str, float]:
    """Removal effect of every channel state (1 - P without it / P)."""
    base = conversion_probability(states, matrix)
    effects = {}
    for index, state in enumerate(states):
        if state in (START, CONVERSION, NULL):
            continue
        removed = matrix.copy()
        into = removed[:, index].copy()
        removed[:, index] = 0.0
        removed[:, states.index(NULL)] += into
        removed[index, :] = 0.0
        removed[index, states.index(NULL)] = 1.0
        effects[state] = 1.0 - conversion_probability(states, removed) / base if base else 0.0
    return effects


@dataclass
class MarkovAttribution:
    """First-order Markov attribution, scikit-learn style: fit(counts) then credits()."""

    def fit(self, counts: pd.DataFrame) -> MarkovAttribution:
        """counts: from_state, to_state, transitions (from `transition_counts`)."""
        states = sorted(set(counts.from_state) | set(counts.to_state) - {START, CONVERSION, NULL})
        states = [START, *[s for s in states if s not in (START, CONVERSION, NULL)], CONVERSION,
                  NULL]  # fmt: skip
        index = {s: i for i, s in enumerate(states)}
        matrix = np.zeros((len(states), len(states)))
        rows = counts.from_state.map(index).to_numpy()
        cols = counts.to_state.map(index).to_numpy()
        np.add.at(matrix, (rows, cols), counts.transitions.to_numpy(dtype=float))
        for absorbing in (CONVERSION, NULL):
            matrix[index[absorbing], index[absorbing]] = 1.0
        totals = matrix.sum(axis=1, keepdims=True)
        self.states_ = states
        self.transition_matrix_ = np.divide(matrix, totals, out=np.zeros_like(matrix),
                                            where=totals > 0)  # fmt: skip
        self.conversion_probability_ = conversion_probability(states, self.transition_matrix_)
        self.removal_effects_ = removal_effects(states, self.transition_matrix_)
        return self

    def credits(self) -> dict[str, float]:
        """Share of conversions credited to each channel (removal effects normalised)."""
        if not hasattr(self, "removal_effects_"):
            raise NotFittedError("MarkovAttribution is not fitted: call fit(counts) first.")
        total = sum(self.removal_effects_.values())
        return {c: (e / total if total else 0.0) for c, e in self.removal_effects_.items()}
