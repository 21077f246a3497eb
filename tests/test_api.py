"""The public surface: a deliberate __all__, generated docs that match the contracts, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import omnimetrics
from omnimetrics.config import Settings
from omnimetrics.errors import ConfigError, OmnimetricsError, SchemaError
from omnimetrics.schema import TABLES, data_model_markdown, table_contract
from tests.helpers import cli

ROOT = Path(__file__).resolve().parents[1]


def test_all_is_sorted_and_complete():
    # Sorted the way ruff (RUF022) keeps it: CONSTANTS, then Classes, then functions.
    def style(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert list(omnimetrics.__all__) == sorted(omnimetrics.__all__, key=style)
    for name in omnimetrics.__all__:
        assert hasattr(omnimetrics, name)
    public = {n for n in vars(omnimetrics) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(omnimetrics.__all__)


def test_errors_refine_builtins():
    assert issubclass(SchemaError, ValueError) and issubclass(SchemaError, OmnimetricsError)
    with pytest.raises(SchemaError, match="Did you mean 'touchpoints'"):
        table_contract("touchpoint")


def test_data_model_doc_is_generated_from_the_contracts():
    doc = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    assert doc.strip() == data_model_markdown().strip(), "run `make docs`"


def test_every_contract_is_sound():
    for table in TABLES.values():
        names = table.names
        assert len(set(names)) == len(names)
        assert set(table.key) <= set(names)
        for a, b in table.not_after:
            assert {a, b} <= set(names)
        for col in table.columns:
            assert col.doc and col.example, f"{table.name}.{col.name} needs a doc and an example"


def test_settings_from_toml_and_environment(tmp_path):
    config = tmp_path / "omnimetrics.toml"
    config.write_text(
        '[privacy]\nsecret_env = "MY_KEY"\nphone_country_code = "+44"\n'
        '[ingest]\nsource_priority = ["crm", "pos"]\n[columns.orders]\nOrderID = "order_id"\n'
    )
    settings = Settings.load(config, environ={"MY_KEY": "x" * 32})
    assert settings.secret == b"x" * 32
    assert settings.phone_country_code == "44"
    assert settings.source_priority == ("crm", "pos")
    assert settings.column_maps == {"orders": {"OrderID": "order_id"}}
    config.write_text("[privcy]\n")
    with pytest.raises(ConfigError, match="Did you mean 'privacy'"):
        Settings.load(config, environ={})
    with pytest.raises(ConfigError, match="at least 16"):
        Settings.from_mapping({}, environ={"OMNIMETRICS_SECRET": "short"})


def test_docstring_example_runs():
    import doctest

    failures, _ = doctest.testmod(omnimetrics, verbose=False)
    assert failures == 0


def test_cli_ingest_out_and_errors_without_traceback(tmp_path):
    (tmp_path / "orders.csv").write_text(
        "order_id,timestamp,sales_channel,revenue,currency\nA,2025-03-01,web,1,EUR\nB,x,web,1,EUR\n"
    )
    env = {"OMNIMETRICS_SECRET": "0123456789abcdef0123", "PATH": "/usr/bin:/bin"}
    done = cli(
        "ingest", "orders", "orders.csv", "--out", "report.csv", "--quiet", cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    report = (tmp_path / "report.csv").read_text()
    assert "orders,orders.csv,2,1,0,1," in report.replace('"', "")
    done = cli("quarantine", "--out", "q.json", "--quiet", cwd=tmp_path, env=env)
    assert done.returncode == 0 and "invalid_type" in (tmp_path / "q.json").read_text()
    done = cli("ingest", "ordrs", "orders.csv", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "Did you mean 'orders'" in done.stderr and "Traceback" not in done.stderr
    done = cli("ingest", "orders", "orders.csv", cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and "OMNIMETRICS_SECRET" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_readme_configuration_loads(tmp_path):
    import re

    from omnimetrics.channels import ChannelRules

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", readme, re.S).group(1)
    config = tmp_path / "omnimetrics.toml"
    config.write_text(block, encoding="utf-8")
    settings = Settings.load(config, environ={"OMNIMETRICS_SECRET": "x" * 32})
    assert settings.column_maps == {"orders": {"OrderID": "order_id"}}
    assert ChannelRules.from_config(settings.channel_rules).rules[0].channel == "paid_social"
    from omnimetrics.attribution import get_model, models_for

    models = models_for(settings.attribution_models)
    assert get_model("u_30_50", models).doc.startswith("30% first, 50% last")
    from omnimetrics.metrics.goals import goals_from_config

    assert goals_from_config(settings.goals)[0].kpi == "retention_rate"
    assert settings.min_cell_persons == 10
    assert settings.mix.holdouts == {"email_holdout": "email"} and settings.mix.calibrate
