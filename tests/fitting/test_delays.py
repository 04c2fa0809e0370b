"""Delay fits from gap statistics: agreement with scipy's maximum likelihood, and gaps that barely vary."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from journeysim.fitting.delays import GapStats, choose_delay


def _stats(x):
    logs = np.log(x)
    return GapStats(len(x), x.sum(), logs.sum(), (logs ** 2).sum(), 0, x.min(), x.max())


@pytest.mark.parametrize("jitter", [0.3 / 86400, 3e-6, 1e-5])
def test_a_scheduled_delay_with_a_little_jitter_is_fitted(jitter):
    # gaps of one day give or take a fraction of a second: the gamma shape ~1 / jitter^2 lay outside the fixed
    # bracket [1e-8, 1e10] of its root search, which raised "f(a) and f(b) must have different signs"
    x = 1.0 + np.random.default_rng(1).normal(0, jitter, 10_000)
    choice = choose_delay(_stats(x))
    assert choice.dist in ("gamma", "lognormal")
    assert choice.delay.mean == pytest.approx(x.mean(), rel=1e-9)
    assert choice.delay.sd == pytest.approx(x.std(), rel=0.02)


def test_gaps_that_vary_by_less_than_a_millionth_are_a_fixed_delay():
    # a send 30 days (720 hours) after a visit, give or take a second: neither lognormal nor gamma resolves the
    # spread from the sums, and the exponential alone was chosen (sd 720 hours instead of 0.0002)
    x = 720 + np.random.default_rng(2).uniform(-1, 1, 10_000) / 3600
    choice = choose_delay(_stats(x))
    assert choice.delay.dist == "fixed" and choice.delay.mean == pytest.approx(720, rel=1e-9)


@settings(max_examples=30)
@given(shape=st.floats(0.05, 1e9), scale=st.floats(1e-6, 1e6), seed=st.integers(0, 2**32 - 1))
def test_the_gamma_shape_is_scipys_maximum_likelihood(shape, scale, seed):
    x = np.random.default_rng(seed).gamma(shape, scale, 400)
    x = x[x > 0]
    choice = choose_delay(_stats(x))
    if choice.dist == "fixed":     # a shape past 1e12: the gaps' logs vary by less than a millionth
        assert x.std() < 2e-6 * x.mean()
        return
    assert "gamma" in choice.aic
    a, _, fitted_scale = stats.gamma.fit(x, floc=0)
    ll = stats.gamma.logpdf(x, a, scale=fitted_scale).sum()
    # Both log-likelihoods carry rounding of about n * shape * eps: at shape 1e9, a thousandth (the likelihood is
    # flat there), far below any difference that would change the choice of delay.
    assert choice.aic["gamma"] == pytest.approx(2 * 2 - 2 * ll, rel=1e-6, abs=max(1e-6, 1e-12 * len(x) * shape))
