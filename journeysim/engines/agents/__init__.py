"""The agent-based engine (simpy): calendar time, arrivals, queues, budgets, campaigns, referrals.

:mod:`~journeysim.engines.agents.engine` runs it and builds the result; :mod:`~.model` compiles a map
into arrays and holds the customer; :mod:`~.run` is the event loop; :mod:`~.shared` the touchpoints
customers share (budgets, servers); :mod:`~.batch` walks unobstructed customers in vectorised steps.
"""

from journeysim._lazy import lazy_exports

__all__ = ['AgentResult', 'simulate_agents']

__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, 'journeysim.engines.agents.engine'), globals())
