"""The maturity questionnaire (dimension `organisation`): what the data cannot tell, answered
0-4 or yes/partly/no, and scored next to the indicators."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from omnimetrics.errors import ConfigError, SourceError, did_you_mean
from omnimetrics.metrics.maturity.indicators import INDICATOR_COLUMNS
from omnimetrics.metrics.maturity.scale import indicator_score


@dataclass(frozen=True)
class Question:
    """A question of the maturity questionnaire (dimension `organisation`)."""

    key: str
    text: str
    advice: str


QUESTIONS: dict[str, Question] = {
    q.key: q
    for q in (
        Question("unified_customer_view",
                 "Does every channel (web, app, stores, call centre) see one customer profile "
                 "with purchases, contacts and preferences?",
                 "Give every channel one customer view: store staff and call-centre agents "
                 "should see web orders and recent contacts."),
        Question("single_stock_view",
                 "Is stock visible as one pool across warehouses, stores and the web (click & "
                 "collect, ship from store, order in store)?",
                 "Expose one stock view to every channel so a store can sell what the web holds "
                 "and the web can promise what a store holds."),
        Question("cross_channel_campaigns",
                 "Are campaigns planned across channels, with one calendar, one budget and one "
                 "message?",
                 "Plan campaigns in one cross-channel calendar with a shared budget instead of "
                 "one plan per channel."),
        Question("teams_across_channels",
                 "Are teams and incentives organised around the customer rather than per "
                 "channel (stores credited for web sales they influenced)?",
                 "Align incentives across channels: credit stores for the web sales they "
                 "influence and the web for the store visits it drives."),
        Question("shared_kpis",
                 "Are KPIs defined once and shared by the teams of every channel?",
                 "Define the KPIs once (conversion, basket, retention, CAC, ROI) and share the "
                 "same dashboard with every channel team."),
        Question("store_staff_tools",
                 "Do store staff have tools showing the customer's history, online stock and "
                 "orders?",
                 "Equip store staff with a tablet or app showing customer history, online stock "
                 "and web orders."),
        Question("same_services_everywhere",
                 "Are the same services offered on every channel (prices, promotions, loyalty, "
                 "returns anywhere)?",
                 "Offer the same prices, promotions, loyalty benefits and returns on every "
                 "channel."),
        Question("feedback_acted_upon",
                 "Is customer feedback collected on every channel and acted upon?",
                 "Collect feedback on every channel and review the weak points by channel every "
                 "month."),
        Question("business_case_tracked",
                 "Is there a business case with target KPI values, reviewed against results?",
                 "Write the business case with target KPI values (see `business_case`) and "
                 "review it against the measured results each quarter."),
        Question("executive_sponsor",
                 "Does the omnichannel programme have an executive sponsor and its own budget?",
                 "Name an executive sponsor for the omnichannel programme and give it a budget "
                 "that no single channel owns."),
    )
}  # fmt: skip
"""The questionnaire, after seed 003: channels merged into one customer experience."""

ANSWER_WORDS = {"no": 0, "partly": 2, "yes": 4}
ALLOWED_ANSWERS = "0, 1, 2, 3, 4 (0 = not at all, 4 = fully) or yes, partly, no"


def validate_answers(raw: Mapping[str, Any], *, source: str = "answers") -> dict[str, int]:
    """Answers as 0-4 integers; an error names the question and the allowed answers."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{source}: the answers must be a table of question = answer. "
            f"Got {type(raw).__name__} instead."
        )
    if isinstance(raw.get("answers"), Mapping):
        raw = raw["answers"]
    answers: dict[str, int] = {}
    for key, value in raw.items():
        if key not in QUESTIONS:
            raise ConfigError(
                f"{source}: unknown question {key!r}. " + did_you_mean(key, QUESTIONS)
            )
        answers[key] = _answer(value, key, source)
    return answers


def _answer(value: Any, key: str, source: str) -> int:
    if isinstance(value, str) and value.strip().lower() in ANSWER_WORDS:
        return ANSWER_WORDS[value.strip().lower()]
    number: Any = value
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if isinstance(number, int) and not isinstance(number, bool) and 0 <= number <= 4:
        return number
    raise ConfigError(
        f"{source}: the answer to {key!r} ({QUESTIONS[key].text}) must be {ALLOWED_ANSWERS}. "
        f"Got {value!r} instead."
    )


def load_answers(path: str | Path) -> dict[str, int]:
    """Questionnaire answers from a TOML or JSON file: `question = answer` (top level or under
    `[answers]`); answers 0-4 or yes/partly/no."""
    path = Path(path)
    if path.suffix.lower() not in (".toml", ".json"):
        raise ConfigError(f"{path}: answers must be a .toml or .json file.")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"Cannot read the answers file {path}: {exc.strerror or exc}.") from None
    try:
        raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()} ({exc}).") from None
    return validate_answers(raw, source=str(path))


def questionnaire_template() -> str:
    """A TOML answers file to fill in, one commented question per line."""
    lines = ["# Omnichannel maturity questionnaire: answer 0-4 or yes/partly/no.", "[answers]"]
    for q in QUESTIONS.values():
        lines += [f"# {q.text}", f'# {q.key} = "partly"']
    return "\n".join(lines) + "\n"


def answer_frame(answers: Mapping[str, int]) -> pd.DataFrame:
    """The answers as indicator rows of dimension `organisation` (0-4 read as 0-1), scored."""
    rows = [
        {
            "dimension": "organisation",
            "indicator": key,
            "value": value / 4,
            "unit": "answer",
            "poor": 0.0,
            "good": 1.0,
            "measures": QUESTIONS[key].text,
            "detail": f"answered {value}/4",
            "note": "",
            "score": indicator_score(value / 4, 0.0, 1.0),
        }
        for key, value in answers.items()
    ]
    return pd.DataFrame(rows, columns=[*INDICATOR_COLUMNS, "score"])


def answer_advice(answers: Mapping[str, int]) -> dict[str, str]:
    """The advice of each answered question, with its answer."""
    return {key: f"{QUESTIONS[key].advice} (answered {value}/4)" for key, value in answers.items()}


def unanswered_notes(answers: Mapping[str, int]) -> list[str]:
    """A note naming the questions left unanswered (none when all are answered)."""
    skipped = [k for k in QUESTIONS if k not in answers]
    if not skipped:
        return []
    return [
        f"questionnaire: {len(skipped)} question(s) unanswered, left out of the "
        f"organisation score (not counted as 0): {', '.join(skipped)}."
    ]
