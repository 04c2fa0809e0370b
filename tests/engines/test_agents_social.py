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


@given(st.floats(1e-3, 2.0), st.floats(0.0, 400.0, exclude_max=True))
def test_a_time_falls_in_the_step_whose_bounds_the_clock_wakes_at(step, t):
    run = Run(compile_model(social_map(), 400, np.random.default_rng(0), social_step=step), np.random.default_rng(0))
    bounds = run.bounds
    # the steps cover the run up to its horizon (400 days), not past it: times from the horizon on are not run
    assert bounds[-2] < 400 <= bounds[-1]
    k = run.step_of(t)
    assert bounds[k] <= t < bounds[k + 1]
    assert run.step_of(np.array([t, t])).tolist() == [k, k]
    # an hour at first, then 1% of the time elapsed, at most a day (or the step asked for, when longer)
    steps = np.diff(bounds)
    assert steps.min() == pytest.approx(step) and steps.max() <= max(step, 1.0) + 1e-12
    assert np.all(steps >= np.minimum(max(step, 1.0), np.maximum(step, 0.01 * bounds[:-1])) - 1e-12)
    # the clock's wake-ups, each the one before plus a timeout, land on the bounds exactly
    now = 0.0
    for b in bounds[1:50]:
        now = now + (b - now)
        assert now == b


def test_steps_walk_the_social_rows_together():
    # 125 customers a step: those waiting for a step are walked by numpy, social-proof rows and goals included
    model = compile_model(social_map(), 3, np.random.default_rng(5), social_step=engine.SOCIAL_STEP)
    run = Run(model, np.random.default_rng(5)).run()
    walked = run.batch["visits"].tolist()
    assert walked[0] > 0.9 * run.visits[0] and walked[1] > 0.9 * run.visits[1]
    assert run.converted_left + run.exited + run.still == run.arrived


def slow_social_map(rate: float, budget: dict | None = None) -> Journey:
    """The social map with conversions 5 days after the ad: the share climbs for weeks, through steps of hours
    and then of a day. With ``budget``, the ad costs 2 a visit."""
    j = social_map()
    extra = {**j.extra, "arrivals": {"rate": rate, "per": "day"}}
    ad = j.touchpoints["ad"]
    ad = type(ad)("ad", delay=Delay("exponential", 120.0), extra={"cost": 2, "budget": budget} if budget else {})
    return j.replace(touchpoints={**j.touchpoints, "ad": ad}, extra=extra)


def test_long_steps_agree_with_the_per_visit_model(monkeypatch):
    j = slow_social_map(600)
    stepped = simulate_agents(j, 60, rng=np.random.default_rng(11))
    exact = per_visit(monkeypatch, j, 60, 12)
    assert stepped.conversion_rate > 0.25                  # the share moved p well above 0.2
    assert abs(z(stepped, exact, "conversion_rate")) < 4
    for a, b in zip(stepped.daily[5::10], exact.daily[5::10]):       # and day by day, as it climbed
        assert abs(a["conversions"] - b["conversions"]) < 4 * math.sqrt(a["conversions"] + b["conversions"])


def test_a_step_pays_for_its_arrivals_as_the_budget_allows(monkeypatch):
    # 200 would-be arrivals a day through an ad that pays for 50 visits a day: every day's 50 are paid, to the
    # visit, whichever way; the others are turned away; and everyone drawn arrives or is turned away
    j = slow_social_map(200, {"amount": 100, "per": "day"})
    for r in (simulate_agents(j, 40, rng=np.random.default_rng(13)), per_visit(monkeypatch, j, 40, 13)):
        assert r.touchpoints["ad"]["visits"] == 50 * 40 and r.arrived == 50 * 40
        assert all(row["arrivals"] == 50 for row in r.daily)
        assert abs(r.arrived + r.turned_away - 200 * 40) < 4 * math.sqrt(200 * 40)


def test_every_new_customer_of_the_live_chat_arrives_or_is_turned_away():
    # 45 days: the steps grow past the hour and stop matching days; the entry with a budget is paid by step
    j = load_journey(SCENARIOS / "online-store-live-chat.yaml")
    r = simulate_agents(j, 45, rng=np.random.default_rng(17))
    expected = float(compile_model(j, 45, np.random.default_rng(0)).day_rates.sum())
    assert abs(r.arrived - r.referred + r.turned_away - expected) < 4 * math.sqrt(expected)
    assert r.turned_away > 0
    assert r.to_dict()["turned_away"] == r.turned_away        # in the JSON too, not only in the table


def test_customers_coming_back_to_a_budgeted_entry_pay_in_time_order_as_in_the_per_visit_model(monkeypatch):
    # Most visits of the ad are customers coming back from the page; its budget runs out within each hour. Paid by
    # step, the hour's new arrivals took the whole budget first and the returning customers found it spent
    # (4,000 arrived and 10 were turned away, against 2,700 and 1,300 per visit).
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.9}, "page": {"ad": 0.6, "buy": 0.1}}, goals=["buy"],
                          touchpoint_attributes={"ad": {"delay": Delay("exponential", 0.05)},
                                                 "page": {"delay": Delay("exponential", 0.05)}},
                          extra={"arrivals": {"rate": 2000, "per": "day"}}, time_unit="hour")
    ad, buy = j.touchpoints["ad"], j.rows["page"]["buy"]
    j = j.replace(touchpoints={**j.touchpoints, "ad": type(ad)(**{**ad.__dict__, "extra": {
                      "cost": 1.0, "budget": {"amount": 100, "per": "hour"}}})},
                  rows={**j.rows, "page": {"ad": j.rows["page"]["ad"], "buy": type(buy)(0.1, extra={"social_proof": 1.0})}})
    stepped = simulate_agents(j, 2, rng=np.random.default_rng(1))
    exact = per_visit(monkeypatch, j, 2, 2)
    a, b = (r.turned_away / (r.turned_away + r.arrived) for r in (stepped, exact))
    assert b > 0.25
    assert abs(a - b) < 4.5 * math.sqrt(b * (1 - b) * 2 / (exact.turned_away + exact.arrived)), (a, b)
    assert abs(z(stepped, exact, "conversion_rate")) < 4.5
