"""Channels: UTM parsing, click ids, referrer classification and channel grouping rules.

The default rules follow the GA4 default channel group (Google Analytics help, answer
9756891), extended with the offline and owned channels (store, call centre, chat, direct mail,
app, push, SMS). User rules from `[[channels.rules]]` in omnimetrics.toml come first. Every
classified touchpoint records the rule that matched and the version of the rule set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnimetrics.errors import ConfigError, did_you_mean
from omnimetrics.schema import CHANNELS

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse

UNASSIGNED = "unassigned"
"""A touchpoint no rule matched: reported by `unassigned_sources`, never hidden in 'other'."""

SEARCH_SITES = (
    "(^|\\.)(google|bing|yahoo|duckduckgo|ecosia|qwant|baidu|yandex|naver|ask|aol|startpage|"
    "seznam|brave)(\\.|$)"
)
SOCIAL_SITES = (
    "(^|\\.)(facebook|fb|instagram|twitter|x|t|linkedin|lnkd|pinterest|tiktok|snapchat|reddit|"
    "whatsapp|messenger|threads|tumblr|vk|meta)(\\.|$)"
)
VIDEO_SITES = "(^|\\.)(youtube|youtu|vimeo|dailymotion|twitch)(\\.|$)"
SHOPPING_SITES = (
    "(^|\\.)(amazon|ebay|etsy|shopping|shopify|rakuten|cdiscount|zalando|aliexpress)(\\.|$)"
)
PAID_MEDIUM = "^(.*cp.*|ppc|retargeting|paid.*)$"
SHOP_CAMPAIGN = "^(.*(([^a-df-z]|^)shop|shopping).*)$"

CLICK_IDS: dict[str, tuple[str, str]] = {
    "gclid": ("google", "cpc"),
    "gbraid": ("google", "cpc"),
    "wbraid": ("google", "cpc"),
    "msclkid": ("bing", "cpc"),
    "dclid": ("dv360", "display"),
    "ttclid": ("tiktok", "paid_social"),
    "li_fat_id": ("linkedin", "paid_social"),
}
"""Ad click ids found in landing URLs, with the source and medium they imply (fbclid is left out:
Facebook adds it to organic links too)."""

INHERITING_EVENTS = ("page_view", "product_view", "add_to_cart", "checkout")
"""Hits that carry no traffic source of their own: their session's channel applies."""

OFFLINE_EVENTS = {
    "store_visit": "store",
    "call": "call_centre",
    "chat": "chat",
    "mail_drop": "direct_mail",
}

HEARD_FROM = {
    "online ad": "display", "banner": "display", "instagram": "paid_social",
    "facebook": "paid_social", "tiktok": "paid_social", "social media": "paid_social",
    "youtube": "video", "search": "paid_search", "google": "paid_search", "email": "email",
    "newsletter": "email", "sms": "sms", "text message": "sms", "app": "push",
    "notification": "push", "catalogue": "direct_mail", "leaflet": "direct_mail",
    "mail": "direct_mail", "radio": "audio", "podcast": "audio",
}  # fmt: skip
"""Answers to "how did you hear of us" (lower-cased, trimmed) and the channel they name.
Answers that name no marketing channel (a friend, already a customer, tv, a billboard) are not
touches. "search" cannot tell paid from organic: it is counted as paid search."""

FIELDS = ("declared", "source", "medium", "campaign", "content", "term", "referrer_host",
          "click_id", "event_type")  # fmt: skip
OPERATORS = ("equals", "in", "matches", "contains", "missing")


