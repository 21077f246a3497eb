"""An A/B test with 10M assigned units, read from the warehouse: units (exposure, person,
exclusions) and the per-variant sufficient statistics of conversion, revenue and average basket.

    python benchmarks/experiments.py [--units 10000000 --orders 3000000] [--folder DIR]

Step 1 (its own process, not timed) writes `experiment_assignments`, `identity_graph` and
`orders` with numpy/pyarrow straight into a DuckDB warehouse, in their contract schemas. Step 2
(another process) times the whole analysis of conversion as `omnimetrics experiment` runs it
(cold: units, summary by day, statistics), then the units listing and each summary on one
shared `Facts`, and prints seconds and its own peak RSS. Not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).parent))
from ingest import in_child

SECRET = b"benchmark-secret-0123456789"
EXPERIMENT = "checkout_button"
START = datetime(2026, 1, 1, tzinfo=UTC)
DAY_US = 86_400 * 1_000_000


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def stamps(us: np.ndarray) -> pa.Array:
    return pa.array(int(START.timestamp() * 1e6) + us, pa.timestamp("us", "UTC"))


def contract_rows(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    """`columns` in the stored schema of contract table `name`, the others null."""
    from omnimetrics.schema import TABLES

    n = len(next(iter(columns.values())))
    schema = TABLES[name].ibis_schema()
    return pa.table({
        c: columns[c] if c in columns else pa.nulls(n, kind.to_pyarrow())
        for c, kind in schema.items()
    })  # fmt: skip


def prepare(folder: str, units: int, orders: int) -> dict:
    """A warehouse with `units` customers assigned A or B over 28 days, each their own person,
    and `orders` orders of those customers from 30 days before the test to 30 days after."""
    import omnimetrics
    from omnimetrics.config import Settings

    rng = np.random.default_rng(16)
    wh = omnimetrics.connect(Path(folder) / "w.duckdb", settings=Settings(secret=SECRET))
    con = wh.kernel()
    assert con is not None
    number = np.arange(units)
    customer = ids("C", number)
    tables = {
        "experiment_assignments": contract_rows("experiment_assignments", {
            "experiment": pa.array(np.full(units, EXPERIMENT)),
            "variant": pa.array(np.where(rng.random(units) < 0.5, "A", "B")),
            "unit_type": pa.array(np.full(units, "customer_id")),
            "unit_id": customer,
            "timestamp": stamps(rng.integers(0, 28 * DAY_US, units)),
        }),
        "identity_graph": pa.table({
            "identifier_type": pa.array(np.full(units, "customer_id")),
            "identifier": customer,
            "person_id": ids("P", number),
        }),
    }  # fmt: skip
    buyer = rng.integers(0, units, orders)
    tables["orders"] = contract_rows("orders", {
        "order_id": ids("O", np.arange(orders)),
        "timestamp": stamps(rng.integers(-30 * DAY_US, 58 * DAY_US, orders)),
        "customer_id": ids("C", buyer),
        "sales_channel": pa.array(rng.choice(np.array(["web", "app", "store"]), orders)),
        "revenue": pa.array(rng.gamma(2.0, 30.0, orders).round(2)),
        "currency": pa.array(np.full(orders, "EUR")),
    })  # fmt: skip
    started = time.perf_counter()
    for name, rows in tables.items():
        con.register("_rows", rows)
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _rows')
        con.unregister("_rows")
    seconds = time.perf_counter() - started
    wh.close()
    return {"units": units, "orders": orders, "write_s": seconds, "peak_mb": peak_mb()}


def analyse(folder: str) -> dict:
    import omnimetrics
    from omnimetrics.config import Settings
    from omnimetrics.experiments.units import experiment_summary, experiments, unit_counts
    from omnimetrics.metrics.facts import Facts

    wh = omnimetrics.connect(Path(folder) / "w.duckdb", settings=Settings(secret=SECRET))
    figures: dict = {}
    started = time.perf_counter()  # the whole analysis, cold: what `omnimetrics experiment` does
    result = omnimetrics.Workspace(wh).experiment(EXPERIMENT, "conversion")
    figures["whole_analysis_s"] = time.perf_counter() - started
    figures["whole_analysis_peak_mb"] = peak_mb()
    figures["decision"] = result.to_records()[0]["decision"]
    facts = Facts(wh, grain="total")
    total = time.perf_counter()
    started = time.perf_counter()
    listing = experiments(facts).to_pylist()
    figures["experiments_s"] = time.perf_counter() - started
    figures["assignments"] = listing[0]["assignments"]
    started = time.perf_counter()
    figures["analysed_units"] = unit_counts(facts, EXPERIMENT)["units"]
    figures["units_s"] = time.perf_counter() - started
    for metric in ("conversion", "revenue", "average_basket"):
        started = time.perf_counter()
        summary = experiment_summary(facts, EXPERIMENT, metric)
        figures[f"{metric}_s"] = time.perf_counter() - started
        assert summary.num_rows == 2
    started = time.perf_counter()
    experiment_summary(facts, EXPERIMENT, "revenue", window_days=14, covariate_days=28)
    figures["revenue_cuped_window_s"] = time.perf_counter() - started
    figures["total_s"] = time.perf_counter() - total
    figures["peak_mb"] = peak_mb()
    wh.close()
    return figures


def show(label: str, figures: dict) -> None:
    print(f"{label}:", ", ".join(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}"
                                 for k, v in figures.items()), flush=True)  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        step, args = sys.argv[2], sys.argv[3:]
        result = prepare(args[0], int(args[1]), int(args[2])) if step == "prepare" else (
            analyse(args[0]))  # fmt: skip
        print(json.dumps(result))
        sys.exit(0)
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=10_000_000)
    parser.add_argument("--orders", type=int, default=3_000_000)
    parser.add_argument("--folder", default=None)
    options = parser.parse_args()
    folder = options.folder or tempfile.mkdtemp(prefix="omnimetrics-experiments-")
    Path(folder).mkdir(parents=True, exist_ok=True)
    if not (Path(folder) / "w.duckdb").exists():
        show("warehouse", in_child(__file__, "--child", "prepare", folder, str(options.units),
                                   str(options.orders)))  # fmt: skip
    show("experiment from the warehouse", in_child(__file__, "--child", "analyse", folder))
