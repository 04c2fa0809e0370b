"""Two periods' maps compared touchpoint by touchpoint: row tests, removal-effect changes, verdicts, ranking.

Per touchpoint the old and new rows are compared with Pearson's chi-square test of
homogeneity (:func:`scipy.stats.chi2_contingency`), and the p-values are adjusted with
Benjamini-Hochberg (:func:`statsmodels.stats.multitest.multipletests`) over every row
tested: the pooled rows and, with ``by_segment``, each segment's rows, all at once. The
change in each removal effect gets an equal-tailed interval from posterior draws of both
maps' rows (:mod:`journeysim.reevaluation.counts`). No detected change is not evidence of
no change: a touchpoint is said to "still work" only when its interval is narrower than
``precision``; otherwise it is ``inconclusive``. The overall conversion change is tested
with statsmodels' two-proportion z-test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import chi2_contingency
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from journeysim._result import Result
from journeysim._text import fmt, format_table, interval, points, rate, wrap
from journeysim.errors import DataError, UsageError, excerpt
from journeysim.journey import Edge, Journey
from journeysim.maps.values import MAX_COUNT
from journeysim.reevaluation.counts import (
    JEFFREYS,
    CountedMap,
    alone,
    counted,
    counts,
    segment_journey,
    unpacked,
    with_pseudo_counts,
)
from journeysim.reevaluation.effects import BASES, basis, change_intervals, effects

__all__ = ["VERDICTS", "MIN_EFFECT", "DROP_OFF_RISE", "PRECISION", "TouchpointChange", "Reevaluation", "row_tests",
           "reevaluate", "prepared", "check_options", "adjusted", "goals_line"]

#: Verdicts, most urgent first (the ranking follows this order).
VERDICTS = ("no longer contributes", "new drop-off point", "weakened", "gone", "new", "strengthened", "inconclusive",
            "still works", "not assessed")
#: A removal effect below this is "no contribution".
MIN_EFFECT = 0.01
#: A changed row whose drop-off share rose by at least this much is a new drop-off point.
DROP_OFF_RISE = 0.10
#: Default widest removal-effect change interval that still lets "no change detected" read "still works".
PRECISION = 0.1


@dataclass(frozen=True)
class TouchpointChange:
    """What changed at one touchpoint between the old and the new map."""

    name: str
    verdict: str
    pvalue: float | None
    qvalue: float | None
    removal_effect_old: float | None
    removal_effect_new: float | None
    removal_effect_change_ci: tuple[float, float] | None
    traffic_old: float | None
    traffic_new: float | None
    dropoff_old: float | None
    dropoff_new: float | None
    onward_conversion_old: float | None
    onward_conversion_new: float | None
    #: What the removal effects above measure (the larger of the two effects): one of :data:`BASES`.
    removal_effect_basis: str = "conversion"

    @property
    def removal_effect_change(self) -> float | None:
        if self.removal_effect_old is None or self.removal_effect_new is None:
            return None
        return self.removal_effect_new - self.removal_effect_old

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict, "pvalue": self.pvalue, "qvalue": self.qvalue,
            "removal_effect_basis": self.removal_effect_basis,
            "removal_effect_old": self.removal_effect_old, "removal_effect_new": self.removal_effect_new,
            "removal_effect_change_ci": list(self.removal_effect_change_ci) if self.removal_effect_change_ci else None,
            "traffic_old": self.traffic_old, "traffic_new": self.traffic_new,
            "removal_effect_change": self.removal_effect_change,
            "dropoff_old": self.dropoff_old, "dropoff_new": self.dropoff_new,
            "onward_conversion_old": self.onward_conversion_old, "onward_conversion_new": self.onward_conversion_new,
        }


@dataclass(frozen=True, repr=False)
class Reevaluation(Result):
    """The comparison of two maps: per-touchpoint changes, ranking and the conversion change.

    ``segments`` holds each segment's own comparison (with ``by_segment``); its q-values come from the
    same Benjamini-Hochberg correction as the pooled ones.
    """

    touchpoints: Mapping[str, TouchpointChange]
    ranking: tuple[str, ...]
    conversion_old: float
    conversion_new: float
    conversion_pvalue: float | None
    customers_old: float
    customers_new: float
    alpha: float
    level: float
    draws: int
    old_name: str = ""
    new_name: str = ""
    method: Mapping[str, str] = field(default_factory=dict)
    precision: float = PRECISION
    segments: Mapping[str, Reevaluation] = field(default_factory=dict)
    #: Pseudo-counts per row given to hand-drawn maps (``None``: both maps were counted).
    prior_strength: float | None = None
    #: The segment this comparison is of (``None``: the pooled rows).
    segment: str | None = None
    #: The goals of the two maps; whether an event log's were taken by default; what fitting a log warned about.
    goals: tuple[str, ...] = ()
    goals_by_default: bool = False
    warnings: tuple[str, ...] = ()

    def _core(self) -> dict[str, Any]:
        return {
            "touchpoints": {n: c.to_dict() for n, c in self.touchpoints.items()},
            "conversion": {"old": self.conversion_old, "new": self.conversion_new, "pvalue": self.conversion_pvalue,
                           "customers_old": self.customers_old, "customers_new": self.customers_new},
            "ranking": list(self.ranking),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self._core(),
            "goals": list(self.goals), "goals_by_default": self.goals_by_default,
            "segments": {name: s._core() for name, s in self.segments.items()},
            "alpha": self.alpha, "interval_level": self.level, "draws": self.draws, "precision": self.precision,
            "prior_strength": self.prior_strength,
            "warnings": list(self.warnings),
            "method": dict(self.method),
        }

    def _ranked(self) -> str:
        count = lambda x: "-" if x is None else f"{x:,.0f}"  # noqa: E731
        rows = []
        for i, name in enumerate(self.ranking, 1):
            c = self.touchpoints[name]
            ci = c.removal_effect_change_ci
            on = "value" if c.removal_effect_basis == BASES[1] else "conversion"
            rows.append((str(i), name, c.verdict, fmt(c.qvalue), on, fmt(c.removal_effect_old),
                         fmt(c.removal_effect_new), interval(ci), count(c.traffic_old), count(c.traffic_new)))
        where = f"segment {self.segment}: " if self.segment is not None else ""
        return format_table(f"{where}what to look at first (rows changed at FDR {self.alpha:g}; "
                            f"{100 * self.level:g}% intervals)",
                            ["#", "touchpoint", "verdict", "q-value", "removal effect on", "old", "new",
                             "change interval", "traffic old", "new"], rows)

    def summary(self) -> str:
        # The goals are a sentence, not a cell: as a row they stretched the table to the terminal's width.
        head = [("conversion rate, old", rate(self.conversion_old)), ("conversion rate, new", rate(self.conversion_new)),
                ("change", points(self.conversion_new - self.conversion_old)),
                ("p-value (two-proportion z-test)", fmt(self.conversion_pvalue))]
        title = f"re-evaluation: {self.old_name or 'old'} -> {self.new_name or 'new'}"
        parts = [title, wrap(f"goals: {goals_line(self.goals, self.goals_by_default)}", "  "),
                 format_table(None, ["conversion", "value"], head), self._ranked()]
        for name, s in self.segments.items():
            parts.append(f"segment {name}: conversion {fmt(s.conversion_old)} -> {fmt(s.conversion_new)} "
                         f"(p = {fmt(s.conversion_pvalue)})")
            parts.append(s._ranked())
        every = [self, *self.segments.values()]
        if any(c.verdict == "inconclusive" for r in every for c in r.touchpoints.values()):
            parts.append(wrap(f"inconclusive: no change detected, but the removal-effect change interval is wider "
                              f"than {self.precision:g}, so the data cannot say the touchpoint still works (more "
                              "data, or a wider --precision, would)"))
        parts.extend(f"warning: {w}" for w in self.warnings)
        parts.append("\n".join(wrap(f"method ({k}): {v}", "  ") for k, v in self.method.items()))
        return "\n".join(parts)

    def _headline(self) -> str:
        verdicts = [c.verdict for c in self.touchpoints.values()]
        changed = sum(1 for v in verdicts if v not in ("still works", "inconclusive", "not assessed"))
        unsure = verdicts.count("inconclusive")
        return (f"{self.old_name or 'old'} -> {self.new_name or 'new'}: conversion {fmt(self.conversion_old)} -> "
                f"{fmt(self.conversion_new)}, {changed} of {len(verdicts)} touchpoints changed"
                + (f", {unsure} inconclusive" if unsure else ""))

    def _table(self):
        """One row per touchpoint, in ranking order (what to look at first); with segments, theirs follow."""
        rows = []
        for r in (self, *self.segments.values()):
            for name in r.ranking:
                d = r.touchpoints[name].to_dict()
                low, high = d.pop("removal_effect_change_ci") or (None, None)
                rows.append({**({"segment": r.segment} if self.segments else {}), "touchpoint": name, **d,
                             "removal_effect_change_low": low, "removal_effect_change_high": high})
        columns = list(rows[0]) if rows else ["touchpoint"]
        return columns, [tuple(r.values()) for r in rows]


def goals_line(goals: tuple[str, ...], by_default: bool) -> str:
    """The goals, and whether they were taken by default, for a summary's head."""
    return ", ".join(goals) + (" (by default: the touchpoints whose events carry a value; name yours with --goal)"
                               if by_default else "")


