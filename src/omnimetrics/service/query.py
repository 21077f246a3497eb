"""The query API: every number of the Workspace over HTTP, as JSON (read key).

Each route parses its parameters, calls one `Workspace` method under the app's read lock (the
DuckDB connection serves one reader at a time) and returns the `Result` as JSON: the same numbers
as the CLI and the Python API. `channel`, `campaign` and `segment` keep only the rows of the main
table that match (`Result.where`); a bad question is a 422 with the Workspace's own message.

    curl -H "Authorization: Bearer $OMNIMETRICS_READ_KEY" \\
        "http://127.0.0.1:8321/api/kpis?kpi=revenue&kpi=orders&grain=week&by=channel"
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from omnimetrics.errors import UnknownNameError
from omnimetrics.metrics.facts import GRAINS
from omnimetrics.results import Result
from omnimetrics.service.keys import read_access
from omnimetrics.service.problems import Problem, ProblemBody
from omnimetrics.vocabulary import IDENTIFIER_TYPES
from omnimetrics.workspace.data import DEFAULT_FUNNEL
from omnimetrics.workspace.measures import DEFAULT_MODELS, MAX_FORECAST

if TYPE_CHECKING:
    from omnimetrics.workspace import Workspace


class ResultBody(BaseModel):
    """A `Result` as JSON: the main table's rows, further tables as parts, single figures, notes."""

    name: str
    title: str
    rows: list[dict[str, Any]]
    figures: dict[str, Any]
    notes: list[str]
    parts: list[ResultBody]


def no_nul(request: Request) -> None:
    """A NUL character is never part of a name, an id or a day: refuse it before any SQL."""
    if any("\x00" in value for value in request.query_params.values()):
        raise Problem(422, "invalid_parameter", "A parameter holds a NUL character.",
                      "Remove the %00 from the query string.")  # fmt: skip


router = APIRouter(
    prefix="/api",
    tags=["query"],
    dependencies=[Depends(read_access), Depends(no_nul)],
    responses={
        401: {"model": ProblemBody, "description": "No read key, or a key not configured."},
        403: {"model": ProblemBody, "description": "A write key: it cannot read."},
        422: {"model": ProblemBody, "description": "A bad question, in the Workspace's words."},
        429: {"model": ProblemBody, "description": "The key is over its rate."},
    },
)

Grain = Literal[tuple(GRAINS)]  # type: ignore[valid-type]
IdentifierType = Literal[IDENTIFIER_TYPES]  # type: ignore[valid-type]


# -- answering -----------------------------------------------------------------------------------
@contextmanager
def reading(request: Request) -> Iterator[Workspace]:
    """The app's Workspace, held for one reader at a time (the connection is not thread-safe)."""
    with request.app.state.read_lock:
        yield request.app.state.workspace


def as_json(result: Result) -> dict[str, Any]:
    """A result as JSON-ready data: NaN and infinities become null, days and times ISO text,
    durations seconds, decimals numbers."""
    return _plain(result.to_dict())


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return _plain(float(value))
    if isinstance(value, date | time):  # datetimes too
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return str(value)


def answer(result: Result, equals: dict[str, str] | None = None) -> JSONResponse:
    """The result as JSON, with only the rows matching the filters."""
    if equals:
        try:
            result = result.where(**equals)
        except UnknownNameError as exc:
            fix = (
                "Drop the filter, or ask for that column (e.g. by=channel) where the route "
                "has a `by` parameter."
            )
            raise Problem(422, "unknown_filter_column", str(exc), fix) from None
    return JSONResponse(as_json(result))


def segment_filter(
    segment: Annotated[
        str | None,
        Query(
            description="Keep the rows of one segment value, as `name:value`, e.g. "
            "`rfm_segment:champions` (the result needs that column: `by=rfm_segment`).",
            pattern=r"^[^:]+:.+$",
        ),
    ] = None,
) -> dict[str, str]:
    """`segment=name:value` as a column filter."""
    if not segment:
        return {}
    name, _, value = segment.partition(":")
    return {name: value}


