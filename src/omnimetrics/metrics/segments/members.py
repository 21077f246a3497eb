"""Who is in a segment: its members, and the audience to activate (hashed emails and phones of
members who granted marketing consent, never fewer than `min_cell_persons`)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from omnimetrics.config import Settings
from omnimetrics.errors import ConfigError, OmnimetricsError, UnknownNameError, did_you_mean
from omnimetrics.metrics.segments.dimensions import DIMENSIONS
from omnimetrics.metrics.segments.profiles import person_segments
from omnimetrics.metrics.segments.user import user_segments
from omnimetrics.schema import ACTIVATION_TABLE

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


class AudienceError(OmnimetricsError, ValueError):
    """An audience cannot be shared (too few persons: it would single people out)."""


def _segment_filter(
    persons: ir.Table, settings: Settings, name: str, value: str | float | None
) -> ir.Table:
    """The persons of `persons` in segment `name` (a user segment) or `name` = `value`."""
    users = user_segments(settings)
    if name in users:
        if value is not None:
            raise ConfigError(
                f"{name!r} is a user segment (true or false); call it without a value."
            )
        return persons.filter(persons[name])
    dimension = DIMENSIONS.get(name)
    if dimension is None:
        raise UnknownNameError(
            f"No segment or segment dimension {name!r}. "
            + did_you_mean(name, [*DIMENSIONS, *users])
        )
    if value is None:
        choices = f" one of {list(dimension.values)}" if dimension.values else ""
        raise ConfigError(f"Segment dimension {name!r} needs a value:{choices or ' which one?'}")
    if dimension.kind == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name!r} is a number; got {value!r}.") from None
        return persons.filter(persons[name] == number)
    text = str(value)
    if dimension.values and dimension.closed and text not in dimension.values:
        raise UnknownNameError(
            f"{text!r} is not a value of {name!r}. " + did_you_mean(text, dimension.values)
        )
    return persons.filter(persons[name] == text)


def segment_members(
    wh: Warehouse,
    name: str,
    value: str | float | None = None,
    *,
    as_of: date | None = None,
) -> ir.Table:
    """person_id of the members of a user segment (`young_parisians`) or of a dimension value
    (`rfm_segment`, `champions`)."""
    persons = person_segments(wh, as_of=as_of)
    return _segment_filter(persons, wh.settings, name, value).select("person_id")


ACTIVATION_REMEDY = (
    "Set `[privacy] activation_hashes = true` in omnimetrics.toml and ingest again the "
    "sources that carry emails or phones (customers, identities, orders...): the door then "
    "keeps the plain SHA-256 that ad platforms match on (raw emails are never stored, so it "
    "cannot be computed afterwards)."
)
PHONE_FORMATS = {"e164": "sha256", "digits": "sha256_digits"}
"""Phone hash forms: E.164 with "+" (Google Customer Match) or its digits alone (Meta)."""


def audience(
    wh: Warehouse,
    segment: str,
    value: str | float | None = None,
    *,
    phone_format: Literal["e164", "digits"] = "e164",
    as_of: date | None = None,
) -> pa.Table:
    """The hashed emails and phones of a segment's persons who granted marketing consent, in
    the SHA-256 form ad platforms match on: identifier_type, sha256 (one row per identifier).

    Unknown consent is no consent. Refused below `min_cell_persons` persons. Needs activation
    hashes captured at ingest (`[privacy] activation_hashes = true`).
    """
    settings = wh.settings
    if phone_format not in PHONE_FORMATS:
        raise ConfigError(
            f"phone_format must be one of {list(PHONE_FORMATS)}; got {phone_format!r}."
        )
    _require_activation_hashes(wh)
    persons = person_segments(wh, as_of=as_of)
    members = _segment_filter(persons, settings, segment, value)
    members = members.filter(members.consent_marketing == "granted").select("person_id")
    graph = wh.table("identity_graph")
    ids = graph.filter(graph.identifier_type.isin(("email", "phone")))
    ids = ids.semi_join(members, "person_id")
    hashes = wh.table(ACTIVATION_TABLE)
    joined = ids.join(
        hashes,
        [ids.identifier_type == hashes.identifier_type, ids.identifier == hashes.identifier],
    )
    sha256 = hashes.sha256
    if phone_format == "digits":
        sha256 = ibis.cases((ids.identifier_type == "phone", hashes.sha256_digits), else_=sha256)
    rows = joined.select(ids.person_id, ids.identifier_type, sha256=sha256)
    rows = rows.filter(rows.sha256.notnull())
    table = wh.to_arrow(rows)
    count = pc.count_distinct(table["person_id"]).as_py() if table.num_rows else 0
    label = segment if value is None else f"{segment}={value}"
    if count < settings.min_cell_persons:
        raise AudienceError(
            f"The audience {label} has {count} person(s) with marketing consent and a hashed "
            f"email or phone, fewer than min_cell_persons = {settings.min_cell_persons}: a list "
            "this small can single people out, so it is not exported. Choose a broader segment "
            "(the threshold is [metrics] min_cell_persons in omnimetrics.toml)."
        )
    return table.select(["identifier_type", "sha256"]).sort_by(
        [("identifier_type", "ascending"), ("sha256", "ascending")]
    )


def _require_activation_hashes(wh: Warehouse) -> None:
    """Refuse an audience when activation hashes are off or none was captured yet."""
    if not wh.settings.activation_hashes:
        raise ConfigError("Audiences need activation hashes, which are off. " + ACTIVATION_REMEDY)
    if ACTIVATION_TABLE not in wh.tables():
        raise ConfigError("No activation hash has been captured yet. " + ACTIVATION_REMEDY)
