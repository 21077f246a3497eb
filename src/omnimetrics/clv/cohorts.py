"""Acquisition cohorts computed in the engine: retention (customers active in each period since
their first order), the repeat-purchase curve and cumulative revenue per customer, optionally
cut by what the person was acquired through; definitions in docs/cohorts-and-rfm.md."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.clv.summary import (
    day_number,
    period_index,
    period_start,
    require_columns,
    time_unit,
)

COHORT_COLUMNS = ("cohort", "period", "customers", "active", "rate", "orders", "revenue",
                  "repeat_customers", "repeat_rate", "cumulative_revenue",
                  "cumulative_revenue_per_customer")  # fmt: skip
"""The columns of `cohorts`, the `by` columns coming after `cohort`."""


def cohorts(
    orders: ir.Table,
    *,
    customer: str = "person_id",
    timestamp: str = "at",
    amount: str = "revenue",
    unit: str = "month",
    by: str | Sequence[str] = (),
    end: date | None = None,
) -> ir.Table:
    """One row per acquisition cohort, `by` value and period since acquisition (0, 1, ... up to
    the period of `end`, default the latest order's): `cohort` (the first day of the period of
    the customer's first order), `period`, `customers` (the cohort's size), `active` (customers
    with an order in that period) and `rate`, `orders` and `revenue` in the period,
    `repeat_customers` (with a second order by the end of the period) and `repeat_rate`,
    `cumulative_revenue` and `cumulative_revenue_per_customer`.

    unit: "week" (Monday to Sunday), "month" or "day" (UTC). by: columns of `orders` whose
    value on the customer's first order cuts the cohort: `sales_channel` gives the first sales
    channel; a segment column (constant per person) the segment; `acquisition_channel` joined
    from `acquisition_channels` the channel credited with the first order. The first order is
    the earliest (ties: the lowest `order_id` when there is one, then the lowest `by` value).
    Orders without a customer or a time, or after `end`, are left out.

    >>> import ibis
    >>> from datetime import date
    >>> orders = ibis.memtable({"person_id": ["a", "a", "b", "b"],
    ...     "at": [date(2024, 1, 5), date(2024, 2, 9), date(2024, 1, 20), date(2024, 1, 21)],
    ...     "revenue": [10.0, 30.0, 20.0, 5.0]})
    >>> cohorts(orders).select("cohort", "period", "active", "repeat_customers",
    ...                        "cumulative_revenue_per_customer").to_pandas()
          cohort  period  active  repeat_customers  cumulative_revenue_per_customer
    0 2024-01-01       0       2                 1                             17.5
    1 2024-01-01       1       1                 2                             32.5
    """
    unit = time_unit(unit)
    by = [by] if isinstance(by, str) else list(by)
    require_columns(orders, [customer, timestamp, amount, *by], "The orders table")
    kept = orders.filter(orders[customer].notnull() & orders[timestamp].notnull())
    kept = kept.mutate(_day=day_number(kept[timestamp], f"The orders' column {timestamp!r}"))
    if end is not None:
        kept = kept.filter(kept._day <= day_number(ibis.literal(end, dt.date)))
    first_orders = [kept[timestamp], *(["order_id"] if "order_id" in kept.columns else []), *by]
    ranked = kept.mutate(
        _n=ibis.row_number().over(group_by=kept[customer], order_by=first_orders),
        _period=period_index(kept._day, unit),
    )
    first = ranked.filter(ranked._n == 0).select(*by, customer_id=ranked[customer],
                                                 cohort=ranked._period)  # fmt: skip
    second = ranked.filter(ranked._n == 1).select(_id=ranked[customer], _second=ranked._period)
    acquired = first.left_join(second, first.customer_id == second._id).drop("_id")

    keys = ["cohort", *by]
    horizon = ranked._period.max().as_scalar()
    sizes = acquired.group_by(keys).agg(customers=acquired.count())
    grid = sizes.select(*keys, period=ibis.range(0, horizon - sizes.cohort + 1).unnest(),
                        customers=sizes.customers)  # fmt: skip

    per_period = ranked.group_by([ranked[customer].name("customer_id"), ranked._period]).agg(
        orders=ranked.count(), revenue=ranked[amount].sum()
    )
    active = per_period.join(acquired, "customer_id")
    active = active.select(*keys, period=active._period - active.cohort, active=ibis.literal(1),
                           orders=active.orders, revenue=active.revenue)  # fmt: skip
    repeated = acquired.filter(acquired._second.notnull())
    repeated = repeated.select(*keys, period=repeated._second - repeated.cohort,
                               repeaters=ibis.literal(1))  # fmt: skip
    # One union summed by key: groups (unlike joins) match null `by` values.
    zero = {"customers": 0, "active": 0, "orders": 0, "revenue": 0.0, "repeaters": 0}
    counts = ("customers", "active", "orders", "repeaters")

    def shaped(part: ir.Table) -> ir.Table:
        filled = {c: part[c] if c in part.columns else ibis.literal(v) for c, v in zero.items()}
        return part.select(*keys, "period", **{c: filled[c].cast(dt.int64) for c in counts},
                           revenue=filled["revenue"].cast(dt.float64))  # fmt: skip

    cells = ibis.union(shaped(grid), shaped(active), shaped(repeated))
    cells = cells.group_by([*keys, "period"]).agg(
        **{c: cells[c].sum() for c in (*counts, "revenue")}
    )
    running = ibis.cumulative_window(group_by=keys, order_by="period")
    cells = cells.mutate(
        repeat_customers=cells.repeaters.sum().over(running),
        cumulative_revenue=cells.revenue.sum().over(running),
    )
    table = cells.select(
        cohort=period_start(cells.cohort, unit),
        **{column: cells[column] for column in by},
        period=cells.period.cast(dt.int64),
        customers=cells.customers,
        active=cells.active,
        rate=cells.active / cells.customers,
        orders=cells.orders,
        revenue=cells.revenue,
        repeat_customers=cells.repeat_customers.cast(dt.int64),
        repeat_rate=cells.repeat_customers / cells.customers,
        cumulative_revenue=cells.cumulative_revenue,
        cumulative_revenue_per_customer=cells.cumulative_revenue / cells.customers,
    )
    return table.order_by(["cohort", *by, "period"])


def acquisition_channels(credited: ir.Table) -> ir.Table:
    """person_id, acquisition_channel: the marketing channel given the most credit for the
    person's first order by the attribution model (the `credited` fact: person_id, channel,
    first_order, credit); ties go to the first channel by name. A person whose first order has
    no attributable touch is not listed (a left join gives them a null channel).

    >>> import ibis
    >>> credited = ibis.memtable({"person_id": ["a", "a", "a", "b"],
    ...     "channel": ["email", "search", "email", "social"],
    ...     "first_order": [True, True, True, False], "credit": [0.25, 0.5, 0.25, 1.0]})
    >>> acquisition_channels(credited).to_pandas()
      person_id acquisition_channel
    0         a               email
    """
    require_columns(credited, ["person_id", "channel", "first_order", "credit"], "The credit table")
    first = credited.filter(credited.first_order.fill_null(False) & credited.person_id.notnull())
    shares = first.group_by(["person_id", "channel"]).agg(credit=first.credit.sum())
    most = ibis.window(group_by="person_id", order_by=[ibis.desc("credit"), "channel"])
    ranked = shares.mutate(_n=ibis.row_number().over(most))
    return ranked.filter(ranked._n == 0).select("person_id", acquisition_channel=ranked.channel)
