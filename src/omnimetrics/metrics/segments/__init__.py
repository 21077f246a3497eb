"""Segments: who each person is (age, place, RFM, channel mix, consent), the user's own segments
from omnimetrics.toml, the segments that respond most to a campaign, and audiences to activate.

- `dimensions`: the registry of segment columns and the RFM grid;
- `user`: `[[segments]]` of the settings, in the filter language of `metrics.filters`;
- `profiles`: `person_segments`, one Ibis expression run by the engine;
- `members`: a segment's members and its audience; `responsive`: the most responsive segments.

Definitions, the RFM grid and their sources: docs/segments.md.
"""

from omnimetrics.metrics.filters import GRAMMAR, MAX_FILTER_LENGTH, Predicate
from omnimetrics.metrics.segments.dimensions import (
    AGE_BANDS,
    CHANNEL_MIXES,
    CONSENT_STATUSES,
    CUSTOMER_TYPES,
    DIMENSIONS,
    PROSPECT,
    RFM_GRID,
    UNKNOWN,
    Dimension,
    RfmCell,
    rfm_segment_of,
)
from omnimetrics.metrics.segments.members import (
    PHONE_FORMATS,
    AudienceError,
    audience,
    segment_members,
)
from omnimetrics.metrics.segments.profiles import (
    NEW_PERIOD_DAYS,
    age_band,
    latest_day,
    person_segments,
    quintile_score,
)
from omnimetrics.metrics.segments.responsive import most_responsive
from omnimetrics.metrics.segments.user import (
    UserSegment,
    compile_filter,
    describe_segments,
    user_segments,
)

__all__ = [
    "AGE_BANDS",
    "CHANNEL_MIXES",
    "CONSENT_STATUSES",
    "CUSTOMER_TYPES",
    "DIMENSIONS",
    "GRAMMAR",
    "MAX_FILTER_LENGTH",
    "NEW_PERIOD_DAYS",
    "PHONE_FORMATS",
    "PROSPECT",
    "RFM_GRID",
    "UNKNOWN",
    "AudienceError",
    "Dimension",
    "Predicate",
    "RfmCell",
    "UserSegment",
    "age_band",
    "audience",
    "compile_filter",
    "describe_segments",
    "latest_day",
    "most_responsive",
    "person_segments",
    "quintile_score",
    "rfm_segment_of",
    "segment_members",
    "user_segments",
]
