"""Validation as engine expressions: every check is a condition over a staged table.

`typed_with_verdict` returns the staged rows with each contract column parsed to its type plus
`reason`, `column_name` and `message` for the first check a row fails (null when it passes).
No Python runs per row: the whole thing is one Ibis expression, executed by the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.ingest.door import ACTIVATION_PREFIX, INVALID_PREFIX, SUPPRESSED
from omnimetrics.schema import CURRENCIES, SCORE_RANGES, Column, Table

TRUE_WORDS = ("true", "t", "1", "yes", "y", "oui")
FALSE_WORDS = ("false", "f", "0", "no", "n", "non")


@dataclass(frozen=True)
class Reason:
    """A reason code with what it means, for docs and summaries."""

    code: str
    meaning: str


ERASED = "erased_person"
"""Not a quarantine reason: rows of erased persons are suppressed, counted and never stored."""

REASONS = {
    r.code: r
    for r in (
        Reason("missing_required", "a required value is empty"),
        Reason("invalid_type", "a value cannot be read as the column's type"),
        Reason("invalid_email", "an email is not of the form local@domain.tld"),
        Reason("invalid_phone", "a phone cannot be normalised to E.164"),
        Reason("not_allowed", "a value is not one of the column's allowed values"),
        Reason("invalid_currency", "a currency is not an ISO 4217 code"),
        Reason("out_of_range", "a number or date lies outside its allowed range"),
        Reason("future_timestamp", "a timestamp lies in the future (clock or time-zone error)"),
        Reason("no_identifier", "a row that needs an identifier has none"),
        Reason("inconsistent", "two values contradict each other (returned more than paid)"),
        Reason(
            "malformed_row",
            "a CSV line does not split into the header's columns, or a JSON Lines line is not a "
            "JSON object",
        ),
    )
}


@dataclass(frozen=True)
class Check:
    reason: str
    column: str
    failed: ir.BooleanValue
    message: ir.StringValue


def _text(value: ir.Value) -> ir.StringValue:
    """A value as short text for messages."""
    return value.cast(dt.string).substr(0, 80)


def _lit(text: str) -> ir.StringValue:
    return ibis.literal(text, type=dt.string)


LocalTime = Callable[[ir.TimestampValue], ir.TimestampValue]
"""Turns naive timestamps of the source's time zone into UTC instants (see Warehouse)."""

ZONED = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|z|UTC|GMT|[+-]\d\d(:?\d\d)?)$"
"""A timestamp text that carries its own offset (kept as written, whatever the source zone)."""
EPOCH = r"^-?\d{10}(\d{3}(\d{3})?)?(\.\d+)?$"
"""Unix time as text: seconds (10 digits), milliseconds (13) or microseconds (16)."""


def _from_epoch(number: ir.FloatingValue) -> ir.TimestampValue:
    """Unix time in seconds, milliseconds or microseconds (told apart by magnitude) -> UTC."""
    size = number.abs()
    micros = ibis.cases((size >= 1e14, number), (size >= 1e11, number * 1e3), else_=number * 1e6)
    micros = micros.round().cast(dt.int64)
    # Whole seconds, then the rest as an interval (every engine reads seconds).
    seconds = (micros / 1_000_000).floor().cast(dt.int64)
    instant = seconds.as_timestamp("s") + (micros - seconds * 1_000_000).as_interval("us")
    return instant.cast(dt.Timestamp(timezone="UTC"))


def _timestamp(clean: ir.Value, dtype: dt.DataType, local: LocalTime | None) -> ir.Value:
    """A timestamp from typed values, ISO 8601 text (with or without offset) or Unix time.

    Values without an offset are in the source's time zone (`local`; UTC when None).
    """
    kind = clean.type()
    if kind.is_numeric():
        return _from_epoch(clean.cast(dt.float64))
    if kind.is_timestamp() and kind.timezone is not None:
        return clean.cast(dtype)
    if kind.is_timestamp() or kind.is_date():
        naive = clean.cast(dt.timestamp)
        return local(naive) if local else naive.cast(dtype)
    text = clean.cast(dt.string)
    written = text.try_cast(dtype)
    if local is not None:
        written = ibis.cases(
            (text.re_search(ZONED), written), else_=local(text.try_cast(dt.timestamp))
        )
    # Text that does not read as a date may be Unix time: tested only for those rows.
    return ibis.cases(
        (written.notnull(), written),
        (text.re_search(EPOCH), _from_epoch(text.try_cast(dt.float64))),
        else_=ibis.null(dtype),
    )


