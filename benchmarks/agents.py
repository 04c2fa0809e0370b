"""Touchpoint events per second of the agent-based engine, against simpy and Mesa models of the same journey.

The journey is a plain Markov map (30 touchpoints, 3-6 edges a row, exponential
delays, Poisson arrivals; no agent features), so every engine does the same
work: one event per touchpoint visit. The references, measured in the same run:

* a minimal simpy model: one process per customer, one timeout per visit;
* a Mesa 3 model: one agent per customer, one visit per agent per step
  (Mesa has no continuous clock; it is given the same number of visits).

Usage::

    python benchmarks/agents.py             # the comparison (a minute or two)
    python benchmarks/agents.py --year      # one 365-day run with about a million customers: time, peak memory
    python benchmarks/agents.py --social    # social proof by steps against the per-visit model (below)

``--social`` times the engine with social proof read once a step (the engine's
``SOCIAL_STEP``, then ``SOCIAL_LAG`` of the time elapsed) against the per-visit model
(``SOCIAL_STEP = 0``: every visit of a social-proof row and every goal an event, and
the budgeted entry paid visit by visit), in CPU seconds, interleaved: on the
bundled live-chat scenario (which also has a budget, a queue, fatigue, referrals
and a campaign) at 30 and 120 days, to show the growth with days, and on a
one-row social-proof map at 30,000 arrivals a day, where each step walks a
thousand customers together.

Mesa is an optional benchmark dependency (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import bisect
import gc
import importlib.util
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np
import simpy

from journeysim import Delay, Edge, Journey, Touchpoint, load_journey
from journeysim.engines.agents import engine
from journeysim.engines.agents import run as engine_run
from journeysim.engines.agents.engine import simulate_agents

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import interleaved, load, machine  # noqa: E402

N_TOUCHPOINTS = 30


def plain_journey(rate_per_day: float, seed: int = 7) -> Journey:
    """30 touchpoints, 3-6 edges a row leaving ~11% to drop-off, exponential delays of 0.05-0.5 days."""
    rng = random.Random(seed)
    names = [f"tp{k}" for k in range(N_TOUCHPOINTS)]
    rows = {}
    for a in names:
        targets = rng.sample([n for n in names if n != a], rng.randint(3, 6))
        weights = [rng.random() + 0.2 for _ in targets]
        total = sum(weights) / 0.89
        rows[a] = {b: Edge(w / total) for b, w in zip(targets, weights)}
    touchpoints = {n: Touchpoint(n, delay=Delay("exponential", rng.uniform(0.05, 0.5)), goal=k % 10 == 9,
                                 value=40.0 if k % 10 == 9 else 0.0) for k, n in enumerate(names)}
    return Journey(touchpoints=touchpoints, entry={"tp0": 0.5, "tp1": 0.3, "tp2": 0.2}, rows=rows,
                   name="plain benchmark journey", extra={"arrivals": {"rate": rate_per_day, "per": "day"}})


def _tables(journey: Journey):
    names = journey.names
    index = {n: k for k, n in enumerate(names)}
    rows = []
    for n in names:
        targets, cum, acc = [], [], 0.0
        for b, e in journey.rows.get(n, {}).items():
            acc += e.p
            targets.append(index[b])
            cum.append(acc)
        rows.append((targets, cum))
    means = [journey.touchpoints[n].mean_delay for n in names]
    entry = [index[n] for n in journey.entry]
    entry_cum = list(np.cumsum(list(journey.entry.values())))
    return rows, means, entry, entry_cum


def run_simpy(journey: Journey, days: int, seed: int) -> int:
    """The minimal one-process-per-customer simpy model; returns the number of visits."""
    rows, means, entry, entry_cum = _tables(journey)
    rate = journey.extra["arrivals"]["rate"]
    rnd = random.Random(seed)
    env = simpy.Environment()
    visits = 0

    def customer(i):
        nonlocal visits
        while True:
            visits += 1
            yield env.timeout(rnd.expovariate(1.0 / means[i]))
            targets, cum = rows[i]
            k = bisect.bisect(cum, rnd.random())
            if k >= len(targets):
                return
            i = targets[k]

    def arrivals():
        while True:
            yield env.timeout(rnd.expovariate(rate))
            env.process(customer(entry[bisect.bisect(entry_cum, rnd.random())]))

    env.process(arrivals())
    env.run(until=days)
    return visits


def run_mesa(journey: Journey, steps: int, per_step: float, seed: int) -> int:
    """A Mesa 3 model of the same chain: each step every agent visits its next touchpoint."""
    import mesa

    rows, _, entry, entry_cum = _tables(journey)

    class Customer(mesa.Agent):
        def __init__(self, model, tp):
            super().__init__(model)
            self.tp = tp

        def step(self):
            model = self.model
            model.visits += 1
            targets, cum = rows[self.tp]
            k = bisect.bisect(cum, model.rnd.random())
            if k >= len(targets):
                self.remove()
            else:
                self.tp = targets[k]

    class JourneyModel(mesa.Model):
        def __init__(self):
            super().__init__(seed=seed)
            self.rnd = random.Random(seed)
            self.np_rng = np.random.default_rng(seed)
            self.visits = 0

        def step(self):
            for _ in range(self.np_rng.poisson(per_step)):
                Customer(self, entry[bisect.bisect(entry_cum, self.rnd.random())])
            self.agents.do("step")

    model = JourneyModel()
    for _ in range(steps):
        model.step()
    return model.visits


def _timed(fn):
    gc.collect()
    was = gc.isenabled()
    gc.disable()    # the same treatment the engine gives itself
    try:
        start = time.perf_counter()
        visits = fn()
        return visits, time.perf_counter() - start
    finally:
        if was:
            gc.enable()


def compare(rate: float, days: int, seed: int, repeat: int) -> None:
    journey = plain_journey(rate)
    print(f"plain Markov journey: {N_TOUCHPOINTS} touchpoints, {rate:g} arrivals/day, {days} days; "
          f"best of {repeat} interleaved runs")

    def ours():
        r = simulate_agents(journey, days, rng=np.random.default_rng(seed))
        return sum(t["visits"] for t in r.touchpoints.values())

    models = {"journeysim agents": ours,
              "minimal simpy (process per customer)": lambda: run_simpy(journey, days, seed)}
    if importlib.util.find_spec("mesa") is None:
        print("Mesa is not installed: its row is skipped (pip install -e '.[bench]' or pip install mesa)")
    else:
        # The same number of agent visits: ~ rate * days customers, one visit per step each.
        steps = 200
        models["Mesa 3 (agent per customer)"] = lambda: run_mesa(journey, steps, rate * days / steps, seed)
    best: dict[str, tuple[int, float]] = {}
    for _ in range(repeat):       # interleaved, so that a busy moment of the machine hits every model alike
        for name, fn in models.items():
            visits, seconds = _timed(fn)
            if name not in best or seconds < best[name][1]:
                best[name] = (visits, seconds)
    base = best["journeysim agents"][0] / best["journeysim agents"][1]
    print(f"{'model':40} {'visits':>10} {'seconds':>8} {'visits/s':>12} {'journeysim / model':>19}")
    for name, (visits, seconds) in best.items():
        speed = visits / seconds
        print(f"{name:40} {visits:>10} {seconds:>8.2f} {speed:>12,.0f} {base / speed:>18.2f}x")


def year(rate: float, seed: int) -> None:
    journey = plain_journey(rate)
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    r = simulate_agents(journey, 365, rng=np.random.default_rng(seed), progress=True)
    seconds = time.perf_counter() - start
    visits = sum(t["visits"] for t in r.touchpoints.values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"365 days, {r.arrived:,} customers, {visits:,} visits: {seconds:.1f} s "
          f"({visits / seconds:,.0f} visits/s), peak memory {peak_mb:.0f} MB ({before_mb:.0f} MB before the run), "
          f"in journey at the end {r.in_journey:,}")


def social_map(rate_per_day: float) -> Journey:
    """One social-proof row: p' = 0.2 (1 + 3 C/A) from an ad to a purchase, exponential 6-hour delays."""
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.2}}, goals=["buy"], time_unit="hour",
                          extra={"arrivals": {"rate": rate_per_day, "per": "day"}})
    ad = Touchpoint("ad", delay=Delay("exponential", 6.0))
    row = {"buy": Edge(0.2, extra={"social_proof": 3.0})}
    return j.replace(touchpoints={**j.touchpoints, "ad": ad}, rows={"ad": row})