def _row_pvalues(old: Journey, new: Journey) -> dict[str, float | None]:
    """Pearson's chi-square test of homogeneity of each touchpoint's row (``None``: not testable)."""
    pvalues: dict[str, float | None] = {}
    for name in old.touchpoints:
        if name not in new.touchpoints:
            continue
        a, b = counts(old, name), counts(new, name)
        pvalues[name] = None
        if a is None or b is None:
            continue
        outcomes = [o for o in dict.fromkeys([*a, *b]) if a.get(o, 0.0) + b.get(o, 0.0) > 0]
        table = np.array([[a.get(o, 0.0) for o in outcomes], [b.get(o, 0.0) for o in outcomes]])
        if len(outcomes) < 2 or table.sum(axis=1).min() <= 0:
            continue
        pvalues[name] = float(chi2_contingency(table, correction=False).pvalue)
    return pvalues


def adjusted(groups: list[dict[str, float | None]], alpha: float) -> list[dict[str, tuple]]:
    """``(pvalue, qvalue)`` per name in each group, Benjamini-Hochberg over every p-value of every group."""
    tested = [(k, n) for k, g in enumerate(groups) for n, p in g.items() if p is not None]
    q = multipletests([groups[k][n] for k, n in tested], alpha=alpha, method="fdr_bh")[1] if tested else []
    qvalues = {key: float(v) for key, v in zip(tested, q)}
    return [{n: (p, qvalues.get((k, n))) for n, p in g.items()} for k, g in enumerate(groups)]


