"""Words of the dashboard and the report in English and French, and the `[ui]` settings."""

from __future__ import annotations

import doctest
import re
import string
from datetime import date
from pathlib import Path

import pytest

from omnimetrics import labels
from omnimetrics.config import Settings, UISettings
from omnimetrics.errors import ConfigError
from omnimetrics.labels import (
    COGNATES,
    KPI_FR,
    LANGUAGES,
    WORDS,
    column_label,
    kpi_label,
    label,
    model_label,
    month_label,
    section_label,
)
from omnimetrics.metrics.kpi_catalogue import KPIS

ROOT = Path(__file__).resolve().parents[1]


def test_the_module_example_runs():
    assert doctest.testmod(labels).failed == 0


def test_every_kpi_of_the_catalogue_has_a_french_name_and_no_other():
    assert set(KPI_FR) == set(KPIS)
    for name in KPIS:
        assert kpi_label(name) == KPIS[name].label
        assert kpi_label(name, "fr") == KPI_FR[name] != KPIS[name].label


def test_every_key_has_both_languages_and_french_is_translated():
    assert LANGUAGES == ("en", "fr") and set(WORDS) == set(LANGUAGES)
    assert set(WORDS["fr"]) == set(WORDS["en"])
    same = {key for key in WORDS["en"] if WORDS["fr"][key] == WORDS["en"][key]}
    assert same == COGNATES, "translate these, or list the real cognates in COGNATES"
    for key in WORDS["en"]:
        assert WORDS["en"][key].strip() and WORDS["fr"][key].strip(), key


def test_sentence_templates_have_the_same_fields_in_both_languages():
    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for key in WORDS["en"]:
        assert fields(WORDS["fr"][key]) == fields(WORDS["en"][key]), key
    assert (
        label("more_rows", "fr").format(count=3) == "3 lignes de plus (--out en ligne de commande)."
    )


def test_french_punctuation_has_a_no_break_space_before_colons():
    for key, word in WORDS["fr"].items():
        assert not re.search(r"[^\u00a0][:;]", word), key


def test_the_words_the_dashboard_needs():
    pages = {"overview": "Vue d'ensemble", "channels": "Canaux", "journeys": "Parcours",
             "customers": "Clients", "goals": "Objectifs", "maturity": "Maturité",
             "quality": "Qualité des données"}  # fmt: skip
    assert {page: label(page, "fr") for page in pages} == pages
    assert label("quality") == "Data quality"
    assert [label(k) for k in ("since", "until")] == ["From", "To"]
    assert [label(k, "fr") for k in ("since", "until", "channel")] == ["Du", "Au", "Canal"]
    assert label("last_run", "fr") == "Dernier calcul"
    for key in ("apply", "reset", "search", "download_csv", "not_available", "no_data",
                "computed_live", "change_vs_previous", "campaign", "segment"):  # fmt: skip
        assert key in WORDS["en"], key


