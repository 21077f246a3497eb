"""The facade: `omnimetrics.open` -> Workspace, tidy results, settings that reach every number,
runs recorded, and a CLI whose printed numbers are the Workspace's."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pytest

import omnimetrics
from omnimetrics.config import JourneySettings, Settings
from omnimetrics.errors import ConfigError, UnknownNameError
from omnimetrics.project import init_project
from omnimetrics.results import Result
from omnimetrics.workspace.pipeline import RUNS_TABLE, settings_hash
from tests.helpers import cli, loaded_world


@pytest.fixture(scope="module")
def world_ws(tmp_path_factory):
    folder = tmp_path_factory.mktemp("facade")
    _, wh = loaded_world(folder, customers=400, days=60, seed=5)
    wh.close()
    # no segment cuts of the dashboard's KPIs: test_pages checks them on its own world
    ws = omnimetrics.open(folder / "w.duckdb", {"ui": {"segment_filters": []}}, demo=True)
    ws.run()
    yield folder, ws
    ws.close()


def test_result_converts_and_names_its_parts():
    alerts = Result("alerts", "Alerts", pa.table({"kpi": ["nps"]}))
    result = Result("kpis", "KPIs", pa.table({"kpi": ["orders"], "value": [3.0]}), parts=(alerts,))
    assert result.to_pandas().value.tolist() == [3.0]
    assert result.to_polars()["kpi"].to_list() == ["orders"]
    assert result.to_arrow().num_rows == 1
    assert result["alerts"].to_records() == [{"kpi": "nps"}]
    assert "<table>" in result._repr_html_() and "Alerts" in result._repr_html_()
    with pytest.raises(UnknownNameError, match="Did you mean 'alerts'"):
        result.part("alert")
    assert json.loads(json.dumps(result.to_dict()))["parts"][0]["name"] == "alerts"


def test_open_reads_settings_once_from_a_mapping_or_a_file(tmp_path):
    ws = omnimetrics.open(":memory:", {"journeys": {"lookback_days": 7}}, demo=True)
    assert ws.settings.journeys.lookback_days == 7
    assert ws.using(lookback_days=3).settings.journeys.lookback_days == 3
    assert ws.settings.journeys.lookback_days == 7, "using() leaves the workspace unchanged"
    assert ws.using(lookback_days=None) is ws
    with pytest.raises(ConfigError, match="at least 1"):
        ws.using(lookback_days=-5)
    (tmp_path / "omnimetrics.toml").write_text("[journeys]\nlookbak_days = 3\n")
    with pytest.raises(ConfigError, match="Did you mean 'lookback_days'"):
        omnimetrics.open(":memory:", tmp_path / "omnimetrics.toml", demo=True)


def test_settings_hash_ignores_the_secret_and_follows_the_journeys():
    one = Settings(secret=b"a" * 20)
    assert settings_hash(one) == settings_hash(Settings(secret=b"b" * 20))
    assert settings_hash(one) != settings_hash(one.with_(journeys=JourneySettings(lookback_days=7)))


def test_init_writes_a_commented_config_and_a_private_secret(tmp_path):
    written = init_project(tmp_path / "project", environ={})
    assert written.secret is not None and oct(written.secret.stat().st_mode & 0o777) == "0o600"
    settings = Settings.load(written.config, environ={})
    assert settings.secret == written.secret.read_text().strip().encode()
    assert len(settings.secret) == 64
    assert "[journeys]" in written.config.read_text()
    with pytest.raises(ConfigError, match="exists already"):
        init_project(tmp_path / "project", environ={})
    with_env = init_project(tmp_path / "other", environ={"OMNIMETRICS_SECRET": "x" * 32})
    assert with_env.secret is None and not (tmp_path / "other" / ".omnimetrics-secret").exists()
    written.secret.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        Settings.load(written.config, environ={})


def test_no_secret_says_to_run_init():
    with pytest.raises(ConfigError, match="omnimetrics init"):
        Settings.from_mapping({}, environ={}).require_secret()


@pytest.mark.slow  # the default run stays near 10 minutes; CI runs it with the slow set
@pytest.mark.slow  # a second run of the pipeline
def test_run_is_recorded_and_idempotent(world_ws):
    _, ws = world_ws
    before = ws.warehouse.table("agg_overview_kpis").drop("run_id").to_pandas()
    ws.warehouse.replace_table("agg_kpis", pa.table({"kpi": ["an older layout"]}))
    second = ws.run()
    assert "agg_kpis" not in ws.warehouse.tables()  # a table the pages no longer store: dropped
    after = ws.warehouse.table("agg_overview_kpis").drop("run_id").to_pandas()
    key = ["kpi", "period"]
    pd.testing.assert_frame_equal(  # equal up to the order of float additions
        before.sort_values(key).reset_index(drop=True),
        after.sort_values(key).reset_index(drop=True),
        rtol=1e-9,
    )
    runs = ws.runs().to_pandas()
    assert len(runs) == 2 and runs.settings_hash.nunique() == 1
    assert runs.run_id.iloc[0] == second.figures["run_id"], "latest first"
    counts = json.loads(runs.row_counts.iloc[0])
    assert counts["orders"] == ws.warehouse.table("orders").count().execute()
    for name in ("agg_overview_kpis", "agg_journeys_paths", "agg_attribution_attribution"):
        stored = ws.warehouse.table(name)
        assert set(stored.run_id.to_pyarrow().to_pylist()) == {second.figures["run_id"]}
    assert RUNS_TABLE in ws.warehouse.tables()


def test_journey_settings_reach_every_number(world_ws):
    _, ws = world_ws
    wide = ws.journeys(build=False, top=1_000_000).to_pandas()
    narrow = ws.using(lookback_days=1).journeys(build=False, top=1_000_000).to_pandas()
    assert narrow.conversions.sum() == wide.conversions.sum(), "paths keep every order"
    assert (wide.path != "(none)").sum() >= (narrow.path != "(none)").sum()
    credit_wide = ws.attribution(["linear"]).to_pandas().set_index("channel").conversions
    credit_narrow = ws.using(lookback_days=1).attribution(["linear"]).to_pandas()
    untouched = "(no attributable touch)"
    assert credit_narrow.set_index("channel").conversions.get(untouched, 0) > credit_wide.get(
        untouched, 0
    )


def test_cli_prints_the_workspace_numbers(world_ws):
    folder, ws = world_ws
    env = {**os.environ, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    db = str(folder / "w.duckdb")
    ws.close()  # the CLI opens the file itself
    done = cli("kpis", "--db", db, "--kpis", "revenue,orders", "--out", "k.json", "--quiet",
               cwd=folder, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = cli("attribution", "--db", db, "--models", "linear,markov", "--out", "a.json",
               "--quiet", cwd=folder, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = cli("segments", "--db", db, "--by", "channel_mix", "--out", "s.json", "--quiet",
               cwd=folder, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    reopened = omnimetrics.open(db, demo=True)
    try:
        pairs = {
            "k.json": reopened.kpis(["revenue", "orders"]),
            "a.json": reopened.attribution(["linear", "markov"]),
            "s.json": reopened.segments("channel_mix"),
        }
        for name, result in pairs.items():
            printed = json.loads((folder / name).read_text())
            mine = json.loads(json.dumps(result.to_records(), default=str))
            assert len(printed) == len(mine), name
            for shown, returned in zip(_by_labels(printed), _by_labels(mine), strict=True):
                # equal up to the order of float additions (the engine sums in parallel)
                numbers = {k for k, v in returned.items() if isinstance(v, float)}
                assert {k: shown[k] for k in numbers} == pytest.approx(
                    {k: returned[k] for k in numbers}, rel=1e-9, nan_ok=True
                ), name
                assert {k: v for k, v in shown.items() if k not in numbers} == {
                    k: v for k, v in returned.items() if k not in numbers
                }, name
    finally:
        reopened.close()


def _by_labels(records: list[dict]) -> list[dict]:
    """Records in the order of their text fields (rows tied on the sort key may come in any
    order from a parallel engine)."""
    return sorted(records, key=lambda r: [str(v) for v in r.values() if not isinstance(v, float)])


def test_help_starts_without_loading_an_engine():
    heavy = "('ibis', 'duckdb', 'pyarrow', 'pandas')"
    code = f"import sys, omnimetrics.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_version_and_markup_safe_help():
    done = cli("--version", cwd=None)
    assert done.returncode == 0 and done.stdout.startswith("omnimetrics ")
    done = cli("goals", "--help", cwd=None)
    assert "[[goals]]" in done.stdout


def test_a_lookup_with_another_secret_says_so(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,timestamp,sales_channel,revenue,currency,email\n"
        "A,2025-03-01,web,10,EUR,jane@example.com\n"
    )
    first = omnimetrics.open(tmp_path / "w.duckdb", Settings(secret=b"a" * 20))
    first.ingest("orders", orders)
    first.identity()
    assert first.timeline("jane@example.com").num_rows == 1
    first.close()
    other = omnimetrics.open(tmp_path / "w.duckdb", Settings(secret=b"b" * 20))
    with pytest.raises(ConfigError, match="built with another secret"):
        other.timeline("jane@example.com")
    with pytest.raises(ConfigError, match="built with another secret"):
        other.ingest("orders", orders)
    other.close()


def test_demo_mode_is_never_overridden_by_a_secret_in_the_environment(tmp_path):
    settings = Settings.from_mapping({}, environ={"OMNIMETRICS_SECRET": "s" * 32}, demo=True)
    assert settings.require_secret() == Settings(demo=True).require_secret()
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,timestamp,sales_channel,revenue,currency,email\n"
        "A,2025-03-01,web,10,EUR,jane@example.com\n"
    )
    demo = omnimetrics.open(tmp_path / "d.duckdb", settings)
    demo.ingest("orders", orders)
    demo.close()
    # reopened later with the secret set and no --demo: still the demo key, lookups still work
    reopened = omnimetrics.open(tmp_path / "d.duckdb", Settings(secret=b"s" * 32))
    reopened.identity()
    assert reopened.settings.demo and reopened.timeline("jane@example.com").num_rows == 1
    reopened.close()


def test_a_mistyped_warehouse_path_is_an_error_not_a_new_file(tmp_path):
    with pytest.raises(ConfigError, match="No warehouse at"):
        omnimetrics.open(tmp_path / "typo.duckdb", demo=True, create=False)
    assert not (tmp_path / "typo.duckdb").exists()
    done = cli("tables", "--db", str(tmp_path / "typo.duckdb"), cwd=tmp_path)
    assert done.returncode == 2 and "No warehouse at" in done.stderr
    assert not (tmp_path / "typo.duckdb").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["attribution", "--by", "region"], "not a known attribution key"),
        (["attribution", "--intervals", "-3"], "at least 0"),
        (["attribution", "--since", "2025-03-01", "--until", "2025-01-01"], "swap them"),
        (["attribution", "--sales-channel", "shop"], "not a known sales channel"),
        (["attribution", "--since", "2031-01-01"], "the data covers"),
        (["kpis", "--by", "nonsense"], "not a known dimension"),
        (["kpis", "--forecast", "-2"], "at least 0"),
        (["journeys", "--lookback-days", "-5"], "at least 1"),
        (["journeys", "--funnel", "visit,teleport"], "'teleport': not a known event type"),
        (["erase", "C000001"], "pass --yes"),
        (["simulate", "--customers", "0"], "customers must be a positive integer"),
        (["simulate", "--days", "5000"], "days must be"),
    ],
)
def test_bad_input_gets_a_message_not_a_traceback(world_ws, args, message):
    folder, _ = world_ws
    db = [] if args[0] == "simulate" else ["--db", str(folder / "w.duckdb")]
    done = subprocess.run(
        [sys.executable, "-m", "omnimetrics.cli", *args, *db], cwd=folder, capture_output=True,
        text=True, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert message in " ".join(done.stderr.split()) and "Traceback" not in done.stderr
