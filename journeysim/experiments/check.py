"""Checking a prediction against the A/B test that tested it, and recording the check in the ledger.

The comparison is on the relative lift (variant / control - 1), which carries
over from the map's population to the test's even when their baseline rates
differ: of the conversion rate for a ``conversion_rate`` prediction, of the mean
revenue per customer (the analysis's Welch statistics) for an ``expected_value``
one, and for a ``value_per_seed_customer`` one (the revenue column then credits each
customer with the revenue of the customers they referred, and theirs in turn). The gap's z-score combines both uncertainties: the spread of the predicted
lift (the prediction's draws) and the standard error of the observed lift (from
its log-ratio interval).
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from scipy.stats import norm

from journeysim._hash import file_sha256
from journeysim._result import Result
from journeysim._safe import csv_cell
from journeysim._text import fmt, format_table, pct, pct_interval, percent_level, rate, wrap
from journeysim.errors import (
    DataError,
    JourneySimWarning,
    OutputError,
    ScenarioError,
    UsageError,
    did_you_mean,
    excerpt,
)
from journeysim.experiments.analysis import ExperimentAnalysis, analyze
from journeysim.experiments.design import DESIGN_METRICS, detection_power
from journeysim.experiments.value_power import value_power
from journeysim.whatif.prediction import Prediction, read_prediction

__all__ = ["PredictionCheck", "check", "check_prediction", "append_to_ledger", "check_ledger_file", "split_last_line",
           "is_ledger_row",
           "LedgerWarning", "LEDGER_COLUMNS", "VERDICTS", "CHECK_METHOD", "VALUE_CHECK_METHOD"]

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

VALUE_CHECK_METHOD = (
    "relative lift of mean revenue per customer; observed interval: log ratio of the arms' means with the delta "
    "method on their Welch standard errors; z = (predicted - observed) / sqrt(sd_predicted^2 + se_observed^2), "
    "sd_predicted from the prediction's draws, se_observed from the log-ratio interval; |z| > z(1 - alpha/2): too "
    "optimistic (z > 0) or too pessimistic; otherwise inconclusive when the observed interval contains 0 and the "
    f"test's power at the predicted lift (two-sample t-test with the observed spreads) was below {UNDERPOWERED:g}, "
    "else confirmed"
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
        """The ledger row (numbers at full precision, booleans ``true``/``false``, text that a spreadsheet would take
        for a formula neutralised: see :func:`journeysim._safe.csv_cell`)."""
        values = dict(self.to_dict(), checked_at=checked_at, predicted_low=self.predicted_interval[0],
                      predicted_high=self.predicted_interval[1], observed_low=self.observed_interval[0],
                      observed_high=self.observed_interval[1])
        text = lambda v: ("true" if v else "false") if isinstance(v, bool) else ("" if v is None else  # noqa: E731
                                                                               csv_cell(v) if isinstance(v, str) else str(v))
        return {c: text(values[c]) for c in LEDGER_COLUMNS}

    def facts(self) -> tuple[tuple[str, str], ...]:
        """The predicted and observed lifts and what decides the verdict, as (label, text) rows."""
        return (
            ("predicted relative lift", f"{pct(self.predicted_lift_rel)} {pct_interval(self.predicted_interval)} "
                                        f"({percent_level(self.interval_level)} interval)"),
            ("observed relative lift", f"{pct(self.observed_lift_rel)} {pct_interval(self.observed_interval)} "
                                       f"({percent_level(self.observed_level)} interval)"),
            ("observed inside the predicted interval", fmt(self.inside)),
            ("z of the gap (predicted - observed)", fmt(self.z)),
            ("test's power at the predicted lift", rate(self.power)),
            ("customers (control / variant)", f"{self.customers_control:,} / {self.customers_variant:,}"),
        )

    def summary(self) -> str:
        rows = [*self.facts(), ("verdict", self.verdict)]
        title = f"{self.hypothesis or self.prediction_file}: {self.variant} vs {self.control} ({self.metric})"
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
        raise DataError(f"{analysis.source}: unknown variant {excerpt(variant)}{did_you_mean(variant, others)} "
                        f"(variants besides control {excerpt(analysis.control)}: {', '.join(others)})")
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
    if prediction.metric not in DESIGN_METRICS:
        raise ScenarioError(f"{prediction.source}: key 'metric': {excerpt(prediction.metric)} is not observed in an A/B result; "
                            "check compares conversion_rate predictions with the arms' conversion rates, and "
                            "expected_value and value_per_seed_customer predictions with their revenue per customer")
    if prediction.lift_rel is None:
        raise ScenarioError(f"{prediction.source}: the predicted baseline is 0, so there is no relative lift to check")
    name = _pick_variant(analysis, variant)
    v, c = analysis.variants[name], analysis.variants[analysis.control]
    ratio = v.customers / c.customers
    if prediction.metric == "conversion_rate":
        if v.lift_rel is None:
            raise DataError(f"{analysis.source}: no conversions in {excerpt(name)} or {excerpt(analysis.control)}: "
                            "the relative lift is undefined")
        if v.lift_rel_ci is None:
            raise DataError(f"{analysis.source}: every customer of {excerpt(name)} or {excerpt(analysis.control)} "
                            "converted: the observed relative lift has no log risk-ratio interval to check against")
        observed, (low, high), method = v.lift_rel, v.lift_rel_ci, CHECK_METHOD
        power = float(detection_power(c.rate, min(c.rate * (1 + prediction.lift_rel), 1 - 1e-12), v.customers,
                                      alpha=analysis.alpha, ratio=ratio))
    else:
        if v.revenue_mean is None or c.revenue_mean is None:
            raise DataError(f"{analysis.source}: no revenue per customer, which a prediction of {prediction.metric} is "
                            "checked against (a 'revenue' column, or revenue_sum and revenue_sumsq)")
        if v.revenue_lift_rel is None:
            raise DataError(f"{analysis.source}: no revenue in {excerpt(name)} or {excerpt(analysis.control)}: "
                            "the relative lift of revenue per customer is undefined")
        if not c.revenue_sd or not v.revenue_sd:
            raise DataError(f"{analysis.source}: revenue per customer does not vary in {excerpt(name)} or "
                            f"{excerpt(analysis.control)}: its test has no standard error")
        if v.revenue_lift_rel_ci is None:
            raise DataError(f"{analysis.source}: the relative lift of revenue per customer of {excerpt(name)} has no "
                            "interval (a mean per customer near 0 against its standard error)")
        observed, (low, high), method = v.revenue_lift_rel, v.revenue_lift_rel_ci, VALUE_CHECK_METHOD
        if prediction.metric == "value_per_seed_customer":
            method = ("revenue per customer read as revenue per seed customer (each customer's own and that of "
                      "every customer their referrals brought); " + method)
        power = float(value_power(c.revenue_mean * prediction.lift_rel, v.customers, sd=c.revenue_sd,
                                  variant_sd=v.revenue_sd, alpha=analysis.alpha, ratio=ratio))
    crit = norm.isf(analysis.alpha / 2)
    se = (1 + observed) * (math.log1p(high) - math.log1p(low)) / (2 * crit)
    sd = prediction.lift_rel_sd
    z = (prediction.lift_rel - observed) / math.hypot(sd, se)
    inside = prediction.lift_rel_interval[0] <= observed <= prediction.lift_rel_interval[1]
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
        predicted_interval=prediction.lift_rel_interval, predicted_sd=sd, observed_lift_rel=observed,
        observed_interval=(low, high), observed_se=se, observed_level=1 - analysis.alpha,
        customers_control=c.customers, customers_variant=v.customers, z=z, inside=inside, power=power,
        verdict=verdict, explanation=f"verdict: {verdict}: {why}.", method=method)


def append_to_ledger(path: str | os.PathLike, check: PredictionCheck, *, force: bool = False,
                     checked_at: str | None = None) -> dict[str, str]:
    """Append one row to the ledger CSV (created with its header when absent) and return it.

    Earlier rows are never rewritten: the row is appended under an exclusive lock
    (:func:`journeysim._files.append_locked`) in one write followed by fsync, so
    concurrent checks queue and never interleave. A last line cut short by an
    interrupted write is dropped (it was never a row; a warning names it). Refused
    unless ``force``: a check of the same prediction and result files (by content
    hash) and variant, and a result's variant already recorded as the test of a
    hypothesis with another title (the likely sign of a result paired with the
    wrong prediction: neither file names the test).

    Examples
    --------
    >>> import tempfile
    >>> from journeysim.experiments import Arm, ExperimentData, analyze_experiment
    >>> pred = Prediction("chat", "conversion_rate", baseline=0.05, variant=0.055, lift_abs=0.005, lift_rel=0.10,
    ...                   interval_level=0.9, lift_abs_interval=(0.001, 0.009), lift_rel_interval=(0.02, 0.18))
    >>> ab = ExperimentData("ab.csv", "aggregated", {"control": Arm("control", 40000, 2000),
    ...                                              "chat": Arm("chat", 40000, 2180)})
    >>> ledger = Path(tempfile.mkdtemp()) / "ledger.csv"
    >>> row = append_to_ledger(ledger, check_prediction(pred, analyze_experiment(ab)), checked_at="2026-01-01T00:00:00Z")
    >>> len(ledger.read_text().splitlines()), row["verdict"]
    (2, 'confirmed')
    """
    from journeysim._files import append_locked

    source = str(path)
    checked_at = checked_at or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    row = check.ledger_row(checked_at)
    dropped: list[str] = []

    def build(existing: bytes) -> tuple[bytes, int]:
        head, tail = split_last_line(existing)
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start}); not a journeysim ledger")\
                from None
        keep = len(existing)
        if tail and is_ledger_row(tail):
            text += tail.decode("utf-8") + "\n"      # a whole row missing its newline (an editor's save)
            prefix = "\n"
        else:
            prefix = ""
            if tail:
                keep = len(head)
                dropped.append(tail.decode("utf-8", errors="replace"))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=LEDGER_COLUMNS, lineterminator="\n")
        if not text:
            writer.writeheader()
        else:
            _check_existing(source, text, row, force)
        writer.writerow(row)
        return (prefix + buf.getvalue()).encode("utf-8"), keep

    try:
        append_locked(path, build)
    except OutputError as exc:
        raise DataError(str(exc)) from None
    for line in dropped:
        warnings.warn(f"{source}: dropped an incomplete last line left by an interrupted write: "
                      f"{line[:80]!r}{'...' if len(line) > 80 else ''}", LedgerWarning, stacklevel=2)
    return row


def check_ledger_file(path: str | os.PathLike) -> None:
    """Refuse now, before any analysis, a file that exists but is not a journeysim ledger.

    A missing or empty file is fine (the first append writes the header), and so is a lone first line cut short
    by an interrupted write (the append drops it); any other file must start with the ledger's header line, or a
    check would be computed only to be refused at the end.

    Examples
    --------
    >>> check_ledger_file("experiments/ledger.csv")
    >>> check_ledger_file("experiments/live-chat.results.csv")
    Traceback (most recent call last):
    ...
    journeysim.errors.DataError: experiments/live-chat.results.csv: line 1: not a journeysim ledger header (expected: checked_at,...)
    """
    try:
        with open(path, "rb") as f:
            first = f.readline()
    except FileNotFoundError:
        return
    except IsADirectoryError:
        return                           # check_writable names this case
    if not first.endswith(b"\n"):
        return                           # empty, or a lone line cut short: the append drops it (see append_to_ledger)
    if first.rstrip(b"\r\n").decode("utf-8", "replace") != ",".join(LEDGER_COLUMNS):
        raise DataError(f"{path}: line 1: not a journeysim ledger header (expected: {','.join(LEDGER_COLUMNS)})")


def split_last_line(data: bytes) -> tuple[bytes, bytes]:
    """``(head, tail)``: the file up to its last newline (included) and what follows it (no newline).

    Examples
    --------
    >>> split_last_line(b"a\\nb")
    (b'a\\n', b'b')
    >>> split_last_line(b"a\\n")
    (b'a\\n', b'')
    """
    cut = data.rfind(b"\n") + 1
    return data[:cut], data[cut:]


def is_ledger_row(line: bytes) -> bool:
    """Whether a line (without its newline) is a whole ledger row: every column, a known verdict.

    Examples
    --------
    >>> row = ",".join("confirmed" if c == "verdict" else "1" for c in LEDGER_COLUMNS)
    >>> is_ledger_row(row.encode()), is_ledger_row(row.encode()[:-4])
    (True, False)
    """
    try:
        fields = next(csv.reader([line.decode("utf-8")]), [])
    except (UnicodeDecodeError, csv.Error):
        return False
    return len(fields) == len(LEDGER_COLUMNS) and fields[LEDGER_COLUMNS.index("verdict")] in VERDICTS


class LedgerWarning(JourneySimWarning):
    """A ledger line was skipped or dropped (an interrupted write); the command line prints it as a note."""


def _check_existing(source: str, existing: str, row: dict[str, str], force: bool) -> None:
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
            raise DataError(f"{source}: line {i} already records {row['results_file']} (variant {excerpt(row['variant'])}) "
                            f"as the test of another hypothesis, {excerpt(old['hypothesis'])} ({old.get('prediction_file')}); "
                            f"check that it tested {excerpt(row['hypothesis'])}, or record it anyway with --force")


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
    if ledger is not None:
        from journeysim._files import check_writable

        check_writable(ledger)              # before the analysis, not after it
        check_ledger_file(ledger)
    if not isinstance(prediction, Prediction):
        prediction = read_prediction(prediction)
    analysis = results if isinstance(results, ExperimentAnalysis) else analyze(results, **options)
    if isinstance(results, ExperimentAnalysis) and options:
        raise UsageError(f"{', '.join(options)}: the results are already analysed; give them to analyze() instead")
    result = check_prediction(prediction, analysis, variant=variant)
    if ledger is not None:
        append_to_ledger(ledger, result, force=force)
    return result
