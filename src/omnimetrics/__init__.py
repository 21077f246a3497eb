"""omnimetrics: measure the real performance of an omnichannel marketing strategy.

>>> import omnimetrics
>>> ws = omnimetrics.open(":memory:", demo=True)
>>> ws.warehouse.engine
'duckdb'

Names are imported when first used, so `omnimetrics --help` does not load the engines.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from omnimetrics.config import JourneySettings, Settings
from omnimetrics.errors import (
    ConfigError,
    EngineError,
    NotFittedError,
    OmnimetricsError,
    SchemaError,
    SourceError,
    UnknownNameError,
)

if _typing.TYPE_CHECKING:
    from omnimetrics.ingest import CsvOptions, IngestReport
    from omnimetrics.project import init_project
    from omnimetrics.registry import Registry
    from omnimetrics.results import Result
    from omnimetrics.schema import TABLES
    from omnimetrics.warehouse import Warehouse, connect
    from omnimetrics.workspace import Workspace, demo, open

_LAZY = {
    "TABLES": "omnimetrics.schema",
    "CsvOptions": "omnimetrics.ingest",
    "IngestReport": "omnimetrics.ingest",
    "Registry": "omnimetrics.registry",
    "Result": "omnimetrics.results",
    "Warehouse": "omnimetrics.warehouse",
    "Workspace": "omnimetrics.workspace",
    "connect": "omnimetrics.warehouse",
    "demo": "omnimetrics.workspace",
    "init_project": "omnimetrics.project",
    "open": "omnimetrics.workspace",
}

__all__ = [
    "TABLES",
    "ConfigError",
    "CsvOptions",
    "EngineError",
    "IngestReport",
    "JourneySettings",
    "NotFittedError",
    "OmnimetricsError",
    "Registry",
    "Result",
    "SchemaError",
    "Settings",
    "SourceError",
    "UnknownNameError",
    "Warehouse",
    "Workspace",
    "connect",
    "demo",
    "init_project",
    "open",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'omnimetrics' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
