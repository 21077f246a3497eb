"""From integer codes to the files a user would bring: strings, formats, identifiers.

`Writer` writes every file: identifiers (`_identifiers`), touchpoints (`_touchpoint_file`),
orders (`_order_files`), and here the reference files and the survey answers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from omnimetrics.schema import CHANNELS, SURVEY_TYPES
from omnimetrics.simulate._config import CITIES, EXPERIMENT
from omnimetrics.simulate._events import ANON, CUSTOMER, DEVICE
from omnimetrics.simulate._feedback import COMMENT_TEXTS, HEARD_WORDS, Feedback
from omnimetrics.simulate._identifiers import LOCAL_SHARE
from omnimetrics.simulate._order_files import OrderFiles
from omnimetrics.simulate._touchpoint_file import TouchpointFile
from omnimetrics.simulate._util import (
    DAY,
    HOUR,
    assemble,
    cents,
    digits_needed,
    fixed_strings,
    int_text,
    sort_by,
    take,
    where,
)


class Writer(TouchpointFile, OrderFiles):
    """Turns the simulated arrays into tables and remembers every identifier it wrote."""

    def feedback(self, fb: Feedback, order_id: pa.Array, event_id: pa.Array) -> pa.Table:
        n = len(fb.t)
        person = fb.person.astype(np.int64)
        about = assemble(n, [
            (np.flatnonzero(fb.order >= 0), order_id.take(pa.array(fb.order[fb.order >= 0]))),
            (np.flatnonzero(fb.touch_row >= 0),
             event_id.take(pa.array(fb.touch_row[fb.touch_row >= 0]))),
        ])  # fmt: skip
        cols = {
            "response_id": fixed_strings("R-", np.arange(n) + 1, digits_needed(n, 7)),
            "timestamp": self.clock.iso(fb.t, LOCAL_SHARE, self.rng),
            **self.identifiers(person, fb.ids, np.full(n, -1, np.int8), fb.t),
            "survey_type": take(SURVEY_TYPES, fb.survey),
            "score": int_text(fb.score),
            "channel": take(CHANNELS, fb.chan),
            "touchpoint_id": about,
            "store_id": self.store_ids(fb.store),
            "comment": take(COMMENT_TEXTS, fb.comment),
            "heard_from": take(HEARD_WORDS, fb.heard),
        }
        for k in ("anonymous_id", "device_id"):
            del cols[k]
        return pa.table(cols)

    def customers(self) -> tuple[pa.Table, np.ndarray, np.ndarray, int]:
        """customers.csv (with a few re-exported rows); returns persons and created times."""
        rng, p, clock = self.rng, self.people, self.clock
        person = np.flatnonzero(p.registered)
        person = person[np.argsort(p.customer_number[person])]
        created = p.signup_day[person] * DAY + rng.integers(8 * HOUR, 20 * HOUR, len(person))
        again = rng.random(len(person)) < 0.005
        rows = np.concatenate([np.arange(len(person)), np.flatnonzero(again)])
        n = len(rows)
        who = person[rows]
        created_at = created[rows]
        first = np.arange(n) < len(person)
        updated_at = np.where(
            first,
            created_at + (rng.random(n) * (-created_at)).astype(np.int64),
            rng.integers(0, clock.end, n),
        )
        age = clock.start.year - p.birth_year[who]
        band = np.digitize(age, [25, 35, 45, 55, 65])
        has_year = rng.random(n) < 0.9
        has_band = ~has_year & (rng.random(n) < 0.5)
        gender = np.where(rng.random(n) < 0.85, p.gender[who], -1)
        city = p.city[who]
        bools = ["false", "true"]
        cols = {
            "customer_id": self.customer_id(who),
            "birth_year": int_text(p.birth_year[who], has_year),
            "age_band": take(["18-24", "25-34", "35-44", "45-54", "55-64", "65+"],
                             np.where(has_band, band, -1)),
            "gender": take(["f", "m", "x"], gender),
            "city": take([c[0] for c in CITIES], city),
            "region": take([c[1] for c in CITIES], city),
            "country": pa.array(np.full(n, "FR", dtype=object), pa.string()),
            "signup_date": clock.dates(p.signup_day[who]),
            "loyalty_id": self.loyalty_id(who),
            "email": self.email(who),
            "phone": where(p.has_phone[who], self.phone(who)),
            "consent_analytics": take(bools, p.consent_analytics[who].astype(np.int64)),
            "consent_marketing": take(bools, p.consent_marketing[who].astype(np.int64)),
            "created_at": clock.iso(created_at, LOCAL_SHARE, rng),
            "updated_at": clock.iso(updated_at, LOCAL_SHARE, rng),
        }  # fmt: skip
        self.seen["customer_id"].append(who.astype(np.int64))
        self.seen["loyalty_id"].append(who[p.loyalty[who]].astype(np.int64))
        order = np.argsort(np.where(first, -1, updated_at), kind="stable")
        table = pa.table(cols).take(pa.array(order))
        return table, person, created, int(again.sum())

    def identities(self, tp: dict[str, np.ndarray], person: np.ndarray,
                   created: np.ndarray) -> pa.Table:  # fmt: skip
        """Links: logins (cookie - customer), app logins, CRM email/phone, loyalty cards."""
        p, clock = self.people, self.clock
        ids, who, t, dev = tp["ids"], tp["person"].astype(np.int64), tp["t"], tp["dev"]
        parts: list[tuple[str, pa.Array, str, pa.Array, str, np.ndarray]] = []
        logged = np.flatnonzero(((ids & ANON) > 0) & ((ids & CUSTOMER) > 0))
        keys = self.cookie_keys(who[logged], dev[logged], t[logged])
        _, first = np.unique(keys, return_index=True)
        first = np.sort(first)
        sel = logged[first]
        parts.append(("anonymous_id", self.cookie_text(keys[first]), "customer_id",
                      self.customer_id(who[sel]), "login", t[sel]))  # fmt: skip
        app = np.flatnonzero(((ids & DEVICE) > 0) & ((ids & CUSTOMER) > 0))
        _, first = np.unique(who[app], return_index=True)
        sel = app[np.sort(first)]
        parts.append(("device_id", self.device_id(who[sel]), "customer_id",
                      self.customer_id(who[sel]), "app_login", t[sel]))  # fmt: skip
        parts.append(("email", self.email(person), "customer_id", self.customer_id(person),
                      "crm", created))  # fmt: skip
        ph = person[p.has_phone[person]]
        parts.append(("phone", self.phone(ph), "customer_id", self.customer_id(ph), "crm",
                      created[p.has_phone[person]]))  # fmt: skip
        lo = p.loyalty[person]
        parts.append(
            (
                "loyalty_id",
                self.loyalty_id(person[lo]),
                "customer_id",
                self.customer_id(person[lo]),
                "loyalty_enrolment",
                created[lo],
            )
        )
        self.seen["device_id"].append(who[sel])
        t_all = np.concatenate([x[5] for x in parts])
        table = pa.table({
            "identifier_type_a": pa.concat_arrays(
                [pa.array(np.full(len(x[5]), x[0], dtype=object), pa.string()) for x in parts]),
            "identifier_a": pa.concat_arrays([x[1] for x in parts]),
            "identifier_type_b": pa.array(np.full(len(t_all), "customer_id", dtype=object),
                                          pa.string()),
            "identifier_b": pa.concat_arrays([x[3] for x in parts]),
            "link_source": pa.concat_arrays(
                [pa.array(np.full(len(x[5]), x[4], dtype=object), pa.string()) for x in parts]),
            "timestamp": clock.iso(t_all, LOCAL_SHARE, self.rng),
        })  # fmt: skip
        return table.take(pa.array(np.argsort(t_all, kind="stable")))

    def campaign_codes(self) -> pa.Table:
        rows = []
        for c in self.ctx.campaigns:
            for code, kind in ((c.promo_code, "promo"), (c.qr_code, "qr")):
                if code:
                    rows.append((code, kind, c.name, c.channel, c.code_from, c.code_to - 1))
        start = np.datetime64(self.clock.start.date(), "D")
        return pa.table({
            "code": [r[0] for r in rows],
            "code_type": [r[1] for r in rows],
            "campaign": [r[2] for r in rows],
            "channel": [r[3] for r in rows],
            "valid_from": [str(start + np.timedelta64(r[4], "D")) for r in rows],
            "valid_to": [str(start + np.timedelta64(r[5], "D")) for r in rows],
        }, schema=pa.schema([(k, pa.string()) for k in (
            "code", "code_type", "campaign", "channel", "valid_from", "valid_to")]))  # fmt: skip

    def experiment(self) -> pa.Table:
        p = self.people
        person = np.flatnonzero(p.variant >= 0)
        person = person[np.argsort(p.customer_number[person])]
        n = len(person)
        t = np.full(n, 6 * HOUR, dtype=np.int64)
        return pa.table({
            "experiment": pa.array(np.full(n, EXPERIMENT, dtype=object), pa.string()),
            "variant": take(["A", "B"], p.variant[person]),
            "unit_type": pa.array(np.full(n, "customer_id", dtype=object), pa.string()),
            "unit_id": self.customer_id(person),
            "timestamp": self.clock.iso(t, LOCAL_SHARE, self.rng),
        })  # fmt: skip

    def spend(self) -> pa.Table:
        s = self.ctx.spend
        day = np.concatenate(s.day)
        camp = np.concatenate(s.camp)
        order = sort_by(day, camp)
        day, camp = day[order], camp[order]
        channels = [c.channel for c in self.ctx.campaigns]
        n = len(day)
        return pa.table({
            "date": self.clock.dates(day),
            "channel": take(channels, camp),
            "campaign": take(self.camp_names, camp),
            "spend": cents(np.concatenate(s.spend)[order]),
            "currency": pa.array(np.full(n, "EUR", dtype=object), pa.string()),
            "impressions": int_text(np.concatenate(s.impressions)[order]),
            "clicks": int_text(np.concatenate(s.clicks)[order]),
        })  # fmt: skip
