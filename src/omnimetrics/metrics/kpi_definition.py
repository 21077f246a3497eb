"""What a KPI is: a `Measure` (an aggregate of one fact) over another, and how to read it.

The catalogue (`kpi_catalogue`) declares each KPI with these fields; the engine (`kpis`) computes
them and never asks for a KPI by name: every behaviour of a KPI is one of its fields.
"""

from __future__ import annotations

import math
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

CHANGE_KINDS = ("relative", "points")
"""How the change against the previous period reads: `relative` is (value - previous) /
|previous| (revenue +12 %); `points` is value - previous in the KPI's own unit (NPS -15 points,
a share +0.02, i.e. two percentage points)."""

UNIT_CHANGE_KINDS = {"share": "points", "score": "points"}
"""The change kind of a KPI that declares none, by unit (`relative` for the others): shares and
scores are compared by difference, amounts and counts by ratio."""

UNIT_BOUNDS: dict[str, tuple[float, float]] = {
    "share": (0.0, 1.0),
    "currency": (0.0, math.inf),
    "count": (0.0, math.inf),
    "seconds": (0.0, math.inf),
    "ratio": (0.0, math.inf),
    "score": (-math.inf, math.inf),
}
"""The possible values of a KPI that declares no `bounds`, by unit (a score declares its scale)."""


@dataclass(frozen=True)
class Measure:
    """An aggregate of a fact: sum / count / nunique / mean of a column, on the rows kept by
    `where`."""

    fact: str
    column: str
    agg: str = "sum"
    where: Filter | None = None
    tally: bool = False
    """A sum that counts (orders credited as fractions): no row kept is zero, not unknown."""

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
        return self.agg in ("count", "nunique") or self.tally


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
    bounds: tuple[float, float] | None = None
    """(low, high): the values the KPI can take (NPS: -100 to 100); forecasts and goal
    projections are kept inside. Default by unit (`UNIT_BOUNDS`): a share in [0, 1], an amount,
    count or ratio at least 0."""
    change_kind: str | None = None
    """One of CHANGE_KINDS: how the change against the previous period is computed. Default by
    unit (`UNIT_CHANGE_KINDS`): points for shares and scores, relative for the others."""

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ConfigError(
                f"KPI {self.name!r}: unknown unit {self.unit!r}. " + did_you_mean(self.unit, UNITS)
            )
        kind = self.change_kind or UNIT_CHANGE_KINDS.get(self.unit, "relative")
        if kind not in CHANGE_KINDS:
            raise ConfigError(
                f"KPI {self.name!r}: unknown change_kind {kind!r}. "
                + did_you_mean(kind, CHANGE_KINDS)
            )
        object.__setattr__(self, "change_kind", kind)
        low, high = self.bounds if self.bounds is not None else UNIT_BOUNDS[self.unit]
        if math.isnan(low) or math.isnan(high) or not low < high:
            raise ConfigError(
                f"KPI {self.name!r}: bounds must be (low, high) with low < high; got "
                f"{self.bounds!r}."
            )
        object.__setattr__(self, "bounds", (float(low), float(high)))

    def measures(self, by: list[str]) -> tuple[Measure, Measure | None]:
        """Numerator and denominator for these dimensions (credited ones by channel/campaign)."""
        if set(CREDITED_CUTS) & set(by):
            return (
                self.credited_numerator or self.numerator,
                self.credited_denominator or self.denominator,
            )
        return self.numerator, self.denominator
