"""Journeys at scale: identity, channels, sessions and paths for 10M touchpoints / 1M persons /
300k orders. Prints seconds per step and the peak RSS of the process doing the work.

    python benchmarks/journeys.py [--touchpoints 10000000 --orders 300000]
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
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from ingest import in_child, touchpoints

SECRET = b"benchmark-secret-0123456789"


def orders(count: int, persons: int, seed: int = 2) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1e6)
    person = rng.integers(0, persons, count)
    return pa.table({
        "order_id": pc.binary_join_element_wise(
            "O", pc.cast(pa.array(np.arange(count)), pa.string()), ""
        ),
        "timestamp": pa.array(start + rng.integers(0, 365 * 86_400 * 1_000_000, count),
                              pa.timestamp("us", "UTC")),
        "customer_id": pc.binary_join_element_wise("C", pc.cast(pa.array(person), pa.string()), ""),
        "sales_channel": pa.array(rng.choice(np.array(["web", "app", "store"]), count)),
        "revenue": pa.array(rng.gamma(2.0, 30.0, count).round(2)),
        "currency": pa.array(np.full(count, "EUR")),
    })  # fmt: skip


def run(db: str) -> None:
    """Child process: the timed steps."""
    import omnimetrics
    from omnimetrics import journeys as jr
    from omnimetrics.config import Settings

    wh = omnimetrics.connect(db, settings=Settings(secret=SECRET))
    timings: dict[str, float] = {}

    def step(name, call):
        started = time.perf_counter()
        result = call()
        timings[name] = time.perf_counter() - started
        return result

    step("identity", wh.resolve_identities)
    step("channels + sessions + events", lambda: jr.build_events(wh))
    paths = step("conversion paths", lambda: wh.materialize(jr.conversion_paths(wh)))
    step("path summary", lambda: jr.path_summary(wh).to_pyarrow())
    step("ropo", lambda: jr.ropo(wh).to_pyarrow())
    timings["paths"] = int(paths.count().execute())
    timings["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(timings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--touchpoints", type=int, default=10_000_000)
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run(args.run)
        return
    import omnimetrics
    from omnimetrics.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pq.write_table(touchpoints(args.touchpoints), folder / "touchpoints.parquet")
        pq.write_table(
            orders(args.orders, max(args.touchpoints // 10, 1)), folder / "orders.parquet"
        )
        db = str(folder / "journeys.duckdb")
        wh = omnimetrics.connect(db, settings=Settings(secret=SECRET))
        wh.ingest("touchpoints", folder / "touchpoints.parquet")
        wh.ingest("orders", folder / "orders.parquet")
        wh.close()
        result = in_child(__file__, "--run", db)
        peak = result.pop("peak_mb")
        paths = result.pop("paths")
        total = sum(result.values())
        steps = "  ".join(f"{k} {v:.1f} s" for k, v in result.items())
        print(f"journeys  touchpoints={args.touchpoints:,} orders={args.orders:,} paths={paths:,}  "
              f"{steps}  total {total:.1f} s  peak {peak:,.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