def _parse(col: Column, raw: ir.Value, local: LocalTime | None = None) -> tuple[ir.Value, ir.Value]:
    """(cleaned raw value, typed value): the raw one is null when empty."""
    clean = trim(raw).nullif("") if raw.type().is_string() else raw
    kind = col.kind
    if kind in ("string", "json"):
        text = clean if clean.type().is_string() else clean.cast(dt.string)
        if col.allowed:
            text = text.lower()
        if col.currency:
            text = text.upper()
        return clean, text
    if kind == "timestamp":
        return clean, _timestamp(clean, col.dtype, local)
    if kind == "date":
        if clean.type().is_timestamp():
            return clean, clean.date()
        return clean, clean.cast(dt.string).try_cast(dt.date)
    if kind in ("float", "int"):
        number = clean.cast(dt.float64) if clean.type().is_numeric() else clean.try_cast(dt.float64)
        number = ibis.cases((number.isnan() | number.isinf(), ibis.null(dt.float64)), else_=number)
        if kind == "float":
            return clean, number
        whole = ibis.cases((number == number.floor(), number), else_=ibis.null(dt.float64))
        return clean, whole.cast(dt.int64)
    # bool
    if clean.type().is_boolean():
        return clean, clean
    word = clean.cast(dt.string).lower()
    typed = ibis.cases(
        (word.isin(TRUE_WORDS), ibis.literal(True)),
        (word.isin(FALSE_WORDS), ibis.literal(False)),
        else_=ibis.null(dt.boolean),
    )
    return clean, typed


TYPE_NAMES = {
    "timestamp": "an ISO 8601 timestamp or Unix time",
    "date": "a date (YYYY-MM-DD)",
    "float": "a number (with a dot for decimals)",
    "int": "a whole number",
    "bool": "true/false",
}
"""How an `invalid_type` message names what a column of each parsed kind expects."""


def _column_checks(
    col: Column, clean: ir.Value, typed: ir.Value, staged: ir.Table, latest: ir.Value
) -> list[Check]:
    """The checks of one contract column, in the order a failing row reports them."""
    shown = _text(clean)
    return [
        *_reading_checks(col, clean, typed, shown),
        *_identifier_checks(col, staged),
        *_value_checks(col, typed, shown, latest),
    ]


def _reading_checks(
    col: Column, clean: ir.Value, typed: ir.Value, shown: ir.StringValue
) -> list[Check]:
    """A required value is present; a present value reads as the column's type."""
    checks: list[Check] = []
    if col.required:
        message = _lit(f"{col.input_name} is required but empty")
        checks.append(Check("missing_required", col.name, clean.isnull(), message))
    what = TYPE_NAMES.get(col.kind)
    if what:
        message = _lit(f"{col.name}: cannot read '").concat(shown, _lit(f"' as {what}"))
        checks.append(Check("invalid_type", col.name, clean.notnull() & typed.isnull(), message))
    return checks


def _identifier_checks(col: Column, staged: ir.Table) -> list[Check]:
    """Emails and phones present but impossible to normalise (flagged by the door)."""
    flag = INVALID_PREFIX + col.name
    if flag not in staged.columns:
        return []
    invalid = staged[flag].fill_null(False)
    if col.pii_by:  # the kind of each value is in another column
        kind = staged[col.pii_by].cast(dt.string).strip().lower()
        email = _lit(f"{col.name}: not a valid email (kept only as a hash)")
        phone = _lit(f"{col.name}: not a valid phone number (kept only as a hash)")
        return [
            Check("invalid_email", col.name, invalid & (kind == "email"), email),
            Check("invalid_phone", col.name, invalid & (kind == "phone"), phone),
        ]
    reason = "invalid_phone" if col.pii == "phone" else "invalid_email"
    message = _lit(f"{col.input_name}: not a valid {col.pii or 'identifier'} (kept only as a hash)")
    return [Check(reason, col.name, invalid, message)]


