"""The mix model on the `Workspace` and the CLI: the weekly series of the warehouse by hand, the
model and the budget through the shells."""

from __future__ import annotations

import csv
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import omnimetrics
from omnimetrics.errors import OmnimetricsError
from omnimetrics.mmm import MixModel, simulate_mix
from omnimetrics.mmm.series import mix_series
from tests.helpers import cli, loaded_world


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mix")
    _, warehouse = loaded_world(folder, customers=2000, days=300, seed=3)
    workspace = omnimetrics.Workspace(warehouse)
    workspace.build_journeys()  # the persons of the orders
    yield workspace
    workspace.close()


def test_the_weekly_series_is_the_orders_and_the_spend_of_whole_weeks(ws):
    series, channels = mix_series(ws.warehouse)
    orders = ws.warehouse.table("orders").to_pandas()
    orders = orders[orders.status.fillna("") != "cancelled"]
    orders["week"] = orders.timestamp.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(
        "W-SUN").dt.start_time  # fmt: skip
    spend = ws.warehouse.table("spend").to_pandas()
    spend["week"] = pd.to_datetime(spend.date).dt.to_period("W-SUN").dt.start_time
    assert channels == sorted(spend.channel.unique())
    assert len(series) >= 40 and series.week.is_monotonic_increasing
    first = orders.timestamp.min()
    assert pd.Timestamp(series.week.iloc[0]) >= first.tz_localize(None).normalize()
    for row in series.sample(8, random_state=1).itertuples():
        week = pd.Timestamp(row.week)
        mine = orders[orders.week == week]
        assert row.sales == pytest.approx(mine.revenue.sum(), rel=1e-9)
        store = ~mine.sales_channel.isin(["web", "app", "marketplace"])  # online: a screen
        assert row.offline_sales == pytest.approx(mine.revenue[store].sum(), rel=1e-9)
        assert row.online_sales + row.offline_sales == pytest.approx(row.sales, rel=1e-9)
        for channel in channels:
            spent = spend[(spend.week == week) & (spend.channel == channel)].spend.sum()
            assert getattr(row, channel) == pytest.approx(spent, abs=1e-9), (week, channel)


def test_the_model_and_the_budget_of_the_warehouse(ws):
    model = ws.mmm(n_bootstrap=20)
    summary = model.to_pandas()
    assert set(summary.channel) == set(mix_series(ws.warehouse)[1])
    assert (summary.roi_lower <= summary.roi + 1e-9).all()
    assert (summary.roi <= summary.roi_upper + 1e-9).all()
    parts = {p.name for p in model.parts}
    assert parts == {"mmm_decomposition", "mmm_response", "mmm_diagnostics", "mmm_plans",
                     "mmm_split"}  # fmt: skip
    split = model.part("mmm_split").to_pandas()
    per_channel = split.groupby("channel").contribution.sum()
    assert per_channel.to_dict() == pytest.approx(
        summary.set_index("channel").contribution.to_dict(), rel=1e-6
    )
    plan = ws.budget(max_change=0.2).to_pandas()
    assert plan.optimal_spend.sum() == pytest.approx(plan.current_spend.sum(), rel=1e-6)
    assert (plan.optimal_spend >= 0.8 * plan.current_spend - 1e-6).all()
    assert (plan.optimal_spend <= 1.2 * plan.current_spend + 1e-6).all()
    with pytest.raises(OmnimetricsError, match="target"):
        ws.mmm(target="profit")
    with pytest.raises(OmnimetricsError, match="pymc"):  # the engines are named
        ws.mmm(engine="bayes")


