"""Fitting: an event log becomes a journey map with observation counts and delays.

:mod:`~.fit` runs the fit (through :mod:`journeysim.logs`); :mod:`~.delays` fits delay distributions.
"""

from journeysim._lazy import lazy_exports

__all__ = ['FitResult', 'fit_events']

__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, 'journeysim.fitting.fit'), globals())