def social(seed: int, repeat: int) -> None:
    """Stepped social proof against the per-visit model, CPU seconds, interleaved."""
    print(machine())
    live_chat = load_journey(Path(__file__).resolve().parent.parent / "scenarios" / "online-store-live-chat.yaml")
    cases = [("live-chat scenario", live_chat, 30), ("live-chat scenario", live_chat, 120),
             ("one social-proof row, 30,000/day", social_map(30_000.0), 10)]
    step = engine.SOCIAL_STEP
    print(f"social proof read once a step ({step * 24:g} hour(s), then {engine_run.SOCIAL_LAG:.0%} of the time "
          f"elapsed, at most a day), against the per-visit model; CPU seconds, best of {repeat} interleaved runs")
    print(f"{'map':34} {'days':>5} {'visits':>10} {'stepped s':>10} {'visits/s':>11} {'per-visit s':>12} "
          f"{'visits/s':>10} {'speed-up':>9}")
    for name, journey, days in cases:
        visits = {}

        def run(stepped: bool, journey=journey, days=days):
            engine.SOCIAL_STEP = step if stepped else 0.0
            try:
                r = simulate_agents(journey, days, rng=np.random.default_rng(seed))
            finally:
                engine.SOCIAL_STEP = step
            visits[stepped] = sum(t["visits"] for t in r.touchpoints.values())

        times = interleaved({"stepped": lambda: run(True), "per visit": lambda: run(False)}, repeat)
        a, b = min(times["stepped"]), min(times["per visit"])
        print(f"{name:34} {days:>5} {visits[True]:>10,} {a:>10.2f} {visits[True] / a:>11,.0f} {b:>12.2f} "
              f"{visits[False] / b:>10,.0f} {b / a:>8.1f}x")
    print(load())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=2000.0, help="new customers per day")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3, help="runs of each model; the best counts")
    p.add_argument("--year", action="store_true", help="one 365-day run at --rate (default 2740/day: ~1e6 customers)")
    p.add_argument("--social", action="store_true", help="social proof by steps against the per-visit model")
    args = p.parse_args(argv)
    if args.social:
        social(args.seed, args.repeat)
    elif args.year:
        year(args.rate if args.rate != 2000.0 else 2740.0, args.seed)
    else:
        compare(args.rate, args.days, args.seed, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
