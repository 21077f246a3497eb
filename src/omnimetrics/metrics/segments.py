"""Segments: who each person is (age, place, RFM, channel mix, consent), the user's own segments
from omnimetrics.toml, the segments that respond most to a campaign, and audiences to activate.

Everything per person is one Ibis expression run by the engine; definitions, the RFM grid and
their sources are in docs/segments.md.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from omnimetrics.config import Settings
from omnimetrics.errors import ConfigError, OmnimetricsError, UnknownNameError, did_you_mean
from omnimetrics.journeys import conversions
from omnimetrics.privacy import consenting_persons
from omnimetrics.schema import ACTIVATION_TABLE, ONLINE_SALES

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

__all__ = [
    "AGE_BANDS",
    "DIMENSIONS",
    "NEW_PERIOD_DAYS",
    "RFM_GRID",
    "AudienceError",
    "Dimension",
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

NEW_PERIOD_DAYS = 90
"""Default analysis period of `customer_type`: a first order in the last 90 days is "new"."""

AGE_BANDS = ((18, "under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"),
             (65, "55-64"))  # fmt: skip
"""(upper age bound, exclusive; band); 65 and over is "65+"."""

UNKNOWN = "unknown"
CUSTOMER_TYPES = ("new", "returning", "prospect")
CHANNEL_MIXES = ("omnichannel", "online_only", "store_only", "single_channel", "none")
CONSENT_STATUSES = ("granted", "refused", UNKNOWN)


class AudienceError(OmnimetricsError, ValueError):
    """An audience cannot be shared (too few persons: it would single people out)."""


# -- the RFM grid ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RfmCell:
    """A named group of the R x F grid: recency and frequency score ranges (inclusive)."""

    name: str
    recency: tuple[int, int]
    frequency: tuple[int, int]
    doc: str


RFM_GRID = (
    RfmCell("champions", (5, 5), (4, 5), "bought very recently and buy often"),
    RfmCell("loyal", (3, 4), (4, 5), "buy often, fairly recently"),
    RfmCell("potential_loyalist", (4, 5), (2, 3), "recent buyers with a few orders"),
    RfmCell("new", (5, 5), (1, 1), "bought very recently, once or rarely"),
    RfmCell("promising", (4, 4), (1, 1), "bought recently, once or rarely"),
    RfmCell("need_attention", (3, 3), (3, 3), "average recency and frequency"),
    RfmCell("about_to_sleep", (3, 3), (1, 2), "average recency, low frequency"),
    RfmCell("cannot_lose", (1, 2), (5, 5), "bought most often, but long ago"),
    RfmCell("at_risk", (1, 2), (3, 4), "bought often, but long ago"),
    RfmCell("lost", (1, 1), (1, 1), "oldest last order, lowest frequency"),
    RfmCell("hibernating", (1, 2), (1, 2), "old last order, low frequency"),
)
"""First matching cell wins (so `lost` takes R1 F1 before `hibernating`); every one of the 25
(R, F) pairs is matched. Adapted from the common R x F segment grid (docs/segments.md)."""

PROSPECT = "prospect"
"""`rfm_segment` of a person who never ordered."""


def rfm_segment_of(recency: int, frequency: int) -> str:
    """The RFM group of one (R, F) pair of scores 1-5 (the grid, in Python: docs and tests)."""
    for cell in RFM_GRID:
        if (
            cell.recency[0] <= recency <= cell.recency[1]
            and cell.frequency[0] <= frequency <= cell.frequency[1]
        ):
            return cell.name
    raise ValueError(f"RFM scores must lie in 1..5; got R={recency}, F={frequency}.")


def quintile_score(rank: ir.IntegerValue, count: ir.IntegerValue) -> ir.IntegerValue:
    """1 + floor(5 * rank / n): the quintile in which a value's first position falls (rank is
    0-based, ties share the lowest rank, so equal values always share a score)."""
    return (rank * 5 // count + 1).cast(dt.int64)


# -- the registry of dimensions ----------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    """A column of `person_segments`: a way to cut persons."""

    name: str
    doc: str
    kind: Literal["text", "number"] = "text"
    values: tuple[str, ...] = ()
    """The vocabulary, when known (empty for open text such as city)."""
    closed: bool = True
    """Whether a value outside `values` is an error (CRM age bands may be the company's own)."""


DIMENSIONS: dict[str, Dimension] = {}


def _dimension(dimension: Dimension) -> None:
    if dimension.name in DIMENSIONS:
        raise ConfigError(f"Segment dimension {dimension.name!r} is declared twice.")
    DIMENSIONS[dimension.name] = dimension


for _dimension_declared in (
    Dimension("age_band", "CRM age band, else derived from the birth year at as_of",
              values=(*(band for _, band in AGE_BANDS), "65+", UNKNOWN), closed=False),
    Dimension("region", "CRM region (latest CRM record)"),
    Dimension("city", "CRM city (latest CRM record)"),
    Dimension("customer_type", "new, returning or prospect (first order vs the period)",
              values=CUSTOMER_TYPES),
    Dimension("recency_days", "Days from the last order to as_of (null: never ordered)", "number"),
    Dimension("frequency", "Orders up to as_of, cancelled ones excluded", "number"),
    Dimension("monetary", "Revenue less refunds of those orders", "number"),
    Dimension("r_score", "Recency quintile among buyers, 5 = most recent", "number"),
    Dimension("f_score", "Frequency quintile among buyers, 5 = most orders", "number"),
    Dimension("m_score", "Monetary quintile among buyers, 5 = most revenue", "number"),
    Dimension("rfm_segment", "Named group of the R x F grid; prospect when never ordered",
              values=(*(c.name for c in RFM_GRID), PROSPECT)),
    Dimension("channel_mix", "omnichannel, online_only, store_only, single_channel or none",
              values=CHANNEL_MIXES),
    Dimension("consent_marketing", "Marketing consent on the CRM record", values=CONSENT_STATUSES),
    Dimension("consent_analytics", "Analytics consent on the CRM record", values=CONSENT_STATUSES),
):  # fmt: skip
    _dimension(_dimension_declared)
del _dimension_declared


# -- the filter language of user segments ------------------------------------------------------

GRAMMAR = (
    "A segment filter uses column names, quoted text, numbers, ==, !=, <, <=, >, >=, "
    "in (...), not in (...), and, or, not and parentheses, e.g. "
    "\"age_band in ('18-24', '25-34') and city == 'Paris'\"."
)
MAX_FILTER_LENGTH = 2000

_COMPARE: dict[type[ast.cmpop], Callable[[ir.Value, ir.Value], ir.BooleanValue]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_WHAT: dict[type[ast.AST], str] = {
    ast.Call: "a function call",
    ast.Attribute: "an attribute",
    ast.Subscript: "indexing",
    ast.BinOp: "arithmetic",
    ast.Lambda: "a lambda",
    ast.NamedExpr: "an assignment",
    ast.IfExp: "an if-expression",
    ast.JoinedStr: "an f-string",
    ast.Dict: "a dict",
}

Predicate = Callable[[ir.Table], ir.BooleanValue]


@dataclass(frozen=True)
class _Operand:
    """One side of a comparison: a column of the person table, or a text or number literal."""

    kind: Literal["text", "number"]
    column: str | None = None
    value: str | float | None = None

    def expr(self, table: ir.Table) -> ir.Value:
        if self.column is not None:
            return table[self.column]
        return ibis.literal(self.value, dt.string if self.kind == "text" else None)


class _FilterCompiler:
    """Turns the ast of a filter into a predicate over the person table, refusing anything else."""

    def __init__(self, text: str, segment: str, dimensions: Mapping[str, Dimension]) -> None:
        self.text = text
        self.segment = segment
        self.dimensions = dimensions

    def fail(self, problem: str) -> ConfigError:
        columns = sorted(self.dimensions)
        return ConfigError(
            f"Segment {self.segment!r} in omnimetrics.toml ([[segments]]): {problem} "
            f"{GRAMMAR} Columns: {columns}."
        )

    def token(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or type(node).__name__

    def refuse(self, node: ast.AST) -> ConfigError:
        what = _WHAT.get(type(node), "not part of the filter language")
        return self.fail(f"`{self.token(node)}` is not allowed ({what}).")

    def predicate(self, node: ast.AST) -> Predicate:
        if isinstance(node, ast.BoolOp):
            parts = [self.predicate(value) for value in node.values]
            combine = ibis.and_ if isinstance(node.op, ast.And) else ibis.or_
            return lambda t: combine(*(part(t) for part in parts))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.predicate(node.operand)
            return lambda t: ~inner(t)
        if isinstance(node, ast.Compare):
            tests: list[Predicate] = []
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                tests.append(self.comparison(node, left, op, right))
                left = right
            return lambda t: ibis.and_(*(test(t) for test in tests))
        if isinstance(node, ast.Name | ast.Constant):
            raise self.fail(f"`{self.token(node)}` is not a condition; compare it, e.g. "
                            f"`{self.token(node)} == ...`.")  # fmt: skip
        raise self.refuse(node)

    def operand(self, node: ast.AST) -> _Operand:
        if isinstance(node, ast.Name):
            dimension = self.dimensions.get(node.id)
            if dimension is None:
                raise self.fail(
                    f"unknown column {node.id!r}. " + did_you_mean(node.id, self.dimensions)
                )
            return _Operand(dimension.kind, column=node.id)
        negative = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
        literal = node.operand if isinstance(node, ast.UnaryOp) and negative else node
        if isinstance(literal, ast.Constant):
            value = literal.value
            if isinstance(value, str) and not negative:
                return _Operand("text", value=value)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return _Operand("number", value=-value if negative else value)
        raise self.refuse(node)

    def comparison(self, node: ast.AST, left: ast.AST, op: ast.cmpop, right: ast.AST) -> Predicate:
        if isinstance(op, ast.In | ast.NotIn):
            return self.membership(node, left, op, right)
        compare = _COMPARE.get(type(op))
        if compare is None:  # `is`, `is not`
            raise self.fail(f"`{self.token(node)}`: use == or != to compare.")
        a, b = self.operand(left), self.operand(right)
        if a.column is None and b.column is None:
            raise self.fail(f"`{self.token(node)}` compares two constants; name a column.")
        if a.kind != b.kind:
            raise self.fail(
                f"`{self.token(node)}` compares {a.kind} with {b.kind}; "
                "quote text values ('25-34') and leave numbers bare (r_score >= 4)."
            )
        return lambda t: compare(a.expr(t), b.expr(t)).fill_null(False)

    def membership(self, node: ast.AST, left: ast.AST, op: ast.cmpop, right: ast.AST) -> Predicate:
        column = self.operand(left)
        if column.column is None:
            raise self.fail(f"`{self.token(node)}`: the left of `in` must be a column.")
        items = right.elts if isinstance(right, ast.Tuple | ast.List | ast.Set) else [right]
        values = [self.operand(item) for item in items]
        if not values or any(v.column is not None for v in values):
            raise self.fail(f"`{self.token(node)}`: `in` takes a list of values, e.g. ('a', 'b').")
        if any(v.kind != column.kind for v in values):
            raise self.fail(f"`{self.token(node)}`: the values must all be {column.kind}.")
        name = column.column
        literals = [v.value for v in values]
        negate = isinstance(op, ast.NotIn)

        def test(t: ir.Table) -> ir.BooleanValue:
            inside = t[name].isin(literals)
            return (~inside if negate else inside).fill_null(False)

        return test


def compile_filter(
    where: str, *, segment: str, dimensions: Mapping[str, Dimension] | None = None
) -> Predicate:
    """A user segment's `where` as a predicate over `person_segments` (never evaluated as Python:
    parsed with `ast`, and only comparisons, in, and/or/not, columns and literals accepted)."""
    dimensions = DIMENSIONS if dimensions is None else dimensions
    compiler = _FilterCompiler(where, segment, dimensions)
    if not where.strip():
        raise compiler.fail("`where` must be a non-empty text.")
    if len(where) > MAX_FILTER_LENGTH:
        raise compiler.fail(f"`where` is longer than {MAX_FILTER_LENGTH} characters.")
    text = where.strip()
    compiler.text = text
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError) as exc:
        hints = []
        if re.search(r"(?<![=!<>])=(?!=)", text):
            hints.append("compare with == (not =)")
        if "<>" in text:
            hints.append("write != (not <>)")
        if re.search(r"\b(AND|OR|NOT|IN)\b", text):
            hints.append("write and, or, not, in in lower case")
        if '"' not in text and "'" not in text and re.search(r"[=<>]\s*[A-Za-z]", text):
            hints.append("quote text values")
        where_hint = f" ({'; '.join(hints)})" if hints else ""
        offset = getattr(exc, "offset", None)
        at = f" at character {offset}" if offset else ""
        raise compiler.fail(f"cannot read `{text}`{at}{where_hint}.") from None
    return compiler.predicate(tree.body)


# -- user segments from the settings -----------------------------------------------------------


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


# -- the person table --------------------------------------------------------------------------


def _end_of(day: date) -> datetime:
    """The first instant after `day` (UTC): rows strictly before it belong to `day` or earlier."""
    return datetime.combine(day + timedelta(days=1), time.min, UTC)


def latest_day(wh: Warehouse) -> date:
    """The day of the latest order or event (UTC): the default `as_of`; today when empty."""
    days = []
    for name in ("orders", "events"):
        if name in wh.tables():
            latest = wh.table(name).timestamp.max().to_pyarrow().as_py()
            if latest is not None:
                days.append(latest.astimezone(UTC).date())
    return max(days) if days else datetime.now(UTC).date()


def age_band(birth_year: ir.IntegerValue, as_of: date) -> ir.StringValue:
    """The age band of a birth year at `as_of` (age = as_of year - birth year); null if unknown."""
    age = ibis.literal(as_of.year) - birth_year
    return ibis.cases(
        *((age < upper, band) for upper, band in AGE_BANDS),
        (age.notnull(), "65+"),
        else_=ibis.null(dt.string),
    )


def _crm(wh: Warehouse, as_of: date) -> ir.Table:
    """person_id, age_band, region, city (latest CRM record) and consent statuses (any
    refusal of a person's records wins, then any grant; else unknown)."""
    graph = wh.table("identity_graph")
    customers = wh.table("customers")
    ids = graph.filter(graph.identifier_type == "customer_id")
    rows = ids.join(customers, ids.identifier == customers.customer_id).select(
        ids.person_id, customers.customer_id, customers.updated_at, customers.birth_year,
        customers.age_band, customers.city, customers.region, customers.consent_marketing,
        customers.consent_analytics,
    )  # fmt: skip
    latest = ibis.window(
        group_by="person_id", order_by=[rows.updated_at.desc(nulls_first=False), "customer_id"]
    )
    ranked = rows.mutate(_n=ibis.row_number().over(latest))
    attributes = ranked.filter(ranked._n == 0).select(
        "person_id",
        age_band=ibis.coalesce(ranked.age_band, age_band(ranked.birth_year, as_of)),
        region=ranked.region,
        city=ranked.city,
    )

    def flag(condition: ir.BooleanValue) -> ir.IntegerValue:
        return ibis.cases((condition, 1), else_=0).max()

    consents = rows.group_by("person_id").agg(
        **{
            f"_{purpose}_{verdict}": flag(rows[f"consent_{purpose}"] == value)
            for purpose in ("marketing", "analytics")
            for verdict, value in (("refused", False), ("granted", True))
        }
    )
    statuses = consents.select(
        "person_id",
        **{
            f"consent_{purpose}": ibis.cases(
                (consents[f"_{purpose}_refused"] == 1, "refused"),
                (consents[f"_{purpose}_granted"] == 1, "granted"),
                else_=UNKNOWN,
            )
            for purpose in ("marketing", "analytics")
        },
    )
    return attributes.join(statuses, "person_id")


def _rfm(orders: ir.Table, as_of: date, since: date) -> ir.Table:
    """person_id, customer_type, recency_days, frequency, monetary, r/f/m scores, rfm_segment
    of the persons who ordered (orders up to as_of)."""
    net = orders.revenue - orders.returned_amount.fill_null(0.0)
    per = orders.group_by("person_id").agg(
        first_order_at=orders.timestamp.min(),
        last_order_at=orders.timestamp.max(),
        frequency=orders.count(),
        monetary=net.sum(),
    )
    per = per.mutate(
        recency_days=ibis.literal(as_of, dt.date).delta(per.last_order_at.date(), unit="day"),
        customer_type=ibis.cases(
            (per.first_order_at.date() >= ibis.literal(since, dt.date), "new"), else_="returning"
        ),
    )
    buyers = per.count().over(ibis.window())
    scored = per.mutate(
        # Oldest last order first: the most recent buyers take the top quintile.
        r_score=quintile_score(ibis.rank().over(order_by=ibis.desc("recency_days")), buyers),
        f_score=quintile_score(ibis.rank().over(order_by="frequency"), buyers),
        m_score=quintile_score(ibis.rank().over(order_by="monetary"), buyers),
    )
    segment = ibis.cases(
        *(
            (
                scored.r_score.between(*cell.recency) & scored.f_score.between(*cell.frequency),
                cell.name,
            )
            for cell in RFM_GRID
        ),
        else_=ibis.null(dt.string),
    )
    return scored.mutate(rfm_segment=segment).drop("first_order_at", "last_order_at")


def _presence(orders: ir.Table, events: ir.Table | None) -> ir.Table:
    """person_id, channel_mix: where the person bought and interacted (docs/segments.md)."""
    parts = [
        orders.select(
            "person_id",
            online=ibis.cases((orders.sales_channel.isin(ONLINE_SALES), 1), else_=0),
            store=ibis.cases((orders.sales_channel == "store", 1), else_=0),
            sales_channel=orders.sales_channel,
        )
    ]
    if events is not None:
        in_store = (events.event_type == "store_visit") | (events.channel == "store")
        parts.append(
            events.select(
                "person_id",
                online=ibis.cases((events.session_id.notnull(), 1), else_=0),
                store=ibis.cases((in_store.fill_null(False), 1), else_=0),
                sales_channel=ibis.null(dt.string),
            )
        )
    union = ibis.union(*parts) if len(parts) > 1 else parts[0]
    seen = union.group_by("person_id").agg(
        online=union.online.max(),
        store=union.store.max(),
        sales_channels=union.sales_channel.nunique(),
    )
    return seen.select(
        "person_id",
        channel_mix=ibis.cases(
            ((seen.sales_channels >= 2) | ((seen.online == 1) & (seen.store == 1)), "omnichannel"),
            (seen.online == 1, "online_only"),
            (seen.store == 1, "store_only"),
            (seen.sales_channels == 1, "single_channel"),
            else_="none",
        ),
    )


def person_segments(
    wh: Warehouse,
    *,
    as_of: date | None = None,
    since: date | None = None,
    consent_purpose: str | None = "analytics",
) -> ir.Table:
    """One row per person of the identity graph with every built-in segment column, plus one
    true/false column per user segment of omnimetrics.toml.

    as_of: the day the profile is taken (orders and events after it are ignored; default: the
        day of the latest order or event). since: start of the period in which a first order
        makes a customer "new" (default: the 90 days ending at as_of). consent_purpose: persons
        who refused it are left out (None: everyone).
    """
    if "identity_graph" not in wh.tables():
        raise ConfigError(
            "Segments need the identity graph: run `omnimetrics journeys` (or "
            "wh.resolve_identities() and journeys.build_events(wh)) first."
        )
    if "touchpoints" in wh.tables() and "events" not in wh.tables():
        raise ConfigError(
            "Segments need the `events` table to see where persons interacted: run "
            "`omnimetrics journeys` (or journeys.build_events(wh)) first."
        )
    as_of = as_of or latest_day(wh)
    since = since or as_of - timedelta(days=NEW_PERIOD_DAYS - 1)
    if since > as_of:
        raise ConfigError(f"since ({since}) must not be after as_of ({as_of}).")
    users = user_segments(wh.settings)
    end = _end_of(as_of)
    graph = wh.table("identity_graph")
    persons = graph.select("person_id").distinct()
    if consent_purpose:
        persons = persons.semi_join(consenting_persons(wh, consent_purpose), "person_id")

    texts = {"age_band": UNKNOWN, "region": UNKNOWN, "city": UNKNOWN,
             "consent_marketing": UNKNOWN, "consent_analytics": UNKNOWN}  # fmt: skip
    profile = persons
    if "customers" in wh.tables():
        crm = _crm(wh, as_of)
        joined = profile.left_join(crm, "person_id")
        profile = joined.select(profile.person_id, *(joined[c] for c in texts))
    else:
        profile = profile.mutate(**{c: ibis.null(dt.string) for c in texts})

    rfm_columns = ["customer_type", "recency_days", "frequency", "monetary", "r_score",
                   "f_score", "m_score", "rfm_segment"]  # fmt: skip
    events = None
    if "events" in wh.tables():
        events = wh.table("events")
        events = events.filter(events.timestamp < end)
    if "orders" in wh.tables():
        orders = conversions(wh, replace(wh.settings.journeys, consent_purpose=consent_purpose))
        orders = orders.filter(orders.person_id.notnull() & (orders.timestamp < end))
        rfm = _rfm(orders, as_of, since)
        joined = profile.left_join(rfm, "person_id")
        profile = joined.select(*(profile[c] for c in profile.columns),
                                *(joined[c] for c in rfm_columns))  # fmt: skip
        presence = _presence(orders, events)
    else:
        nulls = {c: ibis.null(dt.int64) for c in rfm_columns}
        nulls.update(customer_type=ibis.null(dt.string), rfm_segment=ibis.null(dt.string),
                     monetary=ibis.null(dt.float64))  # fmt: skip
        profile = profile.mutate(**nulls)
        presence = None if events is None else _presence(_no_orders(events), events)
    if presence is not None:
        joined = profile.left_join(presence, "person_id")
        profile = joined.select(*(profile[c] for c in profile.columns), joined.channel_mix)
    else:
        profile = profile.mutate(channel_mix=ibis.null(dt.string))

    filled = profile.mutate(
        **{c: profile[c].fill_null(value) for c, value in texts.items()},
        customer_type=profile.customer_type.fill_null("prospect"),
        frequency=profile.frequency.fill_null(0),
        monetary=profile.monetary.fill_null(0.0),
        rfm_segment=profile.rfm_segment.fill_null(PROSPECT),
        channel_mix=profile.channel_mix.fill_null("none"),
    )
    # Columns in the registry's order: one place says what the table holds.
    ordered = filled.select("person_id", *DIMENSIONS)
    if users:
        ordered = ordered.mutate(**{name: u.test(ordered) for name, u in users.items()})
    return ordered


def _no_orders(events: ir.Table) -> ir.Table:
    """An empty orders-shaped table (a warehouse with events but no orders yet)."""
    return events.filter(ibis.literal(False)).select(
        "person_id", sales_channel=ibis.null(dt.string)
    )


# -- members of a segment ----------------------------------------------------------------------


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


# -- the most responsive segments --------------------------------------------------------------


def most_responsive(
    wh: Warehouse,
    campaign: str,
    by: str = "rfm_segment",
    *,
    window_days: int = 30,
    as_of: date | None = None,
) -> ir.Table:
    """Per segment value: conversion rate of persons exposed to `campaign` within `window_days`
    after their first exposure, the rate of the segment's unexposed persons over the same days
    from the campaign's start, and the lift (exposed - unexposed; relative: lift / unexposed).

    Observational, not causal: exposure was targeted. Segments are taken at `as_of` (default:
    the day before the campaign's first exposure, so that the campaign cannot move a person's
    segment). Measure causal lift with a holdout experiment (docs/segments.md).
    """
    if window_days <= 0:
        raise ConfigError(f"window_days must be a positive number of days; got {window_days}.")
    if "events" not in wh.tables():
        raise ConfigError("most_responsive needs `events`: run `omnimetrics journeys` first.")
    events = wh.table("events")
    exposures = events.filter(events.campaign == campaign)
    first = exposures.group_by("person_id").agg(exposed_at=exposures.timestamp.min())
    start = first.exposed_at.min().to_pyarrow().as_py()
    if start is None:
        seen = events.campaign.topk(200).to_pyarrow().column(0).to_pylist()
        raise UnknownNameError(
            f"No event carries the campaign {campaign!r}. "
            + did_you_mean(campaign, [c for c in seen if c is not None])
        )
    before = start.astimezone(UTC).date() - timedelta(days=1)
    persons = person_segments(wh, as_of=as_of or before)
    if by not in persons.columns or by == "person_id":
        users = user_segments(wh.settings)
        raise UnknownNameError(f"Cannot cut by {by!r}. " + did_you_mean(by, [*DIMENSIONS, *users]))
    window = ibis.interval(days=window_days)
    starts = ibis.literal(start).cast(first.exposed_at.type())
    orders = conversions(wh)
    orders = orders.filter(orders.person_id.notnull()).select("person_id", at=orders.timestamp)
    activity = ibis.union(events.select("person_id", at=events.timestamp), orders)
    first_seen = activity.group_by("person_id").agg(first_seen=activity.at.min())
    exposed = first.select("person_id", reference=first.exposed_at, exposed=ibis.literal(1))
    unexposed = (
        persons.select("person_id")
        .anti_join(first, "person_id")
        .join(first_seen, "person_id")
        .filter(lambda t: t.first_seen <= starts + window)
        .select("person_id", reference=starts, exposed=ibis.literal(0))
    )
    cohort = ibis.union(exposed, unexposed)
    cohort = cohort.join(persons.select("person_id", segment=persons[by]), "person_id")
    converted = cohort.semi_join(
        orders,
        [
            cohort.person_id == orders.person_id,
            orders.at >= cohort.reference,
            orders.at <= cohort.reference + window,
        ],
    ).select("person_id", "exposed", _converted=ibis.literal(1))
    flagged = cohort.left_join(converted, ["person_id", "exposed"])
    flagged = flagged.select(
        cohort.segment, cohort.exposed, converted=flagged._converted.fill_null(0)
    )

    def count(exposed: int, converted: bool = False) -> ir.IntegerValue:
        hit = flagged.exposed == exposed
        if converted:
            hit = hit & (flagged.converted == 1)
        return ibis.cases((hit, 1), else_=0).sum()

    counts = flagged.group_by("segment").agg(
        exposed_persons=count(1),
        exposed_converted=count(1, True),
        unexposed_persons=count(0),
        unexposed_converted=count(0, True),
    )
    rates = counts.mutate(
        exposed_rate=counts.exposed_converted / counts.exposed_persons.nullif(0),
        unexposed_rate=counts.unexposed_converted / counts.unexposed_persons.nullif(0),
    )
    lifted = rates.mutate(lift=rates.exposed_rate - rates.unexposed_rate)
    lifted = lifted.mutate(relative_lift=lifted.lift / lifted.unexposed_rate.nullif(0))
    ordered = lifted.order_by([lifted.lift.desc(nulls_first=False), lifted.segment])
    return ordered.rename({by: "segment"})


# -- audiences ---------------------------------------------------------------------------------

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
    remedy = (
        "Set `[privacy] activation_hashes = true` in omnimetrics.toml and ingest again the "
        "sources that carry emails or phones (customers, identities, orders...): the door then "
        "keeps the plain SHA-256 that ad platforms match on (raw emails are never stored, so it "
        "cannot be computed afterwards)."
    )
    if not settings.activation_hashes:
        raise ConfigError("Audiences need activation hashes, which are off. " + remedy)
    if ACTIVATION_TABLE not in wh.tables():
        raise ConfigError("No activation hash has been captured yet. " + remedy)
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