def _value_checks(
    col: Column, typed: ir.Value, shown: ir.StringValue, latest: ir.Value
) -> list[Check]:
    """A typed value is allowed, a currency, within its range, and not in the future."""
    name = col.name
    known = typed.notnull()

    def says(before: str, after: str) -> ir.StringValue:
        return _lit(f"{name}: {before}").concat(shown, _lit(after))

    checks: list[Check] = []
    if col.allowed:
        use = f"' is not allowed; use one of {', '.join(col.allowed)}"
        checks.append(Check("not_allowed", name, known & ~typed.isin(col.allowed), says("'", use)))
    if col.currency:
        iso = "' is not an ISO 4217 currency code (EUR, USD, GBP...)"
        unknown = known & ~typed.isin(sorted(CURRENCIES))
        checks.append(Check("invalid_currency", name, unknown, says("'", iso)))
    if col.min is not None:
        below = says("", f" is below {col.min:g}")
        checks.append(Check("out_of_range", name, known & (typed < col.min), below))
    if col.max is not None:
        above = says("", f" is above {col.max:g}")
        checks.append(Check("out_of_range", name, known & (typed > col.max), above))
    if col.kind == "timestamp":
        future = says("", " is in the future; check the clock or the time zone")
        checks.append(Check("future_timestamp", name, known & (typed > latest), future))
    return checks


def _erased_checks(staged: ir.Table) -> list[Check]:
    """A row of an erased person (flagged by the door): checked first of all, so that it is
    suppressed whatever else is wrong with it."""
    if SUPPRESSED not in staged.columns:
        return []
    erased = staged[SUPPRESSED].fill_null(False)
    return [Check(ERASED, "", erased, _lit("carries an identifier of an erased person"))]


def _row_checks(table: Table, typed: Mapping[str, ir.Value]) -> list[Check]:
    """Checks across the columns of a row: an identifier present, amounts in order, survey
    scores on their scale."""
    checks: list[Check] = []
    if table.require_any:
        nothing = ibis.and_(*(typed[c].isnull() for c in table.require_any))
        give = _lit(
            "no identifier on the row: give at least one of " + ", ".join(table.require_any)
        )
        checks.append(Check("no_identifier", ",".join(table.require_any), nothing, give))
    for a, b in table.not_after:
        both = typed[a].notnull() & typed[b].notnull()
        message = _lit(f"{a} (").concat(
            _text(typed[a]), _lit(f") exceeds {b} ("), _text(typed[b]), _lit(")")
        )
        checks.append(Check("inconsistent", a, both & (typed[a] > typed[b]), message))
    if table.score_ranges:
        score_name, type_name = table.score_ranges
        score, kind = typed[score_name], typed[type_name]
        for survey, (low, high) in SCORE_RANGES.items():
            off = (kind == survey) & score.notnull() & ((score < low) | (score > high))
            message = _lit(f"{score_name}: ").concat(
                _text(score), _lit(f" is off the {survey} scale {low}-{high}")
            )
            checks.append(Check("out_of_range", score_name, off, message))
    return checks


def _parsed(
    staged: ir.Table,
    table: Table,
    extra_allowed: Mapping[str, tuple[str, ...]] | None,
    local: LocalTime | None,
) -> tuple[ir.Table, list[Column]]:
    """The staged rows with each contract column parsed once, in its own columns
    `_clean_<n>` and `_typed_<n>`; and the contract columns with their extra allowed values."""
    columns = []
    parsing: dict[str, ir.Value] = {}
    for number, col in enumerate(table.columns):
        if extra_allowed and col.name in extra_allowed and col.allowed:
            col = Column(**{**col.__dict__, "allowed": col.allowed + extra_allowed[col.name]})
        columns.append(col)
        source_name = col.name if col.pii else col.input_name
        if source_name in staged.columns:
            parsing[f"_clean_{number}"], parsing[f"_typed_{number}"] = _parse(
                col, staged[source_name], local
            )
    return staged.mutate(**parsing), columns


