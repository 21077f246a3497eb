"""Marketing: spend and paid exposures, owned messages, affiliates and background activity."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from omnimetrics.simulate._campaigns import Campaign
from omnimetrics.simulate._config import (
    BACKGROUND_MIX,
    CAUSAL,
    CH,
    CTR,
    EMAIL_CLICK_GIVEN_READ,
    EMAIL_SHARE_PER_SEND,
    ET,
    LIFT_CLICK,
    PAID_TARGET,
    PUSH_OPEN,
    RL,
    SMS_CLICK,
    STYLE_MIX,
)
from omnimetrics.simulate._events import (
    ANON,
    APP_SLOT,
    CUSTOMER,
    DEVICE,
    EMAIL,
    LOYALTY,
    P_CART,
    P_CHECKOUT,
    P_OS,
    P_PAGE,
    P_PRODUCT,
    P_STORE_SOURCE,
    P_VARIANT,
    PHONE,
    Columns,
)
from omnimetrics.simulate._people import People
from omnimetrics.simulate._util import (
    DAY,
    HOUR,
    MINUTE,
    PROFILE_OFFICE,
    PROFILE_STORE,
    PROFILE_WEB,
    Clock,
    choose,
    weighted_pick,
)

DOW_WEIGHT = np.array([0.95, 0.95, 1.0, 1.0, 1.05, 1.05, 1.0])  # Monday..Sunday


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


def affinity(people: People, kind: str, year: int) -> np.ndarray:
    """Relative chance that a person is reached by a campaign targeting `kind`."""
    young = np.exp(-np.clip(year - people.birth_year - 20, 0, None) / 25.0)
    act = people.activity.astype(np.float64)
    if kind == "retarget":
        return act**2 + 0.05
    if kind == "social":
        return (0.2 + young) * (0.5 + act)
    if kind == "video":
        return 0.6 + 0.4 * young
    if kind == "search":
        return act * (1.2 - people.store_share)
    return 0.5 + act


def paid_media(ctx: Ctx) -> None:
    """Daily spend per paid campaign; exposures ~ Poisson(spend / cost per exposure)."""
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    days = np.arange(clock.days)
    dow_w = DOW_WEIGHT[clock.dow(days)]
    year = clock.start.year
    for channel, target in PAID_TARGET.items():
        camps = [
            c for c in ctx.campaigns if c.channel == channel and c.kind in ("always", "season")
        ]
        base_w = sum(c.weight for c in camps if c.kind == "always")
        per_day = target * people.n / 365.0
        model = CAUSAL[channel]
        for camp in camps:
            active = (days >= camp.d0) & (days < camp.d1)
            noise = rng.lognormal(0.0, 0.2, clock.days)
            spend = per_day * camp.weight / base_w * dow_w * noise * active * camp.cpe
            spend = np.round(spend, 2)
            count = rng.poisson(spend / camp.cpe)
            total = int(count.sum())
            person = weighted_pick(rng, affinity(people, camp.affinity, year), total)
            day = np.repeat(days, count)
            t = clock.local_times(rng, day, PROFILE_WEB)
            slot = people.random_slot(rng, person)
            style = ctx.styles(channel, total)
            beta = model.beta * camp.beta_mult
            chan = CH[channel]
            if channel == "paid_search":
                rows = ctx.touches.add(
                    person=person, t=t, etype=ET["visit"], chan=chan, camp=camp.idx,
                    role=RL["exposure"], style=style, dev=slot,
                    ids=ctx.web_ids(person, slot, 0.2),
                )  # fmt: skip
                ctx.exposures.add(person=person, origin=t, chan=chan, camp=camp.idx, row=rows,
                                  session=rows, session_dev=slot, beta=beta,
                                  delay=model.mean_delay_days)  # fmt: skip
                ctr = rng.uniform(0.03, 0.07, clock.days)
                impressions = np.round(count / ctr)
                ctx.spend.add(camp.idx, days, spend, impressions, count)
                continue
            rows = ctx.touches.add(
                person=person, t=t, etype=ET["ad_impression"], chan=chan, camp=camp.idx,
                role=RL["exposure"], style=style, dev=slot, ids=np.uint8(ANON),
            )  # fmt: skip
            ctx.exposures.add(person=person, origin=t, chan=chan, camp=camp.idx, row=rows,
                              beta=beta, delay=model.mean_delay_days)  # fmt: skip
            clicked = rng.random(total) < CTR[channel]
            ct = np.minimum(t[clicked] + rng.integers(1, 60, int(clicked.sum())), clock.end - 1)
            ctx.touches.add(
                person=person[clicked], t=ct, etype=ET["visit"], chan=chan, camp=camp.idx,
                role=RL["engagement"], style=style[clicked], dev=slot[clicked],
                ids=ctx.web_ids(person[clicked], slot[clicked], 0.15),
            )  # fmt: skip
            clicks = np.bincount(day[clicked], minlength=clock.days)
            ctx.spend.add(camp.idx, days, spend, count, clicks)


def _send_times(ctx: Ctx, day: np.ndarray, hour: float, spread_minutes: float) -> np.ndarray:
    """A campaign goes out at a fixed local hour, recipients spread over a few minutes."""
    local = day.astype(np.int64) * DAY + int(hour * HOUR)
    local = local + ctx.rng.integers(0, int(spread_minutes * MINUTE) + 1, len(day))
    return np.clip(local - ctx.clock.offset(local - HOUR), 0, ctx.clock.end - 1)


def _recipients(ctx: Ctx, camp: Campaign, eligible: np.ndarray, share: float) -> tuple:
    """(person, day) of every send of a campaign: each send day reaches a share of the base."""
    rng = ctx.rng
    persons, days = [], []
    for d in camp.send_days:  # a loop over send days, not over people
        picked = eligible[rng.random(len(eligible)) < share]
        persons.append(picked)
        days.append(np.full(len(picked), d, dtype=np.int64))
    if not persons:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(persons), np.concatenate(days)


def emails(ctx: Ctx) -> None:
    """Two sends a week to a rotating share of the consented base, with the subject-line test."""
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    model = CAUSAL["email"]
    eligible = np.flatnonzero(people.consent_marketing)
    for camp in (c for c in ctx.campaigns if c.channel == "email"):
        person, day = _recipients(ctx, camp, eligible, EMAIL_SHARE_PER_SEND)
        n = len(person)
        t = _send_times(ctx, day, 9.5 if camp.name == "newsletter" else 10.0, 30)
        variant = people.variant[person]
        sends = ctx.touches.add(
            person=person, t=t, etype=ET["email_send"], chan=CH["email"], camp=camp.idx,
            role=RL["exposure"], ids=ctx.owned_ids(person, EMAIL, 0.3), prop=P_VARIANT,
            pval=variant,
        )  # fmt: skip
        read = rng.random(n) < people.email_read[person]
        read_t = t + 60 + rng.exponential(4 * HOUR, n).astype(np.int64)
        machine = people.machine_opens[person]
        m_t = t + rng.integers(2, 60, n)
        ctx.touches.add(
            person=person[machine], t=np.minimum(m_t[machine], clock.end - 1),
            etype=ET["email_open"], chan=CH["email"], camp=camp.idx, role=RL["engagement"],
            ids=np.uint8(CUSTOMER), machine=True,
        )  # fmt: skip
        human = read & ~machine & (read_t < clock.end)
        ctx.touches.add(
            person=person[human], t=read_t[human], etype=ET["email_open"], chan=CH["email"],
            camp=camp.idx, role=RL["engagement"], ids=np.uint8(CUSTOMER),
        )  # fmt: skip
        click_p = EMAIL_CLICK_GIVEN_READ * np.where(variant == 1, 1 + LIFT_CLICK, 1.0)
        click_t = read_t + 5 + rng.exponential(90, n).astype(np.int64)
        clicked = read & (rng.random(n) < click_p) & (click_t + 2 < clock.end)
        _owned_exposures(ctx, camp, model, person, t, sends, clicked, click_t, ET["email_click"],
                         "email")  # fmt: skip


def _owned_exposures(ctx: Ctx, camp: Campaign, model, person, t, sends, clicked, click_t,
                     click_event: int, style_channel: str, app: bool = False) -> None:  # fmt: skip
    """Click rows and click-through sessions of owned messages, and their exposures."""
    rng, people = ctx.rng, ctx.people
    chan = CH[camp.channel]
    # Opening a push puts the person in the app; other clicks put them on the site.
    pc_, ct = person[clicked], click_t[clicked]
    ctx.touches.add(
        person=pc_, t=ct, etype=click_event, chan=chan, camp=camp.idx, role=RL["engagement"],
        ids=np.uint8(DEVICE) if app else np.uint8(CUSTOMER), dev=APP_SLOT if app else -1,
    )  # fmt: skip
    if app:
        dev = np.full(len(pc_), APP_SLOT, dtype=np.int8)
    elif camp.channel == "sms":
        dev = people.mobile_slot()[pc_]
    else:
        dev = people.random_slot(rng, pc_)
    visits = ctx.touches.add(
        person=pc_, t=ct + 2, etype=ET["visit"], chan=chan, camp=camp.idx,
        role=RL["engagement"], style=ctx.styles(style_channel, len(pc_)), dev=dev,
        ids=ctx.web_ids(pc_, dev, 0.3),
    )  # fmt: skip
    session = np.full(len(person), -1, dtype=np.int64)
    session[clicked] = visits
    session_dev = np.full(len(person), -1, dtype=np.int8)
    session_dev[clicked] = dev
    origin = np.where(clicked, click_t + 2, t)
    if camp.channel == "direct_mail":
        origin = t + 2 * DAY  # the letter arrives two days after the drop
    beta = np.where(clicked, model.beta_engaged or model.beta, model.beta) * camp.beta_mult
    delay = np.where(clicked, model.engaged_delay_days or model.mean_delay_days,
                     model.mean_delay_days)  # fmt: skip
    ctx.exposures.add(
        person=person,
        origin=origin,
        chan=chan,
        camp=camp.idx,
        row=sends,
        session=session,
        session_dev=session_dev,
        beta=beta,
        delay=delay,
    )


def sms(ctx: Ctx) -> None:
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    eligible = np.flatnonzero(people.consent_marketing & people.has_phone)
    for camp in (c for c in ctx.campaigns if c.channel == "sms"):
        person, day = _recipients(ctx, camp, eligible, camp.share)
        n = len(person)
        t = _send_times(ctx, day, 12.0, 20)
        sends = ctx.touches.add(
            person=person, t=t, etype=ET["sms_send"], chan=CH["sms"], camp=camp.idx,
            role=RL["exposure"], ids=ctx.owned_ids(person, PHONE, 0.3),
        )  # fmt: skip
        click_t = t + 30 + rng.exponential(10 * MINUTE, n).astype(np.int64)
        clicked = (rng.random(n) < SMS_CLICK) & (click_t + 2 < clock.end)
        _owned_exposures(ctx, camp, CAUSAL["sms"], person, t, sends, clicked, click_t,
                         ET["sms_click"], "sms")  # fmt: skip


def push(ctx: Ctx) -> None:
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    eligible = np.flatnonzero(people.push_optin)
    for camp in (c for c in ctx.campaigns if c.channel == "push"):
        person, day = _recipients(ctx, camp, eligible, camp.share)
        t = _send_times(ctx, day, 18.0, 10)
        keep = t >= people.app_since[person]
        person, t = person[keep], t[keep]
        n = len(person)
        sends = ctx.touches.add(
            person=person, t=t, etype=ET["push_send"], chan=CH["push"], camp=camp.idx,
            role=RL["exposure"], ids=np.uint8(DEVICE), dev=APP_SLOT,
        )  # fmt: skip
        open_t = t + 20 + rng.exponential(20 * MINUTE, n).astype(np.int64)
        opened = (rng.random(n) < PUSH_OPEN) & (open_t + 2 < clock.end)
        _owned_exposures(ctx, camp, CAUSAL["push"], person, t, sends, opened, open_t,
                         ET["push_open"], "push", app=True)  # fmt: skip


def direct_mail(ctx: Ctx) -> None:
    people = ctx.people
    model = CAUSAL["direct_mail"]
    for camp in (c for c in ctx.campaigns if c.channel == "direct_mail"):
        base = people.loyalty if camp.name == "loyalty_mailer" else people.registered
        person, day = _recipients(ctx, camp, np.flatnonzero(base), camp.share)
        t = _send_times(ctx, day, 7.0, 60)
        rows = ctx.touches.add(
            person=person, t=t, etype=ET["mail_drop"], chan=CH["direct_mail"], camp=camp.idx,
            role=RL["offline"], ids=np.uint8(CUSTOMER),
        )  # fmt: skip
        ctx.exposures.add(person=person, origin=t + 2 * DAY, chan=CH["direct_mail"],
                          camp=camp.idx, row=rows, beta=model.beta * camp.beta_mult,
                          delay=model.mean_delay_days)  # fmt: skip
        for d in camp.send_days:
            pieces = int((day == d).sum())
            ctx.spend.add(camp.idx, np.array([d]), np.array([pieces * camp.cpe]),
                          np.array([pieces]), np.array([0]))  # fmt: skip


def message_spend(ctx: Ctx) -> None:
    """Email and SMS platform costs: a price per message sent."""
    tp = ctx.touches
    etype, camp, t = tp.peek("etype"), tp.peek("camp"), tp.peek("t")
    for kind, click in (("email_send", "email_click"), ("sms_send", "sms_click")):
        sent = etype == ET[kind]
        day = ctx.clock.day_of(t[sent])
        clicks_mask = etype == ET[click]
        click_day = ctx.clock.day_of(t[clicks_mask])
        for c in (c for c in ctx.campaigns if c.channel == kind.split("_")[0]):
            mine = camp[sent] == c.idx
            n_sent = np.bincount(day[mine], minlength=ctx.clock.days)[: ctx.clock.days]
            n_click = np.bincount(click_day[camp[clicks_mask] == c.idx],
                                  minlength=ctx.clock.days)[: ctx.clock.days]  # fmt: skip
            days = np.arange(ctx.clock.days)
            ctx.spend.add(c.idx, days, n_sent * c.cpe, n_sent, n_click)


def affiliates(ctx: Ctx) -> None:
    """Affiliate clicks (cashback and voucher sites): paid per click, mildly incremental."""
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    model = CAUSAL["affiliate"]
    camps = [c for c in ctx.campaigns if c.channel == "affiliate"]
    count = rng.poisson(0.12 * people.activity * clock.days / 365.0)
    person = np.repeat(np.arange(people.n), count)
    n = len(person)
    day = rng.integers(0, clock.days, n)
    t = clock.local_times(rng, day, PROFILE_WEB)
    which = choose(rng, [c.weight for c in camps], n)
    camp_idx = np.array([c.idx for c in camps], dtype=np.int16)[which]
    slot = people.random_slot(rng, person)
    rows = ctx.touches.add(
        person=person, t=t, etype=ET["visit"], chan=CH["affiliate"], camp=camp_idx,
        role=RL["exposure"], style=ctx.styles("affiliate", n), dev=slot,
        ids=ctx.web_ids(person, slot, 0.2),
    )  # fmt: skip
    beta = model.beta * np.array([c.beta_mult for c in camps])[which]
    ctx.exposures.add(person=person, origin=t, chan=CH["affiliate"], camp=camp_idx, row=rows,
                      session=rows, session_dev=slot, beta=beta,
                      delay=model.mean_delay_days)  # fmt: skip
    for i, c in enumerate(camps):
        clicks = np.bincount(day[which == i], minlength=clock.days)
        ctx.spend.add(c.idx, np.arange(clock.days), clicks * c.cpe, clicks * 0, clicks)


def background(ctx: Ctx) -> None:
    """Browsing, app use, geofenced store visits, app installs and service contacts."""
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    n_days = clock.days
    brand = next(c.idx for c in ctx.campaigns if c.name == "brand_search")
    # Web browsing through organic channels (and brand search ads).
    count = rng.poisson(0.8 * people.activity * n_days / 365.0)
    person = np.repeat(np.arange(people.n), count)
    n = len(person)
    t = clock.local_times(rng, rng.integers(0, n_days, n), PROFILE_WEB)
    which = choose(rng, [w for _, w in BACKGROUND_MIX], n)
    chan = np.array([CH[c] for c, _ in BACKGROUND_MIX], dtype=np.int8)[which]
    style = np.empty(n, dtype=np.int16)
    for i, (c, _) in enumerate(BACKGROUND_MIX):
        style[which == i] = ctx.styles(c, int((which == i).sum()))
    camp = np.where(chan == CH["paid_search"], brand, -1)
    slot = people.random_slot(rng, person)
    ctx.touches.add(person=person, t=t, etype=ET["visit"], chan=chan, camp=camp,
                    role=RL["background"], style=style, dev=slot,
                    ids=ctx.web_ids(person, slot, 0.15))  # fmt: skip

    # App sessions after the install.
    apps = np.flatnonzero(people.app_user)
    count = rng.poisson(1.2 * n_days / 365.0, len(apps))
    person = np.repeat(apps, count)
    since = np.maximum(people.app_since[person], 0)
    t = since + (rng.random(len(person)) * (clock.end - since)).astype(np.int64)
    dev = np.full(len(person), APP_SLOT, dtype=np.int8)
    ctx.touches.add(person=person, t=t, etype=ET["visit"], chan=CH["app"], role=RL["background"],
                    style=29, dev=dev, ids=ctx.web_ids(person, dev, 0.8))  # fmt: skip

    installs = np.flatnonzero(people.app_since >= 0)
    ctx.touches.add(person=installs, t=people.app_since[installs], etype=ET["app_install"],
                    chan=CH["app"], role=RL["offline"], dev=APP_SLOT, ids=np.uint8(DEVICE),
                    prop=P_OS, pval=rng.integers(0, 2, len(installs)))  # fmt: skip

    # Geofenced store visits of app users who shop in store.
    shoppers = np.flatnonzero(people.app_user & (people.store_share > 0))
    count = rng.poisson(0.6 * people.store_share[shoppers] * n_days / 365.0)
    person = np.repeat(shoppers, count)
    t = clock.local_times(rng, rng.integers(0, n_days, len(person)), PROFILE_STORE)
    keep = t >= people.app_since[person]
    person, t = person[keep], t[keep]
    ctx.touches.add(person=person, t=t, etype=ET["store_visit"], chan=CH["store"],
                    role=RL["background"], dev=APP_SLOT, ids=np.uint8(DEVICE),
                    store=people.home_store[person], prop=P_STORE_SOURCE, pval=0,
                    dur=rng.uniform(5, 45, len(person)) * MINUTE)  # fmt: skip

    # Service contacts unrelated to an order.
    for kind, rate in (("call", 0.03), ("chat", 0.03)):
        count = rng.poisson(rate * n_days / 365.0, people.n)
        person = np.repeat(np.arange(people.n), count)
        service_contacts(
            ctx,
            person,
            clock.local_times(rng, rng.integers(0, n_days, len(person)), PROFILE_OFFICE),
            kind,
        )


def service_contacts(ctx: Ctx, person: np.ndarray, t: np.ndarray, kind: str,
                     order: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Calls (customer_id or phone) and chats (customer_id, email or the web cookie)."""
    rng, people = ctx.rng, ctx.people
    n = len(person)
    reg = people.registered[person]
    u = rng.random(n)
    if kind == "call":
        ids = np.where(reg & (u < 0.6), CUSTOMER, PHONE).astype(np.uint8)
        dur = rng.lognormal(np.log(300), 0.6, n)
        dev = np.full(n, -1, dtype=np.int8)
        etype, chan = ET["call"], CH["call_centre"]
    else:
        ids = np.select([reg & (u < 0.5), u < 0.75], [CUSTOMER, EMAIL], ANON).astype(np.uint8)
        dur = rng.lognormal(np.log(420), 0.5, n)
        dev = np.where(ids == ANON, people.random_slot(rng, person), -1).astype(np.int8)
        etype, chan = ET["chat"], CH["chat"]
    return ctx.touches.add(
        person=person, t=np.minimum(t, ctx.clock.end - 1), etype=etype, chan=chan,
        role=RL["service"], ids=ids, dev=dev, dur=np.minimum(dur, 7200),
        order=order if order is not None else -1,
    )  # fmt: skip


