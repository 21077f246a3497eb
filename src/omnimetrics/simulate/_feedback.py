"""Voice of the customer: NPS after orders, reviews, CSAT and CES after service contacts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnimetrics.schema import CHANNELS, SALES_CHANNELS, SURVEY_TYPES
from omnimetrics.simulate._config import (
    COMMENTS,
    ET,
    HEARD_FROM,
    SC,
    ST,
    TOPICS_BY_SALES_CHANNEL,
)
from omnimetrics.simulate._context import Ctx
from omnimetrics.simulate._events import CUSTOMER, EMAIL, LOYALTY, PHONE
from omnimetrics.simulate._orders import Orders
from omnimetrics.simulate._util import DAY, choose

TOPICS = tuple(COMMENTS)
COMMENT_TEXTS = tuple(
    text for topic in TOPICS for tone in ("pos", "neg") for text in COMMENTS[topic][tone]
)
HEARD_WORDS = tuple(sorted({w for mix in HEARD_FROM.values() for w, _ in mix}))
SURVEY = {name: i for i, name in enumerate(SURVEY_TYPES)}


@dataclass
class Feedback:
    person: np.ndarray
    t: np.ndarray
    survey: np.ndarray
    score: np.ndarray
    chan: np.ndarray
    order: np.ndarray
    touch_row: np.ndarray
    store: np.ndarray
    comment: np.ndarray
    heard: np.ndarray
    ids: np.ndarray


def _comments(ctx: Ctx, topic: np.ndarray, positive: np.ndarray, share: float) -> np.ndarray:
    rng = ctx.rng
    n = len(topic)
    per_topic = 2 * len(COMMENTS[TOPICS[0]]["pos"])
    french = rng.random(n) < 0.7
    k = np.where(french, 0, 2) + rng.integers(0, 2, n)
    idx = topic * per_topic + np.where(positive, 0, per_topic // 2) + k
    return np.where(rng.random(n) < share, idx, -1).astype(np.int32)


def _topics(ctx: Ctx, sales: np.ndarray) -> np.ndarray:
    out = np.zeros(len(sales), dtype=np.int64)
    for name, topics in TOPICS_BY_SALES_CHANNEL.items():
        mine = sales == SC[name]
        codes = np.array([TOPICS.index(t) for t in topics])
        out[mine] = codes[ctx.rng.integers(0, len(codes), int(mine.sum()))]
    return out


def make_feedback(ctx: Ctx, o: Orders, touch: dict[str, np.ndarray]) -> Feedback:
    """NPS after orders, reviews after delivered online orders, CSAT and CES after contacts."""
    chan_of_sales = np.array(
        [-1 if s == "web" else CHANNELS.index(s) for s in SALES_CHANNELS], dtype=np.int8
    )
    parts = [_nps(ctx, o, chan_of_sales), _reviews(ctx, o, chan_of_sales), *_service(ctx, touch)]
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(merged["t"], kind="stable")
    return Feedback(**{k: v[order] for k, v in merged.items()})


def _nps(ctx: Ctx, o: Orders, chan_of_sales: np.ndarray) -> dict[str, np.ndarray]:
    """NPS a few days after an order; store receipts invite "how did you hear of us"."""
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    store_o = o.sales == SC["store"]
    asked = (o.status != ST["pending"]) & (rng.random(len(o)) < np.where(store_o, 0.08, 0.12))
    pick = np.flatnonzero(asked)
    t = o.t[pick] + rng.integers(DAY, 5 * DAY, len(pick))
    pick, t = pick[t < clock.end], t[t < clock.end]
    person = o.person[pick]
    status = o.status[pick]
    penalty = np.select([status == ST["cancelled"], status == ST["returned"],
                         status == ST["partially_returned"]], [-3.0, -2.5, -1.0], 0.0)  # fmt: skip
    score = np.clip(
        np.round(7.4 + 1.5 * people.satisfaction[person] + penalty
                 + rng.normal(0, 1.3, len(pick))), 0, 10,
    )  # fmt: skip
    sales = o.sales[pick]
    reg = people.registered[person]
    ids = np.select(
        [sales == SC["store"], reg & (rng.random(len(pick)) < 0.8), sales != SC["marketplace"]],
        [np.where(o.loyalty_shown[pick], LOYALTY, 0), CUSTOMER, EMAIL],
        0,
    ).astype(np.uint8)
    heard = _heard_from(ctx, o, pick, sales)
    positive = np.where(score >= 9, True, np.where(score <= 6, False, rng.random(len(pick)) < 0.5))
    return {
        "person": person, "t": t, "survey": np.full(len(pick), SURVEY["nps"]), "score": score,
        "chan": chan_of_sales[sales], "order": pick, "touch_row": np.full(len(pick), -1),
        "store": np.where(sales == SC["store"], o.store[pick], -1),
        "comment": _comments(ctx, _topics(ctx, sales), positive, 0.45), "heard": heard,
        "ids": ids,
    }  # fmt: skip


def _heard_from(ctx: Ctx, o: Orders, pick: np.ndarray, sales: np.ndarray) -> np.ndarray:
    """The answer to "how did you hear of us" on store receipts (-1 when not asked): drawn
    from the mix of the order's cause, with some noise."""
    rng = ctx.rng
    heard_key = ["baseline", *CHANNELS]
    heard = np.full(len(pick), -1, dtype=np.int16)
    ask = np.flatnonzero((sales == SC["store"]) & (rng.random(len(pick)) < 0.6))
    cause = o.cause[pick][ask]
    for c in np.unique(cause):
        mix = HEARD_FROM.get(heard_key[max(int(c), -1) + 1], HEARD_FROM["baseline"])
        mine = ask[cause == c]
        words = np.array([HEARD_WORDS.index(w) for w, _ in mix])
        heard[mine] = words[choose(rng, [w for _, w in mix], len(mine))]
    noise = ask[rng.random(len(ask)) < 0.2]
    heard[noise] = rng.integers(0, len(HEARD_WORDS), len(noise))
    return heard


