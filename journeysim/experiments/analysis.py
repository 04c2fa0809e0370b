"""Analysing an A/B test: every variant against control, with the method of each number stated.

Conversion: Wilson intervals per variant, Newcombe's hybrid score interval for
the difference, a log risk-ratio interval for the relative lift and the pooled
two-proportion z-test (R's ``prop.test(correct = FALSE)``), Holm-adjusted when
several variants face one control. A sample-ratio-mismatch chi-square test
guards the randomisation; Beta(1, 1) posteriors give the probability to beat
control and the expected loss. Revenue per customer: Welch's t-test, and CUPED
when a pre-period covariate is present.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import integrate, special, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from journeysim._result import Result
from journeysim._text import (
    count,
    fmt,
    format_table,
    money,
    pct,
    pct_interval,
    points,
    rate,
    rate_interval,
    wrap,
)
from journeysim.errors import DataError, UsageError, did_you_mean, excerpt
from journeysim.experiments.results import (
    Arm,
    ExcludedRow,
    ExperimentData,
    read_results,
    results_from_frame,
)

__all__ = ["VariantResult", "ExperimentAnalysis", "analyze", "analyze_experiment", "beta_comparison", "parse_split",
           "srm_pvalue", "summed_rows", "SRM_THRESHOLD", "METHODS"]

#: Below this SRM p-value the randomisation is presumed broken and the analysis says so loudly.
SRM_THRESHOLD = 0.001

METHODS = {
    "rate_ci": "Wilson score interval (statsmodels proportion_confint, method='wilson')",
    "diff_ci": "Newcombe hybrid score interval (statsmodels confint_proportions_2indep, method='newcomb')",
    "lift_rel_ci": "log risk-ratio interval minus 1 (statsmodels confint_proportions_2indep, method='log', "
                   "compare='ratio'); none when an arm has no conversions or every customer converted",
    "pvalue": "two-sided two-proportion z-test with pooled variance (statsmodels proportions_ztest; R prop.test(correct=FALSE))",
    "pvalue_adj": "Holm step-down adjustment over the variants (statsmodels multipletests, method='holm')",
    "srm": "Pearson chi-square goodness of fit of customers per arm to the expected split (scipy.stats.chisquare)",
    "bayes": "Beta(1,1) priors; P(variant rate > control rate) and expected loss E[max(control - variant, 0)] "
             "by numerical integration of the Beta posteriors (scipy.stats.beta, scipy.integrate.quad)",
    "revenue": "revenue per customer, Welch's unequal-variance t-test and interval (statsmodels CompareMeans, usevar='unequal')",
    "revenue_lift_rel_ci": "ratio of mean revenues minus 1, interval exp(log ratio +/- z se) - 1 with "
                           "se^2 = se_v^2/mean_v^2 + se_c^2/mean_c^2 (delta method; se the arms' Welch standard errors)",
    "cuped": "CUPED: revenue - theta*(covariate - mean), theta = cov/var pooled over all customers, then Welch",
}


@dataclass(frozen=True)
class VariantResult:
    """One arm; comparison fields are ``None`` for the control arm."""

    name: str
    customers: int
    conversions: int
    rate: float
    rate_ci: tuple[float, float]
    diff: float | None = None
    diff_ci: tuple[float, float] | None = None
    lift_rel: float | None = None
    lift_rel_ci: tuple[float, float] | None = None
    pvalue: float | None = None
    pvalue_adj: float | None = None
    prob_beat_control: float | None = None
    expected_loss: float | None = None
    revenue_mean: float | None = None
    revenue_sd: float | None = None
    revenue_diff: float | None = None
    revenue_diff_ci: tuple[float, float] | None = None
    revenue_pvalue: float | None = None
    revenue_lift_rel: float | None = None
    revenue_lift_rel_ci: tuple[float, float] | None = None
    cuped_diff: float | None = None
    cuped_diff_ci: tuple[float, float] | None = None
    cuped_pvalue: float | None = None
    variance_reduction: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "name"}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


@dataclass(frozen=True, repr=False)
class ExperimentAnalysis(Result):
    """The analysis of one A/B result file."""

    source: str
    control: str
    variants: Mapping[str, VariantResult]
    srm_pvalue: float
    expected_split: tuple[float, ...]
    excluded_customers: int
    duplicate_customers: int
    alpha: float
    kind: str
    covariate: str | None = None
    method: Mapping[str, str] = field(default_factory=dict)
    #: Aggregated rows summed into each variant (empty for per-customer files).
    rows: Mapping[str, int] = field(default_factory=dict)
    excluded_rows: tuple[ExcludedRow, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "variants", MappingProxyType(dict(self.variants)))
        object.__setattr__(self, "method", MappingProxyType(dict(self.method)))
        object.__setattr__(self, "rows", MappingProxyType(dict(self.rows)))

    @property
    def summed(self) -> bool:
        """Whether some variant's numbers are the sum of several aggregated rows (days, segments)."""
        return any(n > 1 for n in self.rows.values())

    @property
    def srm_warning(self) -> bool:
        return self.srm_pvalue < SRM_THRESHOLD

    def to_dict(self) -> dict[str, Any]:
        return {
            "control": self.control,
            "srm_pvalue": self.srm_pvalue,
            "srm_warning": self.srm_warning,
            "expected_split": list(self.expected_split),
            "excluded_customers": self.excluded_customers,
            "excluded_rows": [{"where": r.where, "user": r.user, "variant": r.variant} for r in self.excluded_rows],
            "duplicate_customers": self.duplicate_customers,
            "alpha": self.alpha,
            "input": self.kind,
            "covariate": self.covariate,
            "variants": {name: v.to_dict() for name, v in self.variants.items()},
            "rows_summed": dict(self.rows),
            "method": dict(self.method),
        }

    def summary(self) -> str:
        """One column per variant (control first): counts, rates and lifts with intervals, tests, revenue."""
        level = f"{100 * (1 - self.alpha):g}%"
        variants = list(self.variants.values())
        compared = lambda text, v: "-" if v.name == self.control else text  # noqa: E731
        rows = [
            ("customers", *(count(v.customers) for v in variants)),
            ("conversions", *(count(v.conversions) for v in variants)),
            ("conversion rate", *(f"{rate(v.rate)} {rate_interval(v.rate_ci)}" for v in variants)),
            ("difference", *(compared(f"{points(v.diff)} [{points(v.diff_ci[0])}, {points(v.diff_ci[1])}]"
                                      if v.diff_ci else points(v.diff), v) for v in variants)),
            ("relative lift", *(compared(f"{pct(v.lift_rel)} {pct_interval(v.lift_rel_ci)}", v) for v in variants)),
            ("p-value", *(compared(fmt(v.pvalue), v) for v in variants)),
            ("p-value (Holm)", *(compared(fmt(v.pvalue_adj), v) for v in variants)),
            ("P(beats control)", *(compared(rate(v.prob_beat_control), v) for v in variants)),
            ("expected loss", *(compared(points(v.expected_loss, signed=False), v) for v in variants)),
        ]
        headers = ["", *((f"{v.name} (control)" if v.name == self.control and v.name.lower() != "control" else v.name)
                         for v in variants)]
        parts = [format_table(f"{self.source}: conversion ({level} intervals)", headers, rows)]
        if any(v.revenue_mean is not None for v in variants):
            interval = lambda pair: ("-" if pair is None  # noqa: E731
                                     else f"[{money(pair[0], signed=True)}, {money(pair[1], signed=True)}]")
            rows = [
                ("mean per customer", *(money(v.revenue_mean) for v in variants)),
                ("sd per customer", *(money(v.revenue_sd) for v in variants)),
                ("difference", *(compared(f"{money(v.revenue_diff, signed=True)} {interval(v.revenue_diff_ci)}", v)
                                 for v in variants)),
                ("relative lift", *(compared(f"{pct(v.revenue_lift_rel)} {pct_interval(v.revenue_lift_rel_ci)}", v)
                                    for v in variants)),
                ("p-value (Welch)", *(compared(fmt(v.revenue_pvalue), v) for v in variants)),
            ]
            if self.covariate is not None:     # CUPED ran
                rows += [
                    ("CUPED difference", *(compared(f"{money(v.cuped_diff, signed=True)} "
                                                    f"{interval(v.cuped_diff_ci)}", v) for v in variants)),
                    ("CUPED p-value", *(compared(fmt(v.cuped_pvalue), v) for v in variants)),
                    ("variance reduction", *(compared(rate(v.variance_reduction), v) for v in variants)),
                ]
            title = "revenue per customer (Welch" + (f"; CUPED with covariate {self.covariate})"
                                                     if self.covariate is not None else ")")
            parts.append(format_table(title, headers, rows))
        parts += [wrap(line) for line in self._undefined()]
        split = "/".join(f"{s:g}" for s in self.expected_split)
        parts.append(f"sample ratio check: p = {fmt(self.srm_pvalue)} against the expected split {split}")
        if self.srm_warning:
            parts.append(f"WARNING: SAMPLE RATIO MISMATCH (p < {SRM_THRESHOLD:g}): the arms' sizes do not match the "
                         "expected split; randomisation or logging is broken and the results above are not trustworthy")
        if self.summed:
            parts.append(wrap(summed_rows(self.rows)))
        if self.kind != "aggregated":   # an aggregated file names no customer: nothing to exclude or deduplicate
            parts.append(wrap(f"excluded customers (seen in several variants): {count(self.excluded_customers)}; "
                              f"customers with several rows in one variant (counted once): "
                              f"{count(self.duplicate_customers)}"))
        if self.excluded_rows:
            parts.append(wrap(f"  first rows dropped: {', '.join(map(str, self.excluded_rows))}", "    "))
        parts.append("methods:\n" + "\n".join(wrap(f"  {k}: {v}", "    ") for k, v in self.method.items()))
        return "\n".join(parts)

    def _undefined(self) -> list[str]:
        """Why an interval or test of a variant is missing although its estimate is there (loud degenerate cases)."""
        lines = []
        full = [v.name for v in self.variants.values() if v.customers and v.conversions == v.customers]
        for name, v in self.variants.items():
            if name == self.control:
                continue
            if v.lift_rel is not None and v.lift_rel_ci is None:
                arms = " and ".join(repr(n) for n in full if n in (name, self.control))
                lines.append(f"relative lift of {name!r}: no interval: every customer of {arms} converted, and the "
                             "log risk-ratio interval has no spread for such an arm (the difference's interval holds)")
            if v.revenue_diff is not None and v.revenue_pvalue is None:
                lines.append(f"revenue of {name!r} against {self.control!r}: no interval or p-value: Welch's t-test "
                             "needs two customers in each arm and revenue that varies in at least one of them")
            elif v.revenue_lift_rel is not None and v.revenue_lift_rel_ci is None:
                lines.append(f"relative lift of revenue of {name!r}: no interval: a mean per customer is too close "
                             "to 0 against its standard error for the log-ratio interval to have an upper bound")
        return lines

    def _headline(self) -> str:
        lifts = ", ".join(f"{n} {'-' if v.lift_rel is None else f'{v.lift_rel:+.2%}'} (p={fmt(v.pvalue_adj)})"
                          for n, v in self.variants.items() if n != self.control)
        warn = ", SAMPLE RATIO MISMATCH" if self.srm_warning else ""
        return f"{self.source}: {lifts} vs {self.control!r}{warn}"

    def _table(self):
        """One row per arm (control first); intervals as ``*_low`` and ``*_high`` columns."""
        rows = []
        for name, v in self.variants.items():
            row = {"variant": name, "control": name == self.control}
            for key, value in v.to_dict().items():
                if isinstance(value, list):
                    row[f"{key}_low"], row[f"{key}_high"] = value
                elif key.endswith("_ci"):
                    row[f"{key}_low"] = row[f"{key}_high"] = None
                else:
                    row[key] = value
            rows.append(row)
        columns = list(dict.fromkeys(k for r in rows for k in r))
        return columns, [tuple(r.get(c) for c in columns) for r in rows]


