"""A synthetic omnichannel retailer whose truth is known.

`simulate()` draws persons, campaigns, exposures, orders (a baseline BG/NBD-like process plus
orders triggered by marketing exposures), surveys and the files a user would bring, with dirty
rows and duplicates whose counts are recorded. `World.truth` says what really happened, so
every model of omnimetrics can be checked against it. See docs/simulator.md.

    from omnimetrics.simulate import simulate
    world = simulate(customers=2_000, days=120, seed=7)
    world.write("demo")
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from omnimetrics.errors import ConfigError
from omnimetrics.simulate._activity import background, funnels
from omnimetrics.simulate._campaigns import build_campaigns
from omnimetrics.simulate._config import ClvParameters
from omnimetrics.simulate._context import Ctx, Spend
from omnimetrics.simulate._dirty import dirty_rows, duplicate_rows, merge
from omnimetrics.simulate._events import exposures, touches
from omnimetrics.simulate._feedback import make_feedback
from omnimetrics.simulate._files import Writer
from omnimetrics.simulate._messages import direct_mail, emails, message_spend, push, sms
from omnimetrics.simulate._order_touches import mail_scans, order_touches
from omnimetrics.simulate._orders import Orders, TriggerStats, make_orders
from omnimetrics.simulate._paid import affiliates, brand_spend, paid_media
from omnimetrics.simulate._people import make_people
from omnimetrics.simulate._truth import (
    build_truth,
    truth_orders,
    truth_persons,
    truth_touchpoints,
)
from omnimetrics.simulate._util import Clock, release_memory

__all__ = ["World", "simulate"]

FORMAT = "omnimetrics-world/1"
MAX_CUSTOMERS = 5_000_000
MAX_DAYS = 3_650
MAX_OMNI_LIFT = 10.0

# Load order: reference data first, then events, orders, answers, experiments.
FILES: tuple[tuple[str, str, str | None], ...] = (
    ("customers", "customers.csv", None),
    ("identities", "identities.csv", None),
    ("campaign_codes", "campaign_codes.csv", None),
    ("spend", "spend.csv", None),
    ("touchpoints", "touchpoints.parquet", None),
    ("orders", "orders_web.csv", "web_shop"),
    ("orders", "orders_store.csv", "pos"),
    ("orders", "orders_crm.csv", "crm"),
    ("feedback", "feedback.csv", None),
    ("experiment_assignments", "experiment_assignments.csv", None),
)

Progress = Callable[[str, float], None]


@dataclass
class World:
    """A simulated world: the files a user would bring, and the truth behind them."""

    files: dict[str, pa.Table]
    manifest: dict
    truth: dict
    truth_tables: dict[str, pa.Table] = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> Path:
        """Write every file (CSV or Parquet by extension), manifest.json, truth.json and
        truth_*.parquet into `out_dir` (created if needed); returns its path."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in self.files.items():
            _write_table(table, out / name)
        for name, table in self.truth_tables.items():
            _write_table(table, out / f"{name}.parquet")
        (out / "manifest.json").write_text(json.dumps(self.manifest, indent=2) + "\n")
        (out / "truth.json").write_text(json.dumps(self.truth, indent=2) + "\n")
        return out

    def __repr__(self) -> str:
        m = self.manifest
        return (f"World(customers={m['customers']}, days={m['days']}, seed={m['seed']}, "
                f"files={len(self.files)}, orders={self.truth['orders']})")  # fmt: skip


def _write_table(table: pa.Table, path: Path) -> None:
    if path.suffix == ".csv":
        pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
    else:
        pq.write_table(table, path, compression="zstd")


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not (low <= int(value) <= high)
    ):
        what = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ConfigError(f"{name} must be {what} (at most {high:,}); got {value!r}")
    return int(value)


def _check_start(start: object, days: int) -> date:
    if isinstance(start, datetime):
        start = start.date()
    if isinstance(start, str):
        try:
            start = date.fromisoformat(start)
        except ValueError:
            raise ConfigError(
                f"start must be a date written YYYY-MM-DD (e.g. '2025-01-01'); got {start!r}"
            ) from None
    if not isinstance(start, date):
        raise ConfigError(f"start must be a date written YYYY-MM-DD; got {start!r}")
    if start.year < 2000:
        raise ConfigError(f"start must be in 2000 or later; got {start.isoformat()}")
    latest_end = date.today()  # every timestamp in the past: ingest never sees a future one
    if (latest_end - start).days < days:
        raise ConfigError(
            f"start + days must end by {latest_end.isoformat()} so that every timestamp is in "
            f"the past; got start={start.isoformat()} and days={days}: choose an earlier start "
            "or fewer days"
        )
    return start


