"""Invariants of the loyalty, per-seed, discounted and value-removal metrics on random journeys."""

import pytest
from hypothesis import given, settings

from journeysim import solve_exact
from journeysim.whatif.changes import RemoveTouchpoint

from .strategies import journeys


@given(journeys(segments=True, refers=True, routes=True, stages=True))
def test_funnel_never_rises_and_holds_each_stage(j):
    m = solve_exact(j)
    funnel = list(m.funnel.values())
    assert list(m.funnel) == list(j.stage_names())
    assert all(0.0 <= f <= 1.0 for f in funnel)
    assert all(a >= b for a, b in zip(funnel, funnel[1:]))
    for stage, reach in m.stage_reach.items():
        assert m.funnel[stage] >= reach - 1e-9        # this stage or a later one, at least this stage
    assert 0.0 <= m.bounce_rate <= 1.0 and (m.repeat_rate is None or 0.0 <= m.repeat_rate <= 1.0)


@given(journeys(segments=True, with_delays=True, stages=True, discount=True))
def test_per_seed_metrics_equal_per_customer_ones_without_referrals(j):
    m = solve_exact(j)
    assert m.customers_per_seed == 1.0
    assert m.value_per_seed_customer == pytest.approx(m.expected_value, rel=1e-9, abs=1e-9)
    assert m.conversions_per_seed_customer == pytest.approx(m.expected_conversions, rel=1e-9, abs=1e-12)
    assert m.discounted_value_per_seed_customer == pytest.approx(m.discounted_value, rel=1e-9, abs=1e-9)
    assert m.discounted_value <= m.expected_value * (1 + 1e-9) + 1e-9    # a positive rate only takes away
    for name, effect in m.removal_effects_value.items():   # the relative drop of value per customer
        without = solve_exact(RemoveTouchpoint(name).apply(j), removal_effects=False).expected_value
        assert effect == pytest.approx(1 - without / m.expected_value if m.expected_value > 0 else 0.0, abs=1e-9)


@settings(max_examples=60)
@given(journeys(max_touchpoints=6, segments=True, refers=True, routes=True))
def test_removal_effects_on_value_equal_removing_the_touchpoint(j):
    m = solve_exact(j)
    if m.value_per_seed_customer is None:      # referrals sustain themselves
        assert m.removal_effects_value is None and m.customers_per_seed is None and m.warnings
        return
    assert m.value_per_seed_customer >= m.expected_value - 1e-9      # referred customers only add
    assert m.customers_per_seed >= 1.0
    for name, effect in m.removal_effects_value.items():
        without = solve_exact(RemoveTouchpoint(name).apply(j), removal_effects=False).value_per_seed_customer
        base = m.value_per_seed_customer
        assert effect == pytest.approx(1 - without / base if base > 0 else 0.0, abs=1e-9)
