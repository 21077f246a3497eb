"""The input of every experiment statistic: a summary table with one row per variant (and per
period), holding sufficient statistics only; building it from per-unit arrays, checking it, pooling
variants. Definitions in docs/experiments.md.

>>> import pandas as pd
>>> summary = validate_summary(pd.DataFrame(
...     {"variant": ["A", "B"], "units": [1000, 1000], "conversions": [100, 120]}))
>>> summary.metric, summary.control, summary.variants
('proportion', 'A', ('A', 'B'))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from omnimetrics.errors import ConfigError, SchemaError, did_you_mean

METRIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "proportion": ("conversions",),
    "mean": ("sum", "sum_squares"),
    "ratio": ("sum", "sum_squares", "denominator_sum", "denominator_sum_squares", "cross_sum"),
}
"""The columns each metric reads, besides `variant` and `units`."""
COVARIATE = ("covariate_sum", "covariate_sum_squares", "covariate_cross_sum")
"""The CUPED columns (a pre-period value x per unit): sum of x, of x squared, of y times x."""
PERIOD = "period"
FACTOR_SEPARATOR = "|"
"""Factorial tests name each cell `factor=level|factor=level`, e.g. `subject=B|cta=red`."""
_NON_NEGATIVE = (
    "units",
    "conversions",
    "sum_squares",
    "denominator_sum_squares",
    "covariate_sum_squares",
)


@dataclass(frozen=True)
class ExperimentSummary:
    """A checked summary: its rows, the metric, the control, the planned split."""

    table: pd.DataFrame
    """Rows per variant (and per period, increments), columns of `METRIC_COLUMNS[metric]`."""
    metric: str
    control: str
    variants: tuple[str, ...]
    """In the order of first appearance; the control is among them."""
    weights: np.ndarray
    """The planned share of units of each variant, in `variants` order, summing to 1."""
    has_covariate: bool
    has_periods: bool

    @property
    def columns(self) -> tuple[str, ...]:
        return (*METRIC_COLUMNS[self.metric], *(COVARIATE if self.has_covariate else ()))

    def totals(self) -> pd.DataFrame:
        """One row per variant, in `variants` order: the periods summed."""
        sums = self.table.groupby("variant", sort=False)[["units", *self.columns]].sum()
        return sums.reindex(list(self.variants)).reset_index()

    def looks(self) -> list[pd.DataFrame]:
        """The cumulative totals at the end of each period, in period order (one look without
        periods); a variant absent from a period adds nothing to it."""
        if not self.has_periods:
            return [self.totals()]
        columns = ["units", *self.columns]
        cells = self.table.groupby([PERIOD, "variant"], sort=True)[columns].sum()
        periods = cells.index.get_level_values(0).unique()
        full = pd.MultiIndex.from_product([periods, list(self.variants)], names=[PERIOD, "variant"])
        cells = cells.reindex(full, fill_value=0)
        cumulative = cells.groupby(level="variant", sort=False).cumsum()
        return [
            cumulative.xs(period, level=PERIOD).reindex(list(self.variants)).reset_index()
            for period in periods
        ]

    def period_labels(self) -> list[Any]:
        if not self.has_periods:
            return [None]
        return sorted(self.table[PERIOD].unique().tolist())


def infer_metric(columns: Sequence[str]) -> str:
    """The metric a summary's columns describe: ratio, mean or proportion."""
    names = set(columns)
    if "denominator_sum" in names:
        return "ratio"
    if "sum" in names:
        if "conversions" in names:
            raise SchemaError(
                "The summary has both `conversions` and `sum`: say which metric to analyse "
                "(metric='proportion' or metric='mean')."
            )
        return "mean"
    if "conversions" in names:
        return "proportion"
    raise SchemaError(
        f"The summary has none of the metric columns; it has {sorted(names)}. Give "
        "`conversions` (proportion), `sum, sum_squares` (mean) or `sum, sum_squares, "
        "denominator_sum, denominator_sum_squares, cross_sum` (ratio)."
    )


