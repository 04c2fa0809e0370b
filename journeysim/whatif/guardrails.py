"""Guardrails of a hypothesis: metrics the change must not harm by more than a margin.

A hypothesis names them (``guardrails: [{metric: bounce_rate, margin: 0.01}]``); each metric has a direction
of harm (a bounce rate harms by rising, a conversion rate by falling), which ``harm: up|down`` may state where
the metric has none. ``predict`` reports each guardrail's predicted change, ``design`` the power of its
non-inferiority test, and ``analyze``/``check`` test it (:mod:`journeysim.experiments.guardrails`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from journeysim.errors import ScenarioError, UsageError, excerpt

__all__ = ["HARM", "Guardrail", "parse_guardrails", "guardrail_from_text"]

#: The direction in which each scalar metric harms: "up" (a rise is harm) or "down" (a fall is harm).
HARM = {
    "conversion_rate": "down", "expected_conversions": "down", "expected_value": "down", "referrals": "down",
    "customers_per_seed": "down", "value_per_seed_customer": "down", "conversions_per_seed_customer": "down",
    "repeat_rate": "down", "discounted_value": "down", "discounted_value_per_seed_customer": "down",
    "bounce_rate": "up", "expected_time_to_conversion": "up",
}


@dataclass(frozen=True)
class Guardrail:
    """A metric, the most harm allowed (``margin``, in the metric's own units) and the direction of harm."""

    metric: str
    margin: float
    harm: str

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "margin": self.margin, "harm": self.harm}


def parse_guardrails(value: Any, source: str, metrics: Sequence[str]) -> tuple[Guardrail, ...]:
    """The ``guardrails`` list of a hypothesis file; every problem is a one-line error naming the file.

    Examples
    --------
    >>> parse_guardrails([{"metric": "bounce_rate", "margin": 0.01}], "h.yaml", ["bounce_rate"])
    (Guardrail(metric='bounce_rate', margin=0.01, harm='up'),)
    >>> parse_guardrails([{"metric": "bounce", "margin": 0.01}], "h.yaml", ["bounce_rate"])
    Traceback (most recent call last):
    ...
    journeysim.errors.ScenarioError: h.yaml: guardrails[0]: unknown metric 'bounce' (did you mean 'bounce_rate'?)
    """
    from journeysim.errors import did_you_mean

    if value is None:
        return ()
    if not isinstance(value, list):
        raise ScenarioError(f"{source}: guardrails: expected a list of {{metric, margin}} (e.g. "
                            "[{metric: bounce_rate, margin: 0.01}])")
    out = []
    for k, item in enumerate(value):
        where = f"{source}: guardrails[{k}]"
        if not isinstance(item, Mapping):
            raise ScenarioError(f"{where}: expected {{metric, margin}}")
        unknown = sorted(set(map(str, item)) - {"metric", "margin", "harm"})
        if unknown:
            raise ScenarioError(f"{where}: unknown key {excerpt(unknown[0])} (allowed: metric, margin, harm)")
        metric = item.get("metric")
        if metric not in metrics:
            raise ScenarioError(f"{where}: unknown metric {excerpt(metric)}{did_you_mean(str(metric), metrics)}")
        margin = item.get("margin")
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin) or margin < 0:
            raise ScenarioError(f"{where}: margin {excerpt(margin)} must be a number >= 0 (the most harm allowed, in "
                                f"{metric}'s own units)")
        harm = item.get("harm", HARM.get(metric))
        if harm not in ("up", "down"):
            raise ScenarioError(f"{where}: {metric} has no direction of harm; say harm: up or harm: down")
        out.append(Guardrail(str(metric), float(margin), harm))
    return tuple(out)


def guardrail_from_text(text: str, metrics: Sequence[str]) -> Guardrail:
    """A guardrail written ``METRIC=MARGIN`` (``--guardrail conversion_rate=0.002``).

    Examples
    --------
    >>> guardrail_from_text("conversion_rate=0.002", ["conversion_rate"])
    Guardrail(metric='conversion_rate', margin=0.002, harm='down')
    """
    metric, sep, margin = str(text).partition("=")
    try:
        value = float(margin) if sep else None
    except ValueError:
        value = None
    # an option, not a file: its mistakes are usage errors (exit 2), as for every other option
    if value is None:
        raise UsageError(f"--guardrail {excerpt(text)}: write METRIC=MARGIN, e.g. conversion_rate=0.002 (the most harm "
                         "allowed, in the metric's own units)")
    try:
        return parse_guardrails([{"metric": metric.strip(), "margin": value}], "", metrics)[0]
    except ScenarioError as exc:
        raise UsageError(f"--guardrail {excerpt(text)}: {str(exc).split(': ', 2)[-1]}") from None
