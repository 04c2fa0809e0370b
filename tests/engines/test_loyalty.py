"""Past the first purchase: referral routing, per-seed totals, loyalty metrics, discounting and
removal effects on value, against values solved by hand."""

import math

import pytest

from journeysim import solve_exact
from journeysim.engines.metrics import funnel_rows
from journeysim.maps.read import read_journey
from journeysim.whatif.changes import RemoveTouchpoint


def referred_elsewhere():
    # New customers: ad -> buy 0.5 (100), buy -> fan 0.4. A fan refers 0.5 customers who start at
    # the call in segment 'referred' (share 0: only referred customers), where the call sells at 0.8.
    return read_journey({
        "entry": {"ad": 1.0},
        "touchpoints": {"ad": {}, "call": {}, "buy": {"goal": True, "value": 100},
                        "fan": {"refers": {"k": 0.5, "entry": {"call": 1.0}, "segment": "referred"}}},
        "transitions": {"ad": {"buy": 0.5}, "call": {"buy": 0.2}, "buy": {"fan": 0.4}},
        "segments": {"new": {"share": 1.0}, "referred": {"share": 0, "transitions": {"call": {"buy": 0.8}}}},
    })


def test_referred_customers_start_at_their_entry_in_their_segment():
    m = solve_exact(referred_elsewhere())
    # New customer: 0.5 buys (50), 0.2 fan visits -> 0.1 referred. Referred: 0.8 buys (80), 0.32 fan
    # visits -> 0.16 referred. Referred per seed: c = 0.1 + 0.16 c = 5/42.
    assert m.expected_value == pytest.approx(50.0) and m.referrals == pytest.approx(0.1)
    assert m.customers_per_seed == pytest.approx(47 / 42, abs=1e-12)
    assert m.value_per_seed_customer == pytest.approx(50 + 80 * 5 / 42, abs=1e-12)
    assert m.conversions_per_seed_customer == pytest.approx(0.5 + 0.8 * 5 / 42, abs=1e-12)
    # Without the fan (or the call where the referred start) a seed is worth 50: 1 - 50 / (1250 / 21).
    assert m.removal_effects_value["fan"] == pytest.approx(0.16, abs=1e-12)
    assert m.removal_effects_value["call"] == pytest.approx(0.16, abs=1e-12)
    assert m.removal_effects_value["ad"] == pytest.approx(1.0)
    assert m.removal_effects["fan"] == 0.0 and m.removal_effects["call"] == 0.0   # the first purchase does not need them
    assert m.visit_rate["call"] == 0.0   # new customers never meet it


def hourglass(**extra):
    # ad -> buy 0.5 (100); buy -> onboarding 0.9; onboarding -> renewal 0.8; renewal (50) -> renewal 0.6.
    return read_journey({
        "stages": ["know", "buy", "repeat"],
        "entry": {"ad": 1.0},
        "touchpoints": {"ad": {"stage": "know"}, "buy": {"stage": "buy", "goal": True, "value": 100},
                        "onboarding": {"stage": "repeat"}, "renewal": {"stage": "repeat", "goal": True, "value": 50}},
        "transitions": {"ad": {"buy": 0.5}, "buy": {"onboarding": 0.9}, "onboarding": {"renewal": 0.8},
                        "renewal": {"renewal": 0.6}},
        **extra,
    })


def test_repeat_purchases_and_a_renewal_loop():
    m = solve_exact(hourglass())
    renewals = 0.5 * 0.9 * 0.8 / (1 - 0.6)                      # 0.9
    assert m.conversion_rate == pytest.approx(0.5)
    assert m.expected_conversions == pytest.approx(0.5 + renewals)
    assert m.expected_value == pytest.approx(50 + 50 * renewals)
    assert m.repeat_rate == pytest.approx(0.9 * 0.8)           # a second goal visit, given a first
    assert m.bounce_rate == pytest.approx(0.5)                 # ad -> exit
    assert m.value_per_seed_customer == pytest.approx(m.expected_value)   # nobody refers
    # Onboarding comes after the purchase: it does nothing for conversion, 45 of 95 for value.
    assert m.removal_effects["onboarding"] == 0.0
    assert m.removal_effects_value["onboarding"] == pytest.approx(45 / 95, abs=1e-12)
    assert dict(m.funnel) == pytest.approx({"know": 1.0, "buy": 0.5, "repeat": 0.45})


def test_funnel_counts_customers_who_skip_a_stage():
    j = read_journey({
        "stages": ["know", "trial", "buy"],
        "entry": {"ad": 1.0},
        "touchpoints": {"ad": {"stage": "know"}, "trial": {"stage": "trial"}, "buy": {"stage": "buy", "goal": True}},
        "transitions": {"ad": {"trial": 0.2, "buy": 0.3}, "trial": {"buy": 0.5}},
    })
    m = solve_exact(j)
    assert dict(m.stage_reach) == pytest.approx({"know": 1.0, "trial": 0.2, "buy": 0.4})    # rises: some skip
    assert dict(m.funnel) == pytest.approx({"know": 1.0, "trial": 0.5, "buy": 0.4})
    lost = [row[3] for row in funnel_rows(m.stage_reach, m.funnel)]
    assert lost == ["-", "0.5000", "0.1000"]


