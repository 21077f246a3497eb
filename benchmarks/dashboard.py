"""Dashboard pages and the report on a large warehouse (default: the 1M-customer world).

    python benchmarks/dashboard.py [--folder DIR] [--customers 1000000 --days 365] [--repeat 5]

Uses the world of `benchmarks/kpis.py` in DIR (built there first if missing), runs the pipeline
once (`Workspace.run`, which stores every page and the journeys' paths by month: the seconds of
each step, then the stored paths' rows and size and the seconds to store them again), then
serves each dashboard page through the whole HTTP stack (FastAPI's test client: routing, read
key, rendering; no socket) and prints its server time: the first view and the median of
`--repeat` more, unfiltered, for one channel, a two-month range, the campaign of most
conversions, a segment, and a channel with a segment; then the seconds to write the report.
Not a test.
"""

from __future__ import annotations

import argparse
import base64
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ingest import in_child

KEY = "benchmark-read-key-0123456789"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(folder: str) -> dict:
    import omnimetrics
    from omnimetrics.pages import store_paths

    ws = omnimetrics.open(Path(folder) / "w.duckdb", demo=True)
    steps: dict[str, float] = {}
    last = ["start", time.perf_counter()]

    def progress(step: str, fraction: float) -> None:
        now = time.perf_counter()
        steps[f"{last[0]}_s"] = round(now - last[1], 1)
        last[:] = [step, now]

    started = time.perf_counter()
    done = ws.run(progress=progress)
    figures: dict[str, object] = {"run_s": round(time.perf_counter() - started, 1), **steps,
                                  "peak_mb": round(peak_mb())}  # fmt: skip
    started = time.perf_counter()
    stored = store_paths(ws, done.figures["run_id"])  # the run's part: stored again, timed
    figures["paths_s"] = round(time.perf_counter() - started, 1)
    for name in stored:
        rows = ws.warehouse.table(name).to_pyarrow()
        figures[name] = {"rows": rows.num_rows, "arrow_mb": round(rows.nbytes / 1e6, 1)}
    return figures


def pages(folder: str, repeat: int) -> dict:
    from fastapi.testclient import TestClient

    import omnimetrics
    from omnimetrics.pages import PAGES, page_results
    from omnimetrics.report import write_report
    from omnimetrics.service import create_app

    ws = omnimetrics.open(Path(folder) / "w.duckdb", demo=True)
    settings = ws.settings.with_(server=ws.settings.server.__class__(read_keys={"bi": KEY}))
    ws = omnimetrics.Workspace(ws.warehouse.using(settings))
    months = sorted({r["period"] for r in ws.kpis(["orders"], grain="month").to_records()})
    recent = f"?since={months[-3]:%Y-%m}&until={months[-2]:%Y-%m}"
    credit = next(r for r in page_results(ws, "attribution") if r.name == "campaign_credit")
    campaign = max((r for r in credit.to_records() if r["model"] == "last_touch" and r["campaign"]
                    and not str(r["campaign"]).startswith("(")),
                   key=lambda r: r["conversions"])["campaign"]  # fmt: skip
    views = {"all": "", "channel": "?channel=email", "months": recent,
             "campaign": f"?campaign={campaign}", "segment": "?segment=rfm_segment:champions",
             "channel+segment": "?channel=email&segment=channel_mix:omnichannel"}  # fmt: skip
    basic = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    figures: dict[str, object] = {}
    with TestClient(create_app(ws, collect=False), headers={"Authorization": basic}) as client:
        for view, query in views.items():
            for page in PAGES:
                times = []
                for _ in range(1 + repeat):
                    started = time.perf_counter()
                    response = client.get(f"/dashboard/{page}{query}")
                    times.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text[:300]
                figures[f"{view}/{page}"] = {"first_s": round(times[0], 3),
                                             "median_s": round(statistics.median(times[1:]), 3),
                                             "live": "Computed live" in response.text}  # fmt: skip
    started = time.perf_counter()
    write_report(ws, Path(folder) / "report.html")
    figures["report_s"] = round(time.perf_counter() - started, 2)
    figures["peak_mb"] = round(peak_mb())
    return figures


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        step, args = sys.argv[2], sys.argv[3:]
        print(json.dumps(run(args[0]) if step == "run" else pages(args[0], int(args[1]))))
        sys.exit(0)
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", default=None)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-run", action="store_true", help="the warehouse was run already")
    options = parser.parse_args()
    folder = options.folder or str(Path(__file__).parent / ".worlds" / "kpis")
    if not (Path(folder) / "w.duckdb").exists():
        in_child(str(Path(__file__).parent / "kpis.py"), "--child", "prepare", folder,
                 str(options.customers), str(options.days))  # fmt: skip
    if not options.no_run:
        print("run:", in_child(__file__, "--child", "run", folder), flush=True)
    for key, value in in_child(__file__, "--child", "pages", folder, str(options.repeat)).items():
        print(f"{key}: {value}")
