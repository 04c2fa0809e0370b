"""journeysim: customer journeys as probabilistic touchpoint graphs.

The verbs a notebook needs, each a function with a doctested example
(``help(journeysim.predict)``):

* maps: :func:`load_journey`, :func:`check_map`, :func:`export`;
* what a map implies: :func:`simulate` (``engine="exact"``, ``"montecarlo"`` or ``"agents"``);
* what a change does: :func:`apply_changes`, :func:`predict`, :func:`run_plan`;
* A/B tests: :func:`design`, :func:`analyze` (a file or a pandas DataFrame), :func:`check`;
* from data: :func:`fit` (event logs to maps), :func:`attribute`, :func:`reevaluate`.

Every result has ``summary()``, ``to_dict()``, ``to_frame()`` and shows itself in
Jupyter; bad input raises a :class:`JourneySimError` (a ``ValueError``) with a
one-line message. Everything loads on first use (PEP 562), so ``import journeysim``
stays quick and a command pays only for what it uses.

Examples
--------
>>> import journeysim as js
>>> journey = js.load_journey("scenarios/online-store.yaml")
>>> round(js.simulate(journey).conversion_rate, 4)
0.0484
"""

from journeysim._lazy import lazy_exports

__version__ = "0.1.0"

# name -> module that defines it ("module:name" where the module calls it otherwise), imported on first access.
_EXPORTS = {
    # the verbs
    "load_journey": "journeysim.maps.read",
    "check_map": "journeysim.maps.read",
    "simulate": "journeysim.engines.simulation",
    "predict": "journeysim.whatif.prediction",
    "apply_changes": "journeysim.whatif.changes",
    "design": "journeysim.experiments.design",
    "analyze": "journeysim.experiments.analysis",
    "check": "journeysim.experiments.check",
    "fit": "journeysim.fitting.fit:fit_events",
    "attribute": "journeysim.attribution.credit:attribute_file",
    "reevaluate": "journeysim.reevaluation",
    "run_plan": "journeysim.whatif.runs",
    "export": "journeysim.maps.convert:export_journey",
    # the map and its parts
    "Journey": "journeysim.journey",
    "Touchpoint": "journeysim.journey",
    "Edge": "journeysim.journey",
    "Delay": "journeysim.journey",
    "Segment": "journeysim.journey",
    "EXIT": "journeysim.journey",
    "read_journey": "journeysim.maps.read",
    "dump_journey": "journeysim.maps.read",
    "save_journey": "journeysim.maps.read",
    "import_journey": "journeysim.maps.convert",
    # changes (for apply_changes) and hypotheses (for predict)
    "AddTouchpoint": "journeysim.whatif.changes",
    "SetEdge": "journeysim.whatif.changes",
    "ScaleEdge": "journeysim.whatif.changes",
    "RemoveTouchpoint": "journeysim.whatif.changes",
    "SetEntry": "journeysim.whatif.changes",
    "SetTouchpoint": "journeysim.whatif.changes",
    "Hypothesis": "journeysim.whatif.hypothesis",
    "load_hypothesis": "journeysim.whatif.hypothesis",
    "read_prediction": "journeysim.whatif.prediction",
    "save_prediction": "journeysim.whatif.prediction",
    # the engines by name, and their results
    "solve_exact": "journeysim.engines.exact",
    "simulate_montecarlo": "journeysim.engines.montecarlo.engine",
    "simulate_agents": "journeysim.engines.agents.engine",
    "simulate_event_log": "journeysim.engines.eventlog",
    "JourneyMetrics": "journeysim.engines.metrics",
    "MonteCarloResult": "journeysim.engines.montecarlo.engine",
    "AgentResult": "journeysim.engines.agents.engine",
    # the other results
    "MapCheck": "journeysim.maps.read",
    "Prediction": "journeysim.whatif.prediction",
    "RunResult": "journeysim.whatif.runs",
    "ExperimentDesign": "journeysim.experiments.design",
    "ExperimentAnalysis": "journeysim.experiments.analysis",
    "PredictionCheck": "journeysim.experiments.check",
    "FitResult": "journeysim.fitting.fit",
    "Attribution": "journeysim.attribution.credit",
    "Reevaluation": "journeysim.reevaluation",
    # older names of the verbs' functions
    "fit_events": "journeysim.fitting.fit",
    "attribute_file": "journeysim.attribution.credit",
    "attribute_paths": "journeysim.attribution.credit",
    "export_journey": "journeysim.maps.convert",
    # errors
    "JourneySimError": "journeysim.errors",
    "MapError": "journeysim.errors",
    "ScenarioError": "journeysim.errors",
    "DataError": "journeysim.errors",
    "UsageError": "journeysim.errors",
    "OutputError": "journeysim.errors",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = ["__version__", *_EXPORTS]
