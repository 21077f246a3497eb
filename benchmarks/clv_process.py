"""The whole CLV process on 1M customers, as a user runs it: the RFM summary computed by the
engine from the transactions, BG/NBD and Gamma-Gamma fitted, and every customer's expected
purchases, P(alive), expected order value and CLV (`omnimetrics.clv.value.fit_value`).

    python benchmarks/clv_process.py [--customers 1000000] [--unit W]
                                     [--lifetimes-python /tmp/ltvenv/bin/python]

The transactions (about 3 per customer over two years: BG/NBD purchases, Gamma-Gamma values)
are simulated with numpy and loaded into DuckDB first (not timed); then the process is timed in
its own child process: seconds of the summary, of the fit and predictions, in all, and the peak
RSS. With a Python that has the `lifetimes` package (`python3 -m venv /tmp/ltvenv &&
/tmp/ltvenv/bin/pip install lifetimes`), the same process with lifetimes runs next, on the same
transactions written to CSV: `summary_data_from_transaction_data`, BetaGeoFitter,
GammaGammaFitter and the same predictions. Not a test; the figures depend on the machine and
its load.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def transactions(path: Path, customers: int, seed: int = 7) -> int:
    """Purchases of BG/NBD customers (r=0.25, alpha=4 in weeks, a=0.8, b=2.5) acquired over a
    year, observed for two, into a DuckDB file; returns the number of rows. (A week's purchases
    count as one in the summary, so the fit is near, not at, these values.)"""
    import duckdb

    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 365, customers)
    rate = rng.gamma(0.25, 1 / 4.0, customers) / 7  # per day
    p = rng.beta(0.8, 2.5, customers)
    horizon = 730 - start
    allowed = rng.geometric(p)  # repeat purchases before dropping out (after the J-th)
    # The Poisson arrivals over the horizon are uniform given their number; the customer makes
    # the first `allowed` of them, in time order, then drops out.
    arrivals = rng.poisson(rate * horizon)
    who = np.repeat(np.arange(customers), arrivals)
    u = rng.uniform(0, 1, len(who))
    order = np.lexsort((u, who))
    who, u = who[order], u[order]
    rank = np.arange(len(who)) - np.repeat(np.cumsum(arrivals) - arrivals, arrivals)
    kept = rank < allowed[who]
    who, u = who[kept], u[kept]
    at = start[who] + u * horizon[who]
    person = np.concatenate([np.arange(customers), who])
    day = np.concatenate([start, at])
    nu = rng.gamma(3.7, 1 / 15.4, customers)
    value = rng.gamma(6.2, 1 / nu[person])
    epoch = np.datetime64("2024-01-01T00:00:00")
    stamps = epoch + (day * 86400).astype("timedelta64[s]")
    import pyarrow as pa

    rows = pa.table({"customer_id": pa.array(person.astype(str)), "timestamp": stamps,
                     "amount": value})  # fmt: skip
    with duckdb.connect(str(path)) as con:
        con.register("rows", rows)
        con.execute("CREATE TABLE transactions AS SELECT * FROM rows")
    return len(person)


def child(path: str, unit: str) -> dict:
    import ibis

    from omnimetrics.clv.summary import rfm_summary
    from omnimetrics.clv.value import fit_value

    con = ibis.duckdb.connect(path, read_only=True)
    table = con.table("transactions")
    started = time.perf_counter()
    summary = rfm_summary(table, customer="customer_id", timestamp="timestamp",
                          amount="amount", unit=unit).to_pandas()  # fmt: skip
    summarised = time.perf_counter()
    fit = fit_value(summary, horizon=52, unit=unit, discount_rate=0.1, margin=0.3)
    done = time.perf_counter()
    return {
        "customers": len(fit.customers), "summary_s": round(summarised - started, 2),
        "fit_and_predict_s": round(done - summarised, 2), "total_s": round(done - started, 2),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "params": {k: round(v, 4) for k, v in fit.purchases.params_.items()},
    }  # fmt: skip


LIFETIMES = """
import json, resource, sys, time
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data
rows = pd.read_csv(sys.argv[1])
rows["timestamp"] = pd.to_datetime(rows.timestamp, format="ISO8601")
started = time.perf_counter()
freq, horizon = sys.argv[2], {"D": 364, "W": 52}[sys.argv[2]]
summary = summary_data_from_transaction_data(rows, "customer_id", "timestamp", "amount", freq=freq)
summarised = time.perf_counter()
bg = BetaGeoFitter().fit(summary.frequency, summary.recency, summary["T"])
repeat = summary[summary.frequency > 0]
gg = GammaGammaFitter().fit(repeat.frequency, repeat.monetary_value)
bg.conditional_expected_number_of_purchases_up_to_time(horizon, summary.frequency,
                                                       summary.recency, summary["T"])
bg.conditional_probability_alive(summary.frequency, summary.recency, summary["T"])
gg.conditional_expected_average_profit(summary.frequency, summary.monetary_value)
gg.customer_lifetime_value(bg, summary.frequency, summary.recency, summary["T"],
                           summary.monetary_value, time=12, discount_rate=0.008, freq=freq)
done = time.perf_counter()
print(json.dumps({"customers": len(summary), "summary_s": round(summarised - started, 2),
                  "fit_and_predict_s": round(done - summarised, 2),
                  "total_s": round(done - started, 2),
                  "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "params": {k: round(v, 4) for k, v in bg.params_.items()}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--unit", choices=["D", "W"], default="W")
    parser.add_argument("--lifetimes-python", default="/tmp/ltvenv/bin/python")
    options = parser.parse_args()
    path = Path(tempfile.mkdtemp(prefix="omnimetrics-clv-")) / "t.duckdb"
    print("transactions:", transactions(path, options.customers), flush=True)
    done = subprocess.run([sys.executable, __file__, "--child", str(path), options.unit],
                          capture_output=True, text=True, check=True)  # fmt: skip
    print("omnimetrics:", done.stdout.strip(), flush=True)
    if Path(options.lifetimes_python).exists():
        import duckdb

        csv = path.with_suffix(".csv")
        with duckdb.connect(str(path), read_only=True) as con:
            con.execute(f"COPY transactions TO '{csv}' (HEADER)")
        theirs = subprocess.run([options.lifetimes_python, "-c", LIFETIMES, str(csv),
                                 options.unit], capture_output=True, text=True)  # fmt: skip
        print("lifetimes:", theirs.stdout.strip() or theirs.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3])))
        sys.exit(0)
    main()
