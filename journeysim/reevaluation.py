"""Year-over-year re-evaluation of a journey map: which touchpoints changed, and how much they matter now.

Both maps carry observation counts (``observations: {touchpoint: n, entry: n}``,
as ``fit`` writes them); a row's counts are ``p * n`` for every outcome, drop-off
included. Per touchpoint the old and new rows are compared with Pearson's
chi-square test of homogeneity (:func:`scipy.stats.chi2_contingency`), and the
p-values are adjusted across touchpoints with Benjamini-Hochberg
(:func:`statsmodels.stats.multitest.multipletests`). The change in each removal
effect gets an equal-tailed interval from draws of both maps' rows from their
Dirichlet posteriors (Jeffreys prior, 1/2 per outcome the row has). The overall
conversion change is tested with statsmodels' two-proportion z-test. Segments
are set aside: rows are the map's pooled (top-level) rows.

A touchpoint is judged by whichever of its two removal effects is larger: on the
conversion rate (the first conversion) or on value per seed customer (repeat
purchases and referrals included), so a touchpoint that works after the purchase
is not taken for one that does nothing; ``removal_effect_basis`` says which.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import chi2_contingency
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from journeysim._result import Result
from journeysim._text import fmt, format_table, interval
from journeysim.engines.compiled import compile_journey
from journeysim.engines.exact import solve_exact
from journeysim.errors import DataError, UsageError, excerpt
from journeysim.journey import EXIT, Edge, Journey

__all__ = ["VERDICTS", "BASES", "TouchpointChange", "Reevaluation", "CountedMap", "row_tests", "reevaluate",
           "read_counted", "load_counted", "LOG_SUFFIXES"]

#: File suffixes read as event logs (fitted on the fly) rather than as maps.
LOG_SUFFIXES = (".csv", ".parquet", ".pq")

#: Verdicts, most urgent first (the ranking follows this order).
VERDICTS = ("no longer contributes", "new drop-off point", "weakened", "gone", "new", "strengthened", "still works")
#: A removal effect below this is "no contribution".
MIN_EFFECT = 0.01
#: A changed row whose drop-off share rose by at least this much is a new drop-off point.
DROP_OFF_RISE = 0.10
_PRIOR = 0.5
#: What a removal effect is measured on: ``removal_effects`` and ``removal_effects_value``.
BASES = ("conversion", "value per seed customer")


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
    """The comparison of two maps: per-touchpoint changes, ranking and the conversion change."""

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
    #: The goals of the two maps; whether an event log's were taken by default; what fitting a log warned about.
    goals: tuple[str, ...] = ()
    goals_by_default: bool = False
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "touchpoints": {n: c.to_dict() for n, c in self.touchpoints.items()},
            "conversion": {"old": self.conversion_old, "new": self.conversion_new, "pvalue": self.conversion_pvalue,
                           "customers_old": self.customers_old, "customers_new": self.customers_new},
            "ranking": list(self.ranking),
            "goals": list(self.goals), "goals_by_default": self.goals_by_default,
            "alpha": self.alpha, "interval_level": self.level, "draws": self.draws,
            "warnings": list(self.warnings),
            "method": dict(self.method),
        }

    def summary(self) -> str:
        goals = ", ".join(self.goals) + (" (by default: the touchpoints whose events carry a value; name yours "
                                         "with --goal)" if self.goals_by_default else "")
        head = [("goals", goals), ("conversion rate, old", fmt(self.conversion_old)),
                ("conversion rate, new", fmt(self.conversion_new)),
                ("change", fmt(self.conversion_new - self.conversion_old)),
                ("p-value (two-proportion z-test)", fmt(self.conversion_pvalue))]
        title = f"re-evaluation: {self.old_name or 'old'} -> {self.new_name or 'new'}"
        count = lambda x: "-" if x is None else f"{x:,.0f}"  # noqa: E731
        rows = []
        for i, name in enumerate(self.ranking, 1):
            c = self.touchpoints[name]
            ci = c.removal_effect_change_ci
            basis = "value" if c.removal_effect_basis == BASES[1] else "conversion"
            rows.append((str(i), name, c.verdict, fmt(c.qvalue), basis, fmt(c.removal_effect_old),
                         fmt(c.removal_effect_new), interval(ci), count(c.traffic_old), count(c.traffic_new)))
        table = format_table(f"what to look at first (rows changed at FDR {self.alpha:g}; "
                             f"{100 * self.level:g}% intervals)",
                             ["#", "touchpoint", "verdict", "q-value", "removal effect on", "old", "new",
                              "change interval", "traffic old", "new"], rows)
        method = "\n".join(f"method ({k}): {v}" for k, v in self.method.items())
        warned = [f"warning: {w}" for w in self.warnings]
        return "\n".join([title, format_table(None, ["conversion", "value"], head), table, *warned, method])

    def _headline(self) -> str:
        changed = sum(1 for c in self.touchpoints.values() if c.verdict != "still works")
        return (f"{self.old_name or 'old'} -> {self.new_name or 'new'}: conversion {fmt(self.conversion_old)} -> "
                f"{fmt(self.conversion_new)}, {changed} of {len(self.touchpoints)} touchpoints changed")

    def _table(self):
        """One row per touchpoint, in ranking order (what to look at first)."""
        rows = []
        for name in self.ranking:
            d = self.touchpoints[name].to_dict()
            low, high = d.pop("removal_effect_change_ci") or (None, None)
            rows.append({"touchpoint": name, **d, "removal_effect_change_low": low,
                         "removal_effect_change_high": high})
        columns = list(rows[0]) if rows else ["touchpoint"]
        return columns, [tuple(r.values()) for r in rows]


def _counts(journey: Journey, name: str) -> dict[str, float] | None:
    """Observed departures from ``name`` by outcome (``p * n``), or ``None`` without a count."""
    n = journey.observations.get(name)
    if n is None or name not in journey.touchpoints:
        return None
    row = {b: e.p * n for b, e in journey.rows.get(name, {}).items()}
    row[EXIT] = journey.exit_probability(name) * n
    return row


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
    pvalues: dict[str, float | None] = {}
    for name in old.touchpoints:
        if name not in new.touchpoints:
            continue
        a, b = _counts(old, name), _counts(new, name)
        pvalues[name] = None
        if a is None or b is None:
            continue
        outcomes = [o for o in dict.fromkeys([*a, *b]) if a.get(o, 0.0) + b.get(o, 0.0) > 0]
        table = np.array([[a.get(o, 0.0) for o in outcomes], [b.get(o, 0.0) for o in outcomes]])
        if len(outcomes) < 2 or table.sum(axis=1).min() <= 0:
            continue
        pvalues[name] = float(chi2_contingency(table, correction=False).pvalue)
    tested = [n for n, p in pvalues.items() if p is not None]
    qvalues = dict(zip(tested, multipletests([pvalues[n] for n in tested], alpha=alpha, method="fdr_bh")[1])) \
        if tested else {}
    return {n: (p, None if p is None else float(qvalues[n])) for n, p in pvalues.items()}


def _pooled(journey: Journey, which: str) -> Journey:
    if "entry" not in journey.observations:
        raise DataError(f"{which} map: observations need 'entry' (the number of customers observed); "
                        "fit the map from an event log or add the counts")
    if not journey.segments:
        return journey
    # Pooled, referred customers join the pooled rows wherever their route sent them.
    touchpoints = {n: dataclasses.replace(t, refer_segment=None) for n, t in journey.touchpoints.items()}
    return journey.replace(segments={}, touchpoints=touchpoints)


def _effects(journey: Journey) -> tuple[dict[str, dict[str, float]], float, np.ndarray]:
    """Removal effects on each basis, conversion rate and onward conversion (P(a goal after leaving), per touchpoint).

    Removal effects on value are all 0 when value per seed customer is unbounded (referrals sustain
    themselves): the touchpoints are then judged on conversion.
    """
    metrics = solve_exact(journey)
    chain = compile_journey(journey)
    Q = chain.Q.toarray()
    absorbing = np.where(chain.goal[:, None], 0.0, Q)
    x = np.linalg.solve(np.eye(chain.n) - absorbing, chain.goal.astype(float))
    on_value = metrics.removal_effects_value or dict.fromkeys(metrics.removal_effects, 0.0)
    return {BASES[0]: dict(metrics.removal_effects), BASES[1]: dict(on_value)}, metrics.conversion_rate, Q @ x


def _basis(name: str, old: Mapping[str, Mapping[str, float]], new: Mapping[str, Mapping[str, float]]) -> str:
    """The basis on which ``name``'s removal effect is larger, in either map (conversion on a tie)."""
    def largest(basis: str) -> float:
        return max(effects[basis].get(name, 0.0) for effects in (old, new))

    return BASES[1] if largest(BASES[1]) > largest(BASES[0]) + 1e-12 else BASES[0]


