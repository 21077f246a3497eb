"""Customer value through the Workspace and the CLI: the models' predictions put together as
they should be, the parts (LTV/CAC by acquisition channel, channel mix, holdout) equal to what
they are made of, and the CLI on the literature's CDNOW table."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimetrics.errors import ConfigError, OmnimetricsError, SchemaError
from tests.helpers import cli

CDNOW = Path(__file__).parent / "data" / "cdnow" / "cdnow_customers_summary_with_transactions.csv"
CDNOW_MAP = "customer_id=ID,frequency=x,recency=t_x,monetary_value=zbar"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A world with enough repeat buyers to fit (the shared small world has a handful)."""
    import omnimetrics
    from tests.helpers import loaded_world

    _, warehouse = loaded_world(tmp_path_factory.mktemp("value-world"), customers=2000,
                                days=180, seed=3)  # fmt: skip
    workspace = omnimetrics.Workspace(warehouse)
    workspace.build_journeys()
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def value(ws):
    """No discount: the discounted purchases telescope to E[purchases over the horizon]."""
    return ws.clv(unit="week", horizon=26, discount_rate=0.0, margin=0.4)


@pytest.mark.slow
def test_each_customer_is_valued_by_the_formula(ws, value):
    rows = value.to_pandas()
    summary = ws.rfm(unit="week").to_pandas()
    assert len(rows) == len(summary) == value.figures["customers"]
    merged = rows.merge(summary, on="customer_id", suffixes=("", "_rfm"))
    for column in ("frequency", "recency", "T", "monetary_value"):
        assert np.allclose(merged[column], merged[f"{column}_rfm"])
    # CLV = margin x expected order value x expected purchases over the horizon (no discount)
    assert np.allclose(rows.clv, 0.4 * rows.expected_value * rows.expected_purchases, rtol=1e-9)
    assert rows.p_alive.between(0, 1).all() and (rows.expected_purchases >= 0).all()
    assert rows.clv.is_monotonic_decreasing  # highest value first
    assert value.figures["total_clv"] == pytest.approx(rows.clv.sum())
    params = value.part("clv_params").to_pandas()
    assert set(params.model) == {"bgnbd", "gamma_gamma"}
    assert {"r", "alpha", "a", "b", "p", "q", "gamma", "log_likelihood"} <= set(params.parameter)


@pytest.mark.slow
def test_the_default_margin_is_the_orders_own(ws):
    from omnimetrics.metrics.facts import Facts

    orders = Facts(ws.warehouse, grain="total").orders.to_pandas()
    known = orders[orders.margin.notna()]
    assert len(known) > 0
    rate = known.margin.sum() / known.revenue.sum()
    assert ws.clv(unit="week").figures["margin_rate"] == pytest.approx(rate, rel=1e-9)


@pytest.mark.slow
def test_discounting_and_margin_lower_the_value(ws, value):
    discounted = ws.clv(unit="week", horizon=26, discount_rate=0.5, margin=0.4).to_pandas()
    base = value.to_pandas().set_index("customer_id").clv
    lower = discounted.set_index("customer_id").clv.reindex(base.index)
    assert (lower < base).all()
    half = ws.clv(unit="week", horizon=26, discount_rate=0.0, margin=0.2).to_pandas()
    assert np.allclose(half.set_index("customer_id").clv.reindex(base.index), base / 2)


@pytest.mark.slow
def test_value_by_acquisition_channel_and_ltv_cac(ws, value):
    rows = value.to_pandas()
    by_channel = value.part("clv_by_channel").to_pandas()
    assert by_channel.customers.sum() == len(rows)
    assert by_channel.total_clv.sum() == pytest.approx(rows.clv.sum())
    cac = ws.kpis(["cac"], by=["channel"], grain="total").to_pandas().set_index("channel").value
    priced = by_channel[by_channel.cac.notna()]
    assert len(priced) >= 1
    for row in priced.itertuples():
        assert row.cac == pytest.approx(cac[row.acquisition_channel])
        assert row.ltv_cac == pytest.approx(row.mean_ltv / row.cac)
        assert (row.flag == "under 3") == (row.ltv_cac < 3)
    # LTV = the margin on what they bought so far + CLV, so never below CLV
    assert (by_channel.mean_ltv >= by_channel.mean_clv).all()
    mix = value.part("clv_by_mix").to_pandas()
    assert mix.customers.sum() == len(rows)


