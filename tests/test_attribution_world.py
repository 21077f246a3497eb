"""Attribution on a simulated world: intervals that contain their estimate, credit within the
journeys of each channel."""

from __future__ import annotations

import numpy as np
import pytest

from omnimetrics import journeys as jr
from omnimetrics.attribution import MODELS, NO_TOUCH, PathTable, attribute, journey_paths
from tests.helpers import loaded_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    _, wh = loaded_world(tmp_path_factory.mktemp("attribution-world"), 1500, 60, 5)
    wh.resolve_identities()
    jr.build_events(wh)
    yield jr.journey_touches(wh), jr.non_conversion_touches(wh), jr.conversions(wh)
    wh.close()


def test_every_estimate_lies_within_its_intervals(world):
    # share is of all orders (untouched ones included); so are its bands, for every model.
    touches, lost, orders = world
    models = [name for name in MODELS if name not in ("markov_3", "markov_4")]  # time
    result = attribute(touches, models, orders=orders, non_converting=lost, intervals=40,
                       seed=0).to_pandas()  # fmt: skip
    assert set(result.model) == set(models) and (result.channel == NO_TOUCH).any()
    outside = result[(result.share < result.share_low - 1e-12)
                     | (result.share > result.share_high + 1e-12)
                     | (result.conversions < result.conversions_low - 1e-9)
                     | (result.conversions > result.conversions_high + 1e-9)]  # fmt: skip
    assert outside.empty, outside[["model", "channel", "share", "share_low", "share_high"]]
    bands = result[["conversions_low", "conversions_high", "share_low", "share_high"]]
    assert not bands.isna().any().any()  # untouched orders and participation included


def test_shapley_credits_stay_within_the_converting_journeys_of_each_channel(world):
    touches, lost, _ = world
    paths = PathTable.from_arrow(journey_paths(touches, lost).to_pyarrow())
    n = len(paths.labels)
    pairs = np.unique(paths.path_of_touch * n + paths.codes)
    most = np.bincount(pairs % n, paths.conversions[pairs // n], minlength=n)
    bound = dict(zip(paths.labels, most.tolist(), strict=True))
    result = attribute(touches, ["shapley", "shapley_ordered"], non_converting=lost).to_pandas()
    for row in result.itertuples():
        assert row.conversions <= bound[row.channel] + 1e-9, row
    for _, rows in result.groupby("model"):
        assert rows.conversions.sum() == pytest.approx(paths.conversions.sum())
