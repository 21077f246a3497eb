"""Paid media: daily spend and the exposures it buys (display, social, video, search,
affiliates)."""

from __future__ import annotations

import numpy as np

from omnimetrics.simulate._config import CAUSAL, CH, CTR, ET, PAID_TARGET, RL
from omnimetrics.simulate._context import Ctx
from omnimetrics.simulate._events import ANON
from omnimetrics.simulate._people import People
from omnimetrics.simulate._util import PROFILE_WEB, choose, weighted_pick

DOW_WEIGHT = np.array([0.95, 0.95, 1.0, 1.0, 1.05, 1.05, 1.0])  # Monday..Sunday


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