@dataclass(frozen=True)
class Condition:
    """One test on a prepared field: equals / in / matches (regex search) / contains / missing."""

    field: str
    op: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.field not in FIELDS:
            raise ConfigError(
                f"Channel rule field {self.field!r}: " + did_you_mean(self.field, FIELDS)
            )
        if self.op not in OPERATORS:
            raise ConfigError(
                f"Channel rule operator {self.op!r}: " + did_you_mean(self.op, OPERATORS)
            )

    def expr(self, prepared: ir.Table) -> ir.BooleanValue:
        col = prepared[self.field]
        if self.op == "missing":
            return col.isnull() if self.value in (None, True) else col.notnull()
        if self.op == "equals":
            test = col == str(self.value).lower()
        elif self.op == "in":
            test = col.isin([str(v).lower() for v in self.value])
        elif self.op == "contains":
            test = col.contains(str(self.value).lower())
        else:
            test = col.re_search(str(self.value))
        return col.notnull() & test.fill_null(False)

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "op": self.op, "value": self.value}


@dataclass(frozen=True)
class Rule:
    """A channel and the conditions (all must hold) under which a touchpoint belongs to it."""

    name: str
    channel: str | None
    """None means: no channel of its own, the session's channel applies."""
    all_of: tuple[Condition, ...] = ()
    any_of: tuple[Condition, ...] = ()

    def expr(self, prepared: ir.Table) -> ir.BooleanValue:
        test: ir.BooleanValue = ibis.literal(True)
        for condition in self.all_of:
            test = test & condition.expr(prepared)
        if self.any_of:
            test = test & ibis.or_(*(c.expr(prepared) for c in self.any_of))
        return test


def _c(field: str, op: str, value: Any = None) -> Condition:
    return Condition(field, op, value)


def default_rules() -> tuple[Rule, ...]:
    """Offline and owned channels first, then the GA4 default channel group, in its order."""
    paid = _c("medium", "matches", PAID_MEDIUM)
    email_words = ["email", "e-mail", "e_mail", "e mail"]
    return (
        Rule("declared", None, (_c("declared", "missing", False),)),
        *(Rule(f"offline_{event}", channel, (_c("event_type", "equals", event),))
          for event, channel in OFFLINE_EVENTS.items()),
        Rule("inherits_session", None, (_c("event_type", "in", INHERITING_EVENTS),
                                        _c("source", "missing"), _c("medium", "missing"),
                                        _c("referrer_host", "missing"))),
        Rule("direct", "direct", (_c("source", "equals", "(direct)"),
                                  _c("medium", "in", ["(none)", "(not set)"]))),
        Rule("cross_network", "cross_network", (_c("campaign", "contains", "cross-network"),)),
        Rule("paid_shopping", "paid_shopping", (paid,), (
            _c("source", "matches", SHOPPING_SITES), _c("campaign", "matches", SHOP_CAMPAIGN))),
        Rule("paid_search", "paid_search", (_c("source", "matches", SEARCH_SITES), paid)),
        Rule("paid_social", "paid_social", (_c("source", "matches", SOCIAL_SITES), paid)),
        Rule("paid_video", "video", (_c("source", "matches", VIDEO_SITES), paid)),
        Rule("display", "display", (_c("medium", "in", ["display", "banner", "expandable",
                                                        "interstitial", "cpm"]),)),
        Rule("paid_other", "paid_other", (paid,)),
        Rule("organic_shopping", "organic_shopping", (), (
            _c("source", "matches", SHOPPING_SITES), _c("campaign", "matches", SHOP_CAMPAIGN))),
        Rule("organic_social", "organic_social", (), (
            _c("source", "matches", SOCIAL_SITES),
            _c("medium", "in", ["social", "social-network", "social-media", "sm",
                                "social network", "social media"]))),
        Rule("organic_video", "organic_video", (), (
            _c("source", "matches", VIDEO_SITES), _c("medium", "matches", "video"))),
        Rule("organic_search", "organic_search", (), (
            _c("source", "matches", SEARCH_SITES), _c("medium", "equals", "organic"))),
        Rule("referral", "referral", (_c("medium", "in", ["referral", "app", "link"]),)),
        Rule("email", "email", (), (_c("source", "in", email_words),
                                    _c("medium", "in", email_words))),
        Rule("affiliate", "affiliate", (_c("medium", "equals", "affiliate"),)),
        Rule("audio", "audio", (_c("medium", "equals", "audio"),)),
        Rule("sms", "sms", (), (_c("source", "equals", "sms"), _c("medium", "equals", "sms"))),
        Rule("push", "push", (), (_c("medium", "matches", "push$"),
                                  _c("medium", "matches", "mobile|notification"),
                                  _c("source", "equals", "firebase"))),
        Rule("app", "app", (_c("event_type", "in", ["app_install", "push_open"]),)),
    )  # fmt: skip


