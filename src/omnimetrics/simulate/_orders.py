"""Orders: the baseline BG/NBD-like process plus orders triggered by exposures, and the visits
that surround them (navigational visits, ROPO research, store visits, QR scans, calls)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnimetrics.simulate._campaigns import Campaign
from omnimetrics.simulate._config import (
    CAUSAL,
    CH,
    CITIES,
    EMAIL_CLICK_GIVEN_READ,
    ET,
    FF,
    LEAKED_CODE_USE,
    LIFT_CLICK,
    LOYALTY_PRESENTED,
    NAVIGATION_MIX,
    PROMO_CODE_USE,
    REVERSE_ROPO_PROBABILITY,
    RL,
    ROPO_PROBABILITY,
    ROPO_WINDOW_DAYS,
    SATURATION_WINDOW_DAYS,
    SC,
    ST,
    ClvParameters,
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
    P_CODE,
    P_PRODUCT,
    P_STORE_SOURCE,
    PHONE,
)
from omnimetrics.simulate._marketing import Ctx, loyalty_or_device, service_contacts
from omnimetrics.simulate._util import (
    DAY,
    HOUR,
    MINUTE,
    PROFILE_STORE,
    choose,
    rank_within,
    sort_by,
)

IN_SESSION_SECONDS = 45 * MINUTE
N_PRODUCTS = 5_000


@dataclass
class Orders:
    """One row per order, sorted by time; every field a numpy array."""

    person: np.ndarray
    t: np.ndarray
    cause: np.ndarray  # channel code, -1 baseline
    camp: np.ndarray  # campaign index of the cause, -1 baseline
    cause_row: np.ndarray  # touchpoint row of the causing exposure, -1 baseline
    in_session: np.ndarray
    session_row: np.ndarray  # touchpoint row of the visit the order was placed in, -1 none
    dev: np.ndarray
    sales: np.ndarray
    fulfilment: np.ndarray
    store: np.ndarray
    revenue: np.ndarray
    discount: np.ndarray
    promo: np.ndarray  # campaign index whose promo code was used, -1 none
    items: np.ndarray
    status: np.ndarray
    returned: np.ndarray
    margin: np.ndarray
    loyalty_shown: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.t)


@dataclass
class TriggerStats:
    """What the experiment truth needs from the trigger step."""

    email_person: np.ndarray
    email_expected_a: np.ndarray
    email_expected_b: np.ndarray
    exposures_by_channel: dict[str, int]


def _sales_channels(ctx: Ctx, person: np.ndarray, t: np.ndarray, factor: np.ndarray,
                    marketplace: bool) -> np.ndarray:  # fmt: skip
    rng, people = ctx.rng, ctx.people
    n = len(person)
    seg = people.segment[person]
    share = np.clip(people.store_share[person] * factor, 0, 1)
    p_store = np.select([seg == 0, seg == 1], [0.0, 1.0], share)
    store = rng.random(n) < p_store
    v = rng.random(n)
    app_ok = people.app_user[person] & (t >= people.app_since[person])
    mkt = v < 0.04 if marketplace else np.zeros(n, dtype=bool)
    return np.select(
        [store, v < 0.02, mkt, app_ok & (v < 0.5)],
        [SC["store"], SC["call_centre"], SC["marketplace"], SC["app"]],
        SC["web"],
    ).astype(np.int8)


def _snap(ctx: Ctx, t: np.ndarray, sales: np.ndarray) -> np.ndarray:
    """Move store and phone orders into opening hours (Mon-Sat 9:00-19:30) and web orders out
    of the small hours; always forward in time."""
    rng, clock = ctx.rng, ctx.clock
    n = len(t)
    local = clock.local(t)
    day, tod = local // DAY, local % DAY
    store = (sales == SC["store"]) | (sales == SC["call_centre"])
    early = store & (tod < 9 * HOUR)
    late = store & (tod >= 19 * HOUR + 30 * MINUTE)
    tod = np.where(early, 9 * HOUR + rng.integers(0, 2 * HOUR, n), tod)
    day = np.where(late, day + 1, day)
    tod = np.where(late, 9 * HOUR + rng.integers(0, 3 * HOUR, n), tod)
    day = np.where(store & (clock.dow(day) == 6), day + 1, day)
    night = ~store & (tod >= HOUR) & (tod < 7 * HOUR)
    tod = np.where(night, np.minimum(7 * HOUR + rng.exponential(2 * HOUR, n), 23 * HOUR), tod)
    new = day * DAY + tod.astype(np.int64)
    return np.maximum(new - clock.offset(new - HOUR), t)


def _baseline(ctx: Ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson(lambda) purchases while alive; after each purchase the person leaves w.p. p."""
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    m = rng.poisson(people.lam * clock.days)
    k = rng.geometric(np.clip(people.p_drop, 1e-9, 1.0))
    person = np.repeat(np.arange(people.n, dtype=np.int64), m)
    t = (rng.random(len(person)) * clock.end).astype(np.int64)
    order = sort_by(person, t)
    person, t = person[order], t[order]
    rank = rank_within(person)
    keep = rank < k[person]
    person, t, rank = person[keep], t[keep], rank[keep]
    dying = rank == k[person] - 1
    return person, t, dying