def simulate(
    customers: int = 10_000,
    days: int = 180,
    seed: int = 42,
    start: str | date = "2025-01-01",
    progress: Progress | None = None,
    *,
    omni_lift: float = 1.0,
) -> World:
    """Simulate `customers` persons of an omnichannel retailer over `days` days from `start`.

    The same arguments always give the same world (byte for byte). `progress(step, fraction)`
    is called a handful of times when given. `omni_lift` (>= 1) gives becoming omnichannel a
    causal effect: the baseline purchase rate is multiplied by it from a person's first order
    in a second sales channel (the default 1.0: no effect, the world unchanged).
    """
    customers, days, seed, first = _check_arguments(customers, days, seed, start, progress)
    omni_lift = _check_lift(omni_lift)

    def report(step: str, fraction: float) -> None:
        release_memory()
        if progress is not None:
            progress(step, fraction)

    rng = np.random.default_rng(seed)
    clock = Clock(datetime(first.year, first.month, first.day, tzinfo=UTC), days)
    clv = ClvParameters(omni_lift=omni_lift)

    report("people", 0.0)
    people = make_people(rng, customers, clock, clv)
    campaigns = build_campaigns(clock)
    ctx = Ctx(rng, people, clock, campaigns, touches(), exposures())

    report("marketing", 0.1)
    _marketing(ctx)

    report("orders", 0.3)
    orders, stats = _orders(ctx, clv)

    report("touchpoints", 0.5)
    tp = _touchpoints_by_time(ctx, orders)
    writer = Writer(ctx)
    event_id = writer.event_ids(len(tp["t"]))
    files = {"touchpoints.parquet": writer.touchpoints(tp, event_id)}

    report("files", 0.6)
    order_id, rereported = _user_files(writer, ctx, orders, tp, event_id, files)

    report("truth", 0.75)
    start_text = first.isoformat()
    truth = build_truth(
        seed=seed, people=people, clock=clock, start=start_text, clv=clv, campaigns=campaigns,
        o=orders, tp=tp, stats=stats, spend=_spend_by_campaign(ctx.spend),
    )  # fmt: skip
    tables = _truth_tables(writer, ctx, orders, tp, event_id, order_id)
    del tp, event_id, order_id

    report("dirty rows", 0.85)
    files, truth["dirty_rows"], truth["duplicates"] = _dirty_files(rng, files, rereported)
    truth["rows"] = {name: t.num_rows for name, t in files.items()}
    manifest = _manifest(seed, customers, days, start_text)
    report("done", 1.0)
    return World(files=files, manifest=manifest, truth=truth, truth_tables=tables)


def _check_arguments(
    customers: object, days: object, seed: object, start: object, progress: object
) -> tuple[int, int, int, date]:
    """The arguments of `simulate`, checked: customers, days, seed and the first day."""
    customers = _check_int("customers", customers, 1, MAX_CUSTOMERS)
    days = _check_int("days", days, 1, MAX_DAYS)
    seed = _check_int("seed", seed, 0, 2**63 - 1)
    first = _check_start(start, days)
    if progress is not None and not callable(progress):
        raise ConfigError(f"progress must be a callable progress(step, fraction) or None; "
                         f"got {progress!r}")  # fmt: skip
    return customers, days, seed, first


def _check_lift(omni_lift: object) -> float:
    if (
        isinstance(omni_lift, bool)
        or not isinstance(omni_lift, int | float | np.integer | np.floating)
        or not (1.0 <= float(omni_lift) <= MAX_OMNI_LIFT)
    ):
        raise ConfigError(
            f"omni_lift must be a number from 1.0 (no effect, the default) to {MAX_OMNI_LIFT}: "
            f"the factor on the purchase rate after becoming omnichannel; got {omni_lift!r}"
        )
    return float(omni_lift)


def _marketing(ctx: Ctx) -> None:
    """Paid exposures, owned messages, affiliates and background activity, in draw order."""
    paid_media(ctx)
    emails(ctx)
    sms(ctx)
    push(ctx)
    direct_mail(ctx)
    affiliates(ctx)
    background(ctx)


def _orders(ctx: Ctx, clv: ClvParameters) -> tuple[Orders, TriggerStats]:
    """Orders and the touches around them, then what follows the touches: mail scans,
    funnels inside visits, brand search and message costs."""
    orders, stats = make_orders(ctx, clv)
    order_touches(ctx, orders)
    mail_scans(ctx)
    funnels(ctx)
    brand_spend(ctx)
    message_spend(ctx)
    return orders, stats


