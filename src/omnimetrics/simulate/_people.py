"""The persons of the world: attributes, identifiers and latent purchase behaviour."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from omnimetrics.simulate._config import (
    APP_SHARE,
    CITIES,
    DT,
    EMAIL_MACHINE_SHARE,
    FIRST_NAMES,
    LAST_NAMES,
    LOYALTY_SHARE,
    REGISTER_SHARE,
    SEGMENT_SHARES,
    SEGMENTS,
    ClvParameters,
)
from omnimetrics.simulate._util import DAY, Clock, choose


@dataclass
class People:
    """One row per person (index = person number); every field is a numpy array."""

    n: int
    birth_year: np.ndarray
    gender: np.ndarray  # 0 f, 1 m, 2 other
    city: np.ndarray
    home_store: np.ndarray
    segment: np.ndarray
    store_share: np.ndarray
    activity: np.ndarray  # online activity multiplier (mean 1)
    consent_analytics: np.ndarray
    consent_marketing: np.ndarray
    registered: np.ndarray
    customer_number: np.ndarray  # 1.. for registered, 0 otherwise
    has_phone: np.ndarray
    loyalty: np.ndarray
    loyalty_number: np.ndarray
    app_user: np.ndarray
    app_since: np.ndarray  # seconds; -1 when installed before the window
    push_optin: np.ndarray
    n_devices: np.ndarray
    device_type: np.ndarray  # (n, 3) codes into DEVICE_TYPES
    rotation: np.ndarray  # (n, 3) cookie lifetime in seconds
    phase: np.ndarray  # (n, 3) seconds
    email_read: np.ndarray  # probability a received email is read
    machine_opens: np.ndarray  # behind a privacy proxy
    first_name: np.ndarray
    last_name: np.ndarray
    satisfaction: np.ndarray  # latent, standard normal
    lam: np.ndarray  # baseline purchase rate per day
    p_drop: np.ndarray  # dropout probability after each purchase
    nu: np.ndarray  # Gamma-Gamma rate of the spend distribution
    signup_day: np.ndarray  # days relative to start (negative: before the window)
    variant: np.ndarray  # -1 not in the experiment, 0 A, 1 B
    death: np.ndarray  # seconds; when the person drops out (end of window + 1 if never)

    def mobile_slot(self) -> np.ndarray:
        """The device slot of each person's phone browser (slot 0 when they have none)."""
        is_mobile = self.device_type == DT["mobile"]
        slot = np.argmax(is_mobile, axis=1)
        return np.where(is_mobile.any(axis=1), slot, 0).astype(np.int8)

    def random_slot(self, rng: np.random.Generator, person: np.ndarray) -> np.ndarray:
        return np.floor(rng.random(len(person)) * self.n_devices[person]).astype(np.int8)


def make_people(rng: np.random.Generator, n: int, clock: Clock, clv: ClvParameters) -> People:
    """Draw `n` persons."""
    who = _demographics(rng, n, clock)
    accounts = _accounts(rng, n, who["segment"], who["store_share"])
    app = _app(rng, n, who["segment"], clock)
    devices = _devices(rng, n)
    email_read = rng.beta(2.0, 8.0, n).astype(np.float32)
    machine = rng.random(n) < EMAIL_MACHINE_SHARE
    first_name = rng.integers(0, len(FIRST_NAMES), n).astype(np.int16)
    last_name = rng.integers(0, len(LAST_NAMES), n).astype(np.int16)
    behaviour = _purchase_behaviour(rng, n, clv)
    loyalty, consent_marketing = accounts["loyalty"], accounts["consent_marketing"]
    signup_day = np.where(
        loyalty, -rng.integers(30, 6 * 365, n), -rng.integers(1, 4 * 365, n)
    ).astype(np.int64)
    variant = np.where(consent_marketing, (rng.random(n) < 0.5).astype(np.int8), -1).astype(np.int8)
    return People(
        n=n, **who, **accounts, **app, **devices, email_read=email_read, machine_opens=machine,
        first_name=first_name, last_name=last_name, **behaviour, signup_day=signup_day,
        variant=variant, death=np.full(n, clock.end + 1, dtype=np.int64),
    )  # fmt: skip


