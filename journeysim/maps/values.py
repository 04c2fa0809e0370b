"""The values of the map format: parsers for numbers, probabilities, text and delays, and the
context a parser reports into.

A parser takes the raw value and returns the parsed one, or raises :class:`Invalid`
with what is wrong and what is allowed. Every attribute table (:mod:`journeysim.maps.schema`,
:mod:`journeysim.maps.agents`) builds on these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from journeysim.errors import NameIndex, did_you_mean, excerpt
from journeysim.journey import DELAY_DISTRIBUTIONS, EXIT, Delay

__all__ = ["Invalid", "MapContext", "TIME_UNITS", "UNIT_SECONDS", "UNIT_DAYS", "number", "probability", "nonnegative", "positive", "count", "MAX_COUNT", "text",
           "boolean", "delay", "refers", "referral_problems", "REFERS_KEYS"]

TIME_UNITS = ("second", "minute", "hour", "day", "week", "month", "year")
#: Length of each map ``time_unit`` in seconds (a month is 1/12 of a Julian year).
UNIT_SECONDS = {
    "second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0, "week": 604800.0,
    "month": 2629800.0, "year": 31557600.0,
}

#: The agents engine's calendar counts whole days, so there a month is 30 days and a year 365.
UNIT_DAYS = {"second": 1 / 86400, "minute": 1 / 1440, "hour": 1 / 24, "day": 1.0, "week": 7.0, "month": 30.0,
             "year": 365.0}


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
    journeysim.maps.values.Invalid: '0.5' is not a number
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"{excerpt(value)} is not a number")
    try:
        value = float(value)
    except OverflowError:
        raise Invalid(f"{excerpt(value)} is outside the range of a float (about ±1.8e308)") from None
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


#: The most departures an ``observations`` count (or a re-evaluation's pseudo-count) may say: the row tests
#: multiply two counts, which overflows a double from about 1.3e154. No event log holds this many rows.
MAX_COUNT = 1e100


def count(value: Any) -> float:
    """A number of observations: at least 0 and at most :data:`MAX_COUNT`.

    Examples
    --------
    >>> count(1550)
    1550.0
    >>> count(1e160)
    Traceback (most recent call last):
    ...
    journeysim.maps.values.Invalid: 1e+160 is more than 1e+100 observations (no log holds so many)
    """
    x = nonnegative(value)
    if x > MAX_COUNT:
        raise Invalid(f"{x:g} is more than {MAX_COUNT:g} observations (no log holds so many)")
    return x


def positive(value: Any) -> float:
    x = number(value)
    if x <= 0:
        raise Invalid(f"{x:g} must be > 0")
    return x


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{excerpt(value)} is not text (quote it, e.g. \"{value}\")")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{excerpt(value)} is not true or false")
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
    journeysim.maps.values.Invalid: lognormal delay needs 'sd' (> 0)
    """
    if not isinstance(value, Mapping):
        try:
            return Delay("exponential", nonnegative(value))
        except Invalid as exc:
            raise Invalid(f"delay {exc} (a number is an exponential mean; or use {{dist, mean, sd}})") from None
    unknown = set(value) - {"dist", "mean", "sd"}
    if unknown:
        raise Invalid(f"unknown delay key {excerpt(sorted(map(str, unknown))[0])} (allowed: dist, mean, sd)")
    dist = value.get("dist", "exponential")
    if dist not in DELAY_DISTRIBUTIONS:
        raise Invalid(f"unknown delay distribution {excerpt(dist)} (allowed: {', '.join(DELAY_DISTRIBUTIONS)})")
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
        _spread(Delay(dist, mean, sd))
    elif "sd" in value:
        raise Invalid(f"{dist} delay takes no 'sd' (its spread is set by 'mean')")
    return Delay(dist, mean, sd)


def _spread(d: Delay) -> None:
    """Refuse an ``sd`` so large against the mean that the distribution's parameters are not finite floats.

    The engines draw from ``(mu, sigma)`` or ``(shape, scale)``: ``(sd / mean) ** 2`` overflows, or a gamma's
    shape ``(mean / sd) ** 2`` underflows to 0 and its scale ``mean / shape`` is infinite.

    Examples
    --------
    >>> _spread(Delay("gamma", 1.0, 1e200))
    Traceback (most recent call last):
    ...
    journeysim.maps.values.Invalid: gamma delay: sd 1e+200 is too large for mean 1 (its parameters overflow a float)
    """
    try:
        params = d.lognormal_params() if d.dist == "lognormal" else d.gamma_params()
    except (OverflowError, ZeroDivisionError):
        params = (math.inf,)
    if not all(math.isfinite(x) for x in params) or (d.dist == "gamma" and min(params) <= 0):
        raise Invalid(f"{d.dist} delay: sd {d.sd:g} is too large for mean {d.mean:g} (its parameters overflow a float)")


REFERS_KEYS = ("k", "entry", "segment")


