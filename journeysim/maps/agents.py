"""Map attributes of the agent-based engine: their parsers and the checks that need the run length.

The attribute tables live in :mod:`journeysim.maps.schema`; the parsers live here so
that the engine's format is described next to the engine. Parsed values are
plain numbers, dicts and lists, so :func:`journeysim.maps.read.dump_journey`
writes them back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from journeysim.errors import MapError, did_you_mean, excerpt
from journeysim.maps.values import (
    TIME_UNITS,
    Invalid,
    MapContext,
    nonnegative,
    number,
    positive,
    probability,
    text,
)

__all__ = [
    "capacity",
    "patience",
    "budget",
    "cost",
    "social_proof",
    "fatigue",
    "arrivals",
    "campaigns",
    "service_problems",
    "check_agent_journey",
]

_BUDGET_PERIODS = (*TIME_UNITS, "run")
_ARRIVAL_KEYS = ("rate", "per", "weekday", "season")
_CAMPAIGN_KEYS = ("name", "stage", "touchpoint", "to", "p", "day", "every", "start")


def capacity(value: Any) -> int:
    """Number of servers (a whole number >= 1).

    Examples
    --------
    >>> capacity(3)
    3
    >>> capacity(0)
    Traceback (most recent call last):
    ...
    journeysim.maps.values.Invalid: capacity 0 must be at least 1 (the number of servers, e.g. chat agents)
    """
    c = number(value)
    if c != int(c):
        raise Invalid(f"capacity {c:g} must be a whole number of servers")
    if c < 1:
        raise Invalid(f"capacity {c:g} must be at least 1 (the number of servers, e.g. chat agents)")
    return int(c)


def patience(value: Any) -> float:
    """Mean time (map time unit) a customer waits for a server before giving up."""
    try:
        return positive(value)
    except Invalid as exc:
        raise Invalid(f"patience {exc} (the mean time a customer waits before giving up)") from None


def cost(value: Any) -> float:
    """Money spent per visit."""
    return nonnegative(value)


def budget(value: Any) -> float | dict:
    """A total for the run (a number) or ``{amount, per}`` renewed every ``per`` (a time unit).

    Examples
    --------
    >>> budget(500), budget({"amount": 50, "per": "day"})
    (500.0, {'amount': 50.0, 'per': 'day'})
    """
    if not isinstance(value, Mapping):
        return nonnegative(value)
    unknown = [k for k in value if k not in ("amount", "per")]
    if unknown:
        raise Invalid(f"unknown budget key {excerpt(unknown[0])} (allowed: amount, per)")
    if "amount" not in value:
        raise Invalid("a budget needs 'amount' (e.g. {amount: 200, per: day})")
    per = value.get("per", "run")
    if per not in _BUDGET_PERIODS:
        raise Invalid(f"budget period {excerpt(per)} is not one of {', '.join(_BUDGET_PERIODS)}")
    return {"amount": nonnegative(value["amount"]), "per": per}


def social_proof(value: Any) -> float:
    """Strength ``s``: the edge's probability is multiplied by ``1 + s * converted share``."""
    return nonnegative(value)


def fatigue(value: Any) -> float:
    """Factor ``f`` in [0, 1]: the k-th visit's probability is ``p * f**(k-1)``."""
    return probability(value)


def _multipliers(raw: Any, n: int, what: str, where: str, ctx) -> list[float] | None:
    if not isinstance(raw, list) or len(raw) != n:
        ctx.error(where, f"{what} must be a list of {n} multipliers")
        return None
    out = []
    for k, x in enumerate(raw):
        try:
            out.append(nonnegative(x))
        except Invalid as exc:
            ctx.error(where, f"{what} multiplier {k + 1}: {exc}")
            return None
    return out


