"""omnimetrics: measure the real performance of an omnichannel marketing strategy.

>>> import omnimetrics
>>> wh = omnimetrics.connect(":memory:", demo=True)
>>> wh.engine
'duckdb'
"""

from omnimetrics.config import Settings
from omnimetrics.errors import (
    ConfigError,
    EngineError,
    NotFittedError,
    OmnimetricsError,
    SchemaError,
    SourceError,
    UnknownNameError,
)
from omnimetrics.ingest import CsvOptions, IngestReport
from omnimetrics.schema import TABLES
from omnimetrics.warehouse import Warehouse, connect

__all__ = [
    "TABLES",
    "ConfigError",
    "CsvOptions",
    "EngineError",
    "IngestReport",
    "NotFittedError",
    "OmnimetricsError",
    "SchemaError",
    "Settings",
    "SourceError",
    "UnknownNameError",
    "Warehouse",
    "connect",
]
__version__ = "0.1.0"