def summed_rows(rows: Mapping[str, int]) -> str:
    """What summing aggregated rows per variant means, for the summary.

    Examples
    --------
    >>> summed_rows({"control": 14, "B": 14})
    'rows summed per variant: control 14, B 14 (customers counted on several rows, as daily counts of returning customers are, are counted once per row)'
    """
    counts = ", ".join(f"{name} {n}" for name, n in rows.items())
    return (f"rows summed per variant: {counts} (customers counted on several rows, as daily counts of returning "
            "customers are, are counted once per row)")


def parse_split(text: str, arms: int) -> tuple[float, ...]:
    """Parse ``"50/50"`` (control first, then the variants in file order).

    Examples
    --------
    >>> parse_split("50/25/25", 3)
    (50.0, 25.0, 25.0)
    """
    try:
        parts = tuple(float(p) for p in str(text).split("/"))
    except ValueError:
        raise UsageError(f"--expected-split {excerpt(text)}: write shares separated by '/', e.g. 50/50") from None
    if len(parts) != arms:
        raise UsageError(f"--expected-split {excerpt(text)} has {len(parts)} shares but the results have {arms} variants")
    if any(not math.isfinite(p) or p <= 0 for p in parts):
        raise UsageError(f"--expected-split {excerpt(text)}: every share must be a number > 0")
    return parts


