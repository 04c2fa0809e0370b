"""One engine result: every engine returns a JourneyMetrics, with the same names and JSON keys in the same order."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from journeysim import Journey, JourneyMetrics, solve_exact
from journeysim.engines.agents.engine import simulate_agents
from journeysim.engines.metrics import METRIC_KEYS
from journeysim.engines.montecarlo.engine import SAMPLE_KEYS, simulate_montecarlo

from tests.conftest import SCENARIOS

JOURNEY = Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.5}, "page": {"buy": 0.4}}, goals=["buy"],
                            extra={"arrivals": {"rate": 50, "per": "day"}})
RESULTS = {
    "exact": lambda: solve_exact(JOURNEY),
    "montecarlo": lambda: simulate_montecarlo(JOURNEY, 2_000, rng=np.random.default_rng(1), seed=1),
    "agents": lambda: simulate_agents(JOURNEY, 5, rng=np.random.default_rng(1)),
}
METRIC_FIELDS = [f.name for f in dataclasses.fields(JourneyMetrics)]


@pytest.mark.parametrize("engine", RESULTS)
def test_every_engine_returns_the_metrics_under_the_same_names_and_keys(engine):
    result = RESULTS[engine]()
    assert isinstance(result, JourneyMetrics) and result.engine == engine
    assert [f.name for f in dataclasses.fields(result)][:len(METRIC_FIELDS)] == METRIC_FIELDS
    d = result.to_dict()
    assert tuple(d)[:len(METRIC_KEYS)] == METRIC_KEYS
    assert list(d)[-1] == "method" and d["method"] == result.method and result.method
    assert d["engine"] == engine
    json.dumps(d)                                     # JSON-ready all the way down
    assert 0 < result.conversion_rate < 1 and set(result.visit_rate) == set(JOURNEY.names)


def test_the_montecarlo_keys_follow_the_metrics_and_the_method_closes():
    d = RESULTS["montecarlo"]().to_dict()
    assert list(d) == [*METRIC_KEYS, *SAMPLE_KEYS, "method"]


@pytest.mark.parametrize("engine, extra", [("exact", []), ("montecarlo", ["--customers", "2000", "--seed", "1"]),
                                           ("agents", ["--days", "3", "--seed", "1"])])
def test_simulate_json_of_every_engine_starts_with_the_metric_keys_and_states_its_method(engine, extra):
    command = ["simulate", str(SCENARIOS / "online-store-live-chat.yaml"), "--engine", engine, "--json", "--quiet"]
    out = subprocess.run([sys.executable, "-m", "journeysim", *command, *extra], capture_output=True, text=True,
                         check=True)
    data = json.loads(out.stdout)
    assert tuple(data)[:len(METRIC_KEYS)] == METRIC_KEYS
    assert data["engine"] == engine and data["method"]


@pytest.mark.parametrize("engine", ["exact", "montecarlo"])
def test_a_metric_that_overflows_is_said_not_passed_off_as_a_number(engine):
    import warnings

    import numpy as np

    from journeysim import Journey, simulate

    # a goal worth 1e308 visited 10 times on average: the value overflows to inf (JSON null), which nothing said
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 1.0}, "buy": {"buy": 0.9}}, goals=["buy"],
                          touchpoint_attributes={"buy": {"value": 1e308}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m = simulate(j, engine, **({} if engine == "exact" else {"customers": 500, "rng": np.random.default_rng(1)}))
    assert m.expected_value == float("inf")
    [warning] = [w for w in m.warnings if "not finite" in w]
    assert warning.startswith("expected_value, value_per_seed_customer") and "overflowed double precision" in warning
    assert dataclasses.replace(m, method="again").warnings == m.warnings       # said once, not once a copy
    fine = simulate(Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}}, goals=["buy"],
                                      touchpoint_attributes={"buy": {"value": 1e300}}))
    assert fine.expected_value == 5e299 and not fine.warnings
