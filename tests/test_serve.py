"""`omnimetrics serve` for real: uvicorn on a loopback port, a site's events in, numbers out.

A visitor browses anonymously, signs in (identify), and orders; the server's own refresh runs the
pipeline; the query API then shows one person whose timeline holds the anonymous visit and the
order. Nothing is mocked: the CLI starts the server in its own process.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.helpers import SECRET, cli, serving

WRITE, READ = "site-write-key-0123456789", "bi-read-key-0123456789ab"


@pytest.fixture
def server(tmp_path: Path):
    (tmp_path / "omnimetrics.toml").write_text(
        f'[server]\nwrite_keys = {{ web = "{WRITE}" }}\nread_keys = {{ bi = "{READ}" }}\n'
        'refresh_minutes = 0.02\ncors_origins = ["https://shop.example"]\n'
        "[ui]\nsegment_filters = []\n"  # the refresh runs the pipeline: no segment cuts
    )
    config, log = tmp_path / "omnimetrics.toml", tmp_path / "server.log"
    with serving(tmp_path / "w.duckdb", config, log) as (base, process):
        yield base, process, tmp_path


def _at(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


@pytest.mark.slow  # a real server and its pipeline refresh (CI runs the slow set too)
def test_a_visit_a_sign_in_and_an_order_become_one_journey(server) -> None:
    base, process, folder = server
    basic = {"Authorization": "Basic " + base64.b64encode(f"{WRITE}:".encode()).decode()}
    bearer = {"Authorization": f"Bearer {READ}"}
    campaign = {"source": "newsletter", "medium": "email", "name": "winter"}
    batch = {"batch": [
        {"type": "page", "messageId": "m-1", "anonymousId": "anon-7", "timestamp": _at(30),
         "context": {"campaign": campaign, "page": {"url": "https://shop.example/?utm_source=newsletter"}}},
        {"type": "track", "messageId": "m-2", "anonymousId": "anon-7", "event": "Product Viewed",
         "timestamp": _at(29), "properties": {"sku": "shoe-1"}},
        {"type": "identify", "messageId": "m-3", "anonymousId": "anon-7", "userId": "C-42",
         "timestamp": _at(20), "traits": {"email": "Jane.Doe@example.com"}},
        {"type": "track", "messageId": "m-4", "userId": "C-42", "event": "Order Completed",
         "timestamp": _at(10), "properties": {"order_id": "W-1", "total": 80, "currency": "EUR"}},
    ]}  # fmt: skip
    with httpx.Client(base_url=base, timeout=30) as client:
        sent = client.post("/v1/batch", json=batch, headers=basic)
        assert sent.status_code == 200, sent.text
        assert sent.json()["accepted"] == 4
        again = client.post("/v1/batch", json=batch, headers=basic).json()
        assert (again["accepted"], again["duplicates"]) == (0, 4)
        # The server's refresh (every 1.2 s here) runs the pipeline once events arrived.
        for _ in range(150):
            if client.get("/api/runs", headers=bearer).json()["rows"]:
                break
            time.sleep(0.2)
        else:
            pytest.fail("no run:\n" + (folder / "server.log").read_text())
        timeline = client.get(
            "/api/timeline", params={"identifier": "jane.doe@example.com"}, headers=bearer
        )
        assert timeline.status_code == 200, timeline.text
        rows = timeline.json()["rows"]
        seen = [(r["kind"], r["what"], r["channel"], r["reference"]) for r in rows]
        assert seen == [
            ("touchpoint", "page_view", "email", "web:m-1"),  # anonymous, before signing in
            ("touchpoint", "product_view", None, "web:m-2"),  # inherits its session's channel
            ("order", "completed", "web", "W-1"),
        ], seen
        assert rows[-1]["amount"] == 80
        tables = {
            r["table"]: r["rows"] for r in client.get("/api/tables", headers=bearer).json()["rows"]
        }
        assert (tables["touchpoints"], tables["orders"], tables["collector_messages"]) == (2, 1, 4)
        metrics = client.get("/metrics").text
        assert 'omnimetrics_events_received_total{source="web"} 8' in metrics
        assert 'omnimetrics_events_deduplicated_total{source="web"} 4' in metrics
        preflight = client.options(
            "/v1/batch",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
        assert client.get("/api/tables", headers=basic).status_code == 403
    process.send_signal(signal.SIGTERM)  # uvicorn shuts down, then exits by the same signal
    assert process.wait(timeout=60) in (0, -signal.SIGTERM)
    con = duckdb.connect(str(folder / "w.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM collector_messages").fetchone() == (4,)
    con.close()
    log = (folder / "server.log").read_text()
    assert WRITE not in log and READ not in log and "jane.doe" not in log.lower()


def test_serve_without_keys_says_how_to_make_them(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIMETRICS_")}
    env["OMNIMETRICS_SECRET"] = SECRET.decode()
    done = cli("serve", "--db", "w.duckdb", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "OMNIMETRICS_WRITE_KEY" in done.stderr and "token_urlsafe" in done.stderr


@pytest.mark.parametrize(
    "server, says",
    [
        ({"write_keys": {"web": "short"}}, "at least 16 random characters"),
        ({"write_keys": {"web": "k" * 20}, "read_keys": {"bi": "k" * 20}}, "both a write key"),
        ({"cors_origins": ["*"]}, '"*" is refused'),
        ({"dedup_days": 3}, "at least 7"),
        ({"consent_when_absent": "maybe"}, '"granted" or "refused"'),
        ({"events": {"Video Played": "video_view"}}, "unknown event types ['video_view']"),
        ({"prot": 8000}, "Did you mean 'port'"),
    ],
)
def test_server_settings_refuse_what_would_fail_later(server, says) -> None:
    from omnimetrics.config import Settings
    from omnimetrics.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(says)):
        Settings.from_mapping({"server": server}, environ={})
