"""Per-edge checks: test the mechanism a hypothesis names, row by row, from the two arms' event logs.

A hypothesis says how rows of the map change ("15% of cart leavers open the chat; 40-60% of them buy").
One map is fitted per arm; for every row the hypothesis edits, each outcome's observed probability in
the variant arm (its Dirichlet posterior interval) is put beside the hypothesis's predicted distribution
of that edge, and the control arm's beside the baseline map. An edge is

* ``refuted`` when the variant's interval and the predicted interval do not overlap;
* ``confirmed`` when they overlap and the variant's interval also excludes the control arm's value (or the
  prediction itself allows no change);
* ``inconclusive`` otherwise: the variant arm is too small to tell the predicted change from none.

Testing the edited rows directly needs far fewer customers than the headline conversion rate, whose
lift is diluted by every customer who never reaches the edited rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import stats

from journeysim._files import OWN_PROJECT
from journeysim._result import Result
from journeysim._text import fmt, format_table, interval, percent_level, wrap
from journeysim.errors import DataError, ScenarioError, did_you_mean, excerpt
from journeysim.journey import EXIT, Edge, Journey
from journeysim.whatif.hypothesis import Hypothesis, load_hypothesis
from journeysim.whatif.prediction import Prediction
from journeysim.whatif.uncertain import DIRICHLET_PRIOR

__all__ = ["EdgeResult", "EdgeCheck", "check_arms", "arms_analysis", "revised_from_arms", "edited_rows", "predicted_edges", "pooled_row", "observed_edge", "check_edges",
           "edge_verdict", "revise_rows"]


@dataclass(frozen=True)
class EdgeResult:
    """One outcome of an edited row: predicted, control and variant probabilities and the verdict."""

    source: str
    target: str
    predicted: tuple[float, float]
    baseline: float
    control: float | None
    control_ci: tuple[float, float] | None
    variant: float | None
    variant_ci: tuple[float, float] | None
    verdict: str

    @property
    def key(self) -> str:
        return f"{self.source} -> {self.target}"

    def to_dict(self) -> dict[str, Any]:
        pair = lambda v: None if v is None else list(v)  # noqa: E731
        return {"predicted": list(self.predicted), "baseline": self.baseline, "control": self.control,
                "control_ci": pair(self.control_ci), "variant": self.variant, "variant_ci": pair(self.variant_ci),
                "verdict": self.verdict}


def edge_verdict(predicted: tuple[float, float], variant_ci: tuple[float, float] | None,
                 reference: float) -> str:
    """``confirmed``, ``refuted`` or ``inconclusive`` (see the module's docstring).

    ``reference`` is the edge's probability without the change (the control arm's, else the baseline map's).

    Examples
    --------
    >>> edge_verdict((0.4, 0.6), (0.45, 0.52), 0.0), edge_verdict((0.4, 0.6), (0.1, 0.2), 0.0)
    ('confirmed', 'refuted')
    >>> edge_verdict((0.1, 0.2), (0.02, 0.3), 0.05)    # too few customers to tell 0.15 from 0.05
    'inconclusive'
    """
    if variant_ci is None:
        return "inconclusive"
    (plo, phi), (vlo, vhi) = predicted, variant_ci
    if vhi < plo or vlo > phi:
        return "refuted"
    if plo <= reference <= phi or not vlo <= reference <= vhi:
        return "confirmed"
    return "inconclusive"


@dataclass(frozen=True, repr=False)
class EdgeCheck(Result):
    """Every edited edge checked, plus the headline check of the overall lift; ``warnings`` are the fits' of the
    arms' logs, each naming its log (events left out for having no user id, journeys of a single touch...)."""

    prediction: str
    hypothesis: str
    level: float
    edges: Mapping[str, EdgeResult]
    headline: Any = None
    arms: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    method: str = ""
    #: The variant arm's departures from each edited row, by outcome (what :func:`revise_rows` updates with).
    variant_counts: Mapping[str, Mapping[str, float]] = field(default_factory=dict, repr=False)
    warnings: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "edges", MappingProxyType(dict(self.edges)))
        object.__setattr__(self, "arms", MappingProxyType(dict(self.arms)))
        object.__setattr__(self, "variant_counts", MappingProxyType(
            {a: MappingProxyType(dict(c)) for a, c in self.variant_counts.items()}))

    def to_dict(self) -> dict[str, Any]:
        return {"edges": {k: e.to_dict() for k, e in self.edges.items()},
                "headline": None if self.headline is None else self.headline.to_dict(),
                "level": self.level, "warnings": list(self.warnings), "method": self.method}

    def _headline(self) -> str:
        verdicts = [e.verdict for e in self.edges.values()]
        return ", ".join(f"{verdicts.count(v)} {v}" for v in ("confirmed", "refuted", "inconclusive"))

    def _table(self):
        columns = ["edge", "from", "to", "predicted_low", "predicted_high", "baseline", "control", "variant",
                   "variant_low", "variant_high", "verdict"]
        rows = [(k, e.source, e.target, *e.predicted, e.baseline, e.control, e.variant,
                 *(e.variant_ci or (None, None)), e.verdict) for k, e in self.edges.items()]
        return columns, rows

    def summary(self) -> str:
        level = percent_level(self.level)
        rows = [(k, interval(e.predicted), fmt(e.control), fmt(e.variant), interval(e.variant_ci), e.verdict)
                for k, e in self.edges.items()]
        parts = [f"hypothesis: {self.hypothesis}",
                 format_table(f"edited edges ({level} intervals)",
                              ["edge", "predicted", "control", "variant", "variant interval", "verdict"], rows)]
        if self.headline is not None:
            parts.append(self.headline.summary())
        parts.extend(wrap(f"warning: {w}") for w in self.warnings)
        parts.append(wrap(f"method: {self.method}"))
        return "\n".join(parts)



