"""The agent-based engine against theory: the exact engine, M/M/1, M/M/c (Erlang C), and its own invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from journeysim import Delay, Journey, Touchpoint, load_journey, solve_exact
from journeysim.engines.agents.engine import simulate_agents
from journeysim.errors import LimitError
from tests.conftest import SCENARIOS
from tests.properties.strategies import journeys


def conserved(r) -> bool:
    return r.arrived == r.converted_and_left + r.exited + r.abandoned + r.in_journey


def with_arrivals(journey: Journey, rate: float, **extra) -> Journey:
    return journey.replace(extra={**journey.extra, "arrivals": {"rate": rate, "per": "day"}, **extra})


def queue_journey(capacity: int, service_mean: float, rate: float, patience: float | None = None) -> Journey:
    """Customers arrive straight at a chat with ``capacity`` servers and leave after service."""
    extra = {"capacity": capacity}
    if patience is not None:
        extra["patience"] = patience
    tps = {"chat": Touchpoint("chat", delay=Delay("exponential", service_mean), goal=True, extra=extra)}
    return Journey(touchpoints=tps, entry={"chat": 1.0}, rows={}, extra={"arrivals": {"rate": rate, "per": "day"}})


def replicated_waits(journey: Journey, days: int, replicates: int, seed: int):
    """Mean waits of independent replicates (streams from SeedSequence.spawn)."""
    waits, util = [], []
    for child in np.random.SeedSequence(seed).spawn(replicates):
        r = simulate_agents(journey, days, rng=np.random.default_rng(child))
        assert conserved(r)
        waits.append(r.touchpoints["chat"]["mean_wait"])
        util.append(r.touchpoints["chat"]["utilisation"])
    return np.array(waits), np.array(util)


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in M/M/c with offered load ``a = lambda / mu`` (computed from the definition)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_plain_journey_agrees_with_exact_engine():
    # Segments, loops, repeat goals; short delays so nearly everyone finishes within the run.
    j = Journey.from_rows(
        {"ad": 0.7, "mail": 0.3},
        {"ad": {"page": 0.4}, "mail": {"page": 0.3, "ad": 0.1}, "page": {"cart": 0.3, "ad": 0.1},
         "cart": {"buy": 0.5, "page": 0.2}, "buy": {"page": 0.2}},
        goals=["buy"],
        touchpoint_attributes={n: {"delay": Delay("exponential", 0.01)} for n in ("ad", "mail", "page", "cart")},
    )
    j = with_arrivals(j, 3000)
    exact = solve_exact(j)
    r = simulate_agents(j, 20, rng=np.random.default_rng(11))
    assert conserved(r)
    assert r.in_journey < 0.002 * r.arrived
    n = r.arrived
    for est, p in [(r.conversion_rate, exact.conversion_rate),
                   *((r.visit_rate[k], exact.visit_rate[k]) for k in j.names)]:
        assert abs(est - p) < 4.5 * math.sqrt(p * (1 - p) / n), (est, p)
    assert r.engine == "agents"


def test_bundled_online_store_agrees_with_exact_engine_on_the_conversion_rate():
    j = load_journey(SCENARIOS / "online-store.yaml")
    # Remove the week-long newsletter delay's effect on who has finished by looking at a long run.
    j = with_arrivals(j, 2000)
    exact = solve_exact(j).conversion_rate
    r = simulate_agents(j, 60, rng=np.random.default_rng(5))
    assert conserved(r)
    # Customers still travelling at the end may convert later: they bound the shortfall.
    se = math.sqrt(exact * (1 - exact) / r.arrived)
    assert exact - 4.5 * se - r.in_journey / r.arrived < r.conversion_rate < exact + 4.5 * se


def test_mm1_mean_wait_is_rho_over_mu_minus_lambda():
    lam, mu = 50.0, 100.0
    waits, util = replicated_waits(queue_journey(1, 1 / mu, lam), days=200, replicates=8, seed=1)
    expected = (lam / mu) / (mu - lam)
    se = waits.std(ddof=1) / math.sqrt(len(waits))
    assert abs(waits.mean() - expected) < 4.5 * se, (waits.mean(), expected, se)
    assert abs(util.mean() - lam / mu) < 4.5 * util.std(ddof=1) / math.sqrt(len(util))


def test_mmc_mean_wait_matches_erlang_c():
    lam, mu, c = 240.0, 100.0, 3
    waits, util = replicated_waits(queue_journey(c, 1 / mu, lam), days=60, replicates=8, seed=2)
    expected = erlang_c(c, lam / mu) / (c * mu - lam)
    se = waits.std(ddof=1) / math.sqrt(len(waits))
    assert abs(waits.mean() - expected) < 4.5 * se, (waits.mean(), expected, se)
    assert abs(util.mean() - lam / (c * mu)) < 4.5 * util.std(ddof=1) / math.sqrt(len(util))


def test_patience_makes_customers_give_up_and_shortens_the_wait():
    j = queue_journey(1, 0.01, 150.0)       # overloaded: rho = 1.5
    patient = simulate_agents(j, 20, rng=np.random.default_rng(3))
    impatient = simulate_agents(queue_journey(1, 0.01, 150.0, patience=0.005), 20, rng=np.random.default_rng(3))
    assert conserved(patient) and conserved(impatient)
    assert patient.abandoned == 0 and impatient.abandoned > 0.2 * impatient.arrived
    assert impatient.touchpoints["chat"]["abandoned"] == impatient.abandoned
    assert impatient.touchpoints["chat"]["mean_wait"] < patient.touchpoints["chat"]["mean_wait"]
    # Without patience the queue keeps growing: many are still waiting at the end.
    assert patient.in_journey > 0.2 * patient.arrived


def test_same_seed_same_result_and_different_seed_differs():
    j = load_journey(SCENARIOS / "online-store-live-chat.yaml")
    a = simulate_agents(j, 16, rng=np.random.default_rng(7)).to_dict()
    b = simulate_agents(j, 16, rng=np.random.default_rng(7)).to_dict()
    c = simulate_agents(j, 16, rng=np.random.default_rng(8)).to_dict()
    assert a == b
    assert a["arrived"] != c["arrived"]


def test_live_chat_example_uses_every_feature():
    j = load_journey(SCENARIOS / "online-store-live-chat.yaml")
    r = simulate_agents(j, 16, rng=np.random.default_rng(1))
    assert conserved(r)
    chat, ad = r.touchpoints["live chat"], r.touchpoints["search ad"]
    assert chat["abandoned"] > 0 and 0 < chat["utilisation"] <= 1 and chat["mean_wait"] > 0
    assert ad["skipped"] > 0                                       # the daily budget runs out
    assert ad["spend"] <= 1500 * 16 + 1e-6
    assert r.referred > 0
    assert sum(row["arrivals"] for row in r.daily) == r.arrived
    assert sum(row["revenue"] for row in r.daily) == pytest.approx(r.revenue)
    assert set(r.daily[0]["in_stage"]) == set(j.stages)
    assert r.daily[-1]["in_journey"] == r.in_journey


@st.composite
def agent_journeys(draw):
    """Random journeys with random agent features on random touchpoints and edges."""
    journey = draw(journeys(max_touchpoints=6, with_delays=True, segments=draw(st.booleans()), refers=True))
    # Keep word of mouth below explosive growth (K < 1) so that a run stays small.
    assume(solve_exact(journey, removal_effects=False).referrals < 0.7)
    days = draw(st.integers(1, 8))
    names = journey.names
    touchpoints = {}
    for name, tp in journey.touchpoints.items():
        extra = {}
        service = None
        if draw(st.integers(0, 3)) == 0:
            extra["capacity"] = draw(st.integers(1, 3))
            if draw(st.booleans()):
                extra["patience"] = draw(st.floats(0.01, 2.0))
            if draw(st.booleans()):    # servers held for the service; the delays are the customer's own time
                service = Delay("exponential", draw(st.floats(0.01, 1.0)))
        if draw(st.integers(0, 4)) == 0:
            extra["cost"] = draw(st.floats(0.5, 2.0))
            extra["budget"] = draw(st.one_of(st.floats(0, 50), st.builds(
                lambda a, per: {"amount": a, "per": per}, st.floats(0, 20), st.sampled_from(["day", "week", "run"]))))
        touchpoints[name] = tp.__class__(**{**tp.__dict__, "extra": extra, "service": service})
    rows = {}
    for a, row in journey.rows.items():
        rows[a] = {}
        for b, edge in row.items():
            extra = {}
            if draw(st.integers(0, 4)) == 0:
                extra["social_proof"] = draw(st.floats(0, 3))
            if draw(st.integers(0, 4)) == 0:
                extra["fatigue"] = draw(st.floats(0, 1))
            rows[a][b] = edge.__class__(edge.p, edge.delay, extra)
    campaigns = [{"touchpoint": draw(st.sampled_from(names)), "to": draw(st.sampled_from(names)),
                  "p": draw(st.floats(0, 1)), "day": draw(st.integers(0, days - 1))}
                 for _ in range(draw(st.integers(0, 2)))]
    journey = journey.replace(touchpoints=touchpoints, rows=rows,
                              extra={"arrivals": {"rate": 60.0, "per": "day"}, "campaigns": campaigns})
    return journey, days


@given(agent_journeys(), st.integers(0, 2**32 - 1))
def test_conservation_and_valid_rates_on_random_journeys(journey_days, seed):
    j, days = journey_days
    r = simulate_agents(j, days, rng=np.random.default_rng(seed))
    assert conserved(r)
    if r.arrived:
        assert 0 <= r.conversion_rate <= 1
        assert all(0 <= v <= 1 for v in r.visit_rate.values())
    else:   # a spent entry budget lets nobody in: no rate is defined
        assert r.conversion_rate is None and set(r.visit_rate.values()) == {None}
    assert sum(row["arrivals"] for row in r.daily) == r.arrived
    assert r.daily[-1]["in_journey"] == r.in_journey


def test_large_map_walked_in_python_agrees_with_exact_engine():
    # 70 touchpoints: more than the batch walker's bit masks hold, so every step runs in Run.walk.
    names = [f"t{k}" for k in range(70)]
    rows = {a: {b: 0.9} for a, b in zip(names, names[1:])}
    rows["t10"] = {"t11": 0.5, "t0": 0.45}
    j = with_arrivals(Journey.from_rows({"t0": 1.0}, rows, goals=["t69"]), 3000)
    exact = solve_exact(j).conversion_rate
    r = simulate_agents(j, 10, rng=np.random.default_rng(4))
    assert conserved(r) and r.in_journey == 0
    assert abs(r.conversion_rate - exact) < 4.5 * math.sqrt(exact * (1 - exact) / r.arrived)


def test_referred_arrivals_per_customer_estimate_the_viral_coefficient():
    # Each buyer brings Poisson(0.5) friends: K = 0.3 * 0.5 = 0.15 (the exact engine's `referrals`).
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.3}}, goals=["buy"],
                          touchpoint_attributes={"ad": {"delay": Delay("exponential", 0.02)},
                                                 "buy": {"refers": 0.5, "delay": Delay("exponential", 0.05)}})
    j = with_arrivals(j, 2000)
    k = solve_exact(j).referrals
    r = simulate_agents(j, 20, rng=np.random.default_rng(12))
    assert conserved(r) and r.referred > 0
    variance = 0.3 * (0.5 + 0.5**2) - k**2          # of the number referred by one customer
    assert abs(r.referred / r.arrived - k) < 4.5 * math.sqrt(variance / r.arrived)
    assert r.customers_per_seed == pytest.approx(1 / (1 - k), rel=0.02)


@pytest.mark.parametrize("where", ["fatigue", "refers", "campaign"])
def test_a_delay_drawn_as_infinity_keeps_the_customer_to_the_end(where):
    # exp(mu + sigma z) overflows for a lognormal mean near the float's largest: the visit lasts past the run.
    # At a touchpoint walked in Python (fatigue, referrals, a campaign) this used to crash on int(inf).
    huge = Delay("lognormal", 1e308, 1e308)
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}}, goals=["buy"],
                          touchpoint_attributes={"ad": {"delay": huge}})
    extra = {}
    if where == "fatigue":
        edge = j.rows["ad"]["buy"]
        j = j.replace(rows={"ad": {"buy": type(edge)(0.5, extra={"fatigue": 0.5})}})
    elif where == "refers":
        ad = j.touchpoints["ad"]
        j = j.replace(touchpoints={**j.touchpoints, "ad": type(ad)("ad", delay=huge, refers=0.3)})
    else:
        extra["campaigns"] = [{"touchpoint": "ad", "to": "buy", "p": 0.5, "day": 1}]
    r = simulate_agents(with_arrivals(j, 500, **extra), 2, rng=np.random.default_rng(1))
    assert conserved(r)
    assert r.touchpoints["ad"]["visits"] == r.arrived
    if where != "campaign":        # half of the ad's visits would end at once
        assert r.in_journey == r.arrived and r.converted == 0
    assert r.daily[-1]["in_journey"] == r.in_journey


def test_visits_to_servers_count_against_max_transitions():
    # every visit is to a server: the run stops one visit short of its limit, and runs whole at it exactly
    j = queue_journey(2, 0.001, 300.0)
    full = simulate_agents(j, 3, rng=np.random.default_rng(4))
    visits = full.touchpoints["chat"]["visits"]
    assert visits == full.arrived > 800
    assert simulate_agents(j, 3, rng=np.random.default_rng(4), max_transitions=visits).to_dict() == full.to_dict()
    with pytest.raises(LimitError, match=f"stopped at the limit of {visits - 1:,} transitions"):
        simulate_agents(j, 3, rng=np.random.default_rng(4), max_transitions=visits - 1)
