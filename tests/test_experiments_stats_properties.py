"""Invariants of the experiments' statistics, on generated summaries (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimetrics.experiments import (
    analyse,
    benjamini_hochberg,
    holm,
    pool_variants,
    summarise_units,
)
from omnimetrics.experiments.bayesian import beta_chance_to_beat, beta_expected_loss

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def proportion_summaries(draw, variants: int = 2) -> pd.DataFrame:
    units = [draw(st.integers(2, 100_000)) for _ in range(variants)]
    conversions = [draw(st.integers(0, n)) for n in units]
    names = ["A", "B", "C", "D"][:variants]
    return pd.DataFrame({"variant": names, "units": units, "conversions": conversions})


@st.composite
def unit_values(draw) -> tuple[list[str], list[float]]:
    n_a = draw(st.integers(2, 30))
    n_b = draw(st.integers(2, 30))
    value = st.floats(-1e3, 1e3, allow_nan=False).map(lambda x: round(x, 3))
    values = draw(st.lists(value, min_size=n_a + n_b, max_size=n_a + n_b))
    return ["A"] * n_a + ["B"] * n_b, values


def rows(result):
    return result.comparisons.iloc[0]


@SETTINGS
@given(proportion_summaries())
def test_swapping_the_control_negates_the_lift(summary):
    forward, backward = (
        rows(analyse(summary, draws=500)),
        rows(analyse(summary, control="B", draws=500)),
    )
    if forward.error is not None:
        assert backward.error == forward.error
        return
    assert backward.lift_abs == pytest.approx(-forward.lift_abs, abs=1e-12)
    assert (backward.ci_low, backward.ci_high) == pytest.approx(
        (-forward.ci_high, -forward.ci_low), abs=1e-12
    )
    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-9, abs=1e-300)
    assert backward.chance_to_win == pytest.approx(1 - forward.chance_to_win, abs=1e-7)
    assert backward.expected_loss == pytest.approx(
        forward.expected_loss_control, rel=1e-6, abs=1e-12
    )


@SETTINGS
@given(proportion_summaries(variants=3))
def test_intervals_contain_their_estimate_and_probabilities_are_probabilities(summary):
    for row in analyse(summary, draws=500).comparisons.itertuples():
        if row.error is not None:
            continue
        assert row.ci_low <= row.lift_abs <= row.ci_high
        assert row.seq_ci_low <= row.lift_abs <= row.seq_ci_high
        if np.isfinite(row.lift_rel):
            assert row.rel_ci_low <= row.lift_rel <= row.rel_ci_high
            assert row.rel_ci_low >= -1.0
        for p in (row.p_value, row.p_holm, row.p_bh, row.seq_p_value, row.chance_to_win):
            assert 0.0 <= p <= 1.0
        assert row.p_value <= row.p_bh <= row.p_holm + 1e-15
        assert row.seq_p_value >= row.p_value - 1e-12
        assert row.expected_loss >= 0 and row.expected_loss_control >= 0


@SETTINGS
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_adjusted_p_values_bound_the_raw_ones(p):
    raw = np.array(p)
    assert np.all(holm(raw) >= raw - 1e-15) and np.all(holm(raw) <= 1)
    assert np.all(benjamini_hochberg(raw) >= raw - 1e-15)
    assert np.all(benjamini_hochberg(raw) <= holm(raw) + 1e-15)
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(holm(raw)[order]) >= -1e-15)


@SETTINGS
@given(unit_values(), st.floats(0.01, 100))
def test_means_scale_free_and_swap_symmetric(units, scale):
    variant, value = units
    base = rows(analyse(summarise_units(variant, value), draws=500))
    scaled = rows(analyse(summarise_units(variant, np.array(value) * scale), draws=500))
    if base.error is not None:
        return
    assert scaled.lift_abs == pytest.approx(base.lift_abs * scale, rel=1e-6, abs=1e-9)
    assert scaled.p_value == pytest.approx(base.p_value, rel=1e-5, abs=1e-12)
    swapped = rows(analyse(summarise_units(variant, value), control="B", draws=500))
    assert swapped.lift_abs == pytest.approx(-base.lift_abs, rel=1e-9, abs=1e-9)
    assert swapped.p_value == pytest.approx(base.p_value, rel=1e-9, abs=1e-12)


@SETTINGS
@given(st.integers(1, 500), st.integers(1, 500), st.integers(1, 500), st.integers(1, 500))
def test_chance_to_beat_is_complementary(a_t, b_t, a_c, b_c):
    forward = beta_chance_to_beat(a_t, b_t, a_c, b_c)
    assert forward + beta_chance_to_beat(a_c, b_c, a_t, b_t) == pytest.approx(1.0, abs=1e-7)
    # E[(C - T)+] - E[(T - C)+] = E[C] - E[T].
    mean_t, mean_c = a_t / (a_t + b_t), a_c / (a_c + b_c)
    difference = beta_expected_loss(a_t, b_t, a_c, b_c) - beta_expected_loss(a_c, b_c, a_t, b_t)
    assert difference == pytest.approx(mean_c - mean_t, abs=1e-7)


@SETTINGS
@given(proportion_summaries(variants=3))
def test_pooling_keeps_the_totals(summary):
    pooled = pool_variants(summary, ["B", "C"])
    assert pooled.units.sum() == summary.units.sum()
    assert pooled.conversions.sum() == summary.conversions.sum()
    assert pooled.variant.tolist() == ["A", "B+C"]