def srm_pvalue(counts, split: Sequence[float]):
    """Sample-ratio-mismatch p-value: chi-square goodness of fit of arm sizes to ``split``.

    Vectorised over leading axes of ``counts`` (the last axis holds the arms).

    Examples
    --------
    >>> round(float(srm_pvalue([5000, 5000], (1, 1))), 3), float(srm_pvalue([5200, 4800], (1, 1))) < 0.001
    (1.0, True)
    """
    counts = np.asarray(counts, dtype=float)
    share = np.asarray(split, dtype=float) / np.sum(split)
    return stats.chisquare(counts, counts.sum(axis=-1, keepdims=True) * share, axis=-1).pvalue


def beta_comparison(control: tuple[int, int], variant: tuple[int, int]) -> tuple[float, float]:
    """``(P(variant > control), E[max(control - variant, 0)])`` under Beta(1, 1) priors.

    ``control`` and ``variant`` are ``(conversions, customers)``.

    Examples
    --------
    >>> p, loss = beta_comparison((50, 1000), (50, 1000))
    >>> round(p, 6)
    0.5
    """
    a_c, b_c = 1 + control[0], 1 + control[1] - control[0]
    a_v, b_v = 1 + variant[0], 1 + variant[1] - variant[0]
    post_c, post_v = stats.beta(a_c, b_c), stats.beta(a_v, b_v)
    # The posteriors are narrow for large samples, and quadrature over a wide interval can step over a narrow peak:
    # integrate each expectation only where its own density has mass, splitting at the other posterior's bulk.
    def support(post):
        return max(0.0, post.ppf(1e-12)), min(1.0, post.isf(1e-12))

    def pieces(own, other):
        lo, hi = support(own)
        # no cut within 1000 ulps of the one before or of hi: quad on a sliver of a few dozen doubles (1 - 1.4e-14
        # to 1) holds nothing and warns of "extremely bad integrand behavior" for it
        cuts = [lo]
        for x in sorted(x for x in (*support(other), other.median()) if lo < x < hi):
            if min(x - cuts[-1], hi - x) > 1e3 * np.spacing(x):
                cuts.append(x)
        return [*cuts, hi]

    # scipy.special's ufuncs rather than the frozen distributions: quad calls these thousands of times
    pdf = lambda x, a, b: math.exp(special.xlogy(a - 1, x) + special.xlog1py(b - 1, -x) - special.betaln(a, b))  # noqa: E731
    sf = lambda x, a, b: special.betaincc(a, b, x)  # noqa: E731

    def integral(f, cuts, epsabs):
        return sum(integrate.quad(f, a, b, limit=200, epsabs=epsabs)[0] for a, b in zip(cuts, cuts[1:]))

    prob = integral(lambda x: pdf(x, a_c, b_c) * sf(x, a_v, b_v), pieces(post_c, post_v), 1e-12)
    mean_c = a_c / (a_c + b_c)
    # E[(C - y)+] = E[C] P(C' > y) - y P(C > y) with C' ~ Beta(a+1, b), since x f_C(x) is proportional to f_C'(x)
    loss = integral(lambda y: pdf(y, a_v, b_v) * (mean_c * sf(y, a_c + 1, b_c) - y * sf(y, a_c, b_c)),
                    pieces(post_v, post_c), 1e-14)
    return float(min(max(prob, 0.0), 1.0)), float(max(loss, 0.0))


