"""Segments: hand-computed RFM, age, channel mix and consent; the filter language; the most
responsive segments; audiences of hashed identifiers with consent and small-cell suppression."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import ibis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import omnimetrics
from omnimetrics import journeys as jr
from omnimetrics.config import Settings
from omnimetrics.errors import ConfigError, UnknownNameError
from omnimetrics.metrics import segments as sg
from tests.helpers import SECRET, write

NOW = datetime(2026, 6, 1, tzinfo=UTC)
AS_OF = date(2026, 3, 31)

CUSTOMERS = """customer_id,email,phone,birth_year,age_band,city,region,consent_marketing,consent_analytics,updated_at
C1, Ann@Example.com ,06 12 34 56 78,2000,,Paris,IDF,true,true,2026-01-01
C2,bob@example.com,,1950,18-24,Paris,IDF,true,true,2026-01-01
C3,cat@example.com,06 11 22 33 44,1960,,Lyon,ARA,false,true,2026-01-01
C4,dan@example.com,,,,Nice,PACA,,true,2026-01-01
C5,eve@example.com,,1990,,Paris,IDF,true,false,2026-01-01
C6a,fay@example.com,,1985,,Lille,HDF,true,,2026-01-01
C6b,fay@example.com,,1985,,Lyon,ARA,false,,2026-02-01
C7,gus@example.com,,,,Paris,IDF,,,2026-01-01
"""
ORDERS = """order_id,timestamp,sales_channel,revenue,currency,customer_id,status,returned_amount
O1,2026-03-30T12:00:00Z,web,100,EUR,C1,,
O2,2026-02-10,store,50,EUR,C1,,
O3,2025-11-01,web,30,EUR,C1,,
O4,2026-03-20,web,40,EUR,C2,,
O5,2026-03-25,web,999,EUR,C2,cancelled,
O6,2026-04-05,web,70,EUR,C2,,
O7,2025-10-01,store,20,EUR,C3,,
O8,2025-10-15,store,20,EUR,C3,,
O9,2025-11-01,store,20,EUR,C3,,
O10,2025-12-01,store,200,EUR,C3,partially_returned,100
O11,2026-03-01,call_centre,300,EUR,C4,,
O12,2026-03-05,call_centre,10,EUR,C4,,
O13,2025-06-01,app,5,EUR,C6a,,
O14,2026-03-15,web,25,EUR,C5,,
"""
IDENTITIES = """identifier_type_a,identifier_a,identifier_type_b,identifier_b
anonymous_id,ck7,loyalty_id,L7
"""
TOUCHPOINTS = """event_id,timestamp,event_type,anonymous_id,loyalty_id,source,medium,channel
e1,2026-03-10,visit,ck7,,google,cpc,
e2,2026-03-12,store_visit,,L7,,,store
e3,2026-03-15,email_open,ck8,,,,email
"""
SEGMENTS = (
    {"name": "young_parisians", "where": "age_band in ('18-24','25-34') and city == 'Paris'"},
    {"name": "big_spenders", "where": "monetary >= 150 and not (channel_mix == 'store_only')"},
)


def build(folder: Path, settings: Settings) -> omnimetrics.Warehouse:
    """The tiny retailer of this module, ingested, resolved and with its events."""
    wh = omnimetrics.connect(folder / "s.duckdb", settings=settings)
    for table, text in (("customers", CUSTOMERS), ("orders", ORDERS),
                        ("identities", IDENTITIES), ("touchpoints", TOUCHPOINTS)):  # fmt: skip
        wh.ingest(table, write(folder / f"{table}.csv", text), now=NOW)
    wh.resolve_identities()
    jr.build_events(wh)
    return wh


SETTINGS = Settings(secret=SECRET, activation_hashes=True, min_cell_persons=2, segments=SEGMENTS)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    wh = build(tmp_path_factory.mktemp("shop"), SETTINGS)
    yield wh
    wh.close()


def person_of(wh, identifier: str) -> str:
    graph = wh.table("identity_graph")
    rows = graph.filter(graph.identifier == identifier).person_id.to_pyarrow().to_pylist()
    return rows[0]


def profiles(wh, **options) -> dict[str, dict]:
    rows = sg.person_segments(wh, as_of=AS_OF, **options).to_pyarrow().to_pylist()
    return {row["person_id"]: row for row in rows}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- the person table, by hand ---------------------------------------------------------------

COLUMNS = ("age_band", "region", "city", "customer_type", "recency_days", "frequency",
           "monetary", "r_score", "f_score", "m_score", "rfm_segment", "channel_mix",
           "consent_marketing", "consent_analytics")  # fmt: skip
EXPECTED = {
    "C1": ("25-34", "IDF", "Paris", "returning", 1, 3, 180.0, 5, 4, 4, "champions",
           "omnichannel", "granted", "granted"),
    "C2": ("18-24", "IDF", "Paris", "new", 11, 1, 40.0, 4, 1, 2, "promising", "online_only",
           "granted", "granted"),
    "C3": ("65+", "ARA", "Lyon", "returning", 120, 4, 160.0, 2, 5, 3, "cannot_lose",
           "store_only", "refused", "granted"),
    "C4": ("unknown", "PACA", "Nice", "new", 26, 2, 310.0, 3, 3, 5, "need_attention",
           "single_channel", "unknown", "granted"),
    "C6a": ("35-44", "ARA", "Lyon", "returning", 303, 1, 5.0, 1, 1, 1, "lost", "online_only",
            "refused", "unknown"),
    "C7": ("unknown", "IDF", "Paris", "prospect", None, 0, 0.0, None, None, None, "prospect",
           "none", "unknown", "unknown"),
    "ck7": ("unknown", "unknown", "unknown", "prospect", None, 0, 0.0, None, None, None,
            "prospect", "omnichannel", "unknown", "unknown"),
    "ck8": ("unknown", "unknown", "unknown", "prospect", None, 0, 0.0, None, None, None,
            "prospect", "none", "unknown", "unknown"),
}  # fmt: skip


def test_person_segments_by_hand(shop):
    rows = profiles(shop)
    assert len(rows) == len(EXPECTED)  # C5 refused analytics: left out
    for identifier, expected in EXPECTED.items():
        row = rows[person_of(shop, identifier)]
        assert tuple(row[c] for c in COLUMNS) == expected, identifier
    assert list(sg.person_segments(shop, as_of=AS_OF).columns) == [
        "person_id",
        *sg.DIMENSIONS,
        "young_parisians",
        "big_spenders",
    ]


def test_the_analysis_period_and_the_consent_filter_are_parameters(shop):
    rows = profiles(shop, since=date(2025, 11, 1), consent_purpose=None)
    assert rows[person_of(shop, "C1")]["customer_type"] == "new"  # first order 2025-11-01
    assert rows[person_of(shop, "C3")]["customer_type"] == "returning"
    eve = rows[person_of(shop, "C5")]
    assert (eve["consent_analytics"], eve["frequency"]) == ("refused", 1)
    # Scores are quintiles among the buyers present: with Eve, six buyers.
    assert sorted(r["r_score"] for r in rows.values() if r["r_score"]) == [1, 1, 2, 3, 4, 5]
    with pytest.raises(ConfigError, match="must not be after"):
        sg.person_segments(shop, as_of=AS_OF, since=date(2026, 4, 1))


def test_the_rfm_grid_covers_every_pair_and_the_engine_agrees(shop):
    names = {sg.rfm_segment_of(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert names == {cell.name for cell in sg.RFM_GRID}
    assert sg.rfm_segment_of(1, 1) == "lost" and sg.rfm_segment_of(2, 1) == "hibernating"
    for row in profiles(shop).values():
        if row["r_score"] is not None:
            assert row["rfm_segment"] == sg.rfm_segment_of(row["r_score"], row["f_score"])
    with pytest.raises(ValueError, match=r"1\.\.5"):
        sg.rfm_segment_of(0, 3)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=30))
def test_quintile_scores_keep_ties_together_and_order(values):
    table = ibis.memtable({"v": values})
    scored = table.mutate(
        s=sg.quintile_score(ibis.rank().over(order_by="v"), table.count().over(ibis.window()))
    )
    pairs = sorted(scored.execute().itertuples(index=False))
    scores = [s for _, s in pairs]
    assert all(1 <= s <= 5 for s in scores)
    assert scores == sorted(scores)  # monotone in the value
    by_value: dict[int, set[int]] = {}
    for v, s in pairs:
        by_value.setdefault(v, set()).add(s)
    assert all(len(s) == 1 for s in by_value.values())  # ties share a score
    if len(set(values)) == len(values) and len(values) % 5 == 0:
        assert [scores.count(k) for k in range(1, 6)] == [len(values) // 5] * 5


@pytest.mark.parametrize(
    ("birth_year", "band"),
    [(2009, "under 18"), (2008, "18-24"), (2002, "18-24"), (2001, "25-34"), (1992, "25-34"),
     (1991, "35-44"), (1982, "35-44"), (1981, "45-54"), (1971, "55-64"), (1962, "55-64"),
     (1961, "65+"), (None, None)],
)  # fmt: skip
def test_age_band_from_birth_year(birth_year, band):
    table = ibis.memtable({"y": [birth_year]}, schema={"y": "int64"})
    banded = table.select(b=sg.age_band(table.y, date(2026, 3, 31))).to_pyarrow()
    assert banded["b"].to_pylist() == [band]


# -- user segments and the filter language ---------------------------------------------------


def test_user_segments_are_columns_and_members(shop):
    rows = profiles(shop)
    young = {p for p, r in rows.items() if r["young_parisians"]}
    assert young == {person_of(shop, "C1"), person_of(shop, "C2")}
    members = sg.segment_members(shop, "big_spenders", as_of=AS_OF).to_pyarrow()
    assert set(members["person_id"].to_pylist()) == {person_of(shop, "C1"), person_of(shop, "C4")}
    lost = sg.segment_members(shop, "rfm_segment", "lost", as_of=AS_OF).to_pyarrow()
    assert lost["person_id"].to_pylist() == [person_of(shop, "C6a")]
    top = sg.segment_members(shop, "r_score", 5, as_of=AS_OF).to_pyarrow()
    assert top["person_id"].to_pylist() == [person_of(shop, "C1")]


def test_segment_lookups_that_fail_say_what_to_do(shop):
    with pytest.raises(UnknownNameError, match="Did you mean 'young_parisians'"):
        sg.segment_members(shop, "young_parisian")
    with pytest.raises(UnknownNameError, match="Did you mean 'champions'"):
        sg.segment_members(shop, "rfm_segment", "champion")
    with pytest.raises(ConfigError, match=r"needs a value.*omnichannel"):
        sg.segment_members(shop, "channel_mix")
    with pytest.raises(ConfigError, match="without a value"):
        sg.segment_members(shop, "young_parisians", "yes")
    with pytest.raises(ConfigError, match="is a number"):
        sg.segment_members(shop, "frequency", "many")


def matching(where: str, rows: list[dict]) -> list[int]:
    test = sg.compile_filter(where, segment="s")
    table = ibis.memtable(rows)
    return sorted(table.filter(test(table)).execute().n.tolist())


PEOPLE = [
    {"n": 1, "age_band": "18-24", "city": "Paris", "r_score": 5, "frequency": 1},
    {"n": 2, "age_band": "25-34", "city": "Lyon", "r_score": 3, "frequency": 4},
    {"n": 3, "age_band": "45-54", "city": "Paris", "r_score": None, "frequency": 0},
]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("city == 'Paris'", [1, 3]),
        ("city != 'Paris'", [2]),
        ("age_band in ('18-24', '25-34') and city == 'Paris'", [1]),
        ("age_band not in ('18-24')", [2, 3]),
        ("r_score >= 4 or frequency > 3", [1, 2]),
        ("not (r_score >= 4)", [2, 3]),  # a missing score never matches a comparison
        ("2 <= r_score <= 4", [2]),
        ("frequency == -1 or 'Lyon' == city", [2]),
        ("(city == 'Paris' or city == 'Lyon') and not frequency < 1", [1, 2]),
    ],
)
def test_filter_language(where, expected):
    assert matching(where, PEOPLE) == expected


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("__import__('os')", r"`__import__\('os'\)` is not allowed \(a function call\)"),
        ("city.upper() == 'PARIS'", "not allowed"),
        ("(lambda: 1)() == 1", "not allowed"),
        ("city = 'Paris'", "compare with =="),
        ("city == 'Paris' AND r_score > 3", "lower case"),
        ("cty == 'Paris'", "unknown column 'cty'. Did you mean 'city'"),
        ("city == Paris", "unknown column 'Paris'"),
        ("city == 3", "compares text with number"),
        ("r_score in ('5')", "must all be number"),
        ("city", "not a condition"),
        ("1 == 1", "two constants"),
        ("city is None", "use == or !="),
        ("frequency + 1 > 2", r"\(arithmetic\)"),
        ("", "non-empty"),
    ],
)
def test_filter_language_refuses_the_rest_clearly(where, message):
    with pytest.raises(ConfigError, match=message) as caught:
        sg.compile_filter(where, segment="young_parisians")
    text = str(caught.value)
    assert "Segment 'young_parisians'" in text and "Columns: [" in text


def test_bad_segment_settings_are_refused(tmp_path):
    def load(*entries):
        return sg.user_segments(Settings(secret=SECRET, segments=entries))

    with pytest.raises(ConfigError, match="Did you mean 'where'"):
        load({"name": "a", "were": "city == 'Paris'"})
    with pytest.raises(ConfigError, match="defined twice"):
        load({"name": "a", "where": "city == 'X'"}, {"name": "a", "where": "city == 'Y'"})
    with pytest.raises(ConfigError, match="built-in column"):
        load({"name": "city", "where": "city == 'X'"})
    with pytest.raises(ConfigError, match="word of letters"):
        load({"name": "young parisians", "where": "city == 'X'"})
    toml = tmp_path / "omnimetrics.toml"
    toml.write_text('[[segments]]\nname = "vip"\nwhere = "m_score >= 5"\ndoc = "Top spenders"\n')
    loaded = Settings.load(toml, environ={"OMNIMETRICS_SECRET": "x" * 32})
    catalog = sg.describe_segments(loaded).to_pylist()
    assert catalog[-1] == {"kind": "user", "name": "vip", "doc": "Top spenders",
                           "values": "true, false"}  # fmt: skip
    assert {r["name"] for r in catalog if r["kind"] == "dimension"} == set(sg.DIMENSIONS)


# -- most responsive segments ----------------------------------------------------------------

CAMPAIGN_CUSTOMERS = """customer_id,city
A1,Paris
A2,Paris
A3,Paris
A4,Paris
B1,Lyon
B2,Lyon
B3,Lyon
B4,Lyon
"""
CAMPAIGN_TOUCHES = """event_id,timestamp,event_type,customer_id,campaign,channel
x1,2026-03-01T10:00:00Z,email_click,A1,spring,email
x2,2026-03-03T10:00:00Z,email_click,A2,spring,email
x3,2026-03-05T10:00:00Z,email_click,A2,spring,email
x4,2026-03-02T09:00:00Z,email_click,B1,spring,email
x5,2026-03-02T09:00:00Z,email_click,B2,spring,email
v1,2026-02-01,visit,A3,,
v2,2026-02-01,visit,A4,,
v3,2026-05-01,visit,B3,,
v4,2026-02-15,visit,B4,,
"""
CAMPAIGN_ORDERS = """order_id,timestamp,sales_channel,revenue,currency,customer_id
P1,2026-03-05,web,10,EUR,A1
P2,2026-04-10,web,10,EUR,A2
P3,2026-03-10,store,10,EUR,A3
P4,2026-03-02T15:00:00Z,web,10,EUR,B1
P5,2026-03-31,web,10,EUR,B2
P6,2026-05-02,web,10,EUR,B3
P7,2026-02-20,web,10,EUR,B4
"""


def test_most_responsive_by_hand(wh, tmp_path):
    for table, text in (("customers", CAMPAIGN_CUSTOMERS), ("touchpoints", CAMPAIGN_TOUCHES),
                        ("orders", CAMPAIGN_ORDERS)):  # fmt: skip
        wh.ingest(table, write(tmp_path / f"{table}.csv", text), now=NOW)
    wh.resolve_identities()
    jr.build_events(wh)
    rows = sg.most_responsive(wh, "spring", by="city").to_pyarrow().to_pylist()
    # Lyon: B1 and B2 converted within 30 days of exposure; unexposed B4 did not (B3 appears
    # only after the window, so is not counted). Paris: A1 yes, A2 too late; unexposed A3 yes
    # (within 30 days of the campaign's start), A4 no.
    assert [r["city"] for r in rows] == ["Lyon", "Paris"]
    lyon, paris = rows
    assert (lyon["exposed_persons"], lyon["exposed_converted"], lyon["exposed_rate"]) == (2, 2, 1)
    assert (lyon["unexposed_persons"], lyon["unexposed_converted"]) == (1, 0)
    assert lyon["lift"] == 1.0 and lyon["relative_lift"] is None
    assert (paris["exposed_persons"], paris["exposed_converted"]) == (2, 1)
    assert (paris["unexposed_persons"], paris["unexposed_converted"]) == (2, 1)
    assert paris["lift"] == 0.0 and paris["relative_lift"] == 0.0
    short = sg.most_responsive(wh, "spring", by="city", window_days=1).to_pyarrow().to_pylist()
    assert {r["city"]: r["exposed_converted"] for r in short} == {"Lyon": 1, "Paris": 0}
    with pytest.raises(UnknownNameError, match="Did you mean 'spring'"):
        sg.most_responsive(wh, "sprin")
    with pytest.raises(UnknownNameError, match="Did you mean 'city'"):
        sg.most_responsive(wh, "spring", by="cty")


# -- audiences -------------------------------------------------------------------------------


def test_audience_hashes_are_plain_sha256_of_normalised_values(shop):
    table = sg.audience(shop, "young_parisians", as_of=AS_OF).to_pylist()
    expected = sorted(
        [("email", sha("ann@example.com")), ("email", sha("bob@example.com")),
         ("phone", sha("+33612345678"))]
    )  # fmt: skip
    assert sorted((r["identifier_type"], r["sha256"]) for r in table) == expected
    meta = sg.audience(shop, "young_parisians", phone_format="digits", as_of=AS_OF).to_pylist()
    assert {r["sha256"] for r in meta if r["identifier_type"] == "phone"} == {sha("33612345678")}


def test_audience_only_holds_persons_who_granted_marketing(shop):
    # Paris: Ann and Bob granted; Gus's consent is unknown (no); Eve refused analytics.
    table = sg.audience(shop, "city", "Paris", as_of=AS_OF).to_pylist()
    emails = {r["sha256"] for r in table if r["identifier_type"] == "email"}
    assert emails == {sha("ann@example.com"), sha("bob@example.com")}


def test_small_audiences_are_refused(shop):
    with pytest.raises(sg.AudienceError, match=r"1 person.*min_cell_persons = 2"):
        sg.audience(shop, "rfm_segment", "champions", as_of=AS_OF)
    with pytest.raises(sg.AudienceError, match="0 person"):
        sg.audience(shop, "city", "Lyon", as_of=AS_OF)  # Cat and Fay refused marketing


def test_audiences_need_activation_hashes(wh, tmp_path):
    path = write(tmp_path / "customers.csv", CUSTOMERS)
    wh.ingest("customers", path, now=NOW)
    wh.resolve_identities()
    with pytest.raises(ConfigError, match=r"\[privacy\] activation_hashes = true"):
        sg.audience(wh, "city", "Paris")
    assert "activation_identifiers" not in wh.tables()
    # Turning the flag on, then ingesting the same file again, captures the hashes only.
    wh.close()
    on = Settings(secret=SECRET, activation_hashes=True, min_cell_persons=2)
    again = omnimetrics.connect(tmp_path / "test.duckdb", settings=on)
    report = again.ingest("customers", path, now=NOW)
    assert report.files[0].already_ingested and report.accepted == 0
    assert report.activation_identifiers == 9  # 7 distinct emails + 2 phones
    assert again.table("customers").count().execute() == 8
    assert again.ingest("customers", path, now=NOW).activation_identifiers == 0
    emails = {r["sha256"] for r in sg.audience(again, "city", "Paris").to_pylist()}
    assert sha("ann@example.com") in emails
    again.close()
