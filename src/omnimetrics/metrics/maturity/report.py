"""The maturity assessment: indicators and answers scored, per dimension and overall, with what
to do next and which models the data can support; and the progress between two assessments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from omnimetrics.metrics.maturity.indicators import (
    INDICATORS,
    Reading,
    indicator_frame,
    read_indicators,
)
from omnimetrics.metrics.maturity.questionnaire import (
    answer_advice,
    answer_frame,
    unanswered_notes,
    validate_answers,
)
from omnimetrics.metrics.maturity.scale import (
    DIMENSION_WEIGHTS,
    LEVEL_CUTOFFS,
    level_name,
    level_of,
    weighted_mean,
)
from omnimetrics.metrics.maturity.source import Period, as_date
from omnimetrics.metrics.maturity.support import SUPPORT_CHECKS, Support, model_support

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


@dataclass(frozen=True, eq=False)
class MaturityReport:
    """Scores per dimension and overall, the indicators behind them, and what to do next."""

    as_of: date | None
    score: float
    """Overall 0-100: weighted mean of the known dimensions (NaN when nothing is known)."""
    level: int | None
    level_name: str | None
    dimensions: pd.DataFrame
    indicators: pd.DataFrame
    recommendations: tuple[str, ...]
    notes: tuple[str, ...]
    models: tuple[Support, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (NaN becomes None)."""

        def plain(value: Any) -> Any:
            if isinstance(value, list | tuple | dict):
                return value
            if pd.isna(value):
                return None
            return value.item() if hasattr(value, "item") else value

        def clean(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{k: plain(v) for k, v in r.items()} for r in records]

        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "score": plain(self.score),
            "level": self.level,
            "level_name": self.level_name,
            "dimensions": clean(self.dimensions.to_dict("records")),
            "indicators": clean(self.indicators.to_dict("records")),
            "recommendations": list(self.recommendations),
            "notes": list(self.notes),
            "models": [
                {"kind": s.kind, "supported": s.supported, "reasons": list(s.reasons)}
                for s in self.models
            ],
        }


def assess(
    wh: Warehouse,
    *,
    as_of: date | str | None = None,
    answers: Mapping[str, Any] | None = None,
    models: bool = True,
) -> MaturityReport:
    """The maturity assessment: indicators from the data (and the questionnaire when answered),
    a 0-100 score and a level per dimension and overall, recommendations, and model support."""
    period = Period(as_date(as_of))
    readings = read_indicators(wh, period)
    table = _scored(indicator_frame(readings))
    weights = {name: item.weight for name, item in INDICATORS.items()}
    advice = {
        name: INDICATORS[name].advise(reading.value, reading.facts)
        for name, reading in readings.items()
        if reading.known
    }
    notes = [f"{name}: {r.note}" for name, r in readings.items() if r.note]
    if answers is not None:
        given = validate_answers(answers)
        table = pd.concat([table, answer_frame(given)], ignore_index=True)
        weights.update(dict.fromkeys(given, 1.0))
        advice.update(answer_advice(given))
        notes += unanswered_notes(given)
    table = _with_levels(table)
    dimensions = _dimension_frame(table, weights)
    for name in dimensions.dimension[dimensions.score.isna()]:
        notes.append(f"{name}: no indicator is known, so the dimension is left out of the score.")
    known = dimensions[dimensions.score.notna()]
    score = weighted_mean(list(known.score), list(known.weight))
    level = level_of(score)
    supports: tuple[Support, ...] = ()
    if models:
        supports = tuple(model_support(wh, kind, as_of=period.as_of) for kind in SUPPORT_CHECKS)
    return MaturityReport(
        as_of=period.as_of,
        score=score,
        level=level,
        level_name=level_name(level),
        dimensions=dimensions,
        indicators=table,
        recommendations=_recommendations(table, weights, advice, readings),
        notes=tuple(notes),
        models=supports,
    )


def _scored(table: pd.DataFrame) -> pd.DataFrame:
    """The indicator table with each indicator's 0-100 score."""
    scores = [INDICATORS[n].score(v) for n, v in zip(table.indicator, table.value, strict=True)]
    return table.assign(score=scores)


def _with_levels(table: pd.DataFrame) -> pd.DataFrame:
    """Scored rows with their level and its name."""
    levels = [level_of(s) for s in table.score]
    return table.assign(
        level=pd.array(levels, dtype="Int64"), level_name=[level_name(lv) for lv in levels]
    )


def _recommendations(
    table: pd.DataFrame,
    weights: Mapping[str, float],
    advice: Mapping[str, str],
    readings: Mapping[str, Reading],
) -> tuple[str, ...]:
    """Advice on the rows below the top level, weakest (then heaviest) first, then what cannot
    be measured and why."""
    below = table.score < LEVEL_CUTOFFS[-1]
    weak = table[below].assign(_weight=[weights[n] for n in table.indicator[below]])
    weak = weak.sort_values(["score", "_weight", "indicator"], ascending=[True, False, True])
    unmeasured = [
        f"{name} cannot be measured: {reading.note.removeprefix('Unknown: ')}"
        for name, reading in readings.items()
        if reading.missing
    ]
    return (*(advice[n] for n in weak.indicator if n in advice), *unmeasured)


def _dimension_frame(table: pd.DataFrame, weights: Mapping[str, float]) -> pd.DataFrame:
    """Per dimension: weight, score (weighted mean of its known rows), level, known, unknown."""
    rows = []
    for dimension, weight in DIMENSION_WEIGHTS.items():
        part = table[table.dimension == dimension]
        if part.empty:
            continue
        score = weighted_mean(list(part.score), [weights[n] for n in part.indicator])
        level = level_of(score)
        rows.append(
            {
                "dimension": dimension,
                "weight": weight,
                "score": score,
                "level": level,
                "level_name": level_name(level),
                "known": int(part.score.notna().sum()),
                "unknown": int(part.score.isna().sum()),
            }
        )
    frame = pd.DataFrame(rows)
    frame["level"] = frame.level.astype("Int64")
    return frame


def compare(before: MaturityReport, after: MaturityReport) -> pd.DataFrame:
    """Progress between two assessments: dimension, indicator, unit, before, after, change.

    Indicator rows compare values; rows with indicator "score" compare the 0-100 scores of each
    dimension and (dimension "overall") of the whole assessment.
    """

    def rows(report: MaturityReport) -> pd.DataFrame:
        values = report.indicators[["dimension", "indicator", "unit", "value"]]
        scores = report.dimensions[["dimension", "score"]].rename(columns={"score": "value"})
        scores = scores.assign(indicator="score", unit="score")
        overall = pd.DataFrame(
            [{"dimension": "overall", "indicator": "score", "unit": "score",
              "value": report.score}]
        )  # fmt: skip
        return pd.concat([values, scores, overall], ignore_index=True)

    keys = ["dimension", "indicator", "unit"]
    old, new = rows(before), rows(after)
    # Rows in the order of the later report, then those only the earlier one has.
    order = pd.concat([new[keys], old[keys]]).drop_duplicates().reset_index(drop=True)
    merged = order.merge(old, on=keys, how="left").merge(new, on=keys, how="left",
                                                         suffixes=("_b", "_a"))  # fmt: skip
    merged = merged.rename(columns={"value_b": "before", "value_a": "after"})
    merged["change"] = merged.after - merged.before
    return merged[[*keys, "before", "after", "change"]]
