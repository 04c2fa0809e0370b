"""journeysim: customer journeys as probabilistic touchpoint graphs.

Map a journey (:func:`load_journey`), solve it exactly (:func:`solve_exact`),
simulate it (:func:`simulate_montecarlo`, :func:`simulate_agents`), predict what a
change does (:mod:`journeysim.whatif.prediction`), check predictions against A/B tests
(:mod:`journeysim.experiments`), fit maps from event logs (:func:`fit_events`) and
re-evaluate them (:func:`reevaluate`).

The map, its errors and the exact engine load with the package; the rest loads on
first use, so that ``import journeysim`` (and every command) starts quickly.
"""

import importlib

__version__ = "0.1.0"

from journeysim.engines.exact import solve_exact
from journeysim.engines.metrics import JourneyMetrics
from journeysim.errors import (
    DataError,
    JourneySimError,
    MapError,
    ScenarioError,
    UsageError,
)
from journeysim.journey import EXIT, Delay, Edge, Journey, Segment, Touchpoint
from journeysim.maps.read import (
    check_map,
    dump_journey,
    load_journey,
    read_journey,
    save_journey,
)

# name -> module that defines it, imported on first access (PEP 562).
_LAZY = {
    "simulate_montecarlo": "journeysim.engines.montecarlo",
    "MonteCarloResult": "journeysim.engines.montecarlo",
    "simulate_agents": "journeysim.engines.agents",
    "AgentResult": "journeysim.engines.agents",
    "Hypothesis": "journeysim.whatif.hypothesis",
    "load_hypothesis": "journeysim.whatif.hypothesis",
    "Prediction": "journeysim.whatif.prediction",
    "save_prediction": "journeysim.whatif.prediction",
    "export_journey": "journeysim.maps.convert",
    "import_journey": "journeysim.maps.convert",
    "Reevaluation": "journeysim.reevaluation",
    "reevaluate": "journeysim.reevaluation",
    "fit_events": "journeysim.fitting.fit",
    "FitResult": "journeysim.fitting.fit",
    "attribute_paths": "journeysim.attribution.credit",
    "attribute_file": "journeysim.attribution.credit",
    "Attribution": "journeysim.attribution.credit",
    "simulate_event_log": "journeysim.engines.eventlog",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'journeysim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_LAZY])


__all__ = [
    "__version__",
    "Delay",
    "Edge",
    "EXIT",
    "Journey",
    "JourneyMetrics",
    "Segment",
    "Touchpoint",
    "JourneySimError",
    "MapError",
    "ScenarioError",
    "DataError",
    "UsageError",
    "check_map",
    "dump_journey",
    "load_journey",
    "read_journey",
    "save_journey",
    "solve_exact",
    *_LAZY,
]