def _draw(journey: Journey, rng: np.random.Generator) -> Journey:
    """One draw of the map's rows and entry from their Dirichlet posteriors (rows without counts stay)."""
    rows = dict(journey.rows)
    for name in journey.touchpoints:
        counts = _counts(journey, name)
        if counts is None or len(counts) < 2:
            continue
        targets = list(counts)
        p = rng.dirichlet(np.array([counts[t] for t in targets]) + _PRIOR)
        old = journey.rows.get(name, {})
        rows[name] = {t: Edge(float(q), old[t].delay, old[t].extra) for t, q in zip(targets, p) if t != EXIT}
    n = journey.observations["entry"]
    names = list(journey.entry)
    shares = rng.dirichlet(np.array([journey.entry[e] * n for e in names]) + _PRIOR) if len(names) > 1 else [1.0]
    return journey.replace(rows=rows, entry=dict(zip(names, map(float, shares))))


def _traffic(journey: Journey, name: str) -> float | None:
    if name not in journey.touchpoints:
        return None
    if name in journey.observations:
        return float(journey.observations[name])
    inflow = journey.entry.get(name, 0.0) * journey.observations["entry"]
    inflow += sum(row[name].p * journey.observations.get(a, 0.0) for a, row in journey.rows.items() if name in row)
    return float(inflow)


