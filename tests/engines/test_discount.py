"""The discount factors of single delays: closed forms, and the lognormal's quadrature against a dense grid."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeysim.engines.discount import laplace
from journeysim.journey import Delay


def _grid(delay: Delay, lam: float) -> float:
    """E[exp(-lam D)] of a lognormal delay by the trapezoid rule over 8 million points of the normal's z."""
    mu, sigma = delay.lognormal_params()
    z = np.linspace(-40.0, 40.0, 8_000_001)
    f = np.exp(-0.5 * z * z - lam * np.exp(np.minimum(mu + sigma * z, 700.0)))
    return float(np.trapezoid(f, z) / math.sqrt(2.0 * math.pi))


@pytest.mark.parametrize("mean, ratio, lam", [
    (0.125, 0.125, 0.0625),    # a narrow delay: the normal's peak is far left of the discount's knee
    (0.05, 0.1, 0.01),
    (2.0, 0.5, 0.5),
    (5.0, 1.0, 100.0),         # the discount takes nearly all: only the short tail is worth anything
    (1e4, 1.0, 0.0625),
    (1.0, 5.0, 3.0),
])
def test_lognormal_quadrature_matches_a_dense_grid(mean, ratio, lam):
    delay = Delay("lognormal", mean, mean * ratio)
    assert laplace(delay, lam) == pytest.approx(_grid(delay, lam), rel=1e-9, abs=1e-300)


def test_closed_forms():
    assert laplace(Delay("exponential", 2.0), 0.5) == 0.5
    assert laplace(Delay("fixed", 2.0), 0.5) == pytest.approx(math.exp(-1.0))
    assert laplace(Delay("gamma", 2.0, 1.0), 0.5) == pytest.approx(1.25 ** -4)   # shape 4, scale 0.5
    assert laplace(None, 0.5) == 1.0 and laplace(Delay("lognormal", 2.0, 1.0), 0.0) == 1.0


@pytest.mark.parametrize("ratio", [1e-4, 1e-6, 1e-7])
def test_a_narrow_gamma_sits_on_jensens_bound(ratio):
    # shape 1 / ratio^2, scale ratio^2: 1 + lam * scale rounded in the 4th digit at ratio 1e-6, which the power
    # ** -shape raised to 0.367847, below Jensen's bound exp(-1) = 0.367879
    factor = laplace(Delay("gamma", 1.0, ratio), 1.0)
    assert factor >= math.exp(-1.0)
    assert factor == pytest.approx(math.exp(-1.0 + ratio ** 2 / 2), rel=1e-12)


@settings(max_examples=300)     # each example is a quadrature of a few milliseconds at most
@given(mean=st.floats(1e-3, 1e3), ratio=st.floats(1e-3, 5.0), lam=st.floats(1e-6, 10.0),
       dist=st.sampled_from(["lognormal", "exponential", "fixed", "gamma"]))
def test_a_discount_factor_lies_between_jensens_bound_and_one(mean, ratio, lam, dist):
    # exp(-lam t) is convex, so E[exp(-lam D)] >= exp(-lam E[D]); a narrow lognormal sits on the bound.
    delay = Delay(dist, mean, mean * ratio if dist in ("gamma", "lognormal") else None)
    factor = laplace(delay, lam)
    assert math.exp(-lam * mean) * (1 - 1e-9) <= factor <= 1.0 + 1e-12
    if dist == "lognormal" and ratio < 0.01:
        assert factor == pytest.approx(math.exp(-lam * mean), rel=1e-3)
