"""The simulated world: deterministic, contract-shaped, dirty in known ways, and causally right."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from omnimetrics.schema import (
    CHANNELS,
    CURRENCIES,
    EVENT_TYPES,
    IDENTIFIER_COLUMNS,
    SALES_CHANNELS,
    SCORE_RANGES,
    table_contract,
)
from omnimetrics.simulate import World, simulate
from omnimetrics.simulate._config import COMMENTS

START = datetime(2025, 1, 1, tzinfo=UTC)
WEB_EVENTS = {"visit", "page_view", "product_view", "add_to_cart", "checkout"}
FUNNEL_EVENTS = {"page_view", "product_view", "add_to_cart", "checkout"}
ORDER_FILES = ("orders_web.csv", "orders_store.csv", "orders_crm.csv")


@pytest.fixture(scope="module")
def small() -> World:
    return simulate(customers=1_500, days=90, seed=3)


@pytest.fixture(scope="module")
def medium() -> World:
    return simulate(customers=20_000, days=180, seed=11)


def col(table: pa.Table, name: str) -> list:
    return table.column(name).to_pylist()


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def is_dirty_id(value: str | None) -> bool:
    return value is None or "X" in value or value.startswith("ev-x")


def valid_touchpoints(world: World) -> pa.Table:
    """Touchpoint rows that are neither broken nor repeated."""
    tp = world.files["touchpoints.parquet"]
    ids = col(tp, "event_id")
    keep, seen = [], set()
    for e in ids:
        keep.append(not is_dirty_id(e) and e not in seen)
        seen.add(e)
    return tp.filter(pa.array(keep))


def joined_touches(world: World) -> dict[str, np.ndarray]:
    """Valid touchpoints with their truth (person, channel, event type), as numpy arrays."""
    tp = valid_touchpoints(world)
    truth = world.truth_tables["truth_touchpoints"]
    index = {e: i for i, e in enumerate(col(truth, "event_id"))}
    rows = np.array([index[e] for e in col(tp, "event_id")])
    ts = tp.column("timestamp").cast(pa.int64()).to_numpy() // 1_000_000
    person = np.array(col(truth, "person_id"), dtype=object)[rows]
    return {
        "t": ts,
        "person": np.array([int(p[1:]) for p in person]),
        "channel": np.array(truth.column("channel").cast(pa.string()).to_pylist(), dtype=object)[
            rows
        ],
        "event_type": np.array(col(tp, "event_type"), dtype=object),
    }


def truth_orders(world: World) -> dict[str, np.ndarray]:
    to = world.truth_tables["truth_orders"]
    return {
        "order_id": np.array(col(to, "order_id"), dtype=object),
        "person": np.array([int(p[1:]) for p in col(to, "person_id")]),
        "t": to.column("timestamp").cast(pa.int64()).to_numpy() // 1_000_000,
        "sales": np.array(to.column("sales_channel").cast(pa.string()).to_pylist(), dtype=object),
        "cause": np.array(to.column("cause").cast(pa.string()).to_pylist(), dtype=object),
    }


def last_touch_before(touch: dict, person: np.ndarray, t: np.ndarray,
                      window: int = 30 * 86_400) -> np.ndarray:  # fmt: skip
    """Index of the last touch of each person strictly before t (within window), or -1."""
    order = np.lexsort((touch["t"], touch["person"]))
    span = 10**10
    key = touch["person"][order] * span + touch["t"][order]
    q = person * span + t
    at = np.searchsorted(key, q, side="left") - 1
    ok = (at >= 0) & (key[np.maximum(at, 0)] >= q - window)
    return np.where(ok, order[np.maximum(at, 0)], -1)


# --------------------------------------------------------------------------------------------
# API, determinism, arguments


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    a = simulate(customers=300, days=30, seed=5)
    b = simulate(customers=300, days=30, seed=5)
    c = simulate(customers=300, days=30, seed=6)
    assert a.files.keys() == b.files.keys()
    for name in a.files:
        assert a.files[name].equals(b.files[name]), name
    assert a.truth == b.truth
    assert json.dumps(a.manifest) == json.dumps(b.manifest)
    assert not a.files["orders_web.csv"].equals(c.files["orders_web.csv"])
    one, two = a.write(tmp_path / "a"), b.write(tmp_path / "b")
    written = sorted(p.name for p in one.iterdir())
    assert written == sorted(p.name for p in two.iterdir())
    for name in written:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": -3}, r"customers must be a positive integer.*got -3"),
        ({"customers": 0}, r"customers must be a positive integer"),
        ({"customers": 2.5}, r"customers must be a positive integer.*2\.5"),
        ({"customers": True}, r"customers must be a positive integer"),
        ({"days": 0}, r"days must be a positive integer.*got 0"),
        ({"days": "90"}, r"days must be a positive integer"),
        ({"seed": -1}, r"seed must be an integer >= 0"),
        ({"start": "01/02/2025"}, r"start must be a date written YYYY-MM-DD"),
        (
            {"start": date.today() - timedelta(days=30), "days": 60},
            rf"must end by {date.today().isoformat()}",
        ),
        ({"progress": 3}, r"progress must be a callable"),
    ],
)
def test_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate(**{"customers": 10, "days": 5, **kwargs})


def test_progress_is_reported_a_handful_of_times():
    calls: list[tuple[str, float]] = []
    simulate(customers=100, days=10, seed=1, progress=lambda s, f: calls.append((s, f)))
    assert 3 <= len(calls) <= 20
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_manifest_lists_files_in_load_order(small):
    m = small.manifest
    assert (m["format"], m["seed"], m["customers"], m["days"], m["start"]) == (
        "omnimetrics-world/1",
        3,
        1_500,
        90,
        "2025-01-01",
    )
    paths = [f["path"] for f in m["files"]]
    assert paths == [
        "customers.csv", "identities.csv", "campaign_codes.csv", "spend.csv",
        "touchpoints.parquet", "orders_web.csv", "orders_store.csv", "orders_crm.csv",
        "feedback.csv", "experiment_assignments.csv",
    ]  # fmt: skip
    assert list(small.files) == paths
    sources = {f["path"]: f.get("source") for f in m["files"] if f["table"] == "orders"}
    assert sources == {"orders_web.csv": "web_shop", "orders_store.csv": "pos",
                       "orders_crm.csv": "crm"}  # fmt: skip
    for f in m["files"]:
        if f["table"] == "orders":
            assert set(col(small.files[f["path"]], "source")) == {f["source"]}


def test_write_creates_every_file(small, tmp_path):
    out = small.write(tmp_path / "new" / "world")
    names = {p.name for p in out.iterdir()}
    assert set(small.files) | {"manifest.json", "truth.json"} <= names
    assert {f"{t}.parquet" for t in small.truth_tables} <= names
    assert json.loads((out / "truth.json").read_text()) == small.truth
    for name, table in small.files.items():
        if name.endswith(".csv"):
            back = pacsv.read_csv(out / name, convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in table.column_names}))  # fmt: skip
            assert back.num_rows == table.num_rows and back.column_names == table.column_names
        else:
            back = pq.read_table(out / name)
            assert back.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
            assert back.num_rows == table.num_rows


# --------------------------------------------------------------------------------------------
# Files follow the contracts


def test_every_column_is_a_contract_column(small):
    for entry in small.manifest["files"]:
        contract = table_contract(entry["table"])
        names = small.files[entry["path"]].column_names
        allowed = {c.input_name for c in contract.columns}
        assert set(names) <= allowed, (entry["path"], set(names) - allowed)
        assert set(contract.required) <= set(names), entry["path"]
        assert "email_hash" not in names and "phone_hash" not in names


def test_valid_values_follow_the_contracts(small):
    tp = valid_touchpoints(small)
    assert tp.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert set(col(tp, "event_type")) <= set(EVENT_TYPES)
    assert set(col(tp, "channel")) - {None} <= set(CHANNELS)
    ts = pc.min_max(tp.column("timestamp")).as_py()
    assert ts["min"] >= START and ts["max"] < START + timedelta(days=90)
    ids = np.zeros(tp.num_rows, dtype=bool)
    for c in IDENTIFIER_COLUMNS:
        ids |= tp.column(c.removesuffix("_hash")).is_valid().to_numpy(zero_copy_only=False)
    assert ids.all()
    dur = tp.column("duration_seconds").drop_null().to_numpy()
    assert (dur >= 0).all() and (dur <= 86_400).all()
    for name in ORDER_FILES:
        rows = [r for r in small.files[name].to_pylist() if not is_dirty_id(r["order_id"])]
        rows = [r for r in rows if r["timestamp"] != "not a date"
                and r["sales_channel"] != "moon" and r["currency"] == "EUR"
                and not r["revenue"].startswith(("-", "12,5"))
                and r.get("email") != "jane.doe@"]  # fmt: skip
        assert rows, name
        for r in rows:
            assert r["sales_channel"] in SALES_CHANNELS
            revenue = float(r["revenue"])
            assert 0 <= revenue <= 10_000_000
            assert float(r["returned_amount"]) <= revenue
            if r.get("margin"):
                assert float(r["margin"]) <= revenue
            when = parse_ts(r["timestamp"])
            assert START <= when < START + timedelta(days=90)
    fb = [r for r in small.files["feedback.csv"].to_pylist() if not is_dirty_id(r["response_id"])]
    fb = [r for r in fb if r["score"] not in ("ten",) and r["timestamp"] != "not a date"]
    for r in fb:
        if r["survey_type"] in SCORE_RANGES and r["score"] != "11":
            low, high = SCORE_RANGES[r["survey_type"]]
            assert low <= float(r["score"]) <= high
    assert "EUR" in CURRENCIES


def test_csv_timestamps_mix_z_and_paris_offsets(small):
    stamps = [t for t in col(small.files["orders_web.csv"], "timestamp") if t != "not a date"]
    suffixes = Counter("Z" if t.endswith("Z") else t[-6:] for t in stamps)
    assert set(suffixes) <= {"Z", "+01:00", "+02:00"} and suffixes["Z"] > 0
    assert suffixes["+01:00"] > 0
    for t in stamps:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|\+0[12]:00)", t)


def test_emails_are_raw_and_phones_mixed(small):
    emails = [e for e in col(small.files["customers.csv"], "email") if e and e != "jane.doe@"]
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+\d+@example\.(com|org|net)", e.strip().lower())
               for e in emails)  # fmt: skip
    assert any(e != e.strip() for e in emails) and any(e != e.lower() for e in emails)
    pairs = {(r["customer_id"], r["email"].strip().lower())
             for r in small.files["customers.csv"].to_pylist()
             if not is_dirty_id(r["customer_id"])}  # fmt: skip
    assert len(pairs) == len({c for c, _ in pairs}) == len({e for _, e in pairs})
    phones = [p for p in col(small.files["customers.csv"], "phone") if p]
    shapes = Counter(re.sub(r"\d", "9", p) for p in phones)
    assert {"99 99 99 99 99", "+99 9 99 99 99 99", "9999999999999"} <= set(shapes)
    for p in phones:
        digits = re.sub(r"[\s.]", "", p)
        e164 = (
            "+33" + digits[1:]
            if digits.startswith("0") and not digits.startswith("00")
            else ("+" + digits[2:] if digits.startswith("00") else digits)
        )
        assert re.fullmatch(r"\+33[67]\d{8}", e164), p


def test_truth_identifiers_cover_every_identifier_written(small):
    truth = small.truth_tables["truth_identifiers"]
    known = set(zip(col(truth, "identifier_type"), col(truth, "identifier"), strict=True))
    for name, table in small.files.items():
        for kind in ("anonymous_id", "device_id", "customer_id", "email", "phone", "loyalty_id"):
            if kind not in table.column_names:
                continue
            values = set(col(table, kind)) - {None, "jane.doe@"}
            values = {v for v in values if not is_dirty_id(v) or kind != "customer_id"}
            missing = {v for v in values if (kind, v) not in known}
            assert not missing, (name, kind, list(missing)[:3])


def test_identity_links_join_identifiers_of_one_person(small):
    truth = small.truth_tables["truth_identifiers"]
    person = dict(zip(zip(col(truth, "identifier_type"), col(truth, "identifier"), strict=True),
                      col(truth, "person_id"), strict=True))  # fmt: skip
    links = small.files["identities.csv"].to_pylist()
    good = [r for r in links if not is_dirty_id(r["identifier_b"])]
    assert Counter(r["link_source"] for r in good).keys() >= {"login", "crm", "loyalty_enrolment"}
    for r in good:
        a = person[(r["identifier_type_a"], r["identifier_a"])]
        b = person[(r["identifier_type_b"], r["identifier_b"])]
        assert a == b


# --------------------------------------------------------------------------------------------
# Truth agrees with the files


def test_orders_in_truth_are_the_valid_orders_in_the_files(small):
    ids: set[str] = set()
    reports: list[str] = []
    for name in ORDER_FILES:
        for r in small.files[name].to_pylist():
            if is_dirty_id(r["order_id"]):
                continue
            if name == "orders_crm.csv" and r["order_id"] in ids:
                reports.append(r["order_id"])
            ids.add(r["order_id"])
    truth = small.truth
    truth_ids = set(col(small.truth_tables["truth_orders"], "order_id"))
    assert truth_ids == ids
    assert truth["orders"] == len(ids)
    total = truth["baseline_orders"] + sum(
        c["incremental_orders"] for c in truth["channel_contribution"]
    )
    assert total == len(ids)
    assert truth["duplicates"]["orders_crm.csv"] == len(reports) > 0
    revenue = sum(c["incremental_revenue"] for c in truth["channel_contribution"])
    assert revenue + truth["baseline_revenue"] == pytest.approx(truth["revenue"], abs=0.1)
    by_campaign = sum(c["incremental_orders"] for c in truth["campaign_contribution"])
    assert by_campaign == truth["incremental_orders"]


def test_touchpoints_in_truth_and_duplicates(small):
    tp = small.files["touchpoints.parquet"]
    ids = [e for e in col(tp, "event_id") if not is_dirty_id(e)]
    repeats = len(ids) - len(set(ids))
    assert repeats == small.truth["duplicates"]["touchpoints.parquet"] > 0
    assert set(ids) == set(col(small.truth_tables["truth_touchpoints"], "event_id"))
    assert small.truth["rows"] == {n: t.num_rows for n, t in small.files.items()}


def _count(table: pa.Table, name: str, value: object) -> int:
    return sum(1 for v in col(table, name) if v == value)


def test_dirty_row_counts_match_the_files(small):
    dirty = small.truth["dirty_rows"]
    f = small.files
    tp = f["touchpoints.parquet"]
    nothing = np.ones(tp.num_rows, dtype=bool)
    for c in ("anonymous_id", "device_id", "customer_id", "email", "phone", "loyalty_id"):
        nothing &= tp.column(c).is_null().to_numpy(zero_copy_only=False)
    assert dirty["touchpoints.parquet"] == {
        "missing_required": _count(tp, "event_id", None),
        "not_allowed": _count(tp, "event_type", "teleport"),
        "out_of_range": int((tp.column("duration_seconds").to_numpy(
            zero_copy_only=False) < 0).sum()),
        "invalid_email": _count(tp, "email", "jane.doe@"),
        "no_identifier": int(nothing.sum()),
    }  # fmt: skip
    for name in ORDER_FILES:
        t = f[name]
        expected = {
            "invalid_type": _count(t, "revenue", "12,5O") + _count(t, "timestamp", "not a date"),
            "missing_required": _count(t, "order_id", None),
            "not_allowed": _count(t, "sales_channel", "moon"),
            "out_of_range": sum(1 for v in col(t, "revenue") if v.startswith("-")),
            "invalid_currency": _count(t, "currency", "EURO"),
        }
        if "email" in t.column_names:
            expected["invalid_email"] = _count(t, "email", "jane.doe@")
        assert dirty[name] == expected, name
    assert all(v >= 1 for reasons in dirty.values() for v in reasons.values())
    fb = f["feedback.csv"]
    assert dirty["feedback.csv"]["not_allowed"] == _count(fb, "survey_type", "horoscope")
    assert dirty["feedback.csv"]["out_of_range"] == _count(fb, "score", "11")
    sp = f["spend.csv"]
    assert dirty["spend.csv"]["invalid_currency"] == _count(sp, "currency", "EURO")
    assert dirty["spend.csv"]["not_allowed"] == _count(sp, "channel", "moon")
    cu = f["customers.csv"]
    assert dirty["customers.csv"]["out_of_range"] == _count(cu, "birth_year", "1850")
    ids = f["identities.csv"]
    assert dirty["identities.csv"]["not_allowed"] == _count(ids, "identifier_type_a", "fax")
    ex = f["experiment_assignments.csv"]
    assert dirty["experiment_assignments.csv"]["not_allowed"] == _count(ex, "unit_type", "fax")
    cc = f["campaign_codes.csv"]
    assert dirty["campaign_codes.csv"] == {
        "missing_required": _count(cc, "code", None),
        "not_allowed": _count(cc, "code_type", "barcode"),
    }


def test_offline_linkage_and_codes(small):
    truth = small.truth["offline_linkage"]
    store = [r for r in small.files["orders_store.csv"].to_pylist()
             if not is_dirty_id(r["order_id"])]  # fmt: skip
    assert truth["store_orders"] == len(store)
    assert truth["store_orders_with_loyalty_id"] == sum(1 for r in store if r["loyalty_id"])
    assert truth["store_orders_with_promo_code"] == sum(1 for r in store if r["promo_code"])
    codes = {r["code"] for r in small.files["campaign_codes.csv"].to_pylist() if r["code"]}
    for name in ORDER_FILES:
        assert set(col(small.files[name], "promo_code")) - {None} <= codes
    tp = valid_touchpoints(small)
    scans = tp.filter(pc.equal(tp.column("event_type"), "qr_scan"))
    assert scans.num_rows > 0
    for r in scans.to_pylist():
        assert json.loads(r["properties"])["code"] in codes
        assert r["channel"] == "direct_mail" and r["store_id"]


def test_email_truth_and_machine_opens(small):
    email = small.truth["email"]
    truth = small.truth_tables["truth_touchpoints"]
    types = truth.column("event_type").cast(pa.string()).to_pylist()
    assert email["sends"] == types.count("email_send")
    assert email["opens"] == types.count("email_open")
    assert email["clicks"] == types.count("email_click")
    assert 0 < email["machine_opens"] == sum(col(truth, "machine_open"))
    assert 0.2 <= email["opens"] / email["sends"] <= 0.4


# --------------------------------------------------------------------------------------------
# The causal story


def test_scale_per_person_year(medium):
    years = 180 / 365
    per_person = medium.files["touchpoints.parquet"].num_rows / 20_000 / years
    assert 8 <= per_person <= 14
    orders = medium.truth["orders"] / 20_000 / years
    assert 0.6 <= orders <= 1.0
    assert 0.15 <= medium.truth["incremental_orders"] / medium.truth["orders"] <= 0.4


def test_upper_funnel_is_under_credited_by_last_touch(medium):
    touch = joined_touches(medium)
    keep = ~np.isin(touch["event_type"], list(FUNNEL_EVENTS))
    touch = {k: v[keep] for k, v in touch.items()}
    orders = truth_orders(medium)
    online = np.isin(orders["sales"], ["web", "app"])
    last = last_touch_before(touch, orders["person"][online], orders["t"][online])
    channels = touch["channel"][last[last >= 0]]
    last_share = Counter(channels)
    n_online = int(online.sum())
    true_share = {c["channel"]: c["share_of_incremental_orders"]
                  for c in medium.truth["channel_contribution"]}  # fmt: skip
    for channel in ("display", "paid_social", "video"):
        naive = last_share[channel] / n_online
        assert true_share[channel] > 0.05
        assert true_share[channel] > 5 * naive, (channel, true_share[channel], naive)
    # Navigational channels collect the last touches they did not earn.
    navigational = sum(last_share[c] for c in ("direct", "organic_search", "paid_search", "app"))
    assert navigational / n_online > 0.7
    assert medium.truth["last_touch_share_of_online_orders"]["direct"] == pytest.approx(
        last_share["direct"] / n_online, abs=0.02
    )


def test_triggered_orders_follow_their_exposures(medium):
    to = medium.truth_tables["truth_orders"]
    cause = to.column("cause").cast(pa.string()).to_pylist()
    cause_event = col(to, "cause_event_id")
    assert all((c == "baseline") == (e is None) for c, e in zip(cause, cause_event, strict=True))
    tp = valid_touchpoints(medium)
    when = dict(
        zip(col(tp, "event_id"), tp.column("timestamp").cast(pa.int64()).to_pylist(), strict=True)
    )
    t_order = to.column("timestamp").cast(pa.int64()).to_pylist()
    delays: dict[str, list[float]] = {}
    for c, e, t in zip(cause, cause_event, t_order, strict=True):
        if e is not None:
            assert when[e] <= t
            delays.setdefault(c, []).append((t - when[e]) / 86_400e6)
    params = medium.truth["causal_parameters"]
    assert np.median(delays["display"]) > 3 * np.median(delays["paid_search"])
    assert params["display"]["mean_delay_days"] > params["email"]["mean_delay_days"]


def test_ropo_share_matches_the_configured_probability(medium):
    touch = joined_touches(medium)
    web = np.isin(touch["event_type"], list(WEB_EVENTS))
    touch = {k: v[web] for k, v in touch.items()}
    orders = truth_orders(medium)
    store = (orders["sales"] == "store") & (orders["t"] >= START.timestamp() + 7 * 86_400)
    last = last_touch_before(touch, orders["person"][store], orders["t"][store], 7 * 86_400)
    share = float((last >= 0).mean())
    ropo = medium.truth["ropo"]
    assert share == pytest.approx(ropo["store_orders_with_online_research_share"], abs=0.01)
    assert share == pytest.approx(ropo["research_probability"], abs=0.08)
    assert 0.02 < ropo["online_orders_with_store_visit_share"] < ropo["reverse_probability"]


def test_email_experiment_b_clicks_more_by_the_true_lift(medium):
    assign = medium.files["experiment_assignments.csv"].to_pylist()
    variant = {
        r["unit_id"]: r["variant"]
        for r in assign
        if not is_dirty_id(r["unit_id"])
        and r["unit_type"] == "customer_id"
        and r["timestamp"] != "not a date"
    }
    counts = Counter(variant.values())
    assert abs(counts["A"] - counts["B"]) < 0.05 * len(variant)
    tp = valid_touchpoints(medium)
    sends: Counter[str] = Counter()
    clicks: Counter[str] = Counter()
    for r in tp.select(["event_type", "customer_id"]).to_pylist():
        v = variant.get(r["customer_id"])
        if r["event_type"] == "email_send" and v:
            sends[v] += 1
        elif r["event_type"] == "email_click" and v:
            clicks[v] += 1
    rate = {v: clicks[v] / sends[v] for v in "AB"}
    exp = medium.truth["experiment"]
    assert exp["units"] == len(variant)
    assert rate["B"] / rate["A"] - 1 == pytest.approx(exp["true_relative_lift_click"], abs=0.12)
    assert 0 < exp["true_relative_lift_conversion"] < exp["true_relative_lift_click"]


def test_clv_parameters_and_feedback(medium):
    clv = medium.truth["clv_parameters"]
    assert set(clv) >= {"r", "alpha", "a", "b", "p", "q", "gamma"}
    persons = medium.truth_tables["truth_persons"]
    lam = persons.column("lambda_per_day").to_numpy()
    assert lam.mean() == pytest.approx(clv["r"] / clv["alpha"], rel=0.1)
    p = persons.column("dropout_probability").to_numpy()
    assert p.mean() == pytest.approx(clv["a"] / (clv["a"] + clv["b"]), rel=0.05)
    fb = [r for r in medium.files["feedback.csv"].to_pylist() if not is_dirty_id(r["response_id"])]
    kinds = Counter(r["survey_type"] for r in fb)
    assert {"nps", "csat", "ces", "review"} <= set(kinds)
    assert any(r["heard_from"] for r in fb) and any(r["comment"] for r in fb)
    positive = {t for topic in COMMENTS.values() for t in topic["pos"]}
    negative = {t for topic in COMMENTS.values() for t in topic["neg"]}
    for r in fb:
        if r["survey_type"] == "nps" and r["comment"] and r["score"] not in ("ten", "11"):
            score = float(r["score"])
            assert r["comment"] in (positive if score >= 9 else negative if score <= 6
                                    else positive | negative)  # fmt: skip
