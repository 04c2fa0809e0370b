"""Attribution: which touchpoints earn the conversions, by rules (first, last, linear, time decay,
position), Shapley values and Markov removal effects.

:mod:`~journeysim.attribution.credit` reads paths and runs the models; :mod:`~journeysim.attribution.rules`
holds the rule and Shapley models, :mod:`~journeysim.attribution.markov` the Markov model.
"""

from journeysim._lazy import lazy_exports

__all__ = ['Attribution', 'attribute_paths', 'attribute_file', 'read_paths', 'MODELS']

__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(__all__, 'journeysim.attribution.credit'), globals())
