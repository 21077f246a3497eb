"""Attribution, mix model and experiments side by side (`reconciled`, `reading`) and the
omnichannel plan against single-channel plans (`compare_plans`): by hand and against the mix
simulator's truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omnimetrics.errors import OmnimetricsError
from omnimetrics.mmm import MixModel, simulate_mix
from omnimetrics.mmm.optimise import PLAN_COLUMNS, compare_plans
from omnimetrics.workspace.mix import LIFT_COLUMNS, NO_TOUCH, RECONCILE_COLUMNS, reconciled


def summary(**channels) -> pd.DataFrame:
    """A mix model's channel summary: channel -> (spend, contribution, lower, upper, ok)."""
    rows = []
    for name, (spend, mid, low, high, ok) in channels.items():
        rows.append({"channel": name, "spend": spend, "contribution": mid,
                     "contribution_lower": low, "contribution_upper": high, "roi": mid / spend,
                     "roi_lower": low / spend, "roi_upper": high / spend, "identifiable": ok,
                     "warning": "" if ok else "spend moves with 'tv' (correlation 0.95): "
                     "the data cannot split their effects"})  # fmt: skip
    return pd.DataFrame(rows)


CREDIT = pd.DataFrame(
    [(model, channel, revenue) for model, values in {
        "last_touch": {"search": 900.0, "organic": 300.0, NO_TOUCH: 500.0},  # no row: 0 to tv
        "linear": {"search": 600.0, "tv": 100.0, "organic": 500.0, NO_TOUCH: 500.0},
        "markov": {"search": 700.0, "tv": 200.0, "organic": 300.0, NO_TOUCH: 500.0},
    }.items() for channel, revenue in values.items()],
    columns=["model", "channel", "revenue"],
)  # fmt: skip


WEEKS = pd.date_range("2025-12-29", periods=10, freq="7D")  # Mondays
DECOMPOSITION = pd.DataFrame({"date": list(WEEKS) * 2, "component": ["search"] * 10 + ["tv"] * 10,
                              "contribution": [15.0] * 10 + [200.0] * 10})  # fmt: skip


def test_each_channel_gets_its_credit_range_its_increment_and_its_lift():
    mix = summary(search=(100.0, 150.0, 80.0, 220.0, True), tv=(400.0, 2000.0, 1200.0, 2900.0,
                  True), radio=(50.0, 30.0, 0.0, 90.0, False))  # fmt: skip
    # the test ran from the week of 2026-01-05 (weeks 2 to 10): the model gives 9 x 15 = 135
    lifts = pd.DataFrame([["search_holdout", "search", "holdout", 1000, 0.2, "2026-01-05",
                           "2026-03-08", 200.0, 120.0, 280.0, 40.8]],
                         columns=LIFT_COLUMNS)  # fmt: skip
    table, by_model = reconciled(mix, CREDIT, lifts, DECOMPOSITION)
    assert list(table.columns) == RECONCILE_COLUMNS
    rows = table.set_index("channel")
    assert list(rows.index) == ["search", "tv", "radio", "organic"]  # modelled first
    search = rows.loc["search"]
    assert (search.attributed_low, search.attributed_high) == (600.0, 900.0)
    assert search.attributed_last_touch == 900.0 and search.attributed_data_driven == 700.0
    assert search.incremental == 150.0 and search.roi == 1.5
    assert search.incremental_to_last_touch == pytest.approx(150 / 900)
    assert (search.experiment, search.measured_lift) == ("search_holdout", 200.0)
    assert search.incremental_over_test == 135.0
    # search: credited 600-900, adds 80-220: closes journeys; the lift 120-280 holds 135
    assert search.reading.startswith("Closes journeys but adds little")
    assert search.reading.endswith("the mix model gives 135 over the same weeks: consistent.")
    # tv: credited 0 (last touch has no row for it) to 200, adds at least 1,200
    assert (rows.loc["tv"].attributed_low, rows.loc["tv"].attributed_high) == (0.0, 200.0)
    assert rows.loc["tv"].reading.startswith("Adds more than its tracked journeys show")
    assert np.isnan(rows.loc["tv"].incremental_over_test)  # no test of tv
    assert np.isnan(rows.loc["tv"].incremental_to_last_touch)  # no last-touch credit
    # radio: in no journey and not identified; organic: no spend
    assert rows.loc["radio"].reading.startswith(
        "The mix model cannot separate this channel (spend moves with 'tv' (correlation 0.95))"
    )
    assert np.isnan(rows.loc["radio"].attributed_low)
    assert rows.loc["organic"].reading.startswith("No spend in the spend table")
    assert np.isnan(rows.loc["organic"].incremental)
    # the credit by model, wide, without the orders no touch explains
    assert set(by_model.channel) == {"search", "tv", "organic"}
    assert by_model.set_index("channel").loc["organic", "linear"] == 500.0
    assert by_model.set_index("channel").loc["tv", "last_touch"] == 0.0


