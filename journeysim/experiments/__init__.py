"""Experiments: design the A/B test, analyse its result, check predictions against it, learn from the ledger."""

from journeysim.experiments.analysis import (
    ExperimentAnalysis,
    VariantResult,
    analyze,
    analyze_experiment,
)
from journeysim.experiments.calibrate import (
    Calibration,
    calibrate_prediction,
    calibrated_journey,
)
from journeysim.experiments.check import (
    PredictionCheck,
    append_to_ledger,
    check,
    check_prediction,
)
from journeysim.experiments.design import (
    ExperimentDesign,
    design,
    design_experiment,
    design_from_prediction,
)
from journeysim.experiments.ledger import LedgerReport, plot_ledger, summarize_ledger
from journeysim.experiments.results import Arm, ExperimentData, read_results

__all__ = [
    "Arm", "ExperimentData", "read_results",
    "ExperimentDesign", "design", "design_experiment", "design_from_prediction",
    "ExperimentAnalysis", "VariantResult", "analyze", "analyze_experiment",
    "PredictionCheck", "check", "check_prediction", "append_to_ledger",
    "LedgerReport", "summarize_ledger", "plot_ledger",
    "Calibration", "calibrate_prediction", "calibrated_journey",
]
