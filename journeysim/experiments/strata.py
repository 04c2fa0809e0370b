"""A stratified A/B analysis (``analyze --by COLUMN``): each group on its own, and the groups pooled.

When the mix of days or segments differs between the arms, or the effect differs between them, the summed result
can say what no group says (Simpson's paradox). Pooling the groups' 2x2 tables compares like with like: per variant
against control, the Mantel-Haenszel odds ratio with the Robins-Breslow-Greenland interval, the Mantel-Haenszel
risk ratio (its relative lift), the Cochran-Mantel-Haenszel test of no effect (no continuity correction, as R's
``mantelhaen.test(correct = FALSE)``), Holm-adjusted when several variants face one control, and the Breslow-Day
test that the odds ratio is the same in every group (statsmodels ``StratifiedTable``). A group without customers in
some variant has no 2x2 table: it is left out of the pooled numbers, and the result says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy.stats import chi2
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.multitest import multipletests

from journeysim._result import Result
from journeysim._text import count, fmt, format_table, interval, pct, points, rate, wrap
from journeysim.errors import DataError, UsageError, excerpt
from journeysim.experiments.analysis import ExperimentAnalysis, analyze_experiment
from journeysim.experiments.results import ExperimentData

__all__ = ["PooledComparison", "StratifiedAnalysis", "analyze_strata", "POOLED_METHODS"]

POOLED_METHODS = {
    "pooled": "Mantel-Haenszel pooled odds ratio with the Robins-Breslow-Greenland interval, Mantel-Haenszel pooled "
              "risk ratio (lift = ratio - 1), Cochran-Mantel-Haenszel test without continuity correction "
              "(statsmodels StratifiedTable; R mantelhaen.test(correct = FALSE)), Holm-adjusted over the variants",
    "homogeneity": "Breslow-Day test that the odds ratio is the same in every group (statsmodels "
                   "StratifiedTable.test_equal_odds, without Tarone's adjustment), over the groups with conversions "
                   "and non-conversions",
    "p-values": "upper tails of the statistics' chi-square distributions (scipy chi2.sf: 1 df for CMH, those "
                "groups - 1 for Breslow-Day), so that a tiny p-value is not rounded to 0",
}


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class PooledComparison:
    """One variant against control, pooled over the groups (``None`` where a number does not exist, e.g. an odds
    ratio when no group has a conversion)."""

    variant: str
    groups: int
    odds_ratio: float | None
    odds_ratio_ci: tuple[float | None, float | None]
    lift_rel: float | None
    cmh_statistic: float | None
    cmh_pvalue: float | None
    cmh_pvalue_adj: float | None
    breslow_day_statistic: float | None
    breslow_day_pvalue: float | None

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "variant"}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


@dataclass(frozen=True, repr=False)
class StratifiedAnalysis(Result):
    """The analysis of each group of column ``by``, the variants against control pooled over the groups, and the
    analysis of the summed file (``overall``)."""

    source: str
    by: str
    control: str
    overall: ExperimentAnalysis
    groups: Mapping[str, ExperimentAnalysis]
    pooled: Mapping[str, PooledComparison]
    alpha: float
    left_out: Mapping[str, str] = field(default_factory=dict)
    method: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        for name in ("groups", "pooled", "left_out", "method"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def srm_warning(self) -> bool:
        return self.overall.srm_warning

    @property
    def srm_pvalue(self) -> float:
        return self.overall.srm_pvalue

    def heterogeneous(self) -> list[str]:
        """Variants whose effect differs between the groups (Breslow-Day p below alpha)."""
        return [v for v, p in self.pooled.items() if p.breslow_day_pvalue is not None
                and p.breslow_day_pvalue < self.alpha]

    def reversed(self) -> list[str]:
        """Variants whose summed difference and pooled odds ratio point in opposite directions (Simpson's paradox)."""
        out = []
        for name, p in self.pooled.items():
            diff = self.overall.variants[name].diff
            if p.odds_ratio is not None and diff is not None and p.odds_ratio > 0 and diff * math.log(p.odds_ratio) < 0:
                out.append(name)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "control": self.control,
            "groups": {g: a.to_dict() for g, a in self.groups.items()},
            "pooled": {v: p.to_dict() for v, p in self.pooled.items()},
            "left_out": dict(self.left_out),
            "overall": self.overall.to_dict(),
            "alpha": self.alpha,
            "method": dict(self.method),
        }

    def _headline(self) -> str:
        pooled = "; ".join(f"{p.variant}: odds ratio {fmt(p.odds_ratio)}, CMH p {fmt(p.cmh_pvalue)}, Breslow-Day p "
                           f"{fmt(p.breslow_day_pvalue)}" for p in self.pooled.values())
        return f"by {self.by}, {len(self.groups)} groups; {pooled}"

    def _table(self):
        """One row per group and variant, and the pooled comparisons in rows whose group is ``(pooled)``."""
        columns = ["group", "variant", "customers", "conversions", "rate", "diff", "lift_rel", "pvalue", "odds_ratio",
                   "breslow_day_pvalue"]
        rows = [(g, v.name, v.customers, v.conversions, v.rate, v.diff, v.lift_rel, v.pvalue, None, None)
                for g, a in self.groups.items() for v in a.variants.values()]
        rows += [("(pooled)", p.variant, None, None, None, None, p.lift_rel, p.cmh_pvalue, p.odds_ratio,
                  p.breslow_day_pvalue) for p in self.pooled.values()]
        return columns, rows

    def summary(self) -> str:
        level = f"{100 * (1 - self.alpha):g}%"
        diff = lambda v: (f"{points(v.diff)} [{points(v.diff_ci[0])}, {points(v.diff_ci[1])}]"  # noqa: E731
                          if v.diff_ci else points(v.diff))
        named = lambda v: v.name + (" (control)" if v.name == self.control and v.name.lower() != "control" else "")  # noqa: E731
        rows = [(g, named(v), count(v.customers),
                 count(v.conversions), rate(v.rate), "-" if v.name == self.control else diff(v),
                 "-" if v.name == self.control else pct(v.lift_rel), "-" if v.name == self.control else fmt(v.pvalue))
                for g, a in self.groups.items() for v in a.variants.values()]
        parts = [format_table(f"{self.source}: each group of {self.by} ({level} intervals)",
                              [self.by, "variant", "customers", "conversions", "rate", "difference", "lift", "p"],
                              rows)]
        ci = lambda pair: interval(None if pair is None or None in pair else pair)  # noqa: E731
        rows = [(p.variant, count(p.groups), f"{fmt(p.odds_ratio)} {ci(p.odds_ratio_ci)}", pct(p.lift_rel),
                 fmt(p.cmh_pvalue), fmt(p.cmh_pvalue_adj), fmt(p.breslow_day_pvalue)) for p in self.pooled.values()]
        parts.append(format_table(f"pooled over the groups of {self.by} (Mantel-Haenszel; {level} intervals)",
                                  ["variant", "groups", "odds ratio", "lift", "CMH p", "p (Holm)", "Breslow-Day p"],
                                  rows))
        for name in self.heterogeneous():
            parts.append(wrap(f"WARNING: the effect of {excerpt(name)} differs between the groups of {self.by} (Breslow-Day "
                              f"p = {fmt(self.pooled[name].breslow_day_pvalue)} < {self.alpha:g}): the pooled odds "
                              "ratio averages unlike effects; read the groups"))
        for name in self.reversed():
            parts.append(wrap(f"WARNING: summed over the groups, {excerpt(name)} points the other way than within them "
                              f"(Simpson's paradox: the arms' mix of {self.by} differs); trust the pooled result"))
        for group, why in self.left_out.items():
            parts.append(wrap(f"note: {self.by} {excerpt(group)} left out: {why}"))
        parts.append(f"summed over every group of {self.by}:")
        parts.append(self.overall.summary())
        parts.append("methods (pooled):\n" + "\n".join(wrap(f"  {k}: {v}", "    ") for k, v in POOLED_METHODS.items()))
        return "\n".join(parts)


