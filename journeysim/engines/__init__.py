"""The simulation engines. They share :class:`~journeysim.result.JourneyMetrics`'s keys."""

from journeysim.engines.exact import solve_exact

__all__ = ["solve_exact"]
