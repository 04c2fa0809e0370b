import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Derandomised in CI so a statistical property cannot turn red by chance between runs.
settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BUNDLED_MAPS = sorted(p for p in SCENARIOS.glob("*.yaml"))


@pytest.fixture
def scenarios() -> Path:
    return SCENARIOS


@pytest.fixture
def online_store():
    from journeysim import load_journey

    return load_journey(SCENARIOS / "online-store.yaml")
