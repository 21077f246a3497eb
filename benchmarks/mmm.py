"""The default mix model on simulated weekly series with known truth: seconds and peak memory of
the whole fit with intervals on 3 years x 10 channels, then recovery errors and interval coverage
over many simulated worlds, and the budget optimiser judged on the truth.

    nice .venv/bin/python benchmarks/mmm.py                       # timing + 50 worlds x 5 channels
    nice .venv/bin/python benchmarks/mmm.py --seeds 50 --channels 10 --bootstrap 100
    nice .venv/bin/python benchmarks/mmm.py --skip-timing --seeds 20
    nice .venv/bin/python benchmarks/mmm.py --engine pymc --seeds 0   # both engines ([pymc] extra)

Not a test: it prints figures (docs/mmm.md quotes them).
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np
import pandas as pd

from omnimetrics.mmm.model import MixModel
from omnimetrics.mmm.optimise import optimise_budget
from omnimetrics.mmm.simulate import simulate_mix


def timing(channels: int, bootstrap: int, repeats: int) -> None:
    """The default engine: fit, tables and optimiser, `repeats` times, then its traced memory."""
    world = simulate_mix(n_weeks=156, n_channels=channels, seed=0)
    for repeat in range(repeats + 1):
        traced = repeat == repeats  # the last run measures memory (tracemalloc slows it down)
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        model = MixModel(world.channels, controls=["promotion"], n_bootstrap=bootstrap)
        model.fit(world.series)
        fitted = time.perf_counter()
        model.decomposition(), model.channel_summary(), model.response_curves(), model.diagnostics()
        tables = time.perf_counter()
        optimise_budget(model)
        optimised = time.perf_counter()
        if traced:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"peak traced memory of fit + tables + optimiser: {peak / 2**20:.0f} MiB")
            continue
        print(
            f"run {repeat + 1}: 156 weeks x {channels} channels, {bootstrap} bootstrap fits: "
            f"fit {fitted - started:.2f} s, tables {tables - fitted:.2f} s, "
            f"optimiser {optimised - tables:.2f} s, total {optimised - started:.2f} s"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the process: {rss:.0f} MiB")


def timing_pymc(channels: int, options: dict[str, object]) -> None:
    """The pymc engine once (it samples in child processes, which tracemalloc does not see: the
    memory figures are peak resident sizes, this process's and its largest child's)."""
    world = simulate_mix(n_weeks=156, n_channels=channels, seed=0)
    started = time.perf_counter()
    model = MixModel(world.channels, controls=["promotion"], engine="pymc", engine_options=options)
    model.fit(world.series)
    fitted = time.perf_counter()
    model.decomposition(), model.channel_summary(), model.response_curves(), model.diagnostics()
    tables = time.perf_counter()
    optimise_budget(model)
    optimised = time.perf_counter()
    settings = model.engine_settings()
    print(
        f"pymc engine: 156 weeks x {channels} channels, {settings['chains']} chains x "
        f"({settings['tune']} tune + {settings['draws']} draws), sampler "
        f"{settings['nuts_sampler']}, holdout refit of {model.holdout_weeks} weeks included: "
        f"fit {fitted - started:.1f} s, tables {tables - fitted:.2f} s, "
        f"optimiser {optimised - tables:.2f} s, total {optimised - started:.1f} s"
    )
    diagnostics = model.diagnostics().set_index("metric")["value"]
    print(
        "  convergence: "
        + ", ".join(
            f"{name} {diagnostics[name]:.3g}"
            for name in ("r_hat_max", "ess_bulk_min", "ess_tail_min", "divergences")
        )
    )
    summary = model.channel_summary()
    roi_error = (summary["roi"] - world.truth["roi"]).abs() / world.truth["roi"]
    covered = (summary["roi_lower"] <= world.truth["roi"]) & (
        world.truth["roi"] <= summary["roi_upper"]
    )
    print(
        f"  this world: ROI relative error median {roi_error.median():.3f}, "
        f"{int(covered.sum())} of {channels} true ROIs inside the 90% intervals"
    )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  peak resident memory: this process {own:.0f} MiB, largest child {child:.0f} MiB")


def recovery(seeds: int, channels: int, bootstrap: int, engine: str = "ridge") -> None:
    rows = []
    started = time.perf_counter()
    for seed in range(seeds):
        world = simulate_mix(n_weeks=156, n_channels=channels, seed=seed)
        model = MixModel(
            world.channels,
            controls=["promotion"],
            n_bootstrap=bootstrap,
            seed=seed,
            engine=engine,
        )
        summary = model.fit(world.series).channel_summary()
        truth = world.truth
        total = truth["contribution"].sum()
        plan = optimise_budget(model)
        multiples = (plan.allocation["optimal_spend"] / plan.allocation["current_spend"]).to_numpy()
        true_uplift = world.true_incremental_sales(multiples).sum() - total
        model_uplift = plan.summary.set_index("metric").loc["uplift"]
        diagnostics = model.diagnostics().set_index("metric")["value"]
        for j in range(channels):
            row = {
                "seed": seed,
                "contribution_error_of_total": abs(
                    summary["contribution"][j] - truth["contribution"][j]
                )
                / total,
                "share_error": abs(summary["share"][j] - truth["share"][j]),
                "media_total_ratio": summary["contribution"].sum() / total,
                "true_uplift_positive": true_uplift > 0,
                "true_uplift_in_interval": model_uplift["lower"]
                <= true_uplift
                <= model_uplift["upper"],
                "uplift_ratio": model_uplift["value"] / true_uplift if true_uplift else np.nan,
                "r2": diagnostics["r2"],
                "mape_holdout": diagnostics["mape_holdout"],
            }
            for name in ("contribution", "roi", "mroi"):
                value, true = summary[name][j], truth[name][j]
                row[f"{name}_relative_error"] = abs(value - true) / true
                row[f"{name}_covered"] = (
                    summary[f"{name}_lower"][j] <= true <= summary[f"{name}_upper"][j]
                )
            rows.append(row)
    seconds = time.perf_counter() - started
    table = pd.DataFrame(rows)
    per_world = table.groupby("seed").first()
    draws = f"{bootstrap} bootstrap fits" if engine == "ridge" else "the pymc engine's posterior"
    print(
        f"\nrecovery over {seeds} worlds x {channels} channels (156 weeks, {draws}, "
        f"90% intervals), {seconds / seeds:.2f} s per world incl. optimiser"
    )
    for name in ("contribution", "roi", "mroi"):
        errors = table[f"{name}_relative_error"]
        print(
            f"  {name:>12}: relative error median {errors.median():.3f}, mean {errors.mean():.3f}, "
            f"90th pct {errors.quantile(0.9):.3f}; "
            f"interval coverage {table[f'{name}_covered'].mean():.3f}"
        )
    print(
        f"  channel contribution error as share of total media: mean "
        f"{table['contribution_error_of_total'].mean():.3f}; share error (points) mean "
        f"{table['share_error'].mean():.3f}"
    )
    ratio = per_world["media_total_ratio"]
    print(
        f"  total media contribution / truth: median {ratio.median():.3f}, "
        f"5th-95th pct {ratio.quantile(0.05):.3f}-{ratio.quantile(0.95):.3f}"
    )
    print(
        f"  fit: R2 median {per_world['r2'].median():.3f}; holdout MAPE median "
        f"{per_world['mape_holdout'].median():.3f}"
    )
    print(
        f"  optimiser (+/-30%, same budget): true uplift > 0 in "
        f"{per_world['true_uplift_positive'].mean():.3f} of worlds; model uplift / true uplift "
        f"median {per_world['uplift_ratio'].median():.2f}; true uplift inside the interval "
        f"{per_world['true_uplift_in_interval'].mean():.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--channels", type=int, default=5)
    parser.add_argument("--bootstrap", type=int, default=100)
    parser.add_argument("--timing-channels", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument(
        "--engine",
        choices=["ridge", "pymc"],
        default="ridge",
        help="pymc: time the Bayesian engine too (the [pymc] extra), the default engine beside it",
    )
    parser.add_argument("--chains", type=int, help="pymc engine: chains (default: the engine's)")
    parser.add_argument("--draws", type=int, help="pymc engine: draws per chain")
    parser.add_argument("--tune", type=int, help="pymc engine: warm-up steps per chain")
    parser.add_argument("--sampler", help="pymc engine: nuts_sampler (pymc, nutpie...)")
    args = parser.parse_args()
    if not args.skip_timing:
        timing(args.timing_channels, args.bootstrap, args.repeats)
        if args.engine == "pymc":
            given = {
                "chains": args.chains,
                "draws": args.draws,
                "tune": args.tune,
                "nuts_sampler": args.sampler,
            }
            options = {name: value for name, value in given.items() if value is not None}
            timing_pymc(args.timing_channels, options)
    if args.seeds:
        recovery(args.seeds, args.channels, args.bootstrap, args.engine)


if __name__ == "__main__":
    main()
