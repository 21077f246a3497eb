"""An A/B test with 10M assigned units, read from the warehouse: units (exposure, person,
exclusions) and the per-variant sufficient statistics of conversion, revenue and average basket.

    python benchmarks/experiments.py [--units 10000000 --orders 3000000] [--folder DIR]
                                     [--runs 3] [--floor] [--steps]

Step 1 (its own process, not timed) writes `experiment_assignments`, `identity_graph` and
`orders` with numpy/pyarrow straight into a DuckDB warehouse, in their contract schemas. Step 2
times the whole analysis of conversion as `omnimetrics experiment` runs it (cold: units,
exclusions, summary by day, statistics), `--runs` times, each in a process of its own, and
prints each run and the median: seconds, CPU seconds (all threads), peak RSS and the load
average when it started (the machine may be shared: compare figures taken under the same load).
`--floor` first times, the same way, the engine's floor: one hand-written DuckDB query doing
only the minimum (assignments joined to the identity graph, orders joined to their person,
orders after exposure counted per unit, units and converters per variant; no exclusion checks,
no daily breakdown), on the same warehouse settings. `--steps` also times, once, the units
listing and each summary on one shared `Facts`. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).parent))
from ingest import in_child

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

SECRET = b"benchmark-secret-0123456789"
EXPERIMENT = "checkout_button"
START = datetime(2026, 1, 1, tzinfo=UTC)
DAY_US = 86_400 * 1_000_000


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds of this process, all its threads (the engine's too)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def load() -> float:
    return os.getloadavg()[0]


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


def connected(folder: str) -> Warehouse:
    import omnimetrics
    from omnimetrics.config import Settings

    return omnimetrics.connect(Path(folder) / "w.duckdb", settings=Settings(secret=SECRET))


FLOOR = """
WITH units AS (
    SELECT a.variant, a.timestamp AS exposed_at, g.person_id
    FROM experiment_assignments AS a LEFT JOIN identity_graph AS g
        ON g.identifier_type = a.unit_type AND g.identifier = a.unit_id
    WHERE a.experiment = $experiment),
bought AS (
    SELECT g.person_id, o.timestamp AS at
    FROM orders AS o JOIN identity_graph AS g
        ON g.identifier_type = 'customer_id' AND g.identifier = o.customer_id
    WHERE o.status IS NULL OR o.status <> 'cancelled'),
converted AS (
    SELECT u.variant, u.person_id
    FROM bought AS b JOIN units AS u ON b.person_id = u.person_id AND b.at >= u.exposed_at
    GROUP BY u.variant, u.person_id)
SELECT variant, units, conversions
FROM (SELECT variant, count(*) AS units FROM units GROUP BY variant)
JOIN (SELECT variant, count(*) AS conversions FROM converted GROUP BY variant) USING (variant)
ORDER BY variant
"""
"""The engine's floor: the least a conversion test needs, written by hand for DuckDB."""


def floor(folder: str) -> dict:
    wh = connected(folder)
    con = wh.kernel()
    assert con is not None
    figures: dict = {"load": load()}
    started, cpu = time.perf_counter(), cpu_s()
    per_variant = con.execute(FLOOR, {"experiment": EXPERIMENT}).fetchall()
    figures["floor_s"] = time.perf_counter() - started
    figures["floor_cpu_s"] = cpu_s() - cpu
    figures["floor_peak_mb"] = peak_mb()
    figures["per_variant"] = [list(row) for row in per_variant]
    wh.close()
    return figures


def analyse(folder: str, steps: bool) -> dict:
    import omnimetrics

    wh = connected(folder)
    figures: dict = {"load": load()}
    started, cpu = time.perf_counter(), cpu_s()
    # The whole analysis, cold: what `omnimetrics experiment` does.
    result = omnimetrics.Workspace(wh).experiment(EXPERIMENT, "conversion")
    figures["whole_analysis_s"] = time.perf_counter() - started
    figures["whole_analysis_cpu_s"] = cpu_s() - cpu
    figures["whole_analysis_peak_mb"] = peak_mb()
    figures["decision"] = result.to_records()[0]["decision"]
    if steps:
        figures.update(step_by_step(wh))
    wh.close()
    return figures


def step_by_step(wh: Warehouse) -> dict:
    """The listing, the units and each summary on one shared `Facts`, one after another."""
    from omnimetrics.experiments.units import experiment_summary, experiments, unit_counts
    from omnimetrics.metrics.facts import Facts

    facts = Facts(wh, grain="total")
    figures: dict = {}
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
    return figures


def show(label: str, figures: dict) -> None:
    print(f"{label}:", ", ".join(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}"
                                 for k, v in figures.items()), flush=True)  # fmt: skip


def median_of(label: str, runs: list[dict], seconds: str, cpu: str, peak: str) -> None:
    """The median run's seconds (with the range), CPU seconds, peak and load averages."""
    times = [run[seconds] for run in runs]
    show(f"{label}, median of {len(runs)}", {
        seconds: statistics.median(times), "fastest": min(times), "slowest": max(times),
        cpu: statistics.median(run[cpu] for run in runs),
        peak: statistics.median(run[peak] for run in runs),
        "loads": " ".join(f"{run['load']:.1f}" for run in runs),
    })  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        step, args = sys.argv[2], sys.argv[3:]
        if step == "prepare":
            result = prepare(args[0], int(args[1]), int(args[2]))
        elif step == "floor":
            result = floor(args[0])
        else:
            result = analyse(args[0], steps=args[1] == "steps")
        print(json.dumps(result))
        sys.exit(0)
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=10_000_000)
    parser.add_argument("--orders", type=int, default=3_000_000)
    parser.add_argument("--folder", default=None)
    parser.add_argument("--runs", type=int, default=3, help="cold runs of each timing")
    parser.add_argument("--floor", action="store_true", help="time the engine's floor first")
    parser.add_argument("--steps", action="store_true", help="time each step once as well")
    options = parser.parse_args()
    folder = options.folder or tempfile.mkdtemp(prefix="omnimetrics-experiments-")
    Path(folder).mkdir(parents=True, exist_ok=True)
    if not (Path(folder) / "w.duckdb").exists():
        show("warehouse", in_child(__file__, "--child", "prepare", folder, str(options.units),
                                   str(options.orders)))  # fmt: skip
    if options.floor:
        floors = []
        for run in range(options.runs):
            floors.append(in_child(__file__, "--child", "floor", folder))
            show(f"engine floor, run {run + 1}", floors[-1])
        median_of("engine floor", floors, "floor_s", "floor_cpu_s", "floor_peak_mb")
    wholes = []
    for run in range(options.runs):
        steps = "steps" if options.steps and run == 0 else "whole"
        wholes.append(in_child(__file__, "--child", "analyse", folder, steps))
        show(f"experiment from the warehouse, run {run + 1}", wholes[-1])
    median_of("whole analysis", wholes, "whole_analysis_s", "whole_analysis_cpu_s",
              "whole_analysis_peak_mb")  # fmt: skip