def row_tests(old: Journey, new: Journey, *, alpha: float = 0.05) -> dict[str, tuple[float | None, float | None]]:
    """Chi-square test of homogeneity of each touchpoint's row, BH-adjusted across touchpoints.

    Returns ``{name: (pvalue, qvalue)}`` for touchpoints in both maps; ``(None, None)``
    where a row cannot be tested (no counts on one side, or a single outcome on both).

    Examples
    --------
    >>> old = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.1}}, goals=["buy"],
    ...                         observations={"ad": 1000, "entry": 1000})
    >>> new = old.replace(rows={"ad": {"buy": Edge(0.2)}})
    >>> p, q = row_tests(old, new)["ad"]
    >>> p < 1e-9, p == q
    (True, True)
    """
    return adjusted([_row_pvalues(old, new)], alpha)[0]


def _traffic(journey: Journey, name: str, pseudo: bool) -> float | None:
    """Departures observed from ``name`` (else its expected inflow from the counts); ``None`` for pseudo-counts."""
    if pseudo or name not in journey.touchpoints:
        return None
    if name in journey.observations:
        return float(journey.observations[name])
    inflow = journey.entry.get(name, 0.0) * journey.observations["entry"]
    inflow += sum(row[name].p * journey.observations.get(a, 0.0) for a, row in journey.rows.items() if name in row)
    return float(inflow)


