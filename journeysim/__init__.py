"""journeysim: customer journeys as probabilistic touchpoint graphs.

Map a journey (:func:`load_journey`), solve it exactly (:func:`solve_exact`),
simulate it, predict what a change does, and check predictions against A/B tests.
"""

__version__ = "0.1.0"

from journeysim.engines.agents import AgentResult, simulate_agents
from journeysim.engines.exact import solve_exact
from journeysim.engines.montecarlo import MonteCarloResult, simulate_montecarlo
from journeysim.errors import DataError, JourneySimError, MapError, ScenarioError, UsageError
from journeysim.journey import EXIT, Delay, Edge, Journey, Segment, Touchpoint
from journeysim.mapfile import check_map, dump_journey, load_journey, read_journey, save_journey
from journeysim.result import JourneyMetrics
from journeysim.hypfile import Hypothesis, load_hypothesis
from journeysim.predict import Prediction, save_prediction
from journeysim.export import export_journey, import_journey
from journeysim.reevaluate import Reevaluation, reevaluate

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
    "simulate_agents",
    "AgentResult",
    "simulate_montecarlo",
    "MonteCarloResult",
    "Hypothesis",
    "load_hypothesis",
    "Prediction",
    "save_prediction",
    "export_journey",
    "import_journey",
    "Reevaluation",
    "reevaluate",
]