def test_a_lift_the_model_disagrees_with_asks_for_calibration():
    mix = summary(search=(100.0, 700.0, 500.0, 950.0, True), organic=(1.0, 1.0, 0.0, 2.0, True))
    lifts = pd.DataFrame([["t", "search", "holdout", 10, 1.0, "2026-02-02", "2026-03-08", 100.0,
                           50.0, 150.0, 25.5]], columns=LIFT_COLUMNS)  # fmt: skip
    table = reconciled(mix.iloc[:1], CREDIT, lifts, DECOMPOSITION)[0].set_index("channel")
    reading = table.loc["search", "reading"]
    assert reading.startswith("Attribution and mix model agree within the interval")
    # the weeks of 2026-02-02 to 2026-03-02: 5 x 15 = 75, inside the test's 50 to 150
    assert table.loc["search", "incremental_over_test"] == 75.0
    assert reading.endswith("consistent.")
    tight = lifts.assign(lift=300.0, lift_lower=250.0, lift_upper=350.0)
    table = reconciled(mix.iloc[:1], CREDIT, tight, DECOMPOSITION)[0].set_index("channel")
    assert table.loc["search", "reading"].endswith(
        "Experiment t measured 300 (250 to 350); the mix model gives 75 over the same weeks: "
        "they disagree; fit the model with the test (calibrate)."
    )
    # a test of a channel without spend is still said; two tests of one channel are refused
    unpaid = lifts.assign(channel="organic")
    table = reconciled(mix.iloc[:1], CREDIT, unpaid, DECOMPOSITION)[0].set_index("channel")
    assert table.loc["organic", "reading"].endswith("Experiment t measured 100 (50 to 150).")
    with pytest.raises(OmnimetricsError, match="Several experiments name"):
        reconciled(mix, CREDIT, pd.concat([lifts, lifts]), DECOMPOSITION)


def test_the_plans_against_the_models_own_tables():
    world = simulate_mix(n_weeks=156, n_channels=3, seed=2)
    model = MixModel(world.channels, controls=["promotion"], n_bootstrap=40, seed=1)
    model.fit(world.series)
    plans = compare_plans(model, {"half on channel_1": {"channel_1": 1000.0}})
    assert list(plans.columns) == PLAN_COLUMNS
    rows = plans.set_index("plan")
    total = model.spend_.sum()
    omni = rows.loc["omnichannel"]
    assert omni.spend == pytest.approx(total)
    # the omnichannel plan is the modelled spend: its sales are the channels' contributions
    assert omni.incremental_sales == pytest.approx(model.channel_summary().contribution.sum())
    assert omni.roi == pytest.approx(omni.incremental_sales / total)
    assert omni.roi_against_omnichannel == pytest.approx(1.0)
    for channel in model.channels:
        alone = rows.loc[f"{channel} only"]
        assert alone.spend == pytest.approx(total)
        others = dict.fromkeys(model.channels, 0.0)
        scenario = model.scenario({**others, channel: total}).set_index("channel")
        assert alone.incremental_sales == pytest.approx(scenario.sales[model.channels].sum())
        assert alone.largest_spend_multiple == pytest.approx(
            total / model.spend_[:, model.channels.index(channel)].sum()
        )
        assert alone.roi_lower <= alone.roi <= alone.roi_upper
        assert 0.0 <= alone.probability_omnichannel_better <= 1.0
    assert rows.loc["half on channel_1"].spend == pytest.approx(1000.0)


def test_the_plans_against_the_simulators_truth():
    """Over ten simulated worlds: when the model is sure (95% of its fits) which of the
    omnichannel and a single-channel plan sells more, the truth agrees; the plans' intervals
    hold the true incremental sales most of the time (measured: 0.70-0.73 at a nominal 0.90
    over 20 worlds, docs/mmm.md: the intervals are too narrow for plans far from the data)."""
    sure = agree = covered = plans_seen = 0
    for seed in range(10):
        world = simulate_mix(n_weeks=156, n_channels=3, seed=seed)
        model = MixModel(world.channels, controls=["promotion"], n_bootstrap=30, seed=1)
        plans = compare_plans(model.fit(world.series)).set_index("plan")
        current = world.series[world.channels].sum().to_numpy()
        truth = {"omnichannel": world.true_incremental_sales(np.ones(len(current))).sum()}
        for j, channel in enumerate(world.channels):
            only = np.zeros(len(current))
            only[j] = current.sum() / current[j]
            truth[f"{channel} only"] = world.true_incremental_sales(only).sum()
        for name, row in plans.iterrows():
            plans_seen += 1
            covered += row.incremental_lower <= truth[name] <= row.incremental_upper
            p = row.probability_omnichannel_better
            if name != "omnichannel" and (p >= 0.95 or p <= 0.05):
                sure += 1
                agree += (truth["omnichannel"] > truth[name]) == (p >= 0.95)
    assert sure >= 15 and agree == sure, (sure, agree)
    assert covered / plans_seen >= 0.6, covered / plans_seen