@dataclass(frozen=True)
class ChannelRules:
    """An ordered rule set: user rules, then the defaults. The first matching rule wins."""

    rules: tuple[Rule, ...]

    @classmethod
    def from_config(cls, user_rules: Sequence[Mapping[str, Any]] = ()) -> ChannelRules:
        """Rules from omnimetrics.toml, e.g.

        [[channels.rules]]
        channel = "paid_social"
        source = { in = ["meta", "fb"] }
        medium = { matches = "^paid" }
        """
        parsed = []
        for number, raw in enumerate(user_rules, start=1):
            raw = dict(raw)
            channel = raw.pop("channel", None)
            if not channel:
                raise ConfigError(f"channels.rules #{number}: give the `channel` it assigns.")
            name = str(raw.pop("name", f"user_{number}_{channel}"))
            conditions = []
            for field, spec in raw.items():
                if not isinstance(spec, Mapping) or len(spec) != 1:
                    raise ConfigError(
                        f'channels.rules #{number}: write {field} = {{ equals = "..." }} '
                        f"(or in, matches, contains, missing); got {spec!r}."
                    )
                [(op, value)] = spec.items()
                conditions.append(Condition(field, op, value))
            if not conditions:
                raise ConfigError(f"channels.rules #{number}: at least one condition is needed.")
            parsed.append(Rule(name, str(channel).lower(), tuple(conditions)))
        return cls((*parsed, *default_rules()))

    @property
    def version(self) -> str:
        """A short hash of the rule set: recorded with each classification, to audit changes."""
        canon = [
            {"name": r.name, "channel": r.channel,
             "all_of": [c.as_dict() for c in r.all_of], "any_of": [c.as_dict() for c in r.any_of]}
            for r in self.rules
        ]  # fmt: skip
        return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(sorted({r.channel for r in self.rules if r.channel} | set(CHANNELS)))


def _query_param(url: ir.StringValue, name: str) -> ir.StringValue:
    value = url.re_extract(f"[?&]{name}=([^&#]*)", 1).nullif("")
    return value.replace("+", " ").replace("%20", " ").lower()


