"""Attribution with spend: cost per conversion, CAC and ROAS by hand."""

from __future__ import annotations

import math
from datetime import date

import ibis
import pytest

from omnimetrics.attribution import NO_TOUCH, spend_by, with_spend


def test_cost_per_conversion_cac_and_roas_by_hand():
    credit = ibis.memtable({
        "model": ["linear", "linear", "linear", "last_touch"],
        "channel": ["email", "display", NO_TOUCH, "email"],
        "conversions": [3.0, 1.0, 2.0, 4.0], "revenue": [300.0, 50.0, 90.0, 350.0],
        "share": [0.5, 1 / 6, 1 / 3, 1.0], "additive": [True] * 4,
    })  # fmt: skip
    first_orders = ibis.memtable({
        "model": ["linear", "linear", "last_touch"], "channel": ["email", "display", "email"],
        "conversions": [2.0, 0.5, 2.5],
    })  # fmt: skip
    spend = ibis.memtable({
        "date": [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 2), date(2026, 4, 1)],
        "channel": ["email", "display", "video", "email"],
        "spend": [60.0, 100.0, 30.0, 999.0],
    })  # fmt: skip
    spent = spend_by(spend, since=date(2026, 3, 1), until=date(2026, 3, 31))
    rows = with_spend(credit, spent, acquisitions=first_orders).to_pandas()
    got = {(r.model, r.channel): r for r in rows.itertuples()}
    email = got["linear", "email"]
    assert email.spend == 60 and email.cost_per_conversion == 20 and email.roas == 5
    assert email.new_customers == 2 and email.cac == 30
    display = got["linear", "display"]
    assert display.cost_per_conversion == 100 and display.cac == 200 and display.roas == 0.5
    video = got["linear", "video"]  # spent, never credited: kept, with empty ratios
    assert video.spend == 30 and video.conversions == 0
    assert math.isnan(video.cost_per_conversion) and math.isnan(video.cac)
    assert video.roas == 0
    assert math.isnan(got["linear", NO_TOUCH].spend)
    assert got["last_touch", "email"].cac == pytest.approx(60 / 2.5)
    assert got["last_touch", "display"].conversions == 0  # every model sees every spend
