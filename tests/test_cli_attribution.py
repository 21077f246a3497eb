"""`omnimetrics attribution` and `omnimetrics influence` from the command line."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from omnimetrics import journeys as jr
from omnimetrics.attribution import select_orders
from tests.helpers import cli, loaded_world


def test_path_table_from_the_command_line(tmp_path):
    (tmp_path / "paths.csv").write_text(
        "journey;conv;lost;value\n"
        "email | display;3;10;300\n"
        "display|email|email;1;0;20\n"
        ";2;0;15\n"
        "search;0;7;0\n"
    )
    columns = ["--path-column", "journey", "--conversions-column", "conv", "--nulls-column",
               "lost", "--separator", "|"]  # fmt: skip
    done = cli(
        "attribution", "--paths", "paths.csv", *columns, "--models", "linear,markov_2,shapley",
        "--intervals", "30", "--transitions", "matrix.csv", "--out", "credit.json", "--compare",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "credit.json").read_text())
    assert {r["model"] for r in rows} == {"linear", "markov_2", "shapley"}
    for model in ("linear", "markov_2", "shapley"):
        mine = [r for r in rows if r["model"] == model]
        assert sum(r["conversions"] for r in mine) == pytest.approx(6)
        assert sum(r["revenue"] for r in mine) == pytest.approx(335)
    assert all(
        r["conversions_low"] <= r["conversions_high"]
        for r in rows
        if r["channel"] != "(no attributable touch)"
    )
    matrix = (tmp_path / "matrix.csv").read_text()
    assert "email > display" in matrix and "(conversion)" in matrix
    assert "Where the models disagree" in done.stdout

    done = cli("attribution", "--paths", "paths.csv", cwd=tmp_path)
    assert done.returncode == 2 and "column 'path' not found" in done.stderr
    assert "Traceback" not in done.stderr
    done = cli("attribution", "--paths", "paths.csv", *columns, "--models", "markv", cwd=tmp_path)
    assert done.returncode == 2 and "Did you mean 'markov'" in done.stderr


def test_warehouse_attribution_with_spend_segment_and_influence(tmp_path):
    _, wh = loaded_world(tmp_path, 400, 45, 3)  # January and February 2025
    wh.resolve_identities()
    jr.build_events(wh)
    orders = select_orders(jr.conversions(wh), since=date(2025, 1, 15), until=date(2025, 2, 10),
                           sales_channels=["store", "app"]).to_pandas()  # fmt: skip
    wh.close()
    assert len(orders) and orders.timestamp.min() >= pd.Timestamp("2025-01-15", tz="UTC")
    db = str(tmp_path / "w.duckdb")
    done = cli(
        "attribution", "--db", db, "--models", "last_touch,linear,markov,shapley", "--spend",
        "--out", "credit.csv", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    header = (tmp_path / "credit.csv").read_text().splitlines()[0]
    for column in ("spend", "cost_per_conversion", "roas", "new_customers", "cac"):
        assert column in header
    done = cli(
        "attribution", "--db", db, "--models", "linear,markov", "--sales-channel", "store,app",
        "--since", "2025-01-15", "--until", "2025-02-10", "--by", "channel,campaign",
        "--out", "segment.json", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    segment = json.loads((tmp_path / "segment.json").read_text())
    assert all("campaign" in r for r in segment)
    linear = [r for r in segment if r["model"] == "linear"]
    assert sum(r["conversions"] for r in linear) == pytest.approx(len(orders))
    assert sum(r["revenue"] for r in linear) == pytest.approx(orders.revenue.sum())
    done = cli("influence", "--db", db, "--model", "markov", "--out", "influence.json",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    influence = json.loads((tmp_path / "influence.json").read_text())
    assert {r["sales_channel"] for r in influence} >= {"store", "web"}
    assert "store sales" in done.stdout