def validate_summary(
    summary: Any,
    *,
    metric: str | None = None,
    control: str | None = None,
    weights: Sequence[float] | Mapping[str, float] | None = None,
) -> ExperimentSummary:
    """Check a summary table (pandas, Arrow or anything `omnimetrics.results.as_arrow` reads)
    and return it with its metric, control and planned split resolved; every refusal says what,
    where and what to do."""
    frame = _as_pandas(summary)
    missing = [c for c in ("variant", "units") if c not in frame.columns]
    if missing:
        _missing_columns(missing, frame.columns, "The summary")
    if metric is None:
        metric = infer_metric(list(frame.columns))
    elif metric not in METRIC_COLUMNS:
        raise ConfigError(f"Unknown metric {metric!r}. " + did_you_mean(metric, METRIC_COLUMNS))
    needed = list(METRIC_COLUMNS[metric])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        _missing_columns(missing, frame.columns, f"A {metric} summary")
    present = [c for c in COVARIATE if c in frame.columns]
    if present and len(present) < len(COVARIATE):
        lacking = [c for c in COVARIATE if c not in present]
        raise SchemaError(
            f"The summary has the CUPED column(s) {present} but lacks {lacking}: give all of "
            f"{list(COVARIATE)} or none."
        )
    has_covariate = bool(present)
    if has_covariate and metric == "ratio":
        raise ConfigError(
            "CUPED is not available for ratio metrics (it needs the sum of denominator times "
            "covariate). Drop the covariate columns, or analyse the numerator as a mean."
        )
    has_periods = PERIOD in frame.columns
    keep = ["variant", *((PERIOD,) if has_periods else ()), "units", *needed]
    if has_covariate:
        keep += list(COVARIATE)
    table = frame[keep].copy()
    if table["variant"].isna().any():
        rows = np.flatnonzero(table["variant"].isna().to_numpy()).tolist()
        raise SchemaError(f"The summary's `variant` is empty in row(s) {rows[:5]}: name them.")
    table["variant"] = table["variant"].astype(str)
    for column in keep[1 + has_periods :]:
        _check_numeric(table, column)
    _check_values(table, metric, has_covariate)
    key = ["variant", PERIOD] if has_periods else ["variant"]
    duplicated = table.duplicated(key, keep=False)
    if duplicated.any():
        where = sorted(set(table.loc[duplicated, "variant"]))
        hint = (
            "each (variant, period) must appear once"
            if has_periods
            else "add a `period` column if the rows are periods, or sum them"
        )
        raise SchemaError(f"Variant(s) {where} appear in several rows of the summary: {hint}.")
    variants = tuple(dict.fromkeys(table["variant"]))
    if len(variants) < 2:
        raise SchemaError(
            f"The summary has one variant only ({list(variants)}): a test needs a control and at "
            "least one other variant."
        )
    if control is None:
        control = variants[0]
    elif control not in variants:
        raise ConfigError(f"Unknown control {control!r}. " + did_you_mean(control, variants))
    return ExperimentSummary(
        table=table.reset_index(drop=True),
        metric=metric,
        control=control,
        variants=variants,
        weights=planned_weights(weights, variants),
        has_covariate=has_covariate,
        has_periods=has_periods,
    )


def planned_weights(
    weights: Sequence[float] | Mapping[str, float] | None, variants: Sequence[str]
) -> np.ndarray:
    """The planned split in `variants` order: equal by default; a sequence in variant order or a
    mapping by variant name, non-negative, summing to 1."""
    k = len(variants)
    if weights is None:
        return np.full(k, 1.0 / k)
    if isinstance(weights, Mapping):
        unknown = [name for name in weights if name not in variants]
        if unknown:
            raise ConfigError(
                f"Weights name unknown variant(s) {unknown}. "
                + did_you_mean(str(unknown[0]), variants)
            )
        lacking = [v for v in variants if v not in weights]
        if lacking:
            raise ConfigError(f"Weights lack the variant(s) {lacking}: give one per variant.")
        values = np.array([float(weights[v]) for v in variants])
    else:
        values = np.asarray(list(weights), dtype=float)
        if values.shape != (k,):
            raise ConfigError(
                f"{len(values)} weight(s) for {k} variants {list(variants)}: give one weight per "
                "variant, in the summary's order (e.g. --weights 0.5,0.5)."
            )
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ConfigError(f"Weights must be non-negative numbers; got {values.tolist()}.")
    if abs(values.sum() - 1.0) > 1e-6:
        raise ConfigError(
            f"Weights must sum to 1; {values.tolist()} sum to {values.sum():g}. E.g. 0.5,0.5 or "
            "0.34,0.33,0.33."
        )
    return values


