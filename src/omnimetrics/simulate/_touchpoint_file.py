"""touchpoints.parquet: what a tracker records of each touch (UTM tags, URLs, devices)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnimetrics.schema import CHANNELS, DEVICE_TYPES, EVENT_TYPES
from omnimetrics.simulate._config import (
    CH,
    CONTENTS,
    DT,
    ET,
    EXPERIMENT,
    PAGES,
    RL,
    SEARCH_TERMS,
    SITE,
    STYLES,
)
from omnimetrics.simulate._events import (
    APP_SLOT,
    P_CART,
    P_CHECKOUT,
    P_CODE,
    P_OS,
    P_PAGE,
    P_PRODUCT,
    P_STORE_SOURCE,
    P_VARIANT,
)
from omnimetrics.simulate._identifiers import Identifiers
from omnimetrics.simulate._util import (
    assemble,
    cents,
    fixed_strings,
    join,
    mix,
    release_memory,
    take,
)


class TouchpointFile(Identifiers):
    """The touchpoints file and its event ids."""

    def event_ids(self, n: int) -> pa.Array:
        return fixed_strings("ev-", mix(np.arange(n) + 1, 40), 10, base=16)

    def touchpoints(self, tp: dict[str, np.ndarray], event_id: pa.Array) -> pa.Table:
        """One row per touch: identifiers, channel and UTM fields, landing URL, context."""
        cols: dict[str, pa.Array] = {
            "event_id": event_id,
            "timestamp": self.clock.timestamps(tp["t"]),
        }
        cols.update(self.identifiers(tp["person"].astype(np.int64), tp["ids"], tp["dev"], tp["t"]))
        release_memory()
        style = tp["style"]
        s = np.maximum(style, 0)
        has_style = style >= 0
        utm = np.array([x[4] for x in STYLES])[s] & has_style
        cols.update(self._marketing_columns(tp, s, has_style, utm))
        cols["landing_url"] = self._landing_urls(tp, s, utm, cols["source"], cols["medium"])
        release_memory()
        cols.update(self._context_columns(tp, has_style))
        release_memory()
        return pa.table(cols)

    def _marketing_columns(self, tp: dict[str, np.ndarray], s: np.ndarray, has_style: np.ndarray,
                           utm: np.ndarray) -> dict[str, pa.Array]:  # fmt: skip
        """channel, source, medium, campaign, content and term, as the tracker tags them."""
        rng = self.rng
        n = len(tp["t"])
        style, camp, chan, etype, dev = tp["style"], tp["camp"], tp["chan"], tp["etype"], tp["dev"]
        cols: dict[str, pa.Array] = {}
        style_chan = np.array([CH[x[0]] if x[0] else -1 for x in STYLES])
        is_visit = etype == ET["visit"]
        funnel = tp["role"] == RL["funnel"]
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
        return cols

    def _landing_urls(self, tp: dict[str, np.ndarray], s: np.ndarray, utm: np.ndarray,
                      source: pa.Array, medium: pa.Array) -> pa.Array:  # fmt: skip
        """The landing URL of web visits: a page, with the UTM query and click id if tagged."""
        camp = tp["camp"]
        web_visit = np.flatnonzero((tp["etype"] == ET["visit"]) & (tp["dev"] != APP_SLOT))
        path = self._paths(len(web_visit))
        query_rows = utm[web_visit]
        q = web_visit[query_rows]
        params = ["", "gclid", "msclkid", "fbclid", "ttclid"]
        click_code = np.array([params.index(x[5] or "") for x in STYLES], dtype=np.int64)[s[q]]
        token = fixed_strings("", mix(q + 7, 40), 12, base=16)
        click = join(take(["", "&gclid=", "&msclkid=", "&fbclid=", "&ttclid="], click_code),
                     pc.if_else(pa.array(click_code > 0), token, ""))  # fmt: skip
        query = join("?utm_source=", source.take(pa.array(q)), "&utm_medium=",
                     medium.take(pa.array(q)), "&utm_campaign=",
                     take(self.camp_names, camp[q]), click)  # fmt: skip
        full_query = assemble(len(web_visit), [(np.flatnonzero(query_rows), query)])
        full_query = pc.fill_null(full_query, "")
        landing = join(SITE, path, full_query)
        return assemble(len(tp["t"]), [(web_visit, landing)])

    def _context_columns(self, tp: dict[str, np.ndarray],
                         has_style: np.ndarray) -> dict[str, pa.Array]:  # fmt: skip
        """referrer, event_type, device_type, store_id, duration_seconds and properties."""
        n = len(tp["t"])
        person, dev, etype = tp["person"].astype(np.int64), tp["dev"], tp["etype"]
        is_visit = etype == ET["visit"]
        referrers = [x[3] for x in STYLES]
        dtype = np.where(
            dev == APP_SLOT, DT["mobile"],
            np.where(dev >= 0, self.people.device_type[person, np.clip(dev, 0, 2)], -1),
        )  # fmt: skip
        dur = tp["dur"].astype(np.float64)
        cols = {
            "referrer": take(referrers, np.where(is_visit & has_style, tp["style"], -1)),
            "event_type": take(EVENT_TYPES, etype),
            "device_type": take(DEVICE_TYPES, dtype),
            "store_id": self.store_ids(tp["store"]),
        }
        visit_dur = np.clip(self.rng.lognormal(np.log(150), 1.0, n), 1, 7200).round()
        dur = np.where(is_visit, visit_dur, np.round(dur))
        cols["duration_seconds"] = pa.array(dur, pa.float64(), mask=np.isnan(dur))
        cols["properties"] = self.properties(tp["prop"], tp["pval"])
        return cols

    def _paths(self, n: int) -> pa.Array:
        rng = self.rng
        product = rng.random(n) < 0.3
        page = take(PAGES[:-1], rng.integers(0, len(PAGES) - 1, n))
        prod = join("/p/", fixed_strings("", rng.integers(1, 5000, n), 5))
        return pc.if_else(pa.array(product), prod, page)

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
