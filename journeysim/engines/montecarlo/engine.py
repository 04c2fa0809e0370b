"""The Monte Carlo engine: millions of simulated customers, in agreement with the exact engine.

Customers are simulated in chunks, by a compiled kernel (numba) or by vectorised
numpy steps: next touchpoints come
from Walker alias tables (a cost per step that does not grow with the row), delays
from their distributions (per edge where the map gives one), and a horizon cuts
the journeys still under way. The metrics are the exact engine's, estimated from
the sample, plus what only sampling gives: the spread of the conversion count,
time-to-conversion quantiles, the most frequent paths and referral waves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from journeysim._json import plain
from journeysim._text import fmt, format_table, rate, rate_interval, wrap
from journeysim.engines.exact import solve_exact
from journeysim.engines.metrics import JourneyMetrics
from journeysim.engines.branching import spectral_radius
from journeysim.engines.montecarlo import blocks
from journeysim.engines.montecarlo.loop import BACKENDS, PILOT, Cohort, simulate_cohort
from journeysim.engines.montecarlo.tables import Tables, build_tables
from journeysim.engines.montecarlo.tallies import (
    CANDIDATE_PATHS,
    PATH_LENGTH,
    TimeHistogram,
)
from journeysim.engines.workload import (
    MAX_TRANSITIONS,
    REFERRED_PER_CUSTOMER,
    OverBudget,
    Workload,
    check_instant,
    check_limit,
    many,
    stopped,
    too_much,
    workload,
)
from journeysim.errors import UsageError, excerpt, whole_number
from journeysim.journey import Journey, expect_journey

__all__ = ["simulate_montecarlo", "MonteCarloResult", "CHUNK_SIZE", "MAX_GENERATIONS", "SAMPLE_KEYS"]

#: Customers advanced together by default: small enough for the caches, large enough for numpy.
CHUNK_SIZE = 65_536
#: Referral generations simulated at most (with at most 10 referred customers per new customer).
MAX_GENERATIONS = 50
#: JSON keys written after :data:`~journeysim.engines.metrics.METRIC_KEYS` (and before ``method``).
SAMPLE_KEYS = ("customers", "transitions", "conversions", "conversion_rate_ci", "time_to_conversion",
               "top_paths", "seed", "horizon", "outcomes", "referred", "removal_effects_source")
_TOP_PATHS = 10


def _frozen(value):
    return MappingProxyType(dict(value))


@dataclass(frozen=True, kw_only=True, repr=False)
class MonteCarloResult(JourneyMetrics):
    """The metrics of a simulated cohort of new customers.

    The fields of :class:`~journeysim.engines.metrics.JourneyMetrics` are sample
    estimates (``removal_effects`` excepted: they come from the exact engine);
    the fields below are what only sampling gives.

    Attributes
    ----------
    customers, transitions, conversions : new customers simulated, next-step draws
        (drop-off included) and customers who reached a goal (by the horizon).
    conversion_rate_ci : 95% Wilson interval of ``conversion_rate``.
    time_to_conversion : ``p10``, ``p50``, ``p90`` of the time from entry to the first goal.
    top_paths : the most frequent touchpoint sequences: ``path``, ``complete`` (false when
        cut for display), ``count``, ``conversion_rate``.
    outcomes : ``converted_and_exited``, ``exited`` (without converting) and ``travelling``
        (still under way at the horizon); they add up to ``customers``.
    referred : the referral waves: ``customers``, ``conversions``, ``generations``, ``truncated``.
    """

    customers: int
    transitions: int
    conversions: int
    conversion_rate_ci: tuple[float, float]
    time_to_conversion: Mapping[str, float | None]
    top_paths: tuple[Mapping[str, Any], ...]
    outcomes: Mapping[str, int]
    referred: Mapping[str, Any]
    seed: int | None = None
    horizon: float | None = None
    engine: str = "montecarlo"

    def __post_init__(self):
        super().__post_init__()
        for name in ("time_to_conversion", "outcomes", "referred"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "top_paths", tuple(_frozen(p) for p in self.top_paths))

    def _engine_dict(self) -> dict[str, Any]:
        return {key: self.removal_effects_source if key == "removal_effects_source" else plain(getattr(self, key))
                for key in SAMPLE_KEYS}

    def _headline(self) -> str:
        return f"{super()._headline()}, {self.customers} customers, seed {self.seed}"

    @property
    def removal_effects_source(self) -> str:
        return "exact engine" if self.removal_effects else "not computed"

    def summary(self) -> str:
        """The common metric tables, then the sample, outcomes, times, paths and referrals."""
        text = self._metric_tables()
        low, high = self.conversion_rate_ci
        sample = [("new customers", self.customers), ("transitions", self.transitions),
                  ("conversions", self.conversions), ("conversion rate 95% CI", rate_interval((low, high))),
                  ("seed", "-" if self.seed is None else str(self.seed)),
                  (f"horizon ({self.time_unit}s)", fmt(self.horizon))]
        sample += [(f"outcome: {k.replace('_', ' ')}", v) for k, v in self.outcomes.items()]
        sample += [(f"time to conversion {k} ({self.time_unit}s)", fmt(v)) for k, v in self.time_to_conversion.items()]
        sample += [(f"referred: {k}", fmt(v)) for k, v in self.referred.items()]
        text.append(format_table("sample", ["quantity", "value"], sample))
        if self.top_paths:
            rows = [(" > ".join(p["path"]) + ("" if p["complete"] else " > ..."), p["count"],
                     rate(p["count"] / self.customers), _converted(p["conversion_rate"])) for p in self.top_paths]
            text.append(format_table("top paths", ["path", "customers", "share", "converted"], rows))
        text.append(wrap(f"method: {self.method}"))
        return "\n".join(text)


def _converted(share: float) -> str:
    """A path reaches a goal or not; a path cut for display (``> ...``) may hold both kinds of journey."""
    return "yes" if share == 1 else "no" if share == 0 else f"{rate(share)} of them"


def _check(customers, horizon, chunk_size, rng, backend, workers) -> None:
    if not whole_number(customers) or customers <= 0:
        raise UsageError(f"customers={excerpt(customers)}: must be a positive integer")
    if not whole_number(chunk_size) or chunk_size <= 0:
        raise UsageError(f"chunk_size={excerpt(chunk_size)}: must be a positive integer")
    if horizon is not None and not (isinstance(horizon, (int, float)) and math.isfinite(horizon) and horizon > 0):
        raise UsageError(f"horizon={excerpt(horizon)}: must be a positive number of time units (or None)")
    if not isinstance(rng, np.random.Generator):
        raise UsageError(f"rng={excerpt(rng)}: must be a numpy.random.Generator (numpy.random.default_rng(seed))")
    if backend not in BACKENDS:
        raise UsageError(f"backend={excerpt(backend)}: must be one of {', '.join(BACKENDS)}")
    if workers is not None and (not whole_number(workers) or workers <= 0):
        raise UsageError(f"workers={excerpt(workers)}: must be a positive integer (or None: one stream, one thread)")


def _method(customers, chunk_size, horizon, time_unit, removal, backend, blocks_used=False) -> str:
    cut = f"; journeys cut at the horizon {fmt(float(horizon))} {time_unit}s" if horizon is not None else ""
    how = ("walked to the end two at a time in compiled code (numba)" if backend == "numba"
           else "advanced together one vectorised numpy step at a time")
    # The thread count is left out: it changes nothing in the result, the method included.
    split = "" if not blocks_used else (
        f"; new customers in blocks of {blocks.BLOCK}, each with its own random stream (Generator.spawn) and its own "
        "referral generations, added in block order (the same result on any number of threads)")
    return (
        f"Monte Carlo: {customers} new customers in chunks of {chunk_size}, {how}{split}; next touchpoints drawn "
        f"from Walker alias tables, delays from their distributions{cut}; rates are sample proportions and "
        "expectations sample means per new customer; conversion_rate_ci is the Wilson 95% interval (statsmodels); "
        f"time-to-conversion quantiles from a log-spaced histogram ({TimeHistogram.PER_DECADE} bins per decade); "
        f"top paths counted exactly among the {CANDIDATE_PATHS} most frequent paths of the first "
        f"max(chunk, {PILOT}) customers (shown up to {PATH_LENGTH} touchpoints); referrals: K from visits x refers, "
        "referred customers (Poisson(refers) per visit, entering where the touchpoint's refers routes them) simulated "
        "as later generations from the time of the referring visit; per-seed metrics: totals over new and referred "
        "customers per new customer; discounted values: each valued visit times exp(-rate t), t from the (seed) "
        "customer's first touch; "
        + ("removal_effects from the exact engine on the same map" if removal else "removal_effects not computed")
    )


def _top_paths(cohort: Cohort, names) -> list[dict]:
    return [
        {"path": [names[i] for i in path], "complete": complete, "count": count,
         "conversion_rate": converted / count}
        for path, complete, count, converted in cohort.paths.top(_TOP_PATHS)
    ]


def simulate_montecarlo(journey: Journey, customers: int, *, rng: np.random.Generator, horizon: float | None = None,
                        chunk_size: int = CHUNK_SIZE, seed: int | None = None, removal_effects: bool = True,
                        progress: Callable[[int], None] | None = None, backend: str = "numba",
                        max_transitions: int = MAX_TRANSITIONS["montecarlo"], source: str = "<map>",
                        workers: int | None = None) -> MonteCarloResult:
    """Simulate ``customers`` new customers of ``journey`` and estimate its metrics.

    Before it starts, the run's expected work (transitions: one per visit) comes from the
    exact engine's equations (:func:`~journeysim.engines.workload.workload`): a run expected to
    take more than ``max_transitions`` is refused in one line (:class:`~journeysim.errors.LimitError`);
    with a horizon (which makes those figures upper bounds) the run stops with that error
    once it has taken ``max_transitions``. Referrals that sustain themselves are cut at
    :data:`MAX_GENERATIONS` generations and 10 referred customers per new customer (see
    ``referred``), and their work is counted so.

    Parameters
    ----------
    journey : Journey
    customers : int
        New customers (referred customers come on top, reported under ``referred``).
    rng : numpy.random.Generator
        The only source of randomness: the same generator state gives the same result.
    horizon : float, optional
        Count only what happens by this time (the map's ``time_unit``); customers
        still travelling then are counted as not converted (unless they already did).
    chunk_size : int
        Customers advanced together; bounds the memory. It changes the random
        stream, not the statistics.
    seed : int, optional
        Recorded in the result (the seed ``rng`` was made from); it seeds nothing.
    removal_effects : bool
        Take the removal effects from the exact engine (they need no sampling).
    progress : callable, optional
        Called with the number of new customers simulated so far, after each chunk.
    backend : {"numba", "numpy"}
        ``"numba"`` (default) walks each customer of a chunk to the end in compiled
        code; ``"numpy"`` advances a chunk's customers together, one vectorised step
        at a time (about half as fast). Same statistics, different random streams.
    max_transitions : int
        The most transitions (visits) the run may take, new and referred customers together
        (default :data:`~journeysim.engines.workload.MAX_TRANSITIONS` ``["montecarlo"]``, 1e11).
    source : str
        Name of the map file, for error messages.
    workers : int, optional
        Run in blocks of :data:`~journeysim.engines.montecarlo.blocks.BLOCK` new customers, each
        with its own random stream, on this many threads (the compiled kernel uses a core each).
        The result depends on the seed, not on ``workers``; it differs from the single-stream
        run (``None``, the default) from the second block on, i.e. past 1,048,576 customers.
        Referral generations are cut per block (10 referred customers per new customer of the
        block), and a horizon's transition budget is shared in proportion to new customers.

    Returns
    -------
    MonteCarloResult

    Raises
    ------
    LimitError
        The run would take, or took, more than ``max_transitions`` transitions.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.3}}, goals=["buy"])
    >>> r = simulate_montecarlo(j, 10_000, rng=np.random.default_rng(7), seed=7)
    >>> r.customers, r.conversions, round(r.conversion_rate, 4)
    (10000, 2999, 0.2999)
    >>> [round(x, 4) for x in r.conversion_rate_ci]
    [0.291, 0.309]
    >>> [(p["path"], p["count"]) for p in r.top_paths]
    [(['ad'], 7001), (['ad', 'buy'], 2999)]
    """
    expect_journey(journey)
    _check(customers, horizon, chunk_size, rng, backend, workers)
    limit = check_limit(max_transitions)
    customers, chunk_size = int(customers), int(chunk_size)
    horizon = None if horizon is None else float(horizon)
    _check_work(workload(journey), customers, horizon, limit, source)
    tables = build_tables(journey)
    try:
        if workers is None:
            cohort = simulate_cohort(tables, customers, rng, chunk_size=chunk_size, horizon=horizon,
                                     generations=MAX_GENERATIONS, referral_limit=REFERRED_PER_CUSTOMER * customers,
                                     progress=progress, backend=backend, budget=limit)
        else:
            cohort = blocks.simulate_blocks(tables, customers, rng, workers=int(workers), chunk_size=chunk_size,
                                     horizon=horizon, generations=MAX_GENERATIONS,
                                     referred_per_customer=REFERRED_PER_CUSTOMER, progress=progress,
                                     backend=backend, budget=limit)
    except OverBudget:
        raise stopped(source, f"{customers:,} new customers and those they referred, before the horizon of "
                              f"{fmt(horizon)} {journey.time_unit}s", limit) from None
    new, names = cohort.new, journey.names
    visits = new.visits_by_touchpoint()
    goal = np.array([journey.touchpoints[x].goal for x in names])
    refers = np.array([journey.touchpoints[x].refers for x in names])
    k = float(visits @ refers) / customers
    exact = solve_exact(journey) if removal_effects else None
    seeds, warnings = _per_seed(tables, cohort, goal)
    from statsmodels.stats.proportion import (
        proportion_confint,  # pandas-heavy: load only when used
    )

    low, high = proportion_confint(new.converted, customers, alpha=0.05, method="wilson")
    if tables.timed:
        mean_time = new.times.total / new.times.count if new.times.count else None
        quantiles = {f"p{q}": new.times.quantile(q / 100) for q in (10, 50, 90)}
    else:  # nothing takes time: every conversion happens at once
        mean_time = 0.0 if new.converted else None
        quantiles = {f"p{q}": (0.0 if new.converted else None) for q in (10, 50, 90)}
    return MonteCarloResult(
        conversion_rate=new.converted / customers,
        expected_conversions=float(visits @ goal) / customers,
        expected_value=float(visits @ tables.value) / customers,
        expected_touches=float(visits.sum()) / customers,
        expected_time_to_conversion=mean_time,
        visit_rate={x: float(new.first_visits[i]) / customers for i, x in enumerate(names)},
        stage_reach={s: c / customers for s, c in new.stage_reach.items()},
        removal_effects=exact.removal_effects if exact is not None else {},
        referrals=k,
        customers_per_seed=seeds["customers"],
        value_per_seed_customer=seeds["value"],
        conversions_per_seed_customer=seeds["conversions"],
        repeat_rate=new.repeaters / new.converted if new.converted else None,
        bounce_rate=new.bounced / customers,
        funnel={s: c / customers for s, c in new.funnel.items()},
        discounted_value=new.worth / customers if tables.discount is not None else None,
        discounted_value_per_seed_customer=seeds["worth"],
        removal_effects_value=exact.removal_effects_value if exact is not None else {},
        customers=customers,
        transitions=new.transitions,
        conversions=new.converted,
        conversion_rate_ci=(float(low), float(high)),
        time_to_conversion=quantiles,
        top_paths=_top_paths(cohort, names),
        outcomes=new.outcomes,
        referred={"customers": cohort.referred_total("customers"), "conversions": cohort.referred_total("converted"),
                  "transitions": cohort.referred_total("transitions"),
                  "generations": cohort.generations, "truncated": cohort.truncated},
        seed=seed,
        horizon=horizon,
        time_unit=journey.time_unit,
        journey_name=journey.name,
        currency=journey.extra.get("currency"),
        method=_method(customers, chunk_size, horizon, journey.time_unit, removal_effects, backend,
                       workers is not None),
        warnings=tuple(warnings),
    )


def _check_work(work: Workload, customers: int, horizon: float | None, limit: int, source: str) -> None:
    """Refuse a run whose expected work is past ``limit`` with nothing to cut it.

    Referrals that sustain themselves are cut at :data:`MAX_GENERATIONS` generations and 10
    referred customers per new customer (the per-seed metrics are then null, and said so),
    which bounds their work. A horizon cuts journeys only when steps take time; then the
    exact figures are upper bounds, and the run itself stops at the limit instead.
    """
    if horizon is not None and work.timed:
        check_instant(work, limit, source)
        return
    each = work.montecarlo_cost()
    why = ("" if not work.referrers else ", referrals included" if work.per_seed is not None else
           f", with the {REFERRED_PER_CUSTOMER} referred customers a run simulates at most per new customer")
    if customers * each <= limit:
        return
    raise too_much(source, f"touchpoint {excerpt(work.busiest)}: {customers:,} customers would take about "
                           f"{many(customers * each)} transitions ({many(each)} a customer{why}; "
                           f"{many(work.busiest_visits)} visits of {excerpt(work.busiest)} each)", limit)


def _per_seed(tables: Tables, cohort: Cohort, goal: np.ndarray) -> tuple[dict, list[str]]:
    """Per-seed totals: everything the new customers and all their referral generations did, per new customer.

    Unbounded (``None``) when the generations had to be cut, or when the referral matrix
    estimated from the sample (expected referrals of each type per customer of each type)
    has a spectral radius of 1 or more.
    """
    n, customers = tables.n, cohort.new.customers
    groups = [cohort.new, *cohort.referred[1:]]   # new customers stand for type 0
    route = tables.route[:n]
    refer = tables.refers[:n, None] * (route[:, None] == np.arange(len(groups))[None, :])
    M = np.array([g.visits_by_touchpoint() @ refer / g.customers if g.customers else np.zeros(len(groups))
                  for g in groups])
    radius = spectral_radius(M)
    everyone = [cohort.new, *cohort.referred]
    if cohort.truncated or radius >= 1.0:
        why = (f"the referral generations were cut (at {MAX_GENERATIONS} generations or 10 referred customers "
               "per new customer)" if cohort.truncated else
               f"the referral matrix estimated from the sample has spectral radius {radius:.4g}")
        return dict.fromkeys(("customers", "value", "conversions", "worth")), [
            f"referrals sustain themselves: {why}, so the per-seed metrics are unbounded (null)"]
    visits = sum(g.visits_by_touchpoint() for g in everyone)
    return {
        "customers": sum(g.customers for g in everyone) / customers,
        "value": float(visits @ tables.value) / customers,
        "conversions": float(visits @ goal) / customers,
        "worth": sum(g.worth for g in everyone) / customers if tables.discount is not None else None,
    }, []
