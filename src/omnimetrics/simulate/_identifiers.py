"""Identifiers as a user's files write them, each remembered for the truth."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnimetrics.simulate._config import FIRST_NAMES, LAST_NAMES
from omnimetrics.simulate._context import Ctx
from omnimetrics.simulate._events import ANON, CUSTOMER, DEVICE, EMAIL, LOYALTY, PHONE
from omnimetrics.simulate._util import (
    assemble,
    choose,
    digits_needed,
    fixed_strings,
    int_text,
    join,
    mix,
    rank_within,
    sort_by,
    take,
    templated,
)

LOCAL_SHARE = 0.4  # CSV timestamps written in Paris local time (+01:00/+02:00); the rest in Z
PHONE_FORMATS = (
    ("0# ## ## ## ##", 0.35),
    ("+33 # ## ## ## ##", 0.20),
    ("0033#########", 0.10),
    ("0#########", 0.20),
    ("+33#########", 0.10),
    ("0#.##.##.##.##", 0.05),
)
EMAIL_VARIANTS = (0.70, 0.10, 0.05, 0.15)  # as is, Title Case, UPPER, spaces around
DOMAINS = ("example.com", "example.org", "example.net")
IDENTIFIER_NAMES = ("anonymous_id", "device_id", "customer_id", "email", "phone", "loyalty_id")


class Identifiers:
    """Writes identifiers (ids, cookies, emails, phones) and remembers every one it wrote."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.people = ctx.people
        self.clock = ctx.clock
        self.seen: dict[str, list[np.ndarray]] = {k: [] for k in IDENTIFIER_NAMES}
        self.camp_names = [c.name for c in ctx.campaigns]
        self._email_number: np.ndarray | None = None
        n_cust = int(self.people.customer_number.max(initial=0))
        self.cust_width = digits_needed(n_cust, 6)

    def person_id(self, person: np.ndarray) -> pa.Array:
        return fixed_strings("P", person + 1, digits_needed(self.people.n, 7))

    def customer_id(self, person: np.ndarray) -> pa.Array:
        num = self.people.customer_number[person]
        return fixed_strings("C", num, self.cust_width, valid=num > 0)

    def device_id(self, person: np.ndarray) -> pa.Array:
        return fixed_strings("d-", mix(person, 32), 8, base=16)

    def loyalty_id(self, person: np.ndarray) -> pa.Array:
        num = self.people.loyalty_number[person]
        return fixed_strings("L-", num, 7, valid=num > 0)

    def cookie_keys(self, person: np.ndarray, dev: np.ndarray, t: np.ndarray) -> np.ndarray:
        p = self.people
        d = np.clip(dev, 0, 2).astype(np.int64)
        epoch = (t + p.phase[person, d]) // p.rotation[person, d]
        return ((person.astype(np.int64) * 3 + d) << 12) | epoch

    @staticmethod
    def cookie_text(keys: np.ndarray) -> pa.Array:
        return fixed_strings("c-", mix(keys, 40), 10, base=16)

    def _email_numbers(self) -> np.ndarray:
        """A number per person that makes first.last<number> unique."""
        if self._email_number is None:
            p = self.people
            shuffle = self.rng.permutation(p.n)
            order = sort_by(p.first_name.astype(np.int64), p.last_name.astype(np.int64), shuffle)
            group = p.first_name[order].astype(np.int64) * 1000 + p.last_name[order]
            number = np.empty(p.n, dtype=np.int64)
            number[order] = rank_within(group) + 1 + (mix(group, 16) % 90).astype(np.int64)
            self._email_number = number
        return self._email_number

    def email_text(self, person: np.ndarray, variant: np.ndarray) -> pa.Array:
        p = self.people
        plain = join(
            take(FIRST_NAMES, p.first_name[person]), ".", take(LAST_NAMES, p.last_name[person]),
            int_text(self._email_numbers()[person]), "@",
            take(DOMAINS, (mix(person, 24) % 3).astype(np.int64)),
        )  # fmt: skip
        pieces = []
        for v, fn in enumerate((
            lambda a: a, pc.utf8_title, pc.utf8_upper, lambda a: join("  ", a, " "),
        )):  # fmt: skip
            rows = np.flatnonzero(variant == v)
            if len(rows):
                pieces.append((rows, fn(plain.take(pa.array(rows)))))
        return assemble(len(person), pieces)

    def email(self, person: np.ndarray) -> pa.Array:
        variant = choose(self.rng, EMAIL_VARIANTS, len(person))
        self.seen["email"].append(person.astype(np.int64) * 8 + variant)
        return self.email_text(person, variant)

    def phone_text(self, person: np.ndarray, fmt: np.ndarray) -> pa.Array:
        national = 600_000_000 + mix(person, 27).astype(np.int64)
        pieces = []
        for f, (template, _) in enumerate(PHONE_FORMATS):
            rows = np.flatnonzero(fmt == f)
            if len(rows):
                pieces.append((rows, templated(national[rows], template)))
        return assemble(len(person), pieces)

    def phone(self, person: np.ndarray) -> pa.Array:
        fmt = choose(self.rng, [w for _, w in PHONE_FORMATS], len(person))
        self.seen["phone"].append(person.astype(np.int64) * 8 + fmt)
        return self.phone_text(person, fmt)

    def identifiers(self, person: np.ndarray, ids: np.ndarray, dev: np.ndarray,
                    t: np.ndarray) -> dict[str, pa.Array]:  # fmt: skip
        """The six identifier columns of rows, filled where the row's flags say so."""
        n = len(person)
        out: dict[str, pa.Array] = {}
        rows = np.flatnonzero(ids & ANON)
        keys = self.cookie_keys(person[rows], dev[rows], t[rows])
        self.seen["anonymous_id"].append(keys)
        out["anonymous_id"] = assemble(n, [(rows, self.cookie_text(keys))])
        rows = np.flatnonzero(ids & DEVICE)
        self.seen["device_id"].append(person[rows].astype(np.int64))
        out["device_id"] = assemble(n, [(rows, self.device_id(person[rows]))])
        rows = np.flatnonzero(((ids & CUSTOMER) > 0) & (self.people.customer_number[person] > 0))
        self.seen["customer_id"].append(person[rows].astype(np.int64))
        out["customer_id"] = assemble(n, [(rows, self.customer_id(person[rows]))])
        rows = np.flatnonzero(ids & EMAIL)
        out["email"] = assemble(n, [(rows, self.email(person[rows]))])
        rows = np.flatnonzero(ids & PHONE)
        out["phone"] = assemble(n, [(rows, self.phone(person[rows]))])
        rows = np.flatnonzero(((ids & LOYALTY) > 0) & (self.people.loyalty_number[person] > 0))
        self.seen["loyalty_id"].append(person[rows].astype(np.int64))
        out["loyalty_id"] = assemble(n, [(rows, self.loyalty_id(person[rows]))])
        return out

    def store_ids(self, store: np.ndarray) -> pa.Array:
        return fixed_strings("S", store.astype(np.int64) + 1, 3, valid=store >= 0)

    def truth_identifiers(self) -> pa.Table:
        parts = []
        for kind in IDENTIFIER_NAMES:
            if not self.seen[kind]:
                continue
            vals = np.unique(np.concatenate(self.seen[kind]))
            if kind == "anonymous_id":
                person = (vals >> 12) // 3
                text = self.cookie_text(vals)
            elif kind in ("email", "phone"):
                person, variant = vals // 8, vals % 8
                text = (self.email_text(person, variant) if kind == "email"
                        else self.phone_text(person, variant))  # fmt: skip
            else:
                person = vals
                text = {"device_id": self.device_id, "customer_id": self.customer_id,
                        "loyalty_id": self.loyalty_id}[kind](person)  # fmt: skip
            parts.append((kind, text, person))
        return pa.table({
            "identifier_type": pa.concat_arrays(
                [pa.array(np.full(len(x[2]), x[0], dtype=object), pa.string()) for x in parts]),
            "identifier": pa.concat_arrays([x[1] for x in parts]),
            "person_id": pa.concat_arrays([self.person_id(x[2]) for x in parts]),
        })  # fmt: skip
