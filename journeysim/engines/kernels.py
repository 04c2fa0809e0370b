"""Whether an engine's compiled kernel is on disk yet.

The Monte Carlo and agents engines run numba kernels cached on disk (``cache=True``):
the first run after installing or upgrading compiles them, about 10 s, and a new
process afterwards loads them in a fraction of a second. The command line says so
before such a first run, since a silent one looks like a hang.
"""

from __future__ import annotations

from importlib import import_module

__all__ = ["KERNELS", "cached", "compiles_first"]

#: The compiled function each engine calls first, by engine: (module, name).
KERNELS = {"montecarlo": ("journeysim.engines.montecarlo.kernel", "_walk"),
           "agents": ("journeysim.engines.agents.kernel", "advance")}


def cached(dispatcher) -> bool:
    """Whether numba's disk cache holds ``dispatcher`` (an ``njit(cache=True)`` function) compiled from its current
    source, so that its first call loads it rather than compiling it.

    True when it cannot be told: the cache's index is numba's private API, and a changed numba should cost a notice,
    not a run.
    """
    try:
        return bool(dispatcher._cache._cache_file._load_index())
    except Exception:
        return True


def compiles_first(engine: str) -> bool:
    """Whether a run of ``engine`` (a key of :data:`KERNELS`) in this process starts by compiling its kernel."""
    module, name = KERNELS[engine]
    dispatcher = getattr(import_module(module), name)
    return not dispatcher.signatures and not cached(dispatcher)
