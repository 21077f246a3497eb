"""Shapley attribution journey by journey: hand-computed splits, brute force, both routes to the
closed form, every key encoding, ordered."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from omnimetrics.attribution import PathTable, ShapleyAttribution, attribute
from omnimetrics.attribution import shapley as shapley_module
from omnimetrics.attribution.shapley_math import exact_shapley, subset_sums
from omnimetrics.errors import ConfigError, NotFittedError


def paths(rows) -> PathTable:
    """rows: (path list, conversions, nulls[, value])."""
    return PathTable.from_arrow(pa.table({
        "path": pa.array([r[0] for r in rows], pa.list_(pa.string())),
        "conversions": [float(r[1]) for r in rows], "nulls": [float(r[2]) for r in rows],
        "value": [float(r[3]) if len(r) > 3 else 0.0 for r in rows],
    }))  # fmt: skip


def random_rows(seed: int, labels: int, journeys: int, longest: int = 5):
    rng = np.random.default_rng(seed)
    names = [f"c{i:02d}" for i in range(labels)]
    return [(list(rng.choice(names, int(rng.integers(1, longest + 1)))), int(rng.integers(0, 3)),
             int(rng.integers(0, 4)), float(rng.integers(0, 100))) for _ in range(journeys)]  # fmt: skip


def test_hand_computed_split_of_each_journey():
    # Sets: {A, B} 1 of 1 converts (CR 1), {B} 2 of 4 (CR 1/2), {A} 0 of 2 (CR 0).
    # Journey {A, B}: phi_A = CR(A) + CR(AB)/2 = 1/2, phi_B = CR(B) + CR(AB)/2 = 1: A gets 1/3 and
    # B 2/3 of its 1 conversion (and of its revenue 10). {B}'s 2 conversions (revenue 6) go to B.
    table = paths([(["A", "B", "A"], 1, 0, 10), (["B"], 2, 2, 6), (["A"], 0, 2)])
    model = ShapleyAttribution().fit(table)
    assert model.conversions_ == pytest.approx([1 / 3, 8 / 3])
    assert model.revenue_ == pytest.approx([10 / 3, 6 + 20 / 3])
    assert model.credits() == pytest.approx({"A": 1 / 9, "B": 8 / 9})
    split = {(r.journey, r.label): r.share for r in model.journey_shares().itertuples()}
    assert split == pytest.approx({("B", "B"): 1.0, ("A + B", "A"): 1 / 3, ("A + B", "B"): 2 / 3})


def test_a_rare_channel_gets_at_most_the_conversions_of_its_journeys():
    # R appears once, in a journey that converted (CR 1); A alone converts 10 of 100.
    # Journey {A, R}: phi_A = 0.1 + 1/2, phi_R = 0 + 1/2: R gets 5/11 of that one conversion.
    # (The simplified Shapley value of all journeys at once gave R the same 5/11, but of all 11
    # conversions: 5 conversions for a channel in one converting journey.)
    table = paths([(["A", "R"], 1, 0), (["A"], 10, 90)])
    model = ShapleyAttribution().fit(table)
    assert dict(zip(model.labels_, model.conversions_, strict=True)) == pytest.approx(
        {"A": 10 + 6 / 11, "R": 5 / 11}
    )
    rows = attribute(table, ["shapley", "shapley_ordered"]).to_pandas()
    assert rows[rows.channel == "R"].conversions.max() <= 1.0


def test_values_are_never_negative():
    # {A} converts 1 of 2 (CR 1/2), {A, B} 1 of 10 (CR 1/10): adding B lowers the rate, yet the
    # dividends are rates >= 0: phi_A = 1/2 + 1/20, phi_B = 1/20, so B gets 1/12 of {A, B}.
    model = ShapleyAttribution().fit(paths([(["A"], 1, 1), (["A", "B"], 1, 9)]))
    assert model.conversions_ == pytest.approx([1 + 11 / 12, 1 / 12])


def test_ordered_shapley_plays_on_sequences_of_first_touches():
    # Sequences: (A, B) 1 of 1 (CR 1), (B) 1 of 2 (CR 1/2); (A) never seen (0). Journey (A, B):
    # phi_A = 0 + 1/2, phi_B = 1/2 + 1/2: A 1/3 at position 1, B 2/3 at position 2; (B) gives B
    # 1 at position 1. Total 2.
    table = paths([(["A", "B", "A"], 1, 0), (["B"], 1, 1)])
    model = ShapleyAttribution(ordered=True).fit(table)
    assert model.conversions_ == pytest.approx([1 / 3, 5 / 3])
    positions = {(r.label, r.position): r.share for r in model.position_credits().itertuples()}
    assert positions == pytest.approx({("B", 1): 1 / 2, ("B", 2): 1 / 3, ("A", 1): 1 / 6})
    split = {(r.journey, r.label): r.share for r in model.journey_shares().itertuples()}
    assert split == pytest.approx({("B", "B"): 1.0, ("A > B", "A"): 1 / 3, ("A > B", "B"): 2 / 3})
    # (B, A) is not within (A, B): order decides which sequences count.
    both = paths([(["A", "B"], 1, 0), (["B", "A"], 1, 3), (["A"], 1, 1)])
    ordered = ShapleyAttribution(ordered=True).fit(both).journey_shares()
    # CR: (A) 1/2, (A, B) 1, (B, A) 1/4, (B) unseen. (A, B): phi_A = 1/2 + 1/2, phi_B = 0 + 1/2;
    # (B, A): phi_B = 0 + 1/8, phi_A = 1/2 + 1/8.
    assert {(r.journey, r.label): r.share for r in ordered.itertuples()} == pytest.approx({
        ("A", "A"): 1.0, ("A > B", "A"): 2 / 3, ("A > B", "B"): 1 / 3,
        ("B > A", "B"): 1 / 6, ("B > A", "A"): 5 / 6,
    })  # fmt: skip


@pytest.mark.parametrize("ordered", [False, True])
def test_every_split_is_the_shapley_value_of_its_journey_game_by_brute_force(ordered):
    # v(S) = sum of CR(T) over the sets (sequences) T within S, Shapley values by enumeration.
    table = paths(random_rows(3, labels=6, journeys=150))
    model = ShapleyAttribution(ordered=ordered).fit(table)
    won, seen = {}, {}
    for row in zip(table.to_arrow().column("path").to_pylist(), table.conversions, table.nulls,
                   strict=True):  # fmt: skip
        items = list(dict.fromkeys(row[0].split(" > ")))
        key = tuple(items) if ordered else tuple(sorted(items))
        won[key] = won.get(key, 0.0) + row[1]
        seen[key] = seen.get(key, 0.0) + row[1] + row[2]
    expected = {}
    for key in (k for k in won if won[k] > 0):
        rates = np.zeros(1 << len(key))
        for mask in range(1, 1 << len(key)):
            sub = tuple(key[i] for i in range(len(key)) if mask >> i & 1)
            rates[mask] = won.get(sub, 0.0) / seen[sub] if seen.get(sub) else 0.0
        phi = exact_shapley(subset_sums(rates))
        for label, share in zip(key, phi / phi.sum(), strict=True):
            expected[(" > " if ordered else " + ").join(key), label] = share
    split = {(r.journey, r.label): r.share for r in model.journey_shares().itertuples()}
    assert split == pytest.approx(expected)


@pytest.mark.parametrize("ordered", [False, True])
def test_every_key_encoding_gives_the_same_split(ordered, monkeypatch):
    table = paths(random_rows(5, labels=7, journeys=200, longest=6))
    results = {}
    for encoding in ("mask", "digits", "bytes"):
        if ordered and encoding == "mask":
            continue
        monkeypatch.setattr(shapley_module, "_encoding", lambda *_, e=encoding: e)
        results[encoding] = ShapleyAttribution(ordered=ordered).fit(table).conversions_
    for conversions in results.values():
        np.testing.assert_allclose(conversions, next(iter(results.values())), atol=1e-12)


@pytest.mark.parametrize("ordered", [False, True])
def test_long_journeys_sum_over_the_converting_sets_within_them(ordered, monkeypatch):
    # Above ENUMERATED channels a journey is not enumerated (2^k subsets) but matched against
    # the converting sets: the same closed form, so the same split.
    table = paths(random_rows(9, labels=12, journeys=400, longest=10))
    enumerated = ShapleyAttribution(ordered=ordered).fit(table)
    monkeypatch.setattr(shapley_module, "ENUMERATED", 0)
    matched = ShapleyAttribution(ordered=ordered).fit(table)
    np.testing.assert_allclose(matched.journey_shares_, enumerated.journey_shares_, atol=1e-12)
    np.testing.assert_allclose(matched.conversions_, enumerated.conversions_, atol=1e-9)


def test_a_journey_of_seventy_campaigns_is_split_exactly():
    labels = [f"k{i:02d}" for i in range(70)]
    table = paths([(labels, 2, 1), (labels[:1], 1, 3), (labels[1:3], 1, 1)])
    assert shapley_module._encoding(70, 70, True) == "bytes"
    for ordered in (False, True):
        model = ShapleyAttribution(ordered=ordered).fit(table)
        # {k00..k69} CR 2/3: 2/3 / 70 each; {k00} CR 1/4 -> k00; {k01, k02} CR 1/2: 1/4 each.
        total = 2 / 3 + 1 / 4 + 1 / 2
        expected = np.full(70, 2 / 3 / 70 / total)
        expected[0] += 1 / 4 / total
        expected[1:3] += 1 / 4 / total
        shares = model.journey_shares()
        big = shares[shares.journey.str.count("k") == 70]
        np.testing.assert_allclose(big.sort_values("label").share, expected, atol=1e-12)
        assert model.conversions_.sum() == pytest.approx(4.0)


def test_journeys_with_the_same_set_share_one_game():
    # A > B and B > A have one set: the unordered model splits both alike, the ordered one not.
    table = paths([(["A", "B"], 3, 0, 30), (["B", "A"], 1, 3, 10), (["A"], 1, 1), (["B"], 0, 4)])
    unordered = ShapleyAttribution().fit(table)
    assert len(unordered.journey_shares()) == 2 + 1  # {A, B} and {A}
    assert unordered.conversions_.sum() == pytest.approx(5.0)
    assert unordered.revenue_.sum() == pytest.approx(40.0)
    ordered = ShapleyAttribution(ordered=True).fit(table)
    assert set(ordered.journey_shares().journey) == {"A > B", "B > A", "A"}


def test_no_conversions_no_credit():
    model = ShapleyAttribution().fit(paths([(["A", "B"], 0, 3), (["B"], 0, 1)]))
    assert model.credits() == {"A": 0.0, "B": 0.0} and model.journey_shares().empty
    empty = ShapleyAttribution().fit(paths([([], 2, 0)]))
    assert empty.credits() == {} and empty.conversions_.size == 0


def test_misuse_is_explained():
    with pytest.raises(NotFittedError, match="call fit"):
        ShapleyAttribution().credits()
    with pytest.raises(ConfigError, match="ordered=True"):
        ShapleyAttribution().fit(paths([(["A"], 1, 0)])).position_credits()


def test_items_of_a_journey_in_set_and_sequence_order():
    table = paths([(["C", "A", "C", "B"], 1, 0), (["B"], 0, 1), ([], 1, 0)])
    rows, sizes = shapley_module.journey_items(table)
    assert rows.tolist() == [[0, 1, 2], [1, -1, -1], [-1, -1, -1]] and sizes.tolist() == [3, 1, 0]
    rows, _ = shapley_module.journey_items(table, ordered=True)
    assert rows.tolist() == [[2, 0, 1], [1, -1, -1], [-1, -1, -1]]
    for encoding in ("mask", "digits", "bytes"):
        keys = shapley_module.row_keys(rows, 3, encoding)
        coalitions = np.arange(8, dtype=np.int64)
        sub = shapley_module.coalition_keys(rows[:1], coalitions, 3, 3, encoding)
        assert sub[0, 7] == keys[0]  # the whole journey
        assert len(set(sub[0].tolist())) == 8  # every coalition its own key