def _verdict(c: dict[str, Any], alpha: float, goal: bool) -> str:
    if c["traffic_new"] is None:
        return "gone"
    if c["traffic_old"] is None:
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
    return "still works"


@dataclass(frozen=True)
class CountedMap:
    """A map with observation counts read for :func:`reevaluate`, with what reading it found: whether an event
    log's goals were taken by default, and the fit's warnings (each naming the file)."""

    journey: Journey
    goals_by_default: bool = False
    warnings: tuple[str, ...] = ()


def read_counted(path: str, goals=(), layout=None) -> CountedMap:
    """:func:`load_counted`, keeping whether an event log's goals were taken by default and the fit's warnings.

    Examples
    --------
    >>> counted = read_counted("scenarios/events/online-store-2025.csv")
    >>> counted.journey.goals, counted.goals_by_default
    (('purchase',), True)
    """
    from pathlib import Path

    if Path(path).suffix.lower() in LOG_SUFFIXES:
        from journeysim.fitting.fit import fit_events  # DuckDB and numba: only for a log

        fit = fit_events(path, goals=goals or (), layout=layout)
        return CountedMap(fit.journey, fit.goals_by_default, tuple(f"{path}: {w}" for w in fit.warnings))
    return CountedMap(load_counted(path))


def load_counted(path: str, goals=(), layout=None) -> Journey:
    """A map with observation counts, as :func:`reevaluate` compares: a map file as it is, an event log
    (:data:`LOG_SUFFIXES`) fitted first with ``goals``, read in ``layout`` (a
    :class:`~journeysim.logs.layout.LogLayout`; ``None``: the standard column names).

    Raises
    ------
    DataError
        A map without observation counts (``observations: {entry: n, ...}``), saying how to get one.

    Examples
    --------
    >>> journey = load_counted("scenarios/events/online-store-2025.csv", ["purchase"])
    >>> journey.observations["entry"] > 0
    True
    >>> load_counted("scenarios/online-store.yaml")
    Traceback (most recent call last):
    journeysim.errors.DataError: scenarios/online-store.yaml: no observation counts (observations: {entry: n, touchpoint: n, ...}); re-evaluation compares fitted maps: fit one with 'journeysim fit LOG -o MAP.yaml', or pass the event log itself
    """
    from pathlib import Path

    if Path(path).suffix.lower() in LOG_SUFFIXES:
        from journeysim.fitting.fit import fit_events  # DuckDB and numba: only for a log

        return fit_events(path, goals=goals or (), layout=layout).journey
    from journeysim.maps.read import load_journey

    journey = load_journey(path)
    if "entry" not in journey.observations:
        raise DataError(f"{path}: no observation counts (observations: {{entry: n, touchpoint: n, ...}}); "
                        "re-evaluation compares fitted maps: fit one with 'journeysim fit LOG -o MAP.yaml', "
                        "or pass the event log itself")
    return journey


