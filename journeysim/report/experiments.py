"""Report builders for predictions, their checks against A/B results, and the ledger of checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from journeysim._text import fmt, interval, pct, pct_interval, percent_level
from journeysim.errors import DataError
from journeysim.experiments.check import PredictionCheck
from journeysim.experiments.ledger import LedgerReport
from journeysim.report.document import Report, Section, Table
from journeysim.report.plots import (
    Plot,
    plot_calibration,
    plot_edge_check,
    plot_lift_distribution,
)
from journeysim.whatif.prediction import Prediction

__all__ = ["predict_report", "check_report", "edges_report", "ledger_report", "ledger_plot"]


def _lift_plot(prediction: Prediction, check: PredictionCheck | None = None):
    return plot_lift_distribution(prediction.samples.get("lift_rel", ()), prediction.lift_rel_interval,
                                  metric=prediction.metric, level=prediction.interval_level,
                                  observed=None if check is None else check.observed_lift_rel,
                                  observed_interval=None if check is None else check.observed_interval,
                                  title="Predicted lift" if check is None else "Predicted lift and the A/B result")


def predict_report(prediction: Prediction, details: Mapping[str, Any] | None = None) -> Report:
    """A saved prediction: baseline, variant and lift with intervals, the lift's distribution, breakdowns.

    ``details`` is the saved file's whole content (``prob_positive``, ``by_stage``,
    ``by_segment``, ``engine``, ``method``...), shown where present.
    """
    raw = details or {}
    level = prediction.interval_level
    facts = [
        ("hypothesis", prediction.hypothesis), ("metric", prediction.metric),
        ("baseline", f"{fmt(prediction.baseline)} {interval(raw.get('baseline_interval'), missing='')}"),
        ("variant", f"{fmt(prediction.variant)} {interval(raw.get('variant_interval'), missing='')}"),
        ("absolute lift", f"{fmt(prediction.lift_abs)} {interval(prediction.lift_abs_interval, missing='')}"),
        ("relative lift", f"{pct(prediction.lift_rel)} {pct_interval(prediction.lift_rel_interval)}"),
        ("interval level", f"{level:g}"),
        ("P(lift > 0)", fmt(raw.get("prob_positive"))),
        ("engine, draws, seed", f"{raw.get('engine', '-')}, {raw.get('draws', '-')}, {raw.get('seed', '-')}"),
    ]
    sections = [Section("Predicted lift", plots=(_lift_plot(prediction),))]
    for key, label in (("by_stage", "stage"), ("by_segment", "segment")):
        part = raw.get(key)
        if isinstance(part, dict) and part:
            rows = tuple((name, *_breakdown(values)) for name, values in part.items())
            sections.append(Section(f"By {label}", tables=(Table((label, "baseline", "variant", "absolute lift"),
                                                                  rows),)))
    method = (str(raw["method"]),) if raw.get("method") else ()
    return Report("predict", prediction.hypothesis or prediction.source, tuple(facts), tuple(sections), method)


def _breakdown(values) -> tuple[str, str, str]:
    if not isinstance(values, dict):
        return (fmt(values), "-", "-")
    return tuple(fmt(values.get(k)) if not isinstance(values.get(k), (list, tuple)) else "-"
                 for k in ("baseline", "variant", "lift_abs"))


def check_report(prediction: Prediction, check: PredictionCheck) -> Report:
    """The observed A/B result over the predicted lift distribution, and the verdict."""
    facts = (("verdict", check.verdict), *check.facts(), ("variant vs control", f"{check.variant} vs {check.control}"))
    sections = (Section("Prediction and result", (check.explanation,), plots=(_lift_plot(prediction, check),)),)
    return Report("check", check.hypothesis or check.prediction_file, facts, sections, (check.method,))


def edges_report(prediction: Prediction, check, variant_map) -> Report:
    """A per-edge check (:class:`journeysim.experiments.edges.EdgeCheck`): the edited part of the map with the
    predicted and observed numbers on its edges, every edge's row in a table, and the headline check."""
    verdicts = [e.verdict for e in check.edges.values()]
    facts = [("hypothesis", check.hypothesis), ("edges", ", ".join(f"{verdicts.count(v)} {v}" for v in
                                                                  ("confirmed", "refuted", "inconclusive")))]
    if check.headline is not None:
        facts.append(("headline verdict", check.headline.verdict))
    rows = tuple((k, interval(e.predicted), fmt(e.control), interval(e.control_ci), fmt(e.variant),
                  interval(e.variant_ci), e.verdict) for k, e in check.edges.items())
    table = Table(("edge", f"predicted ({percent_level(check.level)})", "control", "control interval", "variant",
                   "variant interval", "verdict"), rows)
    picture = plot_edge_check(variant_map, list(check.edges.values()))
    sections = [Section("The edited edges", (), tables=(table,), plots=() if picture is None else (picture,))]
    if check.headline is not None:
        sections.append(Section("The headline: the overall lift", (check.headline.explanation,),
                                plots=(_lift_plot(prediction, check.headline),)))
    method = (*(f"warning: {w}" for w in check.warnings), check.method,
              *(() if check.headline is None else (check.headline.method,)))
    return Report("check", check.hypothesis or check.prediction, tuple(facts), tuple(sections), method)


