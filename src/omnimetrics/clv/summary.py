"""The RFM summary of transactions (frequency, recency, T, monetary value), the input of the
BG/NBD, Pareto/NBD and Gamma-Gamma models, computed in the engine; definitions and sources in
docs/cohorts-and-rfm.md."""

from __future__ import annotations

from datetime import UTC, date, datetime

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.errors import ConfigError, SchemaError, did_you_mean

UNITS = {"D": "day", "W": "week", "M": "month"}
"""Time units of the summary: a purchase is a period with at least one transaction; recency,
T and the holdout's duration are whole periods (weeks start on Monday, months are calendar
months)."""
_UNIT_NAMES = {name: unit for unit, name in UNITS.items()}
RFM_KEY = ("frequency", "recency", "T")
"""The columns the purchase models read; the compressed summary counts customers per triple."""


def time_unit(unit: str) -> str:
    """The unit letter ("D", "W" or "M") of a letter or a name ("day", "week", "month")."""
    letter = _UNIT_NAMES.get(unit, unit)
    if letter not in UNITS:
        raise ConfigError(
            f"Unknown time unit {unit!r}. " + did_you_mean(unit, [*UNITS, *_UNIT_NAMES])
        )
    return letter


def require_columns(table: ir.Table, needed: list[str], what: str) -> None:
    """Refuse a table without the columns a computation names, with the closest names."""
    missing = [c for c in needed if c not in table.columns]
    if missing:
        hints = " ".join(did_you_mean(c, table.columns) for c in missing)
        raise SchemaError(f"{what} lacks the column(s) {missing}. {hints}")


EPOCH = date(1970, 1, 1)