def row_filters(
    segment: Annotated[dict[str, str], Depends(segment_filter)],
    channel: Annotated[str | None, Query(description="Keep the rows of this channel.")] = None,
    campaign: Annotated[str | None, Query(description="Keep the rows of this campaign.")] = None,
) -> dict[str, str]:
    """The column filters of a request: channel, campaign and segment."""
    named = {"channel": channel, "campaign": campaign}
    return {**{k: v for k, v in named.items() if v}, **segment}


Filters = Annotated[dict[str, str], Depends(row_filters)]
SegmentFilter = Annotated[dict[str, str], Depends(segment_filter)]
Since = Annotated[date | None, Query(description="First day (YYYY-MM-DD), included.")]
Until = Annotated[date | None, Query(description="Last day (YYYY-MM-DD), included.")]


def _names(values: list[str] | None) -> list[str]:
    """Repeated and comma-separated parameters alike: `kpi=a&kpi=b` or `kpi=a,b`."""
    return [name.strip() for value in values or () for name in value.split(",") if name.strip()]


# -- measures ------------------------------------------------------------------------------------
@router.get("/kpis", response_model=ResultBody)
def kpis(
    request: Request,
    filters: Filters,
    kpi: Annotated[
        list[str] | None, Query(description="KPI names (repeat or comma-separate); all if none.")
    ] = None,
    by: Annotated[
        list[str] | None, Query(description="Dimensions: channel, campaign, a segment...")
    ] = None,
    grain: Annotated[Grain, Query(description="Length of a period.")] = "month",
    since: Since = None,
    until: Until = None,
    forecast: Annotated[
        int, Query(ge=0, le=MAX_FORECAST, description="Periods to forecast (a part).")
    ] = 0,
    alerts: Annotated[bool, Query(description="Add the periods out of range (a part).")] = False,
) -> JSONResponse:
    """KPIs by period and dimension with the change against the previous period; optionally their
    forecast and the periods where they left their expected range."""
    with reading(request) as ws:
        result = ws.kpis(
            _names(kpi) or None, by=_names(by), grain=grain, since=since, until=until,
            forecast=forecast, alerts=alerts,
        )  # fmt: skip
    return answer(result, filters)


@router.get("/attribution", response_model=ResultBody)
def attribution(
    request: Request,
    filters: Filters,
    model: Annotated[
        list[str] | None,
        Query(description=f"Attribution models (default: {', '.join(DEFAULT_MODELS)})."),
    ] = None,
    by: Annotated[list[str] | None, Query(description="channel (default) or campaign.")] = None,
    since: Since = None,
    until: Until = None,
    compare: Annotated[
        bool, Query(description="Add where the models disagree and who opens or closes.")
    ] = False,
) -> JSONResponse:
    """Credit of each channel (or campaign) under each model; `compare` adds the comparison."""
    with reading(request) as ws:
        result = ws.attribution(
            _names(model) or DEFAULT_MODELS, by=_names(by) or ("channel",), since=since,
            until=until, compare=compare,
        )  # fmt: skip
    return answer(result, filters)


@router.get("/influence", response_model=ResultBody)
def influence(
    request: Request,
    filters: Filters,
    model: Annotated[str, Query(description="Attribution model.")] = "linear",
    by: Annotated[str, Query(description="channel or campaign.")] = "channel",
) -> JSONResponse:
    """Credit each touch channel earns on the sales of each sales channel (online behind store
    sales, and the reverse)."""
    with reading(request) as ws:
        result = ws.influence(model, by=by)
    return answer(result, filters)


@router.get("/segments", response_model=ResultBody)
def segments(
    request: Request,
    segment: SegmentFilter,
    by: Annotated[str, Query(description="Segment to count persons by.")] = "rfm_segment",
    campaign: Annotated[
        str | None, Query(description="The segments most responsive to this campaign instead.")
    ] = None,
) -> JSONResponse:
    """Persons per value of a segment, or the segments most responsive to a campaign
    (observational, not causal)."""
    with reading(request) as ws:
        result = ws.segments(by, campaign=campaign)
    return answer(result, segment)


