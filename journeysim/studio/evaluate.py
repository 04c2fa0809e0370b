"""What the studio computes on every edit: the exact engine's metrics and the flow along each edge."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from journeysim.engines.exact import solve_exact
from journeysim.maps.agents import service_problems
from journeysim.maps.checks import structure_problems
from journeysim.maps.read import MapContext, read_journey
from journeysim.report.plots import journey_flows

__all__ = ["evaluate_map", "map_flows", "json_ready"]


def json_ready(obj: Any) -> Any:
    """``obj`` with NaN and infinities as ``None`` and numpy scalars as numbers: JSON has neither."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):
        return json_ready(obj.item())
    return obj


def evaluate_map(data: Any, source: str) -> dict[str, Any]:
    """The ``journeysim simulate --json`` object of the exact engine for a map in file form, with the engine's
    ``warnings`` (what makes a metric undefined or unbounded; ``simulate`` prints them on stderr) when it has any.

    Raises :class:`~journeysim.errors.MapError` with every problem, worded as ``validate`` words it.

    Examples
    --------
    >>> m = evaluate_map({"entry": {"ad": 1}, "touchpoints": {"ad": {}, "buy": {"goal": True, "value": 40}},
    ...                   "transitions": {"ad": {"buy": 0.25}}}, "shop.yaml")
    >>> m["conversion_rate"], m["expected_value"], m["engine"], "warnings" in m
    (0.25, 10.0, 'exact', False)
    >>> m = evaluate_map({"entry": {"ad": 1}, "touchpoints": {"ad": {"refers": 1.5}, "buy": {"goal": True}},
    ...                   "transitions": {"ad": {"buy": 0.25}}}, "shop.yaml")
    >>> m["customers_per_seed"], m["warnings"][0][:36]
    (None, 'referrals sustain themselves through')
    """
    metrics = solve_exact(read_journey(data, source))
    out = json_ready(metrics.to_dict())
    if metrics.warnings:
        out["warnings"] = list(metrics.warnings)
    return out


def map_flows(data: Any, source: str) -> dict[str, Any]:
    """Expected traversals of each edge per new customer, and the map's warnings (unreachable touchpoints...).

    Examples
    --------
    >>> map_flows({"entry": {"ad": 1}, "touchpoints": {"ad": {}, "buy": {"goal": True}}, "x": 1,
    ...            "transitions": {"ad": {"buy": 0.25}}}, "shop.yaml")
    Traceback (most recent call last):
    ...
    journeysim.errors.MapError: shop.yaml: unknown key 'x' (allowed: format, name, stages, time_unit, entry, touchpoints, transitions, segments, observations, currency, arrivals, campaigns, discount, calibration)
    """
    journey = read_journey(data, source)
    warnings = MapContext(source)
    for kind, where, message in [*structure_problems(journey), *service_problems(journey)]:
        if kind != "error":
            warnings.warn(where, message)
    return {"flows": [[a, b, flow] for (a, b), flow in journey_flows(journey).items()],
            "warnings": list(warnings.warnings)}
