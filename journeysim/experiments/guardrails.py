"""Guardrails on an A/B result: metrics a change must not harm by more than a margin, tested for non-inferiority.

A guardrail (:class:`journeysim.whatif.guardrails.Guardrail`) is a metric, a margin and a direction of harm.
For a guardrail with margin
``m`` and harm upwards, the variant's change ``d = variant - control`` is tested one-sided:

* **holds** when non-inferiority is shown: ``H0: d >= m`` is rejected at ``alpha``;
* **breached** when harm beyond the margin is shown: ``H0: d <= m`` is rejected at ``alpha``;
* **inconclusive** otherwise.

(Mirrored for harm downwards.) Rates are compared with the score test of a difference against the margin
(Farrington-Manning, with Miettinen and Nurminen's variance), per-customer values with Welch's t-test against
the margin (statsmodels ``CompareMeans``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from journeysim._result import Result
from journeysim._text import fmt, format_table, wrap
from journeysim.errors import DataError, UsageError, excerpt
from journeysim.whatif.guardrails import Guardrail

__all__ = ["GuardrailTest", "GuardrailCheck", "check_guardrail", "check_guardrails", "guardrail_power", "OBSERVABLE",
           "observable", "prediction_guardrails"]

#: Guardrail metrics an A/B result file can show: conversions, and per-customer revenue.
OBSERVABLE = ("conversion_rate", "expected_value")

@dataclass(frozen=True)
class GuardrailTest:
    """The one-sided tests of one guardrail on an A/B result."""

    guardrail: Guardrail
    control: float
    variant: float
    change: float
    pvalue_holds: float | None
    pvalue_breached: float | None
    verdict: str
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.guardrail.to_dict(), "control": self.control, "variant": self.variant, "change": self.change,
                "pvalue_noninferiority": self.pvalue_holds, "pvalue_harm": self.pvalue_breached,
                "verdict": self.verdict, "method": self.method}


def _observed(arm, metric: str, source: str):
    """``("rate", successes, n)`` or ``("mean", values)`` of ``metric`` in one arm of an A/B result."""
    if metric == "conversion_rate":
        return "rate", arm.conversions, arm.customers
    if metric == "expected_value":
        if arm.revenue is not None:
            return "mean", np.asarray(arm.revenue, dtype=float)
        raise DataError(f"{source}: guardrail expected_value needs per-customer revenue (a revenue column)")
    raise DataError(f"{source}: guardrail {excerpt(metric)} cannot be observed in an A/B result file (guardrails can test "
                    "conversion_rate and, with per-customer revenue, expected_value)")


def _score_statistic(xv: int, nv: int, xc: int, nc: int, margin: float) -> float:
    """Farrington-Manning's z for ``H0: pv - pc = margin``: the variance at the rates that maximise the likelihood
    under H0, times ``N / (N - 1)`` (Miettinen-Nurminen); nan when that variance is 0.

    Wald's variance, at the observed rates, is 0 when neither arm converts (0 of 1 against 0 of 1 "held" with
    p = 0). statsmodels' score test (``test_proportions_2indep(method='score')``) has this statistic, but its
    restricted rates solve a cubic with a wrong coefficient when the margin is not 0 (statsmodels issue #10269,
    0.15): a p-value of 0.0441 for 0.0500. The restricted log-likelihood is concave in ``pc``, so its score has one
    root on the rates the margin allows (or the maximum sits at an end of them).
    """
    def score(pc):
        pv = pc + margin
        terms = ((xv, 1 / pv if pv > 0 else math.inf), (nv - xv, -1 / (1 - pv) if pv < 1 else -math.inf),
                 (xc, 1 / pc if pc > 0 else math.inf), (nc - xc, -1 / (1 - pc) if pc < 1 else -math.inf))
        return math.fsum(k * t for k, t in terms if k)    # a count of 0 drops its term

    from scipy import optimize

    low, high = max(0.0, -margin), min(1.0, 1.0 - margin)
    if score(low) <= 0:
        pc = low
    elif score(high) >= 0:
        pc = high
    else:
        pc = optimize.brentq(score, low, high, xtol=1e-15, rtol=1e-15)
    pv = pc + margin
    var = (pv * (1 - pv) / nv + pc * (1 - pc) / nc) * (nv + nc) / (nv + nc - 1)
    return (xv / nv - xc / nc - margin) / math.sqrt(var) if var > 0 else math.nan


def check_guardrail(guardrail: Guardrail, control, variant, *, alpha: float = 0.05, source: str = "") -> GuardrailTest:
    """Test one guardrail on the control and variant :class:`~journeysim.experiments.results.Arm` s.

    Examples
    --------
    >>> from journeysim.experiments.results import Arm
    >>> g = Guardrail("conversion_rate", 0.005, "down")
    >>> t = check_guardrail(g, Arm("control", 20000, 1000), Arm("chat", 20000, 1010))
    >>> t.verdict, round(t.change, 4), round(t.pvalue_holds, 4)
    ('holds', 0.0005, 0.006)
    """
    from scipy import stats
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    sign = 1.0 if guardrail.harm == "up" else -1.0
    limit = sign * guardrail.margin           # the change that would be exactly the margin's harm
    kind, *c = _observed(control, guardrail.metric, source)
    _, *v = _observed(variant, guardrail.metric, source)
    # "holds": H0 is harm of at least the margin; "breached": H0 is harm of at most the margin
    if kind == "rate":
        (xc, nc), (xv, nv) = c, v
        z = _score_statistic(xv, nv, xc, nc, limit)
        ps = [stats.norm.cdf(z), stats.norm.sf(z)] if sign > 0 else [stats.norm.sf(z), stats.norm.cdf(z)]
        control_value, variant_value = xc / nc, xv / nv
        method = ("one-sided score tests of the difference in proportions against the margin (Farrington-Manning; "
                  "variance at the rates of maximum likelihood under the margin, times N/(N-1) as Miettinen and "
                  "Nurminen's)")
    else:
        a, b = DescrStatsW(v[0]), DescrStatsW(c[0])
        if a.sum_weights > 1 and b.sum_weights > 1 and (a.var > 0 or b.var > 0):
            compare = CompareMeans(a, b)
            holds_alt, breach_alt = ("smaller", "larger") if sign > 0 else ("larger", "smaller")
            ps = [compare.ttest_ind(alternative=alt, usevar="unequal", value=limit)[1]
                  for alt in (holds_alt, breach_alt)]
        else:
            ps = [math.nan, math.nan]
        control_value, variant_value = float(np.mean(c[0])), float(np.mean(v[0]))
        method = "one-sided Welch t-tests of the difference in means against the margin (statsmodels CompareMeans)"
    p_holds, p_breach = (float(p) for p in ps)
    if math.isnan(p_holds):
        p_holds = p_breach = None
        method += ("; no test: the variance under the margin is 0" if kind == "rate" else
                   "; no test: Welch's needs two customers in each arm and values that vary in at least one")
    verdict = ("inconclusive" if p_holds is None else "holds" if p_holds < alpha
               else "breached" if p_breach < alpha else "inconclusive")
    return GuardrailTest(guardrail, float(control_value), float(variant_value), float(variant_value - control_value),
                         p_holds, p_breach, verdict, f"{method} at alpha {alpha:g}")


def guardrail_power(guardrail: Guardrail, baseline: float, change: float, n_per_arm: float, *,
                    alpha: float = 0.05, ratio: float = 1.0) -> float | None:
    """Power of a rate guardrail's non-inferiority test with ``n_per_arm`` customers per variant arm, when the
    true change is ``change`` (``None`` for a metric that is not a rate of customers).

    Examples
    --------
    >>> round(guardrail_power(Guardrail("conversion_rate", 0.005, "down"), 0.05, 0.0, 30000), 3)
    0.878
    """
    from statsmodels.stats.power import normal_power_het

    if guardrail.metric not in ("conversion_rate", "bounce_rate", "repeat_rate"):
        return None
    sign = 1.0 if guardrail.harm == "up" else -1.0
    variant = min(max(baseline + change, 1e-12), 1 - 1e-12)
    # The normal approximation of the test's statistic (d - sign * margin) / se, with the unpooled se at the
    # predicted rates under both hypotheses; with n variant customers per arm (n / ratio in control), se = sd / sqrt(n).
    sd = math.sqrt(variant * (1 - variant) + baseline * (1 - baseline) * ratio)
    distance = sign * guardrail.margin - (variant - baseline)      # how far the truth is on the safe side
    return float(normal_power_het(sign * distance, n_per_arm, alpha, std_null=sd, std_alternative=sd,
                                  alternative="larger"))


@dataclass(frozen=True, repr=False)
class GuardrailCheck(Result):
    """Every guardrail tested on every variant of an A/B result against its control."""

    source: str
    control: str
    tests: Mapping[str, tuple[GuardrailTest, ...]]
    alpha: float
    method: str = field(default="")
    #: Guardrails the result could not test, each with why.
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "tests", MappingProxyType({k: tuple(v) for k, v in self.tests.items()}))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {variant: {t.guardrail.metric: t.to_dict() for t in tests}
                               for variant, tests in self.tests.items()}
        if self.notes:
            out["not_tested"] = list(self.notes)
        return out

    def summary(self) -> str:
        rows = [(variant, t.guardrail.metric, f"{'+' if t.guardrail.harm == 'up' else '-'}{fmt(t.guardrail.margin)}",
                 f"{t.change:+.4g}", fmt(t.pvalue_holds), t.verdict)
                for variant, tests in self.tests.items() for t in tests]
        table = format_table(f"guardrails against {self.control} (alpha {self.alpha:g})",
                             ["variant", "metric", "harm limit", "change", "p (no harm)", "verdict"], rows)
        notes = [f"note: {n}" for n in self.notes]
        return "\n".join([table, *notes, wrap(f"method: {self.method}")])

    def _headline(self) -> str:
        return " ".join(f"{v}:{t.guardrail.metric}={t.verdict}" for v, tests in self.tests.items() for t in tests)

    def _table(self):
        return ["variant", "metric", "margin", "harm", "control", "variant_value", "change", "pvalue", "verdict"], [
            (v, t.guardrail.metric, t.guardrail.margin, t.guardrail.harm, t.control, t.variant, t.change,
             t.pvalue_holds, t.verdict) for v, tests in self.tests.items() for t in tests]


def observable(data, guardrail: Guardrail) -> str | None:
    """``None`` when ``data`` can test ``guardrail``, else why not (one line)."""
    if guardrail.metric not in OBSERVABLE:
        return (f"{guardrail.metric} is not observable in an A/B result file (guardrails there test "
                f"{' and '.join(OBSERVABLE)})")
    if guardrail.metric == "expected_value" and not all(a.revenue is not None for a in data.arms.values()):
        return "expected_value needs per-customer revenue (a revenue column on each customer's row)"
    return None


def check_guardrails(data, guardrails: Sequence[Guardrail], *, control: str, alpha: float = 0.05,
                     variants: Sequence[str] | None = None) -> GuardrailCheck:
    """Test every guardrail on every variant (or ``variants``) of an A/B result against ``control``.

    Parameters
    ----------
    data : ExperimentData
        The A/B result (:func:`journeysim.experiments.results.read_results`).
    guardrails : the guardrails (a hypothesis's, or given on the command line).
    control : the control arm's name.
    alpha : level of each one-sided test (no correction over guardrails: each is its own question).
    variants : the variants to test (default: all but control).

    Returns
    -------
    GuardrailCheck

    Examples
    --------
    >>> from journeysim.experiments.results import Arm, ExperimentData
    >>> ab = ExperimentData("ab.csv", "aggregated", {"control": Arm("control", 20000, 1000),
    ...                                              "chat": Arm("chat", 20000, 850)})
    >>> check_guardrails(ab, [Guardrail("conversion_rate", 0.002, "down")], control="control").tests["chat"][0].verdict
    'breached'
    """
    if not guardrails:
        raise UsageError("no guardrails to test")
    names = list(variants) if variants is not None else [n for n in data.arms if n != control]
    tests = {name: tuple(check_guardrail(g, data.arms[control], data.arms[name], alpha=alpha, source=data.source)
                         for g in guardrails) for name in names}
    method = "; ".join(dict.fromkeys(t.method for ts in tests.values() for t in ts))
    return GuardrailCheck(data.source, control, tests, alpha, method)


def prediction_guardrails(prediction, data, *, control: str, variant: str, alpha: float = 0.05) -> GuardrailCheck | None:
    """Test a prediction's guardrails on the variant of an A/B result that implements it (``None`` without
    guardrails); a guardrail the file cannot show is named in the result's notes, not tested."""
    if not prediction.guardrails:
        return None
    rails = [Guardrail(m, float(g["margin"]), g["harm"]) for m, g in prediction.guardrails.items()]
    notes = tuple(f"{r.metric}: {why}" for r in rails if (why := observable(data, r)) is not None)
    testable = [r for r in rails if observable(data, r) is None]
    if not testable:
        return GuardrailCheck(data.source, control, {}, alpha, "", notes)
    result = check_guardrails(data, testable, control=control, alpha=alpha, variants=[variant])
    return GuardrailCheck(result.source, control, result.tests, alpha, result.method, notes)
