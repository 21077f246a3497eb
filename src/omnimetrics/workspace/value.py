"""Workspace methods on customer value: cohorts, the RFM summary, lifetime value (docs/clv.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from omnimetrics.errors import ConfigError
from omnimetrics.results import Result
from omnimetrics.workspace import checks

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from omnimetrics.clv.value import ValueFit
    from omnimetrics.config import Settings
    from omnimetrics.metrics.facts import Facts
    from omnimetrics.warehouse import Warehouse

LTV_CAC_FLOOR = 3.0
"""The seeds' rule of thumb: a customer should bring at least three times what acquiring them
cost (LTV/CAC >= 3); channels under it are flagged."""
COHORT_BY = ("sales_channel", "acquisition_channel")
"""What a cohort can be cut by besides the person's segment columns."""


class ValueMethods:
    """Cohorts, the RFM summary and customer lifetime value."""

    warehouse: Warehouse
    settings: Settings

    def cohorts(self, *, unit: str = "month", by: Sequence[str] = (),
                until: date | None = None) -> Result:  # fmt: skip
        """Retention by acquisition cohort: customers active in each period since their first
        order, repeat purchase and cumulative revenue per customer; cut by the first sales
        channel, the acquisition channel (credited with the first order) or a segment."""
        from omnimetrics.clv.cohorts import cohorts

        checks.period(self.warehouse, None, until)
        facts = self._value_facts(until)
        orders = self._orders_by(facts, by)
        table = cohorts(orders, unit=unit, by=list(by), end=until)
        title = f"Retention by {unit} of acquisition" + (f", by {', '.join(by)}" if by else "")
        return Result.of("cohorts", title, table)

    def rfm(self, *, unit: str = "week", calibration_end: date | None = None,
            observation_end: date | None = None) -> Result:  # fmt: skip
        """Each customer's frequency (repeat purchases), recency, T and mean repeat-order value
        in `unit`, the input of the CLV models; with a holdout after `calibration_end`."""
        from omnimetrics.clv.summary import rfm_summary, time_unit

        orders = self._value_facts(None).orders
        summary = rfm_summary(orders, unit=time_unit(unit), calibration_end=calibration_end,
                              observation_end=observation_end)  # fmt: skip
        return Result.of("rfm", f"RFM summary (time unit: {unit})", summary)

    def clv(
        self,
        model: str = "bgnbd",
        *,
        unit: str = "week",
        horizon: int | None = None,
        discount_rate: float = 0.1,
        margin: float | None = None,
        calibration_end: date | None = None,
        by: str | None = None,
    ) -> Result:
        """Each customer's expected purchases over `horizon` units (default a year), P(alive),
        expected order value and CLV (`model` for purchases, Gamma-Gamma for spend, discounted at
        the yearly `discount_rate`, valued at `margin` of revenue: default the orders' own
        margin rate).

        Parts: the fitted parameters; value and LTV/CAC by acquisition channel (flagged under
        3); value by channel mix (omnichannel, online only...); value by the segment column
        `by` (e.g. rfm_segment); with `calibration_end`, the models are fitted up to that day
        and their predictions checked on the days after it.
        """
        from omnimetrics.clv.summary import rfm_summary, time_unit
        from omnimetrics.clv.value import value_result

        letter = time_unit(unit)
        checks.at_least("--horizon", horizon, 1)
        facts = self._value_facts(None)
        if by is not None:
            known = [c for c in facts.persons.columns if c != "person_id"]
            checks.known("--by", [by], known, "segment column")
        coverage = _extent(facts)
        last_day = coverage[1] - timedelta(days=1)
        if calibration_end is not None and not coverage[0] <= calibration_end < last_day:
            raise ConfigError(
                f"calibration_end {calibration_end} must fall within the data ({coverage[0]} to "
                f"{last_day}) and leave days after it for the holdout check."
            )
        observation_end = last_day if calibration_end is not None else None
        summary = rfm_summary(facts.orders, unit=letter, calibration_end=calibration_end,
                              observation_end=observation_end).to_pandas()  # fmt: skip
        rate, margin_note = self._margin_rate(facts, margin)
        result, fit = value_result(summary, model=model, horizon=horizon, unit=letter,
                                   discount_rate=discount_rate, margin=rate,
                                   holdout_from=calibration_end)  # fmt: skip
        parts = (*result.parts, *self._value_by(facts, fit, by))
        return replace(result, parts=parts, notes=(*result.notes, *margin_note))

    def omni_value(self, cut: date | None = None, window_days: float | None = None) -> Result:
        """Omnichannel vs single-channel value: the raw difference after `cut` (default: the
        middle of the data) between customers omnichannel at the cut and single-channel ones,
        and the effect of becoming omnichannel (risk-set matching: value in the `window_days`
        after the order in a second sales channel vs after an order of a single-channel
        customer alike at that moment; default 180 days, or a quarter of a shorter history),
        with intervals, estimands and caveat."""
        from omnimetrics.clv.omni import WINDOW_DAYS, omni_value

        facts = self._value_facts(None)
        coverage = _extent(facts)
        if cut is None:
            cut = coverage[0] + (coverage[1] - coverage[0]) / 2
        orders = facts.orders.filter(facts.orders.person_id.notnull())
        if window_days is None:  # 180 days, or a quarter of a shorter history
            window_days = min(WINDOW_DAYS, (coverage[1] - coverage[0]).days // 4)
        found = omni_value(orders, cut, window_days=max(window_days, 1))
        title = (f"Omnichannel vs single-channel value: raw after {found.cut:%Y-%m-%d} "
                 f"({found.post_days:.0f} days), and the effect of becoming omnichannel "
                 f"({found.window_days:.0f} days after)")  # fmt: skip
        strata = Result.of("omni_strata", "Strata of orders alike: becoming omnichannel or not",
                           found.strata)  # fmt: skip
        return Result.of("omni_value", title, found.table, parts=(strata,),
                         figures={"matched_share": found.matched_share,
                                  "window_days": found.window_days},
                         notes=(found.interval, found.caveat))  # fmt: skip

    # -- helpers ---------------------------------------------------------------------------------
    def _value_facts(self, until: date | None) -> Facts:
        from omnimetrics.metrics.facts import Facts

        return Facts(self.warehouse, grain="total", until=until)

    def _orders_by(self, facts: Facts, by: Sequence[str]) -> ir.Table:
        """The order fact of known persons with the `by` columns (a segment as the KPIs cut by
        it, the acquisition channel joined)."""
        from omnimetrics.clv.cohorts import acquisition_channels

        orders = facts.orders.filter(facts.orders.person_id.notnull())
        segments = [c for c in by if c not in COHORT_BY]
        if segments:
            known = [c for c in facts.persons.columns if c != "person_id"]
            checks.known("--by", segments, [*COHORT_BY, *known], "cohort dimension")
            orders = facts.cut(orders, segments)
        if "acquisition_channel" in by:
            acquired = acquisition_channels(facts.credited)
            orders = orders.left_join(acquired, "person_id").drop("person_id_right")
        return orders

    def _margin_rate(self, facts: Facts, margin: float | None) -> tuple[float, list[str]]:
        """The margin asked for, else the orders' margin over their revenue, else 1 (value
        in revenue, said in a note)."""
        if margin is not None:
            return float(margin), []
        orders = facts.orders
        known = orders.filter(orders.margin.notnull())
        row = known.aggregate(margin=known.margin.sum(), revenue=known.revenue.sum()).to_pandas()
        total, revenue = row.margin.iloc[0], row.revenue.iloc[0]
        if pd.isna(total) or not revenue or revenue <= 0 or total <= 0:
            return 1.0, ["No margin is known: CLV is in revenue. Give margin= (e.g. 0.3)."]
        return float(total / revenue), []

    def _value_by(self, facts: Facts, fit: ValueFit, by: str | None) -> list[Result]:
        """Mean CLV and LTV/CAC by acquisition channel, value by channel mix and by `by`."""
        from omnimetrics.clv.cohorts import acquisition_channels
        from omnimetrics.metrics.kpis import compute_kpis

        customers = fit.customers.rename(columns={"customer_id": "person_id"})
        orders = facts.orders.filter(facts.orders.person_id.notnull())
        spent = orders.group_by("person_id").agg(revenue=orders.revenue.sum()).to_pandas()
        customers = customers.merge(spent, on="person_id", how="left")
        # Lifetime value so far and to come: the margin on what they bought, plus their CLV.
        customers["ltv"] = customers.revenue.fillna(0.0) * fit.margin + customers.clv
        acquired = acquisition_channels(facts.credited).to_pandas()
        columns = list(dict.fromkeys(["channel_mix", *([by] if by else [])]))
        segments = facts.persons.select("person_id", *columns).to_pandas()
        rows = customers.merge(acquired, on="person_id", how="left").merge(
            segments, on="person_id", how="left"
        )
        rows["acquisition_channel"] = rows.acquisition_channel.fillna("(no attributable touch)")
        by_channel = _value_of(rows, "acquisition_channel")
        cac = compute_kpis(self.warehouse, ["cac"], by=["channel"], grain="total").table
        cac = cac.rename(columns={"channel": "acquisition_channel", "value": "cac"})
        by_channel = by_channel.merge(cac[["acquisition_channel", "cac"]], how="left",
                                      on="acquisition_channel")  # fmt: skip
        by_channel["ltv_cac"] = by_channel.mean_ltv / by_channel.cac.where(by_channel.cac > 0)
        by_channel["flag"] = np.where(by_channel.ltv_cac < LTV_CAC_FLOOR, "under 3", None)
        by_mix = _value_of(rows, "channel_mix")
        return [
            Result.of(
                "clv_by_channel",
                "Value by acquisition channel (last touch of the first "
                "order); LTV = margin so far + CLV; LTV/CAC under 3 flagged",
                by_channel,
            ),
            Result.of("clv_by_mix", "Value by channel mix (raw: not a causal difference)", by_mix),
            *([Result.of("clv_by_segment", f"Value by {by}", _value_of(rows, by))] if by else []),
        ]


def _value_of(rows: pd.DataFrame, by: str) -> pd.DataFrame:
    """customers, mean expected purchases, P(alive), CLV, lifetime value (margin so far plus
    CLV) and total CLV per value of `by`."""
    grouped = rows.groupby(by, dropna=False)
    return (
        grouped.agg(
            customers=("person_id", "size"),
            expected_purchases=("expected_purchases", "mean"),
            p_alive=("p_alive", "mean"),
            mean_clv=("clv", "mean"),
            mean_ltv=("ltv", "mean"),
            total_clv=("clv", "sum"),
        )
        .reset_index()
        .sort_values("total_clv", ascending=False, ignore_index=True)
    )


def _extent(facts: Facts) -> tuple[date, date]:
    """The data's first day and the day after its last (`Facts.coverage`), or why there is none."""
    if facts.coverage is None:
        raise ConfigError("No orders: ingest orders, then run `omnimetrics run`.")
    return facts.coverage