def refers(value: Any) -> dict[str, Any]:
    """``refers``: a number, or ``{k, entry, segment}`` routing the referred customers.

    Returns the :class:`~journeysim.journey.Touchpoint` fields it sets. The names in
    ``entry`` and ``segment`` are checked against the map by :func:`referral_problems`.

    Examples
    --------
    >>> refers(0.5)
    {'refers': 0.5, 'refer_entry': None, 'refer_segment': None}
    >>> refers({"k": 0.8, "entry": {"reference call": 1}, "segment": "referred"})
    {'refers': 0.8, 'refer_entry': {'reference call': 1.0}, 'refer_segment': 'referred'}
    >>> refers({"k": 0.8, "segmnet": "referred"})
    Traceback (most recent call last):
    ...
    journeysim.maps.values.Invalid: unknown key 'segmnet' (did you mean 'segment'?) (allowed: k, entry, segment)
    """
    if not isinstance(value, Mapping):
        try:
            return {"refers": nonnegative(value), "refer_entry": None, "refer_segment": None}
        except Invalid as exc:
            raise Invalid(f"{exc} (a number of new customers per visit, or {{k, entry, segment}})") from None
    for key in value:
        if key not in REFERS_KEYS:
            raise Invalid(f"unknown key {excerpt(key)}{did_you_mean(key, REFERS_KEYS)} (allowed: {', '.join(REFERS_KEYS)})")
    if "k" not in value:
        raise Invalid("a mapping needs 'k', the new customers each visit brings (e.g. {k: 0.8, entry: {...}})")
    try:
        k = nonnegative(value["k"])
    except Invalid as exc:
        raise Invalid(f"k: {exc}") from None
    entry = None
    if "entry" in value:
        raw = value["entry"]
        if not isinstance(raw, Mapping) or not raw:
            raise Invalid("entry: must be a mapping of touchpoint -> share of the referred customers (summing to 1)")
        entry = {}
        for name, share in raw.items():
            try:
                entry[name] = probability(share)
            except Invalid as exc:
                raise Invalid(f"entry: touchpoint {excerpt(name)}: {exc}") from None
    segment = None
    if "segment" in value:
        try:
            segment = text(value["segment"])
        except Invalid as exc:
            raise Invalid(f"segment: {exc}") from None
    return {"refers": k, "refer_entry": entry, "refer_segment": segment}


def referral_problems(entry: Mapping[str, float] | None, segment: str | None, names, segments) -> list[str]:
    """What is wrong with a ``refers`` route in a map of touchpoints ``names`` and ``segments``.

    Examples
    --------
    >>> referral_problems({"cal": 1.0}, "vip", ["call", "buy"], ["regular"])
    ["entry: unknown touchpoint 'cal' (did you mean 'call'?)", "segment: unknown segment 'vip' (segments: regular)"]
    """
    problems = []
    if entry is not None:
        for name in entry:
            if name not in names:
                problems.append(f"entry: unknown touchpoint {excerpt(name)}{did_you_mean(name, names)}")
        total = math.fsum(entry.values())
        if abs(total - 1.0) > 1e-6:
            problems.append(f"entry: shares sum to {total:.6g} (must sum to 1)")
    if segment is not None and segment not in segments:
        known = ", ".join(segments)
        problems.append(f"segment: unknown segment {excerpt(segment)}{did_you_mean(segment, segments)} "
                        + (f"(segments: {known})" if known else "(the map has no segments)"))
    return problems


@dataclass
class MapContext:
    """What a parser needs to check cross-references, and where it reports problems."""

    source: str
    names: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: ``names`` as a set and their index for hints, built for the ``names`` they were made from.
    _lookup: tuple[tuple[str, ...], frozenset[str], list] | None = field(default=None, repr=False)
    _stage_set: tuple[tuple[str, ...], frozenset[str]] | None = field(default=None, repr=False)

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}")

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}")

    def unknown_stage(self, stage: Any) -> str | None:
        """``None`` for a declared stage (any text when none are declared), else what is wrong with it."""
        if self._stage_set is None or self._stage_set[0] is not self.stages:
            self._stage_set = (self.stages, frozenset(self.stages))
        if isinstance(stage, str) and (not self.stages or stage in self._stage_set[1]):
            return None
        listed = ", ".join(self.stages[:10]) + (f" and {len(self.stages) - 10} more" if len(self.stages) > 10 else "")
        return f"unknown stage {excerpt(stage)}{did_you_mean(stage, self.stages)} (stages: {listed})"

    def touchpoint(self, name: Any, where: str, allow_exit: bool = False) -> str | None:
        """Check that ``name`` is a known touchpoint (or exit), reporting it otherwise."""
        if allow_exit and name == EXIT:
            return EXIT
        if self._lookup is None or self._lookup[0] is not self.names:
            self._lookup = (self.names, frozenset(self.names), [])
        _, known, index = self._lookup
        if isinstance(name, str) and name in known:
            return name
        if not index:                       # built on the first unknown name, then shared by every other
            index.append(NameIndex(self.names))
        self.error(where, f"unknown touchpoint {excerpt(name)}{did_you_mean(name, index[0])}")
        return None
