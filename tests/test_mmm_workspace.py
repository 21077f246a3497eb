"""The mix model on the `Workspace` and the CLI: the weekly series of the warehouse by hand, the
model and the budget through the shells."""

from __future__ import annotations

import csv

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
    assert parts == {"mmm_decomposition", "mmm_response", "mmm_diagnostics", "mmm_split"}
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


def test_a_series_file_through_the_cli_equals_the_model(tmp_path):
    world = simulate_mix(n_weeks=104, n_channels=3, seed=5)
    world.series.to_csv(tmp_path / "series.csv", index=False)
    channels = [c for c in world.series.columns if c not in ("week", "sales")]
    done = cli("mmm", "--series", "series.csv", "--channels", ",".join(channels),
               "--bootstrap", "20", "--out", "mix.csv", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with (tmp_path / "mix.csv").open() as handle:
        rows = {r["channel"]: r for r in csv.DictReader(handle)}
    direct = MixModel(channels, n_bootstrap=20).fit(world.series).channel_summary()
    for row in direct.itertuples():
        assert float(rows[row.channel]["roi"]) == pytest.approx(row.roi, rel=1e-9)
    wrong = cli("mmm", "--series", "series.csv", "--channels", "tv", cwd=tmp_path)
    assert wrong.returncode != 0 and "tv" in wrong.stderr and "Traceback" not in wrong.stderr


def test_without_spend_the_model_says_what_to_load(tmp_path):
    ws = omnimetrics.open(tmp_path / "w.duckdb", demo=True)
    with pytest.raises(OmnimetricsError, match="omnimetrics ingest spend"):
        ws.mmm()
    ws.close()


@pytest.mark.slow  # two more fits
def test_the_mix_page_shows_the_model_and_the_budget(ws):
    from omnimetrics.pages import PAGES, View

    results = {r.name: r for r in PAGES["mix"].build(ws, View())}
    assert set(results) == {"mmm", "mmm_decomposition", "mmm_response", "mmm_diagnostics",
                            "mmm_split", "budget", "budget_summary"}  # fmt: skip
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
