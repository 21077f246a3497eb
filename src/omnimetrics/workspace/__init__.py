"""The facade: one `Workspace` per warehouse, one method per capability, tidy results.

The CLI, the HTTP API, the dashboard, the report and notebooks call these methods and nothing
else, so a number is the same wherever it is shown. Settings are read once, at `open`, and reach
every number: the journeys of `[journeys]` feed paths, attribution, KPIs, segments and maturity.

>>> import omnimetrics
>>> ws = omnimetrics.open(":memory:", demo=True)
>>> ws.tables().columns
['table', 'rows']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnimetrics.config import JourneySettings, Settings
from omnimetrics.workspace.data import DataMethods
from omnimetrics.workspace.experiments import ExperimentMethods
from omnimetrics.workspace.measures import MeasureMethods
from omnimetrics.workspace.mix import MixMethods
from omnimetrics.workspace.pipeline import PipelineMethods, demo
from omnimetrics.workspace.value import ValueMethods

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

__all__ = ["Workspace", "demo", "open"]


def open(
    target: Any = None,
    config: str | Path | Mapping[str, Any] | Settings | None = None,
    *,
    demo: bool = False,
    create: bool = True,
) -> Workspace:
    """Open a warehouse with its settings: `config` is a TOML path (default ./omnimetrics.toml),
    a mapping of the same sections, or Settings.

    `target` is a DuckDB file (default ./omnimetrics.duckdb), ":memory:", "spark", a SparkSession
    or an Ibis backend; `create=False` refuses a DuckDB file that does not exist yet.
    """
    from omnimetrics.warehouse import connect  # the engines load here, not at import

    if isinstance(config, Settings):
        settings = config.with_(demo=True) if demo else config
    elif isinstance(config, Mapping):
        settings = Settings.from_mapping(config, demo=demo)
    else:
        settings = Settings.load(config, demo=demo)
    return Workspace(connect(target, settings=settings, create=create))


class Workspace(
    DataMethods, MeasureMethods, ValueMethods, ExperimentMethods, MixMethods, PipelineMethods
):
    """A warehouse and its settings; each method answers one question as a `Result`."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    @property
    def settings(self) -> Settings:  # type: ignore[override]
        return self.warehouse.settings

    @property
    def journey_settings(self) -> JourneySettings:  # type: ignore[override]
        return self.settings.journeys

    def using(self, **journeys: Any) -> Workspace:
        """The same warehouse with other journey settings, e.g. `ws.using(lookback_days=7)`
        (None keeps the configured value); every number of the copy uses them."""
        changes = {k: v for k, v in journeys.items() if v is not None}
        if not changes:
            return self
        adjusted = replace(self.settings.journeys, **changes)
        return Workspace(self.warehouse.using(self.settings.with_(journeys=adjusted)))

    def close(self) -> None:
        self.warehouse.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace(engine={self.warehouse.engine!r}, tables={len(self.warehouse.tables())})"
