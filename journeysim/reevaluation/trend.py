"""More than two periods: each touchpoint's trend over all of them, besides each consecutive pair's comparison.

A touchpoint's rows over the periods form a periods x outcomes table of counts. Its trend
test is the Rao score test, in the log-linear (Poisson) model of that table, of a linear
association between the period (scored by its position: periods are taken as equally
spaced, in the order given) and each outcome, against independence (statsmodels GLM and
its ``score_test``; K - 1 degrees of freedom for K outcomes). With two outcomes it is the
Cochran-Armitage chi-square test for trend in proportions. The trend p-values are adjusted
across touchpoints with Benjamini-Hochberg; the direction said is that of the least-squares
slope of the touchpoint's removal effect over the periods.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from journeysim._result import Result
from journeysim._text import fmt, format_table, wrap
from journeysim.errors import UsageError
from journeysim.journey import Journey
from journeysim.reevaluation.counts import CountedMap, alone, counts, unpacked
from journeysim.reevaluation.effects import basis, effects
from journeysim.reevaluation.pair import (
    PRECISION,
    Reevaluation,
    adjusted,
    check_options,
    goals_line,
    prepared,
    reevaluate,
)

__all__ = ["TREND_VERDICTS", "TouchpointTrend", "PeriodReevaluation", "trend_test", "trend_tests",
           "reevaluate_periods"]

#: What a touchpoint's trend says: its removal effect rising or falling along a trend in its row, a trend
#: in its row that leaves the removal effect where it was, no trend detected, or nothing to test (no counts
#: in two periods, as for a goal a fit ends journeys at).
TREND_VERDICTS = ("rising", "falling", "changing", "no trend detected", "not assessed")


def trend_test(table: Sequence[Sequence[float]], scores: Sequence[float] | None = None) -> float | None:
    """p-value of a linear trend over periods (rows of ``table``) in the shares of outcomes (its columns).

    ``scores`` places the periods (default 0, 1, 2...). Rows and columns without counts are left out;
    ``None`` when fewer than two of either remain.

    Examples
    --------
    With two outcomes it is the Cochran-Armitage test (here chi-square 12.857 on 1 degree of freedom):

    >>> round(trend_test([[30, 70], [40, 60], [55, 45]]), 6)
    0.000336
    >>> trend_test([[30, 70], [0, 0]]) is None
    True
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    table = np.asarray(table, dtype=float)
    scores = np.arange(len(table), dtype=float) if scores is None else np.asarray(scores, dtype=float)
    keep = table.sum(axis=1) > 0
    table, scores = table[keep][:, table[keep].sum(axis=0) > 0], scores[keep]
    T, K = table.shape
    if T < 2 or K < 2:
        return None
    period, outcome = np.repeat(np.arange(T), K), np.tile(np.arange(K), T)
    exog = np.column_stack([(period == t).astype(float) for t in range(T)]
                           + [(outcome == k).astype(float) for k in range(1, K)])
    trend = np.column_stack([(outcome == k) * (scores[period] - scores.mean()) for k in range(1, K)])
    # Independence has a closed-form fit: start there and the IRLS only confirms it.
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    start = np.concatenate([np.log(rows * cols[0] / table.sum()), np.log(cols[1:] / cols[0])])
    with warnings.catch_warnings():
        # Rows in exactly the same proportions fit independence perfectly, which statsmodels reports as
        # "perfect prediction": the score statistic is then 0, as it should be.
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        fitted = sm.GLM(table.ravel(), exog, family=sm.families.Poisson()).fit(start_params=start)
    return float(np.atleast_1d(fitted.score_test(exog_extra=trend).pvalue)[0])


def trend_tests(journeys: Sequence[Journey], *, alpha: float = 0.05) -> dict[str, tuple[float | None, float | None]]:
    """:func:`trend_test` of each touchpoint's rows over counted maps (oldest first), BH-adjusted across touchpoints.

    Returns ``{name: (pvalue, qvalue)}``; ``(None, None)`` where no trend can be tested (counts in fewer
    than two periods, or a single outcome).

    Examples
    --------
    >>> years = [Journey.from_rows({"ad": 1.0}, {"ad": {"buy": p}}, goals=["buy"],
    ...                            observations={"ad": 1000, "entry": 1000}) for p in (0.10, 0.12, 0.14)]
    >>> p, q = trend_tests(years)["ad"]
    >>> round(p, 4), p == q
    (0.0059, True)
    """
    names = list(dict.fromkeys(n for m in journeys for n in m.names))
    pvalues = {}
    for name in names:
        rows = [counts(m, name) or {} for m in journeys]
        outcomes = list(dict.fromkeys(o for r in rows for o in r))
        pvalues[name] = trend_test([[r.get(o, 0.0) for o in outcomes] for r in rows]) if outcomes else None
    return adjusted([pvalues], alpha)[0]