def edited_rows(hypothesis: Hypothesis, draws: Mapping[str, np.ndarray] | None = None) -> list[str]:
    """Touchpoints whose row the hypothesis changes (at its central values or at any draw), in map order.

    Examples
    --------
    >>> edited_rows(load_hypothesis("scenarios/hypotheses/live-chat.yaml"))
    ['cart', 'live chat']
    """
    base = hypothesis.baseline
    variants = [hypothesis.variant()]
    if draws:
        first = {p: float(v[0]) for p, v in draws.items()}
        variants.append(hypothesis.variant(first))
    changed = []
    for v in variants:
        for name in v.names:
            old = {b: e.p for b, e in base.rows.get(name, {}).items()} if name in base.touchpoints else None
            new = {b: e.p for b, e in v.rows.get(name, {}).items()}
            if old != new and name not in changed:
                changed.append(name)
    order = variants[0].names
    return sorted(changed, key=order.index)


def _segment_row(journey: Journey, name: str) -> dict[str, float]:
    row = {b: e.p for b, e in journey.rows.get(name, {}).items()}
    row[EXIT] = journey.exit_probability(name) if name in journey.touchpoints else 1.0
    return row


def pooled_row(journey: Journey, name: str) -> dict[str, float]:
    """The row of ``name`` as a log pooled over segments shows it: each segment's row weighted by the
    expected visits its customers make to ``name`` (a fit without a segment column sees that mixture)."""
    if not journey.segments or name not in journey.touchpoints:
        return _segment_row(journey, name)
    from journeysim.engines.compiled import compile_journey

    pooled: dict[str, float] = {}
    total = 0.0
    for _, share, j in journey.segment_journeys():
        chain = compile_journey(j)
        visits = np.linalg.solve((np.eye(chain.n) - chain.Q.toarray()).T, chain.entry)[chain.index(name)]
        weight = share * visits
        total += weight
        for b, p in _segment_row(j, name).items():
            pooled[b] = pooled.get(b, 0.0) + weight * p
    return {b: float(p / total) for b, p in pooled.items()} if total > 0 else _segment_row(journey, name)


