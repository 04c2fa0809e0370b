"""The agents engine's callback queue (``SharedTouchpoints._queue``) against the simpy queue it replaced
(``tests/engines/agents_queue_reference.py``), against queueing theory, and by hand.

Each kind of draw comes from its own pool (patience, a row's outcomes, service, referrals), taken in the same order
by both queues: arrivals in time order, services started first come first served. So on the same seed the two
give the same results, which the first test checks; the statistical test compares them on independent seeds, which
must hold whatever the order of draws.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeysim import Delay, Journey, Touchpoint, load_journey
from journeysim.engines.agents import shared
from journeysim.engines.agents.engine import simulate_agents
from journeysim.engines.agents.model import Customer, Pool, compile_model
from journeysim.engines.agents.run import Run
from tests.conftest import SCENARIOS
from tests.engines.agents_queue_reference import simulate_reference
from tests.engines.test_agents import conserved, queue_journey
from tests.engines.test_service import demo_journey


def live_chat(refers: float = 0.0, capacity: int = 3) -> Journey:
    """The bundled live-chat scenario; ``refers``: the chat's customers bring others (counted when served)."""
    j = load_journey(SCENARIOS / "online-store-live-chat.yaml")
    chat = j.touchpoints["live chat"]
    extra = {**chat.extra, "capacity": capacity, **({"refers": refers} if refers else {})}
    return j.replace(touchpoints={**j.touchpoints, "live chat": Touchpoint(**{**chat.__dict__, "extra": extra})})


# (journey, days, the touchpoint with servers): capacity 1-3, with and without patience and service, near and
# above saturation (rho = lambda / (c mu)).
CASES = {
    "M/M/1 rho 0.9": (queue_journey(1, 0.01, 90.0), 20, "chat"),
    "M/M/1 rho 1.2, no patience": (queue_journey(1, 0.01, 120.0), 10, "chat"),
    "M/M/2+M rho 1.25": (queue_journey(2, 0.01, 250.0, patience=0.01), 12, "chat"),
    "M/M/3+M service, rho 0.93": (demo_journey(Delay("exponential", 0.01), 2.0, 280.0, patience=0.02), 12, "demo"),
    "service held 14 days": (demo_journey(None, 14.0, 20.0, patience=0.5), 30, "demo"),
    "live chat": (live_chat(), 16, "live chat"),
    "live chat, 1 agent, referrals": (live_chat(refers=0.4, capacity=1), 16, "live chat"),
}


def figures(r, chat: str) -> dict[str, float]:
    tp = r.touchpoints[chat]
    return {"served": tp["visits"], "gave up": tp["abandoned"], "mean wait": tp["mean_wait"] or 0.0,
            "utilisation": tp["utilisation"], "converted": r.converted, "in journey": r.in_journey,
            "arrived": r.arrived, "revenue": r.revenue}


@pytest.mark.parametrize("case", CASES)
def test_same_seed_same_results_as_the_simpy_queue(case):
    journey, days, _ = CASES[case]
    for seed in (1, 2):
        new = simulate_agents(journey, days, rng=np.random.default_rng(seed))
        assert conserved(new)
        assert new.to_dict() == simulate_reference(journey, days, rng=np.random.default_rng(seed)).to_dict()


@pytest.mark.parametrize("case", CASES)
def test_agrees_with_the_simpy_queue_on_independent_seeds(case):
    # Welch z of each figure's mean over 6 runs of each queue, the runs' streams independent of each other.
    journey, days, chat = CASES[case]
    new_seeds, old_seeds = np.random.SeedSequence(sum(map(ord, case))).spawn(2)
    new = [figures(simulate_agents(journey, days, rng=np.random.default_rng(s)), chat) for s in new_seeds.spawn(6)]
    old = [figures(simulate_reference(journey, days, rng=np.random.default_rng(s)), chat) for s in old_seeds.spawn(6)]
    for key in new[0]:
        a, b = np.array([f[key] for f in new]), np.array([f[key] for f in old])
        se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        if se == 0:
            assert a.mean() == b.mean(), key
        else:
            assert abs(a.mean() - b.mean()) < 4.5 * se, (key, a.mean(), b.mean(), se)


def erlang_a(lam: float, mu: float, c: int, theta: float, top: int = 400) -> tuple[float, float]:
    """M/M/c+M (exponential patience of rate ``theta``): the probability of giving up and the servers' busy share.

    The number in the system is a birth-death chain: births ``lam``, deaths ``min(n, c) mu + max(n - c, 0) theta``,
    so ``p_n`` is proportional to the product of ``lam / death_k`` for ``k <= n``. Customers give up at the rate
    ``theta E[(N - c)+]``, out of ``lam`` arriving; the servers are busy ``E[min(N, c)] / c`` of the time.
    """
    p = [1.0]
    for n in range(1, top):
        p.append(p[-1] * lam / (min(n, c) * mu + max(n - c, 0) * theta))
    p = np.array(p) / sum(p)
    n = np.arange(top)
    return float(theta * (p * np.maximum(n - c, 0)).sum() / lam), float((p * np.minimum(n, c)).sum() / c)


@pytest.mark.parametrize("c, lam, patience", [(1, 150.0, 0.005), (2, 250.0, 0.01)])
def test_giving_up_and_utilisation_match_erlang_a(c, lam, patience):
    mu = 100.0
    j = queue_journey(c, 1 / mu, lam, patience=patience)
    gave_up, busy = [], []
    for child in np.random.SeedSequence(c).spawn(6):
        r = simulate_agents(j, 20, rng=np.random.default_rng(child))
        assert conserved(r)
        gave_up.append(r.abandoned / r.arrived)
        busy.append(r.touchpoints["chat"]["utilisation"])
    p_gave_up, utilisation = erlang_a(lam, mu, c, 1 / patience)
    for got, expected in ((np.array(gave_up), p_gave_up), (np.array(busy), utilisation)):
        assert abs(got.mean() - expected) < 4.5 * got.std(ddof=1) / math.sqrt(got.size), (got, expected)


