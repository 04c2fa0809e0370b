"""Learning from an A/B test: update a hypothesis's uncertain numbers with the observed lift.

The prediction's draws are a sample from the prior of the hypothesis's
uncertain numbers (with the map's own uncertainty and any sampling noise
folded into each draw's lift). Weighting each draw by the likelihood of the
observed result, ``log(1 + observed lift) ~ Normal(log(1 + lift of the draw),
se^2)`` with ``se`` from the observed log risk-ratio interval, turns them into
a sample from the posterior (importance sampling, prior as proposal). The
variant map at the posterior medians, with the posterior ranges recorded in
its ``calibration`` block, becomes the new baseline.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import special, stats
from statsmodels.stats.weightstats import DescrStatsW

from journeysim._files import OWN_PROJECT
from journeysim._result import Result
from journeysim._text import fmt, format_table, interval, pct, pct_interval, percent_level, wrap
from journeysim.errors import ScenarioError, excerpt
from journeysim.experiments.analysis import ExperimentAnalysis
from journeysim.experiments.check import check_prediction
from journeysim.journey import Journey
from journeysim.whatif.hypothesis import load_hypothesis
from journeysim.whatif.prediction import Prediction

__all__ = ["ParameterPosterior", "Calibration", "calibrate_prediction", "calibrated_journey", "check_calibratable",
           "MIN_EFFECTIVE_DRAWS"]

#: Below this effective sample size the posterior rests on too few draws to be trusted.
MIN_EFFECTIVE_DRAWS = 30


@dataclass(frozen=True)
class ParameterPosterior:
    """One uncertain number before and after the test (central value = median, equal-tailed interval)."""

    path: str
    prior_median: float
    prior_interval: tuple[float, float]
    posterior_median: float
    posterior_mean: float
    posterior_interval: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"prior_median": self.prior_median, "prior_interval": list(self.prior_interval),
                "posterior_median": self.posterior_median, "posterior_mean": self.posterior_mean,
                "posterior_interval": list(self.posterior_interval)}


@dataclass(frozen=True, repr=False)
class Calibration(Result):
    """The posterior of a prediction's uncertain numbers given one observed result."""

    hypothesis: str
    prediction_file: str
    results_file: str
    variant: str
    observed_lift_rel: float
    observed_se_log: float
    draws: int
    effective_draws: float
    level: float
    prior_lift_rel: tuple[float, float, float]
    posterior_lift_rel: tuple[float, float, float]
    parameters: Mapping[str, ParameterPosterior] = field(default_factory=dict)
    method: str = ""

    def __post_init__(self):
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    @property
    def reliable(self) -> bool:
        return self.effective_draws >= MIN_EFFECTIVE_DRAWS

    def to_dict(self) -> dict[str, Any]:
        return {
            "hypothesis": self.hypothesis, "prediction": self.prediction_file, "results": self.results_file,
            "variant": self.variant, "observed_lift_rel": self.observed_lift_rel,
            "observed_se_log": self.observed_se_log, "draws": self.draws, "effective_draws": self.effective_draws,
            "interval_level": self.level, "prior_lift_rel": list(self.prior_lift_rel),
            "posterior_lift_rel": list(self.posterior_lift_rel),
            "posterior": {p: v.to_dict() for p, v in self.parameters.items()}, "method": self.method,
        }

    def summary(self) -> str:
        rows = [(p, f"{fmt(v.prior_median)} {interval(v.prior_interval)}",
                 f"{fmt(v.posterior_median)} {interval(v.posterior_interval)}") for p, v in self.parameters.items()]
        # Lifts in percent, as predict and check print them (the JSON keeps fractions)
        rows.append(("relative lift", f"{pct(self.prior_lift_rel[0])} {pct_interval(self.prior_lift_rel[1:])}",
                     f"{pct(self.posterior_lift_rel[0])} {pct_interval(self.posterior_lift_rel[1:])}"))
        parts = [format_table(f"{self.hypothesis}: before and after the test (median [{percent_level(self.level)} interval])",
                              ["uncertain number", "prior", "posterior"], rows),
                 f"observed relative lift {pct(self.observed_lift_rel)} ({self.variant}); effective draws "
                 f"{self.effective_draws:.1f} of {self.draws}"]
        if not self.reliable:
            parts.append(f"WARNING: fewer than {MIN_EFFECTIVE_DRAWS} effective draws: the observed result lies far "
                         "from the prediction; predict again with more draws or revisit the hypothesis's ranges")
        parts.append(wrap(f"method: {self.method}"))
        return "\n".join(parts)

    def _headline(self) -> str:
        return (f"{self.hypothesis!r}: relative lift {pct(self.prior_lift_rel[0])} -> {pct(self.posterior_lift_rel[0])}, "
                f"{len(self.parameters)} parameters, {self.effective_draws:.1f} effective draws of {self.draws}")

    def _table(self):
        """One row per uncertain number, then one for the relative lift: prior and posterior, with intervals."""
        rows = [(p, v.prior_median, *v.prior_interval, v.posterior_median, *v.posterior_interval)
                for p, v in self.parameters.items()]
        rows.append(("relative lift", *self.prior_lift_rel, *self.posterior_lift_rel))
        return ("parameter", "prior_median", "prior_low", "prior_high", "posterior_median", "posterior_low",
                "posterior_high"), rows


