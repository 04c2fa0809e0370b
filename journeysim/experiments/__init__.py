"""Experiments: design the A/B test, analyse its result, check predictions against it, learn from the ledger."""

from journeysim._lazy import lazy_exports

# Each module loads on first use: analysing a result must not load the prediction machinery behind check.
# The verbs check() and design() are journeysim.check and journeysim.design: here their names are the modules.
_WHERE = {
    "Arm": "results", "ExperimentData": "results", "read_results": "results",
    "ExperimentDesign": "design", "design_experiment": "design", "design_from_prediction": "design",
    "ExperimentAnalysis": "analysis", "VariantResult": "analysis", "analyze": "analysis",
    "analyze_experiment": "analysis", "StratifiedAnalysis": "strata", "analyze_strata": "strata",
    "PredictionCheck": "check", "check_prediction": "check", "append_to_ledger": "check",
    "LedgerReport": "ledger", "summarize_ledger": "ledger",
    "Calibration": "calibrate", "calibrate_prediction": "calibrate", "calibrated_journey": "calibrate",
}

__all__ = list(_WHERE)

__getattr__, __dir__ = lazy_exports(__name__, {name: f"{__name__}.{module}" for name, module in _WHERE.items()},
                                    globals())
