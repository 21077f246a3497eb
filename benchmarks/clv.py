"""BG/NBD + Gamma-Gamma fit and per-customer predictions on a simulated RFM table (default 1M
customers over a year), ours and the `lifetimes` package's side by side.

    python benchmarks/clv.py [--customers 1000000] [--unit days|weeks]
                             [--lifetimes-python /tmp/ltvenv/bin/python]

Step 1 simulates the RFM table (BG/NBD purchases, Gamma-Gamma spend; first purchases spread over
365 days, recency and T in whole days or weeks as an engine's date arithmetic gives them) into an
.npz file. Each measured step then runs in its own process and prints wall seconds per step, the
process's CPU seconds (all threads; steadier on a shared machine) and its own peak RSS: ours on
the table as it is (`compress`: identical rows fitted and predicted once, the default), ours row
by row (`compress=False`), and lifetimes (BetaGeoFitter, GammaGammaFitter and the same
predictions) when a Python with lifetimes is given or found at /tmp/ltvenv/bin/python
(`python3 -m venv /tmp/ltvenv && /tmp/ltvenv/bin/pip install lifetimes`). The predictions:
expected purchases in the next period, P(alive), expected spend, and CLV over 12 periods of 30
days (4.345 weeks) at 1% per period. Not a test; the figures depend on the machine and its load.
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

PURCHASES = {"days": (0.25, 28.0, 0.8, 2.5), "weeks": (0.25, 4.0, 0.8, 2.5)}
"""BG/NBD (r, alpha, a, b) per unit: about 3 purchases a year while alive."""
SPEND = (6.0, 4.0, 15.0)
PERIOD = {"days": 30.0, "weeks": 4.345}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def simulate_table(path: Path, customers: int, unit: str) -> dict:
    from omnimetrics.clv.simulation import simulate_bg_nbd, simulate_gamma_gamma

    rng = np.random.default_rng(7)
    days = rng.uniform(1, 365, customers)  # time since each customer's first purchase
    per_unit = 1.0 if unit == "days" else 7.0
    history = simulate_bg_nbd(PURCHASES[unit], days / per_unit, holdout=0.0, rng=rng)
    # an engine sees dates: whole units since the first purchase, last purchase at or before T
    T = np.floor(history.T)
    recency = np.minimum(np.floor(history.recency), T)
    spend = simulate_gamma_gamma(SPEND, history.frequency, rng)
    np.savez(path, frequency=history.frequency, recency=recency, T=T, monetary_value=spend)
    distinct = len(np.unique(np.column_stack([history.frequency, recency, T]), axis=0))
    return {"customers": customers, "repeat_buyers": int((history.frequency > 0).sum()),
            "distinct_rows": distinct}  # fmt: skip


def ours(path: str, unit: str, compress: bool) -> dict:
    """Child process: our fit and predictions; seconds per step and peak RSS."""
    from omnimetrics.clv.models import BGNBD, GammaGamma, customer_lifetime_value

    table = dict(np.load(path))
    x, t_x, T, spend = (table[k] for k in ("frequency", "recency", "T", "monetary_value"))
    seconds = {}
    cpu, started = time.process_time(), time.perf_counter()
    purchases = BGNBD(compress=compress).fit(x, t_x, T)
    seconds["fit_bgnbd"] = time.perf_counter() - started
    mark = time.perf_counter()
    spend_model = GammaGamma().fit(x, spend)
    seconds["fit_gamma_gamma"] = time.perf_counter() - mark
    mark = time.perf_counter()
    expected = purchases.expected_purchases(PERIOD[unit], x, t_x, T)
    alive = purchases.p_alive(x, t_x, T)
    value = spend_model.expected_spend(x, spend)
    clv = customer_lifetime_value(purchases, spend_model, x, t_x, T, spend, periods=12,
                                  period_length=PERIOD[unit], discount_rate=0.01)  # fmt: skip
    seconds["predict"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    seconds["cpu"] = time.process_time() - cpu
    return {**seconds, "peak_mb": peak_mb(), "params": {**purchases.params_, **spend_model.params_},
            "sums": [float(expected.sum()), float(alive.sum()), float(value.sum()),
                     float(clv.sum())]}  # fmt: skip


LIFETIMES = """
import json, resource, sys, time, warnings
import numpy as np, pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
warnings.simplefilter("ignore")
path, period, freq = sys.argv[1], float(sys.argv[2]), sys.argv[3]
table = dict(np.load(path))
x, t_x, T, spend = (pd.Series(table[k]) for k in ("frequency", "recency", "T", "monetary_value"))
seconds = {}
cpu, started = time.process_time(), time.perf_counter()
bgf = BetaGeoFitter().fit(x, t_x, T)
seconds["fit_bgnbd"] = time.perf_counter() - started
mark = time.perf_counter()
buyers = x > 0
ggf = GammaGammaFitter().fit(x[buyers], spend[buyers])
seconds["fit_gamma_gamma"] = time.perf_counter() - mark
mark = time.perf_counter()
expected = bgf.conditional_expected_number_of_purchases_up_to_time(period, x, t_x, T)
alive = bgf.conditional_probability_alive(x, t_x, T)
value = ggf.conditional_expected_average_profit(x, spend)
clv = ggf.customer_lifetime_value(bgf, x, t_x, T, spend, time=12, discount_rate=0.01, freq=freq)
seconds["predict"] = time.perf_counter() - mark
seconds["total"] = time.perf_counter() - started
seconds["cpu"] = time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
params = {**bgf.params_.to_dict(), **ggf.params_.to_dict()}
print(json.dumps({**seconds, "peak_mb": peak, "params": {k: float(v) for k, v in params.items()},
                  "sums": [float(np.sum(expected)), float(np.sum(alive)), float(np.sum(value)),
                           float(np.sum(clv))]}))
"""


def run(command: list[str]) -> dict:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def show(name: str, figures: dict) -> None:
    if "error" in figures:
        print(f"{name}: {figures['error']}")
        return
    steps = ("fit_bgnbd", "fit_gamma_gamma", "predict", "total", "cpu")
    times = ", ".join(f"{k} {figures[k]:.2f} s" for k in steps)
    params = ", ".join(f"{k} {v:.4g}" for k, v in figures["params"].items())
    sums = ", ".join(f"{v:.6g}" for v in figures["sums"])
    print(f"{name}: {times}; peak {figures['peak_mb']:.0f} MB\n    params: {params}"
          f"\n    sums (expected, p_alive, spend, clv): {sums}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--unit", choices=["days", "weeks"], default="days")
    parser.add_argument("--lifetimes-python", default="/tmp/ltvenv/bin/python")
    parser.add_argument("--skip-row-by-row", action="store_true")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="omnimetrics-clv-"))
    path = folder / "rfm.npz"
    print("table:", simulate_table(path, options.customers, options.unit), flush=True)
    me = [sys.executable, __file__, "--child", str(path), options.unit]
    show("omnimetrics (compress)", run([*me, "compress"]))
    if not options.skip_row_by_row:
        show("omnimetrics (row by row)", run([*me, "rows"]))
    if Path(options.lifetimes_python).exists():
        freq = "D" if options.unit == "days" else "W"
        script = [options.lifetimes_python, "-c", LIFETIMES, str(path), str(PERIOD[options.unit])]
        show("lifetimes", run([*script, freq]))
    else:
        print(f"lifetimes: no Python at {options.lifetimes_python} (see the docstring)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(ours(sys.argv[2], sys.argv[3], compress=sys.argv[4] == "compress")))
        sys.exit(0)
    main()
