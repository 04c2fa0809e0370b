"""Checking a prediction against the A/B test that tested it, and recording the check in the ledger.

The comparison is on the relative lift (variant / control - 1), which carries
over from the map's population to the test's even when their baseline rates
differ. The gap's z-score combines both uncertainties: the spread of the
predicted lift (the prediction's draws) and the standard error of the observed
lift (from its log risk-ratio interval).
"""

from __future__ import annotations

import csv
import fcntl
import io
import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from scipy.stats import norm

from journeysim._hash import file_sha256
from journeysim._result import Result
from journeysim._text import fmt, format_table, pct, pct_interval, rate, wrap
from journeysim.errors import DataError, ScenarioError, UsageError, did_you_mean
from journeysim.experiments.analysis import ExperimentAnalysis, analyze
from journeysim.experiments.design import detection_power
from journeysim.whatif.prediction import Prediction, read_prediction

__all__ = ["PredictionCheck", "check", "check_prediction", "append_to_ledger", "LEDGER_COLUMNS", "VERDICTS", "CHECK_METHOD"]

#: Power below which a test that found nothing is called underpowered rather than a confirmation.
UNDERPOWERED = 0.8

VERDICTS = ("confirmed", "too optimistic", "too pessimistic", "inconclusive")

CHECK_METHOD = (
    "relative lift; observed interval: log risk ratio (statsmodels confint_proportions_2indep method='log'); "
    "z = (predicted - observed) / sqrt(sd_predicted^2 + se_observed^2), sd_predicted from the prediction's draws, "
    "se_observed from the log-ratio interval; |z| > z(1 - alpha/2): too optimistic (z > 0) or too pessimistic; "
    f"otherwise inconclusive when the observed interval contains 0 and the test's power at the predicted lift "
    f"(R power.prop.test formula) was below {UNDERPOWERED:g}, else confirmed"
)

LEDGER_COLUMNS = (
    "checked_at", "hypothesis", "prediction_file", "prediction_sha256", "results_file", "results_sha256", "metric",
    "control", "variant", "interval_level", "predicted_lift_rel", "predicted_low", "predicted_high", "predicted_sd",
    "observed_lift_rel", "observed_low", "observed_high", "observed_se", "observed_level", "customers_control",
    "customers_variant", "z", "inside", "power", "verdict",
)


@dataclass(frozen=True, repr=False)
class PredictionCheck(Result):
    """A prediction beside the observed result, and the verdict."""

    hypothesis: str
    metric: str
    prediction_file: str
    prediction_sha256: str | None
    results_file: str
    results_sha256: str | None
    control: str
    variant: str
    interval_level: float
    predicted_lift_rel: float
    predicted_interval: tuple[float, float]
    predicted_sd: float
    observed_lift_rel: float
    observed_interval: tuple[float, float]
    observed_se: float
    observed_level: float
    customers_control: int
    customers_variant: int
    z: float
    inside: bool
    power: float
    verdict: str
    explanation: str
    method: str = CHECK_METHOD

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def ledger_row(self, checked_at: str) -> dict[str, str]:
        """The ledger row (numbers at full precision, booleans ``true``/``false``)."""
        values = dict(self.to_dict(), checked_at=checked_at, predicted_low=self.predicted_interval[0],
                      predicted_high=self.predicted_interval[1], observed_low=self.observed_interval[0],
                      observed_high=self.observed_interval[1])
        text = lambda v: ("true" if v else "false") if isinstance(v, bool) else ("" if v is None else str(v))  # noqa: E731
        return {c: text(values[c]) for c in LEDGER_COLUMNS}

    def facts(self) -> tuple[tuple[str, str], ...]:
        """The predicted and observed lifts and what decides the verdict, as (label, text) rows."""
        return (
            ("predicted relative lift", f"{pct(self.predicted_lift_rel)} {pct_interval(self.predicted_interval)} "
                                        f"({self.interval_level:.0%} interval)"),
            ("observed relative lift", f"{pct(self.observed_lift_rel)} {pct_interval(self.observed_interval)} "
                                       f"({self.observed_level:.0%} interval)"),
            ("observed inside the predicted interval", fmt(self.inside)),
            ("z of the gap (predicted - observed)", fmt(self.z)),
            ("test's power at the predicted lift", rate(self.power)),
            ("customers (control / variant)", f"{self.customers_control:,} / {self.customers_variant:,}"),
        )

    def summary(self) -> str:
        rows = [*self.facts(), ("verdict", self.verdict)]
        title = f"{self.hypothesis or self.prediction_file}: {self.variant} vs {self.control}"
        return "\n".join([format_table(title, ["", "value"], rows), wrap(self.explanation), wrap(f"method: {self.method}")])

    def _headline(self) -> str:
        return (f"{self.hypothesis or self.prediction_file!r}: {self.verdict}; predicted {pct(self.predicted_lift_rel)}, "
                f"observed {pct(self.observed_lift_rel)} ({self.variant} vs {self.control})")

    def _table(self):
        """One row: every field of :meth:`to_dict`, intervals as ``*_low`` and ``*_high`` columns."""
        row = {}
        for key, value in self.to_dict().items():
            if isinstance(value, list):
                row[f"{key}_low"], row[f"{key}_high"] = value
            else:
                row[key] = value
        return list(row), [tuple(row.values())]


