"""The compiled batch walk (:mod:`journeysim.engines.agents.kernel`) against the numpy steps it replaced."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeysim import Journey, load_journey, read_journey
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


# -- fatigue and campaigns in the kernel; the waiting customers' arrays; the social-proof table ------------------


def _fatigue_round_trip_map(social: bool) -> Journey:
    """ad -> mail -> chat -> (9 in 10) later -> ad -> mail, then drop-off: mail -> chat has fatigue 0 (taken on the
    first visit only).

    A customer's count of mail visits crosses the chat (walked in Python: a queue) and, with social proof on
    ad -> mail, a wait for a step of the social clock (from Python back to the kernel: walked on from the chat at
    once, a customer reaches ad 0.2 h later, in the next step for some). Lost on the way, the customer would go
    round again."""
    data = {
        "arrivals": {"rate": 2000, "per": "day"},
        "entry": {"ad": 1},
        "touchpoints": {"ad": {}, "mail": {}, "chat": {"capacity": 10_000}, "buy": {"goal": True},
                        "later": {"delay": {"dist": "fixed", "mean": 0.2}}},
        "transitions": {"ad": {"mail": {"p": 1.0, "social_proof": 0.5} if social else 1.0},
                        "mail": {"chat": {"p": 1.0, "fatigue": 0.0}},
                        "chat": {"later": 0.9, "buy": 0.1}, "later": {"ad": 1.0}},
        "time_unit": "hour",
    }
    return read_journey(data)


@pytest.mark.parametrize("social", [False, True])
def test_fatigue_counts_survive_the_hand_over_to_python_and_back(social):
    r = simulate_agents(_fatigue_round_trip_map(social), 3, rng=np.random.default_rng(8))
    visits = {name: row["visits"] for name, row in r.touchpoints.items()}
    # each customer: ad, mail, chat (served at once), (9 in 10) 0.2 h later ad and mail again, then the fatigued
    # drop-off; going round again, chat would have more visits than arrivals
    n = r.arrived
    assert visits["chat"] == n
    assert visits["mail"] == visits["ad"]
    back = visits["ad"] - n                        # binomial(n, 0.9), less those still on the way at the end
    assert back <= n and abs(back - 0.9 * n) < 4.5 * math.sqrt(0.09 * n) + 2000 * 0.2 / 24 * 3


def test_live_chat_fatigue_and_campaign_agree_with_the_python_walk():
    # the kernel's fatigue and campaign parking against Run.walk's, every customer walked there (independent seeds)
    j = load_journey(SCENARIOS / "online-store-live-chat.yaml")
    compiled = simulate_agents(j, 64, rng=np.random.default_rng(21))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(batch, "MAX_BITS", 0)            # the batch walker takes at most 62 touchpoints: here, none
        python = simulate_agents(j, 64, rng=np.random.default_rng(22))
    for name in ("newsletter", "product page", "purchase"):
        p, q = compiled.visit_rate[name], python.visit_rate[name]
        pooled = (p * compiled.arrived + q * python.arrived) / (compiled.arrived + python.arrived)
        se = math.sqrt(pooled * (1 - pooled) * (1 / compiled.arrived + 1 / python.arrived))
        assert abs(p - q) < 4.5 * se, name
    # visits per arrival at the newsletter (its repeats are what fatigue limits), and the campaign's day: z-scores
    # of the mean number of visits, Poisson-dispersed at worst (a visit count's variance is at most its mean x 3)
    a, b = compiled.touchpoints["newsletter"]["visits"], python.touchpoints["newsletter"]["visits"]
    ra, rb = a / compiled.arrived, b / python.arrived
    assert abs(ra - rb) < 4.5 * math.sqrt(3 * (ra / compiled.arrived + rb / python.arrived))
    for day in (32, 62):                           # the monthly newsletter: conversions on its days
        x, y = compiled.daily[day]["conversions"], python.daily[day]["conversions"]
        assert abs(x - y) < 4.5 * math.sqrt(x + y), day


def test_the_waiting_arrays_give_each_step_its_customers_in_order():
    pool = batch.Waiting(2, 6)
    rng = np.random.default_rng(3)
    rows = []
    for chunk in range(4):
        n = int(rng.integers(0, 40))
        steps = rng.integers(1, 6, n)
        state = (rng.integers(0, 3, n), rng.integers(0, 9, n), rng.random(n), rng.random(n),
                 rng.integers(0, 2**40, n), rng.integers(0, 2**5, n), rng.random(n) < 0.5,
                 rng.integers(0, 4, (n, 2)).astype(np.int32))
        pool.push(steps, *state)
        rows += [(int(k), tuple(np.asarray(x[r]).tolist() for x in state)) for r, k in enumerate(steps)]
    for k in (3, 1, 5, 0, 2, 4):
        got = pool.take(k)
        want = [row for step, row in rows if step == k]
        if not want:
            assert got is None
            continue
        assert [tuple(np.asarray(x[r]).tolist() for x in got) for r in range(got[0].size)] == want
    assert pool.arrays[0][0] == 0 and not pool.by_step.any()


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 3)), min_size=1, max_size=12), st.floats(0, 1))
def test_the_social_proof_table_is_the_numpy_formulas(row, share):
    p, strength = np.array([x[0] for x in row]), np.array([x[1] for x in row])
    ps = p * (1.0 + strength * share)
    want = 5 + np.cumsum(ps) / max(ps.sum(), 1.0)
    cum = np.zeros(p.size + 2)
    kernel.read_share(cum, np.array([1]), np.array([5.0]), np.array([0, p.size]), p, strength, share,
                      np.empty(p.size))
    assert cum[1:-1].tolist() == want.tolist() and cum[0] == cum[-1] == 0


def test_a_step_with_one_budgeted_entry_gets_its_new_arrivals_in_time_order():
    # Run._admit pays a single paid-by-step entry's arrivals in the order given, without sorting: they must come
    # sorted (by day, then within the day), or the budget would go to the wrong customers
    from journeysim.engines.agents.run import Run

    admit, seen = Run._admit, []

    def checked(self, seg, entry, t):
        assert self.one_paid_entry
        seen.append(t.size)
        assert np.all(t[1:] >= t[:-1])
        return admit(self, seg, entry, t)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(Run, "_admit", checked)
        simulate_agents(load_journey(SCENARIOS / "online-store-live-chat.yaml"), 12, rng=np.random.default_rng(2))
    assert len(seen) > 100 and sum(seen) > 10_000