def _touchpoints_by_time(ctx: Ctx, orders: Orders) -> dict[str, np.ndarray]:
    """The touchpoint rows sorted by time; the orders' row references follow them."""
    tp = ctx.touches.build()
    order = np.argsort(tp["t"], kind="stable")
    tp = {k: v[order] for k, v in tp.items()}
    new_row = np.empty(len(order), dtype=np.int64)
    new_row[order] = np.arange(len(order))
    orders.cause_row = np.where(orders.cause_row >= 0, new_row[np.maximum(orders.cause_row, 0)],
                                -1)  # fmt: skip
    orders.session_row = np.where(
        orders.session_row >= 0, new_row[np.maximum(orders.session_row, 0)], -1
    )
    return tp


def _user_files(
    writer: Writer,
    ctx: Ctx,
    orders: Orders,
    tp: dict[str, np.ndarray],
    event_id: pa.Array,
    files: dict[str, pa.Table],
) -> tuple[pa.Array, dict[str, int]]:
    """Add the reference, order, survey and experiment files to `files`; return the order
    ids and the rows each file reports again (re-exports, re-reports)."""
    customers_table, registered, created, reexports = writer.customers()
    files["customers.csv"] = customers_table
    files["identities.csv"] = writer.identities(tp, registered, created)
    files["campaign_codes.csv"] = writer.campaign_codes()
    files["spend.csv"] = writer.spend()
    order_tables, order_id, rereports = writer.orders(orders)
    files.update(order_tables)
    feedback = make_feedback(ctx, orders, tp)
    files["feedback.csv"] = writer.feedback(feedback, order_id, event_id)
    files["experiment_assignments.csv"] = writer.experiment()
    return order_id, {"orders_crm.csv": rereports, "customers.csv": reexports}


def _spend_by_campaign(spend: Spend) -> dict[int, float]:
    """Total spend per campaign index."""
    spend_total: dict[int, float] = {}
    for camp_arr, spend_arr in zip(spend.camp, spend.spend, strict=True):
        for c in np.unique(camp_arr):  # a loop over campaigns
            spend_total[int(c)] = spend_total.get(int(c), 0.0) + float(
                spend_arr[camp_arr == c].sum()
            )
    return spend_total


def _truth_tables(
    writer: Writer,
    ctx: Ctx,
    orders: Orders,
    tp: dict[str, np.ndarray],
    event_id: pa.Array,
    order_id: pa.Array,
) -> dict[str, pa.Table]:
    """truth_identifiers, truth_touchpoints, truth_orders and truth_persons."""
    people, clock, campaigns = ctx.people, ctx.clock, ctx.campaigns
    camp_names = [c.name for c in campaigns]
    codes = [c.promo_code or "" for c in campaigns]
    return {
        "truth_identifiers": writer.truth_identifiers(),
        "truth_touchpoints": truth_touchpoints(
            tp, event_id, writer.person_id(tp["person"].astype(np.int64)), order_id, camp_names
        ),
        "truth_orders": truth_orders(
            orders, order_id, writer.person_id(orders.person), event_id, clock, camp_names, codes
        ),
        "truth_persons": truth_persons(
            people, writer.person_id(np.arange(people.n)),
            writer.customer_id(np.arange(people.n)), clock.end,
        ),
    }  # fmt: skip


def _dirty_files(
    rng: np.random.Generator, files: dict[str, pa.Table], rereported: dict[str, int]
) -> tuple[dict[str, pa.Table], dict, dict]:
    """The files with dirty rows and duplicates inserted, in load order; the dirty rows per
    file and reason; the duplicate rows per file."""
    dup_rows, dup_at = duplicate_rows(rng, files["touchpoints.parquet"])
    dirty: dict[str, dict[str, int]] = {}
    for _, name, _ in FILES:
        bad, bad_at, dirty[name] = dirty_rows(rng, name, files[name])
        extras = [(bad, bad_at)]
        if name == "touchpoints.parquet":
            extras.append((dup_rows, dup_at))
        files[name] = merge(files, name, extras)
        del bad, extras
        release_memory()
    duplicates = {name: 0 for _, name, _ in FILES}
    duplicates.update({"touchpoints.parquet": dup_rows.num_rows, **rereported})
    return {name: files[name] for _, name, _ in FILES}, dirty, duplicates


def _manifest(seed: int, customers: int, days: int, start: str) -> dict:
    """manifest.json: the arguments, and the files in load order with their source."""
    return {
        "format": FORMAT,
        "seed": seed,
        "customers": customers,
        "days": days,
        "start": start,
        "files": [
            {"table": table, "path": name, **({"source": source} if source else {})}
            for table, name, source in FILES
        ],
    }