@pytest.mark.slow
def test_value_by_a_segment_is_each_segments_customers_and_their_clv(ws, value):
    from omnimetrics.metrics.segments import person_segments

    by = ws.clv(unit="week", horizon=26, discount_rate=0.0, margin=0.4, by="rfm_segment")
    rows = value.to_pandas()
    segments = person_segments(ws.warehouse).select("person_id", "rfm_segment").to_pandas()
    merged = rows.merge(segments, left_on="customer_id", right_on="person_id", how="left")
    expected = merged.groupby("rfm_segment", dropna=False).clv.agg(["size", "mean", "sum"])
    table = by.part("clv_by_segment").to_pandas().set_index("rfm_segment")
    assert by.part("clv_by_segment").title == "Value by rfm_segment"
    assert len(table) == len(expected) >= 3
    for segment, row in expected.iterrows():
        assert table.loc[segment, "customers"] == row["size"], segment
        assert table.loc[segment, "mean_clv"] == pytest.approx(row["mean"], rel=1e-9)
        assert table.loc[segment, "total_clv"] == pytest.approx(row["sum"], rel=1e-9)
    assert by.part("clv_by_segment").plot().data
    with pytest.raises(OmnimetricsError, match="rfm_segmnt"):
        ws.clv(by="rfm_segmnt")


@pytest.mark.slow
def test_holdout_check_counts_the_purchases_after_the_calibration_end(ws):
    end = date(2025, 5, 31)
    checked = ws.clv(unit="week", calibration_end=end)
    holdout = checked.part("clv_holdout")
    summary = ws.rfm(unit="week", calibration_end=end, observation_end=date(2025, 6, 29))
    actual = summary.to_pandas().frequency_holdout.sum()
    table = holdout.to_pandas()
    assert (table.actual * table.customers).sum() == pytest.approx(actual)
    assert holdout.figures["actual_purchases"] == pytest.approx(actual)
    assert math.isfinite(holdout.figures["relative_error"])
    with pytest.raises(ConfigError, match="calibration_end 2030-01-01 must fall within the data"):
        ws.clv(calibration_end=date(2030, 1, 1))


@pytest.mark.slow
def test_cohorts_by_first_sales_channel(ws):
    cohorts = ws.cohorts(by=["sales_channel"]).to_pandas()
    first = cohorts[cohorts.period == 0]
    customers = ws.rfm(unit="day").num_rows
    assert first.customers.sum() == customers  # every customer in one cohort, at period 0
    assert (first.rate == 1).all()  # everyone buys in their acquisition period
    mixes = ws.cohorts(by=["channel_mix"]).to_pandas()  # a segment column of the persons
    first = mixes[mixes.period == 0]
    assert first.customers.sum() == customers and set(first.channel_mix) <= {
        "omnichannel", "online_only", "store_only", "single_channel", "none"}  # fmt: skip
    assert mixes.groupby("cohort").customers.first().sum() < customers  # the cut splits cohorts
    with pytest.raises(ConfigError, match="not a known cohort dimension"):
        ws.cohorts(by=["colour"])


