"""The user's own segments: `[[segments]]` of omnimetrics.toml, each a name and a filter over
`person_segments` written in the filter language (`metrics.filters`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from omnimetrics.config import Settings
from omnimetrics.errors import ConfigError, did_you_mean
from omnimetrics.metrics import filters
from omnimetrics.metrics.filters import Predicate
from omnimetrics.metrics.segments.dimensions import DIMENSIONS, Dimension


def compile_filter(
    where: str, *, segment: str, dimensions: Mapping[str, Dimension] | None = None
) -> Predicate:
    """A user segment's `where` as a predicate over `person_segments` (never evaluated as Python:
    parsed with `ast`, and only comparisons, in, and/or/not, columns and literals accepted)."""
    columns = DIMENSIONS if dimensions is None else dimensions
    return filters.compile_filter(where, segment=segment, dimensions=columns)


@dataclass(frozen=True)
class UserSegment:
    """A segment of omnimetrics.toml: a name and a filter over `person_segments`."""

    name: str
    where: str
    doc: str
    test: Predicate


_SEGMENT_KEYS = ("name", "where", "doc")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def user_segments(settings: Settings) -> dict[str, UserSegment]:
    """The `[[segments]]` of the settings, each filter checked now (errors name the segment)."""
    found: dict[str, UserSegment] = {}
    for number, entry in enumerate(settings.segments, start=1):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"[[segments]] entry {number} must be a table with name and where.")
        for key in entry:
            if key not in _SEGMENT_KEYS:
                raise ConfigError(
                    f"[[segments]] entry {number}: unknown key {key!r}. "
                    + did_you_mean(key, _SEGMENT_KEYS)
                )
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(
                f"[[segments]] entry {number}: `name` must be a word of letters, digits and _ "
                f"(it becomes a column); got {name!r}."
            )
        if name in DIMENSIONS or name == "person_id":
            raise ConfigError(
                f"Segment {name!r} in omnimetrics.toml: the name is a built-in column; "
                "choose another."
            )
        if name in found:
            raise ConfigError(f"Segment {name!r} is defined twice in omnimetrics.toml.")
        where = entry.get("where")
        if not isinstance(where, str):
            raise ConfigError(
                f"Segment {name!r} in omnimetrics.toml needs `where`, a filter in quotes, e.g. "
                "where = \"city == 'Paris'\"."
            )
        test = compile_filter(where, segment=name)
        found[name] = UserSegment(name, where, str(entry.get("doc", "")), test)
    return found


def describe_segments(settings: Settings) -> pa.Table:
    """Every segment name: built-in dimensions and user segments, with their doc and values."""
    users = user_segments(settings)
    rows = [
        ("dimension", d.name, d.doc, ", ".join(d.values) if d.values else f"({d.kind})")
        for d in DIMENSIONS.values()
    ] + [("user", u.name, u.doc or u.where, "true, false") for u in users.values()]
    kinds, names, docs, values = (list(column) for column in zip(*rows, strict=True))
    return pa.table({"kind": kinds, "name": names, "doc": docs, "values": values})
