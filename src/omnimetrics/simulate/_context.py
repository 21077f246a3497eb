"""What every generator needs: the rng, the people, the clock, the campaigns, the rows."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from omnimetrics.simulate._campaigns import Campaign
from omnimetrics.simulate._config import STYLE_MIX
from omnimetrics.simulate._events import ANON, APP_SLOT, CUSTOMER, DEVICE, EMAIL, Columns
from omnimetrics.simulate._people import People
from omnimetrics.simulate._util import Clock, choose


@dataclass
class Spend:
    """Daily spend rows, accumulated per campaign."""

    day: list[np.ndarray] = field(default_factory=list)
    camp: list[np.ndarray] = field(default_factory=list)
    spend: list[np.ndarray] = field(default_factory=list)
    impressions: list[np.ndarray] = field(default_factory=list)
    clicks: list[np.ndarray] = field(default_factory=list)

    def add(self, camp: int, day: np.ndarray, spend: np.ndarray, impressions: np.ndarray,
            clicks: np.ndarray) -> None:  # fmt: skip
        keep = spend > 0
        self.day.append(day[keep])
        self.camp.append(np.full(int(keep.sum()), camp, dtype=np.int16))
        self.spend.append(np.round(spend[keep], 2))
        self.impressions.append(impressions[keep].astype(np.int64))
        self.clicks.append(clicks[keep].astype(np.int64))


@dataclass
class Ctx:
    """What every generator needs."""

    rng: np.random.Generator
    people: People
    clock: Clock
    campaigns: list[Campaign]
    touches: Columns
    exposures: Columns
    spend: Spend = field(default_factory=Spend)

    def styles(self, channel: str, n: int) -> np.ndarray:
        mix = STYLE_MIX[channel]
        return np.array([s for s, _ in mix], dtype=np.int16)[
            choose(self.rng, [w for _, w in mix], n)
        ]

    def web_ids(self, person: np.ndarray, dev: np.ndarray, login: float) -> np.ndarray:
        """Identifier flags of a web/app row: the cookie or app id, plus a login sometimes."""
        reg = self.people.registered[person]
        u = self.rng.random(len(person))
        app = dev == APP_SLOT
        logged = reg & (u < np.where(app, 0.8, login))
        return (np.where(app, DEVICE, ANON) | np.where(logged, CUSTOMER, 0)).astype(np.uint8)

    def owned_ids(self, person: np.ndarray, alt: int, alt_share: float) -> np.ndarray:
        """CRM-side rows: customer_id, sometimes also (email) or instead (phone) `alt`."""
        u = self.rng.random(len(person)) < alt_share
        if alt == EMAIL:
            return np.where(u, CUSTOMER | EMAIL, CUSTOMER).astype(np.uint8)
        return np.where(u, alt, CUSTOMER).astype(np.uint8)