def _pooled(name: str, tables: np.ndarray, alpha: float) -> dict[str, Any]:
    table = StratifiedTable(tables)
    # A group whose table has an empty row or column (no conversions in either arm, or only conversions) says
    # nothing of its odds ratio (it adds nothing to the Mantel-Haenszel sums), and its Breslow-Day term is 0/0,
    # which made the whole test nan: the test of equal odds ratios is over the other groups
    informative = (tables.sum(axis=0) > 0).all(axis=0) & (tables.sum(axis=1) > 0).all(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        low, high = table.oddsratio_pooled_confint(alpha=alpha)
        null = table.test_null_odds(correction=False)
        ratio = table.riskratio_pooled
        equal = (StratifiedTable(tables[:, :, informative]).test_equal_odds(adjust=False)
                 if informative.sum() >= 2 else None)
    return dict(variant=name, groups=tables.shape[2], odds_ratio=_finite(table.oddsratio_pooled),
                odds_ratio_ci=(_finite(low), _finite(high)), lift_rel=None if _finite(ratio) is None else ratio - 1,
                cmh_statistic=_finite(null.statistic), cmh_pvalue=_tail(null.statistic, 1),
                breslow_day_statistic=None if equal is None else _finite(equal.statistic),
                breslow_day_pvalue=None if equal is None else _tail(equal.statistic, int(informative.sum()) - 1))


def _tail(statistic: float, df: int) -> float | None:
    # statsmodels reports 1 - cdf, which is 0.0 below about 1e-16; the survival function keeps a tiny p exact.
    return _finite(float(chi2.sf(statistic, df))) if df > 0 and _finite(statistic) is not None else None


def analyze_strata(data: ExperimentData, *, control: str | None = None, expected_split: Sequence[float] | None = None,
                   alpha: float = 0.05) -> StratifiedAnalysis:
    """Analyse each group of ``data.by``, and pool the groups by Mantel-Haenszel (see the module docstring).

    Parameters
    ----------
    data : ExperimentData
        Results read with ``by=COLUMN`` (:func:`~journeysim.experiments.results.read_results`),
        whose ``strata`` hold each group's arms.
    control, expected_split, alpha
        As for :func:`~journeysim.experiments.analysis.analyze_experiment`, applied to
        every group and to the summed results.

    Returns
    -------
    StratifiedAnalysis

    Raises
    ------
    DataError
        Fewer than two groups have customers in every variant.

    Examples
    --------
    >>> from journeysim.experiments.results import Arm, ExperimentData
    >>> strata = {"Mon": {"control": Arm("control", 1000, 50), "B": Arm("B", 1000, 70)},
    ...           "Tue": {"control": Arm("control", 2000, 80), "B": Arm("B", 2000, 110)}}
    >>> data = ExperimentData("ab.csv", "aggregated", {"control": Arm("control", 3000, 130), "B": Arm("B", 3000, 180)},
    ...                       by="day", strata=strata)
    >>> r = analyze_strata(data)
    >>> round(r.pooled["B"].odds_ratio, 4), round(r.pooled["B"].cmh_pvalue, 4), round(r.pooled["B"].breslow_day_pvalue, 3)
    (1.4095, 0.0035, 0.923)
    """
    if data.by is None or not data.strata:
        raise UsageError("analyze_strata needs results read with by=COLUMN (the groups to analyse apart)")
    overall = analyze_experiment(data, control=control, expected_split=expected_split, alpha=alpha)
    control = overall.control
    groups, left_out = {}, {}
    for group, arms in data.strata.items():
        missing = [name for name in data.arms if name not in arms or arms[name].customers == 0]
        if missing:
            left_out[group] = f"no customers in {', '.join(map(excerpt, missing))}"
            continue
        part = ExperimentData(f"{data.source} [{data.by} = {group}]", data.kind, {n: arms[n] for n in data.arms},
                              covariate=data.covariate, by=data.by)
        groups[group] = analyze_experiment(part, control=control, expected_split=expected_split, alpha=alpha)
    if len(groups) < 2:
        raise DataError(f"{data.source}: --by {data.by}: {len(groups)} group(s) with customers in every variant; "
                        f"pooling needs two or more ({len(data.strata)} groups in all)")
    pooled = []
    for name in (n for n in data.arms if n != control):
        tables = np.dstack([[[a.conversions, a.customers - a.conversions] for a in (g[name], g[control])]
                            for g in (data.strata[k] for k in groups)]).astype(float)
        pooled.append(_pooled(name, tables, alpha))
    pvalues = [1.0 if p["cmh_pvalue"] is None else p["cmh_pvalue"] for p in pooled]
    adjusted = multipletests(pvalues, method="holm")[1] if len(pvalues) > 1 else pvalues
    comparisons = {p["variant"]: PooledComparison(**p, cmh_pvalue_adj=None if p["cmh_pvalue"] is None
                                                  else float(adj)) for p, adj in zip(pooled, adjusted)}
    return StratifiedAnalysis(data.source, data.by, control, overall, groups, comparisons, alpha, left_out,
                              {**overall.method, **POOLED_METHODS})