def _saturation_counts(person: np.ndarray, chan: np.ndarray, origin: np.ndarray,
                       end: int) -> np.ndarray:  # fmt: skip
    """Exposures of the same person and channel in the previous 30 days."""
    group = person.astype(np.int64) * 32 + chan
    order = sort_by(group, origin)
    span = end + 40 * DAY
    key = group[order] * span + origin[order]
    lo = np.searchsorted(key, key - SATURATION_WINDOW_DAYS * DAY, side="left")
    counts = np.empty(len(key), dtype=np.int64)
    counts[order] = np.arange(len(key)) - lo
    return counts


def make_orders(ctx: Ctx, clv: ClvParameters) -> tuple[Orders, TriggerStats]:
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    camps = ctx.campaigns
    end = clock.end

    # 1. Baseline purchases.
    b_person, b_t, dying = _baseline(ctx)
    b_sales = _sales_channels(ctx, b_person, b_t, np.ones(len(b_person)), marketplace=True)
    b_t = _snap(ctx, b_t, b_sales)
    keep = b_t < end
    b_person, b_t, b_sales, dying = b_person[keep], b_t[keep], b_sales[keep], dying[keep]
    people.death[b_person[dying]] = b_t[dying]

    # 2. Orders triggered by exposures: P = beta * exp(-decay * n_prev_30d), while alive.
    ex = ctx.exposures.build()
    decay = np.zeros(32)
    store_factor = np.ones(32)
    for name, model in CAUSAL.items():
        decay[CH[name]] = model.frequency_decay
        store_factor[CH[name]] = model.store_factor
    n_prev = _saturation_counts(ex["person"], ex["chan"], ex["origin"], end)
    saturation = np.exp(-decay[ex["chan"]] * n_prev)
    hit = rng.random(len(n_prev)) < ex["beta"] * saturation
    stats = _email_expectations(ctx, ex, saturation)
    idx = np.flatnonzero(hit)
    person = ex["person"][idx].astype(np.int64)
    delay = rng.exponential(ex["delay"][idx] * DAY).astype(np.int64)
    t = ex["origin"][idx] + delay
    session_dev = ex["session_dev"][idx]
    in_session = (ex["session"][idx] >= 0) & (delay < IN_SESSION_SECONDS)
    chan = ex["chan"][idx]
    sales = _sales_channels(ctx, person, t, store_factor[chan], marketplace=False)
    sales = np.where(in_session, np.where(session_dev == APP_SLOT, SC["app"], SC["web"]), sales)
    t = np.where(in_session, t, _snap(ctx, t, sales))
    alive = (t < end) & (t < people.death[person])
    sel = np.flatnonzero(alive)

    n_b, n_t = len(b_person), len(sel)
    person = np.concatenate([b_person, person[sel]])
    t = np.concatenate([b_t, t[sel]])
    fields = {
        "cause": np.concatenate([np.full(n_b, -1, np.int8), chan[sel]]),
        "camp": np.concatenate([np.full(n_b, -1, np.int16), ex["camp"][idx][sel]]),
        "cause_row": np.concatenate([np.full(n_b, -1, np.int64), ex["row"][idx][sel]]),
        "in_session": np.concatenate([np.zeros(n_b, bool), in_session[sel]]),
        "session_row": np.concatenate(
            [np.full(n_b, -1, np.int64), np.where(in_session, ex["session"][idx], -1)[sel]]
        ),
        "dev": np.concatenate([np.full(n_b, -1, np.int8), session_dev[sel]]),
        "sales": np.concatenate([b_sales, sales[sel]]),
    }
    del ex
    order = sort_by(t, person)
    person, t = person[order], t[order]
    f = {k: v[order] for k, v in fields.items()}
    n = n_b + n_t
    orders = _attributes(ctx, clv, camps, person, t, f, n)
    return orders, stats


