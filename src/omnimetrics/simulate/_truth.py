"""What really happened: contributions, parameters, linkage and data-quality counts."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pyarrow as pa

from omnimetrics.schema import CHANNELS, EVENT_TYPES, SALES_CHANNELS
from omnimetrics.simulate._campaigns import Campaign
from omnimetrics.simulate._config import (
    CAUSAL,
    CH,
    ET,
    EXPERIMENT,
    LIFT_CLICK,
    OMNI_LIFT_CAUSE,
    REVERSE_ROPO_PROBABILITY,
    RL,
    ROLES,
    ROPO_PROBABILITY,
    ROPO_WINDOW_DAYS,
    SATURATION_WINDOW_DAYS,
    SC,
    SEGMENTS,
    ClvParameters,
)
from omnimetrics.simulate._orders import Orders, TriggerStats, omni_since
from omnimetrics.simulate._people import People
from omnimetrics.simulate._util import DAY, Clock, sort_by, take_dict, take_or_null

WEB_ACTIVITY = [ET[e] for e in ("visit", "page_view", "product_view", "add_to_cart", "checkout")]


def _r(x: float, digits: int = 6) -> float:
    return float(round(float(x), digits))


def _preceded(tp: dict, mask: np.ndarray, person: np.ndarray, t: np.ndarray, window: int,
              end_span: int) -> np.ndarray:  # fmt: skip
    """For each (person, t): is there a touch in `mask` by that person in [t - window, t)?"""
    span = end_span + 10 * DAY
    key = np.sort(tp["person"][mask].astype(np.int64) * span + tp["t"][mask])
    q = person.astype(np.int64) * span + t
    hi = np.searchsorted(key, q, side="left")
    lo = np.searchsorted(key, q - window, side="left")
    return hi > lo


def last_touch_shares(tp: dict, o: Orders, end: int) -> dict[str, float]:
    """Share of online orders whose last touch (30 days, funnel rows aside) is each channel."""
    online = o.online
    keep = tp["role"] != RL["funnel"]
    person, t, chan = tp["person"][keep].astype(np.int64), tp["t"][keep], tp["chan"][keep]
    span = end + 10 * DAY
    order = sort_by(person, t)
    key = person[order] * span + t[order]
    q = o.person[online].astype(np.int64) * span + o.t[online]
    at = np.searchsorted(key, q, side="left") - 1
    ok = (at >= 0) & (key[np.maximum(at, 0)] >= q - 30 * DAY)
    last = chan[order][at[ok]]
    counts = np.bincount(last, minlength=len(CHANNELS))
    total = max(int(online.sum()), 1)
    return {c: _r(counts[i] / total) for i, c in enumerate(CHANNELS) if counts[i]}


def build_truth(*, seed: int, people: People, clock: Clock, start: str, clv: ClvParameters,
                campaigns: list[Campaign], o: Orders, tp: dict, stats: TriggerStats,
                spend: dict[int, float]) -> dict:  # fmt: skip
    """The truth dict; dirty_rows, duplicates and rows are added once the files are final."""
    end = clock.end
    incremental = o.cause >= 0
    et = tp["etype"]
    sends, opens, clicks = et == ET["email_send"], et == ET["email_open"], et == ET["email_click"]
    return {
        "format": "omnimetrics-truth/1",
        "seed": seed,
        "customers": people.n,
        "days": clock.days,
        "start": start,
        "persons": people.n,
        "orders": len(o),
        "revenue": _r(o.revenue.sum(), 2),
        "orders_by_sales_channel": {
            s: int((o.sales == i).sum()) for i, s in enumerate(SALES_CHANNELS)
        },
        "baseline_orders": int((o.cause == -1).sum()),
        "baseline_revenue": _r(o.revenue[o.cause == -1].sum(), 2),
        "incremental_orders": int(incremental.sum()),
        "incremental_revenue": _r(o.revenue[incremental].sum(), 2),
        "channel_contribution": _channel_contribution(o, campaigns, stats, spend),
        "campaign_contribution": _campaign_contribution(o, campaigns, spend),
        "last_touch_share_of_online_orders": last_touch_shares(tp, o, end),
        "clv_parameters": _clv_parameters(clv, people, end),
        "causal_parameters": _causal_parameters(),
        "campaign_parameters": [_campaign_parameters(c) for c in campaigns],
        "experiment": _experiment(people, tp, o, stats, sends, clicks),
        "ropo": _ropo(tp, o, end),
        "offline_linkage": _offline_linkage(tp, o),
        "email": {
            "sends": int(sends.sum()),
            "opens": int(opens.sum()),
            "machine_opens": int((opens & tp["machine"]).sum()),
            "clicks": int(clicks.sum()),
        },
        "people": _people_counts(people),
        **({"omni_lift": _omni_lift(clv, people, o)} if clv.omni_lift != 1.0 else {}),
    }


def _omni_lift(clv: ClvParameters, people: People, o: Orders) -> dict:
    """The causal effect of becoming omnichannel and the orders it added (only when set)."""
    added = o.cause == OMNI_LIFT_CAUSE
    since = omni_since(o.person, o.t, o.sales, people.n)
    return {
        "lift": clv.omni_lift,
        "trigger": "a person's first order in a sales channel other than their first order's: "
        "from then on, while alive, their baseline purchase rate is multiplied by lift",
        "persons_omnichannel": int((since >= 0).sum()),
        "orders": int(added.sum()),
        "revenue": _r(o.revenue[added].sum(), 2),
        "orders_table": "truth_orders rows with cause 'omni_lift'",
    }


def _incremental_total(o: Orders) -> int:
    """Orders caused by marketing (at least 1: a share's denominator)."""
    return max(int((o.cause >= 0).sum()), 1)


def _channel_contribution(o: Orders, campaigns: list[Campaign], stats: TriggerStats,
                          spend: dict[int, float]) -> list[dict]:  # fmt: skip
    """Per causal channel: the orders and revenue it caused, its exposures, spend and ROAS."""
    inc_total = _incremental_total(o)
    channels = []
    for name in CAUSAL:
        mine = o.cause == CH[name]
        revenue = float(o.revenue[mine].sum())
        cost = sum(v for k, v in spend.items() if campaigns[k].channel == name)
        channels.append({
            "channel": name,
            "incremental_orders": int(mine.sum()),
            "incremental_revenue": _r(revenue, 2),
            "share_of_incremental_orders": _r(mine.sum() / inc_total),
            "exposures": stats.exposures_by_channel.get(name, 0),
            "spend": _r(cost, 2),
            "incremental_roas": _r(revenue / cost, 4) if cost > 0 else None,
        })  # fmt: skip
    return channels


def _campaign_contribution(o: Orders, campaigns: list[Campaign],
                           spend: dict[int, float]) -> list[dict]:  # fmt: skip
    """Per campaign of a causal channel: the orders and revenue it caused, and its spend."""
    inc_total = _incremental_total(o)
    camps = []
    for c in campaigns:
        if c.channel not in CAUSAL:
            continue
        mine = o.camp == c.idx
        revenue = float(o.revenue[mine].sum())
        camps.append({
            "channel": c.channel, "campaign": c.name,
            "incremental_orders": int(mine.sum()),
            "incremental_revenue": _r(revenue, 2),
            "share_of_incremental_orders": _r(mine.sum() / inc_total),
            "spend": _r(spend.get(c.idx, 0.0), 2),
        })  # fmt: skip
    return camps


def _clv_parameters(clv: ClvParameters, people: People, end: int) -> dict:
    clv_dict = asdict(clv)
    return {
        **{k: clv_dict[k] for k in ("r", "alpha", "a", "b", "p", "q", "gamma")},
        "time_unit": "day",
        "satisfaction_copula": {"rho_dropout": clv.rho_dropout, "rho_spend": clv.rho_spend},
        "alive_at_end": int((people.death > end).sum()),
    }


def _causal_parameters() -> dict:
    return {
        name: {
            "beta": m.beta,
            "mean_delay_days": m.mean_delay_days,
            "cost_per_exposure": m.cost_per_exposure,
            "exposure_events": m.exposure_events,
            "frequency_decay": m.frequency_decay,
            "saturation_window_days": SATURATION_WINDOW_DAYS,
            "beta_engaged": m.beta_engaged,
            "engaged_delay_days": m.engaged_delay_days,
            "store_factor": m.store_factor,
        }
        for name, m in CAUSAL.items()
    }


def _campaign_parameters(c: Campaign) -> dict:
    return {
        "channel": c.channel,
        "campaign": c.name,
        "kind": c.kind,
        "first_day": int(c.d0),
        "last_day": int(c.d1 - 1),
        "beta_multiplier": c.beta_mult,
        "cost_per_exposure": c.cpe,
        "promo_code": c.promo_code,
        "qr_code": c.qr_code,
    }


def _experiment(people: People, tp: dict, o: Orders, stats: TriggerStats, sends: np.ndarray,
                clicks: np.ndarray) -> dict:  # fmt: skip
    """The email A/B test: its true lifts and what each variant realised."""
    variant = people.variant
    v_send = variant[tp["person"][sends]]
    v_click = variant[tp["person"][clicks]]
    v_orders = variant[o.person[o.cause == CH["email"]]]
    realised = {}
    for v, name in enumerate(("A", "B")):
        n_send = int((v_send == v).sum())
        n_click = int((v_click == v).sum())
        n_ord = int((v_orders == v).sum())
        realised[name] = {
            "units": int((variant == v).sum()),
            "sends": n_send,
            "clicks": n_click,
            "click_rate": _r(n_click / max(n_send, 1)),
            "email_caused_orders": n_ord,
            "email_caused_orders_per_send": _r(n_ord / max(n_send, 1)),
        }
    expected_a = float(stats.email_expected_a.sum())
    lift_conv = float(stats.email_expected_b.sum()) / expected_a if expected_a > 0 else 1.0
    return {
        "name": EXPERIMENT,
        "variants": ["A", "B"],
        "unit_type": "customer_id",
        "units": int((variant >= 0).sum()),
        "true_relative_lift_click": LIFT_CLICK,
        "true_relative_lift_conversion": _r(lift_conv - 1),
        "definitions": {
            "click": "email clicks per email sent",
            "conversion": "email-triggered orders per email sent (expected, same sends "
            "under A and under B)",
        },
        "realised": realised,
    }


def _ropo(tp: dict, o: Orders, end: int) -> dict:
    """Research online, purchase offline (and the reverse): true probabilities, realised shares."""
    store_o = o.sales == SC["store"]
    online = o.online
    settled = o.t >= ROPO_WINDOW_DAYS * DAY
    web_rows = np.isin(tp["etype"], WEB_ACTIVITY)
    research = _preceded(tp, web_rows, o.person[store_o & settled], o.t[store_o & settled],
                         ROPO_WINDOW_DAYS * DAY, end)  # fmt: skip
    visit_rows = tp["etype"] == ET["store_visit"]
    visited = _preceded(tp, visit_rows, o.person[online & settled], o.t[online & settled],
                        ROPO_WINDOW_DAYS * DAY, end)  # fmt: skip
    return {
        "window_days": ROPO_WINDOW_DAYS,
        "research_probability": ROPO_PROBABILITY,
        "store_orders_with_online_research_share": _r(research.mean() if len(research) else 0.0),
        "reverse_probability": REVERSE_ROPO_PROBABILITY,
        "online_orders_with_store_visit_share": _r(visited.mean() if len(visited) else 0.0),
        "measured_on": "orders placed at least window_days after start; any web/app "
        "activity (or store_visit row) of the same person in the window",
    }


def _offline_linkage(tp: dict, o: Orders) -> dict:
    """How store orders can be linked to a person or to marketing."""
    store_o = o.sales == SC["store"]
    qr = (tp["etype"] == ET["qr_scan"]) & (tp["order"] >= 0)
    qr_orders = np.unique(tp["order"][qr])
    return {
        "store_orders": int(store_o.sum()),
        "store_orders_with_loyalty_id": int((store_o & o.loyalty_shown).sum()),
        "store_orders_with_promo_code": int((store_o & (o.promo >= 0)).sum()),
        "store_orders_with_qr_scan": int(store_o[qr_orders].sum()) if len(qr_orders) else 0,
        "store_orders_caused_by_marketing": int((store_o & (o.cause >= 0)).sum()),
    }


def _people_counts(people: People) -> dict:
    return {
        "registered": int(people.registered.sum()),
        "loyalty_members": int(people.loyalty.sum()),
        "app_users": int(people.app_user.sum()),
        "consent_analytics": int(people.consent_analytics.sum()),
        "consent_marketing": int(people.consent_marketing.sum()),
        "segments": {s: int((people.segment == i).sum()) for i, s in enumerate(SEGMENTS)},
    }


def truth_touchpoints(tp: dict, event_id: pa.Array, person_id: pa.Array, order_id: pa.Array,
                      camp_names: list[str]) -> pa.Table:  # fmt: skip
    return pa.table({
        "event_id": event_id,
        "person_id": person_id,
        "channel": take_dict(CHANNELS, tp["chan"]),
        "campaign": take_dict(camp_names, tp["camp"]),
        "event_type": take_dict(EVENT_TYPES, tp["etype"]),
        "role": take_dict(ROLES, tp["role"]),
        "machine_open": pa.array(tp["machine"]),
        "order_id": take_or_null(order_id, tp["order"]),
    })  # fmt: skip


def truth_orders(o: Orders, order_id: pa.Array, person_id: pa.Array, event_id: pa.Array,
                 clock: Clock, camp_names: list[str], codes: list[str]) -> pa.Table:  # fmt: skip
    cause = np.where(o.cause >= 0, o.cause + 1, 0)
    causes = ["baseline", *CHANNELS]
    lifted = o.cause == OMNI_LIFT_CAUSE
    if lifted.any():  # only in a world with an omni lift: the default's dictionary stays as is
        causes.append("omni_lift")
        cause = np.where(lifted, len(causes) - 1, cause)
    return pa.table({
        "order_id": order_id,
        "person_id": person_id,
        "timestamp": clock.timestamps(o.t),
        "sales_channel": take_dict(SALES_CHANNELS, o.sales),
        "cause": take_dict(causes, cause),
        "cause_campaign": take_dict(camp_names, o.camp),
        "cause_event_id": take_or_null(event_id, o.cause_row),
        "promo_code": take_dict(codes, o.promo),
        "revenue": pa.array(o.revenue, pa.float64()),
        "in_session": pa.array(o.in_session),
    })  # fmt: skip


def truth_persons(people: People, person_id: pa.Array, customer_id: pa.Array,
                  end: int) -> pa.Table:  # fmt: skip
    return pa.table({
        "person_id": person_id,
        "customer_id": customer_id,
        "segment": take_dict(SEGMENTS, people.segment),
        "store_share": pa.array(people.store_share.astype(np.float64)),
        "lambda_per_day": pa.array(people.lam),
        "dropout_probability": pa.array(people.p_drop),
        "spend_nu": pa.array(people.nu),
        "satisfaction": pa.array(people.satisfaction),
        "registered": pa.array(people.registered),
        "loyalty_member": pa.array(people.loyalty),
        "app_user": pa.array(people.app_user),
        "experiment_variant": take_dict(["A", "B"], people.variant),
        "alive_at_end": pa.array(people.death > end),
    })  # fmt: skip
