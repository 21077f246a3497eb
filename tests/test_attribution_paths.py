"""Path tables (read from files or aggregated from journeys), invariants of every data-driven
model, determinism and bootstrap intervals."""

from __future__ import annotations

from datetime import UTC, datetime

import ibis
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimetrics.attribution import MODELS, NO_TOUCH, PathTable, attribute, read_paths
from omnimetrics.errors import SchemaError, SourceError

DATA_DRIVEN = sorted(name for name, model in MODELS.items() if model.data_driven)
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_read_paths_csv_with_the_usual_columns(tmp_path):
    file = tmp_path / "paths.csv"
    file.write_text(
        "path,conversions,nulls,value\n"
        "email > display,3,10,300.5\n"
        "display>email > email,1,0,20\n"
        ",2,0,15\n"
        "search,0,7,0\n"
    )
    table = read_paths(file)
    assert table.labels == ("display", "email", "search")
    assert table.lengths.tolist() == [2, 3, 0, 1]
    assert table.conversions.tolist() == [3, 1, 2, 0] and table.value[0] == 300.5
    assert table.to_arrow().column("path").to_pylist() == [
        "email > display", "display > email > email", "", "search"]  # fmt: skip
    rows = attribute(table, ["markov"]).to_pyarrow().to_pylist()
    by = {r["channel"]: r for r in rows}
    assert by[NO_TOUCH]["conversions"] == 2 and by[NO_TOUCH]["revenue"] == 15
    assert sum(r["conversions"] for r in rows) == pytest.approx(6)
    assert sum(r["revenue"] for r in rows) == pytest.approx(335.5)


def test_read_paths_with_other_names_and_separator(tmp_path):
    file = tmp_path / "paths.csv"
    file.write_text("journey;total_conv;total_null\nseo|sea;2;1\nsea;1;3\n")
    table = read_paths(file, path="journey", conversions="total_conv", nulls="total_null",
                       separator="|")  # fmt: skip
    assert table.labels == ("sea", "seo") and table.value.tolist() == [0, 0]
    parquet = tmp_path / "paths.parquet"
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"path": ["a > b"], "conversions": [1], "nulls": [0],
                             "value": [5.0]}), parquet)  # fmt: skip
    assert read_paths(parquet).labels == ("a", "b")