def _weighted(x: np.ndarray, w: np.ndarray, level: float) -> tuple[float, float, float, float]:
    d = DescrStatsW(x, weights=w)
    q = d.quantile([0.5, (1 - level) / 2, (1 + level) / 2], return_pandas=False)
    return float(q[0]), float(d.mean), float(q[1]), float(q[2])


def check_calibratable(prediction: Prediction) -> None:
    """Refuse, in one line, a prediction whose metric calibration cannot learn from (all but ``conversion_rate``).

    Examples
    --------
    >>> check_calibratable(Prediction("chat", "repeat_rate", baseline=0.7, variant=0.75, lift_abs=0.05,
    ...                               lift_rel=0.07, interval_level=0.9, lift_abs_interval=(0.0, 0.1),
    ...                               lift_rel_interval=(0.0, 0.14), source="rr.json"))
    Traceback (most recent call last):
    journeysim.errors.ScenarioError: rr.json: metric 'repeat_rate': calibrate learns from conversion_rate predictions only (the observed conversion-rate lift weights the draws); calibrate --events CONTROL_LOG VARIANT_LOG revises the edited edges from the arms' event logs whatever the metric
    """
    from journeysim.experiments.design import DESIGN_METRICS

    if prediction.metric == "conversion_rate":
        return
    checked = "; journeysim check records this prediction's test in the ledger" \
        if prediction.metric in DESIGN_METRICS else ""
    raise ScenarioError(f"{prediction.source}: metric {excerpt(prediction.metric)}: calibrate learns from "
                        "conversion_rate predictions only (the observed conversion-rate lift weights the draws); "
                        "calibrate --events CONTROL_LOG VARIANT_LOG revises the edited edges from the arms' event logs "
                        f"whatever the metric{checked}")


