"""Monte Carlo in blocks on several threads: the result depends on the seed, not on the number of threads."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeysim import load_journey
from journeysim.cli import main
from journeysim.engines.montecarlo import blocks
from journeysim.engines.montecarlo.engine import simulate_montecarlo
from journeysim.errors import LimitError, UsageError
from tests.conftest import SCENARIOS
from tests.engines.montecarlo_agreement import LIMIT, replicates, z_scores
from tests.properties.strategies import journeys

HOURGLASS = SCENARIOS / "b2b-hourglass.yaml"   # referrals, delays, a discount, segments, stages


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 700 new customers, so that a test's few thousand customers make several."""
    monkeypatch.setattr(blocks, "BLOCK", 700)


def same(a, b) -> bool:
    return json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_any_number_of_threads_gives_the_same_result(small_blocks, backend):
    journey = load_journey(HOURGLASS)
    runs = [simulate_montecarlo(journey, 5_000, rng=np.random.default_rng(4), workers=w, backend=backend,
                                removal_effects=False) for w in (1, 2, 3)]
    assert same(runs[0], runs[1]) and same(runs[0], runs[2])
    assert runs[0].referred["customers"] > 0 and runs[0].customers == 5_000
    assert "in blocks of 700, each with its own random stream" in runs[0].method


def test_one_block_is_the_run_without_blocks_draw_for_draw():
    journey = load_journey(HOURGLASS)
    one = simulate_montecarlo(journey, 20_000, rng=np.random.default_rng(9), workers=2, removal_effects=False)
    plain = simulate_montecarlo(journey, 20_000, rng=np.random.default_rng(9), removal_effects=False)
    a, b = one.to_dict(), plain.to_dict()
    assert a.pop("method") != b.pop("method")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_blocks_are_independent_streams_that_merge_into_one_sample(small_blocks):
    # 24 runs of 2,100 customers = 3 blocks each, pooled: every metric within LIMIT standard errors of the exact engine
    journey = load_journey(HOURGLASS)
    z = z_scores(journey, replicates(journey, seed=5, runs=24, customers=2_100, workers=2))
    worst = max(z, key=lambda k: abs(z[k]))
    assert abs(z[worst]) <= LIMIT, (worst, z[worst])
    # and the blocks are not copies of one another: a block's conversions differ from the next one's
    first = simulate_montecarlo(journey, 700, rng=np.random.default_rng(5), workers=1, removal_effects=False)
    both = simulate_montecarlo(journey, 1_400, rng=np.random.default_rng(5), workers=1, removal_effects=False)
    assert both.transitions != 2 * first.transitions


@settings(max_examples=10)
@given(journey=journeys(segments=True, with_delays=True, refers=True, routes=True, stages=True, discount=True),
       seed=st.integers(0, 2**32 - 1), customers=st.integers(1, 2_500),
       horizon=st.one_of(st.none(), st.floats(0.1, 20.0)))
def test_random_maps_threads_change_nothing_and_every_customer_is_counted(journey, seed, customers, horizon):
    blocks.BLOCK, saved = 600, blocks.BLOCK
    try:
        one, two = (simulate_montecarlo(journey, customers, rng=np.random.default_rng(seed), workers=w,
                                        horizon=horizon, removal_effects=False) for w in (1, 2))
    finally:
        blocks.BLOCK = saved
    assert same(one, two)
    assert sum(one.outcomes.values()) == customers == one.customers


def test_progress_reaches_every_customer(small_blocks):
    seen = []
    simulate_montecarlo(load_journey(HOURGLASS), 3_000, rng=np.random.default_rng(1), workers=2,
                        progress=seen.append, removal_effects=False)
    assert seen[-1] == 3_000 and seen == sorted(seen)


def test_a_horizon_run_past_its_budget_stops_with_the_limit_error(small_blocks):
    journey = load_journey(HOURGLASS)
    # the run takes about 8,700 transitions; each block may take its share of 6,000
    with pytest.raises(LimitError, match="the run stopped at the limit of 6,000 transitions"):
        simulate_montecarlo(journey, 5_000, rng=np.random.default_rng(1), workers=2, horizon=1e6,
                            max_transitions=6_000, removal_effects=False)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_workers_must_be_a_positive_integer(workers):
    with pytest.raises(UsageError, match="workers="):
        simulate_montecarlo(load_journey(HOURGLASS), 10, rng=np.random.default_rng(1), workers=workers)


def test_simulate_passes_workers_to_the_montecarlo_engine_only(small_blocks):
    from journeysim import simulate

    run = simulate(HOURGLASS, "montecarlo", customers=1_500, rng=np.random.default_rng(2), workers=2,
                   removal_effects=False)
    assert same(run, simulate_montecarlo(load_journey(HOURGLASS), 1_500, rng=np.random.default_rng(2), workers=1,
                                         removal_effects=False, source=str(HOURGLASS)))
    with pytest.raises(UsageError, match="workers=2 belongs to the montecarlo engine, not to engine='exact'"):
        simulate(HOURGLASS, workers=2)


def test_cli_workers(capsys):
    args = ["simulate", str(HOURGLASS), "--engine", "montecarlo", "--customers", "1,100,000", "--seed", "3",
            "--quiet", "--json"]
    outputs = []
    for workers in ("1", "2"):
        assert main([*args, "--workers", workers]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1] and outputs[0]["customers"] == 1_100_000
    assert "blocks of 1048576" in outputs[0]["method"]
    assert main(["simulate", str(HOURGLASS), "--workers", "2"]) == 2
    assert "--workers belongs to the montecarlo engine, not to --engine exact" in capsys.readouterr().err
    assert main([*args, "--workers", "0"]) == 2
    assert "--workers '0': must be a whole number from 1 to 1_024" in capsys.readouterr().err