def prepare(touchpoints: ir.Table) -> ir.Table:
    """Touchpoints with the fields the rules test: resolved source/medium/campaign, click id.

    Built in steps, each reading the columns of the one before, so that every value (a URL's
    host, a click id) is computed once per row however many fields use it.
    """
    t = touchpoints
    url = t.landing_url.lower()
    host = t.referrer.lower().re_extract("^[a-z][a-z0-9+.-]*://([^/:?#]+)", 1).nullif("")
    landing_host = url.re_extract("^[a-z][a-z0-9+.-]*://([^/:?#]+)", 1).nullif("")
    # A referrer from the site itself is navigation, not a traffic source.
    external = ibis.cases((host == landing_host, ibis.null(dt.string)), else_=host)
    t = t.mutate(
        _url=url,
        referrer_host=external.re_replace("^(www|m|l|lm|out)\\.", ""),
        click_id=ibis.cases(
            *((url.re_search(f"[?&]{name}="), ibis.literal(name)) for name in CLICK_IDS),
            else_=ibis.null(dt.string),
        ),
    )
    click_source = t.click_id.cases(*((k, v[0]) for k, v in CLICK_IDS.items()), else_=None)
    click_medium = t.click_id.cases(*((k, v[1]) for k, v in CLICK_IDS.items()), else_=None)
    referrer_medium = ibis.cases(
        (t.referrer_host.re_search(SEARCH_SITES), ibis.literal("organic")),
        (t.referrer_host.re_search(SOCIAL_SITES), ibis.literal("social")),
        (t.referrer_host.notnull(), ibis.literal("referral")),
        else_=ibis.null(dt.string),
    )
    has_web_context = t.landing_url.notnull() | t.referrer.notnull()
    t = t.mutate(
        _source=ibis.coalesce(
            t.source.lower().nullif(""), _query_param(t._url, "utm_source"), click_source,
            t.referrer_host,
            ibis.cases((has_web_context, ibis.literal("(direct)")), else_=ibis.null(dt.string)),
        ),
        _medium=ibis.coalesce(
            t.medium.lower().nullif(""), _query_param(t._url, "utm_medium"), click_medium,
            referrer_medium,
            ibis.cases((has_web_context, ibis.literal("(none)")), else_=ibis.null(dt.string)),
        ),
    )  # fmt: skip
    # A visit with no trace at all (no URL, referrer, source or medium) is direct traffic.
    bare_visit = (t.event_type == "visit") & t._source.isnull() & t._medium.isnull()
    return t.mutate(
        declared=t.channel.lower().nullif(""),
        source=ibis.cases((bare_visit, ibis.literal("(direct)")), else_=t._source),
        medium=ibis.cases((bare_visit, ibis.literal("(none)")), else_=t._medium),
        campaign=ibis.coalesce(t.campaign.lower().nullif(""), _query_param(t._url, "utm_campaign")),
        content=ibis.coalesce(t.content.lower().nullif(""), _query_param(t._url, "utm_content")),
        term=ibis.coalesce(t.term.lower().nullif(""), _query_param(t._url, "utm_term")),
    ).drop("_url", "_source", "_medium")


def classify(
    touchpoints: ir.Table, rules: ChannelRules | None = None, keep: Sequence[str] = ()
) -> ir.Table:
    """One row per touchpoint: event_id (+ `keep` columns), the channel and how it was decided.

    Columns: event_id, channel (null: inherits its session's channel), source, medium, campaign,
    content, term, click_id, channel_rule, rules_version.
    """
    rules = rules or ChannelRules.from_config()
    prepared = prepare(touchpoints)
    # The first matching rule, tested once per row; its name and channel are looked up from it.
    index = ibis.cases(
        *((rule.expr(prepared), number) for number, rule in enumerate(rules.rules)),
        else_=ibis.null(dt.int64),
    )
    prepared = prepared.mutate(_rule=index)
    rule = prepared._rule
    rule_name = rule.cases(*((n, r.name) for n, r in enumerate(rules.rules)), else_=UNASSIGNED)
    declared = [n for n, r in enumerate(rules.rules) if r.name == "declared"]
    channel = ibis.cases(
        (rule.isnull(), ibis.literal(UNASSIGNED)),
        (rule.isin(declared), prepared.declared),
        else_=rule.cases(
            *((n, r.channel) for n, r in enumerate(rules.rules) if r.channel),
            else_=ibis.null(dt.string),
        ),
    )
    return prepared.select(
        "event_id",
        *keep,
        channel=channel,
        source=prepared.source,
        medium=prepared.medium,
        campaign=prepared.campaign,
        content=prepared.content,
        term=prepared.term,
        click_id=prepared.click_id,
        channel_rule=rule_name,
        rules_version=ibis.literal(rules.version),
    )


def unassigned_sources(classified: ir.Table) -> ir.Table:
    """The source/medium pairs no rule matched, with counts: what a custom rule should cover."""
    rows = classified.filter(classified.channel == UNASSIGNED)
    return (
        rows.group_by(["source", "medium"])
        .agg(touchpoints=rows.count())
        .order_by(ibis.desc("touchpoints"))
    )


def classify_touchpoints(wh: Warehouse, rules: ChannelRules | None = None) -> ir.Table:
    """The warehouse's touchpoints classified with the configured rules (an expression)."""
    rules = rules or ChannelRules.from_config(wh.settings.channel_rules)
    return classify(wh.table("touchpoints"), rules)
