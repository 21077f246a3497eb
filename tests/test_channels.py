"""Channel grouping: GA4's default rules, offline channels, user rules, versions, unknowns."""

from __future__ import annotations

import ibis
import pytest

from omnimetrics.channels import UNASSIGNED, ChannelRules, classify, unassigned_sources
from omnimetrics.errors import ConfigError

COLUMNS = ("event_id", "channel", "source", "medium", "campaign", "content", "term",
           "landing_url", "referrer", "event_type")  # fmt: skip


def touchpoints(rows: list[dict]) -> ibis.Table:
    data = {c: [r.get(c) for r in rows] for c in COLUMNS}
    data["event_id"] = [f"e{i}" for i in range(len(rows))]
    data["event_type"] = [r.get("event_type", "visit") for r in rows]
    return ibis.memtable(data, schema={c: "string" for c in COLUMNS})


def channels_of(rows: list[dict], rules: ChannelRules | None = None) -> list[str | None]:
    result = classify(touchpoints(rows), rules).order_by("event_id").to_pyarrow()
    order = sorted(range(len(rows)), key=lambda i: f"e{i}")
    by_id = dict(zip(order, result["channel"].to_pylist(), strict=True))
    return [by_id[i] for i in range(len(rows))]


# (source, medium, campaign, expected channel): GA4's documented definitions.
GA4_CASES = [
    ("(direct)", "(none)", None, "direct"),
    ("(direct)", "(not set)", None, "direct"),
    ("google", "cpc", "summer_cross-network", "cross_network"),
    ("google", "cpc", "shopping_feed", "paid_shopping"),
    ("amazon", "cpc", None, "paid_shopping"),
    ("google", "cpc", None, "paid_search"),
    ("bing", "ppc", None, "paid_search"),
    ("facebook", "paid_social", None, "paid_social"),
    ("instagram", "cpc", None, "paid_social"),
    ("youtube", "cpv", None, "video"),
    ("criteo", "display", None, "display"),
    ("taboola", "cpm", None, "display"),
    ("outbrain", "banner", None, "display"),
    ("partner", "retargeting", None, "paid_other"),
    ("ebay", "referral", None, "organic_shopping"),
    ("facebook", "referral", None, "organic_social"),
    ("newsletter_partner", "social", None, "organic_social"),
    ("youtube", "referral", None, "organic_video"),
    ("google", "organic", None, "organic_search"),
    ("qwant", "organic", None, "organic_search"),
    ("lefigaro.fr", "referral", None, "referral"),
    ("newsletter", "email", None, "email"),
    ("e-mail", "crm", None, "email"),
    ("awin", "affiliate", None, "affiliate"),
    ("spotify", "audio", None, "audio"),
    ("sms", "text", None, "sms"),
    ("firebase", "notification", None, "push"),
    ("app", "web-push", None, "push"),
]


@pytest.mark.parametrize(("source", "medium", "campaign", "expected"), GA4_CASES)
def test_ga4_default_channel_group(source, medium, campaign, expected):
    row = {"source": source, "medium": medium, "campaign": campaign}
    assert channels_of([row]) == [expected]


def test_utm_click_ids_and_referrers_from_urls():
    rows = [
        {
            "landing_url": "https://shop.example/p?utm_source=Google&utm_medium=CPC&utm_campaign=Brand"
        },
        {"landing_url": "https://shop.example/?gclid=abc123"},
        {"landing_url": "https://shop.example/?msclkid=x"},
        {"landing_url": "https://shop.example/?ttclid=x"},
        {"landing_url": "https://shop.example/", "referrer": "https://www.google.fr/"},
        {"landing_url": "https://shop.example/", "referrer": "https://l.instagram.com/"},
        {"landing_url": "https://shop.example/", "referrer": "https://t.co/abc"},
        {"landing_url": "https://shop.example/", "referrer": "https://www.qwant.com/?q=x"},
        {"landing_url": "https://shop.example/", "referrer": "https://www.leparisien.fr/a"},
        {"landing_url": "https://shop.example/a", "referrer": "https://shop.example/b"},
        {"landing_url": "https://shop.example/"},
        {},
    ]
    assert channels_of(rows) == [
        "paid_search", "paid_search", "paid_search", "paid_social", "organic_search",
        "organic_social", "organic_social", "organic_search", "referral", "direct", "direct",
        "direct",
    ]  # fmt: skip
    resolved = classify(touchpoints(rows[:1])).to_pyarrow().to_pylist()[0]
    assert (resolved["source"], resolved["medium"], resolved["campaign"]) == (
        "google",
        "cpc",
        "brand",
    )
    assert classify(touchpoints(rows[1:2])).to_pyarrow().to_pylist()[0]["click_id"] == "gclid"


def test_offline_declared_and_inheriting_events():
    rows = [
        {"event_type": "store_visit"},
        {"event_type": "call"},
        {"event_type": "chat"},
        {"event_type": "mail_drop"},
        {"event_type": "qr_scan", "channel": "Direct_Mail"},
        {"event_type": "email_open", "channel": "email"},
        {"event_type": "page_view"},
        {"event_type": "page_view", "referrer": "https://www.google.com/"},
    ]
    assert channels_of(rows) == [
        "store", "call_centre", "chat", "direct_mail", "direct_mail", "email", None,
        "organic_search",
    ]  # fmt: skip


def test_user_rules_come_first_and_change_the_version():
    rules = ChannelRules.from_config(
        [{"channel": "paid_social", "source": {"in": ["meta", "fb"]}, "medium": {"matches": "^paid"}},
         {"channel": "influencer", "campaign": {"contains": "influence"}}]
    )  # fmt: skip
    rows = [
        {"source": "meta", "medium": "paid"},
        {"source": "instagram", "medium": "social", "campaign": "influence_q3"},
        {"source": "unknownsite", "medium": "weird"},
    ]
    assert channels_of(rows, rules) == ["paid_social", "influencer", UNASSIGNED]
    assert rules.version != ChannelRules.from_config().version
    assert ChannelRules.from_config().version == ChannelRules.from_config().version
    assert "influencer" in rules.channels
    report = unassigned_sources(classify(touchpoints(rows), rules)).to_pyarrow().to_pylist()
    assert report == [{"source": "unknownsite", "medium": "weird", "touchpoints": 1}]
    first = classify(touchpoints(rows), rules).to_pyarrow().to_pylist()[0]
    assert first["channel_rule"] == "user_1_paid_social" and first["rules_version"] == rules.version


def test_bad_user_rules_are_explained():
    with pytest.raises(ConfigError, match="channel"):
        ChannelRules.from_config([{"source": {"equals": "x"}}])
    with pytest.raises(ConfigError, match="Did you mean 'medium'"):
        ChannelRules.from_config([{"channel": "x", "medum": {"equals": "x"}}])
    with pytest.raises(ConfigError, match="Did you mean 'matches'"):
        ChannelRules.from_config([{"channel": "x", "medium": {"match": "x"}}])
    with pytest.raises(ConfigError, match="equals"):
        ChannelRules.from_config([{"channel": "x", "medium": "cpc"}])