def discounted(delay, rate=1.0, per="day", refers=None, again=None):
    """ad (delay) -> buy (100); buy's visits are discounted by the delay's Laplace transform at ln(1 + rate)."""
    buy = {"goal": True, "value": 100}
    if refers is not None:
        buy["refers"] = refers
    if again is not None:
        buy["delay"] = again
    return read_journey({
        "time_unit": "day", "discount": {"rate": rate, "per": per},
        "entry": {"ad": 1.0}, "touchpoints": {"ad": {"delay": delay}, "buy": buy},
        "transitions": {"ad": {"buy": 1.0}, **({"buy": {"buy": 0.5}} if again is not None else {})},
    })


@pytest.mark.parametrize("delay, factor", [
    (2.0, 1 / (1 + 2 * math.log(2))),                                            # exponential: 1 / (1 + lam m)
    ({"dist": "fixed", "mean": 3.0}, 1 / 8),                                     # exp(-lam d) = 2^-3
    ({"dist": "gamma", "mean": 2.0, "sd": 1.0}, (1 + 0.5 * math.log(2)) ** -4),  # shape 4, scale 0.5
])
def test_discounted_value_closed_forms(delay, factor):
    m = solve_exact(discounted(delay))                 # rate 1 a day: lam = ln 2
    assert m.expected_value == pytest.approx(100.0)
    assert m.discounted_value == pytest.approx(100 * factor, rel=1e-12)
    # A referred customer starts at the referring visit (time D): its worth is discounted once more.
    seeded = solve_exact(discounted(delay, refers=0.5))
    assert seeded.discounted_value_per_seed_customer == pytest.approx(100 * factor / (1 - 0.5 * factor), rel=1e-12)
    assert seeded.value_per_seed_customer == pytest.approx(200.0)


def test_discounting_a_repeat_loop_and_the_period():
    # buy repeats with p 0.5 a day later: 100 / 8 * sum (0.5 / 2)^k = 12.5 / 0.75
    m = solve_exact(discounted({"dist": "fixed", "mean": 3.0}, again={"dist": "fixed", "mean": 1.0}))
    assert m.expected_value == pytest.approx(200.0) and m.discounted_value == pytest.approx(12.5 / 0.75)
    # 10% a year, a purchase one (Julian) year after the first touch: worth 1 / 1.1.
    year = solve_exact(discounted({"dist": "fixed", "mean": 365.25}, rate=0.1, per="year"))
    assert year.discounted_value == pytest.approx(100 / 1.1, rel=1e-12)
    assert solve_exact(hourglass()).discounted_value is None          # no discount, no number
    assert solve_exact(hourglass()).discounted_value_per_seed_customer is None


def test_self_sustaining_referrals_are_unbounded_and_said_so():
    j = read_journey({"entry": {"ad": 1.0}, "touchpoints": {"ad": {}, "buy": {"goal": True, "value": 10, "refers": 1.0}},
                      "transitions": {"ad": {"buy": 1.0}}})
    m = solve_exact(j)
    assert m.customers_per_seed is None and m.value_per_seed_customer is None
    assert m.conversions_per_seed_customer is None and m.removal_effects_value is None
    assert len(m.warnings) == 1 and "'buy'" in m.warnings[0] and "spectral radius 1" in m.warnings[0]
    assert "warning: referrals sustain themselves" in m.summary()
    assert m.to_dict()["value_per_seed_customer"] is None and "warnings" not in m.to_dict()


def test_removal_effects_on_value_equal_removing_the_touchpoint():
    j = referred_elsewhere()
    m = solve_exact(j)
    for name, effect in m.removal_effects_value.items():
        without = solve_exact(RemoveTouchpoint(name).apply(j), removal_effects=False).value_per_seed_customer
        assert effect == pytest.approx(1 - without / m.value_per_seed_customer, abs=1e-12)


def test_bundled_hourglass_counts_what_follows_the_purchase():
    from journeysim import load_journey

    from tests.conftest import SCENARIOS

    m = solve_exact(load_journey(SCENARIOS / "b2b-hourglass.yaml"))
    assert m.removal_effects["onboarding"] == 0.0 and m.removal_effects_value["onboarding"] > 0.5
    assert m.repeat_rate == pytest.approx(0.95 * 0.8)
    funnel = list(m.funnel.values())
    assert all(a >= b for a, b in zip(funnel, funnel[1:]))


def test_a_negative_rate_grows_value_where_it_can_and_says_where_it_cannot():
    # rate -0.5 a day: lam = ln 0.5 < 0; a fixed 3-day delay is worth 2^3 = 8 times as much.
    m = solve_exact(discounted({"dist": "fixed", "mean": 3.0}, rate=-0.5))
    assert m.discounted_value == pytest.approx(800.0, rel=1e-12) and not m.warnings
    heavy = solve_exact(discounted({"dist": "lognormal", "mean": 3.0, "sd": 1.0}, rate=-0.5))
    assert heavy.discounted_value is None and heavy.discounted_value_per_seed_customer is None
    assert "touchpoint" not in heavy.warnings[0] and "'ad'" in heavy.warnings[0]
    # a repeat loop that doubles in worth faster than customers leave it: unbounded
    loop = solve_exact(discounted({"dist": "fixed", "mean": 1.0}, rate=-0.75, again={"dist": "fixed", "mean": 1.0}))
    assert loop.discounted_value is None and "spectral radius 2" in loop.warnings[0]
    assert loop.expected_value == pytest.approx(200.0)
