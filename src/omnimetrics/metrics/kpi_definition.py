"""What a KPI is: a `Measure` (an aggregate of one fact) over another, and how to read it.

The catalogue (`kpi_catalogue`) declares each KPI with these fields; the engine (`kpis`) computes
them and never asks for a KPI by name: every behaviour of a KPI is one of its fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.errors import ConfigError, did_you_mean

Filter = Callable[[ir.Table], ir.BooleanValue]

AGGREGATES: dict[str, Callable[[ir.Column], ir.Scalar]] = {
    "sum": lambda column: column.sum(),
    "count": lambda column: column.count(),
    "nunique": lambda column: column.nunique(),
    "mean": lambda column: column.mean(),
}

CREDITED_CUTS = ("channel", "campaign")
"""Cut by one of these, a KPI with credited measures reads the orders credited to the channel."""

UNITS = ("share", "currency", "count", "seconds", "score", "ratio")


@dataclass(frozen=True)
class Measure:
    """An aggregate of a fact: sum / count / nunique / mean of a column, on the rows kept by
    `where`."""

    fact: str
    column: str
    agg: str = "sum"
    where: Filter | None = None

    def __post_init__(self) -> None:
        if self.agg not in AGGREGATES:
            raise ConfigError(
                f"Unknown aggregate {self.agg!r} of {self.fact}.{self.column}. "
                + did_you_mean(self.agg, AGGREGATES)
            )

    def persons(self, table: ir.Table) -> ir.Value:
        """Distinct persons among the rows the measure counts (for small-cell suppression)."""
        person = table.person_id
        if self.where is not None:
            person = ibis.cases((self.where(table), person), else_=ibis.null(dt.string))
        return person.nunique().cast(dt.float64)

    def aggregate(self, table: ir.Table) -> ir.Value:
        """The aggregate over the rows `where` keeps (the others count as null)."""
        column = table[self.column]
        if self.where is not None:
            column = ibis.cases((self.where(table), column), else_=ibis.null(column.type()))
        return AGGREGATES[self.agg](column).cast(dt.float64)

    @property
    def counts(self) -> bool:
        """Whether it counts rows or persons (no row counted is zero, not unknown)."""
        return self.agg in ("count", "nunique")


@dataclass(frozen=True)
class KPI:
    """One indicator: how it is computed, what it needs and how to read it.

    value = numerator / denominator x scale; without a denominator, numerator x scale.
    """

    name: str
    label: str
    unit: str
    """One of UNITS: share, currency, count, seconds, score, ratio."""
    higher_is_better: bool
    formula: str
    numerator: Measure
    denominator: Measure | None = None
    needs: tuple[str, ...] = ()
    """Tables or table.columns that must hold data; "a|b" when either will do."""
    dimensions: tuple[str, ...] = ()
    """Fact dimensions it can be cut by (segment columns always can, through person_id)."""
    scale: float = 1.0
    minus: Measure | None = None
    """Subtracted from the numerator (NPS: promoters - detractors)."""
    net: bool = False
    """value = (numerator - denominator) / denominator (a return on an outlay: ROI)."""
    credited_numerator: Measure | None = None
    """The numerator when cut by channel or campaign (ROAS: revenue credited to the channel)."""
    credited_denominator: Measure | None = None
    """The denominator when cut by channel or campaign (CAC: first orders credited to it)."""
    ratio_of: tuple[str, str] | None = None
    """value = one KPI / another, per period and dimension (LTV / CAC)."""
    stand_in: str | None = None
    """In a ratio of KPIs, the KPI used instead when this one's inputs are missing."""
    flag_below: float | None = None
    """Cells under this value are flagged (`flag` column): LTV/CAC under 3."""
    group: str = "sales"

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ConfigError(
                f"KPI {self.name!r}: unknown unit {self.unit!r}. " + did_you_mean(self.unit, UNITS)
            )

    def measures(self, by: list[str]) -> tuple[Measure, Measure | None]:
        """Numerator and denominator for these dimensions (credited ones by channel/campaign)."""
        if set(CREDITED_CUTS) & set(by):
            return (
                self.credited_numerator or self.numerator,
                self.credited_denominator or self.denominator,
            )
        return self.numerator, self.denominator