def test_the_cli_fits_the_published_cdnow_models(tmp_path):
    done = cli("clv", "--rfm", str(CDNOW), "--map", CDNOW_MAP, "--params-out", "p.csv",
               "--out", "c.csv", "--quiet", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    params = pd.read_csv(tmp_path / "p.csv").set_index(["model", "parameter"]).value
    # Fader, Hardie and Lee (2005): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, want in published.items():
        assert params["bgnbd", name] == pytest.approx(want, abs=0.0015), name
    customers = pd.read_csv(tmp_path / "c.csv")
    assert list(customers.columns) == ["customer_id", "expected_purchases", "p_alive",
                                       "expected_value", "clv"]  # fmt: skip
    assert len(customers) == 2357


def test_the_cli_summarises_transactions(tmp_path):
    # a: 1 Jan, 8 Jan (two in the same week count once: 9 Jan), 22 Jan; b: 15 Jan only.
    (tmp_path / "t.csv").write_text(
        "cust,day,value\na,2024-01-01,10\na,2024-01-08,20\na,2024-01-09,5\na,2024-01-22,30\n"
        "b,2024-01-15,7\n"
    )
    for n in range(12):  # repeat buyers enough to fit: c0..c11 buy twice, a week apart
        with (tmp_path / "t.csv").open("a") as f:
            f.write(f"c{n},2024-01-0{1 + n % 3},10\nc{n},2024-01-1{n % 3 + 5},{12 + n}\n")
    done = cli("clv", "--transactions", "t.csv", "--map", "customer_id=cust,timestamp=day,amount=value",
               "--unit", "week", "--out", "c.csv", "--quiet", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(tmp_path / "c.csv")) == 14
    wrong = cli("clv", "--transactions", "t.csv", cwd=tmp_path)
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
    assert (
        "lacks the column(s) ['customer_id', 'timestamp', 'amount']" in wrong.stderr + wrong.stdout
    )


def test_file_errors_are_clear(tmp_path):
    from omnimetrics.clv.value import value_of_file

    with pytest.raises(ConfigError, match="Give one input"):
        value_of_file()
    with pytest.raises(SchemaError, match="--map customer_id=nope: cdnow"):
        value_of_file(rfm=CDNOW, mapping={"customer_id": "nope"})
    with pytest.raises(ConfigError, match="needs transactions"):
        value_of_file(rfm=CDNOW, mapping=dict(p.split("=") for p in CDNOW_MAP.split(",")),
                      calibration_end=date(1997, 9, 30))  # fmt: skip


def test_the_value_charts_hold_their_numbers():
    import pyarrow as pa

    from omnimetrics import charts
    from omnimetrics.results import Result

    cohorts = Result("cohorts", "Retention", pa.table({
        "cohort": [date(2026, 1, 1)] * 3 + [date(2026, 2, 1)] * 2,
        "period": [0, 1, 2, 0, 1], "rate": [1.0, 0.4, 0.25, 1.0, 0.5],
    }))  # fmt: skip
    heat = cohorts.plot().data[0]
    assert heat.y == ("2026-01-01", "2026-02-01") and heat.x == ("0", "1", "2")
    assert [list(r) for r in heat.z] == [[1.0, 0.4, 0.25], [1.0, 0.5, None]]  # not yet: blank
    layout = cohorts.plot().layout  # cohorts are labels, not a time axis with its own ticks
    assert (layout.yaxis.type, layout.xaxis.type) == ("category", "category")
    holdout = Result("clv_holdout", "Holdout", pa.table({
        "frequency": ["0", "1", "7+"], "customers": [50, 20, 3],
        "predicted": [0.1, 0.5, 4.0], "actual": [0.12, 0.45, 3.0],
    }))  # fmt: skip
    predicted, actual = holdout.plot().data
    assert (predicted.name, list(predicted.y), list(actual.y)) == ("predicted", [0.1, 0.5, 4.0],
                                                                   [0.12, 0.45, 3.0])  # fmt: skip
    value = Result("clv_by_channel", "Value", pa.table({
        "acquisition_channel": ["email", "display"], "customers": [10, 4],
        "mean_clv": [20.0, 5.0], "mean_ltv": [50.0, 9.0], "ltv_cac": [4.2, None],
    }))  # fmt: skip
    ltv, clv = value.plot().data
    assert list(ltv.y) == [50.0, 9.0] and list(clv.y) == [20.0, 5.0]
    assert [c[1] for c in ltv.customdata] == ["4.20", "n/a"]
    assert {t.marker.color for t in (ltv, clv)} <= set(charts.PALETTE)


@pytest.mark.slow
def test_omnichannel_value_raw_and_alike(ws):
    from omnimetrics.metrics.facts import Facts

    cut = date(2025, 4, 1)
    found = ws.omni_value(cut=cut)
    table = found.to_pandas().set_index(["outcome", "estimate"])
    assert set(table.index) == {("revenue", "raw"), ("revenue", "adjusted"), ("orders", "raw"),
                                ("orders", "adjusted")}  # fmt: skip
    # The raw difference by hand from the orders of known persons: omnichannel at the cut =
    # two sales channels or more before it; value = revenue from the cut on (0 without orders).
    orders = Facts(ws.warehouse, grain="total").orders.to_pandas()
    orders = orders[orders.person_id.notna()]
    at = pd.to_datetime(orders["at"], utc=True)
    before = orders[at < pd.Timestamp(cut, tz="UTC")]
    channels = before.groupby("person_id").sales_channel.nunique()
    after = orders[at >= pd.Timestamp(cut, tz="UTC")].groupby("person_id").revenue.sum()
    value = after.reindex(channels.index, fill_value=0.0)
    omni, single = value[channels >= 2], value[channels == 1]
    raw = table.loc[("revenue", "raw")]
    assert (raw.omni_customers, raw.single_customers) == (len(omni), len(single))
    assert raw.omni_mean == pytest.approx(omni.mean()) and raw.difference == pytest.approx(
        omni.mean() - single.mean()
    )
    assert len(found.notes) == 2 and 0 < found.figures["matched_share"] <= 1


@pytest.mark.slow
def test_the_value_page(ws, value):
    from omnimetrics.charts import CHARTS
    from omnimetrics.pages import PAGES, TOP_CUSTOMERS, View

    results = {r.name: r for r in PAGES["value"].build(ws, View())}
    assert set(results) == {"cohorts", "clv", "clv_params", "clv_by_channel", "clv_by_mix",
                            "omni_value", "omni_strata"}  # fmt: skip
    default = ws.clv()  # the page's settings are the method's defaults
    assert results["clv"].num_rows == min(TOP_CUSTOMERS, default.num_rows)
    shown, full = results["clv"].to_pandas(), default.to_pandas().head(TOP_CUSTOMERS)
    assert list(shown.customer_id) == list(full.customer_id)
    assert np.allclose(shown.clv, full.clv, rtol=1e-9)
    channels = results["clv_by_channel"].to_pandas()
    assert np.allclose(channels.total_clv, default.part("clv_by_channel").to_pandas().total_clv)
    for name in ("cohorts", "clv_by_channel", "clv_by_mix"):
        assert name in CHARTS and results[name].plot().data, name
    strata = ws.omni_value().part("omni_strata")  # the page shows the matched ones
    assert results["omni_strata"].to_records() == strata.where(matched=True).to_records()
    assert 0 < results["omni_strata"].num_rows < strata.num_rows


def test_the_cli_checks_a_holdout_of_transactions(tmp_path):
    # Twelve customers buy on 1, 5 and 20 January: up to 10 January, one repeat purchase each;
    # after it, one each (the holdout ends on the last transaction, 20 January: 10 days).
    lines = ["customer_id,timestamp,amount"]
    for n in range(12):
        lines += [f"c{n},2024-01-01,10", f"c{n},2024-01-05,{10 + n}", f"c{n},2024-01-20,12"]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    done = cli("clv", "--transactions", "t.csv", "--unit", "day", "--calibration-end",
               "2024-01-10", "--limit", "0", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Predicted vs actual repeat purchases after" in done.stdout
    assert "next 365 days" in " ".join(done.stdout.split())  # the default horizon: a year
    from omnimetrics.clv.value import value_of_file

    result = value_of_file(transactions=tmp_path / "t.csv", unit="D",
                           calibration_end=date(2024, 1, 10))  # fmt: skip
    holdout = result.part("clv_holdout")
    assert holdout.to_records()[0] | {"predicted": None} == {
        "frequency": "1", "customers": 12, "predicted": None, "actual": 1.0}  # fmt: skip
    assert holdout.figures["holdout_periods"] == 10 and holdout.figures["actual_purchases"] == 12
    wrong = cli("clv", "--transactions", "t.csv", "--calibration-end", "10/01/2024",
                cwd=tmp_path)  # fmt: skip
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr


def test_the_discounted_value_by_hand():
    """CLV = margin x E[order value] x sum_i (E[Y(i)] - E[Y(i-1)]) / (1 + d)^i, with d the
    weekly rate of 10% a year: (1.1)^(7 / 365.25) - 1."""
    from omnimetrics.clv.value import fit_value, period_rate

    table = pd.read_csv(CDNOW).rename(columns={"ID": "customer_id", "x": "frequency",
                                               "t_x": "recency", "zbar": "monetary_value"})  # fmt: skip
    d = 1.1 ** (7 / 365.25) - 1
    assert period_rate(0.1, "W") == pytest.approx(d, rel=1e-12)
    assert period_rate(0.1, "D") == pytest.approx(1.1 ** (1 / 365.25) - 1, rel=1e-12)
    fit = fit_value(table, horizon=3, unit="W", discount_rate=0.1, margin=0.3)
    row = fit.customers.iloc[7]
    rfm = [np.array([row[c]]) for c in ("frequency", "recency", "T")]
    cumulative = [0.0] + [fit.purchases.expected_purchases(i, *rfm)[0] for i in (1, 2, 3)]
    by_hand = (
        0.3
        * row.expected_value
        * sum((cumulative[i] - cumulative[i - 1]) / (1 + d) ** i for i in (1, 2, 3))
    )
    assert row.clv == pytest.approx(by_hand, rel=1e-9)
    assert row.expected_purchases == pytest.approx(cumulative[3], rel=1e-12)
    with pytest.raises(ConfigError, match="yearly rate"):
        period_rate(-0.1, "W")
