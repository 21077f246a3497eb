"""Path transforms: hand-built journeys before and after."""

from __future__ import annotations

import ibis
import pytest

from omnimetrics.attribution.transforms import transform_touches
from omnimetrics.errors import ConfigError


def journeys(paths: dict[str, str]) -> ibis.Table:
    rows = [(order, i + 1, ch) for order, path in paths.items()
            for i, ch in enumerate(path.split(" > "))]  # fmt: skip
    return ibis.memtable({"order_id": [r[0] for r in rows], "position": [r[1] for r in rows],
                          "channel": [r[2] for r in rows]})  # fmt: skip


def paths_of(table: ibis.Table) -> dict[str, str]:
    rows = table.order_by(["order_id", "position"]).to_pyarrow().to_pylist()
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["order_id"], []).append(r["channel"])
        assert r["position"] == len(out[r["order_id"]])  # renumbered 1..n
    return {k: " > ".join(v) for k, v in out.items()}


PATHS = {"o1": "a > a > b > a", "o2": "direct > email > direct", "o3": "direct > direct"}


@pytest.mark.parametrize(("how", "drop", "max_touches", "expected"), [
    ("all", (), None, PATHS),
    ("collapse_repeats", (), None, {"o1": "a > b > a", "o2": "direct > email > direct", "o3": "direct"}),
    ("first_occurrence", (), None, {"o1": "a > b", "o2": "direct > email", "o3": "direct"}),
    ("counts_per_channel", (), None,
     {"o1": "a (3) > b (1)", "o2": "direct (2) > email (1)", "o3": "direct (2)"}),
    ("all", ("direct",), None, {"o1": "a > a > b > a", "o2": "email", "o3": "direct > direct"}),
    ("collapse_repeats", ("direct",), 2, {"o1": "b > a", "o2": "email", "o3": "direct"}),
])  # fmt: skip
def test_transforms(how, drop, max_touches, expected):
    result = transform_touches(journeys(PATHS), how, drop=drop, max_touches=max_touches)
    assert paths_of(result) == expected


def test_bad_transforms_are_explained():
    with pytest.raises(ConfigError, match="collapse_repeats"):
        transform_touches(journeys(PATHS), "collapse")
    with pytest.raises(ConfigError, match="at least 1"):
        transform_touches(journeys(PATHS), max_touches=0)


def test_path_tables_take_the_same_transforms():
    import pyarrow as pa

    from omnimetrics.attribution import PathTable
    from omnimetrics.attribution.transforms import transform_paths

    table = PathTable.from_arrow(pa.table({
        "path": pa.array([["a", "a", "b", "a"], [], ["direct", "email", "direct"]],
                         pa.list_(pa.string())),
        "conversions": [1.0, 2.0, 0.0], "nulls": [0.0, 0.0, 5.0], "value": [9.0, 4.0, 0.0],
    }))  # fmt: skip
    collapsed = transform_paths(table, "collapse_repeats", drop=["direct"])
    assert collapsed.to_arrow().column("path").to_pylist() == ["a > b > a", "", "email"]
    assert collapsed.conversions.tolist() == [1, 2, 0] and collapsed.value.tolist() == [9, 4, 0]
    assert transform_paths(table) is table