def bare_run(days: int, hold: float, patience: float | None = None) -> tuple[Run, int]:
    """A run of a one-server chat holding each customer ``hold`` days, with nobody arriving on their own."""
    j = queue_journey(1, 1.0, 1.0, patience=patience)
    chat = j.touchpoints["chat"]
    j = j.replace(touchpoints={"chat": Touchpoint(**{**chat.__dict__, "delay": Delay("fixed", hold)})})
    rng = np.random.default_rng(0)
    model = compile_model(j, days, rng)
    model.day_rates = np.zeros(days)
    return Run(model, rng), model.names.index("chat")


def queue_at_zero(run: Run, i: int, patience: list[float]) -> list[Customer]:
    """Customers queueing at ``i`` at time 0 in this order, each giving up after the patience given."""
    run.patience[i] = Pool(None)
    run.patience[i].items = patience[::-1]          # take() pops from the end
    customers = [Customer(0, 0.0) for _ in patience]
    for c in customers:
        run._queue(c, i, 0.0)
    return customers


def test_first_come_first_served_skipping_who_gave_up():
    # One server holding each customer 1 day; five queue at time 0 with patience 5, 0.5, 5, 1.5, 10. The first is
    # served at 0; the second gives up at 0.5; the third is served at 1; the fourth gives up at 1.5; the fifth is
    # served at 2. Waits 0 + 1 + 2 = 3 days, the server busy 3 days.
    run, i = bare_run(10, 1.0, patience=1.0)
    started = []
    count = run._count
    run._count = lambda c, i, t: (started.append((c, t)), count(c, i, t))
    a, b, c, d, e = queue_at_zero(run, i, [5.0, 0.5, 5.0, 1.5, 10.0])
    run.run()
    assert started == [(a, 0.0), (c, 1.0), (e, 2.0)]
    assert (run.served[i], run.gave_up[i], run.abandoned, run.wait[i], run.busy[i]) == (3, 2, 2, 3.0, 3.0)
    assert run.converted_left == 3 and run.still == 0 and not run.waiting and run.free[i] == 1


def test_customers_who_gave_up_do_not_pile_up_in_the_queue():
    # The server is held 5 days; 300 queue behind the first and all but the last give up within a day: their
    # entries are swept once they are most of the queue, so the queue stays small, and the last is served at 5.
    run, i = bare_run(10, 5.0, patience=1.0)
    started = []
    count = run._count
    run._count = lambda c, i, t: (started.append(t), count(c, i, t))
    queue_at_zero(run, i, [9.0] + [0.9 * k / 300 for k in range(1, 300)] + [9.0])
    run.env.run(until=4.0)
    assert run.gave_up[i] == 299 and len(run.waiting) == 1
    assert len(run.queues[i]) <= shared._SWEEP + 1
    run.env.run(until=10.0)
    assert started == [0.0, 5.0]


def test_the_end_of_the_run_counts_who_is_served_or_queued_then():
    # Held 4 days in a 5-day run: the first is served 0-4, the second from 4 past the end (the server stays busy
    # to the end), the third still queues. Both count in the journey, and at every day's end from their arrival;
    # the first up to the end of day 4 (it leaves at 4: a day's end shows who is there just before it).
    run, i = bare_run(5, 4.0)
    for _ in range(3):
        run._queue(Customer(0, 0.0), i, 0.0)
    run.run()
    assert (run.served[i], run.wait[i], run.busy[i], run.still, run.converted_left) == (2, 4.0, 5.0, 2, 1)
    in_journey = np.cumsum(run.occupancy[run.m.stage[i]])[1:6]
    assert in_journey.tolist() == [3, 3, 3, 3, 2]


@settings(max_examples=25, deadline=None)
@given(capacity=st.integers(1, 3), rho=st.floats(0.3, 2.0), patience=st.none() | st.floats(0.001, 0.05),
       service=st.booleans(), days=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_queue_invariants(capacity, rho, patience, service, days, seed):
    # Every arrival at a chat that leads nowhere is served, gives up or is still there; a served customer converts
    # (the chat is the goal) as its service starts; the same seed gives the same result.
    lam = rho * capacity * 100.0
    if service:
        j = demo_journey(Delay("exponential", 0.01), 0.5, lam, capacity=capacity, patience=patience)
        j = j.replace(touchpoints={**j.touchpoints, "demo": Touchpoint(**{**j.touchpoints["demo"].__dict__,
                                                                          "goal": True})})
        chat = "demo"
    else:
        j, chat = queue_journey(capacity, 0.01, lam, patience=patience), "chat"
    r = simulate_agents(j, days, rng=np.random.default_rng(seed))
    tp = r.touchpoints[chat]
    assert conserved(r)
    assert r.abandoned == tp["abandoned"] and (patience is not None or r.abandoned == 0)
    assert r.arrived - tp["visits"] - tp["abandoned"] >= 0                    # still queued at the end
    assert r.converted == tp["visits"]
    assert 0 <= tp["utilisation"] <= 1 and (tp["mean_wait"] is None or tp["mean_wait"] >= 0)
    assert r.to_dict() == simulate_agents(j, days, rng=np.random.default_rng(seed)).to_dict()