def summarise_units(
    variant: Any,
    value: Any,
    *,
    metric: str = "mean",
    covariate: Any = None,
    denominator: Any = None,
    period: Any = None,
) -> pd.DataFrame:
    """The summary of one-row-per-unit arrays: `value` is the unit's metric (0/1 for a
    proportion; the numerator for a ratio, with `denominator`), `covariate` its pre-period value.
    Variants come out sorted by name (so the default control is the first name), periods too.

    >>> summarise_units(["A", "A", "B", "B"], [1, 0, 1, 1], metric="proportion")
      variant  units  conversions
    0       A      2            1
    1       B      2            2
    """
    if metric not in METRIC_COLUMNS:
        raise ConfigError(f"Unknown metric {metric!r}. " + did_you_mean(metric, METRIC_COLUMNS))
    names = np.asarray(variant)
    codes, labels = pd.factorize(pd.Series(names.astype(str)), sort=True)
    n_rows = len(codes)
    if np.any(pd.isna(names)):
        raise SchemaError("Some units have no variant: drop or label them first.")
    y = _unit_array(value, "value", n_rows)
    group_keys: dict[str, Any] = {}
    if period is not None:
        periods = np.asarray(period)
        if len(periods) != n_rows:
            raise SchemaError(f"`period` has {len(periods)} values for {n_rows} units.")
        period_codes, period_labels = pd.factorize(pd.Series(periods), sort=True)
        cell = period_codes * len(labels) + codes
        n_cells = len(period_labels) * len(labels)
        group_keys = {
            "variant": np.tile(np.asarray(labels), len(period_labels)),
            PERIOD: np.repeat(np.asarray(period_labels), len(labels)),
        }
    else:
        cell, n_cells = codes, len(labels)
        group_keys = {"variant": np.asarray(labels)}

    def total(weights: np.ndarray) -> np.ndarray:
        return np.bincount(cell, weights=weights, minlength=n_cells)

    out: dict[str, Any] = dict(group_keys)
    out["units"] = np.bincount(cell, minlength=n_cells).astype(np.int64)
    if metric == "proportion":
        if not np.all((y == 0) | (y == 1)):
            raise SchemaError(
                "A proportion's value must be 0 or 1 per unit; found other values. Use "
                "metric='mean' for a numeric value."
            )
        out["conversions"] = total(y).round().astype(np.int64)
    else:
        out["sum"] = total(y)
        out["sum_squares"] = total(y * y)
    if metric == "ratio":
        if denominator is None:
            raise ConfigError("A ratio metric needs `denominator` (e.g. the unit's orders).")
        d = _unit_array(denominator, "denominator", n_rows)
        out["denominator_sum"] = total(d)
        out["denominator_sum_squares"] = total(d * d)
        out["cross_sum"] = total(y * d)
    if covariate is not None:
        if metric == "ratio":
            raise ConfigError("CUPED is not available for ratio metrics: drop `covariate`.")
        x = _unit_array(covariate, "covariate", n_rows)
        out["covariate_sum"] = total(x)
        out["covariate_sum_squares"] = total(x * x)
        out["covariate_cross_sum"] = total(y * x)
    frame = pd.DataFrame(out)
    return frame[frame["units"] > 0].reset_index(drop=True)


def pool_variants(summary: Any, variants: Sequence[str], name: str | None = None) -> pd.DataFrame:
    """The summary with `variants` merged into one row (per period) named `name` (default
    "V1+V2"): sufficient statistics add up, so V1+V2 against control is a test like any other.
    The pooled row takes the place of the first pooled variant."""
    frame = _as_pandas(summary).copy()
    frame["variant"] = frame["variant"].astype(str)
    variants = [str(v) for v in variants]
    unknown = [v for v in variants if v not in set(frame["variant"])]
    if unknown:
        raise ConfigError(
            f"Cannot pool unknown variant(s) {unknown}. "
            + did_you_mean(unknown[0], frame["variant"].unique())
        )
    if len(variants) < 2:
        raise ConfigError(f"Pool at least two variants; got {variants}.")
    name = name or "+".join(variants)
    order = list(dict.fromkeys(frame["variant"]))
    first = min(order.index(v) for v in variants)
    new_order = [v for v in order if v not in variants]
    new_order.insert(first, name)
    frame.loc[frame["variant"].isin(variants), "variant"] = name
    key = ["variant", PERIOD] if PERIOD in frame.columns else ["variant"]
    pooled = frame.groupby(key, sort=False).sum(numeric_only=True).reset_index()
    pooled["_order"] = pooled["variant"].map({v: i for i, v in enumerate(new_order)})
    sort_key = ["_order", PERIOD] if PERIOD in frame.columns else ["_order"]
    return pooled.sort_values(sort_key).drop(columns="_order").reset_index(drop=True)