def _choose_control(data: ExperimentData, control: str | None) -> str:
    names = list(data.arms)
    if control is not None:
        if control not in data.arms:
            raise DataError(f"{data.source}: unknown control {excerpt(control)}{did_you_mean(control, names)} "
                            f"(variants: {', '.join(names)})")
        return control
    found = [n for n in names if n.lower() == "control"]
    if not found:
        raise DataError(f"{data.source}: no variant named 'control'; name the control arm with --control "
                        f"(variants: {', '.join(names)})")
    if len(found) > 1:      # "control" in any case: two spellings in one file are a typo, not a choice to make silently
        raise DataError(f"{data.source}: variants {' and '.join(excerpt(n) for n in found)} both read as the control; "
                        "name the control arm with --control")
    return found[0]


def _summary_stats(arm: Arm) -> DescrStatsW:
    # Two values m -/+ d with frequency weights n/2 each have exactly the arm's n, mean and
    # variance, so statsmodels' Welch test runs on the aggregated sums unchanged.
    n = arm.customers
    mean = arm.revenue_sum / n
    var = max(arm.revenue_sumsq - n * mean ** 2, 0.0) / (n - 1) if n > 1 else 0.0   # one customer: no spread
    d = math.sqrt(var * (n - 1) / n)
    return DescrStatsW(np.array([mean - d, mean + d]), weights=np.array([n / 2, n / 2]))


