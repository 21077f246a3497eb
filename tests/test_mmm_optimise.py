"""The budget optimiser: bounds and total respected, and better than the current plan on the truth."""

import numpy as np
import pytest

from omnimetrics.errors import ConfigError
from omnimetrics.mmm.model import MixModel
from omnimetrics.mmm.optimise import optimise_budget
from omnimetrics.mmm.simulate import simulate_mix


@pytest.fixture(scope="module")
def fitted():
    world = simulate_mix(n_weeks=156, n_channels=4, seed=5)
    model = MixModel(world.channels, controls=["promotion"], n_bootstrap=30).fit(world.series)
    return world, model


def test_truth_matches_the_simulated_contributions(fitted):
    world, _ = fitted
    assert np.allclose(world.true_incremental_sales(np.ones(4)), world.truth["contribution"])


def test_bounds_and_total_are_respected(fitted):
    _, model = fitted
    plan = optimise_budget(model)
    table = plan.allocation
    assert np.isclose(table["optimal_spend"].sum(), table["current_spend"].sum())
    assert np.allclose(table["lower_bound"], 0.7 * table["current_spend"])
    assert np.allclose(table["upper_bound"], 1.3 * table["current_spend"])
    assert (table["optimal_spend"] >= table["lower_bound"] * (1 - 1e-9)).all()
    assert (table["optimal_spend"] <= table["upper_bound"] * (1 + 1e-9)).all()

    budget = 1.02 * table["current_spend"].sum()
    first = model.channels[0]
    bounds = {first: (0.0, 0.5 * table["current_spend"].iloc[0])}
    other = optimise_budget(model, total_budget=budget, bounds=bounds).allocation
    assert np.isclose(other["optimal_spend"].sum(), budget)
    assert other["optimal_spend"].iloc[0] <= bounds[first][1] * (1 + 1e-9)


def test_the_optimal_plan_beats_the_current_one(fitted):
    world, model = fitted
    plan = optimise_budget(model)
    summary = plan.summary.set_index("metric")
    assert summary.loc["uplift", "value"] > 0
    assert (
        summary.loc["uplift", "lower"]
        <= summary.loc["uplift", "value"]
        <= summary.loc["uplift", "upper"]
    )
    # judged on the simulated truth, not on the model
    table = plan.allocation
    multiples = (table["optimal_spend"] / table["current_spend"]).to_numpy()
    true_uplift = world.true_incremental_sales(multiples).sum() - world.truth["contribution"].sum()
    assert true_uplift > 0


def test_impossible_budgets_are_refused(fitted):
    _, model = fitted
    with pytest.raises(ConfigError, match="cannot be spent within the channel bounds"):
        optimise_budget(model, total_budget=10.0)
    with pytest.raises(ConfigError, match="Did you mean 'channel_1'"):
        optimise_budget(model, bounds={"chanel_1": (0.0, 1.0)})