def _email_expectations(ctx: Ctx, ex: dict, saturation: np.ndarray) -> TriggerStats:
    """Expected email-triggered order probability of every send under A and under B."""
    model = CAUSAL["email"]
    sends = ex["chan"] == CH["email"]
    person = ex["person"][sends]
    mult = np.array([c.beta_mult for c in ctx.campaigns])[ex["camp"][sends]]
    read = ctx.people.email_read[person].astype(np.float64)
    base = saturation[sends] * mult
    engaged = model.beta_engaged or model.beta

    def expected(m: float) -> np.ndarray:
        click = read * EMAIL_CLICK_GIVEN_READ * m
        return base * (model.beta + click * (engaged - model.beta))

    counts = np.bincount(ex["chan"], minlength=32)
    return TriggerStats(
        email_person=person,
        email_expected_a=expected(1.0),
        email_expected_b=expected(1.0 + LIFT_CLICK),
        exposures_by_channel={c: int(counts[CH[c]]) for c in CAUSAL},
    )


def _attributes(ctx: Ctx, clv: ClvParameters, camps: list[Campaign], person: np.ndarray,
                t: np.ndarray, f: dict, n: int) -> Orders:  # fmt: skip
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    sales = f["sales"]
    store_o = sales == SC["store"]
    online = (sales == SC["web"]) | (sales == SC["app"])

    # Where: the home store mostly, another store of the city, or anywhere.
    first_store = np.cumsum([0] + [c[3] for c in CITIES])[:-1]
    city_stores = np.array([c[3] for c in CITIES])
    city = people.city[person]
    home = people.home_store[person].astype(np.int64)
    other = first_store[city] + np.floor(rng.random(n) * city_stores[city]).astype(np.int64)
    anywhere = rng.integers(0, int(city_stores.sum()), n)
    u = rng.random(n)
    shop = np.select([u < 0.8, u < 0.95], [home, other], anywhere)
    fulfil_online = np.array([FF["delivery"], FF["click_and_collect"], FF["ship_from_store"]])[
        choose(rng, (0.68, 0.22, 0.10), n)
    ]
    fulfilment = np.select([store_o, online], [FF["in_store"], fulfil_online], FF["delivery"])
    store = np.select([store_o, online & (fulfilment != FF["delivery"])], [shop, home], -1).astype(
        np.int16
    )

    # How much: Gamma-Gamma, revenue ~ Gamma(p, nu_person).
    revenue = np.round(np.clip(rng.gamma(clv.p, 1.0 / people.nu[person]), 1.0, 10_000.0), 2)

    # Promo codes: campaigns with a code; a few baseline orders use a code found online.
    code_of = np.array([c.promo_code is not None for c in camps] + [False])
    code_from = np.array([c.code_from for c in camps] + [0])
    code_to = np.array([c.code_to for c in camps] + [0])
    discount_of = np.array([c.discount for c in camps] + [0.0])
    day = clock.day_of(t)
    camp = f["camp"].astype(np.int64)
    promo = np.where((camp >= 0) & (rng.random(n) < PROMO_CODE_USE), camp, -1)
    coded = np.flatnonzero(code_of[:-1])
    if len(coded):
        leaked = coded[rng.integers(0, len(coded), n)]
        promo = np.where((camp < 0) & (rng.random(n) < LEAKED_CODE_USE), leaked, promo)
    c = np.where(promo >= 0, promo, len(camps))
    promo = np.where(code_of[c] & (day >= code_from[c]) & (day < code_to[c]), promo, -1)
    rate = discount_of[np.where(promo >= 0, promo, len(camps))]
    discount = np.round(revenue * rate / (1 - rate), 2)
    margin = np.round(revenue * rng.uniform(0.30, 0.45, n), 2)
    items = np.minimum(1 + rng.poisson(revenue / 60.0), 10_000)

    # What happened next.
    s_online = np.array(
        [ST["completed"], ST["cancelled"], ST["returned"], ST["partially_returned"]]
    )[choose(rng, (0.85, 0.03, 0.06, 0.06), n)]
    s_store = np.array([ST["completed"], ST["returned"], ST["partially_returned"]])[
        choose(rng, (0.95, 0.02, 0.03), n)
    ]  # fmt: skip
    status = np.where(store_o, s_store, s_online)
    recent = ~store_o & (t > clock.end - 2 * DAY) & (rng.random(n) < 0.5)
    status = np.where(recent, ST["pending"], status).astype(np.int8)
    returned = np.select(
        [status == ST["returned"], status == ST["partially_returned"]],
        [revenue, np.round(revenue * rng.uniform(0.15, 0.7, n), 2)],
        0.0,
    )

    # Who: identifiers each system records.
    reg = people.registered[person]
    loyalty_shown = store_o & people.loyalty[person] & (rng.random(n) < LOYALTY_PRESENTED)
    web_ids = (ANON | np.where(reg & (rng.random(n) < 0.9), CUSTOMER, 0)
               | np.where(~reg | (rng.random(n) < 0.5), EMAIL, 0))  # fmt: skip
    ids = np.select(
        [sales == SC["web"], sales == SC["app"], store_o, sales == SC["call_centre"]],
        [web_ids, DEVICE | np.where(reg, CUSTOMER, 0), np.where(loyalty_shown, LOYALTY, 0),
         np.where(reg, CUSTOMER, PHONE)],
        0,
    ).astype(np.uint8)  # fmt: skip
    dev = np.where(sales == SC["app"], APP_SLOT, f["dev"])
    random_slot = people.random_slot(rng, person)
    dev = np.where((sales == SC["web"]) & ~f["in_session"], random_slot, dev)
    dev = np.where(online, dev, -1).astype(np.int8)
    return Orders(
        person=person, t=t, cause=f["cause"], camp=f["camp"], cause_row=f["cause_row"],
        in_session=f["in_session"], session_row=f["session_row"], dev=dev, sales=sales,
        fulfilment=fulfilment.astype(np.int8), store=store, revenue=revenue, discount=discount,
        promo=promo.astype(np.int16), items=items, status=status, returned=returned,
        margin=margin, loyalty_shown=loyalty_shown, ids=ids,
    )  # fmt: skip