def predicted_edges(hypothesis: Hypothesis, rows: Sequence[str], parameters: Mapping[str, np.ndarray],
                    level: float) -> dict[tuple[str, str], tuple[float, float]]:
    """The predicted ``level`` interval of every outcome of ``rows`` over the prediction's draws."""
    draws = max((len(v) for v in parameters.values()), default=0)
    variants = ([hypothesis.variant({p: float(v[k]) for p, v in parameters.items()}) for k in range(draws)]
                if draws else [hypothesis.variant()])
    drawn = [{a: pooled_row(j, a) for a in rows} for j in variants]
    # an outcome some draws leave out has probability 0 in those draws
    edges = dict.fromkeys((a, b) for d in drawn for a in rows for b in d[a])
    tail = (1 - level) / 2
    out = {}
    for a, b in edges:
        values = np.array([d[a].get(b, 0.0) for d in drawn])
        out[a, b] = (float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail)))
    return out


def observed_edge(counts: Mapping[str, float], target: str, level: float) -> tuple[float, tuple[float, float]]:
    """A row's observed probability of ``target`` and its Dirichlet posterior interval.

    ``counts`` are the departures to each outcome (exit included). The marginal of one outcome under
    ``Dirichlet(counts + prior)`` is a beta distribution, whose equal-tailed quantiles give the interval.

    Examples
    --------
    >>> p, (lo, hi) = observed_edge({"buy": 30, "exit": 70}, "buy", 0.9)
    >>> p, round(lo, 4), round(hi, 4)
    (0.3, 0.2295, 0.379)
    """
    total = float(sum(counts.values()))
    k = counts.get(target, 0.0)
    outcomes = len(counts) + (target not in counts)
    a, b = k + DIRICHLET_PRIOR, total - k + DIRICHLET_PRIOR * (outcomes - 1)
    tail = (1 - level) / 2
    return (float(k / total) if total else math.nan), (float(stats.beta.ppf(tail, a, b)), float(stats.beta.ppf(1 - tail, a, b)))


