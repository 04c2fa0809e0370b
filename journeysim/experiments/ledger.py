"""The calibration report of a ledger of checked predictions: are our journey models honest?

Coverage compares how often the observed lift fell inside the predicted
interval with the intervals' nominal level (an exact Clopper-Pearson interval
and a binomial test); bias is predicted minus observed relative lift; the
z-scores of the gaps should look standard normal when the models are calibrated.
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from journeysim._result import Result
from journeysim._safe import csv_text
from journeysim._text import (
    count,
    fmt,
    format_table,
    pct,
    pct_interval,
    rate,
    rate_interval,
    wrap,
)
from journeysim.errors import DataError, excerpt
from journeysim.experiments.check import LEDGER_COLUMNS, LedgerWarning, is_ledger_row, split_last_line

__all__ = ["LedgerEntry", "LedgerReport", "read_ledger", "summarize_ledger", "LEDGER_METHOD"]

LEDGER_METHOD = ("coverage: share of checks whose observed lift is inside the predicted interval, Clopper-Pearson "
                 "interval (statsmodels proportion_confint method='beta') and exact binomial test against the mean "
                 "nominal level (scipy.stats.binomtest); bias = predicted - observed relative lift, t interval and "
                 "test of mean bias = 0 (scipy.stats.ttest_1samp)")
_NUMBERS = ("interval_level", "predicted_lift_rel", "predicted_low", "predicted_high", "observed_lift_rel",
            "observed_low", "observed_high", "z")
#: The largest lift or z a row may hold: the report squares them (overflow from about 1.3e154).
_LARGEST = 1e100


@dataclass(frozen=True)
class LedgerEntry:
    """The numbers of one ledger row the report uses, and the row as written (``row``: column -> text)."""

    line: int
    hypothesis: str
    verdict: str
    inside: bool
    values: Mapping[str, float]
    row: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


def _text_of(path: str | os.PathLike) -> str:
    """The ledger's text without an incomplete last line (an interrupted write), which is reported and skipped."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{source}: no such file (a ledger is created by `journeysim check --ledger FILE`)") from None
    except OSError as exc:
        raise DataError(f"{source}: cannot read ({exc.strerror})") from None
    head, tail = split_last_line(data)
    if tail and not is_ledger_row(tail):
        shown, line = tail.decode("utf-8", errors="replace"), head.count(b"\n") + 1
        warnings.warn(f"{source}: line {line} is incomplete (an interrupted write?) and was "
                      f"skipped: {shown[:80]!r}{'...' if len(shown) > 80 else ''}", LedgerWarning, stacklevel=3)
        data = head
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not a readable CSV ledger (not UTF-8: {exc.reason} at byte {exc.start})") from None


def read_ledger(path: str | os.PathLike) -> list[LedgerEntry]:
    """Read a ledger CSV, naming the line and column of any bad value.

    A last line cut short by an interrupted write is skipped with a :class:`LedgerWarning` naming it;
    every other line must be a whole row.

    Examples
    --------
    >>> import tempfile, warnings
    >>> f = Path(tempfile.mkdtemp()) / "ledger.csv"
    >>> _ = f.write_text(",".join(LEDGER_COLUMNS) + "\\n2026-01-15T12:00:00Z,Live cha")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     entries = read_ledger(f)
    >>> entries, str(caught[0].message).split(": ", 1)[1]
    ([], "line 2 is incomplete (an interrupted write?) and was skipped: '2026-01-15T12:00:00Z,Live cha'")
    """
    source = str(path)
    try:
        rows = list(csv.DictReader(io.StringIO(_text_of(path), newline="")))
        header = rows and list(rows[0]) or None
    except csv.Error as exc:
        raise DataError(f"{source}: not a readable CSV ledger ({exc})") from None
    if header is not None:
        missing = [c for c in LEDGER_COLUMNS if c not in header]
        if missing:
            raise DataError(f"{source}: line 1: missing column '{missing[0]}'")
    entries = []
    for line, row in enumerate(rows, start=2):
        values = {}
        for col in _NUMBERS:
            try:
                values[col] = float(row[col])
            except (TypeError, ValueError):
                raise DataError(f"{source}: line {line}, column '{col}': {excerpt(row[col])} is not a number") from None
            if not math.isfinite(values[col]):
                raise DataError(f"{source}: line {line}, column '{col}': {excerpt(row[col])} is not a finite number")
            # a hand-edited row must still be one check could write: the report's binomial test takes the levels
            # as probabilities, and its bias and z statistics square the other numbers
            if col == "interval_level" and not 0 < values[col] < 1:
                raise DataError(f"{source}: line {line}, column '{col}': {excerpt(row[col])} is not an interval "
                                "level between 0 and 1")
            if abs(values[col]) > _LARGEST:
                raise DataError(f"{source}: line {line}, column '{col}': {excerpt(row[col])} is beyond "
                                f"+/-{_LARGEST:g}")
        if row["inside"] not in ("true", "false"):
            raise DataError(f"{source}: line {line}, column 'inside': {excerpt(row['inside'])} is not true or false")
        entries.append(LedgerEntry(line, csv_text(row["hypothesis"]), row["verdict"], row["inside"] == "true", values,
                                   MappingProxyType(dict(row))))
    return entries