def arrivals(value: Any, ctx) -> dict | None:
    """``{rate, per, weekday, season}``: new customers arrive by a Poisson process.

    ``weekday`` multiplies the rate on day ``d`` by ``weekday[d % 7]``; ``season``
    by ``season[month]`` with twelve equal months to a 365-day year.
    """
    where = "arrivals"
    if not isinstance(value, Mapping):
        ctx.error(where, "must be a mapping like {rate: 400, per: day}")
        return None
    for key in value:
        if key not in _ARRIVAL_KEYS:
            ctx.error(where, f"unknown key {excerpt(key)}{did_you_mean(key, _ARRIVAL_KEYS)} "
                             f"(allowed: {', '.join(_ARRIVAL_KEYS)})")
    out: dict[str, Any] = {}
    if "rate" not in value:
        ctx.error(where, "needs 'rate' (new customers per 'per', e.g. {rate: 400, per: day})")
    else:
        try:
            out["rate"] = positive(value["rate"])
        except Invalid as exc:
            ctx.error(f"{where}: rate", f"{exc} (new customers per '{value.get('per', 'day')}')")
    per = value.get("per", "day")
    if per not in TIME_UNITS:
        ctx.error(f"{where}: per", f"{excerpt(per)} is not a time unit (allowed: {', '.join(TIME_UNITS)})")
    out["per"] = per
    for key, n in (("weekday", 7), ("season", 12)):
        if key in value:
            out[key] = _multipliers(value[key], n, key, f"{where}: {key}", ctx)
    return out


def _campaign(k: int, raw: Any, ctx) -> dict | None:
    where = f"campaign {k + 1}"
    if not isinstance(raw, Mapping):
        ctx.error(where, "must be a mapping like {stage: retention, to: product page, p: 0.2, every: 7}")
        return None
    if isinstance(raw.get("name"), str):
        where = f"campaign {excerpt(raw['name'])}"
    ok = True

    def fail(message: str, key: str = "") -> None:
        nonlocal ok
        ok = False
        ctx.error(f"{where}: {key}" if key else where, message)

    for key in raw:
        if key not in _CAMPAIGN_KEYS:
            fail(f"unknown key {excerpt(key)}{did_you_mean(key, _CAMPAIGN_KEYS)} (allowed: {', '.join(_CAMPAIGN_KEYS)})")
    out: dict[str, Any] = {}
    if "name" in raw:
        try:
            out["name"] = text(raw["name"])
        except Invalid as exc:
            fail(str(exc), "name")
    if ("stage" in raw) == ("touchpoint" in raw):
        fail("needs exactly one of 'stage' or 'touchpoint' (whom it reaches)")
    elif "stage" in raw:
        stage = raw["stage"]
        problem = ctx.unknown_stage(stage)
        if problem is not None:
            fail(problem, "stage")
        out["stage"] = stage
    else:
        if ctx.touchpoint(raw["touchpoint"], f"{where}: touchpoint") is None:
            ok = False
        out["touchpoint"] = raw["touchpoint"]
    if "to" not in raw:
        fail("needs 'to', the touchpoint it sends customers to")
    elif ctx.touchpoint(raw["to"], f"{where}: to") is None:
        ok = False
    else:
        out["to"] = raw["to"]
    try:
        out["p"] = probability(raw.get("p", 1.0))
    except Invalid as exc:
        fail(str(exc), "p")
    if ("day" in raw) == ("every" in raw):
        fail("needs exactly one of 'day' (a day of the run, 0 = the first) or 'every' (a number of days)")
    for key, parse in (("day", _day), ("every", _every), ("start", _day)):
        if key in raw:
            try:
                out[key] = parse(raw[key])
            except Invalid as exc:
                fail(str(exc), key)
    if "start" in raw and "every" not in raw:
        fail("'start' goes with 'every'", "start")
    return out if ok else None


def _day(value: Any) -> int:
    d = number(value)
    if d != int(d) or d < 0:
        raise Invalid(f"{d:g} is not a day of the run (a whole number >= 0; 0 is the first day)")
    return int(d)


def _every(value: Any) -> int:
    d = number(value)
    if d != int(d) or d < 1:
        raise Invalid(f"{d:g} is not a number of days (a whole number >= 1)")
    return int(d)


def campaigns(value: Any, ctx) -> list | None:
    """A list of campaigns: on ``day`` (or ``every`` k days from ``start``) each customer
    currently at ``touchpoint`` (or in ``stage``) is sent to ``to`` with probability ``p``.
    """
    if not isinstance(value, list):
        ctx.error("campaigns", "must be a list of campaigns ({stage or touchpoint, to, p, day or every})")
        return None
    return [c for k, raw in enumerate(value) if (c := _campaign(k, raw, ctx)) is not None]


#: The agents engine's attributes of a touchpoint and of an edge, by key (the map format's
#: tables in :mod:`journeysim.maps.schema` name the same parsers).
TOUCHPOINT_PARSERS = {"capacity": capacity, "patience": patience, "budget": budget, "cost": cost}
EDGE_PARSERS = {"social_proof": social_proof, "fatigue": fatigue}


