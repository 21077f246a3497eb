"""The visits and contacts around orders: order sessions and their funnels, navigational
visits, ROPO research and its reverse, QR scans, calls and chats. None causes an order."""

from __future__ import annotations

import numpy as np

from omnimetrics.simulate._activity import loyalty_or_device, service_contacts
from omnimetrics.simulate._config import (
    CH,
    ET,
    NAVIGATION_MIX,
    REVERSE_ROPO_PROBABILITY,
    RL,
    ROPO_PROBABILITY,
    ROPO_WINDOW_DAYS,
    SC,
    ST,
)
from omnimetrics.simulate._context import Ctx
from omnimetrics.simulate._events import (
    ANON,
    APP_SLOT,
    CUSTOMER,
    DEVICE,
    LOYALTY,
    P_CART,
    P_CHECKOUT,
    P_CODE,
    P_PRODUCT,
    P_STORE_SOURCE,
)
from omnimetrics.simulate._orders import N_PRODUCTS, Orders
from omnimetrics.simulate._util import DAY, HOUR, MINUTE, PROFILE_STORE, choose


def order_touches(ctx: Ctx, o: Orders) -> None:
    """Visits and contacts around orders. None of them causes the order they precede."""
    brand = next(c.idx for c in ctx.campaigns if c.name == "brand_search")
    login_ids = np.where(o.dev == APP_SLOT, DEVICE, ANON) | (o.ids & CUSTOMER)
    sel, chan, camp = _order_sessions(ctx, o, brand, login_ids)
    _funnels(ctx, o, login_ids, sel, chan, camp)
    _earlier_visits(ctx, o, brand)
    _reverse_ropo(ctx, o)
    _ropo(ctx, o)
    _qr_before_orders(ctx, o)
    _service_around_orders(ctx, o)


