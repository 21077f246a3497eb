"""The whole pipeline after new data (`Workspace.run`), its record, and the demo.

A run resolves identities, builds events and journeys, and stores what every dashboard page shows
(`omnimetrics.pages`: `agg_<page>_<result>` tables and their index `agg_pages`), each row tagged
with its `run_id`. Every run
is recorded in `omnimetrics_runs` (times, settings hash, channel-rules version, row counts), so
any output can be traced to the run and the settings that made it. Running twice on the same
data gives the same tables.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from omnimetrics.results import Result
from omnimetrics.workspace.data import Progress, quiet

if TYPE_CHECKING:
    from omnimetrics.config import Settings
    from omnimetrics.warehouse import Warehouse
    from omnimetrics.workspace import Workspace

RUNS_TABLE = "omnimetrics_runs"
RUNS_SCHEMA = {
    "run_id": "string",
    "started_at": "timestamp('UTC')",
    "finished_at": "timestamp('UTC')",
    "settings_hash": "string",
    "rules_version": "string",
    "row_counts": "string",
}
"""One row per run; `row_counts` is a JSON object: table -> rows after the run."""


def settings_hash(settings: Settings) -> str:
    """A short fingerprint of every setting that changes a number (not the secret, not [ui])."""
    values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    values.pop("secret")
    values.pop("ui")
    text = json.dumps(values, default=_plain, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, tuple | list):
        return list(value)
    return dict(value) if hasattr(value, "items") else str(value)  # type: ignore[call-overload]


class PipelineMethods:
    """`run`: everything after new data, recorded."""

    warehouse: Warehouse
    settings: Settings

    def run(self: Workspace, *, progress: Progress = quiet) -> Result:  # type: ignore[misc]
        """Identity, events, journeys and the dashboard's aggregates, recorded as one run."""
        from omnimetrics import journeys as jr
        from omnimetrics.channels import ChannelRules
        from omnimetrics.pages import store_pages

        wh = self.warehouse
        run_id, started = uuid.uuid4().hex[:12], datetime.now(UTC)
        self.build_journeys(progress=progress)
        progress("aggregating", 0.7)
        stored = store_pages(self, run_id)
        rules_version = ChannelRules.from_config(self.settings.channel_rules).version
        counts = {name: int(wh.table(name).count().execute()) for name in wh.tables()}
        record = {
            "run_id": [run_id], "started_at": [started], "finished_at": [datetime.now(UTC)],
            "settings_hash": [settings_hash(self.settings)], "rules_version": [rules_version],
            "row_counts": [json.dumps(counts, sort_keys=True)],
        }  # fmt: skip
        wh.append_rows(RUNS_TABLE, RUNS_SCHEMA, pa.table(record))
        progress("done", 1.0)
        figures = {"run_id": run_id, "settings_hash": record["settings_hash"][0],
                   "rules_version": rules_version, **jr.coverage(wh)}  # fmt: skip
        table = pa.table({"table": list(counts), "rows": list(counts.values())})
        notes = tuple(f"{name}: not stored ({why})" for name, why in stored.items() if why)
        return Result("run", f"Run {run_id}", table, figures=figures, notes=notes)

    def runs(self) -> Result:
        """The record of every run, latest first."""
        wh = self.warehouse
        wh.ensure_table(RUNS_TABLE, RUNS_SCHEMA)
        rows = wh.table(RUNS_TABLE)
        return Result.of("runs", "Runs", rows.order_by(rows.finished_at.desc()))


def storable(table: pa.Table, run_id: str) -> pa.Table:
    """`table` tagged with the run; columns of nulls only typed as text (engines need a type)."""
    for index, field in enumerate(table.schema):
        if pa.types.is_null(field.type):
            table = table.set_column(index, field.name, table.column(index).cast(pa.string()))
    return table.append_column("run_id", pa.array([run_id] * table.num_rows, pa.string()))


GOAL_COLUMNS = ("goal", "kpi", "status", "current", "target", "progress", "projection",
                "probability", "days_left")  # fmt: skip
"""What a goal's row shows at a glance (every column is kept in --out files)."""
DEMO_KPIS = ("revenue", "orders", "conversion_rate", "average_basket", "new_customers", "roas")
DEMO_MODELS = ("last_touch", "linear", "position_based", "markov", "shapley")


def demo(
    db: str | Path = "omnimetrics-demo.duckdb",
    folder: str | Path = "demo-world",
    *,
    customers: int = 5_000,
    days: int = 120,
    seed: int = 42,
    start: date | None = None,
    progress: Progress = quiet,
) -> tuple[Workspace, list[Result]]:
    """Simulate a retailer, load it into a fresh demo warehouse, run the pipeline, and answer the
    main questions: KPIs with their change, attribution models compared, goals and maturity.
    The simulated history ends yesterday unless `start` is given.

    Returns the open workspace and the results to show, in order.
    """
    from omnimetrics.config import Settings
    from omnimetrics.simulate import simulate
    from omnimetrics.workspace import open as open_workspace

    for stale in (Path(db), Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)
    start = start or date.today() - timedelta(days=days)
    world = simulate(customers=customers, days=days, seed=seed, start=start, progress=progress)
    world.write(folder)
    settings = Settings.load(demo=True)
    if not settings.goals:
        settings = settings.with_(goals=demo_goals(start, days))
    ws = open_workspace(db, settings)
    loaded = ws.load(folder, progress=progress)
    ran = ws.run(progress=progress)
    progress("answering", 0.9)
    compared = ws.attribution(DEMO_MODELS, compare=True)
    answers = [
        loaded,
        ran,
        ws.kpis(DEMO_KPIS, grain="month"),
        replace(compared.part("shares"), notes=compared.notes),
        ws.goals(today=start + timedelta(days=days - 1)).brief(GOAL_COLUMNS),
        _maturity_brief(ws.maturity()),
    ]
    return ws, answers


def demo_goals(start: date, days: int) -> tuple[dict[str, object], ...]:
    """Two SMART goals over the second half of a simulated world, for the demo."""
    half = start + timedelta(days=days // 2)
    end = start + timedelta(days=days - 1)
    return (
        {"name": "revenue +5% in the second half", "kpi": "revenue", "target_change": 0.05,
         "start": half, "deadline": end},
        {"name": "conversion rate +10%", "kpi": "conversion_rate", "target_change": 0.10,
         "start": half, "deadline": end},
    )  # fmt: skip


def _maturity_brief(result: Result) -> Result:
    """The maturity score and its dimensions, with the first pieces of advice."""
    score = result.figures
    title = f"Maturity {score['score']:.0f}/100: level {score['level']} ({score['level_name']})"
    return replace(result.part("dimensions"), title=title, notes=result.notes[:3])
