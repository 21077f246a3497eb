"""The effect of becoming omnichannel (`omnimetrics.clv.omni.omni_value`, adjusted rows) against
the simulator's truth over many worlds: mean estimate vs truth, interval coverage, standard
error vs the spread of the estimates, matched share, seconds.

    nice .venv/bin/python benchmarks/omni_value.py --lifts 1.0 1.5 --worlds 20
    nice .venv/bin/python benchmarks/omni_value.py --lifts 2.0 --worlds 5

Truth of the estimand (becoming omnichannel now vs not now): the same estimator run on the
orders caused by the lift alone (truth_orders cause 'omni_lift', revenue replaced by 1 for the
orders and kept for the revenue, every other order 0): the omni landmarks' lift orders in the
window minus the matched-weighted lift orders of the control landmarks (controls who become
omnichannel later in the window get the lift too). The plain truth: the omni landmarks' mean lift
orders in the window. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import ibis
import numpy as np
import pandas as pd

from omnimetrics.clv.omni import omni_value
from omnimetrics.simulate import simulate

CUT = datetime(2025, 1, 1, tzinfo=UTC)


def world_orders(seed: int, lift: float, customers: int, days: int) -> pd.DataFrame:
    world = simulate(customers=customers, days=days, seed=seed, start="2024-01-01",
                     omni_lift=lift)  # fmt: skip
    truth = world.truth_tables["truth_orders"]
    return pd.DataFrame({
        "person_id": truth["person_id"].to_numpy(zero_copy_only=False),
        "at": truth["timestamp"].to_pandas(),
        "revenue": truth["revenue"].to_numpy(),
        "sales_channel": truth["sales_channel"].cast("string").to_numpy(zero_copy_only=False),
        "lift": (truth["cause"].cast("string").to_numpy(zero_copy_only=False) == "omni_lift"),
    })  # fmt: skip


def adjusted(frame: pd.DataFrame, window: float) -> pd.DataFrame:
    found = omni_value(ibis.memtable(frame), CUT, window_days=window)
    return found.table[found.table.estimate == "adjusted"].set_index("outcome")


def one_world(seed: int, lift: float, args: argparse.Namespace) -> dict:
    frame = world_orders(seed, lift, args.customers, args.days)
    observed = frame.drop(columns="lift")
    start = time.perf_counter()
    found = omni_value(ibis.memtable(observed), CUT, window_days=args.window)
    seconds = time.perf_counter() - start
    table = found.table.set_index(["outcome", "estimate"])
    lift_orders = observed.assign(revenue=frame["lift"].astype(float))
    lift_revenue = observed.assign(revenue=frame["revenue"] * frame["lift"])
    truth_o, truth_r = adjusted(lift_orders, args.window), adjusted(lift_revenue, args.window)
    if args.bootstrap:
        spread = bootstrap_sd(observed, args.bootstrap, seed)
        se = table.loc[("orders", "adjusted"), "std_error"]
        print(f"seed {seed} lift {lift}: orders se {se:.4f} vs person bootstrap sd "
              f"{spread:.4f} ({args.bootstrap} resamples)")  # fmt: skip
    row = {"seed": seed, "lift": lift, "seconds": seconds, "matched": found.matched_share,
           "omni": int(table.loc[("orders", "adjusted"), "omni_customers"]),
           "single": int(table.loc[("orders", "adjusted"), "single_landmarks"])}  # fmt: skip
    for outcome, truth in (("orders", truth_o), ("revenue", truth_r)):
        est = table.loc[(outcome, "adjusted")]
        row |= {
            f"{outcome}_raw": table.loc[(outcome, "raw"), "difference"],
            f"{outcome}_est": est["difference"], f"{outcome}_se": est["std_error"],
            f"{outcome}_low": est["ci_low"], f"{outcome}_high": est["ci_high"],
            f"{outcome}_truth": truth.loc["revenue", "difference"],
            f"{outcome}_plain": truth.loc["revenue", "omni_mean"],
        }  # fmt: skip
    return row


def bootstrap_sd(frame: pd.DataFrame, replicates: int, seed: int) -> float:
    """Spread of the adjusted orders estimate over person bootstrap resamples of one world
    (persons drawn with replacement, a drawn-twice person renamed; the strata rebuilt)."""
    rng = np.random.default_rng(seed)
    persons = frame["person_id"].dropna().unique()
    by_person = frame.groupby("person_id").indices
    estimates = []
    for _ in range(replicates):
        drawn = rng.choice(persons, size=len(persons))
        rows = np.concatenate([by_person[p] for p in drawn])
        copy = np.repeat(np.arange(len(drawn)), [len(by_person[p]) for p in drawn])
        sample = frame.iloc[rows].assign(person_id=copy.astype(str))
        estimates.append(adjusted(sample, 180.0).loc["orders", "difference"])
    return float(np.std(estimates, ddof=1))


def summary(rows: pd.DataFrame) -> None:
    for lift, group in rows.groupby("lift"):
        n = len(group)
        print(f"\nlift {lift}: {n} worlds, omni landmarks {group.omni.mean():.0f}, single "
              f"landmarks {group.single.mean():.0f}, matched share {group.matched.mean():.3f}, "
              f"omni_value {group.seconds.mean():.2f} s per world")  # fmt: skip
        for outcome in ("orders", "revenue"):
            est, truth = group[f"{outcome}_est"], group[f"{outcome}_truth"]
            low, high = group[f"{outcome}_low"], group[f"{outcome}_high"]
            error = est - truth
            covered = int(((low <= truth) & (truth <= high)).sum())
            zero = int(((low <= 0) & (high >= 0)).sum())
            print(f"  {outcome:8s} raw at cut {group[f'{outcome}_raw'].mean():8.3f} | "
                  f"estimate {est.mean():8.3f} truth {truth.mean():8.3f} "
                  f"(plain {group[f'{outcome}_plain'].mean():.3f}) bias {error.mean():+.3f} "
                  f"+- {error.std(ddof=1) / np.sqrt(n):.3f} | sd(est - truth) "
                  f"{error.std(ddof=1):.3f} sd(est) {est.std(ddof=1):.3f} mean se "
                  f"{group[f'{outcome}_se'].mean():.3f} | covers truth {covered}/{n}, "
                  f"covers 0 {zero}/{n}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifts", type=float, nargs="+", default=[1.0, 1.5])
    parser.add_argument("--worlds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=100)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--window", type=float, default=180.0)
    parser.add_argument("--bootstrap", type=int, default=0,
                        help="also the person bootstrap spread (this many resamples)")  # fmt: skip
    parser.add_argument("--out", help="write the per-world rows to this CSV")
    args = parser.parse_args()
    rows = []
    for lift in args.lifts:
        for seed in range(args.first_seed, args.first_seed + args.worlds):
            row = one_world(seed, lift, args)
            rows.append(row)
            print(f"seed {seed} lift {lift}: orders {row['orders_est']:+.3f} "
                  f"(se {row['orders_se']:.3f}) truth {row['orders_truth']:+.3f}; revenue "
                  f"{row['revenue_est']:+.2f} truth {row['revenue_truth']:+.2f}",
                  flush=True)  # fmt: skip
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)
    summary(table)


if __name__ == "__main__":
    main()