@dataclass(frozen=True)
class TouchpointTrend:
    """One touchpoint over the periods: trend test, verdict, and its removal effect, drop-off and traffic."""

    name: str
    verdict: str
    pvalue: float | None
    qvalue: float | None
    removal_effect_basis: str
    removal_effects: tuple[float | None, ...]
    dropoff: tuple[float | None, ...]
    traffic: tuple[float | None, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "pvalue": self.pvalue, "qvalue": self.qvalue,
                "removal_effect_basis": self.removal_effect_basis, "removal_effects": list(self.removal_effects),
                "dropoff": list(self.dropoff), "traffic": list(self.traffic)}


@dataclass(frozen=True, repr=False)
class PeriodReevaluation(Result):
    """Several periods compared: each touchpoint's trend over all of them, and each consecutive pair."""

    periods: tuple[str, ...]
    trends: Mapping[str, TouchpointTrend]
    pairs: tuple[Reevaluation, ...]
    conversion: tuple[float, ...]
    customers: tuple[float, ...]
    conversion_trend_pvalue: float | None
    alpha: float
    level: float
    draws: int
    precision: float = PRECISION
    method: Mapping[str, str] = field(default_factory=dict)
    #: The goals of the maps; whether an event log's were taken by default; what fitting the logs warned about.
    goals: tuple[str, ...] = ()
    goals_by_default: bool = False
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "periods": list(self.periods),
            "goals": list(self.goals), "goals_by_default": self.goals_by_default,
            "trends": {n: t.to_dict() for n, t in self.trends.items()},
            "conversion": {"rates": list(self.conversion), "customers": list(self.customers),
                           "trend_pvalue": self.conversion_trend_pvalue},
            "pairs": [{"old": p.old_name, "new": p.new_name, **p.to_dict()} for p in self.pairs],
            "alpha": self.alpha, "interval_level": self.level, "draws": self.draws, "precision": self.precision,
            "warnings": list(self.warnings),
            "method": dict(self.method),
        }

    def summary(self) -> str:
        arrow = " -> ".join
        head = [("goals", goals_line(self.goals, self.goals_by_default)),
                ("conversion rate", arrow(fmt(c) for c in self.conversion)),
                ("trend p-value (Cochran-Armitage)", fmt(self.conversion_trend_pvalue))]
        order = sorted(self.trends, key=lambda n: (TREND_VERDICTS.index(self.trends[n].verdict),
                                                   self.trends[n].qvalue if self.trends[n].qvalue is not None else 1,
                                                   n))
        rows = [(n, t.verdict, fmt(t.qvalue), arrow(fmt(x) for x in t.removal_effects),
                 arrow(fmt(x) for x in t.dropoff)) for n in order if (t := self.trends[n])]
        parts = [wrap(f"re-evaluation over {len(self.periods)} periods: {arrow(self.periods)}", "  "),
                 format_table(None, ["conversion", "value"], head),
                 format_table(f"trend over the periods (score test for a linear trend in each row, FDR "
                              f"{self.alpha:g})", ["touchpoint", "trend", "q-value", "removal effect", "drop-off"],
                              rows)]
        for pair in self.pairs:
            parts.append(f"{pair.old_name} -> {pair.new_name}: conversion {fmt(pair.conversion_old)} -> "
                         f"{fmt(pair.conversion_new)} (p = {fmt(pair.conversion_pvalue)})")
            parts.extend(r._ranked() for r in (pair, *pair.segments.values()))
        parts.extend(f"warning: {w}" for w in self.warnings)
        parts.append("\n".join(wrap(f"method ({k}): {v}", "  ") for k, v in self.method.items()))
        return "\n".join(parts)

    def _headline(self) -> str:
        moving = sum(1 for t in self.trends.values() if t.verdict not in ("no trend detected", "not assessed"))
        return (f"{len(self.periods)} periods: conversion {' -> '.join(fmt(c) for c in self.conversion)}, "
                f"{moving} of {len(self.trends)} touchpoints trending")

    def _table(self):
        """One row per touchpoint: its trend, then its removal effect in each period."""
        columns = ["touchpoint", "verdict", "pvalue", "qvalue", "removal_effect_basis",
                   *(f"removal_effect[{p}]" for p in self.periods)]
        return columns, [(n, t.verdict, t.pvalue, t.qvalue, t.removal_effect_basis, *t.removal_effects)
                         for n, t in self.trends.items()]


