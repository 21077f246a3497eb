"""The collector under load: batches of Segment events sent for a while to a real server.

    python benchmarks/collector.py [--seconds 60] [--batch 100] [--senders 8] [--resend 0.02]

Starts `omnimetrics serve` in its own process on a loopback port, with a fresh warehouse; senders
(asyncio + httpx, in this process) post /v1/batch requests of `--batch` events (pages, product
views, add-to-carts, identifies, orders, each with a realistic context) back to back for
`--seconds`, and resend a share `--resend` of the batches already acknowledged (a client
retrying). Prints events/s acknowledged, the acknowledgement latency percentiles, the server's
peak memory, and checks, once the server is stopped, that every acknowledged event is stored
exactly once and that no resent one was stored twice. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

WRITE_KEY = "bench-write-key-0123456789"
AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, port: int) -> subprocess.Popen:
    (folder / "omnimetrics.toml").write_text(
        f'[server]\nwrite_keys = {{ web = "{WRITE_KEY}" }}\nrate_limit = 1000000\n'
    )
    env = {**os.environ, "OMNIMETRICS_SECRET": "bench-secret-0123456789abcdef"}
    server = subprocess.Popen(
        [sys.executable, "-m", "omnimetrics.cli", "serve", "--db", str(folder / "w.duckdb"),
         "--config", str(folder / "omnimetrics.toml"), "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def event(number: int, person: int) -> dict:
    """One realistic event: mostly pages and product views, some carts, identifies, orders."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    common = {
        "messageId": uuid.uuid4().hex,
        "anonymousId": f"anon-{person}",
        "timestamp": now,
        "sentAt": now,
        "context": {
            "userAgent": AGENT,
            "ip": "203.0.113.7",
            "library": {"name": "analytics.js", "version": "next-1.70.0"},
            "page": {"url": f"https://shop.example/p/{number % 500}?utm_source=google",
                     "referrer": "https://www.google.com/", "path": f"/p/{number % 500}"},
            "campaign": {"source": "google", "medium": "cpc", "name": "winter_sale"},
        },
    }  # fmt: skip
    roll = number % 100
    if roll < 55:
        return {**common, "type": "page", "name": "Product", "properties": {"title": "Shoes"}}
    if roll < 85:
        props = {"product_id": f"sku-{number % 900}", "price": 59.9, "currency": "EUR"}
        return {**common, "type": "track", "event": "Product Viewed", "properties": props}
    if roll < 95:
        props = {"product_id": f"sku-{number % 900}", "quantity": 1}
        return {**common, "type": "track", "event": "Product Added", "properties": props}
    if roll < 98:
        traits = {"email": f"person{person}@example.com"}
        return {**common, "type": "identify", "userId": f"C{person}", "traits": traits}
    props = {"order_id": f"W-{uuid.uuid4().hex[:10]}", "total": 89.5, "currency": "EUR",
             "products": [{"product_id": "sku-1", "quantity": 2}]}  # fmt: skip
    return {**common, "type": "track", "event": "Order Completed", "userId": f"C{person}",
            "properties": props}  # fmt: skip


def templates(count: int, size: int) -> list[bytes]:
    """Batch bodies whose messageIds start with a placeholder, made once: a sender swaps in a
    fresh prefix per request (one bytes.replace), so making events costs the client little."""
    rng = random.Random(7)
    out = []
    for b in range(count):
        batch = [event(b * size + i, rng.randrange(50_000)) for i in range(size)]
        for number, item in enumerate(batch):
            item["messageId"] = f"{PLACEHOLDER}-{number:04d}"
        out.append(json.dumps({"batch": batch}).encode())
    return out


PLACEHOLDER = "XXXXXXXXXXXXXXXX"