def _welch_defined(a: DescrStatsW, b: DescrStatsW) -> bool:
    """Whether Welch's test has a standard error: two customers in each arm and some spread in one of them."""
    return a.sum_weights > 1 and b.sum_weights > 1 and (a.var > 0 or b.var > 0)


def _welch(a: DescrStatsW, b: DescrStatsW, alpha: float) -> tuple[float, tuple[float, float] | None, float | None]:
    """Difference of means, its interval and p-value (``None`` when the test is undefined)."""
    diff = float(a.mean - b.mean)
    if not _welch_defined(a, b):
        return diff, None, None
    cm = CompareMeans(a, b)
    _, p, _ = cm.ttest_ind(usevar="unequal")
    low, high = cm.tconfint_diff(alpha=alpha, usevar="unequal")
    return diff, (float(low), float(high)), float(p)


def analyze_experiment(data: ExperimentData, *, control: str | None = None,
                       expected_split: Sequence[float] | None = None, alpha: float = 0.05) -> ExperimentAnalysis:
    """Compare every variant with control.

    Examples
    --------
    >>> from journeysim.experiments.results import Arm, ExperimentData, read_results, results_from_frame
    >>> data = ExperimentData("ab", "aggregated", {"control": Arm("control", 1000, 50), "B": Arm("B", 1000, 70)})
    >>> res = analyze_experiment(data)
    >>> round(res.variants["B"].pvalue, 4), round(res.srm_pvalue, 3)
    (0.0597, 1.0)
    """
    if not 0 < alpha < 1:
        raise UsageError(f"alpha={alpha} must be between 0 and 1")
    control = _choose_control(data, control)
    order = [control] + [n for n in data.arms if n != control]
    arms = [data.arms[n] for n in order]
    split = tuple(float(s) for s in expected_split) if expected_split is not None else (1.0,) * len(arms)
    if len(split) != len(arms):
        raise UsageError(f"expected split has {len(split)} shares but the results have {len(arms)} variants")
    srm = srm_pvalue([a.customers for a in arms], split)
    c = data.arms[control]
    with np.errstate(invalid="ignore", divide="ignore"):  # no conversions at all: z is 0/0
        pvalues = [proportions_ztest([a.conversions, c.conversions], [a.customers, c.customers])[1] for a in arms[1:]]
    pvalues = [1.0 if math.isnan(p) else float(p) for p in pvalues]  # nan: no variation at all in either arm
    # Holm over a single comparison is the identity (and multipletests runs a slow gc.collect)
    adjusted = multipletests(pvalues, method="holm")[1] if len(pvalues) > 1 else pvalues
    theta = _cuped_theta(arms)
    results = {}
    for i, arm in enumerate(arms):
        low, high = proportion_confint(arm.conversions, arm.customers, alpha=alpha, method="wilson")
        fields: dict[str, Any] = dict(name=arm.name, customers=arm.customers, conversions=arm.conversions,
                                      rate=arm.conversions / arm.customers, rate_ci=(float(low), float(high)))
        if arm.has_revenue:
            described = _revenue_stats(arm)
            fields["revenue_mean"] = float(described.mean)
            fields["revenue_sd"] = float(described.std_ddof(1)) if arm.customers > 1 else None
        if i:
            fields.update(_compare(arm, c, alpha))
            fields.update(pvalue=pvalues[i - 1], pvalue_adj=float(adjusted[i - 1]))
            if arm.has_revenue and c.has_revenue:
                fields.update(_revenue(arm, c, alpha, theta))
        results[arm.name] = VariantResult(**fields)
    method = {k: v for k, v in METHODS.items()
              if (k not in ("revenue", "revenue_lift_rel_ci") or c.has_revenue)
              and (k != "cuped" or theta is not None)}
    if theta is None and data.covariate is not None and all(a.covariate is not None for a in arms):
        method["cuped"] = (f"not run: the covariate {data.covariate!r} takes one value for every customer, so it "
                           "explains none of the revenue")
    return ExperimentAnalysis(data.source, control, results, float(srm), split, data.excluded_customers,
                              data.duplicate_customers, alpha, data.kind,
                              data.covariate if theta is not None else None, method, rows=data.rows,
                              excluded_rows=data.excluded_rows)


