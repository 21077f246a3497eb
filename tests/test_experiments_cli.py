"""`omnimetrics experiment` and `Workspace.experiment`: files as other tools give them, the
warehouse's tests, planning, and the simulator's A/B test found in its interval."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import omnimetrics
from omnimetrics.errors import OmnimetricsError
from tests.helpers import cli, loaded_world

REQUIRED = ("variant", "lift_abs", "ci_low", "ci_high", "lift_rel", "p_value", "chance_to_win",
            "expected_loss", "srm_p_value")  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_summary_file_gives_one_row_per_variant_against_control(tmp_path):
    (tmp_path / "s.csv").write_text("variant,units,conversions\nA,10000,500\nB,10000,570\n")
    done = cli("experiment", "--summary", "s.csv", "--out", "r.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "B beats A: +14.0% conversion rate" in done.stdout and "Traceback" not in done.stderr
    (row,) = _rows(tmp_path / "r.csv")
    assert set(REQUIRED) <= set(row)
    assert row["variant"] == "B" and row["control"] == "A"
    # by hand: 5.7% - 5.0%, unpooled standard error, 95% normal interval
    se = math.sqrt(0.05 * 0.95 / 10000 + 0.057 * 0.943 / 10000)
    assert float(row["lift_abs"]) == pytest.approx(0.007, abs=1e-12)
    assert float(row["ci_low"]) == pytest.approx(0.007 - 1.959964 * se, rel=1e-5)
    assert float(row["ci_high"]) == pytest.approx(0.007 + 1.959964 * se, rel=1e-5)
    assert float(row["lift_rel"]) == pytest.approx(0.14)
    pooled = math.sqrt(0.0535 * 0.9465 * 2 / 10000)
    assert float(row["p_value"]) == pytest.approx(2 * stats.norm.sf(0.007 / pooled), rel=1e-6)
    assert float(row["srm_p_value"]) == pytest.approx(1.0)


def test_a_units_file_with_a_covariate_is_summarised_and_cuped(tmp_path):
    rng = np.random.default_rng(4)
    n = 4000
    variant = np.where(rng.random(n) < 0.5, "control", "new")
    before = rng.gamma(2.0, 20.0, n)
    after = 0.8 * before + rng.normal(0, 5, n) + np.where(variant == "new", 2.0, 0.0)
    before, after = before.round(6), after.round(6)  # as written to the file
    lines = ["variant,spend_after,spend_before"]
    lines += [f"{v},{a:.6f},{b:.6f}" for v, a, b in zip(variant, after, before, strict=True)]
    (tmp_path / "u.csv").write_text("\n".join(lines) + "\n")
    args = ["experiment", "--units", "u.csv", "--value-column", "spend_after", "--out"]
    plain = cli(*args, "p.csv", cwd=tmp_path)
    cuped = cli(*args, "c.csv", "--covariate", "spend_before", cwd=tmp_path)
    assert plain.returncode == 0 and cuped.returncode == 0, plain.stderr + cuped.stderr
    (p,), (c,) = _rows(tmp_path / "p.csv"), _rows(tmp_path / "c.csv")
    welch = stats.ttest_ind(after[variant == "new"], after[variant == "control"], equal_var=False)
    assert float(p["p_value"]) == pytest.approx(welch.pvalue, rel=1e-6)
    assert float(p["lift_abs"]) == pytest.approx(
        after[variant == "new"].mean() - after[variant == "control"].mean(), rel=1e-9
    )
    # CUPED narrows the interval by the variance the pre-period explains
    width = float(p["ci_high"]) - float(p["ci_low"])
    assert float(c["ci_high"]) - float(c["ci_low"]) < 0.5 * width
    assert float(c["cuped_variance_reduction"]) > 0.75
    # the CUPED lift is the treatment's coefficient in y ~ variant intercepts + theta x
    new = (variant == "new").astype(float)
    design = np.column_stack([1 - new, new, before])
    coef = np.linalg.lstsq(design, after, rcond=None)[0]
    assert float(c["lift_abs"]) == pytest.approx(coef[1] - coef[0], rel=1e-6)


def test_pooled_variants_and_a_factorial_test(tmp_path):
    from omnimetrics.workspace.experiments import analysed

    summary = {"variant": ["A", "B", "C"], "units": [1000, 1000, 1000],
               "conversions": [50, 60, 70]}  # fmt: skip
    (row,) = analysed(pd.DataFrame(summary), "T", pool=["B", "C"]).to_records()
    assert row["variant"] == "B+C" and row["variant_units"] == 2000
    assert row["variant_mean"] == pytest.approx(130 / 2000)
    cells = {"variant": ["subject=a|cta=red", "subject=a|cta=blue", "subject=b|cta=red",
                         "subject=b|cta=blue"],
             "units": [2000] * 4, "conversions": [100, 120, 110, 170]}  # fmt: skip
    effects = analysed(pd.DataFrame(cells), "T").part("experiment_effects").to_pandas()
    assert set(effects.order) == {1, 2}
    interaction = effects[effects.order == 2].estimate.iloc[0]
    # the difference of differences of the cell rates, by hand
    assert abs(interaction) == pytest.approx(abs((170 - 110) - (120 - 100)) / 2000)


def test_plan_sizes_a_test(tmp_path):
    done = cli("experiment", "plan", "--baseline", "0.05", "--mde", "0.1", "--out", "plan.csv",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (row,) = _rows(tmp_path / "plan.csv")
    # the normal approximation by hand: (z_{1-a/2} sqrt(2 p q) + z_{power} sqrt(...))^2 / d^2
    p1, p2 = 0.05, 0.055
    bar = (p1 + p2) / 2
    z_a, z_b = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    n = z_a * math.sqrt(2 * bar * (1 - bar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    n = n**2 / (p2 - p1) ** 2
    assert int(row["units_per_variant"]) == pytest.approx(n, rel=0.01)
    assert row["solved_for"] == "units"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--summary", "missing.csv"], "No file"),
        (["--summary", "s.csv", "--weights", "half,half"], "--weights"),
        (["--units", "s.csv"], "--value-column"),
        (["plan", "--baseline", "0.05"], "mde"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(tmp_path, args, message):
    (tmp_path / "s.csv").write_text("variant,units,conversions\nA,100,5\nB,100,7\n")
    done = cli("experiment", *args, cwd=tmp_path)
    assert done.returncode != 0
    assert message in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    folder = tmp_path_factory.mktemp("experiment")
    world, warehouse = loaded_world(folder, customers=1500, days=60, seed=11)
    workspace = omnimetrics.Workspace(warehouse)
    workspace.build_journeys()  # the email touches
    workspace.truth = world.truth["experiment"]
    yield workspace
    workspace.close()


def test_the_warehouse_test_is_listed_and_analysed(ws):
    listed = ws.experiments().to_records()
    assert [r["experiment"] for r in listed] == [ws.truth["name"]]
    result = ws.experiment(metric="click_rate")  # the only experiment: no name needed
    (row,) = result.to_records()
    assert row["variant"] == "B" and row["control"] == "A"
    assert set(REQUIRED) <= set(result.columns)
    assert {p.name for p in result.parts} >= {"experiment_variants", "experiment_srm",
                                              "experiment_looks"}  # fmt: skip
    looks = result.part("experiment_looks").to_pandas()
    # one look per day of assignment (the simulator assigns every unit on its first day)
    assert len(looks) == 1 and looks.units.iloc[-1] == row["control_units"] + row["variant_units"]
    assert any("email clicks / email sends" in n for n in result.notes)
    with pytest.raises(OmnimetricsError, match="email_subject"):
        ws.experiment("email_subjet_test")


@pytest.mark.slow
def test_the_simulators_true_lift_lies_in_the_interval(tmp_path):
    world, warehouse = loaded_world(tmp_path, customers=20000, days=120, seed=21)
    with omnimetrics.Workspace(warehouse) as workspace:
        workspace.build_journeys()
        (row,) = workspace.experiment(metric="click_rate").to_records()
    truth = world.truth["experiment"]["true_relative_lift_click"]
    assert row["rel_ci_low"] < truth < row["rel_ci_high"], (row["lift_rel"], truth)
