"""Past the first purchase in the exact engine: what the hand-solved cases of reference/exact.json (routing,
renewals, funnels, discounting) do not cover: warnings, nulls, negative rates, removal against re-solving."""

import json
from pathlib import Path

import pytest

from journeysim import load_journey, solve_exact
from journeysim.engines.metrics import funnel_rows
from journeysim.maps.read import read_journey
from journeysim.whatif.changes import RemoveTouchpoint

from tests.conftest import SCENARIOS

CASES = {c["name"]: c["map"] for c in json.loads(
    (Path(__file__).parent / "reference" / "exact.json").read_text(encoding="utf-8"))["cases"]}


def case(name: str, **changes):
    data = json.loads(json.dumps(CASES[name]))
    for path, value in changes.items():
        *where, key = path.split("__")
        target = data
        for step in where:
            target = target[step]
        target[key] = value
    return read_journey(data, name)


def test_funnel_losses_are_never_negative_where_stage_reach_rises():
    m = solve_exact(case("a funnel with customers who skip a stage"))
    assert [row[3] for row in funnel_rows(m.stage_reach, m.funnel)] == ["-", "50.00%", "10.00%"]


def test_removal_effects_on_value_equal_removing_the_touchpoint():
    j = case("referred customers start elsewhere, in a segment of their own")
    m = solve_exact(j)
    for name, effect in m.removal_effects_value.items():
        without = solve_exact(RemoveTouchpoint(name).apply(j), removal_effects=False).value_per_seed_customer
        assert effect == pytest.approx(1 - without / m.value_per_seed_customer, abs=1e-12)


def test_without_a_discount_the_discounted_values_are_null():
    m = solve_exact(case("repeat purchases and a renewal loop"))
    assert m.discounted_value is None and m.discounted_value_per_seed_customer is None and not m.warnings


def test_self_sustaining_referrals_are_unbounded_and_said_so():
    j = read_journey({"entry": {"ad": 1.0}, "touchpoints": {"ad": {}, "buy": {"goal": True, "value": 10, "refers": 1.0}},
                      "transitions": {"ad": {"buy": 1.0}}})
    m = solve_exact(j)
    assert m.customers_per_seed is None and m.value_per_seed_customer is None
    assert m.conversions_per_seed_customer is None and m.removal_effects_value is None
    assert len(m.warnings) == 1 and "'buy'" in m.warnings[0] and "spectral radius 1" in m.warnings[0]
    assert "warning: referrals sustain themselves" in m.summary()
    assert m.to_dict()["value_per_seed_customer"] is None and "warnings" not in m.to_dict()


def test_a_negative_rate_grows_value_where_it_can_and_says_where_it_cannot():
    # rate -0.5 a day: lam = ln 0.5 < 0; a fixed 3-day delay makes the purchase worth 2^3 = 8 times as much,
    # and each of its 0.5 referred customers is worth 8 times a seed: their worth grows without bound.
    m = solve_exact(case("discounting a fixed delay", discount__rate=-0.5))
    assert m.discounted_value == pytest.approx(800.0, rel=1e-12) and m.discounted_value_per_seed_customer is None
    assert m.value_per_seed_customer == pytest.approx(200.0) and "discounted referrals sustain" in m.warnings[0]
    # a lognormal's tail outgrows any exponential: no finite worth
    heavy = solve_exact(case("discounting a fixed delay", discount__rate=-0.5,
                             touchpoints__ad__delay={"dist": "lognormal", "mean": 3.0, "sd": 1.0}))
    assert heavy.discounted_value is None and heavy.discounted_value_per_seed_customer is None
    assert "'ad'" in heavy.warnings[0]
    # a repeat loop whose worth doubles each round (0.5 x 4) faster than customers leave it
    loop = solve_exact(case("discounting a repeat loop", discount__rate=-0.75))
    assert loop.discounted_value is None and "spectral radius 2" in loop.warnings[0]
    assert loop.expected_value == pytest.approx(200.0)


def test_bundled_hourglass_counts_what_follows_the_purchase():
    m = solve_exact(load_journey(SCENARIOS / "b2b-hourglass.yaml"))
    assert m.removal_effects["onboarding"] == 0.0 and m.removal_effects_value["onboarding"] > 0.5
    assert m.repeat_rate == pytest.approx(0.95 * 0.8)
    funnel = list(m.funnel.values())
    assert all(a >= b for a, b in zip(funnel, funnel[1:]))
