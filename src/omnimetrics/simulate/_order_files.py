"""The order files: web shop, point of sale, and the CRM's re-reports and phone orders."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from omnimetrics.schema import FULFILMENTS, ORDER_STATUSES, SALES_CHANNELS
from omnimetrics.simulate._config import SC
from omnimetrics.simulate._events import CUSTOMER, LOYALTY
from omnimetrics.simulate._identifiers import LOCAL_SHARE, Identifiers
from omnimetrics.simulate._orders import Orders
from omnimetrics.simulate._util import cents, digits_needed, fixed_strings, int_text, join, take

ORDER_PREFIX = {"web": "W-", "app": "A-", "store": "T-", "call_centre": "CC-",
                "marketplace": "M-"}  # fmt: skip


class OrderFiles(Identifiers):
    """orders_web.csv, orders_store.csv and orders_crm.csv."""

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
