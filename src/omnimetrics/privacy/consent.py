"""Consent: who refused a purpose (analytics, marketing), read from the CRM record.

Consent lives on the CRM record (customers.consent_*) and travels to every identifier of the
person. A person with no CRM record has not refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis.expr.types as ir

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


def refusing_persons(wh: Warehouse, purpose: str = "analytics") -> ir.Table | None:
    """person_id of persons who refused `purpose` (analytics or marketing); None without CRM."""
    if "customers" not in wh.tables():
        return None
    column = f"consent_{purpose}"
    graph = wh.table("identity_graph")
    customers = wh.table("customers")
    crm = graph.filter(graph.identifier_type == "customer_id")
    refusals = crm.join(customers, crm.identifier == customers.customer_id).filter(
        customers[column] == False  # noqa: E712 - an Ibis expression, not a Python comparison
    )
    return refusals.select("person_id").distinct()


def consenting_persons(wh: Warehouse, purpose: str = "analytics") -> ir.Table:
    """person_id of persons who did not refuse `purpose` (see `refusing_persons`)."""
    persons = wh.table("identity_graph").select("person_id").distinct()
    refusing = refusing_persons(wh, purpose)
    return persons if refusing is None else persons.anti_join(refusing, "person_id")