def reevaluate(old: Journey | CountedMap, new: Journey | CountedMap, *, rng: np.random.Generator, draws: int = 200,
               level: float = 0.95, alpha: float = 0.05) -> Reevaluation:
    """Compare last year's map with this year's, touchpoint by touchpoint.

    Parameters
    ----------
    old, new : Journey or CountedMap
        Maps carrying ``observations`` (departures per touchpoint and ``entry``); as read by
        :func:`read_counted`, their notes (goals taken by default, the fit's warnings) are kept.
    rng : numpy.random.Generator
        For the Dirichlet posterior draws behind the removal-effect intervals.
    draws : int
        Posterior draws of each map (at least 10).
    level : float
        Level of the removal-effect change intervals.
    alpha : float
        False discovery rate at which a row counts as changed.

    Returns
    -------
    Reevaluation
        Per touchpoint: verdict, row test, removal effects old and new with the
        change's interval, traffic; ranked by what to look at first.

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
    """
    notes = [m for m in (old, new) if isinstance(m, CountedMap)]
    old, new = (m.journey if isinstance(m, CountedMap) else m for m in (old, new))
    if not isinstance(draws, int) or draws < 10:
        raise UsageError(f"draws={excerpt(draws)}: need an integer >= 10 for an interval")
    if not 0 < level < 1 or not 0 < alpha < 1:
        raise UsageError(f"level={excerpt(level)}, alpha={excerpt(alpha)}: both must lie strictly between 0 and 1")
    old, new = _pooled(old, "old"), _pooled(new, "new")
    tests = row_tests(old, new, alpha=alpha)
    re_old, cr_old, onward_old = _effects(old)
    re_new, cr_new, onward_new = _effects(new)
    common = [n for n in old.touchpoints if n in new.touchpoints and not new.touchpoints[n].goal
              and not old.touchpoints[n].goal]
    basis = {n: _basis(n, re_old, re_new) for n in dict.fromkeys([*old.touchpoints, *new.touchpoints])}
    diffs = np.empty((draws, len(common)))
    for d in range(draws):
        a, b = _effects(_draw(old, rng))[0], _effects(_draw(new, rng))[0]
        diffs[d] = [b[basis[n]][n] - a[basis[n]][n] for n in common]
    diffs[np.abs(diffs) < 1e-12] = 0.0          # rounding noise of effects that are exactly 0 or 1
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(diffs, [tail, 100 - tail], axis=0) if common else ([], [])
    intervals = {n: (float(lo[i]), float(hi[i])) for i, n in enumerate(common)}

    changes = {}
    for name in dict.fromkeys([*old.touchpoints, *new.touchpoints]):
        in_old, in_new = name in old.touchpoints, name in new.touchpoints
        goal = (new if in_new else old).touchpoints[name].goal
        p, q = tests.get(name, (None, None))
        c = {
            "pvalue": p, "qvalue": q,
            "removal_effect_old": re_old[basis[name]].get(name), "removal_effect_new": re_new[basis[name]].get(name),
            "removal_effect_change_ci": intervals.get(name),
            "traffic_old": _traffic(old, name), "traffic_new": _traffic(new, name),
            "dropoff_old": old.exit_probability(name) if in_old else None,
            "dropoff_new": new.exit_probability(name) if in_new else None,
            "onward_conversion_old": float(onward_old[old.names.index(name)]) if in_old else None,
            "onward_conversion_new": float(onward_new[new.names.index(name)]) if in_new else None,
        }
        changes[name] = TouchpointChange(name=name, verdict=_verdict(c, alpha, goal), removal_effect_basis=basis[name],
                                         **c)

    def urgency(name: str):
        c = changes[name]
        return (VERDICTS.index(c.verdict), c.qvalue if c.qvalue is not None else 1.0,
                -abs(c.removal_effect_change or 0.0), name)

    n_old, n_new = float(old.observations["entry"]), float(new.observations["entry"])
    counts = np.array([round(cr_new * n_new), round(cr_old * n_old)])
    pvalue = None
    if min(n_old, n_new) > 0 and 0 < counts.sum() < n_old + n_new:
        pvalue = float(proportions_ztest(counts, np.array([n_new, n_old]))[1])
    return Reevaluation(
        touchpoints=changes, ranking=tuple(sorted(changes, key=urgency)),
        conversion_old=cr_old, conversion_new=cr_new, conversion_pvalue=pvalue,
        customers_old=n_old, customers_new=n_new, alpha=alpha, level=level, draws=draws,
        old_name=old.name, new_name=new.name,
        goals=tuple(dict.fromkeys([*old.goals, *new.goals])),
        goals_by_default=any(m.goals_by_default for m in notes),
        warnings=tuple(dict.fromkeys(w for m in notes for w in m.warnings)),
        method={
            "rows": "Pearson chi-square test of homogeneity per row on counts p * n (drop-off included), "
                    f"Benjamini-Hochberg across touchpoints (statsmodels fdr_bh) at {alpha:g}",
            "removal effects": "exact absorbing-chain removal effects, on conversion or on value per seed customer "
                               "(repeat purchases and referrals included), whichever is larger in either map; "
                               f"change interval: equal-tailed {level:g} from {draws} Dirichlet-posterior draws of "
                               "each map's rows (prior 1/2 per outcome)",
            "conversion": "exact conversion rate of each map; two-proportion z-test (statsmodels proportions_ztest) "
                          "on conversions = rate x customers observed at entry",
            "segments": "set aside: rows are the maps' pooled top-level rows",
            "verdicts": f"removal effect below {MIN_EFFECT:g} = no contribution; drop-off rise of "
                        f"{DROP_OFF_RISE:g} on a changed row = new drop-off point",
        },
    )