def _order_sessions(
    ctx: Ctx, o: Orders, brand: int, login_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The order session: a navigational visit minutes before, unless the order was placed in
    the click-through visit of the exposure that caused it. Returns the orders given one, and
    the visits' channel and campaign."""
    need = o.online & ~o.in_session
    s_t = o.t[need] - ctx.rng.integers(3 * MINUTE, 40 * MINUTE, int(need.sum()))
    ok = s_t >= 0
    sel = np.flatnonzero(need)[ok]
    s_t = s_t[ok]
    chan, style, camp = _navigation(ctx, len(sel), o.dev[sel] == APP_SLOT, brand)
    rows = ctx.touches.add(person=o.person[sel], t=s_t, etype=ET["visit"], chan=chan, camp=camp,
                           role=RL["order_session"], style=style, dev=o.dev[sel],
                           ids=login_ids[sel], order=sel)  # fmt: skip
    o.session_row[sel] = rows
    return sel, chan, camp


def _funnels(ctx: Ctx, o: Orders, login_ids: np.ndarray, sel: np.ndarray, chan: np.ndarray,
             camp: np.ndarray) -> None:  # fmt: skip
    """The purchase funnel inside the session: product view, add to cart, checkout."""
    rng, tp = ctx.rng, ctx.touches
    idx = np.arange(len(o), dtype=np.int64)
    has = np.flatnonzero(o.online & (o.session_row >= 0))
    sess_t = tp.peek("t")[o.session_row[has]]
    span = np.maximum(o.t[has] - sess_t, 3)
    f_chan, f_camp = _session_channel(o, has, sel, chan, camp)
    product = rng.integers(1, N_PRODUCTS, len(has))
    common = {"person": o.person[has], "chan": f_chan, "camp": f_camp, "role": RL["funnel"],
              "dev": o.dev[has], "ids": login_ids[has], "order": idx[has]}  # fmt: skip
    viewed = rng.random(len(has)) < 0.8
    tp.add(**{k: v[viewed] if isinstance(v, np.ndarray) else v for k, v in common.items()},
           t=(sess_t + span * 0.2).astype(np.int64)[viewed], etype=ET["product_view"],
           prop=P_PRODUCT, pval=product[viewed])  # fmt: skip
    tp.add(**common, t=(sess_t + span * 0.6).astype(np.int64), etype=ET["add_to_cart"],
           prop=P_CART, pval=product)  # fmt: skip
    tp.add(
        **common,
        t=(sess_t + span * 0.9).astype(np.int64),
        etype=ET["checkout"],
        prop=P_CHECKOUT,
        pval=np.round(o.revenue[has] * 100).astype(np.int64),
    )


def _earlier_visits(ctx: Ctx, o: Orders, brand: int) -> None:
    """Earlier navigational visits in the days before an online order."""
    rng = ctx.rng
    n = len(o)
    k = rng.poisson(0.6, n) * o.online
    which = np.repeat(np.arange(n, dtype=np.int64), k)
    nav_t = o.t[which] - HOUR - rng.exponential(1.5 * DAY, len(which)).astype(np.int64)
    which, nav_t = which[nav_t >= 0], nav_t[nav_t >= 0]
    person = o.person[which]
    slot = ctx.people.random_slot(rng, person)
    chan, style, camp = _navigation(ctx, len(which), np.zeros(len(which), bool), brand)
    ctx.touches.add(person=person, t=nav_t, etype=ET["visit"], chan=chan, camp=camp,
                    role=RL["navigational"], style=style, dev=slot,
                    ids=ctx.web_ids(person, slot, 0.3), order=which)  # fmt: skip


def _reverse_ropo(ctx: Ctx, o: Orders) -> None:
    """Reverse ROPO: a store visit in the week before an online order."""
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    person = o.person
    known = (people.store_share[person] > 0) & (people.app_user[person] | people.loyalty[person])
    pick = np.flatnonzero(o.online & known & (rng.random(len(o)) < REVERSE_ROPO_PROBABILITY))
    v_t = o.t[pick] - rng.integers(2 * HOUR, ROPO_WINDOW_DAYS * DAY, len(pick))
    v_t = clock.local_times(rng, clock.day_of(v_t), PROFILE_STORE)
    v_t = np.where(v_t >= o.t[pick], v_t - DAY, v_t)
    ok = (v_t >= 0) & (v_t > o.t[pick] - ROPO_WINDOW_DAYS * DAY)
    pick, v_t = pick[ok], v_t[ok]
    ids = loyalty_or_device(people, o.person[pick], v_t)
    ok = ids > 0
    pick, v_t, ids = pick[ok], v_t[ok], ids[ok]
    ctx.touches.add(person=o.person[pick], t=v_t, etype=ET["store_visit"], chan=CH["store"],
                    role=RL["store_visit"], ids=ids, dev=np.where(ids == DEVICE, APP_SLOT, -1),
                    store=people.home_store[o.person[pick]], prop=P_STORE_SOURCE,
                    pval=(ids == LOYALTY).astype(np.int64), order=pick,
                    dur=rng.uniform(5, 40, len(pick)) * MINUTE)  # fmt: skip


def _ropo(ctx: Ctx, o: Orders) -> None:
    """ROPO: web or app research in the week before a store order."""
    rng, people, tp = ctx.rng, ctx.people, ctx.touches
    pick = np.flatnonzero((o.sales == SC["store"]) & (rng.random(len(o)) < ROPO_PROBABILITY))
    r_t = o.t[pick] - rng.integers(HOUR, ROPO_WINDOW_DAYS * DAY, len(pick))
    pick, r_t = pick[r_t >= 0], r_t[r_t >= 0]
    person = o.person[pick]
    app_ok = people.app_user[person] & (r_t >= people.app_since[person])
    which = choose(rng, (0.5, 0.3, 0.2), len(pick))
    use_app = (which == 2) & app_ok
    chan = np.where(which == 0, CH["organic_search"], CH["direct"])
    chan = np.where(use_app, CH["app"], chan).astype(np.int8)
    style = np.where(chan == CH["organic_search"], ctx.styles("organic_search", len(pick)),
                     ctx.styles("direct", len(pick)))  # fmt: skip
    style = np.where(use_app, 29, style)
    dev = np.where(use_app, APP_SLOT, people.random_slot(rng, person)).astype(np.int8)
    ids = ctx.web_ids(person, dev, 0.25)
    tp.add(person=person, t=r_t, etype=ET["visit"], chan=chan, role=RL["research"],
           style=style, dev=dev, ids=ids, order=pick)  # fmt: skip
    pv_t = r_t + rng.integers(30, 400, len(pick))
    tp.add(person=person, t=pv_t, etype=ET["product_view"], chan=chan, role=RL["funnel"],
           dev=dev, ids=ids, order=pick, prop=P_PRODUCT,
           pval=rng.integers(1, N_PRODUCTS, len(pick)))  # fmt: skip


def _qr_before_orders(ctx: Ctx, o: Orders) -> None:
    """QR codes of a mailing scanned in store just before buying."""
    qr_of = np.array([c.qr_code is not None for c in ctx.campaigns] + [False])
    camp = np.where(o.camp >= 0, o.camp, len(ctx.campaigns))
    pick = np.flatnonzero((o.sales == SC["store"]) & (o.cause == CH["direct_mail"]) & qr_of[camp]
                          & (ctx.rng.random(len(o)) < 0.4))  # fmt: skip
    q_t = o.t[pick] - ctx.rng.integers(MINUTE, 20 * MINUTE, len(pick))
    pick, q_t = pick[q_t >= 0], q_t[q_t >= 0]
    _qr_rows(ctx, o.person[pick], q_t, o.camp[pick], o.store[pick], pick, RL["offline"])


def _service_around_orders(ctx: Ctx, o: Orders) -> None:
    """Phone orders start with a call; returns often lead to a call or a chat."""
    rng = ctx.rng
    pick = np.flatnonzero(o.sales == SC["call_centre"])
    dur_t = o.t[pick] - rng.integers(3 * MINUTE, 15 * MINUTE, len(pick))
    pick, dur_t = pick[dur_t >= 0], dur_t[dur_t >= 0]
    service_contacts(ctx, o.person[pick], dur_t, "call", order=pick)
    ret = (o.status == ST["returned"]) | (o.status == ST["partially_returned"])
    pick = np.flatnonzero(ret & (rng.random(len(o)) < 0.3))
    c_t = o.t[pick] + rng.integers(DAY, 10 * DAY, len(pick))
    pick, c_t = pick[c_t < ctx.clock.end], c_t[c_t < ctx.clock.end]
    is_call = rng.random(len(pick)) < 0.6
    service_contacts(ctx, o.person[pick][is_call], c_t[is_call], "call", order=pick[is_call])
    service_contacts(ctx, o.person[pick][~is_call], c_t[~is_call], "chat", order=pick[~is_call])


def mail_scans(ctx: Ctx) -> None:
    """A few mail recipients scan the letter's QR code in store without buying."""
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    tp = ctx.touches
    etype, camp_all = tp.peek("etype"), tp.peek("camp")
    drops = np.flatnonzero(etype == ET["mail_drop"])
    qr_of = np.array([c.qr_code is not None for c in ctx.campaigns])
    drops = drops[qr_of[camp_all[drops]]]
    pick = drops[rng.random(len(drops)) < 0.03]
    person = tp.peek("person")[pick].astype(np.int64)
    t = tp.peek("t")[pick] + rng.integers(2 * DAY, 12 * DAY, len(pick))
    t = clock.local_times(rng, clock.day_of(t), PROFILE_STORE)
    ok = t < clock.end
    _qr_rows(ctx, person[ok], t[ok], camp_all[pick][ok], people.home_store[person[ok]], -1,
             RL["offline"])  # fmt: skip


def _qr_rows(ctx: Ctx, person, t, camp, store, order, role) -> None:
    people = ctx.people
    app = people.app_user[person] & (t >= people.app_since[person])
    dev = np.where(app, APP_SLOT, people.mobile_slot()[person]).astype(np.int8)
    ctx.touches.add(
        person=person,
        t=t,
        etype=ET["qr_scan"],
        chan=CH["direct_mail"],
        camp=camp,
        role=role,
        dev=dev,
        ids=np.where(app, DEVICE, ANON).astype(np.uint8),
        store=store,
        prop=P_CODE,
        pval=camp.astype(np.int64),
        order=order,
    )


def _navigation(ctx: Ctx, n: int, app: np.ndarray, brand: int) -> tuple:
    """(true channel, style, campaign) of navigational visits: direct, brand search, app."""
    which = choose(ctx.rng, [w for _, w in NAVIGATION_MIX], n)
    names = [c for c, _ in NAVIGATION_MIX]
    chan = np.array([CH[c] for c in names], dtype=np.int8)[which]
    style = np.empty(n, dtype=np.int16)
    for i, c in enumerate(names):
        style[which == i] = ctx.styles(c, int((which == i).sum()))
    chan = np.where(app, CH["app"], chan).astype(np.int8)
    style = np.where(app, 29, style).astype(np.int16)
    camp = np.where(chan == CH["paid_search"], brand, -1).astype(np.int16)
    return chan, style, camp


def _session_channel(o: Orders, has: np.ndarray, new_sel: np.ndarray, new_chan: np.ndarray,
                     new_camp: np.ndarray) -> tuple:  # fmt: skip
    """True channel and campaign of each order session (for its funnel rows)."""
    n = len(o)
    chan = np.full(n, -1, dtype=np.int8)
    camp = np.full(n, -1, dtype=np.int16)
    chan[new_sel], camp[new_sel] = new_chan, new_camp
    ins = o.in_session
    chan[ins], camp[ins] = o.cause[ins], o.camp[ins]
    chan = np.where(ins & (o.cause == CH["push"]), CH["push"], chan)
    return chan[has], camp[has]