def _sha(path: str) -> str | None:
    return file_sha256(path) if Path(path).is_file() else None


def _pick_variant(analysis: ExperimentAnalysis, variant: str | None) -> str:
    others = [n for n in analysis.variants if n != analysis.control]
    if variant is None:
        if len(others) > 1:
            raise UsageError(f"{analysis.source} has several variants ({', '.join(others)}); choose one with --variant")
        return others[0]
    if variant not in others:
        raise DataError(f"{analysis.source}: unknown variant {variant!r}{did_you_mean(variant, others)} "
                        f"(variants besides control {analysis.control!r}: {', '.join(others)})")
    return variant


def check_prediction(prediction: Prediction, analysis: ExperimentAnalysis, *,
                     variant: str | None = None) -> PredictionCheck:
    """Compare the predicted relative lift with the one observed in ``analysis``.

    Examples
    --------
    >>> from journeysim.experiments import Arm, ExperimentData, analyze_experiment
    >>> from journeysim.whatif.prediction import Prediction, read_prediction
    >>> pred = Prediction("chat", "conversion_rate", baseline=0.05, variant=0.055, lift_abs=0.005, lift_rel=0.10,
    ...                   interval_level=0.9, lift_abs_interval=(0.001, 0.009), lift_rel_interval=(0.02, 0.18))
    >>> ab = ExperimentData("ab.csv", "aggregated", {"control": Arm("control", 40000, 2000),
    ...                                              "chat": Arm("chat", 40000, 2180)})
    >>> check_prediction(pred, analyze_experiment(ab)).verdict
    'confirmed'
    """
    if prediction.metric != "conversion_rate":
        raise ScenarioError(f"{prediction.source}: key 'metric': {prediction.metric!r}; an A/B result's conversion "
                            "rates can only check a conversion_rate prediction")
    name = _pick_variant(analysis, variant)
    v, c = analysis.variants[name], analysis.variants[analysis.control]
    if v.lift_rel is None:
        raise DataError(f"{analysis.source}: no conversions in {name!r} or {analysis.control!r}: "
                        "the relative lift is undefined")
    crit = norm.isf(analysis.alpha / 2)
    low, high = v.lift_rel_ci
    se = (1 + v.lift_rel) * (math.log1p(high) - math.log1p(low)) / (2 * crit)
    sd = prediction.lift_rel_sd
    z = (prediction.lift_rel - v.lift_rel) / math.hypot(sd, se)
    power = float(detection_power(c.rate, min(c.rate * (1 + prediction.lift_rel), 1 - 1e-12), v.customers,
                                  alpha=analysis.alpha, ratio=v.customers / c.customers))
    inside = prediction.lift_rel_interval[0] <= v.lift_rel <= prediction.lift_rel_interval[1]
    if z > crit:
        verdict, why = "too optimistic", "the prediction is significantly above the observed lift"
    elif z < -crit:
        verdict, why = "too pessimistic", "the prediction is significantly below the observed lift"
    elif low <= 0 <= high and power < UNDERPOWERED:
        verdict, why = "inconclusive", (f"the test was underpowered (power {power:.2f} at the predicted lift) and "
                                        "found no significant effect: it can neither confirm nor refute the prediction")
    else:
        verdict, why = "confirmed", "the observed lift agrees with the prediction within both uncertainties"
    return PredictionCheck(
        hypothesis=prediction.hypothesis, metric=prediction.metric, prediction_file=prediction.source,
        prediction_sha256=_sha(prediction.source), results_file=analysis.source,
        results_sha256=_sha(analysis.source), control=analysis.control, variant=name,
        interval_level=prediction.interval_level, predicted_lift_rel=prediction.lift_rel,
        predicted_interval=prediction.lift_rel_interval, predicted_sd=sd, observed_lift_rel=v.lift_rel,
        observed_interval=(low, high), observed_se=se, observed_level=1 - analysis.alpha,
        customers_control=c.customers, customers_variant=v.customers, z=z, inside=inside, power=power,
        verdict=verdict, explanation=f"verdict: {verdict}: {why}.")


