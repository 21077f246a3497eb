"""Every command of the README's console block runs as written, in order, on the world the
README makes (a smaller one: 3,000 customers instead of 20,000, to keep the suite fast)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands(block: int = 0) -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    text = re.findall(r"```console\n(.*?)```", readme, re.S)[block]
    return [line[2:] for line in text.splitlines() if line.startswith("$ ")]


def run_in_order(commands: list[str], smaller: dict[str, str], folder: Path,
                 env: dict[str, str]) -> dict[str, str]:  # fmt: skip
    """Each command in a shell, in order, with `smaller` worlds: command -> what it printed."""
    outputs = {}
    for command in commands:
        line = command
        for written, used in smaller.items():
            line = line.replace(written, used)
        done = subprocess.run(["bash", "-c", line], cwd=folder, env=env, capture_output=True,
                              text=True, timeout=600, stdin=subprocess.DEVNULL)  # fmt: skip
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr, command
        outputs[command] = done.stdout
    return outputs


@pytest.mark.slow
def test_the_readme_runs_as_written(tmp_path):
    commands = readme_commands()
    assert commands[0].startswith("omnimetrics simulate --customers 20000")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIMETRICS_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    outputs = run_in_order(commands, {"--customers 20000": "--customers 3000"}, tmp_path, env)
    # a few results that must not be silently empty
    assert (tmp_path / "paths.csv").read_text().count("\n") > 10
    assert (tmp_path / "kpis.csv").read_text().count("\n") > 10
    assert (tmp_path / "audience.csv").read_text().count("\n") > 1
    assert (tmp_path / "clv.csv").read_text().count("\n") > 100
    assert '"bgnbd","alpha"' in (tmp_path / "clv_params.csv").read_text()
    store = next(c for c in commands if "--sales-channel store" in c)
    assert "paid_search" in outputs[store] or "direct" in outputs[store]
    timeline = next(c for c in commands if c.startswith("omnimetrics timeline"))
    assert "touchpoint" in outputs[timeline] or "order" in outputs[timeline]
    # The service block, as one shell session on the same warehouse: serve, collect, query.
    script = "\n".join(["set -e", *readme_commands(1), 'kill "$(jobs -p)"', "wait || true"])
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert '"accepted":1' in done.stdout.replace(" ", ""), done.stdout
    assert '"kpi":"revenue"' in done.stdout.replace(" ", ""), done.stdout[-2000:]
    assert "Traceback" not in done.stderr
    # The mix model block, on its own two-year world beside the first.
    outputs = run_in_order(readme_commands(2), {"--customers 8000": "--customers 4000"},
                           tmp_path, env)  # fmt: skip
    assert (tmp_path / "mmm.csv").read_text().count("\n") >= 8  # a row per channel with spend
    reconciled = next(c for c in readme_commands(2) if c.startswith("omnimetrics reconcile"))
    assert "the mix model measures" in outputs[reconciled]
