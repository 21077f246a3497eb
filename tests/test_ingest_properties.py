"""Nothing is lost, whatever the input: accepted + duplicates + quarantined == rows read."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import omnimetrics
from omnimetrics.config import Settings
from tests.helpers import SECRET

NOW = datetime(2026, 6, 1, tzinfo=UTC)
GOOD = {
    "order_id": st.sampled_from([f"O{i}" for i in range(8)]),
    "timestamp": st.sampled_from(
        ["2026-01-01", "2026-02-03T10:00:00+02:00", "2026-03-04 05:06:07Z"]
    ),
    "sales_channel": st.sampled_from(["web", "store", "APP", "call_centre"]),
    "revenue": st.sampled_from(["0", "10.5", "99", "1e3"]),
    "currency": st.sampled_from(["EUR", "usd"]),
    "email": st.sampled_from(["", "a@b.co", " X@Y.org "]),
    "source": st.sampled_from(["pos", "crm", "web_shop", ""]),
}
BROKEN = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "  ", "nan", "-1", "x@", "EURO", "moon", "2099-01-01", "1,5", '"', "\\"]),
)


@st.composite
def order_rows(draw):
    rows = []
    for _ in range(draw(st.integers(1, 25))):
        row = {name: draw(strategy) for name, strategy in GOOD.items()}
        if draw(st.booleans()):
            row[draw(st.sampled_from(sorted(GOOD)))] = draw(BROKEN)
        rows.append(row)
    return rows


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=order_rows())
def test_every_row_is_accounted_for(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("orders")
    buffer = io.StringIO()
    # RFC 4180 line ends: a field holding a CR or LF is quoted (a bare CR would end a line).
    writer = csv.DictWriter(buffer, fieldnames=list(GOOD), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path = folder / "orders.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    wh = omnimetrics.connect(":memory:", settings=Settings(secret=SECRET))
    report = wh.ingest("orders", path, now=NOW)
    assert report.rows_read == len(rows)
    assert report.accepted + report.duplicates + report.quarantined == report.rows_read
    assert wh.table("orders").count().execute() == report.accepted
    assert wh.quarantine().count().execute() == report.quarantined
    assert wh.table("orders_reports").count().execute() == report.accepted + report.duplicates
    assert sum(report.reasons.values()) == report.quarantined
    keys = wh.table("orders").order_id.to_pyarrow().to_pylist()
    assert len(keys) == len(set(keys))
    wh.close()