def test_a_series_file_through_the_cli_equals_the_model(tmp_path):
    world = simulate_mix(n_weeks=104, n_channels=3, seed=5)
    world.series.to_csv(tmp_path / "series.csv", index=False)
    channels = [c for c in world.series.columns if c not in ("week", "sales")]
    done = cli("mmm", "--series", "series.csv", "--channels", ",".join(channels),
               "--bootstrap", "20", "--out", "mix.csv", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    # the terminal shows the decision columns; the file keeps every one
    assert "roi_upper" in done.stdout and "saturation_shape" not in done.stdout
    assert "saturation_shape" in (tmp_path / "mix.csv").read_text().splitlines()[0]
    with (tmp_path / "mix.csv").open() as handle:
        rows = {r["channel"]: r for r in csv.DictReader(handle)}
    direct = MixModel(channels, n_bootstrap=20).fit(world.series).channel_summary()
    for row in direct.itertuples():
        assert float(rows[row.channel]["roi"]) == pytest.approx(row.roi, rel=1e-9)
    lifts = pd.DataFrame(
        {
            "channel": [channels[0]],
            "start": [world.series.week[50]],
            "end": [world.series.week[61]],
            "lift": [1e6],
            "lift_se": [2e5],
        }
    )
    lifts.to_csv(tmp_path / "lifts.csv", index=False)
    done = cli("mmm", "--series", "series.csv", "--channels", ",".join(channels),
               "--bootstrap", "20", "--calibration", "lifts.csv", "--out", "calibrated.csv",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    calibrated = pd.read_csv(tmp_path / "calibrated.csv")
    direct = MixModel(channels, n_bootstrap=20, calibration=lifts).fit(world.series)
    assert calibrated.roi.tolist() == pytest.approx(direct.channel_summary().roi.tolist())
    wrong = cli("mmm", "--series", "series.csv", "--channels", "tv", cwd=tmp_path)
    assert wrong.returncode != 0 and "tv" in wrong.stderr and "Traceback" not in wrong.stderr


HOLDOUT = "email_holdout"


@pytest.fixture(scope="module")
def holdout(ws, tmp_path_factory):
    """An experiment that held a fifth of the customers out of email, from a Wednesday."""
    series, _ = mix_series(ws.warehouse)
    start = pd.Timestamp(series.week.iloc[20]) + pd.Timedelta(days=2, hours=9)
    customers = ws.warehouse.table("customers").customer_id.to_pandas()
    held = np.random.default_rng(0).random(len(customers)) < 0.2
    path = tmp_path_factory.mktemp("holdout") / "assignments.csv"
    pd.DataFrame(
        {
            "experiment": HOLDOUT,
            "variant": np.where(held, "holdout", "exposed"),
            "unit_type": "customer_id",
            "unit_id": customers,
            "timestamp": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    ).to_csv(path, index=False)
    report = ws.warehouse.ingest("experiment_assignments", path)
    assert report.quarantined == 0
    return start


def test_an_experiments_lift_is_its_revenue_per_unit_times_its_exposed_units(ws, holdout):

    (lift,) = ws.experiment_lifts({HOLDOUT: "email"}).to_pandas().itertuples()
    test = ws.experiment(HOLDOUT, "revenue", control="holdout").to_pandas().iloc[0]
    assert (lift.channel, lift.control, lift.treated_units) == ("email", "holdout",
                                                                test.variant_units)  # fmt: skip
    assert lift.lift_per_unit == pytest.approx(test.variant_mean - test.control_mean, rel=1e-9)
    assert lift.lift == pytest.approx(lift.lift_per_unit * test.variant_units, rel=1e-9)
    assert lift.lift_lower == pytest.approx(test.ci_low * test.variant_units, rel=1e-9)
    # Welch's t statistic is the lift over its standard error: a second route to the error
    assert lift.lift_se == pytest.approx(
        test.variant_units * test.lift_abs / test.statistic, rel=1e-6
    )
    assert pd.Timestamp(lift.start) == holdout.normalize() - pd.Timedelta(days=2)  # its Monday
    last_order = ws.warehouse.table("orders").timestamp.max().to_pandas()
    assert pd.Timestamp(lift.end) >= pd.Timestamp(last_order).tz_convert(None).normalize()
    with pytest.raises(OmnimetricsError, match="No experiment 'nope'"):
        ws.experiment_lifts({"nope": "email"})
    # an A/B test of two messages has no holdout: which variant held the channel out is asked
    with pytest.raises(OmnimetricsError, match="email_subject_test=email:<variant>"):
        ws.experiment_lifts({"email_subject_test": "email"})
    named = ws.experiment_lifts({"email_subject_test": "email:A"}).to_pandas()
    assert named.control.tolist() == ["A"]


@pytest.mark.slow  # four fits
def test_the_warehouses_experiment_calibrates_the_model(ws, holdout):
    lifts = ws.experiment_lifts({HOLDOUT: "email"}).to_pandas()
    calibrated = ws.mmm(n_bootstrap=10, calibration={HOLDOUT: "email"}).to_pandas()
    series, channels = mix_series(ws.warehouse)
    direct = MixModel(channels, n_bootstrap=10, calibration=lifts).fit(series)
    assert calibrated.roi.tolist() == pytest.approx(direct.channel_summary().roi.tolist(),
                                                    rel=1e-9)  # fmt: skip
    # a lift measured tightly pulls the channel's sales over the test's weeks towards it
    plain = MixModel(channels, n_bootstrap=10).fit(series)
    weeks = (series.week >= pd.Timestamp(lifts.start[0])).to_numpy()

    def over_the_test(model):
        found = model.decomposition()
        found = found[found.component == "email"]
        return found.contribution.to_numpy()[weeks].sum()

    target = 3 * max(over_the_test(plain), 1000.0)
    strong = lifts.assign(lift=target, lift_se=target / 50)
    pulled = MixModel(channels, n_bootstrap=10, calibration=strong).fit(series)
    assert abs(over_the_test(pulled) - target) < abs(over_the_test(plain) - target) / 2


def test_reconcile_puts_attribution_model_and_experiment_side_by_side(ws, holdout):
    from omnimetrics.workspace.mix import NO_TOUCH

    mix = ws.mmm(n_bootstrap=10)
    found = ws.reconcile(experiments={HOLDOUT: "email"}, mix=mix)
    table = found.to_pandas().set_index("channel")
    weeks = pd.to_datetime(mix.part("mmm_decomposition").to_pandas().date)
    since, until = weeks.min().date(), (weeks.max() + pd.Timedelta(days=6)).date()
    credit = ws.attribution(["first_touch", "last_touch", "last_non_direct", "linear",
                             "position_based", "time_decay", "markov", "shapley"],
                            since=since, until=until).to_pandas()  # fmt: skip
    credit = credit[credit.channel != NO_TOUCH]
    assert set(table.index) == set(credit.channel) | set(mix.to_pandas().channel)
    # a model that credits a channel nothing has no row for it: 0
    spread = credit.set_index(["channel", "model"]).revenue.unstack(fill_value=0.0)
    spread = spread.agg(["min", "max"], axis=1)
    assert table.attributed_low.dropna().to_dict() == pytest.approx(spread["min"].to_dict())
    assert table.attributed_high.dropna().to_dict() == pytest.approx(spread["max"].to_dict())
    shown = mix.to_pandas().set_index("channel")
    assert table.incremental.dropna().to_dict() == pytest.approx(shown.contribution.to_dict())
    lift = ws.experiment_lifts({HOLDOUT: "email"}).to_pandas().iloc[0]
    assert table.loc["email", "measured_lift"] == pytest.approx(lift.lift)
    assert f"Experiment {HOLDOUT} measured" in table.loc["email", "reading"]
    assert table.reading.str.len().min() > 20
    assert found.title.endswith(f"{since:%Y-%m-%d} to {until:%Y-%m-%d}")


@pytest.mark.slow  # four fits
def test_mix_settings_name_the_holdouts_every_mix_number_reads(ws, holdout):
    from omnimetrics.config import MixSettings, Settings

    settings = Settings.from_mapping({"mix": {"holdouts": {HOLDOUT: "email"}, "calibrate": True}},
                                     demo=True)  # fmt: skip
    configured = omnimetrics.Workspace(ws.warehouse.using(settings))
    calibrated = configured.mmm(n_bootstrap=10).to_pandas()
    explicit = ws.mmm(n_bootstrap=10, calibration={HOLDOUT: "email"}).to_pandas()
    assert calibrated.roi.tolist() == pytest.approx(explicit.roi.tolist(), rel=1e-9)
    plain = configured.mmm(n_bootstrap=10, calibration={}).to_pandas()  # asked without
    assert plain.roi.tolist() == pytest.approx(ws.mmm(n_bootstrap=10).to_pandas().roi.tolist())
    found = configured.reconcile(n_bootstrap=10).to_pandas().set_index("channel")
    assert found.loc["email", "experiment"] == HOLDOUT
    for wrong in ({"holdouts": ["email"]}, {"calibrate": "yes"}, {"holdout": {}}):
        with pytest.raises(OmnimetricsError, match="mix"):
            Settings.from_mapping({"mix": wrong}, demo=True)
    assert MixSettings().holdouts == {} and MixSettings().calibrate is False


def test_a_spend_plans_expected_sales(ws):
    series, channels = mix_series(ws.warehouse)
    doubled = {channels[0]: 2 * series[channels[0]].sum()}
    found = ws.scenario(doubled).to_pandas().set_index("channel")
    direct = MixModel(channels).fit(series).scenario(doubled).set_index("channel")
    pd.testing.assert_frame_equal(found, direct)
    assert found.loc[channels[0], "spend"] == pytest.approx(doubled[channels[0]])
    assert (found.lower <= found.sales + 1e-9).all() and (found.sales <= found.upper + 1e-9).all()


def test_without_spend_the_model_says_what_to_load(tmp_path):
    ws = omnimetrics.open(tmp_path / "w.duckdb", demo=True)
    assert ws.experiment_lifts({}).num_rows == 0  # no experiments asked: none needed
    with pytest.raises(OmnimetricsError, match="omnimetrics ingest spend"):
        ws.mmm()
    ws.close()


@pytest.mark.slow  # two more fits
def test_the_mix_page_shows_the_model_and_the_budget(ws):
    from omnimetrics.pages import PAGES, View

    results = {r.name: r for r in PAGES["mix"].build(ws, View())}
    assert set(results) == {"mmm", "mmm_decomposition", "mmm_response", "mmm_diagnostics",
                            "mmm_plans", "mmm_split", "budget", "budget_summary",
                            "reconcile"}  # fmt: skip
    # without stored paths, the page's reconciliation is the live one of the same fit
    mix = replace(results["mmm"], parts=tuple(results[n] for n in ("mmm_decomposition",)))
    live_table = ws.reconcile(mix=mix).to_pandas()
    pd.testing.assert_frame_equal(results["reconcile"].to_pandas(), live_table)
    # after a run stored the paths by month: the whole months, the models that read paths
    from omnimetrics.pages import store_paths

    store_paths(ws, "mix-page-test")
    stored = {r.name: r for r in PAGES["mix"].build(ws, View())}["reconcile"]
    assert "reading" in stored.table.column_names, stored.notes
    weeks = pd.to_datetime(results["mmm_decomposition"].to_pandas().date)
    first = weeks.min().replace(day=1).date()
    last = (weeks.max() + pd.Timedelta(days=6) + pd.offsets.MonthEnd(0)).date()
    models = ["first_touch", "last_touch", "last_non_direct", "linear", "position_based",
              "markov", "shapley"]  # fmt: skip
    credit = ws.attribution(models, since=first, until=last).to_pandas()
    credit = credit.set_index(["channel", "model"]).revenue.unstack(fill_value=0.0)
    shown_credit = stored.to_pandas().set_index("channel").attributed_low.dropna()
    assert shown_credit.to_dict() == pytest.approx(credit.min(axis=1)[shown_credit.index].to_dict())
    assert "the whole months" in stored.notes[0]
    plans = results["mmm_plans"].plot()
    assert tuple(plans.data[0].y)[:1] == ("omnichannel",)
    live = ws.mmm().to_pandas().set_index("channel")
    shown = results["mmm"].to_pandas().set_index("channel")
    assert shown.roi.to_dict() == pytest.approx(live.roi.to_dict(), rel=1e-9)
    figure = results["mmm"].plot()
    (bars,) = figure.data
    assert dict(zip(bars.x, bars.y, strict=True)) == pytest.approx(shown.roi.to_dict())
    lows = [y - minus for y, minus in zip(bars.y, bars.error_y.arrayminus, strict=True)]
    assert lows == pytest.approx(shown.roi_lower.reindex(bars.x).tolist())
    curves = results["mmm_response"].plot()
    assert {t.name for t in curves.data if t.name} == set(shown.index)