def service_problems(journey) -> list[tuple[str, str, str]]:
    """``(kind, where, message)`` for servers and their time: ``service`` needs ``capacity`` (an error), and a
    touchpoint with ``capacity`` whose edges have delays but no ``service`` holds its servers for those delays
    (a warning: an edge's delay is often meant as the customer's decision time after being served).

    Examples
    --------
    >>> from journeysim.journey import Delay, Edge, Journey
    >>> j = Journey.from_rows({"demo": 1.0}, {"demo": {"buy": Edge(0.3, Delay("fixed", 14.0))}}, goals=["buy"],
    ...                       touchpoint_attributes={"demo": {"extra": {"capacity": 3}}})
    >>> [(kind, where) for kind, where, _ in service_problems(j)]
    [('warning', "touchpoint 'demo'")]
    """
    problems = []
    timed = {a for _, _, j in journey.segment_journeys() for a, row in j.rows.items()
             if any(e.delay is not None and e.delay.mean > 0 for e in row.values())}
    for name, tp in journey.touchpoints.items():
        servers = tp.extra.get("capacity") is not None
        where = f"touchpoint {excerpt(name)}"
        if tp.service is not None and not servers:
            problems.append(("error", where, "'service' needs 'capacity' (it is the time a server holds the "
                                             "customer; without servers, write the time spent here as 'delay')"))
        elif servers and tp.service is None and name in timed:
            problems.append(("warning", where, "has 'capacity' and edge delays but no 'service', so each edge's "
                                               "delay holds a server for its whole length; if it is the customer's "
                                               "decision time after being served, write how long a server holds "
                                               "them as 'service: ...' (the edge delays then hold no server)"))
    return problems


def check_agent_journey(journey, days: int, source: str) -> None:
    """Check the journey's agent attributes for a run of ``days`` days; raise :class:`MapError` listing every problem.

    Journeys built in code skip the file parsers, so every attribute is parsed again here.
    """
    ctx = MapContext(source, names=journey.names, stages=journey.stage_names())
    for name, tp in journey.touchpoints.items():
        where = f"touchpoint {excerpt(name)}"
        for key, raw in tp.extra.items():
            attribute = TOUCHPOINT_PARSERS.get(key)
            if attribute is not None and raw is not None:
                try:
                    attribute(raw)
                except Invalid as exc:
                    ctx.error(f"{where}: {key}", str(exc))
        if "budget" in tp.extra and not tp.extra.get("cost"):
            ctx.error(where, "a budget needs a 'cost' per visit > 0 (what each visit spends)")
        if "patience" in tp.extra and "capacity" not in tp.extra:
            ctx.error(where, "'patience' needs 'capacity' (customers only wait for a limited number of servers)")
    for kind, where, message in service_problems(journey):
        if kind == "error":
            ctx.error(where, message)
    for segment, _, j in journey.segment_journeys():
        prefix = f"segment {excerpt(segment)}: " if segment is not None else ""
        for a, row in j.rows.items():
            for b, edge in row.items():
                for key, raw in edge.extra.items():
                    attribute = EDGE_PARSERS.get(key)
                    if attribute is not None:
                        try:
                            attribute(raw)
                        except Invalid as exc:
                            ctx.error(f"{prefix}touchpoint {excerpt(a)}: edge to {excerpt(b)}: {key}", str(exc))
    if "arrivals" not in journey.extra:
        ctx.error("", "the agents engine needs 'arrivals: {rate: ..., per: day}' (how many new customers arrive)")
    else:
        arrivals(journey.extra["arrivals"], ctx)
    for k, c in enumerate(campaigns(journey.extra.get("campaigns", []), ctx) or []):
        where = f"campaign {excerpt(c['name'])}" if "name" in c else f"campaign {k + 1}"
        if "stage" in c and c["stage"] not in ctx.stages:
            ctx.error(f"{where}: stage", f"unknown stage {excerpt(c['stage'])}{did_you_mean(c['stage'], ctx.stages)}")
        first = c.get("day", c.get("start", 0))
        if first >= days:
            ctx.error(f"{where}: {'day' if 'day' in c else 'start'}",
                      f"day {first} is outside the run (days 0 to {days - 1})")
    if ctx.errors:
        raise MapError(ctx.errors)
