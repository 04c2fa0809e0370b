"""Service and decision time (issue 17, item 2): a server is held for ``service``; the delays after it hold none.

Every engine counts service plus delay as time in the journey; the agents engine's queue sees the service
alone. Hand-solved values are derived beside each test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from journeysim import Delay, Edge, Journey, Touchpoint, solve_exact
from journeysim.engines.agents.engine import simulate_agents
from journeysim.engines.eventlog import simulate_event_log
from journeysim.engines.montecarlo.engine import simulate_montecarlo
from journeysim.errors import MapError
from tests.engines.test_agents import conserved, erlang_c


def demo_journey(service: Delay | None, decision: float, rate: float, capacity: int = 3, days_unit: str = "day",
                 patience: float | None = None) -> Journey:
    """Customers arrive at a demo with ``capacity`` reps; 30% buy ``decision`` time units after it."""
    extra = {"capacity": capacity, **({"patience": patience} if patience is not None else {})}
    tps = {"demo": Touchpoint("demo", service=service, extra=extra), "buy": Touchpoint("buy", goal=True, value=100.0)}
    rows = {"demo": {"buy": Edge(0.3, Delay("fixed", decision))}}
    return Journey(touchpoints=tps, entry={"demo": 1.0}, rows=rows, time_unit=days_unit,
                   extra={"arrivals": {"rate": rate, "per": "day"}})


def test_mmc_with_a_long_decision_time_waits_as_erlang_c():
    # M/M/3, lambda = 240/day, mu = 100/day (service 0.01 day): the buyers then take 5 days to decide. The decision
    # holds no rep, so the wait is Erlang C's and the reps are busy lambda / (c mu) = 80% of the time.
    lam, mu, c = 240.0, 100.0, 3
    j = demo_journey(Delay("exponential", 1 / mu), decision=5.0, rate=lam, capacity=c)
    waits, busy, converted = [], [], []
    for child in np.random.SeedSequence(17).spawn(6):
        r = simulate_agents(j, 40, rng=np.random.default_rng(child))
        assert conserved(r) and r.abandoned == 0
        waits.append(r.touchpoints["demo"]["mean_wait"])
        busy.append(r.touchpoints["demo"]["utilisation"])
        converted.append(r.converted / r.arrived)
    waits, busy = np.array(waits), np.array(busy)
    expected = erlang_c(c, lam / mu) / (c * mu - lam)
    assert abs(waits.mean() - expected) < 4.5 * waits.std(ddof=1) / math.sqrt(len(waits)), (waits, expected)
    assert abs(busy.mean() - lam / (c * mu)) < 4.5 * busy.std(ddof=1) / math.sqrt(len(busy))
    # Buyers of the last 5 days have not bought yet: 30% x 35/40 of the arrivals at most, about that many.
    assert np.mean(converted) == pytest.approx(0.3 * 35 / 40, abs=0.01)


def test_without_service_the_edge_delay_holds_the_server_as_before():
    # Today's meaning stays: the decision delay holds a rep for 14 days, so 3 reps serve a few customers a fortnight
    # and the impatient rest give up. With the demo's length as service, nearly nobody waits.
    held = simulate_agents(demo_journey(None, 14.0, rate=20.0, patience=0.5), 60, rng=np.random.default_rng(3))
    served = simulate_agents(demo_journey(Delay("fixed", 0.05), 14.0, rate=20.0, patience=0.5), 60,
                             rng=np.random.default_rng(3))
    assert conserved(held) and conserved(served)
    assert held.abandoned > 0.9 * held.arrived
    assert held.touchpoints["demo"]["utilisation"] > 0.9
    assert served.abandoned < 0.01 * served.arrived
    # 20 a day for 0.05 day each on 3 reps: busy 1/3 of the time.
    assert served.touchpoints["demo"]["utilisation"] == pytest.approx(1 / 3, abs=0.05)
    assert held.converted < 0.1 * served.converted


def test_a_campaign_reaches_customers_deciding_after_their_service():
    # Service 0.01 day, then the 30% who buy take 10 days to decide (the others leave at once). A campaign on day 3
    # sends everyone at the demo to 'call': those deciding are reached (they hold no rep), so the buyers who arrived
    # before day 3 all go to the call, and nobody buys before day 13.
    j = demo_journey(Delay("fixed", 0.01), 10.0, rate=50.0)
    call = Touchpoint("call")
    j = j.replace(touchpoints={**j.touchpoints, "call": call},
                  extra={**j.extra, "campaigns": [{"touchpoint": "demo", "to": "call", "p": 1.0, "day": 3}]})
    r = simulate_agents(j, 14, rng=np.random.default_rng(5))
    assert conserved(r)
    n = sum(row["arrivals"] for row in r.daily[:3])
    assert abs(r.touchpoints["call"]["visits"] - 0.3 * n) < 4.5 * math.sqrt(n * 0.3 * 0.7)
    assert sum(row["conversions"] for row in r.daily[:13]) == 0 < r.converted


def chain() -> Journey:
    """ad (fixed 1) -> demo: service fixed 2, then 30% buy after 14, 20% back to ad after the demo's delay 3."""
    tps = {"ad": Touchpoint("ad", delay=Delay("fixed", 1.0)),
           "demo": Touchpoint("demo", delay=Delay("fixed", 3.0), service=Delay("fixed", 2.0), extra={"capacity": 2}),
           "buy": Touchpoint("buy", goal=True, value=100.0)}
    rows = {"ad": {"demo": Edge(1.0)}, "demo": {"buy": Edge(0.3, Delay("fixed", 14.0)), "ad": Edge(0.2)}}
    return Journey(touchpoints=tps, entry={"ad": 1.0}, rows=rows, extra={"discount": {"rate": 0.1, "per": "day"}})


