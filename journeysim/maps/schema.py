"""The map format's schema: every attribute, its parser and its default, in one place.

Adding an attribute is one entry in :data:`TOUCHPOINT_ATTRIBUTES`,
:data:`EDGE_ATTRIBUTES` or :data:`MAP_ATTRIBUTES` (plus a line in the format
reference, docs/map-format.md). Attributes that are not fields of :class:`~journeysim.journey.Touchpoint`
(or :class:`~journeysim.journey.Edge`, :class:`~journeysim.journey.Journey`) land in its
``extra`` mapping, where the engine that uses them reads them.

A parser takes the raw value and returns the parsed one, or raises
:class:`Invalid` with what is wrong and what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from journeysim.errors import did_you_mean, excerpt
from journeysim.maps import agents
from journeysim.maps.values import (
    TIME_UNITS,
    Invalid,
    boolean,
    delay,
    nonnegative,
    number,
    positive,
    probability,
    refers,
    text,
)

__all__ = [
    "Invalid",
    "Attribute",
    "TOUCHPOINT_ATTRIBUTES",
    "EDGE_ATTRIBUTES",
    "MAP_ATTRIBUTES",
    "SEGMENT_KEYS",
    "TOUCHPOINT_FIELDS",
    "touchpoint_fields",
    "discount",
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
SEGMENT_KEYS = ("share", "transitions", "entry", "observations")


@dataclass(frozen=True)
class Attribute:
    """One attribute of the format: its parser, its default and a line of documentation."""

    parse: Callable[[Any], Any]
    default: Any = None
    doc: str = ""


#: Touchpoint attributes. Fields of ``Touchpoint`` are set directly; others go to ``extra``.
TOUCHPOINT_ATTRIBUTES: dict[str, Attribute] = {
    "stage": Attribute(text, None, "stage name (one of `stages` when they are declared)"),
    "channel": Attribute(text, None, "free text: paid search, email, store..."),
    "delay": Attribute(delay, None, "time spent here before moving on: a number (exponential mean) or {dist, mean, sd}"),
    "goal": Attribute(boolean, False, "true marks a conversion touchpoint"),
    "value": Attribute(nonnegative, 0.0, "money a visit to a goal brings"),
    "refers": Attribute(refers, 0.0, "new customers each visit brings on average: a number (they start as new "
                        "customers do) or {k, entry, segment} (where they start and the segment they join)"),
    "capacity": Attribute(agents.capacity, None, "agents: servers (chat agents, sales reps); without 'service' a "
                          "server is held for the delay"),
    "service": Attribute(delay, None, "with capacity: the time a server holds the customer (any delay form); the "
                         "delay and edge delays are then the customer's own time after it"),
    "patience": Attribute(agents.patience, None, "agents: mean wait for a server before giving up"),
    "budget": Attribute(agents.budget, None, "agents: money for the run, or {amount, per: day|week|month...}"),
    "cost": Attribute(agents.cost, None, "agents: money spent per visit"),
}

#: Touchpoint attributes that are fields of ``Touchpoint``; the others land in its ``extra``.
TOUCHPOINT_FIELDS = ("stage", "channel", "delay", "goal", "value", "refers", "service")


def touchpoint_fields(key: str, parsed: Any) -> dict[str, Any]:
    """The ``Touchpoint`` fields a parsed attribute sets (``refers`` sets its route as well).

    Examples
    --------
    >>> touchpoint_fields("value", 40.0)
    {'value': 40.0}
    >>> touchpoint_fields("refers", refers(0.5))
    {'refers': 0.5, 'refer_entry': None, 'refer_segment': None}
    """
    return dict(parsed) if key == "refers" else {key: parsed}


#: Keys of an edge written as a mapping ``{p: ..., delay: ...}``; ``p`` is required.
EDGE_ATTRIBUTES: dict[str, Attribute] = {
    "p": Attribute(probability, None, "probability of taking the edge"),
    "delay": Attribute(delay, None, "replaces the source touchpoint's delay for customers taking this edge"),
    "social_proof": Attribute(agents.social_proof, None, "agents: p rises to p * (1 + strength * converted share)"),
    "fatigue": Attribute(agents.fatigue, None, "agents: p * factor**(k-1) on the k-th visit of the source"),
}


def calibration_record(value: Any, ctx) -> Mapping | None:
    """The ``calibration`` block written by ``journeysim calibrate``: kept as written, for the record."""
    if not isinstance(value, Mapping) or not isinstance(value.get("posterior", {}), Mapping):
        ctx.error("calibration", "must be a mapping (hypothesis, prediction, results, posterior: {path: {...}})")
        return None
    return value


def currency(value: Any, ctx) -> str | None:
    """``currency``: the code or symbol tables show beside money (``EUR``, ``USD``, ``Kč``)."""
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 8 or not value.strip().isprintable():
        ctx.error("currency", f"{excerpt(value)} is not a currency code or symbol (1 to 8 characters: EUR, USD, Kč)")
        return None
    return value.strip()


DISCOUNT_KEYS = ("rate", "per")


def discount(value: Any, ctx) -> Mapping | None:
    """``discount: {rate, per}``: the share of its worth a unit of value loses per period ``per``.

    Continuously compounded, a value ``t`` time units after the customer's first touch is
    worth ``exp(-t ln(1 + rate) / per)``; ``per`` is a time unit (default ``year``).
    """
    if not isinstance(value, Mapping):
        ctx.error("discount", f"must be a mapping like {{rate: 0.1, per: year}}, not {excerpt(value)}")
        return None
    ok = True
    for key in value:
        if key not in DISCOUNT_KEYS:
            ctx.error("discount", f"unknown key {excerpt(key)}{did_you_mean(key, DISCOUNT_KEYS)} (allowed: rate, per)")
            ok = False
    if "rate" not in value:
        ctx.error("discount", "needs a 'rate' (e.g. {rate: 0.1, per: year}: 10% a year)")
        return None
    try:
        rate = number(value["rate"])
    except Invalid as exc:
        ctx.error("discount: rate", str(exc))
        return None
    if rate <= -1:
        ctx.error("discount: rate", f"{rate:g} is -1 or less (a value cannot lose all its worth or more; must be > -1)")
        ok = False
    per = value.get("per", "year")
    if per not in TIME_UNITS:
        ctx.error("discount: per", f"{excerpt(per)} is not a time unit{did_you_mean(str(per), TIME_UNITS)} "
                                   f"(allowed: {', '.join(TIME_UNITS)})")
        ok = False
    return {"rate": rate, "per": per} if ok else None


#: Top-level attributes beyond entry, touchpoints and rows. A parser here receives ``(value, context)``
#: where ``context`` is a :class:`journeysim.maps.read.MapContext` (touchpoint names,
#: stages and ``error(where, message)`` to report every problem it finds).
MAP_ATTRIBUTES: dict[str, Attribute] = {
    "currency": Attribute(currency, None, "the currency of every value, cost and budget, shown beside money (EUR)"),
    "arrivals": Attribute(agents.arrivals, None, "agents: {rate, per, weekday, season}: Poisson arrivals"),
    "campaigns": Attribute(agents.campaigns, None, "agents: [{stage or touchpoint, to, p, day or every, start}]"),
    "discount": Attribute(discount, None, "{rate, per}: the share of its worth a unit of value loses per period "
                                          "(continuously compounded), for discounted_value"),
    "calibration": Attribute(calibration_record, None,
                             "calibrate: where the map came from and the posterior ranges of the hypothesis's numbers"),
}

