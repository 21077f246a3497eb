"""Broken rows with exactly one known problem each, and exact duplicate rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnimetrics.simulate._util import fixed_strings, join

DIRTY_SHARE = 0.001
DUPLICATE_SHARE = 0.003
IDENTIFIERS = ("anonymous_id", "device_id", "customer_id", "email", "phone", "loyalty_id")

Mutation = Callable[[pa.Table, pa.Array], pa.Table]


def _set(table: pa.Table, name: str, value: str | float | pa.Array | None) -> pa.Table:
    i = table.schema.get_field_index(name)
    typ = table.schema.field(i).type
    if not isinstance(value, pa.Array):
        value = pa.array([value] * table.num_rows, typ)
    return table.set_column(i, name, value.cast(typ))


def _chain(*steps: tuple[str, object]) -> Mutation:
    """A mutation setting columns to values; the value "@fresh" means the fresh key."""

    def apply(rows: pa.Table, fresh: pa.Array) -> pa.Table:
        for name, value in steps:
            if name in rows.column_names:
                rows = _set(rows, name, fresh if value == "@fresh" else value)  # type: ignore[arg-type]
        return rows

    return apply


AMOUNTS_OFF = (("margin", None), ("cost_of_goods", None), ("discount", None),
               ("returned_amount", None))  # fmt: skip


def order_reasons(with_email: bool) -> dict[str, list[Mutation]]:
    key = ("order_id", "@fresh")
    reasons = {
        "invalid_type": [_chain(key, ("revenue", "12,5O"), *AMOUNTS_OFF),
                         _chain(key, ("timestamp", "not a date"))],
        "missing_required": [_chain(("order_id", None))],
        "not_allowed": [_chain(key, ("sales_channel", "moon"))],
        "out_of_range": [_chain(key, ("revenue", "-12.50"), *AMOUNTS_OFF)],
        "invalid_currency": [_chain(key, ("currency", "EURO"))],
    }  # fmt: skip
    if with_email:
        reasons["invalid_email"] = [_chain(key, ("email", "jane.doe@"))]
    return reasons


REASONS: dict[str, dict[str, list[Mutation]]] = {
    "customers.csv": {
        "invalid_type": [_chain(("customer_id", "@fresh"), ("birth_year", "nineteen"))],
        "missing_required": [_chain(("customer_id", None))],
        "out_of_range": [_chain(("customer_id", "@fresh"), ("birth_year", "1850"))],
        "invalid_email": [_chain(("customer_id", "@fresh"), ("email", "jane.doe@"))],
    },
    "identities.csv": {
        "invalid_type": [_chain(("identifier_b", "@fresh"), ("timestamp", "not a date"))],
        "missing_required": [_chain(("identifier_b", None))],
        "not_allowed": [_chain(("identifier_b", "@fresh"), ("identifier_type_a", "fax"))],
        "invalid_email": [_chain(("identifier_b", "@fresh"), ("identifier_type_a", "email"),
                                 ("identifier_a", "jane.doe@"))],
    },
    "campaign_codes.csv": {
        "missing_required": [_chain(("code", None))],
        "not_allowed": [_chain(("code", "@fresh"), ("code_type", "barcode"))],
    },
    "spend.csv": {
        "invalid_type": [_chain(("campaign", "@fresh"), ("spend", "12,5O"))],
        "missing_required": [_chain(("campaign", "@fresh"), ("date", None))],
        "not_allowed": [_chain(("campaign", "@fresh"), ("channel", "moon"))],
        "out_of_range": [_chain(("campaign", "@fresh"), ("spend", "-100.00"))],
        "invalid_currency": [_chain(("campaign", "@fresh"), ("currency", "EURO"))],
    },
    "touchpoints.parquet": {
        "missing_required": [_chain(("event_id", None))],
        "not_allowed": [_chain(("event_id", "@fresh"), ("event_type", "teleport"))],
        "out_of_range": [_chain(("event_id", "@fresh"), ("duration_seconds", -5.0))],
        "invalid_email": [_chain(("event_id", "@fresh"), ("email", "jane.doe@"))],
        "no_identifier": [_chain(("event_id", "@fresh"), *((c, None) for c in IDENTIFIERS))],
    },
    "orders_web.csv": order_reasons(True),
    "orders_store.csv": order_reasons(False),
    "orders_crm.csv": order_reasons(True),
    "feedback.csv": {
        "invalid_type": [_chain(("response_id", "@fresh"), ("score", "ten")),
                         _chain(("response_id", "@fresh"), ("timestamp", "not a date"))],
        "missing_required": [_chain(("response_id", None))],
        "not_allowed": [_chain(("response_id", "@fresh"), ("survey_type", "horoscope"))],
        "out_of_range": [_chain(("response_id", "@fresh"), ("survey_type", "nps"),
                                ("score", "11"))],
        "invalid_email": [_chain(("response_id", "@fresh"), ("email", "jane.doe@"))],
    },
    "experiment_assignments.csv": {
        "invalid_type": [_chain(("unit_id", "@fresh"), ("timestamp", "not a date"))],
        "missing_required": [_chain(("unit_id", None))],
        "not_allowed": [_chain(("unit_id", "@fresh"), ("unit_type", "fax"))],
    },
}  # fmt: skip


def _fresh(file: str, table: pa.Table, count: int, start: int) -> pa.Array:
    """Keys that cannot collide with real ones (real ids never contain 'X')."""
    prefix = {"customers.csv": "CX", "identities.csv": "CX", "experiment_assignments.csv": "CX",
              "touchpoints.parquet": "ev-x", "feedback.csv": "R-X", "orders_web.csv": "W-X",
              "orders_store.csv": "T-X", "orders_crm.csv": "CC-X"}.get(file)  # fmt: skip
    numbers = np.arange(start, start + count) + 1
    if prefix is None:  # campaign names and codes: the template's value plus a suffix
        name = "campaign" if file == "spend.csv" else "code"
        return join(pc.fill_null(table.column(name).combine_chunks(), "x"), "-X",
                    fixed_strings("", numbers, 4))  # fmt: skip
    return fixed_strings(prefix, numbers, 6)


def dirty_rows(rng: np.random.Generator, file: str,
               table: pa.Table) -> tuple[pa.Table | None, np.ndarray, dict[str, int]]:  # fmt: skip
    """Broken rows made from random template rows, each placed right after its template.

    Returns (rows, positions, {reason: count}); positions are fractional row numbers.
    """
    reasons = REASONS[file]
    n = table.num_rows
    if n == 0:
        return None, np.zeros(0), {}
    per_reason = max(1, round(DIRTY_SHARE * n / len(reasons)))
    pieces, positions, counts = [], [], {}
    made = 0
    for reason, mutations in reasons.items():
        where = rng.integers(0, n, per_reason)
        variant = np.arange(per_reason) % len(mutations)
        for v, mutate in enumerate(mutations):
            rows_at = where[variant == v]
            if not len(rows_at):
                continue
            rows = table.take(pa.array(rows_at))
            fresh = _fresh(file, rows, len(rows_at), made)
            made += len(rows_at)
            pieces.append(mutate(rows, fresh))
            positions.append(rows_at + 0.5)
        counts[reason] = per_reason
    return pa.concat_tables(pieces), np.concatenate(positions), counts


def duplicate_rows(rng: np.random.Generator, table: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """A few rows repeated exactly (a re-sent batch): same event id, same everything."""
    n = table.num_rows
    k = min(n, max(1, round(DUPLICATE_SHARE * n)))
    rows_at = np.sort(rng.choice(n, size=k, replace=False))
    return table.take(pa.array(rows_at)), rows_at + 0.25


def merge(files: dict[str, pa.Table], name: str,
          extras: list[tuple[pa.Table | None, np.ndarray]]) -> pa.Table:  # fmt: skip
    """files[name] with extra rows inserted at fractional positions.

    Takes the table out of `files` and rebuilds it one column at a time, freeing each old
    column as it goes, so a big table is never held twice.
    """
    table = files.pop(name)
    extras = [(t, p) for t, p in extras if t is not None and t.num_rows]
    if not extras:
        return table
    n = table.num_rows
    order = pa.array(np.argsort(
        np.concatenate([np.arange(n, dtype=np.float64)] + [p for _, p in extras]), kind="stable"
    ))  # fmt: skip
    schema = table.schema
    columns = []
    for column in schema.names:
        parts = [table.column(0).combine_chunks()] + [t.column(column).combine_chunks()
                                                      for t, _ in extras]  # fmt: skip
        table = table.remove_column(0)  # frees the old column once it has been copied
        columns.append(pa.concat_arrays(parts).take(order))
        del parts
    return pa.Table.from_arrays(columns, schema=schema)