async def send(client: httpx.AsyncClient, body: bytes, state: dict, resend: bool,
               scheduled: float) -> None:  # fmt: skip
    auth = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode(),
            "Content-Type": "application/json"}  # fmt: skip
    for attempt in range(3):  # a connection closed under the client is retried, as libraries do
        try:
            response = await client.post("/v1/batch", content=body, headers=auth)
            break
        except httpx.TransportError:
            state["transport_retries"] += 1
            if attempt == 2:
                raise
    elapsed = time.perf_counter() - scheduled  # from when it was due: no coordinated omission
    if response.status_code != 200:
        state["refused"][response.status_code] = state["refused"].get(response.status_code, 0) + 1
        return
    outcome = response.json()
    state["latencies"].append(elapsed)
    state["acked"] += outcome["received"]
    state["duplicates"] += outcome["duplicates"]
    if resend:
        state["resent"] += outcome["received"]
    else:
        state["bodies"].append(body)
        state["accepted"] += outcome["accepted"]


async def load(port: int, args) -> dict:
    """Requests due at a steady rate (open loop), each sent when due whatever the others do."""
    state = {"latencies": [], "acked": 0, "accepted": 0, "duplicates": 0, "resent": 0,
             "bodies": [], "refused": {}, "transport_retries": 0}  # fmt: skip
    bodies = templates(50, args.batch)
    rng = random.Random(11)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    every = args.batch / args.rate
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                 timeout=60) as client:  # fmt: skip
        started = time.perf_counter()
        tasks, number = [], 0
        while (due := started + number * every) < started + args.seconds:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            resend = bool(state["bodies"]) and rng.random() < args.resend
            if resend:
                body = rng.choice(state["bodies"])
            else:
                prefix = uuid.uuid4().hex[:16].encode()
                body = bodies[number % len(bodies)].replace(PLACEHOLDER.encode(), prefix)
            tasks.append(asyncio.create_task(send(client, body, state, resend, due)))
            number += 1
        await asyncio.gather(*tasks)
        state["seconds"] = time.perf_counter() - started
    return state


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stored(folder: Path) -> dict:
    import duckdb

    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    ledger_ids = {r[0] for r in con.execute("SELECT message_id FROM collector_messages").fetchall()}
    touch = con.execute("SELECT count(*), count(DISTINCT message_id) FROM touchpoints").fetchone()
    ledger = con.execute("SELECT count(*), count(DISTINCT message_id) FROM collector_messages")
    return {"ledger_ids": ledger_ids, "touchpoints": touch, "ledger": ledger.fetchone()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5000, help="events per second offered")
    parser.add_argument("--resend", type=float, default=0.02)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omnimetrics-collector-") as tmp:
        folder, port = Path(tmp), free_port()
        server = start_server(folder, port)
        try:
            state = asyncio.run(load(port, args))
            peak, cpu = peak_rss_mb(server.pid), cpu_seconds(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        found = stored(folder)
        lat = sorted(state["latencies"])
        q = statistics.quantiles(lat, n=100, method="inclusive")
        print(json.dumps({
            "seconds": round(state["seconds"], 1),
            "offered_events_per_s": args.rate,
            "requests_acknowledged": len(lat),
            "events_acknowledged": state["acked"],
            "events_per_s": round(state["acked"] / state["seconds"]),
            "ack_ms_p50": round(q[49] * 1000, 1),
            "ack_ms_p95": round(q[94] * 1000, 1),
            "ack_ms_p99": round(q[98] * 1000, 1),
            "refused": state["refused"],
            "transport_retries": state["transport_retries"],
            "resent_events": state["resent"],
            "duplicates_reported": state["duplicates"],
            "server_peak_rss_mb": round(peak),
            "server_cpu_s": round(cpu, 1),
            "new_events_acknowledged": state["accepted"],
            "stored_messages": len(found["ledger_ids"]),
            "acknowledged_not_stored": len({m["messageId"] for b in state["bodies"]
                                            for m in json.loads(b)["batch"]} - found["ledger_ids"]),
            "touchpoint_rows_vs_distinct_ids": list(found["touchpoints"]),
        }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