def day_number(at: ir.Value, what: str = "the timestamp column") -> ir.IntegerValue:
    """Days from 1970-01-01 to a date, or to a timestamp's UTC day (whatever the session's
    time zone); a text column is refused."""
    if at.type().is_date():
        return at.epoch_days().cast(dt.int64)
    if at.type().is_timestamp():
        return (at.epoch_seconds() // 86_400).cast(dt.int64)
    raise SchemaError(
        f"{what} must be a date or a timestamp; got {at.type()}. Parse it first, e.g. "
        "DuckDB's read_csv(..., dateformat='%Y%m%d') or t.col.as_date('%Y%m%d') in Ibis."
    )


def period_index(days: ir.IntegerValue, unit: str) -> ir.IntegerValue:
    """The number of the period holding a day (`day_number`): consecutive periods have
    consecutive numbers, so a difference of two is a count of whole periods."""
    if unit == "D":
        return days
    if unit == "W":
        # 1970-01-01 is a Thursday: adding 3 days makes Monday the first day of each week.
        return ((days + 3) // 7).cast(dt.int64)
    day = ibis.literal(EPOCH) + days.as_interval("D")
    return (day.year() * 12 + day.month() - 1).cast(dt.int64)


def period_start(index: ir.IntegerValue, unit: str) -> ir.DateValue:
    """The first day of the period numbered `index` (the inverse of `period_index`)."""
    if unit == "D":
        return ibis.literal(EPOCH) + index.as_interval("D")
    if unit == "W":
        return ibis.literal(EPOCH) + (index * 7 - 3).as_interval("D")
    return ibis.date(index // 12, index % 12 + 1, 1)


def _utc_day(end: date | datetime) -> date:
    """The day of a calibration or observation end (a datetime's UTC day; naive is UTC)."""
    if isinstance(end, datetime):
        return (end.astimezone(UTC) if end.tzinfo else end).date()
    return end


def _literal_period(end: date, unit: str) -> ir.IntegerValue:
    return period_index(day_number(ibis.literal(end, dt.date)), unit)


def rfm_summary(
    transactions: ir.Table,
    *,
    customer: str = "person_id",
    timestamp: str = "at",
    amount: str | None = "revenue",
    unit: str = "D",
    calibration_end: date | datetime | None = None,
    observation_end: date | datetime | None = None,
) -> ir.Table:
    """One row per customer: `customer_id, frequency, recency, T, monetary_value`.

    Transactions in the same period are one purchase (their amounts summed); frequency counts
    the purchases after the first, recency the periods from the first purchase to the last,
    T those from the first purchase to `calibration_end` (default: the period of the latest
    transaction); monetary_value is the mean value of the repeat purchases (0 without any).
    Only customers whose first purchase is not after `calibration_end` are summarised; rows
    without a customer or a time are left out. A null amount adds nothing to its purchase's
    value; a purchase with no known amount is left out of the mean.

    With `observation_end` the purchases after the calibration period, up to that end, give
    `frequency_holdout` (purchases), `monetary_value_holdout` (their mean value, 0 without
    any) and `duration_holdout` (periods from calibration end to observation end).
    `amount=None` leaves out the value columns.

    >>> import ibis
    >>> from datetime import date
    >>> orders = ibis.memtable({"person_id": ["a", "a", "a", "b"],
    ...     "at": [date(2024, 1, 1), date(2024, 1, 1), date(2024, 1, 4), date(2024, 1, 2)],
    ...     "revenue": [10.0, 5.0, 20.0, 7.0]})
    >>> rfm_summary(orders).order_by("customer_id").to_pyarrow().to_pylist()[0]
    {'customer_id': 'a', 'frequency': 1, 'recency': 3, 'T': 3, 'monetary_value': 20.0}
    """
    unit = time_unit(unit)
    needed = [customer, timestamp, *([amount] if amount else [])]
    require_columns(transactions, needed, "The transactions table")
    if observation_end is not None and calibration_end is None:
        raise ConfigError("A holdout needs its start: give calibration_end with observation_end.")
    calibration_day = None if calibration_end is None else _utc_day(calibration_end)
    observation_day = None if observation_end is None else _utc_day(observation_end)
    if calibration_day and observation_day and observation_day < calibration_day:
        raise ConfigError(
            f"observation_end ({observation_end}) must not be before calibration_end "
            f"({calibration_end})."
        )
    known = transactions[customer].notnull() & transactions[timestamp].notnull()
    rows = transactions.filter(known)
    rows = rows.select(
        customer_id=rows[customer],
        period=period_index(day_number(rows[timestamp], f"The transactions' {timestamp!r}"), unit),
        value=rows[amount].cast(dt.float64) if amount else ibis.literal(None, dt.float64),
    )
    purchases = rows.group_by(["customer_id", "period"]).agg(value=rows.value.sum())
    if calibration_day is None:
        # The latest time read from the rows, not from `purchases`: the engine computes those once.
        latest = transactions.filter(known)[timestamp].max()
        end = period_index(day_number(latest), unit).as_scalar()
        calibration = purchases
    else:
        end = _literal_period(calibration_day, unit)
        calibration = purchases.filter(purchases.period <= end)
    summary = _calibration(calibration, end, with_value=amount is not None)
    if observation_day is None:
        return summary
    last = _literal_period(observation_day, unit)
    holdout = purchases.filter((purchases.period > end) & (purchases.period <= last))
    return _with_holdout(summary, holdout, last - end, with_value=amount is not None)


def _calibration(purchases: ir.Table, end: ir.IntegerValue, *, with_value: bool) -> ir.Table:
    """frequency, recency, T and monetary_value of each customer's purchases up to `end`."""
    value = purchases.value
    per = purchases.group_by("customer_id").agg(
        first=purchases.period.min(),
        last=purchases.period.max(),
        purchases=purchases.count(),
        total=value.sum(),
        valued=value.count(),
        first_value=value.argmin(purchases.period),
    )
    columns = {
        "frequency": (per.purchases - 1).cast(dt.int64),
        "recency": (per["last"] - per["first"]).cast(dt.int64),
        "T": (end - per["first"]).cast(dt.int64),
    }
    if with_value:
        # The first purchase's value taken out of the sums: the mean of the repeat purchases.
        repeat_total = per.total.fill_null(0.0) - per.first_value.fill_null(0.0)
        repeat_valued = per.valued - per.first_value.notnull().cast(dt.int64)
        columns["monetary_value"] = ibis.cases(
            (repeat_valued > 0, repeat_total / repeat_valued), else_=0.0
        ).cast(dt.float64)
    return per.select("customer_id", **columns)


def _with_holdout(
    summary: ir.Table, holdout: ir.Table, duration: ir.IntegerValue, *, with_value: bool
) -> ir.Table:
    """The summary with the holdout's purchases of its customers (0 for those without)."""
    per = holdout.group_by("customer_id").agg(
        frequency_holdout=holdout.count(), monetary_value_holdout=holdout.value.mean()
    )
    joined = summary.left_join(per, "customer_id")
    columns = {"frequency_holdout": joined.frequency_holdout.fill_null(0).cast(dt.int64)}
    if with_value:
        columns["monetary_value_holdout"] = joined.monetary_value_holdout.fill_null(0.0)
    columns["duration_holdout"] = duration.cast(dt.int64)
    return joined.select(*(summary[c] for c in summary.columns), **columns)


def compress_rfm(summary: ir.Table) -> ir.Table:
    """The distinct (frequency, recency, T) rows of an RFM summary with `weight`, the number of
    customers sharing each: what the purchase models' likelihood needs, much shorter.

    >>> import ibis
    >>> rfm = ibis.memtable({"frequency": [0, 0, 2], "recency": [0, 0, 5], "T": [9, 9, 9]})
    >>> compress_rfm(rfm).to_pandas()
       frequency  recency  T  weight
    0          0        0  9       2
    1          2        5  9       1
    """
    require_columns(summary, list(RFM_KEY), "The RFM summary")
    grouped = summary.group_by(list(RFM_KEY)).agg(weight=summary.count().cast(dt.int64))
    return grouped.order_by(list(RFM_KEY))
