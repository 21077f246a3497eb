"""Journeys: sessions, conversion and non-conversion paths, path analysis, ROPO, funnels, timelines.

Everything is an Ibis expression over the warehouse tables; only aggregates (top paths, funnel
counts, distributions) leave the engine. The flow, one module each:

- `events`: touchpoints -> `events`, with person, channel and session (`build_events`);
- `paths`: conversions, the touches of each journey, paths and their analysis;
- `ropo`, `funnels`: cross-channel rates and ordered funnels over events;
- `timeline`: one person's interactions, and coverage across channels.
"""

from omnimetrics.config import JourneySettings
from omnimetrics.journeys.events import JourneyError, build_events
from omnimetrics.journeys.funnels import funnel
from omnimetrics.journeys.paths import (
    SEPARATOR,
    TIME_BUCKETS,
    channel_transitions,
    conversion_paths,
    conversions,
    heard_from_touches,
    journey_exits,
    journey_lengths,
    journey_touches,
    non_conversion_paths,
    non_conversion_touches,
    path_summary,
    promo_touches,
    time_to_convert,
)
from omnimetrics.journeys.ropo import ropo
from omnimetrics.journeys.timeline import coverage, timeline
from omnimetrics.schema import SESSION_EVENTS

__all__ = [
    "SEPARATOR",
    "SESSION_EVENTS",
    "TIME_BUCKETS",
    "JourneyError",
    "JourneySettings",
    "build_events",
    "channel_transitions",
    "conversion_paths",
    "conversions",
    "coverage",
    "funnel",
    "heard_from_touches",
    "journey_exits",
    "journey_lengths",
    "journey_touches",
    "non_conversion_paths",
    "non_conversion_touches",
    "path_summary",
    "promo_touches",
    "ropo",
    "time_to_convert",
    "timeline",
]