def _compare(v: Arm, c: Arm, alpha: float) -> dict[str, Any]:
    diff_ci = confint_proportions_2indep(v.conversions, v.customers, c.conversions, c.customers,
                                         method="newcomb", compare="diff", alpha=alpha)
    out: dict[str, Any] = dict(diff=v.conversions / v.customers - c.conversions / c.customers,
                               diff_ci=(float(diff_ci[0]), float(diff_ci[1])))
    if c.conversions > 0 and v.conversions > 0:
        out["lift_rel"] = (v.conversions / v.customers) / (c.conversions / c.customers) - 1
        # The log interval's variance 1/x - 1/n has no term for an arm where every customer converted: it would
        # be as narrow as if that arm's rate were known exactly (1 of 1 against 1% of 1e9: lift 99 +/- 0.06)
        if v.conversions < v.customers and c.conversions < c.customers:
            ratio_ci = confint_proportions_2indep(v.conversions, v.customers, c.conversions, c.customers,
                                                  method="log", compare="ratio", alpha=alpha)
            out["lift_rel_ci"] = (float(ratio_ci[0]) - 1, float(ratio_ci[1]) - 1)
    prob, loss = beta_comparison((c.conversions, c.customers), (v.conversions, v.customers))
    out.update(prob_beat_control=prob, expected_loss=loss)
    return out


