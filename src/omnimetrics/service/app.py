"""The HTTP service of one warehouse: the collector (`/v1/...`), the query API (`/api/...`),
`/health` and `/metrics`. Thin: routes check the request and call the `Workspace` (reads) or the
`EventWriter` (collection); numbers and rules live in the library.

    omnimetrics serve                      # the CLI way
    uvicorn is started by `serve`; tests use `create_app(workspace)` with a real server or
    FastAPI's TestClient.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from omnimetrics.errors import OmnimetricsError
from omnimetrics.service import collector, dashboard, query
from omnimetrics.service.keys import Keys
from omnimetrics.service.problems import (
    Problem,
    on_http_error,
    on_invalid_request,
    on_omnimetrics_error,
    on_problem,
)

if TYPE_CHECKING:
    from omnimetrics.ingest.stream import EventWriter
    from omnimetrics.workspace import Workspace

log = logging.getLogger("omnimetrics.service")


def create_app(workspace: Workspace, *, collect: bool = True) -> FastAPI:
    """The service of `workspace`'s warehouse (`collect=False`: the query API only)."""
    from omnimetrics.ingest.stream import EventWriter

    settings = workspace.settings.server
    writer = EventWriter(workspace.warehouse) if collect else None

    refresher = Refresher(workspace, writer) if writer and settings.refresh_minutes > 0 else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if writer is not None:
            writer.start()
        if refresher is not None:
            refresher.start()
        try:
            yield
        finally:
            if refresher is not None:
                refresher.stop()
            if writer is not None:
                writer.stop()

    app = FastAPI(
        title="omnimetrics",
        summary="Collect Segment-style events into the warehouse; read every number back.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.workspace = workspace
    app.state.writer = writer
    app.state.keys = Keys(settings)
    app.state.read_lock = threading.Lock()
    """The Workspace's connection serves one reader at a time; the writer has its own."""
    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
    app.add_exception_handler(OmnimetricsError, on_omnimetrics_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    if writer is not None:
        app.include_router(collector.router)
        collector.add_cors(app, settings.cors_origins)
    app.include_router(query.router)
    app.include_router(dashboard.router)

    @app.get("/health", tags=["service"])
    def health() -> JSONResponse:
        """Up, and whether the writer is running (no key needed, nothing private)."""
        running = writer is None or writer.running
        body = {"status": "ok" if running else "writer stopped", "collecting": writer is not None}
        return JSONResponse(body, status_code=200 if running else 503)

    @app.get("/metrics", tags=["service"], response_class=PlainTextResponse)
    def metrics(request: Request) -> PlainTextResponse:
        """Counters since start, in the Prometheus text format: events received, accepted,
        quarantined, deduplicated, suppressed; requests refused by status."""
        text = writer.counters.prometheus() if writer is not None else ""
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return app


class Refresher:
    """Runs the pipeline every `[server] refresh_minutes` when events were accepted since the
    last run, on a connection of its own (the query API keeps answering meanwhile)."""

    def __init__(self, workspace: Workspace, writer: EventWriter) -> None:
        from omnimetrics.workspace import Workspace

        self.writer, self.every = writer, workspace.settings.server.refresh_minutes * 60
        self.workspace = Workspace(workspace.warehouse.sibling())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="omnimetrics-refresh", daemon=True)
        self.runs = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=600)
        self.workspace.close()

    def _loop(self) -> None:
        seen = 0
        while not self._stop.wait(self.every):
            accepted = self.writer.counters.total("accepted")
            if accepted == seen:
                continue
            try:
                self.workspace.run()
                seen = accepted
                self.runs += 1
            except Exception:  # the next round tries again; the collector is not affected
                log.exception("the pipeline run of the refresh failed")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("omnimetrics")
    except PackageNotFoundError:
        return "0"