@router.get("/goals", response_model=ResultBody)
def goals(
    request: Request,
    grain: Annotated[Grain, Query(description="Length of a period.")] = "month",
    today: Annotated[
        date | None, Query(description="The day to judge from (default today).")
    ] = None,
) -> JSONResponse:
    """The SMART goals of [[goals]]: progress, projection and chance of success."""
    with reading(request) as ws:
        result = ws.goals(grain=grain, today=today)
    return answer(result)


@router.get("/maturity", response_model=ResultBody)
def maturity(
    request: Request,
    as_of: Annotated[date | None, Query(description="Judge the data up to this day.")] = None,
    compare: Annotated[date | None, Query(description="Add the progress since this day.")] = None,
) -> JSONResponse:
    """Omnichannel maturity from the data: a 0-100 score, levels per dimension, advice, and which
    models the data supports."""
    with reading(request) as ws:
        result = ws.maturity(as_of=as_of, compare=compare)
    return answer(result)


# -- journeys and customers ----------------------------------------------------------------------
@router.get("/journeys", response_model=ResultBody)
def journeys(
    request: Request,
    top: Annotated[int, Query(ge=1, le=10_000_000, description="Conversion paths to show.")] = 15,
    funnel: Annotated[
        list[str] | None,
        Query(description=f"Funnel steps, event types (default: {', '.join(DEFAULT_FUNNEL)})."),
    ] = None,
    by: Annotated[str | None, Query(description="Cut the funnel by a column or segment.")] = None,
) -> JSONResponse:
    """Top conversion paths; parts: ROPO, channel transitions, funnel, exits, lengths and time
    to convert. Journeys are built first if no run built them yet."""
    with reading(request) as ws:
        built = "events" in ws.warehouse.tables()
        result = ws.journeys(
            top=top, funnel=_names(funnel) or DEFAULT_FUNNEL, by=by, build=not built
        )
    return answer(result)


@router.get("/timeline", response_model=ResultBody, responses={404: {"model": ProblemBody}})
def timeline(
    request: Request,
    identifier: Annotated[
        str, Query(min_length=1, description="Email, phone, customer id, loyalty card, cookie...")
    ],
    identifier_type: Annotated[
        IdentifierType | None, Query(description="Its type (default: try each).")
    ] = None,
) -> JSONResponse:
    """Every interaction of one person on every channel, in order (emails and phones are matched
    by their keyed hash, as at ingest)."""
    try:
        with reading(request) as ws:
            result = ws.timeline(identifier, identifier_type)
    except UnknownNameError as exc:
        fix = "Check the identifier and its type; new data is linked to persons by a run."
        raise Problem(404, "unknown_person", str(exc), fix) from None
    return answer(result)


@router.get("/channels", response_model=ResultBody)
def channels(request: Request, filters: Filters) -> JSONResponse:
    """Touchpoints by channel; part `unassigned`: the sources no channel rule matched."""
    with reading(request) as ws:
        result = ws.channels()
    return answer(result, filters)


# -- the warehouse -------------------------------------------------------------------------------
@router.get("/tables", response_model=ResultBody)
def tables(request: Request) -> JSONResponse:
    """The warehouse tables and their row counts."""
    with reading(request) as ws:
        result = ws.tables()
    return answer(result)


@router.get("/quarantine", response_model=ResultBody)
def quarantine(
    request: Request,
    table: Annotated[
        str | None, Query(description="Only the rows rejected from this table.")
    ] = None,
    reason: Annotated[str | None, Query(description="Only this reason code.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Rows at most.")] = 50,
) -> JSONResponse:
    """Rejected rows: file, row, column, reason, message and the raw record (figure `rows`:
    how many match, beyond the limit too)."""
    with reading(request) as ws:
        result = ws.quarantine(table=table, reason=reason, limit=limit)
    return answer(result)


@router.get("/runs", response_model=ResultBody)
def runs(request: Request) -> JSONResponse:
    """The record of every pipeline run, latest first."""
    with reading(request) as ws:
        result = ws.runs()
    return answer(result)


@router.get("/quality", response_model=ResultBody)
def quality(request: Request) -> JSONResponse:
    """Data quality: rows and latest time per table (freshness); parts: the ingest ledger by
    table, quarantined rows by reason; figures: shares of orders linked to a known person."""
    with reading(request) as ws:
        result = ws.quality()
    return answer(result)
