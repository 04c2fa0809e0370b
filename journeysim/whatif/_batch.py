"""Evaluating many versions of one journey at once, for predictions.

* :func:`posterior_journeys` draws a journey's rows from the Dirichlet posterior of
  its ``observations`` counts;
* :func:`exact_batch` solves a batch of journeys with the same touchpoints as one
  stacked dense linear system per segment (many small solves in one numpy call,
  instead of one :func:`~journeysim.engines.exact.solve_exact` each) for the
  conversion rate, conversions and value; any other metric is solved draw by draw;
* :func:`stacked_batch` solves every metric of maps drawn as arrays
  (:class:`~journeysim.whatif._drawn.DrawnMaps`) for all draws at once;
* :func:`sampled_batch` runs a sampling engine on each journey, segment by segment,
  with one random stream per draw shared by baseline and variant (common random numbers).

Each returns per draw: the metric, the metric per segment and the reach of each stage.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence

import numpy as np

from journeysim.engines.stacked import solve_stacked
from journeysim.errors import ScenarioError
from journeysim.journey import Journey
from journeysim.whatif._drawn import DrawnMaps, journeys_from_draws, posterior_draws
from journeysim.whatif.uncertain import DIRICHLET_PRIOR

__all__ = ["DIRICHLET_PRIOR", "posterior_journeys", "exact_batch", "exact_each", "stacked_batch", "sampled_batch",
           "SAMPLING_ENGINES", "BATCHED", "BY_SEGMENT"]

#: Draws are solved in chunks of at most this many matrix cells.
_CELLS_PER_CHUNK = 4_000_000
#: Metrics :func:`exact_batch` solves for all draws at once (the others, draw by draw).
BATCHED = ("conversion_rate", "expected_conversions", "expected_value")
#: Metrics whose value for the whole journey is the share-weighted sum of the segments' (of their new
#: customers alone): sampling engines run these segment by segment, the others on the whole journey.
BY_SEGMENT = ("conversion_rate", "expected_conversions", "expected_value", "expected_touches", "referrals",
              "bounce_rate", "discounted_value")
#: Sampling engines: (module, function) and how a call is made.
SAMPLING_ENGINES = {
    "montecarlo": ("journeysim.engines.montecarlo.engine", "simulate_montecarlo"),
    "agents": ("journeysim.engines.agents.engine", "simulate_agents"),
}


def posterior_journeys(journey: Journey, draws: int, *, rng: np.random.Generator) -> list[Journey]:
    """``draws`` journeys whose observed rows are drawn from their Dirichlet posterior.

    A touchpoint observed ``n`` times with row ``p`` has ``Dirichlet(p * n + 0.5)``
    over the row's listed outcomes and exit (an outcome never observed keeps the
    prior's share, so it stays possible); the same counts apply to its segment
    overrides. ``observations['entry']`` does the same for entry shares.
    Unobserved rows stay fixed.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.2}}, goals=["buy"], observations={"ad": 1000})
    >>> [round(x.rows["ad"]["buy"].p, 4) for x in posterior_journeys(j, 3, rng=np.random.default_rng(0))]
    [0.1979, 0.187, 0.1956]
    """
    return journeys_from_draws(journey, posterior_draws(journey, draws, rng=rng), draws)


def _arrays(journeys: Sequence[Journey], names: tuple[str, ...], segment: str | None):
    """Dense arrays of each journey as ``segment`` sees it (its rows and entry override the journey's)."""
    index = {n: i for i, n in enumerate(names)}
    d, n = len(journeys), len(names)
    Q = np.zeros((d, n, n))
    entry = np.zeros((d, n))
    goal = np.zeros((d, n))
    value = np.zeros((d, n))
    for k, j in enumerate(journeys):
        seg = j.segments[segment] if segment is not None else None
        rows = j.rows if seg is None else {**j.rows, **seg.rows}
        for a, row in rows.items():
            ia = index[a]
            for b, e in row.items():
                Q[k, ia, index[b]] = e.p
        for a, s in (j.entry if seg is None or seg.entry is None else seg.entry).items():
            entry[k, index[a]] = s
        for a, tp in j.touchpoints.items():
            goal[k, index[a]] = tp.goal
            value[k, index[a]] = tp.value
    return Q, entry, goal, value


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(A, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        raise ScenarioError("a drawn journey traps customers in a loop with no drop-off (check the changes' rows)") from None


def _defined(value, metric: str, k: int) -> float:
    if value is None:
        raise ScenarioError(f"{metric} is undefined in draw {k} (referrals that sustain themselves make per-seed "
                            "metrics unbounded; nobody converting leaves repeat_rate and time to conversion "
                            "undefined): predict another metric, or narrow the hypothesis's ranges")
    return float(value)


def exact_each(journeys: Sequence[Journey], metric: str) -> dict:
    """Every journey solved on its own by the exact engine: the metric for the journey and for each segment's new
    customers, and the reach of each stage."""
    from journeysim.engines.exact import segment_metrics   # scipy: loaded when a prediction needs it

    d = len(journeys)
    total, segments = np.zeros(d), {}
    reach = {s: np.zeros(d) for s in journeys[0].stage_names()}
    for k, j in enumerate(journeys):
        whole, parts = segment_metrics(j)
        total[k] = _defined(whole[metric], metric, k)
        for name, part in parts.items():
            segments.setdefault(name, np.zeros(d))[k] = _defined(part[metric], metric, k)
        for stage, r in whole["stage_reach"].items():
            reach[stage][k] = r
    return {"total": total, "segments": segments, "stages": reach}


def exact_batch(journeys: Sequence[Journey], metric: str) -> dict:
    """Solve journeys sharing touchpoints, segments and stages; per draw: metric, segments, stage reach.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.5}, "page": {"buy": 0.4, "ad": 0.2}}, goals=["buy"])
    >>> exact_batch([j, j], "conversion_rate")["total"].round(6)     # 0.2 / (1 - 0.1)
    array([0.222222, 0.222222])
    >>> exact_batch([j], "bounce_rate")["total"]                     # ad -> exit
    array([0.5])
    """
    if metric not in BATCHED:
        return exact_each(journeys, metric)
    first = journeys[0]
    names = first.names
    stage_of = [first.touchpoints[x].stage for x in names]
    stages = first.stage_names()
    d, n = len(journeys), len(names)
    chunk = max(1, _CELLS_PER_CHUNK // max(1, n * n))
    total = np.zeros(d)
    segments: dict = {}
    reach = {s: np.zeros(d) for s in stages}
    eye = np.eye(n)
    for seg_name, share, _ in first.segment_journeys():
        per = np.zeros(d)
        for lo in range(0, d, chunk):
            part = journeys[lo:lo + chunk]
            Q, entry, goal, value = _arrays(part, names, seg_name)
            if metric == "conversion_rate":
                absorbing = Q * (1.0 - goal)[:, :, None]
                per[lo:lo + chunk] = np.einsum("dn,dn->d", entry, _solve(eye - absorbing, goal))
            else:
                visits = _solve(np.swapaxes(eye - Q, 1, 2), entry)
                weights = goal if metric == "expected_conversions" else value   # every visit's value, as the engines count it
                per[lo:lo + chunk] = np.einsum("dn,dn->d", visits, weights)
            for stage in stages:
                in_stage = np.array([s == stage for s in stage_of], dtype=float)
                hit = _solve(eye - Q * (1.0 - in_stage)[None, :, None], np.broadcast_to(in_stage, (len(part), n)).copy())
                reach[stage][lo:lo + chunk] += share * np.clip(np.einsum("dn,dn->d", entry, hit), 0.0, 1.0)
        total += share * per
        if seg_name is not None:
            segments[seg_name] = per
    return {"total": total, "segments": segments, "stages": reach}


def stacked_batch(maps: DrawnMaps, metric: str) -> dict:
    """:func:`exact_batch` on maps drawn as arrays: every draw solved at once by
    :func:`journeysim.engines.stacked.solve_stacked`."""
    out = solve_stacked(maps.structure, *maps.arrays(), (metric,))
    total = out[metric]
    segments = {name: part[metric] for name, part in out["by_segment"].items()}
    undefined = ~np.isfinite(total)
    for values in segments.values():
        undefined |= ~np.isfinite(values)
    if undefined.any():
        _defined(None, metric, int(np.argmax(undefined)))
    return {"total": total, "segments": segments, "stages": out["stage_reach"]}


def _engine(engine: str):
    module, function = SAMPLING_ENGINES[engine]
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError):
        raise ScenarioError(f"the {engine} engine is not available in this installation (use --engine exact)") from None


def _run(engine: str, journey: Journey, size: float, source: str, *, rng: np.random.Generator, limit: int | None):
    simulate = _engine(engine)
    mass = math.fsum(journey.entry.values())
    if mass <= 0:
        return 0.0, None
    # Entry shares lost by a removal: simulate the customers who do start, then scale per original customer.
    started = journey if abs(mass - 1.0) < 1e-12 else journey.replace(entry={k: v / mass for k, v in journey.entry.items()})
    budget = {} if limit is None else {"max_transitions": limit}
    if engine == "montecarlo":
        return mass, simulate(started, int(size), rng=rng, removal_effects=False, source=source, **budget)
    result = simulate(started, int(size), rng=rng, source=source, **budget)
    if not result.arrived:
        # Rates per customer are undefined then: averaging a made-up 0 into the draws would bias the prediction.
        raise ScenarioError(f"{source}: no customers arrived in a {int(size)}-day agents run, so its conversion "
                            "rate is undefined; simulate more days (--days) or raise the map's arrivals rate")
    return mass, result


def _per_original(metric: str, mass: float, value: float) -> float:
    """A metric of the customers who start, per original new customer (a removal lost ``1 - mass`` of them)."""
    if metric in ("expected_time_to_conversion", "repeat_rate"):
        return value                    # ratios among those who start
    if metric == "customers_per_seed":
        return 1.0 + mass * (value - 1.0)   # the seed counts whole, as in the exact engine
    return mass * value


def sampled_batch(pairs: Sequence[tuple[Journey, Journey]], metric: str, engine: str, size: float,
                  *, rng: np.random.Generator, source: str = "<map>",
                  max_transitions: int | None = None) -> tuple[dict, dict]:
    """Run a sampling engine on each (baseline, variant) pair; both get the same stream per draw and segment.

    ``size`` is the engine's run length: customers per segment (montecarlo) or days (agents);
    ``source`` names the baseline map in the engine's error messages; ``max_transitions`` is
    each run's limit (default: the engine's). A metric that is not
    a share-weighted sum over segments (see :data:`BY_SEGMENT`: per-seed totals, whose
    referred customers may join any segment, and ratios) is estimated on the whole journey
    (with ``size`` times as many customers as it has segments), without a breakdown by segment.
    """
    root = int(rng.integers(2**63))
    out = []
    for side in (0, 1):
        first = pairs[0][side]
        stages = first.stage_names()
        res = {"total": np.zeros(len(pairs)), "segments": {}, "stages": {s: np.zeros(len(pairs)) for s in stages}}
        whole = metric not in BY_SEGMENT and first.segments
        parts = [(None, 1.0, first)] if whole else first.segment_journeys()
        run_size = size * len(first.segments) if whole and engine == "montecarlo" else size
        for seg_index, (seg_name, share, _) in enumerate(parts):
            per = np.zeros(len(pairs))
            for k, pair in enumerate(pairs):
                j = pair[side] if seg_name is None else pair[side].for_segment(seg_name)
                # The same (draw, segment) stream for baseline and variant: common random numbers.
                stream = np.random.default_rng(np.random.SeedSequence(root, spawn_key=(k, seg_index)))
                mass, result = _run(engine, j, run_size, source, rng=stream, limit=max_transitions)
                if result is None:
                    continue
                per[k] = _per_original(metric, mass, _defined(getattr(result, metric), metric, k))
                for stage, r in (getattr(result, "stage_reach", None) or {}).items():
                    if stage in res["stages"]:
                        res["stages"][stage][k] += share * mass * r
            res["total"] += share * per
            if seg_name is not None:
                res["segments"][seg_name] = per
        out.append(res)
    return out[0], out[1]

