"""Checks of a question before it is computed: a filter that can match nothing, an unknown name
or an impossible number is a clear error naming what is known, never a silent empty table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING

from omnimetrics.errors import ConfigError, did_you_mean
from omnimetrics.vocabulary import EVENT_TYPES, SALES_CHANNELS

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

ATTRIBUTION_KEYS = ("channel", "campaign")
"""What attribution credit can be cut by: the labels of journey touches."""


def known(option: str, values: Iterable[str], choices: Sequence[str], what: str) -> None:
    """Every value is one of `choices`; else an error naming the first unknown one."""
    for value in values:
        if value not in choices:
            raise ConfigError(
                f"{option} {value!r}: not a known {what}. " + did_you_mean(value, choices)
            )


def at_least(option: str, value: int | None, low: int) -> None:
    if value is not None and (isinstance(value, bool) or value < low):
        raise ConfigError(f"{option} must be a whole number of at least {low}; got {value}.")


def at_most(option: str, value: int | None, high: int) -> None:
    if value is not None and value > high:
        raise ConfigError(f"{option} must be at most {high:,}; got {value:,}.")


FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)


def day(option: str, value: date | None) -> None:
    """A day a question may name: within 1900-2199 (beyond, it is a typo, and date arithmetic
    overflows)."""
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise ConfigError(f"{option} {value}: give a day between {FIRST_DAY} and {LAST_DAY}.")


def funnel_steps(steps: Sequence[str]) -> None:
    if len(steps) < 2:
        raise ConfigError("A funnel needs at least two steps, e.g. visit,product_view,checkout.")
    known("--funnel step", steps, EVENT_TYPES, "event type")


def sales_channels(values: Sequence[str]) -> None:
    known("--sales-channel", values, SALES_CHANNELS, "sales channel")


def period(wh: Warehouse, since: date | None, until: date | None) -> None:
    """The days asked for overlap the orders: else say which days the data covers."""
    day("--since", since)
    day("--until", until)
    if since is not None and until is not None and since > until:
        raise ConfigError(f"--since {since} is after --until {until}: swap them.")
    if (since is None and until is None) or "orders" not in wh.tables():
        return
    orders = wh.table("orders")
    first, last = orders.timestamp.min().execute(), orders.timestamp.max().execute()
    if first is None:
        return
    first_day, last_day = first.date(), last.date()
    if (since is not None and since > last_day) or (until is not None and until < first_day):
        asked = f"{since or '...'} to {until or '...'}"
        raise ConfigError(f"No orders from {asked}: the data covers {first_day} to {last_day}.")
