"""The KPI catalogue: every KPI declared once, by keyword, in the `KPIS` registry.

Formulas and sources: docs/metrics.md (generated from this catalogue). The measures shared by
several KPIs are declared once, so that the engine fetches each in one scan of its fact.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from omnimetrics.metrics.kpi_definition import KPI, Measure
from omnimetrics.registry import Registry
from omnimetrics.vocabulary import SCORE_RANGES


@cache
def event_count(kind: str) -> Measure:
    """Touchpoints of one event type (one Measure per kind: fetched once however many KPIs
    read it)."""
    return Measure(
        fact="interactions", column="event_id", agg="count", where=lambda t: t.event_type == kind
    )


@cache
def events_count(kinds: tuple[str, ...]) -> Measure:
    """Touchpoints of any of these event types."""
    return Measure(
        fact="interactions",
        column="event_id",
        agg="count",
        where=lambda t: t.event_type.isin(list(kinds)),
    )


ORDER_DIMS = ("channel", "sales_channel", "fulfilment", "store")
TOUCH_DIMS = ("channel", "campaign", "device", "store")
SPEND_DIMS = ("channel", "campaign")
SURVEY_DIMS = ("channel", "store", "preceding_channel")
FULFILMENT_DIMS = ("channel", "sales_channel", "store")

SESSION_SALES_CHANNELS = ("web", "app")
"""Sales channels whose orders are placed in a tracked session (web and app hits make sessions):
the orders a conversion rate on sessions counts. A marketplace sale is online but not in our
sessions; a store or call-centre sale is in none."""
UNBOUNDED = (-math.inf, math.inf)

REVENUE = Measure(fact="orders", column="revenue", agg="sum")
BUYER_REVENUE = Measure(
    fact="orders", column="revenue", agg="sum", where=lambda t: t.person_id.notnull()
)
"""Revenue of the orders linked to a person: the customers that buyer counts are."""
BUYER_MARGIN = Measure(
    fact="orders", column="margin", agg="sum", where=lambda t: t.person_id.notnull()
)
SESSION_ORDERS = Measure(
    fact="orders",
    column="order_id",
    agg="count",
    where=lambda t: t.sales_channel.isin(list(SESSION_SALES_CHANNELS)) & t.tracked,
)
"""Web and app orders of persons whose sessions are tracked (not those of persons who refused
the journeys' consent purpose, whose sessions are not in `events`): the orders of sessions."""
ORDERS = Measure(fact="orders", column="order_id", agg="count")
MARGIN = Measure(fact="orders", column="margin", agg="sum")
RETURNED = Measure(fact="orders", column="returned", agg="sum")
BUYERS = Measure(fact="orders", column="person_id", agg="nunique")
NEW = Measure(fact="orders", column="person_id", agg="nunique", where=lambda t: t.first_order)
RETURNING = Measure(
    fact="orders", column="person_id", agg="nunique", where=lambda t: ~t.first_order
)
CLICK_AND_COLLECT = Measure(
    fact="orders",
    column="order_id",
    agg="count",
    where=lambda t: t.fulfilment == "click_and_collect",
)
SHIP_FROM_STORE = Measure(
    fact="orders", column="order_id", agg="count", where=lambda t: t.fulfilment == "ship_from_store"
)
RETAINED = Measure(fact="retention", column="person_id", agg="count", where=lambda t: t.retained)
LOST = Measure(fact="retention", column="person_id", agg="count", where=lambda t: ~t.retained)
PREVIOUS_BUYERS = Measure(fact="retention", column="person_id", agg="count")
OMNICHANNEL = Measure(
    fact="activity", column="person_id", agg="count", where=lambda t: t.channels >= 2
)
OMNICHANNEL_BUYERS = Measure(
    fact="activity",
    column="person_id",
    agg="count",
    where=lambda t: (t.channels >= 2) & t.bought,
)

SPEND = Measure(fact="spend", column="spend", agg="sum")
AD_CLICKS = Measure(fact="spend", column="clicks", agg="sum")
AD_IMPRESSIONS = Measure(fact="spend", column="impressions", agg="sum")
SERVICE_SPEND = Measure(
    fact="spend", column="spend", agg="sum", where=lambda t: t.channel.isin(["call_centre", "chat"])
)
CREDITED_SESSION_ORDERS = Measure(
    fact="credited",
    column="credit",
    agg="sum",
    where=lambda t: t.sales_channel.isin(list(SESSION_SALES_CHANNELS)),
    tally=True,
)
CREDITED_NEW = Measure(fact="credited", column="credit", agg="sum", where=lambda t: t.first_order)
CREDITED_REVENUE = Measure(fact="credited", column="revenue", agg="sum")
CREDITED_MARGIN = Measure(fact="credited", column="margin", agg="sum")

SESSIONS = Measure(
    fact="interactions",
    column="session_id",
    agg="count",
    where=lambda t: t.is_touch & t.session_id.notnull(),
)
"""Sessions: their starts (read in the same scan as the other touchpoint measures)."""
VISIT_SECONDS = Measure(
    fact="interactions",
    column="duration_seconds",
    agg="mean",
    where=lambda t: (t.event_type == "visit") & t.duration_seconds.notnull(),
)
OPENS = Measure(fact="email_opens", column="event_id", agg="count")
HUMAN_OPENS = Measure(
    fact="email_opens", column="event_id", agg="count", where=lambda t: ~t.machine
)
MACHINE_OPENS = Measure(
    fact="email_opens", column="event_id", agg="count", where=lambda t: t.machine
)
EMAIL_SENDS = event_count("email_send")
EMAIL_CLICKS = event_count("email_click")
CONTACTS = events_count(("call", "chat"))
INTERACTIONS = events_count(("ad_click", "social_engagement", "email_click", "sms_click"))
REACH = events_count(("ad_impression", "social_impression", "email_send", "sms_send"))


def answers(survey: str, *, at_least: float | None = None, at_most: float | None = None) -> Measure:
    """Answers to one kind of survey, optionally only those scoring within bounds."""

    def keep(t):
        kept = t.survey_type == survey
        if at_least is not None:
            kept &= t.score >= at_least
        if at_most is not None:
            kept &= t.score <= at_most
        return kept

    return Measure(fact="feedback", column="score", agg="count", where=keep)


def mean_score(survey: str) -> Measure:
    """The mean score of one kind of survey."""
    return Measure(
        fact="feedback", column="score", agg="mean", where=lambda t: t.survey_type == survey
    )


KPIS: Registry[KPI] = Registry("KPI")
"""Every KPI by name, in declaration order."""


def declare(**fields: Any) -> KPI:
    """Declare a KPI in `KPIS` (a name declared twice is an error)."""
    return KPIS.add(fields["name"], KPI(**fields))


def get_kpi(name: str) -> KPI:
    """The KPI of this name; an unknown name says which are close."""
    return KPIS[name]


# --- sales ------------------------------------------------------------------------------

declare(
    name="revenue", label="Revenue", unit="currency", higher_is_better=True,
    formula="sum of order revenue (every valid order, whatever the buyer's consent)",
    numerator=REVENUE, needs=("orders",), dimensions=ORDER_DIMS,
)  # fmt: skip
declare(
    name="orders", label="Orders", unit="count", higher_is_better=True,
    formula="number of orders (cancelled ones left out)",
    numerator=ORDERS, needs=("orders",), dimensions=ORDER_DIMS,
)  # fmt: skip
declare(
    name="average_basket", label="Average basket", unit="currency", higher_is_better=True,
    formula="revenue / orders",
    numerator=REVENUE, denominator=ORDERS, needs=("orders",), dimensions=ORDER_DIMS,
)  # fmt: skip
declare(
    name="margin", label="Margin", unit="currency", higher_is_better=True,
    formula="sum of margin (or revenue - cost of goods)",
    numerator=MARGIN, needs=("orders.margin|orders.cost_of_goods",), dimensions=ORDER_DIMS,
    bounds=UNBOUNDED,
)  # fmt: skip

# --- customers --------------------------------------------------------------------------

declare(
    name="buyers", label="Buyers", unit="count", higher_is_better=True, group="customers",
    formula="distinct persons who ordered",
    numerator=BUYERS, needs=("orders",), dimensions=ORDER_DIMS,
)  # fmt: skip
declare(
    name="new_customers", label="New customers", unit="count", higher_is_better=True,
    group="customers", formula="distinct persons whose first order falls in the period",
    numerator=NEW, needs=("orders",), dimensions=ORDER_DIMS,
)  # fmt: skip
declare(
    name="returning_customers", label="Returning customers", unit="count",
    higher_is_better=True, group="customers",
    formula="distinct persons ordering in the period who had ordered before",
    numerator=RETURNING, needs=("orders",), dimensions=ORDER_DIMS,
)  # fmt: skip
declare(
    name="repeat_purchase_rate", label="Repeat purchase rate", unit="share",
    higher_is_better=True, group="customers", formula="returning customers / buyers",
    numerator=RETURNING, denominator=BUYERS, needs=("orders",), dimensions=ORDER_DIMS,
)  # fmt: skip
declare(
    name="retention_rate", label="Retention", unit="share", higher_is_better=True,
    group="customers",
    formula="buyers of the previous period who buy again in this one / buyers of the previous "
    "period",
    numerator=RETAINED, denominator=PREVIOUS_BUYERS, needs=("orders",),
)  # fmt: skip
declare(
    name="churn_rate", label="Churn", unit="share", higher_is_better=False, group="customers",
    formula="buyers of the previous period who do not buy in this one / buyers of the previous "
    "period",
    numerator=LOST, denominator=PREVIOUS_BUYERS, needs=("orders",),
)  # fmt: skip
declare(
    name="clv_historical", label="Historical customer value", unit="currency",
    higher_is_better=True, group="customers",
    formula="revenue of the orders of identified persons / those persons (buyers) over the "
    "period (grain total: lifetime so far): orders linked to no person (no identifier, or "
    "consent refused) are in neither; cut by channel_mix to compare omnichannel and "
    "single-channel customers",
    numerator=BUYER_REVENUE, denominator=BUYERS, needs=("orders",), dimensions=ORDER_DIMS,
)  # fmt: skip
declare(
    name="clv_margin", label="Historical customer margin", unit="currency",
    higher_is_better=True, group="customers",
    formula="margin of the orders of identified persons / those persons (buyers)",
    numerator=BUYER_MARGIN, denominator=BUYERS, needs=("orders.margin|orders.cost_of_goods",),
    dimensions=ORDER_DIMS, stand_in="clv_historical", bounds=UNBOUNDED,
)  # fmt: skip

# --- marketing --------------------------------------------------------------------------

declare(
    name="spend", label="Spend", unit="currency", higher_is_better=False, group="marketing",
    formula="media spend",
    numerator=SPEND, needs=("spend",), dimensions=SPEND_DIMS,
)  # fmt: skip
declare(
    name="cac", label="CAC", unit="currency", higher_is_better=False, group="marketing",
    formula="spend / new customers (blended); by channel or campaign: spend / first orders "
    "credited to it (last touch)",
    numerator=SPEND, denominator=NEW, credited_denominator=CREDITED_NEW,
    needs=("spend", "orders"), dimensions=SPEND_DIMS,
)  # fmt: skip
declare(
    name="roas", label="ROAS", unit="ratio", higher_is_better=True, group="marketing",
    formula="revenue / spend (blended); by channel or campaign: credited revenue / spend",
    numerator=REVENUE, denominator=SPEND, credited_numerator=CREDITED_REVENUE,
    needs=("spend", "orders"), dimensions=SPEND_DIMS,
)  # fmt: skip
declare(
    name="roi", label="ROI", unit="ratio", higher_is_better=True, group="marketing",
    formula="(margin - spend) / spend; by channel or campaign: credited margin",
    numerator=MARGIN, denominator=SPEND, net=True, credited_numerator=CREDITED_MARGIN,
    needs=("spend", "orders.margin|orders.cost_of_goods"), dimensions=SPEND_DIMS,
    bounds=UNBOUNDED,
)  # fmt: skip
declare(
    name="ltv_cac", label="LTV / CAC", unit="ratio", higher_is_better=True, group="marketing",
    formula="historical customer margin (customer value when no margin is known) / CAC; "
    "under 3 is flagged",
    numerator=BUYER_MARGIN, ratio_of=("clv_margin", "cac"), flag_below=3.0,
    needs=("orders", "spend"), bounds=UNBOUNDED,
)  # fmt: skip

# --- conversion -------------------------------------------------------------------------

declare(
    name="conversion_rate", label="Conversion rate", unit="share", higher_is_better=True,
    group="conversion",
    formula="web and app orders / sessions (web and app visits), both of the persons whose "
    "sessions are tracked (consent); by channel or campaign: web and app orders credited to "
    "it (last touch) / its sessions",
    numerator=SESSION_ORDERS, credited_numerator=CREDITED_SESSION_ORDERS, denominator=SESSIONS,
    needs=("events", "orders"), dimensions=("channel", "campaign"),
)  # fmt: skip
declare(
    name="omnichannel_conversion_rate", label="Omnichannel conversion rate", unit="share",
    higher_is_better=True, group="conversion",
    formula="persons who interacted on 2+ marketing channels in the period and ordered in it "
    "(any sales channel) / persons who interacted on 2+ channels; interactions are what the "
    "person does (visits, clicks, push opens, store visits, calls, chats, QR scans, promo "
    "redemptions, app installs), not what is sent or shown (sends, impressions, email opens, "
    "mail drops), and a purchase is not a channel",
    numerator=OMNICHANNEL_BUYERS, denominator=OMNICHANNEL, needs=("events", "orders"),
)  # fmt: skip

# --- engagement -------------------------------------------------------------------------

declare(
    name="sessions", label="Sessions", unit="count", higher_is_better=True, group="engagement",
    formula="sessions (visits) started",
    numerator=SESSIONS, needs=("events",), dimensions=TOUCH_DIMS,
)  # fmt: skip
declare(
    name="ctr", label="Click-through rate", unit="share", higher_is_better=True,
    group="engagement",
    formula="ad clicks / ad impressions (ad platforms' figures in the spend table)",
    numerator=AD_CLICKS, denominator=AD_IMPRESSIONS,
    needs=("spend.impressions", "spend.clicks"), dimensions=SPEND_DIMS,
)  # fmt: skip
declare(
    name="interaction_rate", label="Interaction rate", unit="share", higher_is_better=True,
    group="engagement",
    formula="(ad clicks + social engagements + email clicks + SMS clicks) / (ad and social "
    "impressions + email and SMS sends)",
    numerator=INTERACTIONS, denominator=REACH, needs=("events",), dimensions=TOUCH_DIMS,
)  # fmt: skip
declare(
    name="email_open_rate", label="Email open rate", unit="share", higher_is_better=True,
    group="engagement", formula="email opens / email sends",
    numerator=OPENS, denominator=EMAIL_SENDS, needs=("events",), dimensions=TOUCH_DIMS,
)  # fmt: skip
declare(
    name="email_open_rate_human", label="Email open rate (machine opens left out)",
    unit="share", higher_is_better=True, group="engagement",
    formula="email opens more than a minute after their send / email sends",
    numerator=HUMAN_OPENS, denominator=EMAIL_SENDS, needs=("events",), dimensions=TOUCH_DIMS,
)  # fmt: skip
declare(
    name="machine_open_share", label="Machine opens", unit="share", higher_is_better=False,
    group="engagement",
    formula="email opens within a minute of their send (privacy proxies) / email opens",
    numerator=MACHINE_OPENS, denominator=OPENS, needs=("events",), dimensions=TOUCH_DIMS,
)  # fmt: skip
declare(
    name="email_click_rate", label="Email click rate", unit="share", higher_is_better=True,
    group="engagement", formula="email clicks / email sends",
    numerator=EMAIL_CLICKS, denominator=EMAIL_SENDS, needs=("events",), dimensions=TOUCH_DIMS,
)  # fmt: skip
declare(
    name="email_click_to_open_rate", label="Email click-to-open rate", unit="share",
    higher_is_better=True, group="engagement",
    formula="email clicks / human email opens (a click after a machine open only counts too, so "
    "it can pass 1)",
    numerator=EMAIL_CLICKS, denominator=HUMAN_OPENS, needs=("events",), dimensions=TOUCH_DIMS,
    bounds=(0.0, math.inf),
)  # fmt: skip
declare(
    name="sms_click_rate", label="SMS click rate", unit="share", higher_is_better=True,
    group="engagement", formula="SMS clicks / SMS sends",
    numerator=event_count("sms_click"), denominator=event_count("sms_send"),
    needs=("events",), dimensions=TOUCH_DIMS,
)  # fmt: skip
declare(
    name="push_open_rate", label="Push open rate", unit="share", higher_is_better=True,
    group="engagement", formula="push opens / push sends",
    numerator=event_count("push_open"), denominator=event_count("push_send"),
    needs=("events",), dimensions=TOUCH_DIMS,
)  # fmt: skip
declare(
    name="social_engagement_rate", label="Social engagement rate", unit="share",
    higher_is_better=True, group="engagement",
    formula="social engagements / social impressions",
    numerator=event_count("social_engagement"), denominator=event_count("social_impression"),
    needs=("events",), dimensions=TOUCH_DIMS,
)  # fmt: skip
declare(
    name="app_installs", label="App installs", unit="count", higher_is_better=True,
    group="engagement", formula="app installs",
    numerator=event_count("app_install"), needs=("events",), dimensions=TOUCH_DIMS,
)  # fmt: skip
declare(
    name="time_on_site", label="Time on site/app", unit="seconds", higher_is_better=True,
    group="engagement", formula="mean duration of visits",
    numerator=VISIT_SECONDS, needs=("touchpoints.duration_seconds",), dimensions=TOUCH_DIMS,
)  # fmt: skip

# --- surveys ----------------------------------------------------------------------------

declare(
    name="nps", label="NPS", unit="score", higher_is_better=True, group="surveys",
    formula="% promoters (9-10) - % detractors (0-6) of NPS answers",
    numerator=answers("nps", at_least=9), minus=answers("nps", at_most=6),
    denominator=answers("nps"), scale=100.0, needs=("feedback",), dimensions=SURVEY_DIMS,
    bounds=(-100.0, 100.0),
)  # fmt: skip
declare(
    name="csat", label="CSAT", unit="share", higher_is_better=True, group="surveys",
    formula="answers of 4 or 5 (top-2 box) / CSAT answers",
    numerator=answers("csat", at_least=4), denominator=answers("csat"),
    needs=("feedback",), dimensions=SURVEY_DIMS,
)  # fmt: skip
declare(
    name="ces", label="CES", unit="score", higher_is_better=False, group="surveys",
    formula="mean Customer Effort Score (1-7, lower is easier)",
    numerator=mean_score("ces"), needs=("feedback",), dimensions=SURVEY_DIMS,
    bounds=SCORE_RANGES["ces"],
)  # fmt: skip
declare(
    name="review_score", label="Review score", unit="score", higher_is_better=True,
    group="surveys", formula="mean review score (1-5)",
    numerator=mean_score("review"), needs=("feedback",), dimensions=SURVEY_DIMS,
    bounds=SCORE_RANGES["review"],
)  # fmt: skip

# --- operations -------------------------------------------------------------------------

declare(
    name="return_rate", label="Return rate", unit="share", higher_is_better=False,
    group="operations", formula="returned amount / revenue",
    numerator=RETURNED, denominator=REVENUE, needs=("orders",), dimensions=ORDER_DIMS,
)  # fmt: skip
declare(
    name="click_and_collect_share", label="Click & collect share", unit="share",
    higher_is_better=True, group="operations",
    formula="orders fulfilled by click & collect / orders",
    numerator=CLICK_AND_COLLECT, denominator=ORDERS, needs=("orders.fulfilment",),
    dimensions=FULFILMENT_DIMS,
)  # fmt: skip
declare(
    name="ship_from_store_share", label="Ship-from-store share", unit="share",
    higher_is_better=True, group="operations", formula="orders shipped from a store / orders",
    numerator=SHIP_FROM_STORE, denominator=ORDERS, needs=("orders.fulfilment",),
    dimensions=FULFILMENT_DIMS,
)  # fmt: skip
declare(
    name="contacts", label="Service contacts", unit="count", higher_is_better=False,
    group="operations", formula="calls and chats",
    numerator=CONTACTS, needs=("events",), dimensions=("channel", "store"),
)  # fmt: skip
declare(
    name="cost_per_contact", label="Cost per contact", unit="currency", higher_is_better=False,
    group="operations",
    formula="spend of the service channel (call centre, chat) / its calls and chats",
    numerator=SERVICE_SPEND, denominator=CONTACTS, needs=("spend", "events"),
    dimensions=("channel",),
)  # fmt: skip


KPI_SETS = {
    "store_chain_ecommerce": (
        "revenue", "orders", "average_basket", "new_customers", "repeat_purchase_rate",
        "conversion_rate", "omnichannel_conversion_rate", "cac", "roas", "click_and_collect_share",
        "ship_from_store_share", "return_rate", "nps", "csat",
    ),
    "pure_online": (
        "revenue", "orders", "average_basket", "sessions", "conversion_rate", "new_customers",
        "repeat_purchase_rate", "cac", "roas", "ctr", "email_open_rate_human",
        "email_click_to_open_rate", "time_on_site", "return_rate",
    ),
    "services_call_centre": (
        "revenue", "new_customers", "repeat_purchase_rate", "contacts", "cost_per_contact", "ces",
        "csat", "nps", "cac",
    ),
    "acquisition": ("new_customers", "cac", "roas", "conversion_rate", "ctr", "spend"),
    "retention": ("repeat_purchase_rate", "returning_customers", "email_click_rate", "nps"),
    "engagement": (
        "interaction_rate", "ctr", "email_open_rate", "email_open_rate_human",
        "email_click_to_open_rate", "sms_click_rate", "social_engagement_rate", "app_installs",
        "time_on_site",
    ),
}  # fmt: skip
"""Starting sets by business type (seed 003) and objective."""