def _verdict(c: dict[str, Any], where: tuple[bool, bool], alpha: float, goal: bool, precision: float) -> str:
    in_old, in_new = where
    if not in_new:
        return "gone"
    if not in_old:
        return "new"
    ci = c["removal_effect_change_ci"]
    flagged = c["qvalue"] is not None and c["qvalue"] <= alpha
    if not goal and ci is not None and c["removal_effect_old"] >= MIN_EFFECT > c["removal_effect_new"] and ci[1] < 0:
        return "no longer contributes"
    if flagged and c["dropoff_new"] - c["dropoff_old"] >= DROP_OFF_RISE:
        return "new drop-off point"
    if ci is not None and ci[0] > 0:
        return "strengthened"
    if ci is not None and ci[1] < 0:
        return "weakened"
    if flagged:
        return "strengthened" if c["onward_conversion_new"] > c["onward_conversion_old"] else "weakened"
    if ci is None:
        return "not assessed"       # a goal (no removal effect) or a row without counts: nothing to say it works
    if ci[1] - ci[0] > precision:
        return "inconclusive"       # nothing detected, but the data cannot rule out a change that matters
    return "still works"


def check_options(draws: Any, level: Any, alpha: Any, precision: Any, prior_strength: Any) -> None:
    """Refuse options no re-evaluation can use, naming them."""
    if not isinstance(draws, int) or draws < 10:
        raise UsageError(f"draws={excerpt(draws)}: need an integer >= 10 for an interval")
    if not 0 < level < 1 or not 0 < alpha < 1:
        raise UsageError(f"level={excerpt(level)}, alpha={excerpt(alpha)}: both must lie strictly between 0 and 1")
    if not (isinstance(precision, (int, float)) and math.isfinite(precision) and precision > 0):
        raise UsageError(f"precision={excerpt(precision)}: must be a width > 0 (absolute, on the removal effect)")
    if prior_strength is not None and not (isinstance(prior_strength, (int, float))
                                           and 0 < prior_strength <= MAX_COUNT):
        raise UsageError(f"prior_strength={excerpt(prior_strength)}: must be a number of pseudo-counts > 0 and at "
                         f"most {MAX_COUNT:g}")


def prepared(journey: Journey, which: str, prior_strength: float | None) -> tuple[Journey, bool]:
    """The map with counts to compare, and whether they are pseudo-counts (a hand-drawn map)."""
    if counted(journey):
        return journey, False
    if prior_strength is None:
        raise DataError(f"{which} map: observations need 'entry' (the number of customers observed); fit the map "
                        "from an event log or add the counts, or give a hand-drawn map's rows pseudo-counts "
                        "(prior_strength=N)")
    return with_pseudo_counts(journey, prior_strength), True


def _segment_units(old: Journey, new: Journey) -> tuple[list[tuple], list[str]]:
    """``(segment, old journey, new journey)`` for each segment in both maps, and the segments in one only."""
    both = [s for s in old.segments if s in new.segments]
    one_sided = sorted(set(old.segments) ^ set(new.segments))
    if not both:
        raise UsageError("no segment in both maps to compare by segment (old: "
                         f"{', '.join(old.segments) or 'none'}; new: {', '.join(new.segments) or 'none'})")
    units = []
    for seg in both:
        for which, journey in (("old", old), ("new", new)):
            if "entry" not in journey.segments[seg].observations:
                raise DataError(f"{which} map: segment {excerpt(seg)} has no observation counts (observations: "
                                "{entry: n, ...} under the segment, as 'journeysim fit' writes them): refit the map "
                                "or pass the event log")
        units.append((seg, segment_journey(old, seg), segment_journey(new, seg)))
    return units, one_sided


