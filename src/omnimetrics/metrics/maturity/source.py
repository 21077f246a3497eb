"""What every maturity reading shares: the period it covers, the tables it needs, and the small
aggregates it brings out of the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.errors import ConfigError

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

DERIVED_TABLES = {"identity_graph", "events"}
"""Tables built by `omnimetrics journeys` (identity resolution, then journeys), not ingested."""


@dataclass(frozen=True)
class Period:
    """Everything up to the end of `as_of` (UTC); None means all the data, judged against now."""

    as_of: date | None = None

    @property
    def cutoff(self) -> datetime | None:
        """The first instant after the period (midnight UTC after `as_of`)."""
        if self.as_of is None:
            return None
        return datetime.combine(self.as_of + timedelta(days=1), time(), tzinfo=UTC)

    @property
    def reference(self) -> datetime:
        """The moment freshness is measured from."""
        return self.cutoff or datetime.now(UTC)

    def until(self, table: ir.Table, column: str, *, keep_undated: bool = False) -> ir.Table:
        """Rows of `table` whose `column` (a date or a timestamp) falls in the period."""
        if self.as_of is None:
            return table
        value = table[column]
        if value.type().is_date():
            inside = value <= ibis.literal(self.as_of, type=dt.date)
        else:
            inside = value < ibis.literal(self.cutoff, type=dt.Timestamp(timezone="UTC"))
        return table.filter(value.isnull() | inside if keep_undated else inside)


def as_date(value: date | str | None) -> date | None:
    """A date from a date, a datetime or ISO text (None stays None)."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(
            f"The as_of date must be a date such as 2026-03-31. Got {value!r} instead."
        ) from None


def missing_note(wh: Warehouse, needs: tuple[str, ...]) -> str:
    """Why a reading needing these tables is unknown and what to run; "" when none is missing."""
    present = set(wh.tables())
    missing = [t for t in needs if t not in present]
    if not missing:
        return ""
    if missing == ["ingest_batches"]:
        return (
            "Unknown: nothing was ingested yet (no ingest_batches ledger); load files with "
            "`omnimetrics ingest TABLE FILE`."
        )
    derived = [t for t in missing if t in DERIVED_TABLES]
    loaded = [t for t in missing if t not in DERIVED_TABLES]
    parts = []
    if loaded:
        command = f"omnimetrics ingest {loaded[0] if len(loaded) == 1 else 'TABLE'} FILE"
        parts.append(f"ingest {' and '.join(loaded)} ({command})")
    if derived:
        parts.append(f"run `omnimetrics journeys` to build {' and '.join(derived)}")
    tables = "table" if len(missing) == 1 else "tables"
    return f"Unknown: no {' or '.join(missing)} {tables}; " + ", then ".join(parts) + "."


def one_row(expr: ir.Table) -> dict[str, Any]:
    """The single row of an aggregate, as a dict."""
    return expr.to_pyarrow().to_pylist()[0]


def names(values: list[Any]) -> list[str]:
    """The values that are not null, as sorted text."""
    return sorted(str(v) for v in values if v is not None)
