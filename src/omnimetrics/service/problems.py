"""Every refusal of the service as a JSON body: what is wrong, and how to fix it.

    {"status": 413, "code": "batch_too_large", "message": "...", "fix": "..."}

Routes raise `Problem`; the app turns it (and FastAPI's own validation errors, and any
`OmnimetricsError` a Workspace method raises on a bad question) into that body, never a traceback.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from omnimetrics.errors import OmnimetricsError, UnknownNameError


class ProblemBody(BaseModel):
    """A refusal: what is wrong and how to fix it (the schema of every error body)."""

    status: int
    code: str
    message: str
    fix: str


class Problem(Exception):
    """An HTTP refusal with its code, message, fix and headers (Retry-After...)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fix: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fix = status, code, message, fix
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "message": self.message, "fix": self.fix}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


async def on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return exc.response()


async def on_invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's parameter validation (a query parameter of the wrong type) as a 422 problem."""
    assert isinstance(exc, RequestValidationError)
    where = [
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    ]
    fix = "Correct the parameters; /openapi.json describes each one."
    return Problem(422, "invalid_parameter", "; ".join(where), fix).response()


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals (no such route, method not allowed) in the same body."""
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    fix = "See /openapi.json (or /docs) for the routes and their methods."
    problem = Problem(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail),
                      fix, dict(exc.headers or {}))  # fmt: skip
    return problem.response()


async def on_omnimetrics_error(request: Request, exc: Exception) -> JSONResponse:
    """A question the Workspace refuses (unknown KPI, period outside the data) is a 422."""
    assert isinstance(exc, OmnimetricsError)
    fix = "Change the question as the message says; /openapi.json lists the parameters."
    code = "unknown_name" if isinstance(exc, UnknownNameError) else "invalid_question"
    return Problem(422, code, str(exc), fix).response()