def test_read_paths_errors_say_what_and_where(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        read_paths(tmp_path / "missing.csv")
    file = tmp_path / "paths.csv"
    file.write_text("path,conversion,nulls\na,1,0\n")
    with pytest.raises(SchemaError, match=r"'conversions' not found.*Did you mean 'conversion'"):
        read_paths(file)
    file.write_text("path,conversions,nulls\na,1,0\nb,-2,0\n")
    with pytest.raises(SchemaError, match="row 2"):
        read_paths(file)
    file.write_text("path,conversions,nulls\na,many,0\n")
    with pytest.raises(SchemaError, match=r"row 1 has 'many'"):
        read_paths(file)


path_rows = st.lists(
    st.tuples(st.lists(st.sampled_from("ABCDE"), max_size=6), st.integers(0, 5),
              st.integers(0, 5), st.floats(0, 1000)),
    min_size=1, max_size=25,
)  # fmt: skip


def table_of(rows) -> PathTable:
    return PathTable.from_arrow(pa.table({
        "path": pa.array([r[0] for r in rows], pa.list_(pa.string())),
        "conversions": [float(r[1]) for r in rows], "nulls": [float(r[2]) for r in rows],
        "value": [r[3] if r[1] else 0.0 for r in rows],
    }))  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(path_rows)
def test_data_driven_credits_are_shares_that_conserve_conversions_and_revenue(rows):
    table = table_of(rows).touched
    converted = table.conversions.sum() > 0
    for name in DATA_DRIVEN:
        credits = MODELS[name].learner().fit(table).credits()
        assert set(credits) == set(table.labels), name
        assert all(share >= 0 for share in credits.values()), name
        total = sum(credits.values())
        # with conversions, removal effects or Shapley values can still all be 0 only when
        # no channel matters (Markov: never when a path converted)
        if converted and name.startswith("markov"):
            assert total == pytest.approx(1.0), name
        else:
            assert total == pytest.approx(1.0) or total == 0.0, name


# Markov chains share removal effects out over all conversions (Anderl et al. 2016), not journey
# by journey: a channel can be credited beyond its own journeys (test_attribution_markov.py
# shows a case by hand; docs/attribution.md says why). Every other learner must keep the bound.
ALLOCATED_OVER_ALL_JOURNEYS = {name for name in DATA_DRIVEN if name.startswith("markov")}


def journey_bounds(table: PathTable) -> tuple[dict[str, float], dict[str, float]]:
    """Conversions and revenue of the converting journeys that contain each label."""
    touched = table.touched
    n = len(touched.labels)
    pairs = np.unique(touched.path_of_touch * n + touched.codes)
    path, code = pairs // n, pairs % n
    conversions = np.bincount(code, touched.conversions[path], minlength=n)
    revenue = np.bincount(code, touched.value[path], minlength=n)
    return (dict(zip(touched.labels, conversions.tolist(), strict=True)),
            dict(zip(touched.labels, revenue.tolist(), strict=True)))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(path_rows)
def test_no_channel_is_credited_more_than_the_conversions_of_its_journeys(rows):
    table = table_of(rows)
    result = attribute(table, DATA_DRIVEN).to_pandas()
    most_conversions, most_revenue = journey_bounds(table)
    lonely = table.conversions[table.lengths == 0].sum()
    most_conversions[NO_TOUCH] = lonely
    most_revenue[NO_TOUCH] = table.value[table.lengths == 0].sum()
    touched_conversions = table.conversions[table.lengths > 0].sum()
    for name in DATA_DRIVEN:
        mine = result[result.model == name].set_index("channel")
        assert (mine.conversions >= 0).all() and (mine.revenue >= 0).all(), name
        if touched_conversions > 0:  # the additive models hand out every conversion
            assert mine.conversions.sum() == pytest.approx(table.conversions.sum()), name
            assert mine.revenue.sum() == pytest.approx(table.value.sum()), name
        if name in ALLOCATED_OVER_ALL_JOURNEYS:
            continue
        for label, row in mine.iterrows():  # a few labels
            tolerance = 1e-9 * (1 + most_conversions[label])
            assert row.conversions <= most_conversions[label] + tolerance, (name, label)
            assert row.revenue <= most_revenue[label] * (1 + 1e-9) + 1e-9, (name, label)


def test_attribute_conserves_conversions_and_revenue_for_every_model():
    table = table_of([(["A", "B"], 2, 1, 200.0), (["B", "C", "B"], 1, 4, 30.0), ([], 1, 0, 9.0),
                      (["C"], 0, 3, 0.0), (["A"], 1, 1, 50.0)])  # fmt: skip
    additive = [n for n, m in MODELS.items() if m.additive and not m.needs_times]
    result = attribute(table, additive).to_pandas()
    for name, rows in result.groupby("model"):
        assert rows.conversions.sum() == pytest.approx(5.0), name
        assert rows.revenue.sum() == pytest.approx(289.0), name
        assert (rows.conversions >= 0).all() and rows.share.sum() == pytest.approx(1.0), name


def test_same_input_same_output_and_intervals_bracket_the_estimate():
    converting = ibis.memtable({
        "order_id": ["o1", "o1", "o2", "o3", "o3", "o4"], "position": [1, 2, 1, 1, 2, 1],
        "channel": ["A", "B", "B", "C", "A", "A"], "campaign": ["a", "b", "b", "c", "a", "a"],
        "revenue": [30.0, 30.0, 10.0, 5.0, 5.0, 8.0], "touch_at": [NOW] * 6, "order_at": [NOW] * 6,
    })  # fmt: skip
    orders = ibis.memtable({"order_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
                            "revenue": [30.0, 10.0, 5.0, 8.0, 4.0, 6.0]})  # fmt: skip
    lost = ibis.memtable({"person_id": ["p1", "p2", "p2"], "position": [1, 1, 2],
                          "channel": ["A", "C", "B"], "campaign": ["a", "c", "b"]})  # fmt: skip
    models = ["linear", "participation", *DATA_DRIVEN]
    options = {"orders": orders, "non_converting": lost, "intervals": 60}
    first = attribute(converting, models, seed=1, **options).to_pandas()
    second = attribute(converting, models, seed=1, **options).to_pandas()
    numbers = first.select_dtypes("number").columns
    assert first.drop(columns=numbers).equals(second.drop(columns=numbers))
    assert np.allclose(first[numbers], second[numbers], rtol=1e-12, equal_nan=True)
    assert set(first.model) == set(models) and (first.channel == NO_TOUCH).sum() == len(models)
    # Every row, untouched orders and participation included, lies within its intervals: the
    # share and its bands are both of all orders.
    assert not (first.share_low > first.share + 1e-9).any()
    assert not (first.share > first.share_high + 1e-9).any()
    assert not (first.conversions_low > first.conversions + 1e-9).any()
    assert not (first.conversions > first.conversions_high + 1e-9).any()
    assert not first[["conversions_low", "share_low", "share_high"]].isna().any().any()
    other = attribute(converting, models, seed=2, **options).to_pandas()
    assert not np.allclose(other.conversions_low, first.conversions_low)


def test_bootstrap_interval_matches_the_poisson_bootstrap_by_hand():
    # 400 single-touch orders, 100 of them closed by A. In a Poisson bootstrap every order is
    # drawn k ~ Poisson(1) times, so A's replicate conversions are Poisson(100): the 95%
    # percentile interval is close to 100 -/+ 1.96 * sqrt(100) = [80.4, 119.6].
    channels = ["A"] * 100 + ["B"] * 300
    touches = ibis.memtable({
        "order_id": [f"o{i}" for i in range(400)], "position": [1] * 400, "channel": channels,
        "revenue": [10.0] * 400, "touch_at": [NOW] * 400, "order_at": [NOW] * 400,
    })  # fmt: skip
    rows = attribute(touches, ["last_touch"], intervals=2000, seed=3).to_pandas()
    a = rows.set_index("channel").loc["A"]
    assert a.conversions == 100
    assert a.conversions_low == pytest.approx(100 - 1.96 * 10, abs=2.5)
    assert a.conversions_high == pytest.approx(100 + 1.96 * 10, abs=2.5)
    # A's share of a Poisson(100) + Poisson(300) total: sd = sqrt(p (1 - p) / 400) ~ 0.0217
    assert a.share_low == pytest.approx(0.25 - 1.96 * 0.0217, abs=0.006)
    assert a.share_high == pytest.approx(0.25 + 1.96 * 0.0217, abs=0.006)


def test_read_paths_names_the_malformed_line_and_reads_other_encodings_and_lists(tmp_path):
    file = tmp_path / "paths.csv"
    file.write_text("path,conversions,nulls\na > b,1,0\na,b,1,0\nb,2,0\n")
    with pytest.raises(SchemaError, match=r"line 3 does not split.*'a,b,1,0'"):
        read_paths(file)
    file.write_bytes("path;conversions;nulls\nété > b;1;0\n;2;1\n".encode("utf-16"))
    table = read_paths(file)
    assert table.labels == ("b", "été") and table.lengths.tolist() == [2, 0]
    import pyarrow.parquet as pq

    parquet = tmp_path / "paths.parquet"
    pq.write_table(pa.table({"path": pa.array([["a ", "b"], None, []], pa.list_(pa.string())),
                             "conversions": [1, 0, 1], "nulls": [0, 2, 0]}), parquet)  # fmt: skip
    table = read_paths(parquet)
    assert table.labels == ("a", "b") and table.lengths.tolist() == [2, 0, 0]
    other = tmp_path / "paths.xlsx"
    other.write_text("x")
    with pytest.raises(SourceError, match="extension"):
        read_paths(other)


@settings(max_examples=40, deadline=None)
@given(path_rows, st.integers(1, 4), st.sampled_from([">", " > ", "|"]))
def test_paths_parsed_in_chunks_equal_the_lists_they_spell(rows, chunks, separator):
    from omnimetrics.attribution.paths import parse_paths

    text = [separator.join(f" {label} " for label in r[0]) for r in rows]
    size = -(-len(text) // chunks)
    column = pa.chunked_array([pa.array(text[i : i + size], pa.string())
                               for i in range(0, len(text), size)])  # fmt: skip
    labels, codes, offsets = parse_paths(column, separator.strip())
    expected = table_of(rows)
    assert labels == expected.labels
    assert codes.tolist() == expected.codes.tolist()
    assert offsets.tolist() == expected.offsets.tolist()


def test_arrow_buffers_round_trip_with_nulls_and_slices():
    from omnimetrics.attribution.arrow import booleans, floats, strings, to_floats, to_integers

    numbers = pa.array([1.5, None, 3.0, 4.0, None]).slice(1)
    assert np.isnan(to_floats(numbers)[0]) and to_floats(numbers)[1:3].tolist() == [3.0, 4.0]
    assert to_floats(pa.chunked_array([pa.array([1, 2]), pa.array([None, 4])])).tolist()[3] == 4
    assert to_integers(pa.array([7, None, 9], pa.int32()).slice(1)).tolist() == [0, 9]
    assert to_integers(pa.array([], pa.int64())).tolist() == []
    assert floats(np.array([0.5, 2.0])).to_pylist() == [0.5, 2.0]
    assert booleans([True, False, True]).to_pylist() == [True, False, True]
    assert strings(["é", None, "", "long label"]).to_pylist() == ["é", None, "", "long label"]
    assert strings([]).to_pylist() == []


def test_the_none_path_of_journey_tables_is_a_journey_without_touches(tmp_path):
    (tmp_path / "p.csv").write_text(
        "path,conversions,nulls,value\n(none),5,0,50\ndirect > email,2,3,20\n"
    )
    table = read_paths(tmp_path / "p.csv")
    assert "(none)" not in table.labels
    assert list(np.diff(table.offsets)) == [0, 2]
