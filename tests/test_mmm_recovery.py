"""Recovery over many simulated worlds (slow; the 50-world figures: benchmarks/mmm.py)."""

import numpy as np
import pytest

from omnimetrics.mmm.model import MixModel
from omnimetrics.mmm.optimise import optimise_budget
from omnimetrics.mmm.simulate import simulate_mix


@pytest.mark.slow
def test_recovery_and_optimiser_over_twenty_worlds():
    errors, covered, uplifts = [], [], []
    for seed in range(20):
        world = simulate_mix(n_weeks=156, n_channels=5, seed=100 + seed)
        model = MixModel(world.channels, controls=["promotion"], n_bootstrap=50, seed=seed)
        summary = model.fit(world.series).channel_summary()
        truth = world.truth
        errors.append(np.abs(summary["roi"] - truth["roi"]) / truth["roi"])
        covered.append(
            (summary["roi_lower"] <= truth["roi"]) & (truth["roi"] <= summary["roi_upper"])
        )
        plan = optimise_budget(model).allocation
        multiples = (plan["optimal_spend"] / plan["current_spend"]).to_numpy()
        uplifts.append(world.true_incremental_sales(multiples).sum() - truth["contribution"].sum())
    assert np.median(np.concatenate(errors)) < 0.3
    assert np.mean(np.concatenate(covered)) >= 0.75
    assert np.mean(np.array(uplifts) > 0) >= 0.9