def typed_with_verdict(
    staged: ir.Table,
    table: Table,
    *,
    now: datetime | ir.TimestampValue,
    future_tolerance: timedelta = timedelta(hours=24),
    extra_allowed: dict[str, tuple[str, ...]] | None = None,
    local: LocalTime | None = None,
) -> ir.Table:
    """Typed contract columns + lineage + (reason, column_name, message, raw_record).

    `local`: how naive timestamps of this source become UTC (None: they are UTC already).
    `now`: the reference of the future check: a time, or a column of `staged`.

    Activation hash columns of the door pass through unchanged, and never into `raw_record`.
    """
    if isinstance(now, datetime):
        latest = ibis.literal(now + future_tolerance, type=dt.Timestamp(timezone="UTC"))
    else:  # a column: each row's own reference time (when the collector received it)
        latest = now + ibis.interval(seconds=int(future_tolerance.total_seconds()))
    parsed, columns = _parsed(staged, table, extra_allowed, local)
    typed: dict[str, ir.Value] = {}
    checks = _erased_checks(parsed)
    for number, col in enumerate(columns):
        if f"_typed_{number}" in parsed.columns:
            clean, value = parsed[f"_clean_{number}"], parsed[f"_typed_{number}"]
        else:
            clean, value = ibis.null(dt.string), ibis.null(col.dtype)
        typed[col.name] = value.cast(col.dtype)
        checks += _column_checks(col, clean, value, parsed, latest)
    checks += _row_checks(table, typed)
    return _with_verdict(staged, parsed, typed, checks)


def _with_verdict(
    staged: ir.Table, parsed: ir.Table, typed: Mapping[str, ir.Value], checks: list[Check]
) -> ir.Table:
    """The typed columns, lineage and activation hashes, with the first failed check's reason,
    column and message, and the raw record of a quarantined row (never of a suppressed one)."""
    index = ibis.cases(*((c.failed, i) for i, c in enumerate(checks)), else_=ibis.null(dt.int64))
    verdict = parsed.mutate(_check=index)
    check = verdict._check
    raw_columns = [
        c
        for c in staged.columns
        if c not in ("source_row", "source_file") and not c.startswith("_")
    ]  # flags of the door (_invalid__, _activation_, _suppressed) and the collector's own
    activation = {c: verdict[c] for c in staged.columns if c.startswith(ACTIVATION_PREFIX)}
    raw = ibis.struct({c: verdict[c].cast(dt.string) for c in raw_columns})
    return verdict.select(
        **typed,
        source_file=verdict.source_file,
        source_row=verdict.source_row,
        **activation,
        reason=check.cases(
            *((i, c.reason) for i, c in enumerate(checks)), else_=ibis.null(dt.string)
        ),
        column_name=check.cases(
            *((i, c.column) for i, c in enumerate(checks)), else_=ibis.null(dt.string)
        ),
        message=ibis.cases(
            *((check == i, c.message) for i, c in enumerate(checks)), else_=ibis.null(dt.string)
        ),
        raw_record=ibis.cases(
            (
                check.notnull() & (check != 0 if SUPPRESSED in staged.columns else True),
                to_json(raw),
            ),
            else_=ibis.null(dt.string),
        ),
    )


@ibis.udf.scalar.builtin(name="trim")
def trim(text: str) -> str:
    """The engine's TRIM (leading/trailing spaces). Ibis' strip() mangles text on PySpark."""


def to_json(value: ir.StructValue) -> ir.StringValue:
    """The engine's own to_json (DuckDB and Spark both have it): a struct as JSON text."""

    @ibis.udf.scalar.builtin(name="to_json", signature=((value.type(),), dt.string))
    def _to_json(x):  # type: ignore[no-untyped-def]
        """Engine builtin."""

    return _to_json(value)