def _direction(effects_: Sequence[float | None]) -> str:
    at = [(k, e) for k, e in enumerate(effects_) if e is not None]
    if len(at) < 2:
        return "changing"
    slope = np.polyfit([k for k, _ in at], [e for _, e in at], 1)[0]
    return "rising" if slope > 1e-12 else "falling" if slope < -1e-12 else "changing"


def reevaluate_periods(journeys: Sequence[Journey | CountedMap], *, rng: np.random.Generator, draws: int = 200,
                       level: float = 0.95, alpha: float = 0.05, precision: float = PRECISION,
                       by_segment: bool = False, prior_strength: float | None = None) -> PeriodReevaluation:
    """Compare the maps of several periods, in order: each touchpoint's trend, and each consecutive pair.

    Parameters
    ----------
    journeys : sequence of Journey or CountedMap
        Two or more counted maps (or hand-drawn ones with ``prior_strength``), oldest first.
    rng, draws, level, alpha, precision, by_segment, prior_strength
        As for :func:`~journeysim.reevaluation.reevaluate`, which compares each consecutive pair.

    Returns
    -------
    PeriodReevaluation

    Examples
    --------
    >>> obs = {"ad": 4000, "page": 2000, "entry": 4000}
    >>> years = [Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.5, "buy": 0.05}, "page": {"buy": p}},
    ...                            goals=["buy"], observations=obs, name=f"y{k}")
    ...          for k, p in enumerate((0.10, 0.13, 0.16))]
    >>> r = reevaluate_periods(years, rng=np.random.default_rng(1), draws=20)
    >>> r.trends["page"].verdict, r.trends["ad"].verdict, len(r.pairs)
    ('rising', 'no trend detected', 2)
    """
    if len(journeys) < 2:
        raise UsageError(f"{len(journeys)} period(s): a re-evaluation compares at least two")
    check_options(draws, level, alpha, precision, prior_strength)
    settings = dict(draws=draws, level=level, alpha=alpha, precision=precision, by_segment=by_segment,
                    prior_strength=prior_strength)
    pairs = tuple(reevaluate(a, b, rng=rng, **settings) for a, b in zip(journeys, journeys[1:]))
    journeys, by_default, warnings = unpacked(journeys)
    ready = [prepared(j, f"period {k + 1}", prior_strength) for k, j in enumerate(journeys)]
    maps, pseudo = [alone(m) for m, _ in ready], [fake for _, fake in ready]
    found = [effects(m) for m in maps]
    names = list(dict.fromkeys(n for m in maps for n in m.names))
    tests = trend_tests(maps, alpha=alpha)
    trends = {}
    for name in names:
        on = basis(name, found)
        removal = tuple(e.removal[on].get(name) if name in m.touchpoints and not m.touchpoints[name].goal else None
                        for e, m in zip(found, maps))
        p, q = tests[name]
        verdict = ("not assessed" if p is None else _direction(removal) if q <= alpha else "no trend detected")
        trends[name] = TouchpointTrend(
            name, verdict, p, q, on, removal,
            tuple(m.exit_probability(name) if name in m.touchpoints else None for m in maps),
            tuple(None if fake or name not in m.touchpoints else m.observations.get(name)
                  for m, fake in zip(maps, pseudo)))
    customers = tuple(float(m.observations["entry"]) for m in maps)
    rates = tuple(e.conversion_rate for e in found)
    converted = [[round(r * n), n - round(r * n)] for r, n in zip(rates, customers)]
    names_ = tuple(j.name or f"period {k + 1}" for k, j in enumerate(journeys))
    method = {
        "trend": "per touchpoint, the Rao score test of a linear period-by-outcome association in the log-linear "
                 "(Poisson) model of its periods x outcomes counts (statsmodels GLM score_test; Cochran-Armitage "
                 "for two outcomes), periods equally spaced in the order given, Benjamini-Hochberg across "
                 f"touchpoints at {alpha:g}; rising/falling: the sign of the least-squares slope of the removal "
                 "effect over the periods; changing: a trend in the row that leaves the removal effect level",
        "conversion": "exact conversion rate of each period's map; Cochran-Armitage test for trend on conversions "
                      "= rate x customers observed at entry",
        "pairs": "each consecutive pair as 'reevaluate' compares two maps (its own method below in JSON)",
        "segments": "trends of the pooled rows" + ("; pairs compared per segment too" if by_segment else ""),
    }
    return PeriodReevaluation(periods=names_, trends=trends, pairs=pairs, conversion=rates, customers=customers,
                              conversion_trend_pvalue=trend_test(converted), alpha=alpha, level=level, draws=draws,
                              precision=precision, method=method,
                              goals=tuple(dict.fromkeys(g for m in maps for g in m.goals)),
                              goals_by_default=by_default, warnings=warnings)
