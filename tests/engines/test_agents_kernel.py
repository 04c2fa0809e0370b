"""The compiled batch walk (:mod:`journeysim.engines.agents.kernel`) equals the numpy steps it replaced, draw for draw."""

from __future__ import annotations

import json

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
from tests.engines.agents_batch_reference import numpy_walk
from tests.engines.test_agents import agent_journeys


def run(journey: Journey, days: int, seed: int, reference: bool, **kw):
    with pytest.MonkeyPatch.context() as m:
        if reference:
            m.setattr(batch.BatchWalker, "walk", numpy_walk)
        return simulate_agents(journey, days, rng=np.random.default_rng(seed), **kw)


def text(result) -> str:
    """Every figure of a result, floats to the last bit (``repr``), NaN included."""
    return json.dumps(result.to_dict(), sort_keys=True, default=repr)


def test_live_chat_equals_the_numpy_steps_to_the_last_bit():
    # 40 days: budget paid by step, social proof, a queue, fatigue, referrals, a campaign; goals worth 40 each
    j = load_journey(SCENARIOS / "online-store-live-chat.yaml")
    calls = []
    advance = kernel.advance
    with pytest.MonkeyPatch.context() as m:
        m.setattr(kernel, "advance", lambda *a: calls.append(1) or advance(*a))
        compiled = run(j, 40, 5, reference=False)
    assert len(calls) > 100                       # the kernel walked them: the comparison compares something
    assert text(compiled) == text(run(j, 40, 5, reference=True))
    assert compiled.revenue > 0 and compiled.converted > 1000


@given(agent_journeys(), st.integers(0, 2**32 - 1), st.sampled_from([60.0, 700.0]))
def test_random_agent_maps_equal_the_numpy_steps(journey_days, seed, rate):
    # every delay family, segments, budgets by visit and by step, social proof, fatigue, queues, campaigns
    j, days = journey_days
    j = j.replace(extra={**j.extra, "arrivals": {"rate": rate, "per": "day"}})
    assert text(run(j, days, seed, reference=False)) == text(run(j, days, seed, reference=True))


def test_a_visit_limit_reached_in_a_batch_step_is_the_same_error():
    j = load_journey(SCENARIOS / "online-store-live-chat.yaml")
    messages = []
    for reference in (False, True):
        with pytest.raises(LimitError) as err:
            run(j, 20, 3, reference=reference, max_transitions=20_000)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("n", [*range(0, 300), 1000, 1023, 1024, 4097, 65_536, 100_001])
def test_pairwise_sum_is_numpy_sum_bit_for_bit(n):
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n + 3) * 10.0 ** rng.uniform(-3, 8, n + 3)
    assert kernel._pairwise(a, n) == a[:n].sum()


@given(st.floats(0, 1e6), st.floats(0, 1e3), st.integers(0, 3000))
def test_a_step_spends_a_purse_as_visit_by_visit_payments_do(left, cost, visits):
    paid, after = 0, left
    while paid < visits and after + 1e-9 >= cost:
        after -= cost
        paid += 1
    assert spend(left, cost, visits) == (paid, after)
