"""The campaign calendar: always-on campaigns, seasonal sales, message sends, codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from omnimetrics.simulate._config import MAIL_SEASONS, SEASONS
from omnimetrics.simulate._util import Clock


@dataclass
class Campaign:
    """One campaign of one channel."""

    idx: int
    channel: str
    name: str
    kind: str  # always | season | demand | sends
    d0: int  # first active day
    d1: int  # day after the last active day
    weight: float = 1.0
    cpe: float = 0.0  # cost per exposure (per send, per click, per piece)
    beta_mult: float = 1.0
    affinity: str = "broad"
    promo_code: str | None = None
    discount: float = 0.0
    qr_code: str | None = None
    code_from: int = 0
    code_to: int = 0
    send_days: list[int] = field(default_factory=list)
    share: float = 0.0  # share of the eligible base reached by each send


@dataclass(frozen=True)
class Season:
    name: str
    word: str
    year: int
    start: int  # unclipped day number of the first day
    d0: int
    d1: int

    @property
    def campaign(self) -> str:
        return f"{self.name}_{self.year}"

    def code(self, tag: str) -> str:
        return f"{self.word}{self.year % 100:02d}{tag}"


def seasons_in_window(clock: Clock) -> list[Season]:
    out = []
    start = clock.start.date()
    for year in range(start.year - 1, start.year + clock.days // 365 + 2):
        for name, word, (m0, dd0), (m1, dd1) in SEASONS:
            first = (date(year, m0, dd0) - start).days
            last = (date(year, m1, dd1) - start).days + 1
            d0, d1 = max(first, 0), min(last, clock.days)
            if d1 - d0 >= 3:
                out.append(Season(name, word, year, first, d0, d1))
    return sorted(out, key=lambda s: s.d0)


def build_campaigns(clock: Clock) -> list[Campaign]:
    """Every campaign active in the window, in a fixed order."""
    seasons = seasons_in_window(clock)
    calendar = _Calendar(clock.days)
    _media(calendar, seasons)
    _messages(calendar, clock, seasons)
    _mail(calendar, seasons)
    return renumber([c for c in calendar.campaigns if c.kind != "sends" or c.send_days])


class _Calendar:
    """The campaigns added so far, numbered in the order they are added."""

    def __init__(self, days: int) -> None:
        self.days = days
        self.campaigns: list[Campaign] = []

    def add(self, channel: str, name: str, kind: str, d0: int = 0, d1: int | None = None,
            **kw) -> Campaign:  # fmt: skip
        """A campaign active on days [d0, d1) (default: the whole window)."""
        end = self.days if d1 is None else d1
        camp = Campaign(len(self.campaigns), channel, name, kind, d0, end, **kw)
        self.campaigns.append(camp)
        return camp


def _media(calendar: _Calendar, seasons: list[Season]) -> None:
    """Display, paid social, video, paid search and affiliate campaigns."""
    add = calendar.add
    add("display", "prospecting", "always", weight=0.6, cpe=1.0)
    add("display", "retargeting", "always", weight=0.4, cpe=1.3, beta_mult=1.3,
        affinity="retarget")  # fmt: skip
    for s in seasons:
        add("display", s.campaign, "season", s.d0, s.d1, weight=0.35, cpe=1.1, beta_mult=1.2)
    add("paid_social", "prospecting", "always", weight=0.5, cpe=0.9, affinity="social")
    add("paid_social", "retargeting", "always", weight=0.3, cpe=1.2, beta_mult=1.3,
        affinity="retarget")  # fmt: skip
    for s in seasons:
        add("paid_social", s.campaign, "season", s.d0, s.d1, weight=0.4, cpe=1.0, beta_mult=1.2,
            affinity="social", promo_code=s.code("SOC"), discount=0.15, code_from=s.d0,
            code_to=s.d1 + 14)  # fmt: skip
    add("video", "brand_awareness", "always", weight=0.6, cpe=2.2, affinity="video")
    for s in seasons:
        add("video", s.campaign, "season", s.d0, s.d1, weight=0.4, cpe=2.0, beta_mult=1.2,
            affinity="video")  # fmt: skip
    add("paid_search", "generic_search", "always", weight=0.6, cpe=0.8, affinity="search")
    add("paid_search", "product_ads", "always", weight=0.4, cpe=0.6, affinity="search")
    add("paid_search", "brand_search", "demand", cpe=0.3, beta_mult=0.0)
    add("affiliate", "cashback", "always", weight=0.6, cpe=0.4)
    add("affiliate", "vouchers", "always", weight=0.4, cpe=0.4)


def _messages(calendar: _Calendar, clock: Clock, seasons: list[Season]) -> None:
    """Email, SMS and push sends: weekly programmes and one campaign per season."""
    add, days = calendar.add, calendar.days
    day_numbers = np.arange(days)
    dow = clock.dow(day_numbers)
    tuesdays = day_numbers[dow == 1].tolist()
    thursdays = day_numbers[dow == 3].tolist()
    add("email", "newsletter", "sends", cpe=0.002, send_days=tuesdays)
    in_season = {d: s for s in seasons for d in range(s.d0, s.d1)}
    add("email", "weekly_offers", "sends", cpe=0.002,
        send_days=[d for d in thursdays if d not in in_season])  # fmt: skip
    for s in seasons:
        add("email", s.campaign, "sends", s.d0, s.d1, cpe=0.002, beta_mult=1.2,
            promo_code=s.code("EM"), discount=0.10, code_from=s.d0, code_to=s.d1 + 14,
            send_days=[d for d in thursdays if in_season.get(d) is s])  # fmt: skip

    add("sms", "store_event", "sends", cpe=0.05, share=0.15,
        send_days=list(range(12, days, 60)))  # fmt: skip
    for s in seasons:
        add("sms", s.campaign, "sends", s.d0, s.d1, cpe=0.05, share=0.3, beta_mult=1.2,
            promo_code=s.code("SMS"), discount=0.10, code_from=s.d0, code_to=s.d1 + 14,
            send_days=[s.d0])  # fmt: skip

    sundays = day_numbers[dow == 6].tolist()
    add("push", "weekly_picks", "sends", share=0.05, send_days=sundays)
    for s in seasons:
        add("push", s.campaign, "sends", s.d0, s.d1, share=0.3, beta_mult=1.2,
            send_days=[s.d0])  # fmt: skip


def _mail(calendar: _Calendar, seasons: list[Season]) -> None:
    """Direct mail: a drop before each mailed season, and the loyalty mailer."""
    add, days = calendar.add, calendar.days
    for s in seasons:
        drop = s.start - 5
        if s.name in MAIL_SEASONS and 0 <= drop < days:
            add("direct_mail", s.campaign, "sends", drop, s.d1, cpe=0.8, share=0.15,
                promo_code=s.code("DM"), discount=0.20, qr_code=f"QR-{s.code('')}",
                code_from=drop, code_to=s.d1 + 14, send_days=[drop])  # fmt: skip
    add("direct_mail", "loyalty_mailer", "sends", cpe=0.8, share=0.3, qr_code="QR-FIDELITE",
        code_from=0, code_to=days + 14, send_days=list(range(20, days, 180)))  # fmt: skip


def renumber(campaigns: list[Campaign]) -> list[Campaign]:
    for i, c in enumerate(campaigns):
        c.idx = i
    return campaigns