def append_to_ledger(path: str | os.PathLike, check: PredictionCheck, *, force: bool = False,
                     checked_at: str | None = None) -> dict[str, str]:
    """Append one row to the ledger CSV (created with its header when absent) and return it.

    Earlier rows are never rewritten: the row is appended under an exclusive
    lock, so concurrent checks cannot interleave. Refused unless ``force``: a
    check of the same prediction and result files (by content hash) and
    variant, and a result's variant already recorded as the test of a
    hypothesis with another title (the likely sign of a result paired with the
    wrong prediction: neither file names the test).
    """
    source = str(path)
    if not Path(path).parent.is_dir():
        raise DataError(f"{source}: folder {str(Path(path).parent)!r} does not exist")
    checked_at = checked_at or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    row = check.ledger_row(checked_at)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LEDGER_COLUMNS, lineterminator="\n")
    if Path(path).is_dir():
        raise DataError(f"{source}: is a folder, not a ledger CSV file")
    try:
        fh = open(path, "a+", encoding="utf-8", newline="")
    except OSError as exc:
        raise DataError(f"{source}: cannot open the ledger for appending ({exc.strerror})") from None
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes
        fh.seek(0)
        try:
            existing = fh.read()
        except UnicodeDecodeError as exc:
            raise DataError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start}); not a journeysim ledger")\
                from None
        if not existing:
            writer.writeheader()
        else:
            _check_existing(source, existing, row, force)
        writer.writerow(row)
        fh.write(buf.getvalue())  # append mode: the write lands after the last row
        fh.flush()
        os.fsync(fh.fileno())
    return row


def _check_existing(source: str, existing: str, row: dict[str, str], force: bool) -> None:
    if not existing.endswith("\n"):
        raise DataError(f"{source}: the last line is incomplete; repair the ledger before appending")
    reader = csv.DictReader(io.StringIO(existing))
    if tuple(reader.fieldnames or ()) != LEDGER_COLUMNS:
        raise DataError(f"{source}: line 1: not a journeysim ledger header (expected: {','.join(LEDGER_COLUMNS)})")
    if force or not row["results_sha256"]:
        return
    for i, old in enumerate(reader, start=2):
        if (old.get("results_sha256"), old.get("variant")) != (row["results_sha256"], row["variant"]):
            continue
        if row["prediction_sha256"] and old.get("prediction_sha256") == row["prediction_sha256"]:
            raise DataError(f"{source}: line {i} already records this prediction checked against this result "
                            f"({old.get('checked_at')}); use --force to record it again")
        # Neither file names its test, so the ledger is the one witness of a result paired with the wrong
        # prediction: one arm of one test tests one hypothesis.
        if row["hypothesis"] and old.get("hypothesis") and old["hypothesis"] != row["hypothesis"]:
            raise DataError(f"{source}: line {i} already records {row['results_file']} (variant {row['variant']!r}) "
                            f"as the test of another hypothesis, {old['hypothesis']!r} ({old.get('prediction_file')}); "
                            f"check that it tested {row['hypothesis']!r}, or record it anyway with --force")


def check(prediction: Prediction | str | os.PathLike, results: Any, *, variant: str | None = None,
          ledger: str | os.PathLike | None = None, force: bool = False, **options: Any) -> PredictionCheck:
    """Was the prediction right? Put an A/B test's observed lift beside the predicted one.

    The Python side of ``journeysim check``, except that nothing is written unless
    ``ledger`` names the ledger to append the check to.

    Parameters
    ----------
    prediction : Prediction or path of a saved prediction
    results : path, pandas.DataFrame, ExperimentData or ExperimentAnalysis
        The A/B test's results (read and analysed by
        :func:`~journeysim.experiments.analysis.analyze` unless already analysed).
    variant : str, optional
        The variant that implements the hypothesis (needed when there are several).
    ledger : path, optional
        Append the check to this ledger CSV (created with its header if missing).
    force : bool
        Record a check the ledger already holds again (see :func:`append_to_ledger`).
    **options
        Passed to :func:`~journeysim.experiments.analysis.analyze` (``control``,
        ``alpha``, column names...).

    Returns
    -------
    PredictionCheck

    Examples
    --------
    >>> c = check("experiments/live-chat.prediction.json", "experiments/live-chat.results.csv")
    >>> c.verdict, c.inside
    ('inconclusive', False)
    """
    if not isinstance(prediction, Prediction):
        prediction = read_prediction(prediction)
    analysis = results if isinstance(results, ExperimentAnalysis) else analyze(results, **options)
    if isinstance(results, ExperimentAnalysis) and options:
        raise UsageError(f"{', '.join(options)}: the results are already analysed; give them to analyze() instead")
    result = check_prediction(prediction, analysis, variant=variant)
    if ledger is not None:
        append_to_ledger(ledger, result, force=force)
    return result
