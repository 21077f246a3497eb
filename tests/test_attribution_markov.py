"""Markov attribution: a small chain solved by hand, invariants, the tidy output."""

from __future__ import annotations

from datetime import UTC, datetime

import ibis
import numpy as np
import pytest

from omnimetrics.attribution import attribute
from omnimetrics.attribution.markov import (
    CONVERSION,
    NULL,
    START,
    MarkovAttribution,
    conversion_probability,
    removal_effects,
    transition_counts,
)
from omnimetrics.errors import ConfigError, NotFittedError

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def journeys():
    # Converting: A > B (revenue 30), B (revenue 10). Not converting: A.
    converting = ibis.memtable({
        "order_id": ["o1", "o1", "o2"], "position": [1, 2, 1], "channel": ["A", "B", "B"],
        "campaign": ["a", "b", "b"], "revenue": [30.0, 30.0, 10.0],
        "touch_at": [NOW] * 3, "order_at": [NOW] * 3,
    })  # fmt: skip
    non_converting = ibis.memtable(
        {"person_id": ["p1"], "position": [1], "channel": ["A"], "campaign": ["a"]}
    )
    return converting, non_converting


def test_small_chain_solved_by_hand():
    converting, non_converting = journeys()
    counts = transition_counts(converting, non_converting).to_pyarrow().to_pylist()
    assert {(c["from_state"], c["to_state"]): c["transitions"] for c in counts} == {
        (START, "A"): 2, (START, "B"): 1, ("A", "B"): 1, ("A", NULL): 1, ("B", CONVERSION): 2}  # fmt: skip
    model = MarkovAttribution().fit(transition_counts(converting, non_converting).to_pandas())
    # P(conv) = 2/3 * 1/2 * 1 + 1/3 * 1 = 2/3; without A: 1/3 (RE 1/2); without B: 0 (RE 1).
    assert model.conversion_probability_ == pytest.approx(2 / 3)
    assert model.removal_effects_ == pytest.approx({"A": 0.5, "B": 1.0})
    assert model.credits() == pytest.approx({"A": 1 / 3, "B": 2 / 3})
    rows = attribute(converting, ["markov"], non_converting=non_converting).to_pyarrow().to_pylist()
    by = {r["channel"]: r for r in rows}
    assert by["A"]["conversions"] == pytest.approx(2 / 3) and by["B"]["revenue"] == pytest.approx(
        40 * 2 / 3
    )
    by_campaign = attribute(converting, ["markov"], by=["campaign"], non_converting=non_converting)
    assert {r["campaign"] for r in by_campaign.to_pyarrow().to_pylist()} == {"a", "b"}


def test_linear_chain_probability_and_removal_identity():
    # start -> A (1); A -> B (0.5), A -> null (0.5); B -> conv (0.8), B -> null (0.2)
    states = [START, "A", "B", CONVERSION, NULL]
    matrix = np.zeros((5, 5))
    matrix[0, 1] = 1
    matrix[1, 2], matrix[1, 4] = 0.5, 0.5
    matrix[2, 3], matrix[2, 4] = 0.8, 0.2
    matrix[3, 3] = matrix[4, 4] = 1
    assert conversion_probability(states, matrix) == pytest.approx(0.4)
    # Every path goes through both A and B: removing either kills all conversions.
    assert removal_effects(states, matrix) == pytest.approx({"A": 1.0, "B": 1.0})


def test_not_fitted_and_misuse_are_explained():
    with pytest.raises(NotFittedError, match="call fit"):
        MarkovAttribution().credits()
    converting, _ = journeys()
    with pytest.raises(ConfigError, match="non-converting"):
        attribute(converting, ["markov"])