def _demographics(rng: np.random.Generator, n: int, clock: Clock) -> dict[str, np.ndarray]:
    """Age, gender, city and home store, shopping segment and online activity."""
    age = np.clip(rng.normal(43, 15, n), 18, 85)
    birth_year = (clock.start.year - age).astype(np.int32)
    gender = choose(rng, (0.51, 0.47, 0.02), n).astype(np.int8)
    city = choose(rng, [c[2] for c in CITIES], n).astype(np.int8)
    first_store = np.cumsum([0] + [c[3] for c in CITIES])[:-1]
    stores_in_city = np.array([c[3] for c in CITIES])
    home_store = (first_store[city] + np.floor(rng.random(n) * stores_in_city[city])).astype(
        np.int16
    )
    segment = choose(rng, SEGMENT_SHARES, n).astype(np.int8)
    store_share = np.select([segment == 0, segment == 1], [0.0, 1.0], rng.beta(2.0, 2.0, n)).astype(
        np.float32
    )
    activity = rng.gamma(1.5, 1 / 1.5, n) * np.where(segment == 1, 0.5, 1.0)
    activity = (activity / max(activity.mean(), 1e-9)).astype(np.float32)
    return {
        "birth_year": birth_year, "gender": gender, "city": city, "home_store": home_store,
        "segment": segment, "store_share": store_share, "activity": activity,
    }  # fmt: skip


def _accounts(rng: np.random.Generator, n: int, segment: np.ndarray,
              store_share: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """Loyalty membership, registration and its numbers, phone and consents."""
    loyalty = (store_share > 0) & (rng.random(n) < LOYALTY_SHARE)
    reg_p = np.array([REGISTER_SHARE[s] for s in SEGMENTS])[segment]
    registered = loyalty | (rng.random(n) < reg_p)
    customer_number = np.zeros(n, dtype=np.int64)
    reg_idx = np.flatnonzero(registered)
    customer_number[reg_idx] = rng.permutation(len(reg_idx)) + 1
    loyalty_number = np.zeros(n, dtype=np.int64)
    loy_idx = np.flatnonzero(loyalty)
    loyalty_number[loy_idx] = rng.choice(9_000_000, size=len(loy_idx), replace=False) + 100_000
    has_phone = registered & (rng.random(n) < 0.75)
    consent_analytics = rng.random(n) < 0.90
    consent_marketing = registered & (rng.random(n) < 0.60)
    return {
        "loyalty": loyalty, "registered": registered, "customer_number": customer_number,
        "loyalty_number": loyalty_number, "has_phone": has_phone,
        "consent_analytics": consent_analytics, "consent_marketing": consent_marketing,
    }  # fmt: skip


def _app(rng: np.random.Generator, n: int, segment: np.ndarray,
         clock: Clock) -> dict[str, np.ndarray]:  # fmt: skip
    """App users, when those who install it during the window do, and push opt-ins."""
    app_user = rng.random(n) < np.array([APP_SHARE[s] for s in SEGMENTS])[segment]
    installs_now = app_user & (rng.random(n) < 0.15)
    app_since = np.where(installs_now, rng.integers(0, clock.end, n), -1).astype(np.int64)
    push_optin = app_user & (rng.random(n) < 0.6)
    return {"app_user": app_user, "app_since": app_since, "push_optin": push_optin}


def _devices(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Up to three devices per person, and the lifetime and phase of their cookies."""
    n_devices = (1 + choose(rng, (0.45, 0.40, 0.15), n)).astype(np.int8)
    first_mobile = rng.random(n) < 0.65
    device_type = np.empty((n, 3), dtype=np.int8)
    device_type[:, 0] = np.where(first_mobile, DT["mobile"], DT["desktop"])
    device_type[:, 1] = np.where(first_mobile, DT["desktop"], DT["mobile"])
    device_type[:, 2] = DT["tablet"]
    rotation = (rng.uniform(30, 90, (n, 3)) * DAY).astype(np.int64)
    phase = (rng.random((n, 3)) * rotation).astype(np.int64)
    return {"n_devices": n_devices, "device_type": device_type, "rotation": rotation,
            "phase": phase}  # fmt: skip


def _purchase_behaviour(rng: np.random.Generator, n: int,
                        clv: ClvParameters) -> dict[str, np.ndarray]:  # fmt: skip
    """Satisfaction, dropout probability, spend rate and purchase rate (BG/NBD, Gamma-Gamma).

    Latent satisfaction drives retention and spend through a Gaussian copula, so the marginals
    stay exactly Beta(a, b) and Gamma(q, gamma).
    """
    satisfaction = rng.standard_normal(n)
    e1, e2 = rng.standard_normal(n), rng.standard_normal(n)
    rd, rs = clv.rho_dropout, clv.rho_spend
    u_drop = special.ndtr(-rd * satisfaction + np.sqrt(1 - rd**2) * e1)
    u_spend = special.ndtr(-rs * satisfaction + np.sqrt(1 - rs**2) * e2)
    p_drop = special.betaincinv(clv.a, clv.b, np.clip(u_drop, 1e-12, 1 - 1e-12))
    nu = special.gammaincinv(clv.q, np.clip(u_spend, 1e-12, 1 - 1e-12)) / clv.gamma
    lam = rng.gamma(clv.r, 1.0 / clv.alpha, n)
    return {"satisfaction": satisfaction, "p_drop": p_drop, "nu": nu, "lam": lam}
