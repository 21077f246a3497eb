"""The query API: every number of the Workspace over HTTP, as JSON (read key)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from omnimetrics.service.keys import read_access

router = APIRouter(prefix="/api", tags=["query"], dependencies=[Depends(read_access)])