def _cuped_theta(arms: list[Arm]) -> float | None:
    if any(a.revenue is None or a.covariate is None for a in arms):
        return None
    y = np.concatenate([a.revenue for a in arms])
    x = np.concatenate([a.covariate for a in arms])
    var_x = x.var(ddof=1)
    return float(np.cov(y, x, ddof=1)[0, 1] / var_x) if var_x > 0 else None


def _revenue_stats(arm: Arm) -> DescrStatsW:
    """The arm's revenue per customer (``ddof=1`` spread), from the rows or from the aggregated sums."""
    return DescrStatsW(arm.revenue) if arm.revenue is not None else _summary_stats(arm)


def _ratio_interval(stats_v: DescrStatsW, stats_c: DescrStatsW, alpha: float) -> tuple[float | None, Any]:
    """Relative lift of mean revenue and its log-ratio interval (``None`` when a mean is 0)."""
    mean_v, mean_c = float(stats_v.mean), float(stats_c.mean)
    if mean_v <= 0 or mean_c <= 0:
        return None, None
    if not _welch_defined(stats_v, stats_c):
        return mean_v / mean_c - 1, None
    se = math.hypot(stats_v.std_mean / mean_v, stats_c.std_mean / mean_c)   # Welch's standard errors (ddof=1)
    half = stats.norm.isf(alpha / 2) * se
    log_ratio = math.log(mean_v / mean_c)
    if log_ratio + half > 700:   # a mean near 0 against its standard error (refunds): no finite upper bound
        return mean_v / mean_c - 1, None
    return mean_v / mean_c - 1, (math.expm1(log_ratio - half), math.expm1(log_ratio + half))


def _revenue(v: Arm, c: Arm, alpha: float, theta: float | None) -> dict[str, Any]:
    stats_v, stats_c = _revenue_stats(v), _revenue_stats(c)
    diff, ci, p = _welch(stats_v, stats_c, alpha)
    lift, lift_ci = _ratio_interval(stats_v, stats_c, alpha)
    out: dict[str, Any] = dict(revenue_diff=diff, revenue_diff_ci=ci, revenue_pvalue=p, revenue_lift_rel=lift,
                               revenue_lift_rel_ci=lift_ci)
    if theta is not None:
        center = np.concatenate([v.covariate, c.covariate]).mean()
        adj_v = v.revenue - theta * (v.covariate - center)
        adj_c = c.revenue - theta * (c.covariate - center)
        diff, ci, p = _welch(DescrStatsW(adj_v), DescrStatsW(adj_c), alpha)
        raw_var = np.concatenate([v.revenue, c.revenue]).var(ddof=1)
        adj_var = np.concatenate([adj_v, adj_c]).var(ddof=1)
        out.update(cuped_diff=diff, cuped_diff_ci=ci, cuped_pvalue=p,
                   variance_reduction=float(1 - adj_var / raw_var) if raw_var > 0 else None)
    return out


#: Columns of per-customer results, with their default names.
_PER_CUSTOMER = {"user_column": "user_id", "converted_column": "converted", "revenue_column": "revenue"}


