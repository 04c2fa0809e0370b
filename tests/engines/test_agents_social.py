"""Social proof by steps: the share read once a step agrees with the per-visit model within its noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeysim import Delay, Journey, load_journey
from journeysim.engines.agents import engine
from journeysim.engines.agents.engine import simulate_agents
from journeysim.engines.agents.model import compile_model
from journeysim.engines.agents.run import Run
from tests.conftest import SCENARIOS


def social_map() -> Journey:
    # p' = 0.2 (1 + 3 * share): the share climbs from 0 towards its fixed point x = 0.2 (1 + 3x), x = 0.5,
    # through conversions that come a few hours after the ad
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.2}}, goals=["buy"],
                          extra={"arrivals": {"rate": 3000, "per": "day"}}, time_unit="hour")
    edge = j.rows["ad"]["buy"]
    ad = j.touchpoints["ad"]
    touchpoints = {**j.touchpoints, "ad": type(ad)("ad", delay=Delay("exponential", 6.0))}
    return j.replace(touchpoints=touchpoints, rows={"ad": {"buy": type(edge)(0.2, extra={"social_proof": 3.0})}})


def z(a, b, field: str) -> float:
    p, q = getattr(a, field), getattr(b, field)
    pooled = (p * a.arrived + q * b.arrived) / (a.arrived + b.arrived)
    return (p - q) / math.sqrt(pooled * (1 - pooled) * (1 / a.arrived + 1 / b.arrived))


def per_visit(monkeypatch, journey, days, seed):
    with monkeypatch.context() as m:
        m.setattr(engine, "SOCIAL_STEP", 0.0)
        return simulate_agents(journey, days, rng=np.random.default_rng(seed))


def test_stepped_share_agrees_with_the_per_visit_model(monkeypatch):
    j = social_map()
    stepped = simulate_agents(j, 8, rng=np.random.default_rng(1))
    exact = per_visit(monkeypatch, j, 8, 2)
    assert stepped.conversion_rate > 0.3                  # social proof is at work
    assert abs(z(stepped, exact, "conversion_rate")) < 4
    # a step as long as the run never updates the share (p stays 0.2): the comparison sees it
    monkeypatch.setattr(engine, "SOCIAL_STEP", 8.0)
    frozen = simulate_agents(j, 8, rng=np.random.default_rng(1))
    assert frozen.conversion_rate == pytest.approx(0.2, abs=0.01)
    assert abs(z(frozen, exact, "conversion_rate")) > 10


def test_live_chat_by_steps_agrees_with_the_per_visit_model(monkeypatch):
    j = load_journey(SCENARIOS / "online-store-live-chat.yaml")
    stepped = simulate_agents(j, 6, rng=np.random.default_rng(3))
    exact = per_visit(monkeypatch, j, 6, 4)
    assert abs(z(stepped, exact, "conversion_rate")) < 4
    for name in ("reviews", "cart", "purchase"):
        a = stepped.touchpoints[name]["visits"] / stepped.arrived
        b = exact.touchpoints[name]["visits"] / exact.arrived
        # visits per customer: Poisson-like counts, the variance about the mean
        se = math.sqrt(a / stepped.arrived + b / exact.arrived)
        assert abs(a - b) < 4 * se, name


@given(st.floats(1e-4, 2.0), st.floats(0.0, 400.0))
def test_a_time_falls_in_the_step_whose_bounds_the_clock_computes(step, t):
    # the clock wakes at k * step; a visit at t belongs to the step k with k * step <= t < (k + 1) * step
    run = Run(compile_model(social_map(), 1, np.random.default_rng(0), social_step=step), np.random.default_rng(0))
    k = run.step_of(t)
    assert k * step <= t < (k + 1) * step
    assert run.step_of(np.array([t, t])).tolist() == [k, k]


def test_steps_walk_the_social_rows_together():
    # 125 customers a step: those waiting for a step are walked by numpy, social-proof rows and goals included
    model = compile_model(social_map(), 3, np.random.default_rng(5), social_step=engine.SOCIAL_STEP)
    run = Run(model, np.random.default_rng(5)).run()
    walked = run.batch["visits"].tolist()
    assert walked[0] > 0.9 * run.visits[0] and walked[1] > 0.9 * run.visits[1]
    assert run.converted_left + run.exited + run.still == run.arrived
