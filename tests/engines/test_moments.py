"""Per-customer moments of the Markov reward process: hand-solved maps, the exact engine's means, a simulation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

from journeysim import Journey, solve_exact
from journeysim.journey import Edge, Segment
from journeysim.engines.eventlog import simulate_event_log
from journeysim.engines.moments import per_customer_moments
from journeysim.errors import ScenarioError
from journeysim.maps.read import load_journey, read_journey
from tests.properties.strategies import journeys


def test_two_goals_by_hand():
    # X is 10 with probability 0.3, 100 with probability 0.1, else 0: mean 13, E[X^2] = 30 + 1000.
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.3, "big order": 0.1}}, goals=["buy", "big order"],
                          touchpoint_attributes={"buy": {"value": 10.0}, "big order": {"value": 100.0}})
    m = per_customer_moments(j)
    assert (m.mean, m.variance) == pytest.approx((13.0, 1030.0 - 169.0), rel=1e-12)
    assert m.sd == pytest.approx(861.0 ** 0.5, rel=1e-12)


def test_contract_and_renewal_loop_by_hand():
    # contract (12) then renewals (10 each) with probability 0.8, renewing again with 0.75: the renewals K are
    # geometric, E[K] = 4, E[K^2] = (1 + q) / (1 - q)^2 = 28. From the contract X = 12 + B 10 K, B ~ Bernoulli(0.8):
    # E[X] = 12 + 0.8 * 40 = 44, E[X^2] = 144 + 2 * 12 * 0.8 * 40 + 0.8 * 100 * 28 = 3152.
    # A lead signs with probability 0.25: mean 11, E[X^2] = 788.
    j = Journey.from_rows({"lead": 1.0}, {"lead": {"contract": 0.25}, "contract": {"renewal": 0.8},
                                          "renewal": {"renewal": 0.75}},
                          goals=["contract", "renewal"],
                          touchpoint_attributes={"contract": {"value": 12.0}, "renewal": {"value": 10.0}})
    m = per_customer_moments(j)
    assert m.mean == pytest.approx(11.0, rel=1e-12)
    assert m.variance == pytest.approx(788.0 - 121.0, rel=1e-12)
    c = per_customer_moments(j, "expected_conversions")   # counts: 1 + B K, E = 0.25 * 4.2, E[.^2] = 0.25 * 29.8
    assert (c.mean, c.variance) == pytest.approx((1.05, 0.25 * (1 + 2 * 3.2 + 0.8 * 28) - 1.05 ** 2), rel=1e-12)


def test_segments_mix_with_the_spread_of_their_means():
    # Segment a (0.4): buy with 0.5, b (0.6): with 0.2; value 10. Mean 3.2, E[X^2] = 0.4 * 50 + 0.6 * 20 = 32.
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}}, goals=["buy"],
                          touchpoint_attributes={"buy": {"value": 10.0}})
    j = j.replace(segments={"a": Segment("a", 0.4), "b": Segment("b", 0.6, rows={"ad": {"buy": Edge(0.2)}})})
    m = per_customer_moments(j)
    assert (m.mean, m.variance) == pytest.approx((3.2, 32.0 - 3.2 ** 2), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(journeys(segments=True))
def test_means_are_the_exact_engines(journey):
    exact = solve_exact(journey, removal_effects=False)
    assert per_customer_moments(journey).mean == pytest.approx(exact.expected_value, rel=1e-9, abs=1e-12)
    conversions = per_customer_moments(journey, "expected_conversions")
    assert conversions.mean == pytest.approx(exact.expected_conversions, rel=1e-9, abs=1e-12)
    assert conversions.variance >= 0.0


def test_simulated_leads_agree_with_the_exact_spread():
    journey = load_journey("scenarios/b2b-hourglass.yaml")
    n = 20_000
    log = simulate_event_log(journey, n, rng=np.random.default_rng(21), max_touches=10_000)
    x = np.zeros(n)
    totals = log.groupby("user_id")["value"].sum()
    x[totals.index.to_numpy()] = totals.to_numpy()
    m = per_customer_moments(journey)
    assert abs(x.mean() - m.mean) / (x.std(ddof=1) / np.sqrt(n)) < 3
    squares = (x - m.mean) ** 2            # unbiased for the variance around the true mean
    assert abs(squares.mean() - m.variance) / (squares.std(ddof=1) / np.sqrt(n)) < 3


def test_unknown_metric_is_named():
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}}, goals=["buy"])
    with pytest.raises(ValueError, match="metric='conversion_rate'"):
        per_customer_moments(j, "conversion_rate")


def test_a_seeds_tree_with_routed_referrals_by_hand():
    # A lead buys (10) with probability 1/2; a call buys with 4/5. Each purchase refers Poisson(0.4) customers who
    # start at the call (type 1). m1 = 0.8 (10 + 0.4 m1) = 200/17; a seed m0 = 0.5 (10 + 0.4 m1) = 125/17.
    # Second moments s = E[(X + L m)^2] + M s: s1 = 0.8 (250/17)^2 + 0.32 s1 = 1250000/4913,
    # s0 = 0.5 (250/17)^2 + 0.2 s1 = 781250/4913; variance 781250/4913 - (125/17)^2 = 515625/4913.
    j = Journey.from_rows({"lead": 1.0}, {"lead": {"buy": 0.5}, "call": {"buy": 0.8}}, goals=["buy"],
                          touchpoint_attributes={"buy": {"value": 10.0, "refers": 0.4, "refer_entry": {"call": 1.0}}})
    m = per_customer_moments(j, "value_per_seed_customer")
    assert (m.mean, m.variance) == pytest.approx((125 / 17, 515625 / 4913), rel=1e-12)
    assert m.mean == pytest.approx(solve_exact(j).value_per_seed_customer, rel=1e-12)
    c = per_customer_moments(j, "conversions_per_seed_customer")   # the same tree counting purchases: value / 10
    assert (c.mean, c.variance) == pytest.approx((12.5 / 17, 515625 / 4913 / 100), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(journeys(segments=True, refers=True, routes=True))
def test_a_seeds_mean_is_the_exact_engines_and_equals_a_customers_without_referrals(journey):
    exact = solve_exact(journey, removal_effects=False)
    for metric, key in (("value_per_seed_customer", "value_per_seed_customer"),
                        ("conversions_per_seed_customer", "conversions_per_seed_customer")):
        if getattr(exact, key) is None:     # referrals sustain themselves: no mean, no spread, and said so
            with pytest.raises(ScenarioError, match="referrals sustain themselves"):
                per_customer_moments(journey, metric)
            continue
        m = per_customer_moments(journey, metric)
        assert m.mean == pytest.approx(getattr(exact, key), rel=1e-9, abs=1e-12) and m.variance >= 0.0
    alone = journey.replace(touchpoints={n: dataclasses.replace(t, refers=0.0)
                                         for n, t in journey.touchpoints.items()})
    seed, customer = per_customer_moments(alone, "value_per_seed_customer"), per_customer_moments(alone)
    assert (seed.mean, seed.variance) == pytest.approx((customer.mean, customer.variance), rel=1e-9, abs=1e-9)


def test_referrals_at_exactly_one_per_customer_have_no_finite_seed_total():
    # each customer refers 1 in expectation (radius 1 up to rounding): (I - M)^-1 gave 9e15 conversions per seed
    journey = read_journey({"entry": {"ad": 1.0}, "touchpoints": {"ad": {}, "buy": {"goal": True, "refers": 0.5}},
                            "transitions": {"ad": {"buy": 0.5}, "buy": {"ad": 1 / 6, "buy": 2 / 3}}})
    assert solve_exact(journey).conversions_per_seed_customer is None
    with pytest.raises(ScenarioError, match=r"referrals sustain themselves \(spectral radius 1 "):
        per_customer_moments(journey, "conversions_per_seed_customer")


def test_simulated_seeds_agree_with_the_exact_spread():
    """The referral programme's variant (friends at the product page, 1.6 per advocate): seeds walked with every
    referral generation after them."""
    from journeysim.engines.eventlog import simulate_seed_totals
    from journeysim.whatif.hypothesis import load_hypothesis

    journey = load_hypothesis("scenarios/hypotheses/referral-programme.yaml").variant()
    n = 40_000
    x = simulate_seed_totals(journey, n, rng=np.random.default_rng(5)).value.to_numpy()
    m = per_customer_moments(journey, "value_per_seed_customer")
    assert abs(x.mean() - m.mean) / (x.std(ddof=1) / np.sqrt(n)) < 3.5
    squares = (x - m.mean) ** 2
    assert abs(squares.mean() - m.variance) / (squares.std(ddof=1) / np.sqrt(n)) < 3.5


def test_self_sustaining_referrals_have_no_spread():
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}}, goals=["buy"],
                          touchpoint_attributes={"buy": {"value": 10.0, "refers": 2.0}})
    with pytest.raises(ValueError, match="referrals sustain themselves .*value_per_seed_customer"):
        per_customer_moments(j, "value_per_seed_customer")
