"""The simulation engines. They share :class:`~journeysim.engines.metrics.JourneyMetrics`'s keys."""

from journeysim._lazy import lazy_exports

__all__ = ["solve_exact"]

# Loaded on first use: importing engines.metrics must not load scipy with the exact engine.
__getattr__, __dir__ = lazy_exports(__name__, {"solve_exact": "journeysim.engines.exact"}, globals())