def reevaluate(old: Journey | CountedMap, new: Journey | CountedMap, *, rng: np.random.Generator, draws: int = 200,
               level: float = 0.95, alpha: float = 0.05, precision: float = PRECISION, by_segment: bool = False,
               prior_strength: float | None = None) -> Reevaluation:
    """Compare last year's map with this year's, touchpoint by touchpoint.

    Parameters
    ----------
    old, new : Journey or CountedMap
        Maps carrying ``observations`` (departures per touchpoint and ``entry``), or hand-drawn maps
        with ``prior_strength``; as read by :func:`~journeysim.reevaluation.counts.read_counted`, their
        notes (goals taken by default, the fit's warnings) are kept.
    rng : numpy.random.Generator
        For the Dirichlet posterior draws behind the removal-effect intervals.
    draws : int
        Posterior draws of each map (at least 10).
    level : float
        Level of the removal-effect change intervals.
    alpha : float
        False discovery rate at which a row counts as changed.
    precision : float
        Widest removal-effect change interval (absolute) with which "no change detected" reads
        "still works"; a wider one is ``inconclusive``.
    by_segment : bool
        Also compare each segment the two maps share, on its own counts; every row test (pooled and
        per segment) joins one Benjamini-Hochberg correction.
    prior_strength : float, optional
        Pseudo-counts per row for a map without observations (a hand-drawn map): a Dirichlet prior
        centred on its probabilities. Without it such a map is refused.

    Returns
    -------
    Reevaluation
        Per touchpoint: verdict, row test, removal effects old and new with the
        change's interval, traffic; ranked by what to look at first.

    Raises
    ------
    DataError
        A map without observation counts and no ``prior_strength``; a segment without counts.
    UsageError
        Bad options, or ``by_segment`` for maps with no segment in common.

    Examples
    --------
    >>> obs = {"ad": 2000, "page": 1000, "entry": 2000}
    >>> old = Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.5}, "page": {"buy": 0.2}}, goals=["buy"],
    ...                         observations=obs)
    >>> new = old.replace(rows={"ad": {"page": Edge(0.5)}, "page": {"buy": Edge(0.1)}},
    ...                   observations={**obs, "page": 1000})
    >>> r = reevaluate(old, new, rng=np.random.default_rng(1), draws=50)
    >>> r.touchpoints["page"].qvalue < 0.05, r.touchpoints["ad"].verdict
    (True, 'still works')
    >>> round(r.conversion_old, 3), round(r.conversion_new, 3), r.ranking[0]
    (0.1, 0.05, 'page')

    Nothing changed, but 400 customers a year cannot tell whether the page still matters as much:

    >>> same = Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.5, "buy": 0.05}, "page": {"buy": 0.2}},
    ...                          goals=["buy"], observations={"ad": 400, "page": 200, "entry": 400})
    >>> r = reevaluate(same, same, rng=np.random.default_rng(1), draws=50)
    >>> r.touchpoints["page"].verdict, r.touchpoints["page"].removal_effect_change_ci[1] > 0.05
    ('inconclusive', True)
    """
    check_options(draws, level, alpha, precision, prior_strength)
    (old, new), by_default, warnings = unpacked((old, new))
    (old, pseudo_old), (new, pseudo_new) = prepared(old, "old", prior_strength), prepared(new, "new", prior_strength)
    pseudo = (pseudo_old, pseudo_new)
    units: list[tuple] = [(None, alone(old), alone(new))]
    one_sided: list[str] = []
    if by_segment:
        more, one_sided = _segment_units(old, new)
        units += more
    tests = adjusted([_row_pvalues(a, b) for _, a, b in units], alpha)
    settings = dict(draws=draws, level=level, alpha=alpha, precision=precision)
    done = [_compare(a, b, tests[k], pseudo, rng, segment=seg, **settings) for k, (seg, a, b) in enumerate(units)]
    method = _method(alpha, level, draws, precision, by_segment, one_sided, prior_strength if any(pseudo) else None,
                     pseudo)
    return Reevaluation(**{**done[0], "method": method}, old_name=old.name, new_name=new.name,
                        segments={r["segment"]: Reevaluation(**r) for r in done[1:]},
                        prior_strength=prior_strength if any(pseudo) else None,
                        goals=tuple(dict.fromkeys([*old.goals, *new.goals])), goals_by_default=by_default,
                        warnings=warnings)


