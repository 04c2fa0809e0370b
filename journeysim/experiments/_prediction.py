"""Reading a saved prediction (``journeysim predict --save``, format ``journeysim-prediction/1``).

Only what the experiment commands use is validated; every problem names the
file and the key.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy.stats import norm

from journeysim._io import read_document
from journeysim.errors import ScenarioError

__all__ = ["SavedPrediction", "read_prediction", "PREDICTION_FORMAT"]

PREDICTION_FORMAT = "journeysim-prediction/1"
_SAMPLE_KEYS = ("baseline", "variant", "lift_abs", "lift_rel")


@dataclass(frozen=True)
class SavedPrediction:
    """The parts of a saved prediction the experiment commands need."""

    source: str
    hypothesis: str
    metric: str
    baseline: float
    variant: float
    lift_abs: float
    lift_rel: float
    interval_level: float
    lift_rel_interval: tuple[float, float]
    lift_abs_interval: tuple[float, float]
    hypothesis_file: str | None
    inputs: Mapping[str, str]
    samples: Mapping[str, np.ndarray] = field(default_factory=dict)
    parameters: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        for name in ("inputs", "samples", "parameters"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def lift_rel_sd(self) -> float:
        """Spread of the predicted relative lift: the draws' sd, else the interval's normal-equivalent sd."""
        draws = self.samples.get("lift_rel")
        if draws is not None and len(draws) > 1:
            return float(np.std(draws, ddof=1))
        low, high = self.lift_rel_interval
        return (high - low) / (2 * norm.isf((1 - self.interval_level) / 2))


def _number(data: Mapping, key: str, source: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(f"{source}: key '{key}': {value!r} is not a finite number")
    return float(value)


def _interval(data: Mapping, key: str, source: str) -> tuple[float, float]:
    value = data.get(key)
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
            or value[0] > value[1]):
        raise ScenarioError(f"{source}: key '{key}': {value!r} is not an interval [low, high]")
    return float(value[0]), float(value[1])


def _arrays(data: Any, key: str, source: str, length: int | None) -> dict[str, np.ndarray]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: key '{key}': expected a mapping of lists of numbers")
    out = {}
    for name, values in data.items():
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise ScenarioError(f"{source}: key '{key}.{name}': not a list of numbers") from None
        if arr.ndim != 1 or not np.isfinite(arr).all():
            raise ScenarioError(f"{source}: key '{key}.{name}': not a list of finite numbers")
        if length is not None and len(arr) != length:
            raise ScenarioError(f"{source}: key '{key}.{name}': {len(arr)} values, expected {length} (one per draw)")
        out[str(name)] = arr
    return out


def read_prediction(path: str | os.PathLike) -> SavedPrediction:
    """Read and check a saved prediction file."""
    source = str(path)
    data, problems = read_document(path)
    if problems:
        raise ScenarioError(problems[0])
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: not a saved prediction (expected a JSON object)")
    if data.get("format") != PREDICTION_FORMAT:
        raise ScenarioError(f"{source}: key 'format': {data.get('format')!r} (expected '{PREDICTION_FORMAT}'; "
                            "write one with `journeysim predict HYPOTHESIS --save FILE`)")
    level = _number(data, "interval_level", source)
    if not 0 < level < 1:
        raise ScenarioError(f"{source}: key 'interval_level': {level:g} must be between 0 and 1")
    samples = _arrays(data.get("samples"), "samples", source, None)
    lengths = {len(v) for v in samples.values()}
    if len(lengths) > 1:
        raise ScenarioError(f"{source}: key 'samples': lists of different lengths {sorted(lengths)}")
    missing = [k for k in _SAMPLE_KEYS if samples and k not in samples]
    if missing:
        raise ScenarioError(f"{source}: key 'samples': missing '{missing[0]}'")
    draws = lengths.pop() if lengths else None
    inputs = data.get("inputs") or {}
    if not isinstance(inputs, Mapping):
        raise ScenarioError(f"{source}: key 'inputs': expected {{path: sha256}}")
    return SavedPrediction(
        source=source, hypothesis=str(data.get("hypothesis", "")), metric=str(data.get("metric", "conversion_rate")),
        baseline=_number(data, "baseline", source), variant=_number(data, "variant", source),
        lift_abs=_number(data, "lift_abs", source), lift_rel=_number(data, "lift_rel", source),
        interval_level=level, lift_rel_interval=_interval(data, "lift_rel_interval", source),
        lift_abs_interval=_interval(data, "lift_abs_interval", source),
        hypothesis_file=data.get("hypothesis_file"), inputs={str(k): str(v) for k, v in inputs.items()},
        samples=samples, parameters=_arrays(data.get("parameters"), "parameters", source, draws))
