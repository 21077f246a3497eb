"""Attribution speed and peak memory.

    python benchmarks/attribution.py            # every case below
    python benchmarks/attribution.py rules      # one case: rules | markov | shapley | cli

- rules: every rule-based model on 10M journey touches of 300k orders (DuckDB, 1 GB cap).
- markov: Markov orders 1 and 3 on a table of 1M distinct paths (8 channels, 1-10 touches);
  compute only (the path table is already in memory).
- shapley: Shapley values with 12 channels on 1M paths (4,095 channel sets, exact).
- cli: Markov order 1 and 3 on the 1M-path CSV as whole processes (start-up, reading, model,
  output, exit), side by side: `omnimetrics attribution --paths FILE --models markov[_3]`, the
  library route (`path_file_report` from `python -c`) and the ChannelAttribution package
  (`pip install ChannelAttribution`; its C++ `markov_model`, the CSV read with pandas inside its
  process). Best and median of `--repeat` runs (default 3).
Each case runs in its own process, so its peak memory (max RSS) is its own. Not a test.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from ingest import in_child

CHANNELS = ["paid_search", "organic_search", "display", "email", "paid_social", "direct",
            "store", "sms", "affiliate", "video", "push", "referral"]  # fmt: skip


def path_table(paths: int, channels: int, seed: int = 3) -> pa.Table:
    """`paths` random paths of 1-10 touches over `channels` channels (nearly all distinct)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 11, paths)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    # later channels in the list convert better, so the models have something to find
    codes = rng.integers(0, channels, int(offsets[-1]))
    names = pa.array(CHANNELS[:channels]).take(pa.array(codes))
    lists = pa.ListArray.from_arrays(pa.array(offsets), names)
    rate = 0.02 + 0.01 * np.bincount(np.repeat(np.arange(paths), lengths), codes) / lengths
    conversions = rng.poisson(rate * 20)
    return pa.table({
        "path": lists, "conversions": conversions.astype(float),
        "nulls": rng.poisson(20, paths).astype(float), "value": conversions * 80.0,
    })  # fmt: skip


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rules() -> dict:
    import ibis

    from omnimetrics.attribution import MODELS, attribute

    con = ibis.duckdb.connect(memory_limit="1GB", threads=2)
    con.raw_sql("""
        CREATE TABLE touches AS
        SELECT 'o' || (i // 33) AS order_id,
               (i % 33) + 1 AS position,
               (['paid_search','organic_search','display','email','paid_social','direct',
                 'store','sms'])[(1 + hash(i) % 8)::BIGINT] AS channel,
               'c' || (hash(i * 7) % 40) AS campaign,
               TIMESTAMPTZ '2026-01-01' + to_seconds((i % 33) * 3600) AS touch_at,
               TIMESTAMPTZ '2026-01-01' + to_seconds(40 * 3600) AS order_at,
               10.0 + (i // 33) % 90 AS revenue
        FROM range(9900000) AS t(i)
    """)  # fmt: skip
    touches = con.table("touches")
    names = [name for name, model in MODELS.items() if not model.data_driven]
    started = time.perf_counter()
    result = attribute(touches, names).to_pyarrow()
    seconds = time.perf_counter() - started
    return {"case": f"{len(names)} rule models, 9.9M touches / 300k orders",
            "seconds": seconds, "rows_out": result.num_rows, "peak_mb": peak_mb()}  # fmt: skip


def markov() -> dict:
    from omnimetrics.attribution import MarkovAttribution, PathTable

    table = PathTable.from_arrow(path_table(1_000_000, 8))
    figures = {"case": "Markov on 1M distinct paths, 8 channels, 1-10 touches"}
    for order in (1, 2, 3, 4):
        started = time.perf_counter()
        model = MarkovAttribution(order=order).fit(table)
        figures[f"order_{order}_seconds"] = time.perf_counter() - started
        figures[f"order_{order}_states"] = len(model.states_)
    figures["peak_mb"] = peak_mb()
    return figures


def shapley() -> dict:
    from omnimetrics.attribution import PathTable, ShapleyAttribution

    table = PathTable.from_arrow(path_table(1_000_000, 12))
    started = time.perf_counter()
    ShapleyAttribution().fit(table)
    exact = time.perf_counter() - started
    started = time.perf_counter()
    ShapleyAttribution(ordered=True).fit(table)
    ordered = time.perf_counter() - started
    return {"case": "Shapley on 1M paths, 12 channels", "exact_seconds": exact,
            "ordered_seconds": ordered, "peak_mb": peak_mb()}  # fmt: skip