def ledger_plot(ledger: LedgerReport) -> Plot:
    """The ledger's calibration plot: observed against predicted lift with both intervals, and the gaps' z-scores.

    Parameters
    ----------
    ledger : LedgerReport
        From :func:`~journeysim.experiments.ledger.summarize_ledger`, with at least one check.

    Returns
    -------
    Plot
        Its ``png`` is the picture (``journeysim ledger --plot FILE`` writes it).

    Examples
    --------
    >>> from journeysim.experiments.ledger import summarize_ledger
    >>> plot = ledger_plot(summarize_ledger("experiments/ledger.csv"))
    >>> plot.png[:4], [a[0] for a in plot.axes]
    (b'\x89PNG', ['Calibration of the predictions', 'Gaps between predicted and observed'])
    """
    if not ledger.checks:
        raise DataError(f"{ledger.source}: no checks to plot")
    v = [e.values for e in ledger.entries]
    return plot_calibration([x["predicted_lift_rel"] for x in v], [x["observed_lift_rel"] for x in v],
                            [x["predicted_low"] for x in v], [x["predicted_high"] for x in v],
                            [e.inside for e in ledger.entries],
                            observed_interval=([x["observed_low"] for x in v], [x["observed_high"] for x in v]),
                            z=[x["z"] for x in v])


def ledger_report(ledger: LedgerReport) -> Report:
    """Calibration over every checked prediction: coverage, bias, and the calibration plot."""
    facts = (
        ("checks", str(ledger.checks)),
        ("coverage of the predicted intervals", f"{ledger.covered}/{ledger.checks} = {fmt(ledger.coverage)} "
                                                f"{interval(ledger.coverage_ci)} (nominal {fmt(ledger.nominal_level)})"),
        ("binomial test of coverage, p", fmt(ledger.coverage_pvalue)),
        ("mean bias (predicted - observed relative lift)", f"{fmt(ledger.mean_bias)} {interval(ledger.mean_bias_ci)}"),
        ("median bias", fmt(ledger.median_bias)),
        ("verdicts", ", ".join(f"{k}: {v}" for k, v in ledger.verdicts.items()) or "-"),
    )
    sections = []
    if ledger.entries:
        plot = ledger_plot(ledger)
        rows = tuple((str(e.line), e.hypothesis, pct(e.values["predicted_lift_rel"]),
                      pct(e.values["observed_lift_rel"]), fmt(e.inside), fmt(e.values["z"]), e.verdict)
                     for e in ledger.entries)
        sections.append(Section("Calibration", plots=(plot,),
                                tables=(Table(("line", "hypothesis", "predicted lift", "observed lift", "inside",
                                               "z", "verdict"), rows),)))
    else:
        sections.append(Section("Calibration", ("No checks recorded yet.",)))
    return Report("ledger", f"Ledger {ledger.source}", facts, tuple(sections), (ledger.method,))
