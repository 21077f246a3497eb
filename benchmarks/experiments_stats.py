"""The experiments' statistics on simulated tests with known truth, end to end through `analyse`:
A/A false-positive rates (proportions, means, means with CUPED), the coverage of a true lift,
daily peeking (the naive test at every look against the always-valid p-value), and seconds per
analysis.

    nice .venv/bin/python benchmarks/experiments_stats.py --runs 1000
    nice .venv/bin/python benchmarks/experiments_stats.py --runs 200 --looks 5 20 50

Not a test: it prints figures (docs/experiments.md quotes them).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from omnimetrics.experiments import analyse, power_proportions, summarise_units

ALPHA = 0.05


def proportion_summary(
    rng: np.random.Generator, units: int, rates: tuple[float, float]
) -> pd.DataFrame:
    n = rng.binomial(units, 0.5)
    conversions = rng.binomial([units - n, n], rates)
    return pd.DataFrame(
        {"variant": ["A", "B"], "units": [units - n, n], "conversions": conversions}
    )


def mean_units(
    rng: np.random.Generator, units: int, lift: float = 0.0, looks: int = 1
) -> pd.DataFrame:
    variant = np.where(rng.random(units) < 0.5, "A", "B")
    covariate = rng.gamma(1.5, 20.0, units)
    value = 0.8 * covariate + rng.gamma(2.0, 5.0, units) + lift * (variant == "B")
    period = rng.integers(0, looks, units) if looks > 1 else None
    return summarise_units(variant, value, covariate=covariate, period=period)


def aa_rates(runs: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    rejected = {"proportion": 0, "mean": 0, "mean, CUPED": 0}
    reduction = []
    started = time.perf_counter()
    for _ in range(runs):
        p = analyse(proportion_summary(rng, 6000, (0.04, 0.04)), draws=1000)
        rejected["proportion"] += p.comparisons.p_value[0] < ALPHA
        frame = mean_units(rng, 2000)
        raw = analyse(frame, cuped=False, draws=1000)
        cuped = analyse(frame, draws=1000)
        rejected["mean"] += raw.comparisons.p_value[0] < ALPHA
        rejected["mean, CUPED"] += cuped.comparisons.p_value[0] < ALPHA
        reduction.append(cuped.comparisons.cuped_variance_reduction[0])
    seconds = (time.perf_counter() - started) / (3 * runs)
    rates = {f"A/A false positives, {k}": v / runs for k, v in rejected.items()}
    rates["CUPED variance reduction (mean)"] = float(np.mean(reduction))
    rates["seconds per analyse()"] = seconds
    return rates


def coverage(runs: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    abs_hits = rel_hits = mean_hits = cuped_hits = power = 0
    for _ in range(runs):
        row = analyse(proportion_summary(rng, 40000, (0.05, 0.0515)), draws=1000).comparisons
        abs_hits += row.ci_low[0] <= 0.0015 <= row.ci_high[0]
        rel_hits += row.rel_ci_low[0] <= 0.03 <= row.rel_ci_high[0]
        power += row.significant[0]
        frame = mean_units(rng, 2000, lift=1.0)
        raw = analyse(frame, cuped=False, draws=1000).comparisons
        cuped = analyse(frame, draws=1000).comparisons
        mean_hits += raw.ci_low[0] <= 1.0 <= raw.ci_high[0]
        cuped_hits += cuped.ci_low[0] <= 1.0 <= cuped.ci_high[0]
    return {
        "coverage, absolute lift of a proportion (+3%)": abs_hits / runs,
        "coverage, relative lift of a proportion": rel_hits / runs,
        "coverage, lift of a mean": mean_hits / runs,
        "coverage, lift of a mean with CUPED": cuped_hits / runs,
        "power at +3% of 5%, 20k units per variant": power / runs,
        "planned power (power_proportions)": power_proportions(20000, 0.05, 0.03),
    }


def peeking(runs: int, looks: int, seed: int, tuning: str) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    naive = sequential = final = 0
    units = 400 * looks
    for _ in range(runs):
        frame = mean_units(rng, units, looks=looks)
        tuning_units = units / 4 if tuning == "quarter" else None
        result = analyse(frame, cuped=False, draws=1000, sequential_tuning_units=tuning_units)
        naive += result.looks.naive_p_value.min() < ALPHA
        sequential += result.looks.seq_p_value.min() < ALPHA
        final += result.comparisons.p_value[0] < ALPHA
    return {
        f"{looks} looks ({tuning}): naive test rejects at some look": naive / runs,
        f"{looks} looks ({tuning}): always-valid p rejects at some look": sequential / runs,
        f"{looks} looks ({tuning}): fixed-horizon test at the last look": final / runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--looks", type=int, nargs="+", default=[20])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    figures = aa_rates(args.runs, args.seed)
    figures.update(coverage(args.runs, args.seed + 1))
    for looks in args.looks:
        figures.update(peeking(args.runs, looks, args.seed + 2, "last look"))
    figures.update(peeking(args.runs, args.looks[-1], args.seed + 2, "quarter"))
    for name, value in figures.items():
        print(f"{name:<66} {value:.4f}")


if __name__ == "__main__":
    main()