def test_every_result_and_column_has_a_title():
    results = ("kpis", "goals", "attribution", "shares", "disagreement", "agreement", "roles",
               "influence", "paths", "transitions", "funnel", "exits", "lengths",
               "time_to_convert", "ropo", "segments", "dimensions", "maturity", "models",
               "quality", "ingest", "quarantine_reasons", "timeline", "runs", "tiles", "cohorts",
               "clv", "clv_params", "clv_by_channel", "clv_by_mix", "clv_by_segment",
               "clv_holdout")  # fmt: skip
    for name in results:
        assert "section." + name in WORDS["fr"], name
    # The columns of each result and part (printed once from a world's workspace).
    columns = {
        "kpis": ["kpi", "period", "value", "persons", "previous", "change", "change_kind",
                 "change_note", "flag", "suppressed", "partial"],
        "cohorts": ["cohort", "period", "customers", "active", "rate", "orders", "revenue",
                    "repeat_customers", "repeat_rate", "cumulative_revenue",
                    "cumulative_revenue_per_customer"],
        "clv": ["customer_id", "frequency", "recency", "T", "monetary_value",
                "expected_purchases", "p_alive", "expected_value", "clv", "acquisition_channel",
                "mean_clv", "mean_ltv", "total_clv", "cac", "ltv_cac", "flag", "model",
                "parameter", "value", "std_error", "predicted", "actual", "channel_mix"],
        "alerts": ["expected", "low", "high", "direction", "bad"],
        "kpis by": ["channel", "campaign", "device", "sales_channel", "fulfilment", "store",
                    "preceding_channel"],
        "attribution": ["model", "channel", "conversions", "revenue", "share", "additive"],
        "disagreement": ["min_share", "lowest_model", "max_share", "highest_model",
                         "largest_shift"],
        "agreement": ["model_a", "model_b", "spearman", "kendall", "top_channel_same"],
        "roles": ["touches", "opening", "middle", "closing", "only", "early_share",
                  "middle_share", "late_share", "only_share", "role"],
        "influence": ["sales_channel", "online_sale", "online_touch", "share_of_sales_channel"],
        "paths": ["path", "conversions", "non_conversions", "median_hours_to_convert",
                  "conversion_rate"],
        "ropo": ["direction", "method", "bound", "measure", "window_days", "orders", "preceded",
                 "coverage", "rate", "note"],
        "transitions": ["next_channel", "transitions", "switch"],
        "funnel": ["step", "persons", "median_hours_from_previous", "event_type",
                   "step_conversion", "drop_off"],
        "exits": ["event_type", "journeys", "share"],
        "time_to_convert": ["touches", "bucket", "time_to_convert"],
        "segments": ["rfm_segment", "channel_mix", "age_band", "customer_type", "persons"],
        "maturity": ["dimension", "indicator", "value", "unit", "poor", "good", "measures",
                     "detail", "note", "score", "level", "level_name", "weight", "known",
                     "unknown", "before", "after", "kind", "supported", "reasons"],
        "quality": ["table", "rows", "latest", "table_name", "batches", "rows_read", "accepted",
                    "duplicates", "quarantined", "suppressed", "last_ingest", "reason"],
        "goals": ["goal", "kpi", "segment", "start", "deadline", "status", "baseline",
                  "target", "current", "current_period", "progress", "projection",
                  "projection_low", "projection_high", "probability", "days_left", "note"],
        "timeline": ["at", "kind", "what", "channel", "detail", "amount", "reference"],
        "runs": ["run_id", "started_at", "finished_at", "settings_hash", "rules_version",
                 "row_counts"],
    }  # fmt: skip
    for result, names in columns.items():
        for column in names:
            assert "column." + column in WORDS["fr"], (result, column)
    assert column_label("revenue", "fr") == "Chiffre d'affaires"
    assert section_label("quality", "fr") == "Lignes et dernière date par table"


def test_model_names_are_words_and_columns_of_the_shares():
    from omnimetrics.attribution import MODELS

    for name in MODELS:
        assert model_label(name, "fr") == WORDS["fr"]["model." + name]
    assert column_label("last_touch", "fr") == "Dernier contact"
    assert model_label("u_30_50", "fr") == "u_30_50"  # a model of the user's own keeps its name


def test_fallback_to_english_then_to_the_key_made_readable(monkeypatch):
    monkeypatch.delitem(WORDS["fr"], "apply")
    assert label("apply", "fr") == "Apply"
    assert label("time_since_last_visit", "fr") == "Time since last visit"
    assert column_label("loyalty_tier") == "Loyalty tier"
    assert section_label("made_up_result", "fr") == "Made up result"
    assert kpi_label("made_up_kpi", "fr") == "Made up kpi"


def test_an_unknown_language_names_the_known_ones():
    for call in (lambda: label("apply", "de"), lambda: kpi_label("revenue", "de")):
        with pytest.raises(ConfigError, match='"en" or "fr"; got \'de\''):
            call()


def test_month_names():
    assert month_label(date(2026, 8, 3)) == "August 2026"
    assert month_label(date(2026, 8, 3), "fr") == "août 2026"


# -- [ui] settings -------------------------------------------------------------------------------
def test_ui_language_defaults_to_english_and_reads_french(tmp_path):
    assert Settings().ui == UISettings(language="en")
    assert Settings.from_mapping({"ui": {"language": "fr"}}, environ={}).ui.language == "fr"
    config = tmp_path / "omnimetrics.toml"
    config.write_text('[ui]\nlanguage = "fr"\n', encoding="utf-8")
    assert Settings.load(config, environ={}).ui.language == "fr"


def test_an_unknown_language_is_refused_naming_the_allowed_ones():
    with pytest.raises(ConfigError, match=r'ui\.language must be "en" or "fr"; got \'de\''):
        Settings.from_mapping({"ui": {"language": "de"}}, environ={})


def test_an_unknown_ui_key_is_refused_as_in_other_sections():
    with pytest.raises(ConfigError, match=r"unknown setting ui\.languge\. Did you mean 'language'"):
        Settings.from_mapping({"ui": {"languge": "fr"}}, environ={}, origin="omnimetrics.toml")


def test_the_init_template_and_the_readme_declare_the_language(tmp_path):
    from omnimetrics.project import init_project

    written = init_project(tmp_path / "project", environ={})
    assert Settings.load(written.config, environ={}).ui.language == "en"
    assert '[ui]\nlanguage = "fr"' in (ROOT / "README.md").read_text(encoding="utf-8")