LIBRARY = """
import sys
from omnimetrics.attribution import path_file_report
report = path_file_report(sys.argv[1], models=[sys.argv[2]])
print(report.credit.num_rows)
"""
CHANNEL_ATTRIBUTION = """
import sys
import pandas as pd
from ChannelAttribution import markov_model
paths = pd.read_csv(sys.argv[1])
result = markov_model(paths, "path", "conversions", var_value="value", var_null="nulls",
                      order=int(sys.argv[2]), sep=">", verbose=False, flg_pro=False)
print(len(result))
"""


def whole_process(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process, from start to exit."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors,
                                 env={**os.environ, **(env or {})})  # fmt: skip
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        if status != 0:
            errors.seek(0)
            lines = errors.read().decode().strip().splitlines()
            raise RuntimeError(lines[-1] if lines else f"exit status {status}")
    return seconds, usage.ru_maxrss / 1024


def interleaved(commands: dict[str, tuple[list[str], dict]], repeat: int) -> dict:
    """Each command `repeat` times, taking turns (so load from elsewhere hits them alike):
    best and median wall seconds and peak RSS of each, or why it failed."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    failed: dict[str, str] = {}
    for _ in range(repeat):
        for name, (command, env) in commands.items():
            if name not in failed:
                try:
                    runs[name].append(whole_process(command, env))
                except (RuntimeError, OSError) as exc:
                    failed[name] = str(exc)[:120]
    figures: dict = {f"{name}_error": why for name, why in failed.items()}
    for name, done in runs.items():
        if name in failed:
            continue
        seconds = [run[0] for run in done]
        figures[f"{name}_best"] = min(seconds)
        figures[f"{name}_median"] = statistics.median(seconds)
        figures[f"{name}_peak_mb"] = max(run[1] for run in done)
    return figures


def cli() -> dict:
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    folder = Path(tempfile.mkdtemp())
    file = str(folder / "paths.csv")
    table = path_table(1_000_000, 8)
    readable = table.set_column(0, "path", pc.binary_join(table.column("path"), " > "))
    pacsv.write_csv(readable, file)
    del table, readable
    size = Path(file).stat().st_size / 1e6
    figures: dict = {"case": f"Markov on a 1M-path CSV ({size:.0f} MB), whole processes"}
    repeat = int(os.environ.get("OMNIMETRICS_BENCH_REPEAT", "3"))
    omnimetrics = str(Path(sys.executable).parent / "omnimetrics")
    for order in (1, 3):
        model = "markov" if order == 1 else f"markov_{order}"
        library = [sys.executable, "-c", LIBRARY, file, model]
        commands = {
            "cli": ([omnimetrics, "attribution", "--paths", file, "--models", model, "--quiet"],
                    {}),
            "library": (library, {}),
            "library_no_hugepages": (library, {"NUMPY_MADVISE_HUGEPAGE": "0"}),
            "channelattribution": ([sys.executable, "-c", CHANNEL_ATTRIBUTION, file, str(order)],
                                   {}),
        }  # fmt: skip
        runs = interleaved(commands, repeat)
        figures.update({f"order_{order}_{key}": value for key, value in runs.items()})
        theirs = runs.get("channelattribution_best")
        for name in ("cli", "library", "library_no_hugepages"):
            ours = runs.get(f"{name}_best")
            if ours and theirs:
                figures[f"order_{order}_{name}_speedup"] = theirs / ours
    return figures


CASES = {"rules": rules, "markov": markov, "shapley": shapley, "cli": cli}

if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(CASES[sys.argv[2]]()))
        sys.exit(0)
    if "--repeat" in sys.argv:  # for the cli case: python benchmarks/attribution.py cli --repeat 5
        at = sys.argv.index("--repeat")
        os.environ["OMNIMETRICS_BENCH_REPEAT"] = sys.argv.pop(at + 1)
        sys.argv.pop(at)
    for name in sys.argv[1:] or list(CASES):
        figures = in_child(__file__, "--child", name)
        print(", ".join(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}"
                        for k, v in figures.items()), flush=True)  # fmt: skip
