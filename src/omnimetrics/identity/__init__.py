"""Identity resolution: one person per connected component of the identifier graph.

- `links`: the graph's nodes ("type:value") and links, from the `identities` table and from
  identifiers on the same row of an event table; placeholders never link;
- `components`: connected components in the engine, and the split of over-limit ones;
- `resolution`: `resolve`, which writes `identity_graph`, its conflicts and exclusions;
- `persons`: the person of a row or an identifier, and the identifiers of a person.
"""

from omnimetrics.identity.components import MAX_ITERATIONS, PRIORITY
from omnimetrics.identity.links import (
    ID_COLUMNS,
    LINK_SOURCES,
    PERSON_LEVEL,
    PLACEHOLDERS,
    TYPE_OF_COLUMN,
    IdentityError,
    all_links,
    explained_links,
    explicit_links,
    node,
    row_links,
)
from omnimetrics.identity.persons import (
    find_person,
    identified_rows,
    identifiers_of,
    match_rates,
    person_of_rows,
    rows_carrying,
)
from omnimetrics.identity.resolution import (
    DEFAULT_MAX_LINKS,
    MAX_PER_PERSON,
    IdentityReport,
    pair_scores,
    resolve,
)

__all__ = [
    "DEFAULT_MAX_LINKS",
    "ID_COLUMNS",
    "LINK_SOURCES",
    "MAX_ITERATIONS",
    "MAX_PER_PERSON",
    "PERSON_LEVEL",
    "PLACEHOLDERS",
    "PRIORITY",
    "TYPE_OF_COLUMN",
    "IdentityError",
    "IdentityReport",
    "all_links",
    "explained_links",
    "explicit_links",
    "find_person",
    "identified_rows",
    "identifiers_of",
    "match_rates",
    "node",
    "pair_scores",
    "person_of_rows",
    "resolve",
    "row_links",
    "rows_carrying",
]
