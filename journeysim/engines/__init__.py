"""The simulation engines. They share :class:`~journeysim.engines.metrics.JourneyMetrics`'s keys."""

from journeysim.engines.exact import solve_exact

__all__ = ["solve_exact"]
