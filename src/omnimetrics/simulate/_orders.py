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
    FF,
    LEAKED_CODE_USE,
    LIFT_CLICK,
    LOYALTY_PRESENTED,
    OMNI_LIFT_CAUSE,
    PROMO_CODE_USE,
    SATURATION_WINDOW_DAYS,
    SC,
    ST,
    ClvParameters,
)
from omnimetrics.simulate._context import Ctx
from omnimetrics.simulate._events import ANON, APP_SLOT, CUSTOMER, DEVICE, EMAIL, LOYALTY, PHONE
from omnimetrics.simulate._util import DAY, HOUR, MINUTE, choose, rank_within, sort_by

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

    @property
    def online(self) -> np.ndarray:
        """Web and app orders."""
        return (self.sales == SC["web"]) | (self.sales == SC["app"])


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

    n_b = len(b_person)
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
    if clv.omni_lift != 1.0:  # the default draws nothing here: its worlds stay byte for byte
        person, t, f = _omni_lift(ctx, clv.omni_lift, person, t, f)
    n = len(t)
    orders = _attributes(ctx, clv, camps, person, t, f, n)
    return orders, stats


def omni_since(person: np.ndarray, t: np.ndarray, sales: np.ndarray, n_people: int) -> np.ndarray:
    """When each person became omnichannel (-1 never): the time of their first order in a sales
    channel other than their first order's (orders sorted by time)."""
    persons, first = np.unique(person, return_index=True)
    first_sales = np.full(n_people, -1, dtype=np.int16)
    first_sales[persons] = sales[first]
    other = np.flatnonzero(sales != first_sales[person])
    who, at = np.unique(person[other], return_index=True)
    since = np.full(n_people, -1, dtype=np.int64)
    since[who] = t[other][at]
    return since


def _omni_lift(ctx: Ctx, lift: float, person: np.ndarray, t: np.ndarray,
               f: dict) -> tuple[np.ndarray, np.ndarray, dict]:  # fmt: skip
    """Superpose the purchases caused by becoming omnichannel: Poisson at rate
    (lift - 1) * lambda from that moment to death or the end, so that the person's baseline
    rate is lambda * lift while alive. They are baseline-like orders with cause
    OMNI_LIFT_CAUSE and do not move the dropout (death stays where the baseline put it)."""
    rng, people, end = ctx.rng, ctx.people, ctx.clock.end
    since = omni_since(person, t, f["sales"], people.n)
    who = np.flatnonzero(since >= 0)
    span = np.maximum(np.minimum(people.death[who], end) - since[who], 0)
    m = rng.poisson((lift - 1.0) * people.lam[who] * span / DAY)
    p = np.repeat(who, m)
    p_t = np.repeat(since[who], m) + (rng.random(len(p)) * np.repeat(span, m)).astype(np.int64)
    p_sales = _sales_channels(ctx, p, p_t, np.ones(len(p)), marketplace=True)
    p_t = _snap(ctx, p_t, p_sales)
    keep = (p_t < end) & (p_t < people.death[p])
    p, p_t, p_sales, k = p[keep], p_t[keep], p_sales[keep], int(keep.sum())
    extra = {
        "cause": np.full(k, OMNI_LIFT_CAUSE, np.int8), "camp": np.full(k, -1, np.int16),
        "cause_row": np.full(k, -1, np.int64), "in_session": np.zeros(k, bool),
        "session_row": np.full(k, -1, np.int64), "dev": np.full(k, -1, np.int8),
        "sales": p_sales,
    }  # fmt: skip
    person, t = np.concatenate([person, p]), np.concatenate([t, p_t])
    f = {name: np.concatenate([f[name], extra[name]]) for name in f}
    order = sort_by(t, person)
    return person[order], t[order], {name: v[order] for name, v in f.items()}


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
    """Where, how much, which code, what happened next and who is known, for each order."""
    rng, people = ctx.rng, ctx.people
    sales = f["sales"]
    store_o = sales == SC["store"]
    online = (sales == SC["web"]) | (sales == SC["app"])
    fulfilment, store = _fulfilment(ctx, person, store_o, online)
    # How much: Gamma-Gamma, revenue ~ Gamma(p, nu_person).
    revenue = np.round(np.clip(rng.gamma(clv.p, 1.0 / people.nu[person]), 1.0, 10_000.0), 2)
    promo, discount = _promo_codes(ctx, camps, t, f["camp"].astype(np.int64), revenue)
    margin = np.round(revenue * rng.uniform(0.30, 0.45, n), 2)
    items = np.minimum(1 + rng.poisson(revenue / 60.0), 10_000)
    status, returned = _status(ctx, store_o, t, revenue)
    loyalty_shown, ids, dev = _recorded_identifiers(ctx, person, f, store_o, online)
    return Orders(
        person=person, t=t, cause=f["cause"], camp=f["camp"], cause_row=f["cause_row"],
        in_session=f["in_session"], session_row=f["session_row"], dev=dev, sales=sales,
        fulfilment=fulfilment.astype(np.int8), store=store, revenue=revenue, discount=discount,
        promo=promo.astype(np.int16), items=items, status=status, returned=returned,
        margin=margin, loyalty_shown=loyalty_shown, ids=ids,
    )  # fmt: skip


def _fulfilment(ctx: Ctx, person: np.ndarray, store_o: np.ndarray,
                online: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """How each order is fulfilled, and its store: the home store mostly, another store of
    the city, or anywhere (-1 for home delivery)."""
    rng, people = ctx.rng, ctx.people
    n = len(person)
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
    return fulfilment, store


def _promo_codes(ctx: Ctx, camps: list[Campaign], t: np.ndarray, camp: np.ndarray,
                 revenue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The campaign whose code each order used (-1 none) and its discount: campaigns with a
    code; a few baseline orders use a code found online."""
    rng = ctx.rng
    n = len(t)
    code_of = np.array([c.promo_code is not None for c in camps] + [False])
    code_from = np.array([c.code_from for c in camps] + [0])
    code_to = np.array([c.code_to for c in camps] + [0])
    discount_of = np.array([c.discount for c in camps] + [0.0])
    day = ctx.clock.day_of(t)
    promo = np.where((camp >= 0) & (rng.random(n) < PROMO_CODE_USE), camp, -1)
    coded = np.flatnonzero(code_of[:-1])
    if len(coded):
        leaked = coded[rng.integers(0, len(coded), n)]
        promo = np.where((camp < 0) & (rng.random(n) < LEAKED_CODE_USE), leaked, promo)
    c = np.where(promo >= 0, promo, len(camps))
    promo = np.where(code_of[c] & (day >= code_from[c]) & (day < code_to[c]), promo, -1)
    rate = discount_of[np.where(promo >= 0, promo, len(camps))]
    discount = np.round(revenue * rate / (1 - rate), 2)
    return promo, discount


def _status(ctx: Ctx, store_o: np.ndarray, t: np.ndarray,
            revenue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """What happened next: completed, cancelled, returned (the amount returned) or pending."""
    rng, clock = ctx.rng, ctx.clock
    n = len(t)
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
    return status, returned


def _recorded_identifiers(
    ctx: Ctx, person: np.ndarray, f: dict, store_o: np.ndarray, online: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who: whether a loyalty card was shown, the identifiers each system records, the device."""
    rng, people = ctx.rng, ctx.people
    n = len(person)
    sales = f["sales"]
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
    return loyalty_shown, ids, dev
