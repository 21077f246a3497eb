"""One vocabulary: identifier types, channels and sales channels with their kind, event types.

Declared once, here (plain Python, so settings and the CLI read it without loading an engine);
`schema.py` builds the table contracts on it, and nothing else redefines these names.
"""

from __future__ import annotations

from dataclasses import dataclass

IDENTIFIER_TYPES = ("anonymous_id", "device_id", "customer_id", "email", "phone", "loyalty_id")
"""Kinds of identifier a person can carry; email and phone are stored only as keyed hashes."""


@dataclass(frozen=True)
class ChannelKind:
    """How a channel is reached: `online` (a screen) or not, `costless` (no media spend)."""

    online: bool
    costless: bool = False

    @property
    def paid(self) -> bool:
        """Bought media: the channel carries spend."""
        return not self.costless


_ONLINE, _ONLINE_FREE = ChannelKind(online=True), ChannelKind(online=True, costless=True)
_OFFLINE, _OFFLINE_FREE = ChannelKind(online=False), ChannelKind(online=False, costless=True)

CHANNEL_KINDS: dict[str, ChannelKind] = {
    "paid_search": _ONLINE,
    "organic_search": _ONLINE_FREE,
    "paid_social": _ONLINE,
    "organic_social": _ONLINE_FREE,
    "display": _ONLINE,
    "video": _ONLINE,
    "email": _ONLINE,
    "sms": _ONLINE,
    "push": _ONLINE_FREE,
    "affiliate": _ONLINE,
    "referral": _ONLINE_FREE,
    "direct": _ONLINE_FREE,
    "app": _ONLINE_FREE,
    "store": _OFFLINE_FREE,
    "call_centre": _OFFLINE_FREE,
    "chat": _ONLINE_FREE,
    "direct_mail": _OFFLINE,
    "marketplace": _ONLINE,
    "paid_shopping": _ONLINE,
    "organic_shopping": _ONLINE_FREE,
    "organic_video": _ONLINE_FREE,
    "paid_other": _ONLINE,
    "cross_network": _ONLINE,
    "audio": _ONLINE,
}
"""The default channel vocabulary (marketing channels of touches and spend), each with its kind;
omnimetrics.toml can add channels (`[channels] extra`, taken as online and paid)."""

CHANNELS = tuple(CHANNEL_KINDS)
OFFLINE_CHANNELS = tuple(c for c, kind in CHANNEL_KINDS.items() if not kind.online)
"""Touches that happen away from a screen: a store visit, a call, a catalogue."""
COSTLESS_CHANNELS = frozenset(c for c, kind in CHANNEL_KINDS.items() if kind.costless)
"""Channels that carry no media spend (owned and earned media)."""

EVENT_TYPES = (
    "ad_impression",
    "ad_click",
    "visit",
    "page_view",
    "product_view",
    "add_to_cart",
    "checkout",
    "email_send",
    "email_open",
    "email_click",
    "sms_send",
    "sms_click",
    "push_send",
    "push_open",
    "social_impression",
    "social_engagement",
    "store_visit",
    "call",
    "chat",
    "qr_scan",
    "promo_redemption",
    "app_install",
    "mail_drop",
)

SESSION_EVENTS = ("visit", "page_view", "product_view", "add_to_cart", "checkout")
"""Web and app hits, grouped into sessions."""

TOUCH_EVENTS = ("ad_impression", "ad_click", "email_open", "email_click", "sms_click",
                "push_open", "social_impression", "social_engagement", "mail_drop", "qr_scan",
                "promo_redemption", "store_visit", "call", "chat")  # fmt: skip
"""Marketing and service interactions that are journey touches on their own (sends are not)."""

SALES_CHANNEL_ONLINE: dict[str, bool] = {
    "web": True,
    "app": True,
    "store": False,
    "call_centre": False,
    "marketplace": True,
}
"""Where an order is placed, and whether that is online (a screen) or offline (a till, a call)."""
SALES_CHANNELS = tuple(SALES_CHANNEL_ONLINE)
ONLINE_SALES = tuple(s for s, online in SALES_CHANNEL_ONLINE.items() if online)
OFFLINE_SALES = tuple(s for s, online in SALES_CHANNEL_ONLINE.items() if not online)
FULFILMENTS = ("delivery", "click_and_collect", "ship_from_store", "in_store", "digital")
ORDER_STATUSES = ("completed", "pending", "cancelled", "returned", "partially_returned")
SURVEY_TYPES = ("nps", "csat", "ces", "review")
SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7), "review": (1, 5)}
DEVICE_TYPES = ("desktop", "mobile", "tablet", "other")
CODE_TYPES = ("promo", "qr")

_CURRENCY_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
    """
CURRENCIES = frozenset(_CURRENCY_CODES.split())
"""ISO 4217 active currency codes."""
