"""Activity beside campaigns: browsing, app use, store visits, service contacts, and the
funnels inside visits."""

from __future__ import annotations

import numpy as np

from omnimetrics.simulate._config import BACKGROUND_MIX, CH, ET, RL
from omnimetrics.simulate._context import Ctx
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
    PHONE,
)
from omnimetrics.simulate._people import People
from omnimetrics.simulate._util import MINUTE, PROFILE_OFFICE, PROFILE_STORE, PROFILE_WEB, choose


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