def _counts(fit, row: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for a, b, p, departures, _, _ in fit.edges:
        if a == row:
            out[b] = float(p) * float(departures)
    return out


def _arm(fit) -> dict[str, Any]:
    return {"source": fit.source, "journeys": fit.journeys, "events": fit.events,
            "events_without_user": fit.without_user}


def check_edges(prediction: Prediction, control_log, variant_log, *, hypothesis: Hypothesis | None = None,
                headline=None, **fit_options) -> EdgeCheck:
    """Fit one map per arm and check every edge the prediction's hypothesis edits.

    Parameters
    ----------
    prediction : Prediction
        A saved prediction (:func:`journeysim.whatif.prediction.read_prediction`); its draws give each
        edge's predicted interval at its ``interval_level``.
    control_log, variant_log : path
        The arms' event logs, in any layout :func:`journeysim.fitting.fit.fit_events` reads.
    hypothesis : Hypothesis, optional
        Defaults to the prediction's ``hypothesis_file``.
    headline : PredictionCheck, optional
        The overall check, reported beside the edges.
    **fit_options
        Passed to ``fit_events`` for both logs (``goals``, ``repeat``, ``lookback``...).

    Returns
    -------
    EdgeCheck
    """
    from journeysim.fitting.fit import fit_events

    if hypothesis is None:
        if not prediction.hypothesis_file:
            raise ScenarioError(f"{prediction.source}: key 'hypothesis_file' is missing: the edited rows cannot be "
                                "known; pass the hypothesis")
        hypothesis = load_hypothesis(prediction.hypothesis_file)
    level = prediction.interval_level
    rows = edited_rows(hypothesis, prediction.parameters)
    if not rows:
        raise ScenarioError(f"{hypothesis.source}: the hypothesis edits no row of the map: there is no edge to check")
    predicted = predicted_edges(hypothesis, rows, prediction.parameters, level)
    control, variant = (fit_events(log, **fit_options) for log in (control_log, variant_log))
    seen = {a for a, *_ in variant.edges} | {a for a, *_ in control.edges}
    if not any(a in seen for a in rows):
        raise DataError(f"{variant_log}: no customer left any edited row ({', '.join(map(excerpt, rows))}) in either "
                        "arm's log: are the touchpoints named as in the map?")
    edges = {}
    for (a, b), band in predicted.items():
        base = float(pooled_row(hypothesis.baseline, a).get(b, 0.0)) if a in hypothesis.baseline.touchpoints else 0.0
        c_counts, v_counts = _counts(control, a), _counts(variant, a)
        c, c_ci = observed_edge(c_counts, b, level) if c_counts else (None, None)
        v, v_ci = observed_edge(v_counts, b, level) if v_counts else (None, None)
        reference = c if c is not None else base
        edges[f"{a} -> {b}"] = EdgeResult(a, b, band, base, c, c_ci, v, v_ci, edge_verdict(band, v_ci, reference))
    method = (f"one map fitted per arm ({control.method}); each edited row's outcomes: observed share with an "
              f"equal-tailed {percent_level(level)} interval of its Dirichlet posterior (counts plus {DIRICHLET_PRIOR} per "
              f"outcome: a beta marginal), against the {percent_level(level)} interval of the edge over the prediction's "
              f"{max(1, prediction.draws)} draws; confirmed: the intervals overlap and the variant's excludes the "
              "control arm's share (or the prediction allows no change); refuted: they do not overlap; "
              f"inconclusive otherwise; each edge at the {percent_level(level)} level, no multiplicity correction (of "
              f"{len(edges)} edges about {len(edges) * (1 - level):.1f} may disagree by chance)")
    return EdgeCheck(prediction=prediction.source, hypothesis=hypothesis.title, level=level, edges=edges,
                     headline=headline, arms={"control": _arm(control), "variant": _arm(variant)}, method=method,
                     variant_counts={a: _counts(variant, a) for a in rows if _counts(variant, a)},
                     warnings=tuple(f"{fit.source}: {w}" for fit in (control, variant) for w in fit.warnings))


def arms_analysis(control_log, variant_log, goals: Sequence[str]):
    """The headline A/B analysis of two arms known only by their event logs: customers, and customers who reached
    one of ``goals``, per arm (with each customer's goal value as revenue where the logs carry values)."""
    from journeysim.experiments.analysis import analyze_experiment
    from journeysim.experiments.results import Arm, ExperimentData
    from journeysim.logs.customers import customer_totals, touchpoint_names

    arms = {}
    for name, log in (("control", control_log), ("variant", variant_log)):
        t = customer_totals(log, goals)
        arms[name] = Arm(name, t.customers, t.converted, revenue_sum=t.value_sum, revenue_sumsq=t.value_sumsq)
    if not any(arm.conversions for arm in arms.values()):
        # nobody converted in either arm: most likely a goal spelt as neither log writes it (--goal purchse)
        names = touchpoint_names(control_log) | touchpoint_names(variant_log)
        unseen = [goal for goal in goals if goal not in names]
        if unseen:
            raise DataError(f"{control_log} + {variant_log}: goal {excerpt(unseen[0])} occurs in neither log"
                            f"{did_you_mean(unseen[0], names)}")
    return analyze_experiment(ExperimentData(f"{control_log} + {variant_log}", "aggregated", arms))


def check_arms(prediction: Prediction, control_log, variant_log, *, analysis=None, goals: Sequence[str] = (),
               variant: str | None = None, **fit_options) -> tuple[EdgeCheck, Hypothesis]:
    """The per-edge check of two arms' event logs with its headline, and the prediction's hypothesis.

    Parameters
    ----------
    prediction : Prediction
    control_log, variant_log : path
    analysis : ExperimentAnalysis, optional
        The A/B result file's analysis for the headline; by default the logs' customer totals
        (:func:`arms_analysis`).
    goals : touchpoints that count as conversions in the logs (default: the baseline map's goals).
    variant : the variant of ``analysis`` that implements the hypothesis, if it has several.
    **fit_options
        ``repeat``, ``lookback``... for :func:`journeysim.fitting.fit.fit_events`.

    Returns
    -------
    (EdgeCheck, Hypothesis)
    """
    from journeysim.experiments.check import check_prediction

    if not prediction.hypothesis_file:
        raise ScenarioError(f"{prediction.source}: the prediction names no hypothesis file: its edited rows are unknown")
    hypothesis = load_hypothesis(prediction.hypothesis_file)
    goals = list(goals) or list(hypothesis.baseline.goals)
    if analysis is None:
        analysis = arms_analysis(control_log, variant_log, goals)
    headline = check_prediction(prediction, analysis, variant=variant)
    check = check_edges(prediction, control_log, variant_log, hypothesis=hypothesis, headline=headline, goals=goals,
                        **fit_options)
    return check, hypothesis


def revise_rows(journey: Journey, check: EdgeCheck) -> Journey:
    """``journey`` with exactly the checked rows replaced by their posterior means (a Dirichlet update).

    The map's row is the prior, weighted by its ``observations`` (a single pseudo-customer without them);
    the variant arm's departures (``check.variant_counts``) are the data. Rows the variant arm never left
    stay as they are.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.2}}, goals=["buy"], observations={"ad": 100})
    >>> e = EdgeResult("ad", "buy", (0.2, 0.4), 0.2, None, None, 0.3, (0.25, 0.35), "confirmed")
    >>> check = EdgeCheck("p.json", "h", 0.9, {e.key: e}, variant_counts={"ad": {"buy": 30, "exit": 70}})
    >>> revised = revise_rows(j, check)
    >>> revised.rows["ad"]["buy"].p, revised.observations["ad"]   # (20 + 30) / (100 + 100)
    (0.25, 200.0)
    """
    counts = check.variant_counts
    rows = {a: dict(r) for a, r in journey.rows.items()}
    observations = dict(journey.observations)
    for a in dict.fromkeys(e.source for e in check.edges.values()):
        if a not in counts or a not in journey.touchpoints:
            continue
        prior_n = float(journey.observations.get(a, 1.0))
        prior = pooled_row(journey, a)
        outcomes = dict.fromkeys([*prior, *counts[a]])
        post = {b: prior.get(b, 0.0) * prior_n + counts[a].get(b, 0.0) for b in outcomes}
        total = sum(post.values())
        old = journey.rows.get(a, {})
        rows[a] = {b: Edge(post[b] / total, old[b].delay if b in old else None, old[b].extra if b in old else {})
                   for b in outcomes if b != EXIT and post[b] > 0}
        observations[a] = total
    return journey.replace(rows=rows, observations=observations)


def revised_from_arms(prediction: Prediction, control_log, variant_log, *, hypothesis_path=None,
                      goals: Sequence[str] = (), within=OWN_PROJECT) -> tuple[EdgeCheck, Journey]:
    """The per-edge check of the arms' logs and the variant map revised from it (``calibrate --events``).

    The variant map (the hypothesis at its central values) gets exactly the edited rows updated by the
    variant arm's counts (:func:`revise_rows`); its ``calibration`` block records the check.

    Parameters
    ----------
    prediction : Prediction
    control_log, variant_log : path
    hypothesis_path : path, optional
        The hypothesis file (default: the prediction's ``hypothesis_file``).
    goals : touchpoints that count as conversions in the logs (default: the baseline map's goals).
    within : folder or None, optional
        The folder the hypothesis's baseline map must lie in (default its project; ``None``: anywhere);
        see :func:`~journeysim.whatif.hypothesis.load_hypothesis`.

    Returns
    -------
    (EdgeCheck, Journey)
    """
    path = hypothesis_path or prediction.hypothesis_file
    if not path:
        raise ScenarioError(f"{prediction.source}: the prediction names no hypothesis file: its edited rows are unknown")
    hyp = load_hypothesis(path, within=within)
    check = check_edges(prediction, control_log, variant_log, hypothesis=hyp,
                        goals=list(goals) or list(hyp.baseline.goals))
    variant = hyp.variant()
    record = {"hypothesis": hyp.title, "hypothesis_file": str(path), "prediction": prediction.source,
              "events": [str(control_log), str(variant_log)], "edges": {k: e.to_dict() for k, e in check.edges.items()}}
    revised = revise_rows(variant, check).replace(
        name=f"{hyp.baseline.name} + {hyp.title} (revised from the arms' logs)".strip(),
        extra={**variant.extra, "calibration": record})
    return check, revised