def calibrate_prediction(prediction: Prediction, analysis: ExperimentAnalysis, *,
                         variant: str | None = None) -> Calibration:
    """Importance-weight the prediction's draws by the likelihood of the observed result.

    Examples
    --------
    >>> import numpy as np
    >>> from journeysim.experiments import Arm, ExperimentData, analyze_experiment
    >>> from journeysim.whatif.prediction import Prediction
    >>> x = np.linspace(0.4, 0.6, 401)             # an uncertain number, uniform prior
    >>> rel = (x - 0.4) / 2                          # lift 0 .. +10% across its range
    >>> pred = Prediction("chat", "conversion_rate", baseline=0.05, variant=0.0525, lift_abs=0.0025, lift_rel=0.05,
    ...     interval_level=0.9, lift_abs_interval=(0.0, 0.005), lift_rel_interval=(0.005, 0.095),
    ...     samples={"baseline": 0.05 + 0 * x, "variant": 0.05 * (1 + rel), "lift_abs": 0.05 * rel, "lift_rel": rel},
    ...     parameters={"changes[0].to.purchase": x})
    >>> ab = ExperimentData("ab", "aggregated", {"control": Arm("control", 200000, 10000),
    ...                                          "chat": Arm("chat", 200000, 10800)})
    >>> cal = calibrate_prediction(pred, analyze_experiment(ab))
    >>> round(cal.parameters["changes[0].to.purchase"].posterior_median, 2)   # lift 8% <=> x = 0.56
    0.56
    """
    check_calibratable(prediction)
    if not prediction.samples:
        raise ScenarioError(f"{prediction.source}: key 'samples': the prediction has no draws to weight")
    if not prediction.parameters:
        raise ScenarioError(f"{prediction.source}: key 'parameters': the hypothesis has no uncertain numbers "
                            "(ranges or distributions), so there is nothing to calibrate")
    checked = check_prediction(prediction, analysis, variant=variant)
    crit = stats.norm.isf(analysis.alpha / 2)
    low, high = checked.observed_interval
    se_log = (math.log1p(high) - math.log1p(low)) / (2 * crit)
    lift = prediction.samples["lift_rel"]
    if np.any(lift <= -1):
        raise ScenarioError(f"{prediction.source}: key 'samples.lift_rel': a draw at or below -100% has no log ratio")
    loglik = stats.norm.logpdf(math.log1p(checked.observed_lift_rel), loc=np.log1p(lift), scale=se_log)
    w = np.exp(loglik - special.logsumexp(loglik))
    ess = float(1.0 / np.sum(w ** 2))
    level = prediction.interval_level
    flat = np.full(len(lift), 1.0 / len(lift))
    params = {}
    for path, x in prediction.parameters.items():
        prior, post = _weighted(x, flat, level), _weighted(x, w, level)
        params[path] = ParameterPosterior(path, prior[0], prior[2:], post[0], post[1], post[2:])
    prior_lift, post_lift = _weighted(lift, flat, level), _weighted(lift, w, level)
    method = ("importance sampling: prior draws of the saved prediction weighted by the normal likelihood of "
              "the observed log risk ratio (se from its statsmodels method='log' interval); weighted medians, "
              "means and equal-tailed quantiles (statsmodels DescrStatsW); effective draws 1/sum(w^2)")
    return Calibration(prediction.hypothesis, prediction.source, analysis.source, checked.variant,
                       checked.observed_lift_rel, se_log, len(lift), ess, level,
                       (prior_lift[0], *prior_lift[2:]), (post_lift[0], *post_lift[2:]), params, method)


def calibrated_journey(calibration: Calibration, hypothesis_path: str | os.PathLike, *,
                       within: Any = OWN_PROJECT) -> Journey:
    """The hypothesis's variant map at the posterior medians, with a ``calibration`` block recording the ranges.

    ``within``: where the hypothesis's baseline must lie (see :func:`journeysim.whatif.hypothesis.load_hypothesis`).
    """
    hyp = load_hypothesis(hypothesis_path, within=within)
    unknown = sorted(set(calibration.parameters) - set(hyp.parameters))
    if unknown:
        raise ScenarioError(f"{hypothesis_path}: the prediction's uncertain number {excerpt(unknown[0])} is not in this "
                            f"hypothesis (it has: {', '.join(sorted(hyp.parameters)) or 'none'}); was it edited "
                            "after the prediction?")
    variant = hyp.variant({p: v.posterior_median for p, v in calibration.parameters.items()})
    record = {
        "hypothesis": calibration.hypothesis,
        "hypothesis_file": str(hypothesis_path),
        "prediction": calibration.prediction_file,
        "results": calibration.results_file,
        "observed_lift_rel": calibration.observed_lift_rel,
        "effective_draws": round(calibration.effective_draws, 2),
        "interval_level": calibration.level,
        "posterior": {p: {"median": v.posterior_median, "range": list(v.posterior_interval),
                          "prior_range": list(v.prior_interval)} for p, v in calibration.parameters.items()},
    }
    name = f"{hyp.baseline.name} + {calibration.hypothesis} (calibrated)".strip()
    return variant.replace(name=name, extra={**variant.extra, "calibration": record})
