"""design at the edges: sizes that reach their power and no less, effects too large or too small to size."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeysim.errors import UsageError
from journeysim.experiments.design import design_experiment, detection_power
from journeysim.experiments.value_power import minimum_detectable_value, value_power, value_sample_size


@pytest.mark.parametrize("options", [dict(lift=0.01, power=0.01), dict(lift=None, customers=1000, power=0.02),
                                     dict(lift=0.01, power=0.02, method="arcsine"),
                                     dict(lift=0.01, power=0.01, arms=6, alpha=0.2)])
def test_a_power_below_the_tests_false_positive_rate_is_refused(options):
    # a test of no effect is significant with probability alpha / 2 in the lift's direction: with power 0.01 the
    # normal design answered 0 customers, the minimum detectable lift raised brentq's ValueError, arcsine NaN
    with pytest.raises(UsageError, match="false-positive rate"):
        design_experiment(0.05, **options)


def test_an_effect_of_several_standard_deviations_needs_two_customers_per_arm():
    # statsmodels' solve_power searches from 2 customers per arm and returned nan below ("cannot convert float
    # NaN to integer"): a lift of 8 sd reaches 80% power with 2 customers per arm already
    assert value_sample_size(8.0, sd=1.0) == 2.0
    assert value_power(8.0, 2.0, sd=1.0) > 0.8
    assert value_sample_size(8.0, sd=1.0, ratio=3.0) == 6.0             # and 2 in control
    assert design_experiment(40.0, 40.0, sd=1e-9).n_per_arm == 2
    d = design_experiment(1e-6, 0.99, method="arcsine")
    assert d.n_per_arm == 2 and detection_power(1e-6, 0.99 + 1e-6, 2, method="arcsine") > 0.8


def test_a_tiny_value_effect_at_a_tiny_alpha_is_sized():
    # 4e-6 sd at one-sided alpha 1.8e-7 needs 8.5e13 customers per arm, past statsmodels' solve_power's search
    # (nan, then "cannot convert float NaN to integer")
    options = dict(sd=1.0, alpha=1.77e-7, ratio=59.0, two_sided=False)
    n = value_sample_size(4.08e-6, power=0.4, **options)
    assert 8e13 < n < 9e13
    assert float(value_power(4.08e-6, n, **options)) == pytest.approx(0.4, abs=1e-9)


@pytest.mark.parametrize("n, alpha, ratio", [(34.5, 4.5e-7, 0.1362), (1e9, 0.05, 3.0), (3.0, 0.05, 1.0)])
def test_the_minimum_detectable_value_has_the_power(n, alpha, ratio):
    # statsmodels' solve_power answered array([0.974]) at alpha 4.5e-7 (float() refused it: a TypeError) and an
    # effect with power 0.8085 instead of 0.8 at 1e9 customers
    options = dict(sd=1.0, alpha=alpha, ratio=ratio, two_sided=False)
    mde = minimum_detectable_value(n, power=0.6, **options)
    assert float(value_power(mde, n, **options)) == pytest.approx(0.6, abs=1e-9)


def test_customers_too_few_for_an_arm_are_refused():
    # 4 customers at 1 variant customer per 10 in control gave the variant arm 0 customers (and an MDE for 0.36)
    with pytest.raises(UsageError, match="an arm gets 0.364 customers"):
        design_experiment(0.05, None, customers=4, ratio=0.1)
    assert design_experiment(0.05, None, customers=4).n_per_arm == 2


def test_no_detectable_lift_is_said():
    d = design_experiment(0.5, None, customers=20)   # 10 per arm: even 50% -> 100% has power 0.78 < 0.8
    assert d.mde_abs is None and float(detection_power(0.5, 1 - 1e-12, 10)) < 0.8
    assert "no lift is detectable with 20 customers" in d.summary()


@settings(max_examples=40)
@given(baseline=st.floats(1e-9, 0.999), share=st.floats(1e-4, 0.99), power=st.floats(0.1, 0.99),
       ratio=st.sampled_from([0.2, 1.0, 3.0]), method=st.sampled_from(["normal", "arcsine"]))
def test_the_designed_size_reaches_the_power_and_one_less_does_not(baseline, share, power, ratio, method):
    variant = baseline + share * (1 - baseline)
    d = design_experiment(baseline, variant - baseline, power=power, ratio=ratio, method=method)
    at = lambda n: float(detection_power(baseline, variant, n, ratio=ratio, method=method))  # noqa: E731
    assert at(d.n_per_arm) >= power - 1e-6 or d.n_per_arm == 2
    assert d.n_per_arm <= 2 or at(d.n_per_arm - 1) < power + 1e-6
    assert at(d.n_per_arm + 1) >= at(d.n_per_arm) - 1e-12        # power grows with the customers


@settings(max_examples=40)
@given(effect=st.floats(1e-6, 1e3), power=st.floats(0.1, 0.99), ratio=st.sampled_from([0.5, 1.0, 4.0]),
       alpha=st.sampled_from([0.05, 1e-6]))
def test_the_t_test_size_reaches_the_power(effect, power, ratio, alpha):
    n = value_sample_size(effect, sd=1.0, power=power, ratio=ratio, alpha=alpha)
    assert math.isfinite(n) and n >= max(2.0, 2.0 * ratio)
    assert float(value_power(effect, n, sd=1.0, ratio=ratio, alpha=alpha)) >= power - 1e-6
