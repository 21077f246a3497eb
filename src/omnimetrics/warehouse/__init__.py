"""The warehouse: typed tables in one engine, reached through Ibis.

This package is the only place that knows engines apart (DuckDB by default, PySpark in local or
cluster mode, any other Ibis backend for reading): `engines` opens them, `store` is the
`Warehouse` every layer above uses. Everything above it writes Ibis expressions.
"""

from omnimetrics.warehouse.engines import connect
from omnimetrics.warehouse.store import DEFAULT_PATH, META_TABLE, STAGING_PREFIX, Warehouse

__all__ = ["DEFAULT_PATH", "META_TABLE", "STAGING_PREFIX", "Warehouse", "connect"]
