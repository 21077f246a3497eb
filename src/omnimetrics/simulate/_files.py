"""From integer codes to the files a user would bring: strings, formats, identifiers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnimetrics.schema import (
    CHANNELS,
    DEVICE_TYPES,
    EVENT_TYPES,
    FULFILMENTS,
    ORDER_STATUSES,
    SALES_CHANNELS,
    SURVEY_TYPES,
)
from omnimetrics.simulate._config import (
    CH,
    CITIES,
    CONTENTS,
    DT,
    ET,
    EXPERIMENT,
    FIRST_NAMES,
    LAST_NAMES,
    PAGES,
    RL,
    SC,
    SEARCH_TERMS,
    SITE,
    STYLES,
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
    P_OS,
    P_PAGE,
    P_PRODUCT,
    P_STORE_SOURCE,
    P_VARIANT,
    PHONE,
)
from omnimetrics.simulate._feedback import COMMENT_TEXTS, HEARD_WORDS, Feedback
from omnimetrics.simulate._marketing import Ctx
from omnimetrics.simulate._orders import Orders
from omnimetrics.simulate._util import (
    DAY,
    HOUR,
    assemble,
    cents,
    choose,
    digits_needed,
    fixed_strings,
    int_text,
    join,
    mix,
    rank_within,
    release_memory,
    sort_by,
    take,
    templated,
    where,
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
ORDER_PREFIX = {"web": "W-", "app": "A-", "store": "T-", "call_centre": "CC-",
                "marketplace": "M-"}  # fmt: skip
IDENTIFIER_NAMES = ("anonymous_id", "device_id", "customer_id", "email", "phone", "loyalty_id")


class Writer:
    """Turns the simulated arrays into tables and remembers every identifier it wrote."""

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

    # ----- identifiers -------------------------------------------------------------------
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

    # ----- touchpoints -------------------------------------------------------------------
    def event_ids(self, n: int) -> pa.Array:
        return fixed_strings("ev-", mix(np.arange(n) + 1, 40), 10, base=16)

    def touchpoints(self, tp: dict[str, np.ndarray], event_id: pa.Array) -> pa.Table:
        rng, people = self.rng, self.people
        n = len(tp["t"])
        person, dev, etype, role = tp["person"].astype(np.int64), tp["dev"], tp["etype"], tp["role"]
        style, camp, chan = tp["style"], tp["camp"], tp["chan"]
        cols: dict[str, pa.Array] = {
            "event_id": event_id,
            "timestamp": self.clock.timestamps(tp["t"]),
        }
        cols.update(self.identifiers(person, tp["ids"], dev, tp["t"]))
        release_memory()

        s = np.maximum(style, 0)
        has_style = style >= 0
        style_chan = np.array([CH[x[0]] if x[0] else -1 for x in STYLES])
        utm = np.array([x[4] for x in STYLES])[s] & has_style
        is_visit = etype == ET["visit"]
        funnel = role == RL["funnel"]
        file_chan = np.where(
            has_style, style_chan[s],
            np.where(funnel, np.where(dev == APP_SLOT, CH["app"], -1), chan),
        )  # fmt: skip
        cols["channel"] = take(CHANNELS, file_chan)
        sources = [x[1] for x in STYLES]
        mediums = [x[2] for x in STYLES]
        cols["source"] = take(sources, np.where(has_style, style, -1))
        cols["medium"] = take(mediums, np.where(has_style, style, -1))
        show = (camp >= 0) & ~funnel & (~has_style | utm | (etype == ET["ad_impression"]))
        show &= ~(is_visit & has_style & ~utm)
        cols["campaign"] = take(self.camp_names, np.where(show, camp, -1))
        ads = (etype == ET["ad_impression"]) | (
            is_visit & utm & np.isin(chan, [CH["display"], CH["paid_social"], CH["video"]])
        )
        cols["content"] = take(CONTENTS, np.where(ads, rng.integers(0, len(CONTENTS), n), -1))
        term_pieces = []
        for name, terms in SEARCH_TERMS.items():
            idx = self.camp_names.index(name)
            rows = np.flatnonzero(is_visit & utm & (camp == idx))
            term_pieces.append((rows, take(terms, rng.integers(0, len(terms), len(rows)))))
        cols["term"] = assemble(n, term_pieces)

        web_visit = np.flatnonzero(is_visit & (dev != APP_SLOT))
        path = self._paths(len(web_visit))
        query_rows = utm[web_visit]
        q = web_visit[query_rows]
        params = ["", "gclid", "msclkid", "fbclid", "ttclid"]
        click_code = np.array([params.index(x[5] or "") for x in STYLES], dtype=np.int64)[s[q]]
        token = fixed_strings("", mix(q + 7, 40), 12, base=16)
        click = join(take(["", "&gclid=", "&msclkid=", "&fbclid=", "&ttclid="], click_code),
                     pc.if_else(pa.array(click_code > 0), token, ""))  # fmt: skip
        query = join("?utm_source=", cols["source"].take(pa.array(q)), "&utm_medium=",
                     cols["medium"].take(pa.array(q)), "&utm_campaign=",
                     take(self.camp_names, camp[q]), click)  # fmt: skip
        full_query = assemble(len(web_visit), [(np.flatnonzero(query_rows), query)])
        full_query = pc.fill_null(full_query, "")
        landing = join(SITE, path, full_query)
        cols["landing_url"] = assemble(n, [(web_visit, landing)])
        referrers = [x[3] for x in STYLES]
        release_memory()
        cols["referrer"] = take(referrers, np.where(is_visit & has_style, style, -1))
        cols["event_type"] = take(EVENT_TYPES, etype)
        dtype = np.where(
            dev == APP_SLOT, DT["mobile"],
            np.where(dev >= 0, people.device_type[person, np.clip(dev, 0, 2)], -1),
        )  # fmt: skip
        cols["device_type"] = take(DEVICE_TYPES, dtype)
        cols["store_id"] = self.store_ids(tp["store"])
        dur = tp["dur"].astype(np.float64)
        visit_dur = np.clip(rng.lognormal(np.log(150), 1.0, n), 1, 7200).round()
        dur = np.where(is_visit, visit_dur, np.round(dur))
        cols["duration_seconds"] = pa.array(dur, pa.float64(), mask=np.isnan(dur))
        cols["properties"] = self.properties(tp["prop"], tp["pval"])
        release_memory()
        return pa.table(cols)

    def _paths(self, n: int) -> pa.Array:
        rng = self.rng
        product = rng.random(n) < 0.3
        page = take(PAGES[:-1], rng.integers(0, len(PAGES) - 1, n))
        prod = join("/p/", fixed_strings("", rng.integers(1, 5000, n), 5))
        return pc.if_else(pa.array(product), prod, page)

    def store_ids(self, store: np.ndarray) -> pa.Array:
        return fixed_strings("S", store.astype(np.int64) + 1, 3, valid=store >= 0)

    def properties(self, kind: np.ndarray, val: np.ndarray) -> pa.Array:
        n = len(kind)
        pieces = []

        def rows(k: int) -> np.ndarray:
            return np.flatnonzero(kind == k)

        r = rows(P_PAGE)
        pieces.append((r, join('{"page": "', take(PAGES[:-1], val[r] % (len(PAGES) - 1)), '"}')))
        r = rows(P_PRODUCT)
        pieces.append((r, join('{"product_id": "', fixed_strings("P", val[r], 5), '"}')))
        r = rows(P_CART)
        pieces.append((r, join('{"product_id": "', fixed_strings("P", val[r], 5),
                               '", "quantity": 1}')))  # fmt: skip
        r = rows(P_CHECKOUT)
        pieces.append((r, join('{"cart_value": ', cents(val[r] / 100.0), "}")))
        r = rows(P_VARIANT)
        r = r[val[r] >= 0]
        pieces.append((r, join(f'{{"experiment": "{EXPERIMENT}", "subject_variant": "',
                               take(["A", "B"], val[r]), '"}')))  # fmt: skip
        r = rows(P_CODE)
        codes = [c.qr_code or "" for c in self.ctx.campaigns]
        pieces.append((r, join('{"code": "', take(codes, val[r]), '"}')))
        r = rows(P_STORE_SOURCE)
        pieces.append((r, join('{"source": "', take(["geofence", "loyalty_kiosk"], val[r]),
                               '"}')))  # fmt: skip
        r = rows(P_OS)
        pieces.append((r, join('{"os": "', take(["ios", "android"], val[r]), '"}')))
        return assemble(n, pieces)

    # ----- orders ------------------------------------------------------------------------
    def order_ids(self, o: Orders) -> pa.Array:
        width = digits_needed(len(o), 7)
        prefix = take([ORDER_PREFIX[s] for s in SALES_CHANNELS], o.sales)
        return join(prefix, fixed_strings("", np.arange(len(o)) + 1, width))

    def order_columns(self, o: Orders, rows: np.ndarray, ids: np.ndarray, source: str,
                      order_id: pa.Array, columns: tuple[str, ...]) -> pa.Table:  # fmt: skip
        n = len(rows)
        person = o.person[rows].astype(np.int64)
        idcols = self.identifiers(person, ids, o.dev[rows], o.t[rows])
        promo_codes = [c.promo_code or "" for c in self.ctx.campaigns]
        revenue = o.revenue[rows]
        margin = o.margin[rows]
        promo = o.promo[rows]
        values = {
            "order_id": order_id.take(pa.array(rows)),
            "timestamp": self.clock.iso(o.t[rows], LOCAL_SHARE, self.rng),
            **idcols,
            "sales_channel": take(SALES_CHANNELS, o.sales[rows]),
            "fulfilment": take(FULFILMENTS, o.fulfilment[rows]),
            "revenue": cents(revenue),
            "currency": pa.array(np.full(n, "EUR", dtype=object), pa.string()),
            "margin": cents(margin),
            "cost_of_goods": cents(revenue - margin),
            "discount": cents(o.discount[rows]),
            "promo_code": take(promo_codes, promo),
            "store_id": self.store_ids(o.store[rows]),
            "items": int_text(o.items[rows]),
            "status": take(ORDER_STATUSES, o.status[rows]),
            "returned_amount": cents(o.returned[rows]),
            "source": pa.array(np.full(n, source, dtype=object), pa.string()),
        }
        return pa.table({c: values[c] for c in columns})

    def orders(self, o: Orders) -> tuple[dict[str, pa.Table], pa.Array, int]:
        """orders_web (web, app, marketplace), orders_store (POS), orders_crm (call centre +
        re-reports of ~10% of web and store orders). Returns tables, order ids, re-reports."""
        rng = self.rng
        order_id = self.order_ids(o)
        web_cols = ("order_id", "timestamp", "anonymous_id", "device_id", "customer_id", "email",
                    "sales_channel", "fulfilment", "revenue", "currency", "margin",
                    "cost_of_goods", "discount", "promo_code", "store_id", "items", "status",
                    "returned_amount", "source")  # fmt: skip
        store_cols = ("order_id", "timestamp", "loyalty_id", "sales_channel", "fulfilment",
                      "revenue", "currency", "margin", "cost_of_goods", "discount",
                      "promo_code", "store_id", "items", "status", "returned_amount",
                      "source")  # fmt: skip
        crm_cols = ("order_id", "timestamp", "customer_id", "email", "phone", "loyalty_id",
                    "sales_channel", "fulfilment", "revenue", "currency", "discount",
                    "promo_code", "store_id", "items", "status", "returned_amount",
                    "source")  # fmt: skip
        web = np.flatnonzero(np.isin(o.sales, [SC["web"], SC["app"], SC["marketplace"]]))
        store = np.flatnonzero(o.sales == SC["store"])
        tables = {
            "orders_web.csv": self.order_columns(o, web, o.ids[web], "web_shop", order_id,
                                                 web_cols),
            "orders_store.csv": self.order_columns(o, store, o.ids[store], "pos", order_id,
                                                   store_cols),
        }  # fmt: skip
        known = (((o.sales == SC["web"]) & ((o.ids & CUSTOMER) > 0))
                 | ((o.sales == SC["store"]) & o.loyalty_shown))  # fmt: skip
        base = int(np.isin(o.sales, [SC["web"], SC["store"]]).sum())
        share = min(1.0, 0.10 * base / max(int(known.sum()), 1))
        again = known & (rng.random(len(o)) < share)
        phone_orders = o.sales == SC["call_centre"]
        rows = np.flatnonzero(again | phone_orders)
        ids = np.where(
            phone_orders[rows], o.ids[rows],
            CUSTOMER | np.where(o.sales[rows] == SC["store"], LOYALTY, 0),
        ).astype(np.uint8)  # fmt: skip
        tables["orders_crm.csv"] = self.order_columns(o, rows, ids, "crm", order_id, crm_cols)
        return tables, order_id, int(again.sum())

    # ----- feedback ----------------------------------------------------------------------
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

    # ----- reference files ---------------------------------------------------------------
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

    # ----- truth -------------------------------------------------------------------------
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