def factor_levels(variant: str) -> dict[str, str]:
    """The factors of a factorial cell's name: `subject=B|cta=red` -> {subject: B, cta: red}."""
    levels: dict[str, str] = {}
    for part in variant.split(FACTOR_SEPARATOR):
        factor, sep, level = part.partition("=")
        if not sep or not factor.strip() or not level.strip():
            raise SchemaError(
                f"Variant {variant!r} is not a factorial cell name: write `factor=level` parts "
                f"joined by {FACTOR_SEPARATOR!r}, e.g. 'subject=B|cta=red'."
            )
        levels[factor.strip()] = level.strip()
    return levels


def factorial_variant_names(factors: Mapping[str, Any]) -> np.ndarray:
    """Cell names `factor=level|...` from one array per factor (one value per unit), for a units
    file with one column per factor."""
    if not factors:
        raise ConfigError("Give at least one factor column.")
    columns = [
        np.char.add(f"{name}=", np.asarray(values).astype(str)) for name, values in factors.items()
    ]
    names = columns[0]
    for column in columns[1:]:
        names = np.char.add(np.char.add(names, FACTOR_SEPARATOR), column)
    return names.astype(object)


# -- checks ----------------------------------------------------------------------------------
def _as_pandas(summary: Any) -> pd.DataFrame:
    if isinstance(summary, pd.DataFrame):
        return summary
    from omnimetrics.results import as_arrow

    try:
        return as_arrow(summary).to_pandas()
    except TypeError:
        raise SchemaError(
            f"A summary must be a table (pandas, Arrow, Polars); got {type(summary).__name__}."
        ) from None


def _missing_columns(missing: list[str], columns: Any, what: str) -> None:
    hints = " ".join(did_you_mean(c, [str(x) for x in columns]) for c in missing)
    raise SchemaError(f"{what} lacks the column(s) {missing}. {hints}")


def _check_numeric(table: pd.DataFrame, column: str) -> None:
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        where = table.loc[bad, "variant"].tolist()
        raise SchemaError(
            f"`{column}` is missing or not a finite number for variant(s) {where[:5]}: fill it."
        )
    table[column] = values.astype(float) if column != "units" else values


def _check_values(table: pd.DataFrame, metric: str, has_covariate: bool) -> None:
    def refuse(mask: pd.Series, message: str) -> None:
        if mask.any():
            where = table.loc[mask, "variant"].tolist()
            raise SchemaError(f"{message} for variant(s) {where[:5]}.")

    for column in _NON_NEGATIVE:
        if column in table.columns:
            refuse(table[column] < 0, f"`{column}` is negative")
    units = table["units"].astype(float)
    refuse(units != np.round(units), "`units` is not a whole number")
    table["units"] = units.astype(np.int64)
    if metric == "proportion":
        conversions = table["conversions"]
        refuse(conversions != np.round(conversions), "`conversions` is not a whole number")
        refuse(
            conversions > table["units"],
            "`conversions` exceeds `units` (a proportion counts units that converted, at most "
            "once each; count orders as a mean metric)",
        )
    pairs = []
    if metric in ("mean", "ratio"):
        pairs.append(("sum", "sum_squares"))
    if metric == "ratio":
        pairs.append(("denominator_sum", "denominator_sum_squares"))
    if has_covariate:
        pairs.append(("covariate_sum", "covariate_sum_squares"))
    n = np.maximum(table["units"].to_numpy(dtype=float), 1.0)
    for total, squares in pairs:
        s, ss = table[total].to_numpy(), table[squares].to_numpy()
        bound = s * s / n
        impossible = ss < bound - 1e-9 * np.maximum(np.abs(bound), 1.0)
        refuse(
            pd.Series(impossible, index=table.index),
            f"`{squares}` is smaller than `{total}`**2 / units, which no data can give (is it the "
            "sum of squared values, not the squared sum?)",
        )
    empty = table["units"] == 0
    for column in table.columns[table.columns.get_loc("units") + 1 :]:
        refuse(empty & (table[column] != 0), f"`{column}` is not 0 where `units` is 0")


def _unit_array(values: Any, what: str, n_rows: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.shape != (n_rows,):
        raise SchemaError(f"`{what}` has {array.size} values for {n_rows} units: one per unit.")
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise SchemaError(
            f"`{what}` is missing or not finite for {int(bad.sum())} unit(s), e.g. rows {rows}: "
            "fill them (0 for no activity) or drop those units."
        )
    return array
