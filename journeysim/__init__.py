"""journeysim: customer journeys as probabilistic touchpoint graphs.

Map a journey (:func:`load_journey`), solve it exactly (:func:`solve_exact`),
simulate it, predict what a change does, and check predictions against A/B tests.
"""

__version__ = "0.1.0"

from journeysim.engines.exact import solve_exact
from journeysim.errors import DataError, JourneySimError, MapError, ScenarioError, UsageError
from journeysim.journey import EXIT, Delay, Edge, Journey, Segment, Touchpoint
from journeysim.mapfile import check_map, dump_journey, load_journey, read_journey, save_journey
from journeysim.result import JourneyMetrics

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
]