def loyalty_or_device(people: People, person: np.ndarray, t: np.ndarray) -> np.ndarray:
    """How a person is recognised in store: the app (geofence) or the loyalty card."""
    app = people.app_user[person] & (t >= people.app_since[person])
    return np.where(app, DEVICE, np.where(people.loyalty[person], LOYALTY, 0)).astype(np.uint8)


def funnels(ctx: Ctx) -> None:
    """Page and product views, carts and abandoned checkouts inside visits (with drop-off)."""
    rng, clock = ctx.rng, ctx.clock
    tp = ctx.touches
    etype, role = tp.peek("etype"), tp.peek("role")
    visits = np.flatnonzero(
        (etype == ET["visit"]) & (role != RL["order_session"]) & (role != RL["research"])
    )
    del etype, role
    person = tp.peek("person")[visits]
    t = tp.peek("t")[visits]
    dev = tp.peek("dev")[visits]
    ids = tp.peek("ids")[visits]
    chan = tp.peek("chan")[visits]
    camp = tp.peek("camp")[visits]
    n = len(visits)

    def add(mask: np.ndarray, when: np.ndarray, event: str, prop: int, pval: np.ndarray) -> None:
        ok = mask & (when < clock.end)
        ctx.touches.add(person=person[ok], t=when[ok], etype=ET[event], chan=chan[ok],
                        camp=camp[ok], role=RL["funnel"], dev=dev[ok], ids=ids[ok], prop=prop,
                        pval=pval[ok])  # fmt: skip

    page = rng.random(n) < 0.15
    add(page, t + rng.integers(5, 60, n), "page_view", P_PAGE, rng.integers(0, 7, n))
    viewed = rng.random(n) < 0.25
    pv_t = t + rng.integers(20, 300, n)
    product = rng.integers(1, 5_000, n)
    add(viewed, pv_t, "product_view", P_PRODUCT, product)
    carted = viewed & (rng.random(n) < 0.25)
    cart_t = pv_t + rng.integers(20, 200, n)
    add(carted, cart_t, "add_to_cart", P_CART, product)
    checkout = carted & (rng.random(n) < 0.3)
    value = np.round(rng.gamma(3.0, 25.0, n) * 100).astype(np.int64)
    add(checkout, cart_t + rng.integers(30, 300, n), "checkout", P_CHECKOUT, value)


def brand_spend(ctx: Ctx) -> None:
    """Brand search is bought on demand: its spend follows the brand clicks that happened."""
    tp = ctx.touches
    brand = next(c for c in ctx.campaigns if c.name == "brand_search")
    clicks_at = (tp.peek("camp") == brand.idx) & (tp.peek("etype") == ET["visit"])
    day = ctx.clock.day_of(tp.peek("t")[clicks_at])
    clicks = np.bincount(day, minlength=ctx.clock.days)[: ctx.clock.days]
    ctr = ctx.rng.uniform(0.08, 0.15, ctx.clock.days)
    cpc = brand.cpe * ctx.rng.lognormal(0.0, 0.1, ctx.clock.days)
    ctx.spend.add(brand.idx, np.arange(ctx.clock.days), clicks * cpc, np.round(clicks / ctr),
                  clicks)  # fmt: skip
