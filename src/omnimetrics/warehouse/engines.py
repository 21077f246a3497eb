"""Opening a warehouse: a DuckDB file, a local PySpark session on a kept warehouse folder, a
SparkSession or any Ibis backend."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import ibis
from ibis.backends import BaseBackend

from omnimetrics.config import Settings
from omnimetrics.errors import ConfigError, EngineError
from omnimetrics.warehouse.store import DEFAULT_PATH, Warehouse


def connect(
    target: str | Path | BaseBackend | Any | None = None,
    *,
    settings: Settings | None = None,
    demo: bool = False,
    create: bool = True,
) -> Warehouse:
    """Open a warehouse.

    `target` is a DuckDB file path (default ./omnimetrics.duckdb, created if needed), ":memory:",
    an Ibis URL ("duckdb://file.db"), "spark" for a local PySpark session on the warehouse folder
    of the settings (`[engine] spark_warehouse`: Parquet tables and their catalog, kept between
    processes), a SparkSession (its own catalog), or an Ibis backend already connected.
    `create=False` refuses a DuckDB file or a Spark warehouse folder that does not exist (a
    mistyped path is an error, not a new empty warehouse).
    """
    settings = settings or Settings.load(demo=demo)
    if demo and not settings.demo:
        settings = settings.with_(demo=True)
    if isinstance(target, BaseBackend):
        return Warehouse(target, settings)
    if target is not None and type(target).__name__ == "SparkSession":
        return Warehouse(_spark_backend(target), settings)
    text = str(target) if target is not None else DEFAULT_PATH
    if text in ("spark", "pyspark", "spark://local"):
        folder = _spark_warehouse_folder(settings, create=create)
        return Warehouse(_spark_backend(None, folder), settings)
    if "://" in text:
        try:
            return Warehouse(ibis.connect(text), settings)
        except Exception as exc:
            raise EngineError(f"Cannot connect to {text!r}: {exc}") from None
    if text != ":memory:":
        if not create and not Path(text).expanduser().exists():
            raise ConfigError(
                f"No warehouse at {text}: check the path (--db), or create one by loading data "
                "(`omnimetrics ingest`, `omnimetrics load`, `omnimetrics demo`)."
            )
        parent = Path(text).expanduser().resolve().parent
        if not parent.exists():
            raise ConfigError(f"Folder {parent} does not exist; create it or choose another path.")
    try:
        # New files take DuckDB's newest storage format: its string compression writes wide
        # tables about 20% faster (files then need this DuckDB version or newer to open).
        backend = ibis.duckdb.connect(text, storage_compatibility_version="latest")
        return Warehouse(backend, settings)
    except Exception as exc:  # a locked or corrupt file
        raise EngineError(f"Cannot open the DuckDB warehouse {text!r}: {exc}") from None


def _spark_backend(session: Any | None, folder: Path | None = None) -> BaseBackend:
    """An Ibis backend on `session`, or on a local session over the warehouse `folder`."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(
            "PySpark is not installed. Install the extra: pip install 'omnimetrics[spark]' "
            "(and Java 17)."
        ) from None
    if session is None:
        assert folder is not None, "a local session needs its warehouse folder"
        session = _local_spark_session(SparkSession, folder)
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return ibis.pyspark.connect(session)


