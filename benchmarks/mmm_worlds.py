"""The mix model of the warehouse against the simulator's truth, over several simulated
omnichannel worlds (not the mix simulator): each world is simulated, loaded and its identities
resolved, then `ws.mmm()` is compared with the incremental revenue each channel truly caused
(`truth["channel_contribution"]`); with `--reconcile`, the journeys are built too and
`ws.reconcile()`'s readings are judged on the truth; with `--calibrate`, the model is fitted
again with one lift per channel as a holdout experiment would measure it: the true incremental
revenue of its last `--calibrate-weeks` weeks (from the simulator's orders and their causes),
with a standard error of `--calibrate-se` times it. A world already in the folder is reused.

    nice .venv/bin/python benchmarks/mmm_worlds.py --seeds 10 --folder /tmp/mmm-worlds
    nice .venv/bin/python benchmarks/mmm_worlds.py --seeds 10 --reconcile
    nice .venv/bin/python benchmarks/mmm_worlds.py --seeds 10 --calibrate

Not a test: it prints figures (docs/mmm.md quotes them).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

import omnimetrics
from omnimetrics.config import Settings
from omnimetrics.mmm.series import mix_series
from omnimetrics.simulate import simulate


def one_world(folder: Path, seed: int, args: argparse.Namespace) -> pd.DataFrame:
    """Per channel with spend: fitted contribution and interval against the truth."""
    fresh = not (folder / "w.duckdb").exists()
    if fresh:
        simulate(customers=args.customers, days=args.days, seed=seed, start=args.start).write(
            folder
        )
    truth = json.loads((folder / "truth.json").read_text())
    wh = omnimetrics.connect(folder / "w.duckdb", settings=Settings(demo=True))
    if fresh:
        wh.load(folder)
    ws = omnimetrics.Workspace(wh)
    started = time.perf_counter()
    if args.reconcile:
        ws.build_journeys()
    else:
        wh.resolve_identities()
    lifts = true_lifts(folder, mix_series(wh)[0], args) if args.calibrate else None
    mix = ws.mmm(n_bootstrap=args.bootstrap, seed=seed, calibration=lifts)
    found = mix.to_pandas()
    if args.reconcile:
        found = ws.reconcile(mix=mix).to_pandas()
        found = found.rename(columns={"incremental": "contribution",
                                      "incremental_lower": "contribution_lower",
                                      "incremental_upper": "contribution_upper"})  # fmt: skip
        found = found[found.contribution.notna()]
    seconds = time.perf_counter() - started
    ws.close()
    truth = pd.DataFrame(truth["channel_contribution"]).set_index("channel")
    found = found.set_index("channel").join(truth[["incremental_revenue"]], how="left")
    found["incremental_revenue"] = found.incremental_revenue.fillna(0.0)
    found["covered"] = (found.contribution_lower <= found.incremental_revenue) & (
        found.incremental_revenue <= found.contribution_upper
    )
    found["seed"], found["seconds"] = seed, seconds
    return found.reset_index()


def true_lifts(folder: Path, series: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
    """Per channel, the incremental revenue it truly caused in the series' last weeks, as a
    perfect holdout experiment would measure it, with the standard error asked for."""
    orders = pq.read_table(folder / "truth_orders.parquet",
                           columns=["timestamp", "cause", "revenue"]).to_pandas()  # fmt: skip
    day = pd.to_datetime(orders.timestamp).dt.tz_localize(None)
    orders["week"] = day.dt.to_period("W-SUN").dt.start_time
    weeks = pd.to_datetime(series.week)
    start, end = weeks.iloc[-args.calibrate_weeks], weeks.iloc[-1]
    inside = orders[(orders.week >= start) & (orders.week <= end)]
    caused = inside.groupby(inside.cause.astype(str)).revenue.sum()
    channels = [c for c in series.columns if c not in ("week", "sales", "online_sales",
                                                       "offline_sales")]  # fmt: skip
    lifts = pd.DataFrame({"channel": channels, "start": start, "end": end + pd.Timedelta(days=6),
                          "lift": [float(caused.get(c, 0.0)) for c in channels]})  # fmt: skip
    lifts["lift_se"] = np.maximum(args.calibrate_se * lifts.lift, 1.0)
    return lifts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--customers", type=int, default=8000)
    parser.add_argument("--days", type=int, default=650)
    parser.add_argument("--start", default="2025-01-01")
    parser.add_argument("--bootstrap", type=int, default=100)
    parser.add_argument("--folder", type=Path, default=Path("benchmarks/.worlds/mmm"))
    parser.add_argument("--reconcile", action="store_true")
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--calibrate-weeks", type=int, default=26)
    parser.add_argument("--calibrate-se", type=float, default=0.1)
    args = parser.parse_args()
    rows = []
    for seed in range(args.seeds):
        found = one_world(args.folder / str(seed), seed, args)
        total, true = found.contribution.sum(), found.incremental_revenue.sum()
        print(f"seed {seed}: covered {found.covered.sum()}/{len(found)}, identifiable "
              f"{found.identifiable.sum()}, media {total:,.0f} fitted vs {true:,.0f} true "
              f"({found.seconds.iloc[0]:.1f} s)", flush=True)  # fmt: skip
        rows.append(found)
    every = pd.concat(rows, ignore_index=True)
    ok = every[every.identifiable.astype(bool)]
    by_world = every.groupby("seed")[["contribution", "incremental_revenue"]].sum()
    ratio = by_world.contribution / by_world.incremental_revenue
    error = (every.contribution - every.incremental_revenue).abs() / every.incremental_revenue
    print(f"\n{args.seeds} worlds ({args.customers} customers, {args.days} days), "
          f"{len(every)} channel fits, {args.bootstrap} bootstrap refits")  # fmt: skip
    print(
        f"truth inside the 90% interval: {every.covered.mean():.2f} of channels; "
        f"identifiable channels {ok.covered.mean():.2f} ({len(ok)} of {len(every)})"
    )
    print(f"intervals starting at 0: {(every.contribution_lower <= 0).mean():.2f}")
    print(f"channel contribution relative error, median {error.median():.2f}; identifiable "
          f"{error[ok.index].median():.2f}")  # fmt: skip
    print(
        f"media total fitted / true, median {ratio.median():.2f} "
        f"(min {ratio.min():.2f}, max {ratio.max():.2f})"
    )
    print(f"seconds per world (model), median {every.groupby('seed').seconds.first().median():.1f}")
    per_channel = every.groupby("channel").agg(
        covered=("covered", "mean"), identifiable=("identifiable", "mean"),
        fitted=("contribution", "median"), true=("incremental_revenue", "median"))  # fmt: skip
    print(per_channel.round(2).to_string())
    if args.reconcile:
        judged(every)


def judged(every: pd.DataFrame) -> None:
    """How often each reading of `reconcile` agrees with the truth."""
    closes = every.reading.str.startswith("Closes journeys")
    adds = every.reading.str.startswith("Adds more")
    right_closes = (every.incremental_revenue < every.attributed_low)[closes]
    right_adds = (every.incremental_revenue > every.attributed_high)[adds]
    inside = (every.attributed_low <= every.incremental_revenue) & (
        every.incremental_revenue <= every.attributed_high
    )
    print(f"'closes journeys but adds little': {closes.sum()} readings, the truth below the "
          f"lowest credit in {right_closes.sum()}")  # fmt: skip
    print(f"'adds more than its journeys show': {adds.sum()} readings, the truth above the "
          f"highest credit in {right_adds.sum()}")  # fmt: skip
    print(f"the truth inside attribution's range of models: {inside.mean():.2f} of channels")


if __name__ == "__main__":
    main()
