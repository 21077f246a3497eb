"""`omnimetrics init`: a project folder with a commented omnimetrics.toml and a private secret."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from omnimetrics.errors import ConfigError

SECRET_FILE = ".omnimetrics-secret"

TEMPLATE = """\
# omnimetrics settings. Every section is optional; the values shown are the defaults.
# Documentation: docs/ (ingest.md, identity-and-journeys.md, attribution.md, metrics.md).

[privacy]
# The key that pseudonymises emails and phones (HMAC-SHA256). OMNIMETRICS_SECRET wins when set.
{secret_line}
phone_country_code = "33"            # for phones written in national form (06 12 34 56 78)
# Also keep the plain SHA-256 of emails and phones, the form ad platforms match audiences on
# (`omnimetrics audience`). Weaker than the keyed hash: on only if you activate audiences.
activation_hashes = {activation}

[ingest]
timezone = "UTC"                     # of timestamps written without offset, e.g. "Europe/Paris"
future_tolerance_hours = 24          # later timestamps are quarantined (clock errors)
# source_priority = ["pos", "web_shop", "app", "call_centre", "marketplace", "crm", "ads"]

[engine]
memory_limit = "1GB"                 # DuckDB cap: more is faster, less keeps peaks lower
# spark_warehouse = "spark-warehouse" # --db spark: tables and their catalog, kept here

[journeys]                           # the same journeys for paths, attribution, KPIs, segments
lookback_days = 30                   # touches up to this many days before an order
session_timeout_minutes = 30         # inactivity that ends a web/app session
since_previous_conversion = true     # a journey starts after the previous order
consent_purpose = "analytics"        # leave out persons who refused it ("none": no filter)

[metrics]
min_cell_persons = 10                # shared outputs hide smaller cells

[server]                             # omnimetrics serve: collector /v1, query API /api
# Keys of 16+ random characters (or $OMNIMETRICS_WRITE_KEY / $OMNIMETRICS_READ_KEY):
# write_keys = {{ web = "..." }}      # source -> key: may send events
# read_keys = {{ dashboard = "..." }} # name -> key: may read the numbers
# cors_origins = ["https://shop.example"]   # sites allowed to send from a browser
port = 8321
dedup_days = 30                      # a messageId seen within this many days is a duplicate
consent_categories = ["analytics"]   # context.consent.categoryPreferences needed to measure
refresh_minutes = 15                 # run the pipeline this often while events arrive

[ui]
language = "en"                      # words of the dashboard and the report: "en" or "fr"

# Your column names -> ours, per table:
# [columns.orders]
# OrderID = "order_id"

# Channel rules tried before the GA4-style defaults:
# [[channels.rules]]
# channel = "paid_social"
# source = {{ in = ["meta", "fb"] }}
# medium = {{ matches = "^paid" }}

# SMART goals (omnimetrics goals):
# [[goals]]
# name = "retention +5% in 6 months"
# kpi = "retention_rate"
# target_change = 0.05
# start = 2026-01-01
# deadline = 2026-06-30

# Your own attribution rule (omnimetrics attribution --models u_30_50):
# [[attribution.models]]
# name = "u_30_50"
# kind = "position_based"
# first = 0.3
# last = 0.5
"""


@dataclass(frozen=True)
class InitReport:
    """What `init` wrote: the settings file, and the secret file unless the environment has one."""

    config: Path
    secret: Path | None


def init_project(
    folder: str | Path = ".",
    *,
    activation_hashes: bool = False,
    environ: dict[str, str] | None = None,
) -> InitReport:
    """Write `omnimetrics.toml` (and, unless OMNIMETRICS_SECRET is set, an owner-only secret)."""
    environ = dict(os.environ) if environ is None else environ
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "omnimetrics.toml"
    if config.exists():
        raise ConfigError(f"{config} exists already; edit it, or init another folder.")
    secret_path = None
    if environ.get("OMNIMETRICS_SECRET"):
        line = 'secret_env = "OMNIMETRICS_SECRET"   # set in the environment'
    else:
        secret_path = folder / SECRET_FILE
        if secret_path.exists():
            raise ConfigError(
                f"{secret_path} exists already: it may be the key of an existing warehouse. "
                "Keep it, and write omnimetrics.toml by hand (see docs/)."
            )
        descriptor = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(secrets.token_hex(32) + "\n")
        line = f'secret_file = "{SECRET_FILE}"   # keep it, and keep it out of shared copies'
    text = TEMPLATE.format(secret_line=line, activation=str(activation_hashes).lower())
    config.write_text(text, encoding="utf-8")
    return InitReport(config, secret_path)