def _reviews(ctx: Ctx, o: Orders, chan_of_sales: np.ndarray) -> dict[str, np.ndarray]:
    """Product reviews after delivered online orders."""
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    online = o.online
    done = (o.status == ST["completed"]) | (o.status == ST["partially_returned"])
    pick = np.flatnonzero(online & done & (rng.random(len(o)) < 0.05))
    t = o.t[pick] + rng.integers(5 * DAY, 20 * DAY, len(pick))
    pick, t = pick[t < clock.end], t[t < clock.end]
    person = o.person[pick]
    score = np.clip(
        np.round(3.9 + 0.9 * people.satisfaction[person] + rng.normal(0, 0.8, len(pick))), 1, 5
    )
    topic = np.array([TOPICS.index("product"), TOPICS.index("delivery")])[
        rng.integers(0, 2, len(pick))
    ]
    reg = people.registered[person]
    return {
        "person": person, "t": t, "survey": np.full(len(pick), SURVEY["review"]), "score": score,
        "chan": chan_of_sales[o.sales[pick]], "order": pick, "touch_row": np.full(len(pick), -1),
        "store": np.full(len(pick), -1),
        "comment": _comments(ctx, topic, score >= 4, 0.7), "heard": np.full(len(pick), -1),
        "ids": np.where(reg, CUSTOMER, EMAIL).astype(np.uint8),
    }  # fmt: skip


def _service(ctx: Ctx, touch: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """CSAT after calls and chats, CES after calls."""
    rng, people, clock = ctx.rng, ctx.people, ctx.clock
    parts = []
    contact = np.flatnonzero((touch["etype"] == ET["call"]) | (touch["etype"] == ET["chat"]))
    for survey, share, low, high, centre, slope, spread in (
        ("csat", 0.30, 1, 5, 3.8, 0.7, 0.9),
        ("ces", 0.25, 1, 7, 5.0, 0.8, 1.1),
    ):
        pick = contact[rng.random(len(contact)) < share]
        if survey == "ces":
            pick = pick[touch["etype"][pick] == ET["call"]]
        t = touch["t"][pick] + rng.integers(600, DAY, len(pick))
        pick, t = pick[t < clock.end], t[t < clock.end]
        person = touch["person"][pick].astype(np.int64)
        score = np.clip(
            np.round(centre + slope * people.satisfaction[person]
                     + rng.normal(0, spread, len(pick))), low, high,
        )  # fmt: skip
        is_call = touch["etype"][pick] == ET["call"]
        reg = people.registered[person]
        ids = np.where(reg, CUSTOMER, np.where(is_call, PHONE, EMAIL)).astype(np.uint8)
        topic = np.full(len(pick), TOPICS.index("service"))
        parts.append({
            "person": person, "t": t, "survey": np.full(len(pick), SURVEY[survey]),
            "score": score, "chan": touch["chan"][pick], "order": np.full(len(pick), -1),
            "touch_row": pick, "store": np.full(len(pick), -1),
            "comment": _comments(ctx, topic, score >= (4 if survey == "csat" else 5), 0.35),
            "heard": np.full(len(pick), -1), "ids": ids,
        })  # fmt: skip
    return parts