def test_exact_engine_counts_service_plus_delay():
    # P(convert) = 0.3 / (1 - 0.2) = 0.375. Given conversion the loops K are geometric, P(K = k) = 0.8 * 0.2**k,
    # E[K] = 0.25; a loop takes 1 + 2 + 3 = 6, the last stretch 1 + 2 + 14 = 17: E[T] = 17 + 6 * 0.25 = 18.5.
    m = solve_exact(chain())
    assert m.conversion_rate == pytest.approx(0.375)
    assert m.expected_time_to_conversion == pytest.approx(18.5)
    # Discounted at lam = ln 1.1 a day: 100 * sum_k 0.3 * 0.2**k * exp(-lam (17 + 6k)).
    lam = math.log(1.1)
    assert m.discounted_value == pytest.approx(100 * 0.3 * math.exp(-17 * lam) / (1 - 0.2 * math.exp(-6 * lam)))
    assert "plus mean service times" in m.method


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_montecarlo_counts_service_plus_delay(backend):
    # T | conversion = 17 + 6K, sd 6 sqrt(0.2 / 0.8**2); every quantile sits on 17 + 6k (80% at 17).
    n = 40_000
    r = simulate_montecarlo(chain(), n, rng=np.random.default_rng(1), backend=backend, removal_effects=False)
    se = 6 * math.sqrt(0.2 / 0.64) / math.sqrt(r.conversions)
    assert abs(r.expected_time_to_conversion - 18.5) < 4.5 * se
    assert r.time_to_conversion["p50"] == pytest.approx(17, rel=0.02)
    assert abs(r.conversion_rate - 0.375) < 4.5 * math.sqrt(0.375 * 0.625 / n)
    lam = math.log(1.1)
    truth = 100 * 0.3 * math.exp(-17 * lam) / (1 - 0.2 * math.exp(-6 * lam))
    # A discounted value per customer is at most 100 * exp(-17 lam): its sd is below that.
    assert abs(r.discounted_value - truth) < 4.5 * 100 * math.exp(-17 * lam) / math.sqrt(n)


def test_montecarlo_draws_the_service_distribution():
    # Service gamma(mean 2, sd 1) and nothing else before the goal: the time to conversion is the service time.
    tps = {"demo": Touchpoint("demo", service=Delay("gamma", 2.0, 1.0), extra={"capacity": 1}),
           "buy": Touchpoint("buy", goal=True)}
    j = Journey(touchpoints=tps, entry={"demo": 1.0}, rows={"demo": {"buy": Edge(1.0)}})
    for backend in ("numba", "numpy"):
        r = simulate_montecarlo(j, 20_000, rng=np.random.default_rng(2), backend=backend, removal_effects=False)
        assert abs(r.expected_time_to_conversion - 2.0) < 4.5 * 1.0 / math.sqrt(20_000)
        # gamma(4, 0.5): median 1.8360
        assert r.time_to_conversion["p50"] == pytest.approx(1.836, abs=0.05)


def test_event_log_gaps_are_service_plus_delay():
    log = simulate_event_log(chain(), 2000, rng=np.random.default_rng(4))
    log = log.sort_values(["user_id", "timestamp"])
    gap = log.groupby("user_id").timestamp.diff().dt.total_seconds() / 86400
    after = log.groupby("user_id").touchpoint.shift()
    # demo -> buy: 2 + 14; demo -> ad: 2 + 3; ad -> demo: 1.
    assert np.allclose(gap[(after == "demo") & (log.touchpoint == "buy")], 16.0)
    assert np.allclose(gap[(after == "demo") & (log.touchpoint == "ad")], 5.0)
    assert np.allclose(gap[(after == "ad") & (log.touchpoint == "demo")], 1.0)


def test_service_without_capacity_is_refused_for_a_run():
    j = demo_journey(Delay("fixed", 1.0), 1.0, rate=10.0)
    tps = {**j.touchpoints, "demo": Touchpoint("demo", service=Delay("fixed", 1.0))}
    with pytest.raises(MapError, match="touchpoint 'demo': 'service' needs 'capacity'"):
        simulate_agents(j.replace(touchpoints=tps), 2, rng=np.random.default_rng(0))
