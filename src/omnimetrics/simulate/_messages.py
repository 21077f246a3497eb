"""Owned messages: email (with the subject-line test), SMS, push and direct mail, their
clicks, the exposures they make and their platform costs."""

from __future__ import annotations

import numpy as np

from omnimetrics.simulate._campaigns import Campaign
from omnimetrics.simulate._config import (
    CAUSAL,
    CH,
    EMAIL_CLICK_GIVEN_READ,
    EMAIL_SHARE_PER_SEND,
    ET,
    LIFT_CLICK,
    PUSH_OPEN,
    RL,
    SMS_CLICK,
)
from omnimetrics.simulate._context import Ctx
from omnimetrics.simulate._events import APP_SLOT, CUSTOMER, DEVICE, EMAIL, P_VARIANT, PHONE
from omnimetrics.simulate._util import DAY, HOUR, MINUTE


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