def _compare(old: Journey, new: Journey, tests: Mapping[str, tuple], pseudo: tuple[bool, bool],
             rng: np.random.Generator, *, segment: str | None, draws: int, level: float, alpha: float,
             precision: float) -> dict[str, Any]:
    """The fields of one :class:`Reevaluation` (the pooled rows, or one segment's)."""
    e_old, e_new = effects(old), effects(new)
    common = [n for n in old.touchpoints if n in new.touchpoints and not new.touchpoints[n].goal
              and not old.touchpoints[n].goal]
    names = list(dict.fromkeys([*old.touchpoints, *new.touchpoints]))
    bases = {n: basis(n, (e_old, e_new)) for n in names}
    priors = tuple(0.0 if p else JEFFREYS for p in pseudo)
    intervals = change_intervals(old, new, common, bases, draws=draws, level=level, rng=rng, priors=priors)
    changes = {}
    for name in names:
        where = (name in old.touchpoints, name in new.touchpoints)
        goal = (new if where[1] else old).touchpoints[name].goal
        p, q = tests.get(name, (None, None))
        c = {
            "pvalue": p, "qvalue": q,
            "removal_effect_old": e_old.removal[bases[name]].get(name),
            "removal_effect_new": e_new.removal[bases[name]].get(name),
            "removal_effect_change_ci": intervals.get(name),
            "traffic_old": _traffic(old, name, pseudo[0]), "traffic_new": _traffic(new, name, pseudo[1]),
            "dropoff_old": old.exit_probability(name) if where[0] else None,
            "dropoff_new": new.exit_probability(name) if where[1] else None,
            "onward_conversion_old": e_old.onward.get(name), "onward_conversion_new": e_new.onward.get(name),
        }
        changes[name] = TouchpointChange(name=name, verdict=_verdict(c, where, alpha, goal, precision),
                                         removal_effect_basis=bases[name], **c)

    def urgency(name: str):
        c = changes[name]
        return (VERDICTS.index(c.verdict), c.qvalue if c.qvalue is not None else 1.0,
                -abs(c.removal_effect_change or 0.0), name)

    n_old, n_new = float(old.observations["entry"]), float(new.observations["entry"])
    cr_old, cr_new = e_old.conversion_rate, e_new.conversion_rate
    converted = np.array([round(cr_new * n_new), round(cr_old * n_old)])
    pvalue = None
    if min(n_old, n_new) > 0 and 0 < converted.sum() < n_old + n_new:
        pvalue = float(proportions_ztest(converted, np.array([n_new, n_old]))[1])
    return dict(touchpoints=changes, ranking=tuple(sorted(changes, key=urgency)), conversion_old=cr_old,
                conversion_new=cr_new, conversion_pvalue=pvalue, customers_old=n_old, customers_new=n_new,
                alpha=alpha, level=level, draws=draws, precision=precision, segment=segment)


def _method(alpha, level, draws, precision, by_segment, one_sided, prior_strength, pseudo) -> dict[str, str]:
    tested = "the pooled rows' and every shared segment's tests together" if by_segment else "touchpoints"
    method = {
        "rows": "Pearson chi-square test of homogeneity per row on counts p * n (drop-off included), "
                f"Benjamini-Hochberg across {tested} (statsmodels fdr_bh) at {alpha:g}",
        "removal effects": "exact absorbing-chain removal effects, on conversion or on value per seed customer "
                           "(repeat purchases and referrals included), whichever is larger in either map; "
                           f"change interval: equal-tailed {level:g} from {draws} Dirichlet-posterior draws of "
                           "each map's rows (prior 1/2 per outcome on observed counts)",
        "conversion": "exact conversion rate of each map; two-proportion z-test (statsmodels proportions_ztest) "
                      "on conversions = rate x customers observed at entry",
        "segments": ("pooled rows, and each segment the maps share on its own counts"
                     + (f" (in one map only, not compared: {', '.join(one_sided)})" if one_sided else "")
                     if by_segment else "set aside: rows are the maps' pooled top-level rows"),
        "verdicts": f"removal effect below {MIN_EFFECT:g} = no contribution; drop-off rise of "
                    f"{DROP_OFF_RISE:g} on a changed row = new drop-off point; no change detected with a change "
                    f"interval wider than {precision:g} = inconclusive, narrower = still works, none (a goal, a row "
                    "without counts) = not assessed",
    }
    if prior_strength is not None:
        which = " and ".join(w for w, p in zip(("old", "new"), pseudo) if p)
        method["hand-drawn maps"] = (f"the {which} map has no observations: each of its rows (and its entry) counts "
                                     f"as {prior_strength:g} observations of its probabilities (a Dirichlet prior "
                                     f"centred on them, drawn as Dirichlet({prior_strength:g} p)); its traffic is "
                                     "unknown")
    return method
