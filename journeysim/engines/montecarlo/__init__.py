"""The Monte Carlo engine: millions of customers in chunks, in agreement with the exact engine.

:mod:`~.engine` runs it and builds the result; :mod:`~.tables` compiles the map into alias and delay
tables (:mod:`~.alias`); :mod:`~.kernel` (numba) and :mod:`~.loop` (numpy) walk the customers;
:mod:`~.tallies` keeps bounded-memory counts.
"""

from journeysim._lazy import lazy_exports

__all__ = ['MonteCarloResult', 'simulate_montecarlo', 'CHUNK_SIZE']

__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, 'journeysim.engines.montecarlo.engine'), globals())
