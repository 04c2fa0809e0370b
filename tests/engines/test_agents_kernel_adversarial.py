"""Adversarial checks of the compiled batch walk's fatigue and campaign days (:mod:`journeysim.engines.agents.kernel`).

Exact figures where a map makes them deterministic or hand-solvable, conservation everywhere, and the compiled walk
against :meth:`Run.walk` (``batch.MAX_BITS = 0`` walks every customer in Python) with independent fixed seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, reject, settings
from hypothesis import strategies as st

from journeysim import read_journey
from journeysim.engines.agents import batch
from journeysim.engines.agents.engine import simulate_agents
from journeysim.engines.agents.run import Run
from journeysim.errors import LimitError, MapError


def conserved(r) -> bool:
    return r.arrived == r.converted_and_left + r.exited + r.abandoned + r.in_journey


def simulate(data: dict, days: int, seed: int, python: bool = False, **kw):
    with pytest.MonkeyPatch.context() as m:
        if python:
            m.setattr(batch, "MAX_BITS", 0)
        r = simulate_agents(read_journey(data), days, rng=np.random.default_rng(seed), **kw)
    assert conserved(r)
    return r


# -- fatigue: many touchpoints, one segment, factors 0 and 1 --------------------------------------------------------


def _visits(p_loop: float, f: float | None, k_max: int = 200) -> tuple[float, float]:
    """E[N], E[N^2] of the visits to a touchpoint that repeats itself with p_loop * f**(k-1) on the k-th visit."""
    mean = square = 0.0
    at_least = 1.0                         # P(N >= k)
    for k in range(1, k_max):
        mean += at_least
        square += (2 * k - 1) * at_least
        at_least *= p_loop * (1.0 if f is None else f ** (k - 1))
    return mean, square


def _chain(n: int, factors: list[float | None]) -> dict:
    """``n`` touchpoints in a row, each repeating itself (p 0.3, fatigue ``factors[i]`` in segment 'tïred' only)
    and going on (p 0.7); the last goes on to the goal. No delays: everything happens at arrival."""
    names = [f"étape {i} ✓" for i in range(n)] + ["achat 🛒"]

    def rows(tired: bool) -> dict:
        out = {}
        for i in range(n):
            loop = {"p": 0.3}
            if tired and factors[i] is not None:
                loop["fatigue"] = factors[i]
            out[names[i]] = {names[i]: loop, names[i + 1]: 0.7}
        return out

    return {"arrivals": {"rate": 3000, "per": "day"}, "entry": {names[0]: 1},
            "touchpoints": {**{x: {} for x in names[:-1]}, names[-1]: {"goal": True, "value": 3}},
            "transitions": rows(False),
            "segments": {"tïred": {"share": 0.5, "transitions": rows(True)}, "fresh": {"share": 0.5}}}


@pytest.mark.parametrize("n", [3, 61])
def test_fatigue_on_many_touchpoints_in_one_segment_is_the_geometric_product(n):
    # 61 fatigued touchpoints and the goal: 62, the most the kernel's bit masks take (batch.MAX_BITS), all walked
    # there. Factors 0 (a repeat once at most), 1 (no fatigue at all) and 0.5 in turn, in one segment only; the other
    # repeats freely. Visits to touchpoint i per arrival: sum over segments of share * reach_i * E[N_i] exactly.
    factors = [(0.0, 1.0, 0.5)[i % 3] for i in range(n)]
    walked = []
    with pytest.MonkeyPatch.context() as m:      # every visit in the kernel: none handed to Run.walk
        m.setattr(Run, "walk", lambda self, c, i, t: walked.append(i))
        r = simulate(_chain(n, factors), 2, seed=11)
    assert walked == []
    names = [f"étape {i} ✓" for i in range(n)]
    arrived = r.arrived
    reach = {"tïred": 1.0, "fresh": 1.0}
    worst = 0.0
    for i, name in enumerate(names):
        mean = var = 0.0
        for seg, f in (("tïred", factors[i]), ("fresh", None)):
            e1, e2 = _visits(0.3, f)
            m1, m2 = reach[seg] * e1, reach[seg] * e2
            mean += 0.5 * m1
            var += 0.5 * m2            # E[X^2] over the mixture, then less the squared mean
            reach[seg] *= e1 * 0.7
        var -= mean**2
        z = (r.touchpoints[name]["visits"] - arrived * mean) / math.sqrt(arrived * var)
        worst = max(worst, abs(z))
    assert worst < 4.5, worst
    want = 0.5 * reach["tïred"] + 0.5 * reach["fresh"]
    assert abs(r.converted - arrived * want) < 4.5 * math.sqrt(arrived * want * (1 - want))
    assert r.revenue == 3 * r.converted and r.converted == r.converted_and_left
    assert r.in_journey == 0


def test_fatigue_zero_on_a_campaign_touchpoint_carries_the_count_through_the_park():
    # 'mail' repeats itself a day later (p 0.9, fatigue 0) or buys (0.1): the second visit buys or ends the journey.
    # A campaign reaches 'mail' every day with p 0, so each visit spanning a day's end is parked (by the kernel) and
    # walked on in Python (_stay): the second visit must see the first in the count, or customers would go round
    # again and again (a third visit). Second visits: binomial(arrivals before the last day, 0.9).
    days = 6
    data = {"arrivals": {"rate": 800, "per": "day"}, "entry": {"mail": 1}, "stages": ["retention"],
            "touchpoints": {"mail": {"stage": "retention", "delay": {"dist": "fixed", "mean": 1}},
                            "buy": {"stage": "retention", "goal": True}},
            "transitions": {"mail": {"mail": {"p": 0.9, "fatigue": 0}, "buy": 0.1}},
            "campaigns": [{"touchpoint": "mail", "to": "buy", "p": 0.0, "every": 1, "start": 0}]}
    for python in (False, True):
        r = simulate(data, days, seed=5, python=python)
        arrivals = [row["arrivals"] for row in r.daily]
        n = sum(arrivals[:-1])
        again = r.touchpoints["mail"]["visits"] - r.arrived
        assert abs(again - 0.9 * n) < 4.5 * math.sqrt(n * 0.09), python
        # the second visit's loop turned into the drop-off: it leaves at t + 2, after the campaign days it spans
        assert r.exited + r.converted_and_left + r.in_journey == r.arrived
        assert r.in_journey >= arrivals[-1] + arrivals[-2] * 0.85


def test_fatigue_one_is_no_fatigue():
    # a factor of 1 never turns an outcome into the drop-off: the same map without fatigue, to the visit, same seed
    base = {"arrivals": {"rate": 500, "per": "day"}, "entry": {"a": 1},
            "touchpoints": {"a": {"delay": {"dist": "exponential", "mean": 0.3}}, "b": {"goal": True}},
            "transitions": {"a": {"a": 0.6, "b": 0.2}}}
    tired = {**base, "transitions": {"a": {"a": {"p": 0.6, "fatigue": 1}, "b": {"p": 0.2, "fatigue": 1.0}}}}
    x, y = simulate(base, 4, seed=3), simulate(tired, 4, seed=4)
    # (the fatigue draws shift the random stream: independent seeds, a z-score of the visits per arrival)
    vx, vy = x.touchpoints["a"]["visits"] / x.arrived, y.touchpoints["a"]["visits"] / y.arrived
    # visits per arrival: geometric (variance 0.6/0.4^2), cut short by the run's end
    se = math.sqrt(0.6 / 0.16 * (1 / x.arrived + 1 / y.arrived))
    assert abs(vx - vy) < 4.5 * se


# -- campaign days: the first and the last, several stages and touchpoints, segments --------------------------------


def _waiting_room(days: int, campaigns: list) -> dict:
    """Everyone waits at 'mail' or 'sms' (retention, 1000 and about 10^6 days) or 'blog' (awareness), in two
    segments."""
    return {"stages": ["awareness", "retention", "purchase"], "arrivals": {"rate": 400, "per": "day"},
            "entry": {"mail": 0.5, "sms": 0.3, "blog": 0.2},
            "touchpoints": {"mail": {"stage": "retention", "delay": {"dist": "fixed", "mean": 1000}},
                            "sms": {"stage": "retention", "delay": {"dist": "exponential", "mean": 1e6}},
                            "blog": {"stage": "awareness", "delay": {"dist": "fixed", "mean": 1000}},
                            "buy": {"stage": "purchase", "goal": True, "value": 5}},
            "transitions": {"mail": {"buy": {"p": 1, "fatigue": 0.5}}, "sms": {"buy": 1}, "blog": {"buy": 1}},
            "segments": {"a": {"share": 0.4, "transitions": {"mail": {"buy": {"p": 0.5, "fatigue": 0}}}},
                         "b": {"share": 0.6}},
            "campaigns": campaigns}


@pytest.mark.parametrize("python", [False, True])
def test_a_campaign_on_day_0_reaches_nobody_and_one_on_the_last_day_everyone_waiting(python):
    days = 4
    r = simulate(_waiting_room(days, [{"stage": "retention", "to": "buy", "p": 1.0, "day": 0},
                                      {"touchpoint": "blog", "to": "buy", "p": 1.0, "day": days - 1}]),
                 days, seed=7, python=python)
    # day 0: customers arrive at t >= 0, a campaign's day must fall inside a visit; the last day: every blog reader
    # arrived before it converts then, nobody else ever does
    assert [row["conversions"] for row in r.daily[:-1]] == [0] * (days - 1)
    blog_before = r.daily[days - 1]["conversions"]
    assert r.converted == blog_before == r.converted_and_left and r.revenue == 5 * blog_before
    arrived_before = sum(row["arrivals"] for row in r.daily[:-1])
    assert abs(blog_before - 0.2 * arrived_before) < 4.5 * math.sqrt(arrived_before * 0.16)
    assert r.daily[-1]["in_stage"]["awareness"] == r.touchpoints["blog"]["visits"] - blog_before
    assert r.in_journey == r.arrived - blog_before


@pytest.mark.parametrize("python", [False, True])
def test_campaigns_on_stages_and_touchpoints_the_same_day_take_turns(python):
    # day 2: a stage campaign (p 0.5) then a touchpoint one on 'sms' (p 0.5, of those the first left): customers at
    # 'mail' go with p 0.5, at 'sms' with 0.75; 'blog' (another stage) with 0; day 3: the stage again, p 1.
    days = 5
    r = simulate(_waiting_room(days, [{"stage": "retention", "to": "buy", "p": 0.5, "day": 2},
                                      {"touchpoint": "sms", "to": "buy", "p": 0.5, "day": 2},
                                      {"stage": "retention", "to": "buy", "p": 1.0, "day": 3}]),
                 days, seed=8 + python)
    before2 = sum(row["arrivals"] for row in r.daily[:2])
    before3 = sum(row["arrivals"] for row in r.daily[:3])
    # arrivals split 0.5 / 0.3 / 0.2 at random: the day-2 conversions are binomial(before2, 0.5 * 0.5 + 0.3 * 0.75)
    p2 = 0.5 * 0.5 + 0.3 * 0.75
    assert abs(r.daily[2]["conversions"] - p2 * before2) < 4.5 * math.sqrt(before2 * p2 * (1 - p2))
    # day 3: everyone at mail or sms who arrived before day 3 and was not moved on day 2
    assert r.converted == r.daily[2]["conversions"] + r.daily[3]["conversions"]
    assert abs(r.converted - 0.8 * before3) < 4.5 * math.sqrt(before3 * 0.16)
    # at the end: retention holds the arrivals of days 3 and 4 at mail and sms, awareness every blog reader
    assert r.daily[-1]["in_stage"]["retention"] + r.daily[-1]["in_stage"]["awareness"] == r.arrived - r.converted
    assert r.converted == r.converted_and_left and r.revenue == 5 * r.converted


# -- limits and sizes -------------------------------------------------------------------------------------------------


def test_an_endless_zero_delay_loop_with_fatigue_one_hits_the_same_limit_both_ways():
    data = {"arrivals": {"rate": 50, "per": "day"}, "entry": {"a": 1},
            "touchpoints": {"a": {}, "b": {"goal": True}},
            "transitions": {"a": {"a": {"p": 0.999999, "fatigue": 1.0}, "b": 0.000001}}}
    errors = []
    for python in (False, True):
        with pytest.raises(LimitError) as e:
            simulate(data, 2, seed=1, python=python, max_transitions=100_000)
        errors.append(str(e.value).split("(")[0])
    assert errors[0] == errors[1]


# -- deterministic maps: the compiled walk and Run.walk to the visit ------------------------------------------------


@st.composite
def certain_maps(draw):
    """Maps where nothing is left to chance once the day-0 arrivals are drawn: every row one edge forward with p 1
    (or none: the exit), fixed delays, fatigue 0 or 1, campaigns with p 0 or 1 (the only way back: repeat visits),
    social proof pushing p 1 rows to 1 (the steps and their waiting arrays), segments, stages, goals, and arrivals
    on day 0 only (the first draws of the run, the same both ways)."""
    n = draw(st.integers(2, 7))
    names = [f"tp {i} ✓é" for i in range(n)]
    stages = ["s0", "s1", "s2"]
    touchpoints = {}
    for name in names:
        tp = {"stage": draw(st.sampled_from(stages))}
        delay = draw(st.sampled_from([0, 0.3, 0.7, 1.5, 2.25]))
        if delay:
            tp["delay"] = {"dist": "fixed", "mean": delay}
        if draw(st.integers(0, 3)) == 0:
            tp["goal"], tp["value"] = True, draw(st.sampled_from([1, 7]))
        touchpoints[name] = tp
    touchpoints[draw(st.sampled_from(names))]["goal"] = True

    def rows():
        out = {}
        for k, name in enumerate(names[:-1]):
            if draw(st.integers(0, 3)) == 0:
                continue                   # no row: everyone leaves
            edge = {"p": 1.0}
            if draw(st.booleans()):
                edge["fatigue"] = draw(st.sampled_from([0, 1]))
            if draw(st.integers(0, 3)) == 0:
                edge["social_proof"] = 1.0
            out[name] = {draw(st.sampled_from(names[k + 1:])): edge}      # forward: no loop without an exit
        return out

    data = {"stages": stages, "touchpoints": touchpoints, "transitions": rows(),
            "entry": {e: 0.5 for e in draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))},
            "arrivals": {"rate": draw(st.sampled_from([30, 400])), "per": "day", "weekday": [1, 0, 0, 0, 0, 0, 0]}}
    if draw(st.booleans()):
        data["segments"] = {"sa": {"share": 0.5, "transitions": rows()}, "sb": {"share": 0.5}}
    campaigns = []
    for _ in range(draw(st.integers(0, 3)) or draw(st.integers(0, 3))):
        c = {"to": draw(st.sampled_from(names)), "p": draw(st.sampled_from([0.0, 1.0]))}
        if draw(st.booleans()):
            c["stage"] = draw(st.sampled_from(stages))
        else:
            c["touchpoint"] = draw(st.sampled_from(names))
        if draw(st.booleans()):
            c["day"] = draw(st.integers(0, 5))
        else:
            c["every"], c["start"] = draw(st.integers(1, 3)), draw(st.integers(0, 2))
        campaigns.append(c)
    if campaigns:
        data["campaigns"] = campaigns
    try:
        journey = read_journey(data)
    except MapError:
        reject()
    return journey


def _tallies(r) -> dict:
    out = {k: getattr(r, k) for k in ("arrived", "converted", "converted_and_left", "exited", "abandoned",
                                      "in_journey", "turned_away")}
    out["touchpoints"] = {k: v["visits"] for k, v in r.touchpoints.items()}
    out["daily"] = [{k: v for k, v in row.items() if k != "revenue"} for row in r.daily]
    out["visit_rate"], out["stage_reach"] = r.visit_rate, r.stage_reach
    return out


#: A visit at 'b' spans a campaign day: parked by the kernel, sent back to 'a' by the campaign, walked on in Python:
#: the second visit of 'a' must see the first (fatigue 0: the journey ends), or everyone goes round again.
_BACK_TO_A = {"stages": ["s0"], "touchpoints": {"a": {"stage": "s0", "delay": {"dist": "fixed", "mean": 0.7}},
                                               "b": {"stage": "s0", "delay": {"dist": "fixed", "mean": 1.5},
                                                     "goal": True}},
              "transitions": {"a": {"b": {"p": 1, "fatigue": 0}}}, "entry": {"a": 1},
              "arrivals": {"rate": 400, "per": "day", "weekday": [1, 0, 0, 0, 0, 0, 0]},
              "campaigns": [{"touchpoint": "b", "to": "a", "p": 1.0, "every": 1, "start": 0}]}


#: And back to the kernel: sent to 'y' by the campaign (Python), the customer reaches 'a' (social proof: timed) past
#: the step under way and waits for its step, walked in the kernel with the count of 'z' it had before.
_BACK_TO_Y = {"stages": ["s0"],
              "touchpoints": {"y": {"delay": {"dist": "fixed", "mean": 0.5}},
                              "a": {"delay": {"dist": "fixed", "mean": 0.1}},
                              "z": {"delay": {"dist": "fixed", "mean": 0.1}},
                              "x": {"delay": {"dist": "fixed", "mean": 1.5}, "goal": True}},
              "transitions": {"y": {"a": 1}, "a": {"z": {"p": 1, "social_proof": 1.0}},
                              "z": {"x": {"p": 1, "fatigue": 0}}},
              "entry": {"y": 1}, "arrivals": {"rate": 400, "per": "day", "weekday": [1, 0, 0, 0, 0, 0, 0]},
              "campaigns": [{"touchpoint": "x", "to": "y", "p": 1.0, "every": 1, "start": 0}]}


@settings(max_examples=60)
@example(read_journey(_BACK_TO_A), 3)
@example(read_journey(_BACK_TO_Y), 3)
@given(certain_maps(), st.integers(0, 2**32 - 1))
def test_certain_maps_give_the_python_walks_tallies_exactly(journey, seed):
    runs = []
    for python in (False, True):
        with pytest.MonkeyPatch.context() as m:
            if python:
                m.setattr(batch, "MAX_BITS", 0)
            try:
                r = simulate_agents(journey, 6, rng=np.random.default_rng(seed), max_transitions=200_000)
            except LimitError:
                r = None
        assert r is None or conserved(r)
        runs.append(r)
    x, y = runs
    assert (x is None) == (y is None)
    if x is None:
        return
    assert _tallies(x) == _tallies(y)
    assert x.revenue == pytest.approx(y.revenue, rel=1e-12)
    # the visit limit: exactly the run's visits pass, one fewer stops both walks (mid-batch for the kernel)
    visits = sum(row["visits"] for row in x.touchpoints.values())
    for python in (False, True):
        with pytest.MonkeyPatch.context() as m:
            if python:
                m.setattr(batch, "MAX_BITS", 0)
            try:
                r = simulate_agents(journey, 6, rng=np.random.default_rng(seed), max_transitions=visits)
            except LimitError as e:        # refused before the run: more expected arrivals (or visits) than that
                assert " would " in str(e)
                continue
            assert _tallies(r) == _tallies(x)
            if visits > 1:
                with pytest.raises(LimitError):
                    simulate_agents(journey, 6, rng=np.random.default_rng(seed), max_transitions=visits - 1)
