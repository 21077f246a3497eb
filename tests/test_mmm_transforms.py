"""Adstock and saturation against values computed by hand."""

import math

import numpy as np
import pytest

from omnimetrics.errors import ConfigError, UnknownNameError
from omnimetrics.mmm.transforms import (
    ADSTOCKS,
    SATURATIONS,
    delayed_adstock,
    geometric_adstock,
    hill,
    hill_derivative,
    logistic_saturation,
    weibull_adstock,
)


def test_geometric_adstock_by_hand():
    # a_t = x_t + 0.5 a_{t-1}: 1, 0.5, 0.25 then 2 + 0.125
    assert np.allclose(geometric_adstock([1.0, 0.0, 0.0, 2.0], 0.5), [1, 0.5, 0.25, 2.125])
    # normalised without max lag: weights 0.5**l sum to 2, so everything halves
    assert np.allclose(geometric_adstock([1.0, 0.0, 0.0], 0.5, normalise=True), [0.5, 0.25, 0.125])


def test_geometric_adstock_max_lag_by_hand():
    # weights (1, 0.5): 2, 4 + 1, 0 + 2
    assert np.allclose(geometric_adstock([2.0, 4.0, 0.0], 0.5, max_lag=1), [2, 5, 2])
    # normalised: divided by 1.5
    assert np.allclose(
        geometric_adstock([2.0, 4.0, 0.0], 0.5, max_lag=1, normalise=True), [4 / 3, 10 / 3, 4 / 3]
    )


def test_geometric_adstock_per_channel():
    x = np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    out = geometric_adstock(x, np.array([0.5, 0.0]))
    assert np.allclose(out, [[1, 1], [0.5, 0], [0.25, 0]])
    assert np.allclose(geometric_adstock(x, np.array([0.5, 0.0]), max_lag=2), out)


def test_delayed_adstock_by_hand():
    # retention 0.5, delay 1, lags 0..2: weights 0.5, 1, 0.5 normalised to 0.25, 0.5, 0.25
    out = delayed_adstock([4.0, 0.0, 0.0, 0.0], retention=0.5, delay=1.0, max_lag=2)
    assert np.allclose(out, [1, 2, 1, 0])


def test_weibull_adstock_by_hand():
    # shape 1, scale 1: density exp(-l) at l = 1, 2, normalised
    first = math.exp(-1) / (math.exp(-1) + math.exp(-2))
    out = weibull_adstock([1.0, 0.0, 0.0], shape=1.0, scale=1.0, max_lag=1)
    assert np.allclose(out, [first, 1 - first, 0])


def test_hill_and_its_derivative_by_hand():
    assert np.allclose(hill([0.0, 2.0, 4.0], half_saturation=2.0, shape=2.0), [0, 0.5, 0.8])
    # derivative 2 x K^2 / (x^2 + K^2)^2 at x = 2, K = 2: 2*2*4/64 = 0.25
    assert np.allclose(hill_derivative(np.array([2.0]), 2.0, 2.0), [0.25])
    # numerically
    x, h = 1.3, 1e-6
    numeric = (hill([x + h], 0.7, 1.6) - hill([x - h], 0.7, 1.6)) / (2 * h)
    assert np.allclose(hill_derivative(np.array([x]), 0.7, 1.6), numeric, rtol=1e-6)


def test_logistic_saturation_by_hand():
    # (1 - 1/3) / (1 + 1/3) = 0.5 at lam * x = ln 3
    assert np.allclose(logistic_saturation([0.0, math.log(3)], steepness=1.0), [0, 0.5])


def test_bad_parameters_say_what_to_do():
    with pytest.raises(ConfigError, match="'decay' parameter must lie in"):
        geometric_adstock([1.0], 1.5)
    with pytest.raises(ConfigError, match="one number per channel"):
        hill(np.ones((3, 2)), np.array([1.0, 2.0, 3.0]), 1.0)
    with pytest.raises(ConfigError, match="NaN"):
        hill([np.nan], 1.0, 1.0)


def test_registries_name_the_choices():
    assert ADSTOCKS.names() == ["geometric", "delayed", "weibull"]
    assert SATURATIONS.names() == ["hill", "logistic"]
    with pytest.raises(UnknownNameError, match="Did you mean 'hill'"):
        SATURATIONS["hil"]


def test_docstring_examples_run():
    import doctest

    from omnimetrics.mmm import model, optimise, simulate, transforms

    for module in (transforms, simulate, model, optimise):
        assert doctest.testmod(module).failed == 0, module.__name__
