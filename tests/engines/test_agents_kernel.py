"""The compiled batch walk (:mod:`journeysim.engines.agents.kernel`) against the numpy steps it replaced."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeysim import Journey, load_journey
from journeysim.engines.agents import batch, kernel
from journeysim.engines.agents.engine import simulate_agents
from journeysim.engines.agents.run import spend
from journeysim.errors import LimitError
from tests.conftest import SCENARIOS
from tests.engines import agents_batch_reference as steps
from tests.engines.test_agents_social import z
from tests.properties.strategies import journeys


def run(journey: Journey, days: int, seed: int, reference: bool, **kw):
    with pytest.MonkeyPatch.context() as m:
        if reference:
            m.setattr(batch.BatchWalker, "walk", steps.numpy_walk)
        return simulate_agents(journey, days, rng=np.random.default_rng(seed), **kw)


def text(result) -> str:
    """Every figure of a result, floats to the last bit (``repr``), NaN included."""
    return json.dumps(result.to_dict(), sort_keys=True, default=repr)


@st.composite
def plain_social_maps(draw):
    """Random maps whose touchpoints are all plain (no queue, budget, fatigue, referrals or campaign): every delay
    family, goals with values, stages, segments, social proof on random edges, 60 to 3,000 arrivals a day."""
    journey = draw(journeys(max_touchpoints=6, with_delays=True, segments=draw(st.booleans()), stages=True))
    rows = {a: {b: type(edge)(edge.p, edge.delay, {"social_proof": draw(st.floats(0, 3))}
                              if draw(st.integers(0, 2)) == 0 else {})
                for b, edge in row.items()} for a, row in journey.rows.items()}
    rate = draw(st.sampled_from([60.0, 700.0, 3000.0]))
    return journey.replace(rows=rows, extra={"arrivals": {"rate": rate, "per": "day"}}), draw(st.integers(1, 8))


@given(plain_social_maps(), st.integers(0, 2**32 - 1))
def test_maps_of_plain_touchpoints_equal_the_numpy_steps_to_the_last_bit(journey_days, seed):
    # nothing is set aside for Run.walk, and the numpy steps walk every customer however few (HANDOFF 1): the
    # kernel must draw, search, sum and tally exactly as they did, through the social clock's steps and deferrals
    j, days = journey_days
    with pytest.MonkeyPatch.context() as m:
        m.setattr(steps, "HANDOFF", 1)
        assert text(run(j, days, seed, reference=False)) == text(run(j, days, seed, reference=True))


def test_live_chat_agrees_with_the_numpy_steps():
    # every feature: customers at the chat, the newsletter (fatigue, campaign) and the referrer are set aside
    # and walked in Python after the batch, not at once as the numpy steps did: another random stream, the same
    # model. Two runs of 40 days each (about 135,000 customers), independent seeds.
    j = load_journey(SCENARIOS / "online-store-live-chat.yaml")
    calls = []
    advance = kernel.advance
    with pytest.MonkeyPatch.context() as m:
        m.setattr(kernel, "advance", lambda *a: calls.append(1) or advance(*a))
        compiled = run(j, 40, 5, reference=False)
    assert len(calls) > 100                       # the kernel walked them
    numpy_steps = run(j, 40, 6, reference=True)
    assert abs(z(compiled, numpy_steps, "conversion_rate")) < 4.5
    for name in j.names:
        p, q = compiled.visit_rate[name], numpy_steps.visit_rate[name]
        pooled = (p * compiled.arrived + q * numpy_steps.arrived) / (compiled.arrived + numpy_steps.arrived)
        se = math.sqrt(pooled * (1 - pooled) * (1 / compiled.arrived + 1 / numpy_steps.arrived))
        assert abs(p - q) < 4.5 * se, name
    for field in ("referred", "abandoned"):      # counts: Poisson
        a, b = getattr(compiled, field), getattr(numpy_steps, field)
        assert abs(a - b) < 4.5 * math.sqrt(a + b), field


def test_a_visit_limit_reached_in_a_batch_step_is_the_same_error():
    j = load_journey(SCENARIOS / "online-store-live-chat.yaml")
    messages = []
    for reference in (False, True):
        with pytest.raises(LimitError) as err:
            run(j, 20, 3, reference=reference, max_transitions=20_000)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_pairwise_sum_is_numpy_sum_bit_for_bit():
    # every size up to 700 (blocks of 8 and 128, their remainders, two levels of halving) and a few large ones
    rng = np.random.default_rng(0)
    for n in [*range(0, 700), 1023, 1024, 4097, 65_536, 100_001]:
        a = rng.standard_normal(n + 3) * 10.0 ** rng.uniform(-3, 8, n + 3)
        assert kernel._pairwise(a, n) == a[:n].sum(), n


@given(st.floats(0, 1e6), st.floats(0, 1e3), st.integers(0, 3000))
def test_a_step_spends_a_purse_as_visit_by_visit_payments_do(left, cost, visits):
    paid, after = 0, left
    while paid < visits and after + 1e-9 >= cost:
        after -= cost
        paid += 1
    assert spend(left, cost, visits) == (paid, after)
