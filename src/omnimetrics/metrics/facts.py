"""The engine tables KPIs are computed from ("facts"), built once per run.

Every fact has `at` (a timestamp, UTC), `person_id` where a person is known, and the dimension
columns it can be cut by, with the same names everywhere: `channel`, `campaign`, `device`,
`sales_channel`, `fulfilment`, `store`, plus every segment column of the person (joined on
`person_id` when asked for). For orders, `channel` is the sales channel (web, app, store...); for
touches and spend it is the marketing channel.

Business totals are totals; consent limits what is linked to a person: every valid order and
survey answer is a row, without a person when that person refused the journeys' consent purpose
(`[journeys] consent_purpose`); touchpoints of such a person are not in `events` at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from omnimetrics.errors import ConfigError
from omnimetrics.privacy import refusing_persons
from omnimetrics.vocabulary import SESSION_EVENTS

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

GRAINS = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y", "total": None}
OPEN_SECONDS_MACHINE = 60
"""An email open this soon after its send is taken as machine-made (privacy proxies prefetch)."""
ENGAGING_EVENTS = (*SESSION_EVENTS, "ad_click", "email_click", "sms_click", "push_open",
                   "social_engagement", "store_visit", "call", "chat", "qr_scan",
                   "promo_redemption", "app_install")  # fmt: skip
"""Interactions a person makes (a visit, a click, a call, a store visit), as opposed to what is
sent or shown to them (sends, impressions, mail drops) and email opens (which privacy proxies
make on delivery): the interactions that count in the omnichannel conversion rate."""


_SHARED_PERSONS: ContextVar[dict[tuple[int, date | None], ir.Table] | None] = ContextVar(
    "shared_persons", default=None
)


@contextmanager
def shared_persons() -> Iterator[None]:
    """Inside the block, the `Facts` of one warehouse and day compute the persons' segments once
    (several KPI tables cut by segments: `pages.store_pages`). The data must not change inside."""
    token = _SHARED_PERSONS.set({})
    try:
        yield
    finally:
        _SHARED_PERSONS.reset(token)


class Facts:
    """Lazily built, cached fact tables of one warehouse over [since, until] at one grain."""

    def __init__(
        self,
        wh: Warehouse,
        *,
        grain: str = "month",
        since: date | None = None,
        until: date | None = None,
        attribution_model: str = "last_touch",
    ) -> None:
        if grain not in GRAINS:
            raise ConfigError(f"Unknown grain {grain!r}; choose from {list(GRAINS)}.")
        self.wh = wh
        self.grain = grain
        self.since = since
        self.until = until
        self.attribution_model = attribution_model
        self.per_measure_persons = False
        self.measured: dict = {}
        self._has: dict[str, bool] = {}
        """Aggregates already fetched, by (measure, dimensions)."""

    # --- what is there -------------------------------------------------------------------

    def has(self, need: str) -> bool:
        """Whether `table` or `table.column` exists and `table.column` holds a value (asked once
        per run, however many KPIs need it)."""
        if need not in self._has:
            self._has[need] = self._check(need)
        return self._has[need]

    def _check(self, need: str) -> bool:
        table, _, column = need.partition(".")
        if table not in self.wh.tables():
            return False
        if not column:
            return True
        t = self.wh.table(table)
        if column not in t.columns:
            return False
        return bool(t[column].notnull().any().execute())

    # --- periods and segments ------------------------------------------------------------

    def period(self, at: ir.TimestampValue) -> ir.Value:
        unit = GRAINS[self.grain]
        if unit is None:
            return ibis.literal(self.since or date(1970, 1, 1)).cast(dt.date)
        return at.truncate(unit).cast(dt.date)

    def window(self, table: ir.Table) -> ir.Table:
        """Rows of `table` whose `at` falls in [since, until] (whole days, UTC)."""
        if self.since is not None:
            table = table.filter(table.at >= datetime.combine(self.since, datetime.min.time(), UTC))
        if self.until is not None:
            end = datetime.combine(self.until, datetime.min.time(), UTC) + timedelta(days=1)
            table = table.filter(table.at < end)
        return table

    @cached_property
    def coverage(self) -> tuple[date, date] | None:
        """The first day of the data and the day after its last, kept within [since, until]: the
        business's own dated records (orders, touchpoints, survey answers) say how far the
        data goes. A period not
        covered from its start to its end is partial (`compute_kpis`). None: no data."""
        firsts, lasts = [], []
        for name in ("orders", "touchpoints", "feedback"):
            if name in self.wh.tables():
                t = self.wh.table(name)
                row = t.aggregate(first=t.timestamp.min(), last=t.timestamp.max()).execute()
                row = row.iloc[0]
                if not pd.isna(row["first"]):
                    firsts.append(pd.Timestamp(row["first"]).date())
                    lasts.append(pd.Timestamp(row["last"]).date())
        if not firsts:
            return None
        first, last = min(firsts), max(lasts) + timedelta(days=1)
        if self.since is not None:
            first = max(first, self.since)
        if self.until is not None:
            last = min(last, self.until + timedelta(days=1))
        return first, last

    @cached_property
    def persons(self) -> ir.Table:
        """One row per person with their segment columns (`metrics.segments`); computed once
        per warehouse and day inside `shared_persons()`."""
        from omnimetrics.metrics.segments import person_segments

        shared, key = _SHARED_PERSONS.get(), (id(self.wh), self.until)
        if shared is not None and key in shared:
            return shared[key]
        persons = self.wh.materialize(person_segments(self.wh, as_of=self.until))
        if shared is not None:
            shared[key] = persons
        return persons

    def cut(self, fact: ir.Table, dims: Sequence[str]) -> ir.Table:
        """The fact with `period` and, for segment dimensions, the person's segment joined."""
        missing = [d for d in dims if d not in fact.columns]
        if missing:
            persons = self.persons
            unknown = [d for d in missing if d not in persons.columns]
            if unknown:
                raise KeyError(unknown[0])
            fact = fact.left_join(persons.select("person_id", *missing), "person_id").drop(
                "person_id_right"
            )
        return fact.mutate(period=self.period(fact.at))

    # --- facts ---------------------------------------------------------------------------

    def unlinked_if_refused(self, table: ir.Table) -> ir.Table:
        """`table` with no person on the rows of persons who refused the journeys' consent
        purpose: their rows still count in totals, never in person-level figures. `tracked` is
        false on those rows: their behaviour (sessions, clicks) is not in `events` either."""
        purpose = self.wh.settings.journeys.consent_purpose
        refusing = refusing_persons(self.wh, purpose) if purpose else None
        if refusing is None:
            return table.mutate(tracked=ibis.literal(True))
        refused = table.person_id.isin(refusing.person_id).fill_null(False)
        return table.mutate(person_id=ibis.cases((refused, ibis.null(dt.string)),
                                                 else_=table.person_id),
                            tracked=~refused)  # fmt: skip

    @cached_property
    def orders(self) -> ir.Table:
        """Every valid (not cancelled) order: business totals count them all; a person who
        refused consent is not linked to theirs (no person, no first order, `tracked` false)."""
        from omnimetrics.journeys import conversions

        every = replace(self.wh.settings.journeys, consent_purpose=None)
        orders = self.unlinked_if_refused(conversions(self.wh, every))
        unknown = ibis.null(dt.boolean)
        first = ibis.cases((orders.person_id.isnull(), unknown), else_=orders.first_order)
        orders = orders.mutate(first_order=first)
        margin = orders.margin if "margin" in orders.columns else ibis.null(dt.float64)
        if "cost_of_goods" in orders.columns:
            margin = ibis.coalesce(margin, orders.revenue - orders.cost_of_goods)
        fact = orders.select(
            at=orders.timestamp, person_id=orders.person_id, order_id=orders.order_id,
            revenue=orders.revenue.cast(dt.float64), margin=margin.cast(dt.float64),
            returned=orders.returned_amount.fill_null(0.0).cast(dt.float64),
            first_order=orders.first_order, channel=orders.sales_channel,
            sales_channel=orders.sales_channel, fulfilment=orders.fulfilment,
            store=orders.store_id, tracked=orders.tracked,
        )  # fmt: skip
        return self.wh.materialize(self.window(fact))

    @cached_property
    def events(self) -> ir.Table:
        events = self.wh.table("events")
        if "duration_seconds" not in events.columns:  # built by an earlier version
            events = events.mutate(duration_seconds=ibis.null(dt.float64))
        fact = events.select(
            at=events.timestamp, person_id=events.person_id, event_id=events.event_id,
            event_type=events.event_type, channel=events.channel, campaign=events.campaign,
            device=events.device_type, store=events.store_id, session_id=events.session_id,
            is_touch=events.is_touch, duration_seconds=events.duration_seconds,
        )  # fmt: skip
        return self.window(fact)  # `events` is a table already: no copy

    @cached_property
    def interactions(self) -> ir.Table:
        """Every touchpoint of a known person (anonymous cookies and devices included) with its
        channel: sends, opens, clicks, installs, calls. Tracked behaviour is analytics: the
        touchpoints of persons who refused the consent purpose are not in `events`, so not here."""
        return self.events

    @cached_property
    def email_opens(self) -> ir.Table:
        """Email opens flagged `machine` when they come within a minute of their send."""
        touches = self.interactions
        mail = touches.filter(touches.event_type.isin(["email_send", "email_open"]))
        running = ibis.cumulative_window(group_by=["person_id", "campaign"],
                                         order_by=["at", "event_id"])  # fmt: skip
        sent = ibis.cases((mail.event_type == "email_send", mail.at), else_=ibis.null(dt.timestamp))
        mail = mail.mutate(_sent=sent.max().over(running))
        opens = mail.filter(mail.event_type == "email_open")
        lag = opens.at.epoch_seconds() - opens._sent.epoch_seconds()
        machine = opens.person_id.notnull() & lag.notnull() & (lag < OPEN_SECONDS_MACHINE)
        return opens.mutate(machine=machine).drop("_sent")

    @cached_property
    def credited(self) -> ir.Table:
        """Journey touches with their credit under the attribution model (default last touch)."""
        from omnimetrics.attribution.registry import get_model
        from omnimetrics.attribution.rules import credit_columns
        from omnimetrics.journeys import journey_touches

        touches = journey_touches(self.wh)
        spec = get_model(self.attribution_model)
        credited = credit_columns(touches, [spec])
        credit = credited[f"credit_{spec.name}"]
        orders = self.orders.select("order_id", "margin")
        joined = credited.left_join(orders, "order_id")
        fact = joined.select(
            at=joined.order_at, person_id=joined.person_id, order_id=joined.order_id,
            channel=joined.channel, campaign=joined.campaign, sales_channel=joined.sales_channel,
            first_order=joined.first_order, credit=credit,
            revenue=(credit * joined.revenue).cast(dt.float64),
            margin=(credit * joined.margin).cast(dt.float64),
        )  # fmt: skip
        return self.wh.materialize(self.window(fact))

    @cached_property
    def spend(self) -> ir.Table:
        spend = self.wh.table("spend")
        at = spend.date.cast(dt.Timestamp(timezone="UTC"))
        fact = spend.select(
            at=at, channel=spend.channel, campaign=spend.campaign,
            spend=spend.spend.cast(dt.float64), impressions=spend.impressions.cast(dt.float64),
            clicks=spend.clicks.cast(dt.float64),
        )  # fmt: skip
        return self.window(fact)

    @cached_property
    def feedback(self) -> ir.Table:
        """Survey answers with their person, the channel they are about and the journey before
        them: the answer's own channel, else that of the touchpoint it names, else that of the
        person's last touch before answering (`preceding_touch`, `preceding_channel`). Every
        answer counts; one of a person who refused consent is not linked to them."""
        from omnimetrics.identity import person_of_rows

        answers = self.unlinked_if_refused(person_of_rows(self.wh, self.wh.table("feedback")))
        answers = answers.mutate(
            preceding_touch=ibis.null(dt.string), preceding_channel=ibis.null(dt.string)
        )
        channel = answers.channel
        if "events" in self.wh.tables():
            events = self.wh.table("events")
            named = events.select(touchpoint_id="event_id", _touch_channel="channel")
            answers = answers.left_join(named, "touchpoint_id")
            touches = events.filter(events.is_touch).select(
                _person="person_id", _touch="event_id", _channel="channel", _at="timestamp"
            )
            before = answers.join(touches, [answers.person_id == touches._person,
                                            touches._at <= answers.timestamp])  # fmt: skip
            newest_first = [ibis.desc("_at"), ibis.desc("_touch")]
            latest = ibis.window(group_by="response_id", order_by=newest_first)
            last = before.mutate(_n=ibis.row_number().over(latest)).filter(lambda t: t._n == 0)
            last = last.select("response_id", _last_touch="_touch", _last_channel="_channel")
            answers = answers.left_join(last, "response_id")
            answers = answers.mutate(preceding_touch=answers._last_touch,
                                     preceding_channel=answers._last_channel)  # fmt: skip
            channel = ibis.coalesce(answers.channel, answers._touch_channel,
                                    answers._last_channel)  # fmt: skip
        fact = answers.select(
            at=answers.timestamp, person_id=answers.person_id, response_id=answers.response_id,
            survey_type=answers.survey_type, score=answers.score.cast(dt.float64),
            channel=channel, store=answers.store_id, preceding_touch=answers.preceding_touch,
            preceding_channel=answers.preceding_channel,
        )  # fmt: skip
        return self.wh.materialize(self.window(fact))

    @cached_property
    def retention(self) -> ir.Table:
        """For every buyer of a period, a row in the next period: `retained` when they bought
        again then (the base of retention and churn)."""
        unit = GRAINS[self.grain]
        if unit is None:
            raise ConfigError("Retention compares consecutive periods: choose a grain, not total.")
        step = {"D": ibis.interval(days=1), "W": ibis.interval(weeks=1),
                "M": ibis.interval(months=1), "Q": ibis.interval(months=3),
                "Y": ibis.interval(years=1)}[unit]  # fmt: skip
        sold = self.orders.filter(self.orders.person_id.notnull())
        buyers = sold.select("person_id", period=self.period(sold.at)).distinct()
        following = ibis.window(group_by="person_id", order_by="period")
        buyers = buyers.mutate(_next=buyers.period.lead().over(following))
        target = (buyers.period + step).cast(dt.date)
        buyers = buyers.filter(target <= buyers.period.max())  # no verdict on unseen periods
        return buyers.select(
            person_id=buyers.person_id,
            at=target.cast(dt.Timestamp(timezone="UTC")),
            retained=(buyers._next == target).fill_null(False),
        )

    @cached_property
    def activity(self) -> ir.Table:
        """One row per person and period in which they engaged: distinct marketing channels of
        the interactions they made themselves (`ENGAGING_EVENTS`) and whether they bought in the
        period: the base of the omnichannel conversion rate. Sends, impressions, opens and mail
        drops are left out: they measure how much was sent, not what the person did."""
        events = self.events
        engaging = events.event_type.isin(list(ENGAGING_EVENTS))
        engaged = events.filter(engaging & events.channel.notnull() & events.person_id.notnull())
        engaged = engaged.mutate(period=self.period(engaged.at))
        sold = self.orders.filter(self.orders.person_id.notnull())
        buyers = sold.select("person_id", period=self.period(sold.at)).distinct()
        buyers = buyers.mutate(_bought=ibis.literal(True))
        per = engaged.group_by(["person_id", "period"]).agg(channels=engaged.channel.nunique(),
                                                             at=engaged.at.min())  # fmt: skip
        per = per.left_join(buyers, ["person_id", "period"])
        return per.select("person_id", "period", "at", "channels",
                          bought=per._bought.fill_null(False))  # fmt: skip
