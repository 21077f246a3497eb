"""Every KPI x channel x month on a simulated world (default 1M customers, 365 days).

    python benchmarks/kpis.py [--customers 1000000 --days 365] [--folder DIR]

Step 1 (its own process) simulates the world, loads it into a DuckDB warehouse, resolves
identities and builds journeys; step 2 (another process) computes every KPI by channel and
month and prints seconds and its own peak RSS. Not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ingest import in_child


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(folder: str, customers: int, days: int) -> dict:
    import omnimetrics
    from omnimetrics import journeys
    from omnimetrics.config import Settings
    from omnimetrics.simulate import simulate

    steps = {}
    started = time.perf_counter()
    simulate(customers=customers, days=days, seed=11).write(Path(folder) / "world")
    steps["simulate_s"] = time.perf_counter() - started
    wh = omnimetrics.connect(Path(folder) / "w.duckdb", settings=Settings(demo=True))
    for name, step in (("load_s", lambda: wh.load(Path(folder) / "world")),
                       ("identity_s", wh.resolve_identities),
                       ("events_s", lambda: journeys.build_events(wh))):  # fmt: skip
        started = time.perf_counter()
        step()
        steps[name] = time.perf_counter() - started
    steps["touchpoints"] = int(wh.table("touchpoints").count().execute())
    steps["orders"] = int(wh.table("orders").count().execute())
    wh.close()
    return {**steps, "peak_mb": peak_mb()}


def kpis(folder: str) -> dict:
    import omnimetrics
    from omnimetrics.config import Settings
    from omnimetrics.metrics.kpis import KPIS, compute_kpis

    wh = omnimetrics.connect(Path(folder) / "w.duckdb", settings=Settings(demo=True))
    started = time.perf_counter()
    result = compute_kpis(wh, by=["channel"], grain="month")
    seconds = time.perf_counter() - started
    return {"kpis": len(KPIS) - len(result.unavailable), "unavailable": len(result.unavailable),
            "rows": len(result.table), "seconds": seconds, "peak_mb": peak_mb()}  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        step, args = sys.argv[2], sys.argv[3:]
        result = (
            prepare(args[0], int(args[1]), int(args[2])) if step == "prepare" else kpis(args[0])
        )
        print(json.dumps(result))
        sys.exit(0)
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--folder", default=None)
    options = parser.parse_args()
    folder = options.folder or tempfile.mkdtemp(prefix="omnimetrics-kpis-")
    if not (Path(folder) / "w.duckdb").exists():
        built = in_child(__file__, "--child", "prepare", folder, str(options.customers),
                         str(options.days))  # fmt: skip
        print("world:", ", ".join(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}"
                                  for k, v in built.items()), flush=True)  # fmt: skip
    figures = in_child(__file__, "--child", "kpis", folder)
    print(
        "kpis x channel x month:",
        ", ".join(
            f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}" for k, v in figures.items()
        ),
    )
