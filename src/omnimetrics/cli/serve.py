"""`omnimetrics serve`: the collector and the query API of one warehouse, over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from omnimetrics.cli.shell import DEFAULT_DB, Config, Db, app, console, open_workspace
from omnimetrics.errors import ConfigError


@app.command()
def serve(
    db: Db = DEFAULT_DB,
    config: Config = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on ([server] host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port ([server] port, default 8321).")] = None,
    collect: Annotated[
        bool, typer.Option("--collect/--no-collect", help="Run the collector (/v1/...).")
    ] = True,
) -> None:
    """Serve the warehouse: Segment-compatible collector at /v1/..., query API at /api/...,
    /health, /metrics and the API description at /docs and /openapi.json.

    Keys come from [server] write_keys / read_keys in omnimetrics.toml, or the environment
    variables OMNIMETRICS_WRITE_KEY and OMNIMETRICS_READ_KEY.
    """
    import uvicorn

    from omnimetrics.service import create_app

    ws = open_workspace(db, config, create=collect)
    server = ws.settings.server
    if not server.write_keys and not server.read_keys:
        raise ConfigError(
            "No keys: set OMNIMETRICS_WRITE_KEY (collect) and OMNIMETRICS_READ_KEY (query), or "
            "[server] write_keys / read_keys in omnimetrics.toml. Make each one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe())'"
        )
    collect = collect and bool(server.write_keys)
    address, number = host or server.host, port or server.port
    out = console()
    sources = ", ".join(sorted(server.write_keys)) or "none (no write key: not collecting)"
    out.print(f"omnimetrics serving {Path(db).name if db != 'spark' else db} on "
              f"http://{address}:{number}  (sources: {sources})", markup=False)  # fmt: skip
    if not server.read_keys:
        out.print("No read key: the query API refuses every request.", markup=False)
    # Libraries keep their connection between batches: idle ones stay open 75 s (as behind most
    # load balancers), not uvicorn's 5 s, which races with a client reusing one.
    uvicorn.run(create_app(ws, collect=collect), host=address, port=number, log_level="warning",
                access_log=False, timeout_keep_alive=75)  # fmt: skip