@dataclass(frozen=True, repr=False)
class LedgerReport(Result):
    """How well the checked predictions were calibrated."""

    source: str
    checks: int
    covered: int
    coverage: float | None
    coverage_ci: tuple[float, float] | None
    nominal_level: float | None
    coverage_pvalue: float | None
    mean_bias: float | None
    median_bias: float | None
    mean_bias_ci: tuple[float, float] | None
    bias_pvalue: float | None
    mean_z: float | None
    sd_z: float | None
    verdicts: Mapping[str, int] = field(default_factory=dict)
    entries: tuple[LedgerEntry, ...] = field(default=(), repr=False)
    method: str = LEDGER_METHOD

    def __post_init__(self):
        object.__setattr__(self, "verdicts", MappingProxyType(dict(self.verdicts)))

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "entries"}
        out["verdicts"] = dict(self.verdicts)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def summary(self) -> str:
        if not self.checks:
            return f"{self.source}: no checks recorded yet"
        rows = [
            ("checks", count(self.checks)),
            ("coverage of the predicted intervals", f"{self.covered}/{self.checks} = {rate(self.coverage)} "
             f"{rate_interval(self.coverage_ci)}"),
            ("nominal level (binomial test p)", f"{rate(self.nominal_level)} (p = {fmt(self.coverage_pvalue)})"),
            ("mean bias (predicted - observed lift)", f"{pct(self.mean_bias)} {pct_interval(self.mean_bias_ci)}"),
            ("t-test of the mean bias, p", fmt(self.bias_pvalue)),
            ("median bias", pct(self.median_bias)),
            ("z of the gaps: mean / sd (calibrated: 0 / 1)", f"{fmt(self.mean_z)} / {fmt(self.sd_z)}"),
            ("verdicts", ", ".join(f"{k}: {v}" for k, v in self.verdicts.items())),
        ]
        verdict = ""
        if self.mean_bias_ci is not None and self.mean_bias_ci[0] > 0:
            verdict = "\nthe models are consistently too optimistic"
        elif self.mean_bias_ci is not None and self.mean_bias_ci[1] < 0:
            verdict = "\nthe models are consistently too pessimistic"
        return (format_table(f"ledger {self.source}", ["", "value"], rows) + verdict
                + "\n" + wrap(f"method: {self.method}"))

    def _headline(self) -> str:
        return (f"{self.source}: {self.checks} checks, coverage {fmt(self.coverage)} (nominal {fmt(self.nominal_level)}), "
                f"mean bias {fmt(self.mean_bias)}")

    def _table(self):
        """One row per check in the ledger: its line, hypothesis, verdict, whether inside, and its recorded values."""
        keys = list(dict.fromkeys(k for e in self.entries for k in e.values))
        rows = [(e.line, e.hypothesis, e.verdict, e.inside, *(e.values.get(k) for k in keys)) for e in self.entries]
        return ("line", "hypothesis", "verdict", "inside", *keys), rows


def summarize_ledger(path: str | os.PathLike) -> LedgerReport:
    """Coverage, bias and z-scores over every check in the ledger.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from journeysim.experiments.check import LEDGER_COLUMNS, LedgerWarning, is_ledger_row, split_last_line
    >>> row = dict.fromkeys(LEDGER_COLUMNS, "") | {"interval_level": "0.9", "predicted_lift_rel": "0.1",
    ...     "predicted_low": "0.05", "predicted_high": "0.15", "observed_lift_rel": "0.04", "observed_low": "0.01",
    ...     "observed_high": "0.07", "z": "1.9", "inside": "false", "verdict": "confirmed"}
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "ledger.csv"
    >>> _ = f.write_text(",".join(LEDGER_COLUMNS) + "\\n" + ",".join(row.values()) + "\\n")
    >>> r = summarize_ledger(f)
    >>> r.checks, r.covered, round(r.mean_bias, 6)
    (1, 0, 0.06)
    """
    entries = read_ledger(path)
    n = len(entries)
    if n == 0:
        return LedgerReport(str(path), 0, 0, None, None, None, None, None, None, None, None, None, None)
    covered = sum(e.inside for e in entries)
    nominal = float(np.mean([e.values["interval_level"] for e in entries]))
    low, high = proportion_confint(covered, n, alpha=0.05, method="beta")
    bias = np.array([e.values["predicted_lift_rel"] - e.values["observed_lift_rel"] for e in entries])
    z = np.array([e.values["z"] for e in entries])
    mean_ci = p_bias = None
    if n > 1 and np.std(bias) > 0:
        t = stats.ttest_1samp(bias, 0.0)
        ci = t.confidence_interval(0.95)
        mean_ci, p_bias = (float(ci.low), float(ci.high)), float(t.pvalue)
    return LedgerReport(
        source=str(path), checks=n, covered=covered, coverage=covered / n, coverage_ci=(float(low), float(high)),
        nominal_level=nominal, coverage_pvalue=float(stats.binomtest(covered, n, nominal).pvalue),
        mean_bias=float(bias.mean()), median_bias=float(np.median(bias)), mean_bias_ci=mean_ci, bias_pvalue=p_bias,
        mean_z=float(z.mean()), sd_z=float(z.std(ddof=1)) if n > 1 else None,
        verdicts=Counter(e.verdict for e in entries), entries=tuple(entries))
