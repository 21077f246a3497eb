"""The pymc engine of the mix model: the same tables from a pymc-marketing posterior.

The tests that sample are marked slow (one small world, 104 weeks x 2 channels, 2 short chains:
a minute or two). Without the [pymc] extra they are skipped with the reason, except in CI
(CI=true), where `make test-slow` installs the extra and a missing one fails. The checks of
what the engine refuses run in the default set: they never import pymc-marketing.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

from omnimetrics.errors import ConfigError, EngineError, UnknownNameError
from omnimetrics.mmm import ENGINES, MixModel, optimise_budget, simulate_mix

# few draws: enough to test the plumbing and a loose recovery, not a converged posterior
SAMPLER = {"chains": 2, "draws": 150, "tune": 150, "cores": 1}
CONVERGENCE = {"r_hat_max", "ess_bulk_min", "ess_tail_min", "divergences"}


def _require_extra() -> None:
    if importlib.util.find_spec("pymc_marketing") is not None:
        return
    if os.environ.get("CI"):
        pytest.fail("CI runs the pymc engine's tests: install the [pymc] extra (make test-slow).")
    pytest.skip("the [pymc] extra is not installed: pip install 'omnimetrics[pymc]'")


@pytest.fixture(scope="module")
def world():
    return simulate_mix(n_weeks=104, n_channels=2, seed=3)


@pytest.fixture(scope="module")
def bayesian(world):
    _require_extra()
    model = MixModel(
        world.channels, controls=["promotion"], engine="pymc", engine_options=SAMPLER, seed=1
    )
    return model.fit(world.series)


@pytest.fixture(scope="module")
def bootstrap(world):
    return MixModel(world.channels, controls=["promotion"], n_bootstrap=5).fit(world.series)


def _split_series(world):
    sales = world.series["sales"]
    return world.series.assign(online=0.3 * sales, offline=0.7 * sales)


@pytest.mark.slow
def test_every_table_has_the_default_engines_columns(bayesian, bootstrap, world):
    def tables(model):
        plan = optimise_budget(model)
        return {
            "decomposition": model.decomposition(),
            "channel_summary": model.channel_summary(),
            "response_curves": model.response_curves(),
            "scenario": model.scenario({"channel_1": 1e6}),
            "split_effects": model.split_effects(_split_series(world), ["online", "offline"]),
            "allocation": plan.allocation,
            "plan_summary": plan.summary,
        }

    ours, default = tables(bayesian), tables(bootstrap)
    for name, table in default.items():
        assert list(ours[name].columns) == list(table.columns), name
        assert len(ours[name]) == len(table), name
    metrics = set(bayesian.diagnostics()["metric"])
    assert metrics == set(bootstrap.diagnostics()["metric"]) - {"search_converged"} | CONVERGENCE


@pytest.mark.slow
def test_decomposition_sums_to_fitted_sales_and_matches_pymc_marketing(bayesian, world):
    assert len(bayesian.draws_) == SAMPLER["chains"] * SAMPLER["draws"]
    table = bayesian.decomposition()
    per_week = table.groupby("date")["contribution"].sum().to_numpy()
    assert np.allclose(per_week, bayesian.fitted_)
    assert (table.loc[table["kind"] == "channel", "contribution"] >= 0).all()
    # every draw's channel columns, recomputed with omnimetrics' transforms (the tables need them
    # at other spend levels), are pymc-marketing's own contributions
    idata = bayesian.inference_data_
    theirs = (
        idata.posterior["channel_contribution"]
        .sel(channel=world.channels)
        .stack(sample=("chain", "draw"))
        .transpose("sample", "date", "channel")
        .to_numpy()
        * np.asarray(idata.constant_data["target_scale"]).ravel()[0]
    )
    ours = np.stack([bayesian._contributions(draw) for draw in bayesian.draws_])
    assert np.allclose(ours, theirs, rtol=1e-9, atol=1e-6 * np.abs(theirs).max())


@pytest.mark.slow
def test_true_rois_lie_within_the_posterior_intervals(bayesian, world):
    summary = bayesian.channel_summary().set_index("channel")
    truth = world.truth.set_index("channel")
    for channel in world.channels:
        row = summary.loc[channel]
        assert row["roi_lower"] <= truth.loc[channel, "roi"] <= row["roi_upper"], channel
        assert row["roi_lower"] <= row["roi"] <= row["roi_upper"]
    assert np.allclose(summary["roi"], summary["contribution"] / summary["spend"])
    assert np.isclose(summary["share"].sum(), 1.0)


@pytest.mark.slow
def test_convergence_and_fit_diagnostics(bayesian):
    table = bayesian.diagnostics().set_index("metric")["value"]
    assert 0.95 < table["r_hat_max"] < 1.5  # loose: 2 short chains
    assert table["ess_bulk_min"] > 5 and table["ess_tail_min"] > 5
    assert table["divergences"] >= 0 and float(table["divergences"]).is_integer()
    assert table["r2"] > 0.7
    assert 0 <= table["mape_holdout"] < 0.15  # a second posterior, without the last 13 weeks


@pytest.mark.slow
def test_the_optimiser_reads_the_posterior(bayesian):
    plan = optimise_budget(bayesian)
    summary = plan.summary.set_index("metric")
    assert np.isclose(plan.allocation["optimal_spend"].sum(), summary.loc["budget", "value"])
    assert 0 <= summary.loc["probability_of_uplift", "value"] <= 1
    assert summary.loc["uplift", "value"] >= -1e-6 * summary.loc["expected_sales_current", "value"]


def test_the_engines_are_named_and_an_unknown_one_lists_them(world):
    assert ENGINES.names() == ["ridge", "pymc"]
    with pytest.raises(UnknownNameError, match="Did you mean 'pymc'"):
        MixModel(world.channels, engine="pymx").fit(world.series)


def test_engine_options_are_checked_before_sampling(world):
    series = world.series
    with pytest.raises(ConfigError, match=r"Unknown engine_options \['draw'\].*accepts"):
        MixModel(world.channels, engine="pymc", engine_options={"draw": 10}).fit(series)
    with pytest.raises(ConfigError, match="MixModel's parameters"):
        MixModel(world.channels, engine_options={"chains": 2}).fit(series)
    with pytest.raises(ConfigError, match="'chains' must be an integer >= 1"):
        MixModel(world.channels, engine="pymc", engine_options={"chains": 0}).fit(series)
    with pytest.raises(ConfigError, match="'target_accept' must be a float in"):
        MixModel(world.channels, engine="pymc", engine_options={"target_accept": 1.2}).fit(series)


def test_the_pymc_engine_refuses_what_it_does_not_map(world):
    with pytest.raises(ConfigError, match="no 'weibull' adstock"):
        MixModel(world.channels, engine="pymc", adstock="weibull").fit(world.series)
    with pytest.raises(ConfigError, match="posterior quantiles"):
        MixModel(world.channels, engine="pymc", interval_method="basic").fit(world.series)
    lift = world.series.iloc[:1].assign(channel="channel_1", start=world.series["week"].iloc[0])
    lift = lift.assign(end=lift["start"], lift=1.0, lift_se=0.1)
    with pytest.raises(ConfigError, match="calibration"):
        MixModel(world.channels, engine="pymc", calibration=lift).fit(world.series)


def test_without_the_extra_the_error_says_what_to_install(world, monkeypatch):
    for name in ("pymc_marketing", "pymc_marketing.mmm", "pymc_marketing.mmm.multidimensional"):
        monkeypatch.setitem(sys.modules, name, None)  # what an environment without it sees
    with pytest.raises(EngineError, match=r"pip install 'omnimetrics\[pymc\]'"):
        MixModel(world.channels, engine="pymc").fit(world.series)


@pytest.mark.slow
def test_a_sampler_not_installed_says_what_to_do(world):
    _require_extra()
    if importlib.util.find_spec("blackjax") is not None:
        pytest.skip("blackjax is installed here")
    model = MixModel(world.channels, engine="pymc", engine_options={"nuts_sampler": "blackjax"})
    with pytest.raises(EngineError, match="'blackjax' is not installed"):
        model.fit(world.series)
