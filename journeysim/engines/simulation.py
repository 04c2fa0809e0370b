"""One entry for the three engines: :func:`simulate` a journey exactly, by Monte Carlo or with agents."""

from __future__ import annotations

import os

import numpy as np

from journeysim.engines.exact import solve_exact
from journeysim.engines.metrics import JourneyMetrics
from journeysim.errors import UsageError, excerpt
from journeysim.journey import Journey
from journeysim.maps.read import load_journey

__all__ = ["simulate", "ENGINES", "DEFAULT_CUSTOMERS"]

ENGINES = ("exact", "montecarlo", "agents")
#: New customers a Monte Carlo run simulates unless told otherwise (as ``journeysim simulate``).
DEFAULT_CUSTOMERS = 1_000_000
# Options only one sampling engine reads: given to another engine they are a mistake, not something to ignore.
_OWN = {"montecarlo": ("customers", "horizon", "chunk_size", "backend", "workers"), "agents": ("days",)}


def simulate(journey: Journey | str | os.PathLike, engine: str = "exact", *, rng: np.random.Generator | None = None,
             customers: int | None = None, days: int | None = None, horizon: float | None = None,
             chunk_size: int | None = None, backend: str | None = None, workers: int | None = None,
             removal_effects: bool = True, max_transitions: int | None = None) -> JourneyMetrics:
    """What a journey implies, from the engine of your choice: conversion, value, funnel and removal effects.

    Every engine returns a :class:`~journeysim.engines.metrics.JourneyMetrics` under the
    same names; the sampling engines return subclasses that add what only sampling gives
    (:class:`~journeysim.engines.montecarlo.MonteCarloResult`,
    :class:`~journeysim.engines.agents.AgentResult`).

    Parameters
    ----------
    journey : Journey or path of a map file
    engine : {"exact", "montecarlo", "agents"}
        ``exact`` solves the absorbing Markov chain; ``montecarlo`` simulates
        ``customers`` new customers; ``agents`` runs customers arriving on a calendar
        for ``days`` days (the map needs ``arrivals``).
    rng : numpy.random.Generator, optional
        The random stream of a sampling engine (required by them; the exact engine
        takes none): ``numpy.random.default_rng(seed)``.
    customers : int, optional
        montecarlo: new customers to simulate (default :data:`DEFAULT_CUSTOMERS`).
    days : int
        agents: length of the run in days (required).
    horizon : float, optional
        montecarlo: count only what happens by this time (the map's ``time_unit``).
    chunk_size : int, optional
        montecarlo: customers advanced together (bounds the memory).
    backend : {"numba", "numpy"}, optional
        montecarlo: compiled walks (default) or vectorised numpy steps.
    workers : int, optional
        montecarlo: run in blocks of new customers with their own random streams on this many
        threads (the result depends on ``rng``, not on ``workers``; see docs/montecarlo.md).
    removal_effects : bool
        exact and montecarlo: compute every touchpoint's removal effect (the agents
        engine always takes them from the exact engine).
    max_transitions : int, optional
        montecarlo and agents: the most transitions (visits) the run may take (default:
        :data:`~journeysim.engines.workload.MAX_TRANSITIONS` of the engine); a run expected to
        take more is refused (:class:`~journeysim.errors.LimitError`, see docs/limits.md).

    Returns
    -------
    JourneyMetrics
        (a ``MonteCarloResult`` or ``AgentResult`` for the sampling engines).

    Raises
    ------
    UsageError
        An unknown engine, an option of another engine, or a missing ``rng`` or ``days``.

    Examples
    --------
    >>> import numpy as np
    >>> m = simulate("scenarios/online-store.yaml")
    >>> m.engine, round(m.conversion_rate, 4)
    ('exact', 0.0484)
    >>> r = simulate("scenarios/online-store.yaml", "montecarlo", customers=20_000, rng=np.random.default_rng(1))
    >>> r.engine, r.customers, round(r.conversion_rate, 4)
    ('montecarlo', 20000, 0.049)
    >>> simulate("scenarios/online-store.yaml", days=30)
    Traceback (most recent call last):
    ...
    journeysim.errors.UsageError: days=30 belongs to the agents engine, not to engine='exact'
    """
    if engine not in ENGINES:
        raise UsageError(f"engine={excerpt(engine)}: must be one of {', '.join(ENGINES)}")
    given = {"customers": customers, "days": days, "horizon": horizon, "chunk_size": chunk_size, "backend": backend,
             "workers": workers}
    for owner, names in _OWN.items():
        for name in names:
            if owner != engine and given[name] is not None:
                raise UsageError(f"{name}={excerpt(given[name])} belongs to the {owner} engine, not to engine={excerpt(engine)}")
    source = str(journey) if not isinstance(journey, Journey) else "<journey>"
    journey = journey if isinstance(journey, Journey) else load_journey(journey)
    if engine == "exact":
        if rng is not None or max_transitions is not None:
            name = "rng" if rng is not None else "max_transitions"
            raise UsageError(f"{name} belongs to the sampling engines (montecarlo, agents); the exact engine draws "
                             "nothing")
        return solve_exact(journey, removal_effects=removal_effects)
    if rng is None:
        raise UsageError(f"engine={excerpt(engine)} samples: give rng=numpy.random.default_rng(seed)")
    limit = {} if max_transitions is None else {"max_transitions": max_transitions}
    if engine == "montecarlo":
        from journeysim.engines.montecarlo.engine import CHUNK_SIZE, simulate_montecarlo

        return simulate_montecarlo(journey, DEFAULT_CUSTOMERS if customers is None else customers, rng=rng,
                                   horizon=horizon, chunk_size=CHUNK_SIZE if chunk_size is None else chunk_size,
                                   removal_effects=removal_effects, backend=backend or "numba", source=source,
                                   workers=workers, **limit)
    if days is None:
        raise UsageError("engine='agents' needs days=D (the length of the run in days)")
    from journeysim.engines.agents.engine import simulate_agents

    return simulate_agents(journey, days, rng=rng, source=source, **limit)
