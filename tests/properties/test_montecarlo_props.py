"""Properties of the Monte Carlo engine on random maps."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from journeysim.engines.montecarlo.engine import simulate_montecarlo
from tests.engines.montecarlo_agreement import LIMIT, replicates, z_scores
from tests.properties.strategies import journeys

maps = journeys(segments=True, with_delays=True, refers=True, routes=True, stages=True, discount=True, service=True)
backends = st.sampled_from(["numba", "numpy"])


@settings(max_examples=20)
@given(journey=maps, seed=st.integers(0, 2**32 - 1), backend=backends)
def test_random_maps_agree_with_the_exact_engine(journey, seed, backend):
    z = z_scores(journey, replicates(journey, seed, runs=32, customers=1500, backend=backend))
    worst = max(z, key=lambda k: abs(z[k]))
    assert abs(z[worst]) <= LIMIT, (worst, z[worst])


@given(journey=maps, seed=st.integers(0, 2**32 - 1),
       horizon=st.one_of(st.none(), st.floats(0.01, 20.0)), chunk=st.integers(5, 3000), backend=backends)
def test_every_customer_is_accounted_for(journey, seed, horizon, chunk, backend):
    n = 1500
    r = simulate_montecarlo(journey, n, rng=np.random.default_rng(seed), horizon=horizon, chunk_size=chunk,
                            removal_effects=False, backend=backend)
    out = r.outcomes
    assert sum(out.values()) == n and min(out.values()) >= 0
    assert out["converted_and_exited"] <= r.conversions <= out["converted_and_exited"] + out["travelling"]
    if horizon is None:
        assert out["travelling"] == 0
    # Every visit is followed by exactly one draw of the next step (drop-off or cut included).
    assert r.transitions == round(r.expected_touches * n)
    assert r.conversion_rate == r.conversions / n <= min(1.0, r.expected_conversions)
    lo, hi = r.conversion_rate_ci
    assert 0 <= lo <= r.conversion_rate <= hi <= 1
    for stage, reach in r.stage_reach.items():
        members = [r.visit_rate[name] for name, tp in journey.touchpoints.items() if tp.stage == stage]
        assert max(members, default=0.0) <= reach <= min(1.0, sum(members)) + 1e-12
    counts = [p["count"] for p in r.top_paths]
    assert counts == sorted(counts, reverse=True) and sum(counts) <= n
    goals = set(journey.goals)
    for p in r.top_paths:
        if p["complete"]:   # whether a path converts is decided by the path itself
            assert p["conversion_rate"] == (1.0 if goals & set(p["path"]) else 0.0)
    q = r.time_to_conversion
    if r.conversions:
        assert 0 <= q["p10"] <= q["p50"] <= q["p90"]
    else:
        assert q == {"p10": None, "p50": None, "p90": None} and r.expected_time_to_conversion is None


@settings(max_examples=15)
@given(journey=maps, seed=st.integers(0, 2**32 - 1), chunk=st.integers(200, 3000),
       horizon=st.one_of(st.none(), st.floats(0.5, 10.0)), backend=backends)
def test_same_seed_same_result_and_chunk_size_or_backend_change_only_the_stream(journey, seed, chunk, horizon,
                                                                                 backend):
    n = 10_000
    a = simulate_montecarlo(journey, n, rng=np.random.default_rng(seed), horizon=horizon, removal_effects=False)
    assert a == simulate_montecarlo(journey, n, rng=np.random.default_rng(seed), horizon=horizon,
                                    removal_effects=False)
    b = simulate_montecarlo(journey, n, rng=np.random.default_rng(seed), horizon=horizon, chunk_size=chunk,
                            removal_effects=False, backend=backend)
    # Two independent samples of the same proportions (one customer of slack for continuity).
    pairs = [(a.conversion_rate, b.conversion_rate)]
    pairs += [(a.visit_rate[x], b.visit_rate[x]) for x in journey.names]
    for x, y in pairs:
        p = (x + y) / 2
        assert abs(x - y) <= LIMIT * math.sqrt(2 * p * (1 - p) / n) + 2 / n
