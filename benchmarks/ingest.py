"""Ingest throughput and peak memory for Parquet and CSV touchpoints; simulate throughput.

    python benchmarks/ingest.py                 # 1M and 10M rows, Parquet and CSV
    python benchmarks/ingest.py --rows 1000000  # one size

Each ingest runs in its own process so its peak memory (max RSS) is its own. Prints one line per
run: rows, format, seconds, rows/s, peak MB. Not a test: nothing fails on time.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

EVENT_TYPES = ["visit", "page_view", "product_view", "ad_impression", "ad_click", "email_open",
               "email_click", "store_visit", "add_to_cart"]  # fmt: skip
SOURCES = ["google", "facebook", "newsletter", "bing", "instagram", None]
MEDIUMS = ["cpc", "paid_social", "email", "organic", "referral", None]


def touchpoints(rows: int, seed: int = 1) -> pa.Table:
    """A touchpoints export of `rows` rows with realistic columns, built without Python loops."""
    rng = np.random.default_rng(seed)
    persons = max(rows // 10, 1)
    person = rng.integers(0, persons, rows)
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1e6)
    stamp = start + rng.integers(0, 365 * 86_400 * 1_000_000, rows)
    prefix = lambda p, values: pc.binary_join_element_wise(p, pc.cast(values, pa.string()), "")  # noqa: E731
    with_email = rng.random(rows) < 0.1
    email = pc.if_else(
        pa.array(with_email), prefix("user", pa.array(person)), pa.nulls(rows, pa.string())
    )
    email = pc.binary_join_element_wise(email, "@example.com", "")
    pick = lambda options: pa.array(options).take(pa.array(rng.integers(0, len(options), rows)))  # noqa: E731
    return pa.table({
        "event_id": prefix("e", pa.array(np.arange(rows))),
        "timestamp": pa.array(stamp, pa.timestamp("us", "UTC")),
        "anonymous_id": prefix("c", pa.array(person)),
        "customer_id": pc.if_else(pa.array(rng.random(rows) < 0.3), prefix("C", pa.array(person)),
                                  pa.nulls(rows, pa.string())),
        "email": email,
        "source": pick(SOURCES),
        "medium": pick(MEDIUMS),
        "campaign": pick(["spring_sale", "brand", "retargeting", None]),
        "event_type": pick(EVENT_TYPES),
        "device_type": pick(["desktop", "mobile", "tablet"]),
        "duration_seconds": pa.array(rng.exponential(120, rows).round(1)),
    })  # fmt: skip


def in_child(script: str, *args: str) -> dict:
    """Run `script` with `args` in a fresh process (its own peak RSS); its last line is JSON."""
    done = subprocess.run([sys.executable, script, *args], capture_output=True, text=True,
                          check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_one(fmt: str, path: str, db: str) -> None:
    """Child process: ingest one file, print seconds and own peak RSS as JSON."""
    import omnimetrics
    from omnimetrics.config import Settings

    wh = omnimetrics.connect(db, settings=Settings(secret=b"benchmark-secret-0123456789"))
    started = time.perf_counter()
    report = wh.ingest("touchpoints", path, format=fmt)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": report.rows_read, "accepted": report.accepted,
                      "seconds": seconds, "peak_mb": peak_mb}))  # fmt: skip


def simulate_figures(customers: int, days: int) -> None:
    try:
        from omnimetrics.simulate import simulate
    except ImportError:
        print("simulate: not available")
        return
    started = time.perf_counter()
    world = simulate(customers=customers, days=days, seed=1)
    seconds = time.perf_counter() - started
    rows = sum(t.num_rows for t in world.files.values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"simulate  customers={customers:>9,} days={days}  rows={rows:>11,}  {seconds:7.1f} s  "
          f"{rows / seconds:>11,.0f} rows/s  peak {peak_mb:,.0f} MB (this process)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--formats", nargs="+", default=["parquet", "csv"])
    parser.add_argument("--simulate-customers", type=int, default=100_000)
    parser.add_argument("--one", nargs=3, metavar=("FORMAT", "PATH", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(*args.one)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            table = touchpoints(rows)
            for fmt in args.formats:
                path = Path(tmp) / f"touchpoints_{rows}.{fmt}"
                if fmt == "parquet":
                    pq.write_table(table, path)
                else:
                    pacsv.write_csv(table, path)
                db = Path(tmp) / f"bench_{rows}_{fmt}.duckdb"
                result = in_child(__file__, "--one", fmt, str(path), str(db))
                size_mb = path.stat().st_size / 1e6
                print(f"ingest {fmt:8} rows={result['rows']:>11,}  file {size_mb:8,.0f} MB  "
                      f"{result['seconds']:7.1f} s  {result['rows'] / result['seconds']:>11,.0f} "
                      f"rows/s  peak {result['peak_mb']:,.0f} MB")  # fmt: skip
                path.unlink()
                db.unlink()
            del table
    if args.simulate_customers:
        simulate_figures(args.simulate_customers, 365)


if __name__ == "__main__":
    main()