def analyze(results: str | os.PathLike | pd.DataFrame | ExperimentData, *, control: str | None = None,
            expected_split: Sequence[float] | str | None = None, alpha: float = 0.05, user_column: str | None = None,
            variant_column: str = "variant", converted_column: str | None = None, revenue_column: str | None = None,
            covariate_column: str | None = None, customers_column: str | None = None,
            conversions_column: str | None = None, revenue_sum_column: str | None = None,
            revenue_sumsq_column: str | None = None, source: str | None = None) -> ExperimentAnalysis:
    """Analyse an A/B test: every variant against control (the Python side of ``journeysim analyze``).

    Parameters
    ----------
    results : path of a CSV or Parquet file, pandas.DataFrame, or ExperimentData
        Per-customer rows (``user_id, variant, converted`` and optionally ``revenue``
        and a ``pre_*`` covariate) or aggregated rows (``variant, customers,
        conversions`` and optionally ``revenue_sum, revenue_sumsq``).
    control : str, optional
        The control variant (default: the one named ``control``).
    expected_split : sequence of float or str, optional
        Expected shares of customers, control first then the variants in order of
        appearance, e.g. ``(50, 50)`` or ``"50/50"`` (default: equal).
    alpha : float
        1 - level of the intervals, and the level of the tests.
    user_column, variant_column, converted_column, revenue_column : str, optional
        Column names of per-customer results (defaults ``user_id``, ``variant``,
        ``converted``, ``revenue``).
    covariate_column : str, optional
        Pre-period covariate for CUPED (default: the first column named ``pre_*``).
    customers_column, conversions_column, revenue_sum_column, revenue_sumsq_column : str, optional
        Column names of aggregated results (defaults ``customers``, ``conversions``,
        ``revenue_sum``, ``revenue_sumsq``); naming one reads the results as aggregated.
        Several rows of one variant (one per day, or per segment) are summed.
    source : str, optional
        The name errors and the result give a DataFrame (default ``<DataFrame>``).

    Returns
    -------
    ExperimentAnalysis

    Raises
    ------
    DataError
        The results are invalid (the message names the row and the column).
    UsageError
        An option that does not apply (per-customer columns for aggregated results).

    Examples
    --------
    >>> import pandas as pd
    >>> ab = pd.DataFrame({"variant": ["control", "chat"], "customers": [4000, 4000], "conversions": [200, 248]})
    >>> a = analyze(ab)
    >>> a.source, round(a.variants["chat"].lift_rel, 3), round(a.variants["chat"].pvalue, 4)
    ('<DataFrame>', 0.24, 0.0196)
    >>> analyze("experiments/live-chat.results.csv").control
    'control'
    """
    given = {"user_column": user_column, "converted_column": converted_column, "revenue_column": revenue_column,
             "covariate_column": covariate_column}
    names = {k: given[k] or default for k, default in _PER_CUSTOMER.items()}
    columns = dict(variant_column=variant_column, covariate_column=covariate_column, customers_column=customers_column,
                   conversions_column=conversions_column, revenue_sum_column=revenue_sum_column,
                   revenue_sumsq_column=revenue_sumsq_column, **names)
    if isinstance(results, ExperimentData):
        data = results
    elif isinstance(results, pd.DataFrame):
        data = results_from_frame(results, source or "<DataFrame>", parquet=True, **columns)
    else:
        data = read_results(results, **columns)
    if data.kind == "aggregated":
        for name, value in given.items():
            if value is not None:
                raise UsageError(f"{name}={excerpt(value)} does not apply to {data.source}: it holds aggregated results "
                                 "(variant, customers, conversions), not per-customer rows")
    elif revenue_column is not None and not any(arm.has_revenue for arm in data.arms.values()):
        raise DataError(f"{data.source}: missing column {excerpt(revenue_column)} (named by revenue_column)")
    if isinstance(expected_split, str):
        expected_split = parse_split(expected_split, len(data.arms))
    return analyze_experiment(data, control=control, expected_split=expected_split, alpha=alpha)