def _local_spark_session(builder_class: Any, folder: Path) -> Any:
    """A local SparkSession whose tables persist in `folder`: Parquet files under it and a Hive
    metastore (embedded Derby, `folder/metastore_db`) that remembers them between processes.

    Spark's default catalog lives in memory and forgets every table when the process ends; the
    metastore keeps them managed tables, so overwrite, insert and drop behave as in one session.
    """
    running = builder_class.getActiveSession()
    if running is not None:
        return _running_session_on(running, folder)
    metastore = folder / "metastore_db"
    if _metastore_in_use(metastore):
        raise EngineError(_metastore_busy(folder, metastore))
    session = (
        builder_class.builder.master("local[2]")
        .appName("omnimetrics")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.warehouse.dir", str(folder))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={metastore};create=true",
        )
        .config(
            "spark.driver.extraJavaOptions", f"-Dderby.stream.error.file={folder / 'derby.log'}"
        )
        .enableHiveSupport()
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        # Opens the metastore now, to say why it cannot.
        home = _local_folder(session.catalog.getDatabase("default").locationUri)
    except Exception as exc:
        session.stop()
        if _metastore_in_use(metastore, wait=0):  # taken between the check and the start
            raise EngineError(_metastore_busy(folder, metastore)) from None
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(f"Cannot open the Spark warehouse {folder}: {first_line}") from None
    if home != folder:
        session.stop()
        raise EngineError(
            f"The Spark warehouse {folder} was moved or copied from {home}: its catalog still "
            f"names the tables of {home}, which this one would read and overwrite. Move it "
            "back, or load the data again into a new folder ([engine] spark_warehouse)."
        )
    return session


def _local_folder(location: str) -> Path:
    """A folder from a Spark location ("file:/a/b%20c", "file:///a/b" or "/a/b")."""
    return Path(unquote(urlparse(location).path)).resolve()


def _metastore_in_use(metastore: Path, wait: float = 10.0) -> bool:
    """Whether another process has booted this Derby metastore: Derby holds an OS lock on
    `dbex.lck` while it runs (the lock files themselves stay behind after it stops). The JVM of
    a command that just ended lets go a moment after it, so a held lock is tried for `wait` s."""
    try:
        import fcntl
    except ImportError:  # not POSIX: Spark's own error will tell
        return False
    deadline = time.monotonic() + wait
    while True:
        try:
            with (metastore / "dbex.lck").open("rb+") as handle:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.lockf(handle, fcntl.LOCK_UN)
            return False
        except FileNotFoundError:
            return False
        except OSError:
            if time.monotonic() >= deadline:
                return True
            time.sleep(0.2)


def _metastore_busy(folder: Path, metastore: Path) -> str:
    return (
        f"The Spark warehouse {folder} is open in another process: its metastore ({metastore}, "
        "embedded Derby) admits one process at a time. Let the other command finish (or close "
        "its warehouse), then run this one again."
    )


def _running_session_on(session: Any, folder: Path) -> Any:
    """The SparkSession already running in this process, if it is on `folder`; else an error
    (a warehouse folder is fixed when a session starts and cannot change while it runs)."""
    conf = session.sparkContext.getConf()
    current = conf.get("spark.sql.warehouse.dir", "")
    catalog = conf.get("spark.sql.catalogImplementation", "in-memory")
    path = _local_folder(current) if current else None
    if path == folder and catalog == "hive":
        return session
    raise EngineError(
        f"A SparkSession is already running in this process (warehouse {current or 'default'}, "
        f"{catalog} catalog), and a session's warehouse cannot change while it runs; the "
        f"settings name {folder} ([engine] spark_warehouse). Open that session's own catalog "
        "with omnimetrics.connect(spark), or stop it (spark.stop()) and connect again."
    )


def _spark_warehouse_folder(settings: Settings, *, create: bool) -> Path:
    """The folder of a local Spark warehouse (`[engine] spark_warehouse`), made if allowed."""
    folder = Path(settings.spark_warehouse).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"[engine] spark_warehouse: {folder} is a file, not a folder; choose another path."
        )
    if not folder.exists():
        if not create:
            raise ConfigError(
                f"No Spark warehouse at {folder}: check [engine] spark_warehouse in "
                "omnimetrics.toml, or create one by loading data (`omnimetrics ingest ... --db "
                "spark`, `omnimetrics load ... --db spark`)."
            )
        if not folder.parent.exists():
            raise ConfigError(
                f"Folder {folder.parent} does not exist; create it or choose another "
                "[engine] spark_warehouse."
            )
        folder.mkdir()
    return folder
