"""The map format's schema: every attribute, its parser and its default, in one place.

Adding an attribute is one entry in :data:`TOUCHPOINT_ATTRIBUTES`,
:data:`EDGE_ATTRIBUTES` or :data:`MAP_ATTRIBUTES` (plus a line in the README's
format reference). Attributes that are not fields of :class:`~journeysim.journey.Touchpoint`
(or :class:`~journeysim.journey.Edge`, :class:`~journeysim.journey.Journey`) land in its
``extra`` mapping, where the engine that uses them reads them.

A parser takes the raw value and returns the parsed one, or raises
:class:`Invalid` with what is wrong and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from journeysim.journey import DELAY_DISTRIBUTIONS, Delay

__all__ = [
    "Invalid",
    "Attribute",
    "TOUCHPOINT_ATTRIBUTES",
    "EDGE_ATTRIBUTES",
    "MAP_ATTRIBUTES",
    "SEGMENT_KEYS",
    "TIME_UNITS",
    "FORMAT_VERSION",
    "number",
    "probability",
    "nonnegative",
    "positive",
    "text",
    "boolean",
    "delay",
]

FORMAT_VERSION = 1
TIME_UNITS = ("second", "minute", "hour", "day", "week", "month", "year")
SEGMENT_KEYS = ("share", "transitions", "entry")


class Invalid(ValueError):
    """Raised by a parser: the message says what is wrong and what is allowed."""


def number(value: Any) -> float:
    """A finite real number (booleans and numeric strings are refused).

    Examples
    --------
    >>> number(3), number(0.5)
    (3.0, 0.5)
    >>> number("0.5")
    Traceback (most recent call last):
    ...
    journeysim.schema.Invalid: '0.5' is not a number
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"{value!r} is not a number")
    value = float(value)
    if not math.isfinite(value):
        raise Invalid(f"{value} is not a finite number")
    return value


def probability(value: Any) -> float:
    p = number(value)
    if not 0.0 <= p <= 1.0:
        raise Invalid(f"probability {p:g} is outside [0, 1]")
    return p


def nonnegative(value: Any) -> float:
    x = number(value)
    if x < 0:
        raise Invalid(f"{x:g} is negative (must be >= 0)")
    return x


def positive(value: Any) -> float:
    x = number(value)
    if x <= 0:
        raise Invalid(f"{x:g} must be > 0")
    return x


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{value!r} is not text (quote it, e.g. \"{value}\")")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{value!r} is not true or false")
    return value


def delay(value: Any) -> Delay:
    """A delay: a number (exponential mean) or ``{dist, mean, sd}``.

    Examples
    --------
    >>> delay(2)
    Delay(dist='exponential', mean=2.0, sd=None)
    >>> delay({"dist": "gamma", "mean": 2, "sd": 1})
    Delay(dist='gamma', mean=2.0, sd=1.0)
    >>> delay({"dist": "lognormal", "mean": 2})
    Traceback (most recent call last):
    ...
    journeysim.schema.Invalid: lognormal delay needs 'sd' (> 0)
    """
    if not isinstance(value, Mapping):
        try:
            return Delay("exponential", nonnegative(value))
        except Invalid as exc:
            raise Invalid(f"delay {exc} (a number is an exponential mean; or use {{dist, mean, sd}})") from None
    unknown = set(value) - {"dist", "mean", "sd"}
    if unknown:
        raise Invalid(f"unknown delay key {sorted(map(str, unknown))[0]!r} (allowed: dist, mean, sd)")
    dist = value.get("dist", "exponential")
    if dist not in DELAY_DISTRIBUTIONS:
        raise Invalid(f"unknown delay distribution {dist!r} (allowed: {', '.join(DELAY_DISTRIBUTIONS)})")
    if "mean" not in value:
        raise Invalid(f"{dist} delay needs 'mean'")
    mean = nonnegative(value["mean"])
    sd = None
    if dist in ("lognormal", "gamma"):
        if "sd" not in value:
            raise Invalid(f"{dist} delay needs 'sd' (> 0)")
        sd = positive(value["sd"])
        if mean <= 0:
            raise Invalid(f"{dist} delay needs 'mean' > 0")
    elif "sd" in value:
        raise Invalid(f"{dist} delay takes no 'sd' (its spread is set by 'mean')")
    return Delay(dist, mean, sd)


@dataclass(frozen=True)
class Attribute:
    """One attribute of the format: its parser, its default and a line of documentation."""

    parse: Callable[[Any], Any]
    default: Any = None
    doc: str = ""


def _agents(name: str) -> Callable:
    """The agent engine's parser ``name`` (journeysim/engines/_agent_schema.py), imported when first
    used: that module builds on the parsers above, so importing it here would be circular."""

    def parse(*args):
        from journeysim.engines import _agent_schema

        return getattr(_agent_schema, name)(*args)

    parse.__name__ = name
    return parse


#: Touchpoint attributes. Fields of ``Touchpoint`` are set directly; others go to ``extra``.
TOUCHPOINT_ATTRIBUTES: dict[str, Attribute] = {
    "stage": Attribute(text, None, "stage name (one of `stages` when they are declared)"),
    "channel": Attribute(text, None, "free text: paid search, email, store..."),
    "delay": Attribute(delay, None, "time spent here before moving on: a number (exponential mean) or {dist, mean, sd}"),
    "goal": Attribute(boolean, False, "true marks a conversion touchpoint"),
    "value": Attribute(nonnegative, 0.0, "money a visit to a goal brings"),
    "refers": Attribute(nonnegative, 0.0, "new customers each visit brings on average (they start at entry)"),
    "capacity": Attribute(_agents("capacity"), None, "agents: servers (chat agents...); service time is the delay"),
    "patience": Attribute(_agents("patience"), None, "agents: mean wait for a server before giving up"),
    "budget": Attribute(_agents("budget"), None, "agents: money for the run, or {amount, per: day|week|month...}"),
    "cost": Attribute(_agents("cost"), None, "agents: money spent per visit"),
}

#: Keys of an edge written as a mapping ``{p: ..., delay: ...}``; ``p`` is required.
EDGE_ATTRIBUTES: dict[str, Attribute] = {
    "p": Attribute(probability, None, "probability of taking the edge"),
    "delay": Attribute(delay, None, "replaces the source touchpoint's delay for customers taking this edge"),
    "social_proof": Attribute(_agents("social_proof"), None, "agents: p rises to p * (1 + strength * converted share)"),
    "fatigue": Attribute(_agents("fatigue"), None, "agents: p * factor**(k-1) on the k-th visit of the source"),
}


def calibration_record(value: Any, ctx) -> Mapping | None:
    """The ``calibration`` block written by ``journeysim calibrate``: kept as written, for the record."""
    if not isinstance(value, Mapping) or not isinstance(value.get("posterior", {}), Mapping):
        ctx.error("calibration", "must be a mapping (hypothesis, prediction, results, posterior: {path: {...}})")
        return None
    return value


#: Top-level attributes added by engines. A parser here receives ``(value, context)``
#: where ``context`` is a :class:`journeysim.mapfile.MapContext` (touchpoint names,
#: stages and ``error(where, message)`` to report every problem it finds).
MAP_ATTRIBUTES: dict[str, Attribute] = {
    "arrivals": Attribute(_agents("arrivals"), None, "agents: {rate, per, weekday, season}: Poisson arrivals"),
    "campaigns": Attribute(_agents("campaigns"), None, "agents: [{stage or touchpoint, to, p, day or every, start}]"),
    "calibration": Attribute(calibration_record, None,
                             "calibrate: where the map came from and the posterior ranges of the hypothesis's numbers"),
}