def order_touches(ctx: Ctx, o: Orders) -> None:
    """Visits and contacts around orders. None of them causes the order they precede."""
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    tp = ctx.touches
    n = len(o)
    idx = np.arange(n, dtype=np.int64)
    brand = next(c.idx for c in ctx.campaigns if c.name == "brand_search")
    online = (o.sales == SC["web"]) | (o.sales == SC["app"])
    login_ids = np.where(o.dev == APP_SLOT, DEVICE, ANON) | (o.ids & CUSTOMER)

    # The order session: a navigational visit minutes before, unless the order was placed
    # in the click-through visit of the exposure that caused it.
    need = online & ~o.in_session
    s_t = o.t[need] - rng.integers(3 * MINUTE, 40 * MINUTE, int(need.sum()))
    ok = s_t >= 0
    sel = np.flatnonzero(need)[ok]
    s_t = s_t[ok]
    chan, style, camp = _navigation(ctx, len(sel), o.dev[sel] == APP_SLOT, brand)
    rows = tp.add(person=o.person[sel], t=s_t, etype=ET["visit"], chan=chan, camp=camp,
                  role=RL["order_session"], style=style, dev=o.dev[sel],
                  ids=login_ids[sel], order=sel)  # fmt: skip
    o.session_row[sel] = rows

    # The purchase funnel inside the session.
    has = np.flatnonzero(online & (o.session_row >= 0))
    sess_t = _row_times(tp, o.session_row[has])
    span = np.maximum(o.t[has] - sess_t, 3)
    f_chan, f_camp = _session_channel(ctx, o, has, sel, chan, camp)
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

    # Earlier navigational visits in the days before an online order.
    k = rng.poisson(0.6, n) * online
    which = np.repeat(idx, k)
    nav_t = o.t[which] - HOUR - rng.exponential(1.5 * DAY, len(which)).astype(np.int64)
    which, nav_t = which[nav_t >= 0], nav_t[nav_t >= 0]
    person = o.person[which]
    slot = people.random_slot(rng, person)
    chan, style, camp = _navigation(ctx, len(which), np.zeros(len(which), bool), brand)
    tp.add(person=person, t=nav_t, etype=ET["visit"], chan=chan, camp=camp,
           role=RL["navigational"], style=style, dev=slot, ids=ctx.web_ids(person, slot, 0.3),
           order=which)  # fmt: skip

    # Reverse ROPO: a store visit in the week before an online order.
    person = o.person
    known = (people.store_share[person] > 0) & (people.app_user[person] | people.loyalty[person])
    pick = np.flatnonzero(online & known & (rng.random(n) < REVERSE_ROPO_PROBABILITY))
    v_t = o.t[pick] - rng.integers(2 * HOUR, ROPO_WINDOW_DAYS * DAY, len(pick))
    v_t = clock.local_times(rng, clock.day_of(v_t), PROFILE_STORE)
    v_t = np.where(v_t >= o.t[pick], v_t - DAY, v_t)
    ok = (v_t >= 0) & (v_t > o.t[pick] - ROPO_WINDOW_DAYS * DAY)
    pick, v_t = pick[ok], v_t[ok]
    ids = loyalty_or_device(people, o.person[pick], v_t)
    ok = ids > 0
    pick, v_t, ids = pick[ok], v_t[ok], ids[ok]
    tp.add(person=o.person[pick], t=v_t, etype=ET["store_visit"], chan=CH["store"],
           role=RL["store_visit"], ids=ids, dev=np.where(ids == DEVICE, APP_SLOT, -1),
           store=people.home_store[o.person[pick]], prop=P_STORE_SOURCE,
           pval=(ids == LOYALTY).astype(np.int64), order=pick,
           dur=rng.uniform(5, 40, len(pick)) * MINUTE)  # fmt: skip

    # ROPO: web or app research in the week before a store order.
    store_o = o.sales == SC["store"]
    pick = np.flatnonzero(store_o & (rng.random(n) < ROPO_PROBABILITY))
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

    # QR codes of a mailing scanned in store just before buying.
    qr_of = np.array([c.qr_code is not None for c in ctx.campaigns] + [False])
    camp = np.where(o.camp >= 0, o.camp, len(ctx.campaigns))
    pick = np.flatnonzero(store_o & (o.cause == CH["direct_mail"]) & qr_of[camp]
                          & (rng.random(n) < 0.4))  # fmt: skip
    q_t = o.t[pick] - rng.integers(MINUTE, 20 * MINUTE, len(pick))
    pick, q_t = pick[q_t >= 0], q_t[q_t >= 0]
    _qr_rows(ctx, o.person[pick], q_t, o.camp[pick], o.store[pick], pick, RL["offline"])

    # Phone orders start with a call; returns often lead to a call or a chat.
    pick = np.flatnonzero(o.sales == SC["call_centre"])
    dur_t = o.t[pick] - rng.integers(3 * MINUTE, 15 * MINUTE, len(pick))
    pick, dur_t = pick[dur_t >= 0], dur_t[dur_t >= 0]
    service_contacts(ctx, o.person[pick], dur_t, "call", order=pick)
    ret = (o.status == ST["returned"]) | (o.status == ST["partially_returned"])
    pick = np.flatnonzero(ret & (rng.random(n) < 0.3))
    c_t = o.t[pick] + rng.integers(DAY, 10 * DAY, len(pick))
    pick, c_t = pick[c_t < clock.end], c_t[c_t < clock.end]
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


def _row_times(tp, rows: np.ndarray) -> np.ndarray:
    return tp.peek("t")[rows]


def _session_channel(ctx: Ctx, o: Orders, has: np.ndarray, new_sel: np.ndarray,
                     new_chan: np.ndarray, new_camp: np.ndarray) -> tuple:  # fmt: skip
    """True channel and campaign of each order session (for its funnel rows)."""
    n = len(o)
    chan = np.full(n, -1, dtype=np.int8)
    camp = np.full(n, -1, dtype=np.int16)
    chan[new_sel], camp[new_sel] = new_chan, new_camp
    ins = o.in_session
    chan[ins], camp[ins] = o.cause[ins], o.camp[ins]
    chan = np.where(ins & (o.cause == CH["push"]), CH["push"], chan)
    return chan[has], camp[has]
