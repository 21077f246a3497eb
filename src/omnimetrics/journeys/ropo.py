"""ROPO: research online, purchase offline, and the reverse, as rates over identified persons."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from omnimetrics.config import JourneySettings
from omnimetrics.journeys.paths import conversions
from omnimetrics.schema import ONLINE_SALES

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


def ropo(wh: Warehouse, window_days: int = 7, settings: JourneySettings | None = None) -> ir.Table:
    """Research online, purchase offline, and the reverse, as rates.

    store_after_online: share of store orders (of identified persons) preceded by a web or app
    session of the same person within `window_days`. online_after_store: share of web/app orders
    preceded by a store visit or a store order.
    """
    events = wh.table("events")
    orders = conversions(wh, settings).filter(lambda t: t.person_id.notnull())
    online = events.filter(events.session_id.notnull()).select("person_id", at=events.timestamp)
    store_visits = events.filter(events.event_type == "store_visit").select(
        "person_id", at=events.timestamp
    )
    store_orders_as_signal = orders.filter(orders.sales_channel == "store").select(
        "person_id", at=orders.timestamp
    )
    in_store = ibis.union(store_visits, store_orders_as_signal)

    def preceded(subset: ir.Table, signals: ir.Table) -> tuple[int, int]:
        hit = subset.semi_join(
            signals,
            [
                subset.person_id == signals.person_id,
                signals.at < subset.timestamp,
                signals.at >= subset.timestamp - ibis.interval(days=window_days),
            ],
        )
        return int(subset.count().execute()), int(hit.count().execute())

    store = orders.filter(orders.sales_channel == "store")
    web = orders.filter(orders.sales_channel.isin(ONLINE_SALES))
    measures = {
        "store orders after online research": preceded(store, online),
        "online orders after a store visit": preceded(web, in_store),
    }
    return ibis.memtable(
        {
            "measure": list(measures),
            "window_days": [window_days] * len(measures),
            "orders": [n for n, _ in measures.values()],
            "preceded": [k for _, k in measures.values()],
            "rate": [k / n if n else None for n, k in measures.values()],
        }
    )
