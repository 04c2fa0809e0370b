"""Hypothesis strategies: random valid journeys.

``journeys()`` draws maps that pass validation: every touchpoint is reachable
(a backbone edge links touchpoint i to i+1 and the first one is an entry), every
row keeps some drop-off (so nobody is trapped), and at least one goal exists.
"""

from __future__ import annotations

import unicodedata

from hypothesis import strategies as st

from journeysim._files import skeleton
from journeysim.logs._sql import SPACES

from journeysim.maps.read import read_journey

__all__ = ["journeys", "touchpoint_names", "delays"]

_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"))


def touchpoint_names(n: int, alphabet=_ALPHABET, trimmed: bool = False):
    """``n`` names of any Unicode text that the reader tells apart: distinct once NFC-normalised and stripped of
    invisible characters (the reader refuses look-alikes), and never 'exit'. ``trimmed``: no surrounding spaces
    (event logs trim them, as exports pad their fields: a map's ``'ad '`` is ``'ad'`` in a log)."""
    name = st.text(alphabet, min_size=1, max_size=12).map(lambda s: unicodedata.normalize("NFC", s)).filter(
        lambda s: skeleton(s) and skeleton(s) != "exit" and (not trimmed or s == s.strip(SPACES)))
    return st.lists(name, min_size=n, max_size=n, unique_by=skeleton)


def delays():
    mean = st.floats(0.05, 5.0)
    return st.one_of(
        mean,
        st.builds(lambda m: {"dist": "fixed", "mean": m}, mean),
        st.builds(lambda m, r: {"dist": "lognormal", "mean": m, "sd": m * r}, mean, st.floats(0.1, 2.0)),
        st.builds(lambda m, r: {"dist": "gamma", "mean": m, "sd": m * r}, mean, st.floats(0.1, 2.0)),
    )


def _row(draw, i, n, names, max_edges):
    targets = draw(st.lists(st.integers(0, n - 1), max_size=max_edges, unique=True))
    if i + 1 < n and i + 1 not in targets:
        targets.append(i + 1)
    weights = [draw(st.integers(1, 20)) for _ in targets]
    exit_weight = draw(st.integers(1, 20))
    total = sum(weights) + exit_weight
    return {names[t]: w / total for t, w in zip(targets, weights)}


_STAGES = ("know", "try", "buy", "repeat")
# Amounts and referral rates are zero or at least a millionth: below that (down to the subnormals), products along
# a path underflow to zero and ratios such as removal effects on value are rounding noise, not journey behaviour.
_AMOUNT = st.one_of(st.just(0.0), st.floats(1e-6, 100))
_REFERS = st.one_of(st.just(0.0), st.floats(1e-6, 0.5))


@st.composite
def journeys(draw, min_touchpoints=2, max_touchpoints=8, max_edges=4, segments=False, with_delays=False,
             unicode_names=True, values=True, refers=False, routes=False, stages=False, discount=False,
             service=False, trimmed_names=False):
    """A random valid journey (a :class:`journeysim.Journey`).

    ``routes``: referring touchpoints may route their customers (``refers: {k, entry, segment}``,
    to a segment of share 0 among others); ``stages``: touchpoints get stages (some none);
    ``discount``: a discount at a positive rate; ``service``: some touchpoints get servers
    (``capacity``) and a ``service`` time; ``trimmed_names``: names without surrounding spaces (for event logs).
    """
    n = draw(st.integers(min_touchpoints, max_touchpoints))
    names = draw(touchpoint_names(n, trimmed=trimmed_names)) if unicode_names else [f"t{i}" for i in range(n)]
    goals = set(draw(st.lists(st.integers(1, n - 1), min_size=1, max_size=max(1, n // 3), unique=True)))
    entries = sorted({0, *draw(st.lists(st.integers(0, n - 1), max_size=2))})
    entry_weights = [draw(st.integers(1, 10)) for _ in entries]
    touchpoints = {}
    for i, name in enumerate(names):
        attrs = {}
        if i in goals:
            attrs["goal"] = True
            if values:
                attrs["value"] = draw(_AMOUNT)
        if with_delays:
            attrs["delay"] = draw(delays())
        if service and draw(st.integers(0, 2)) == 0:
            attrs["capacity"] = draw(st.integers(1, 3))
            attrs["service"] = draw(delays())
        if refers and draw(st.booleans()):
            attrs["refers"] = draw(_REFERS)
            if routes and draw(st.booleans()):
                attrs["refers"] = {"k": attrs["refers"], "entry": {names[draw(st.integers(0, n - 1))]: 1.0}}
                if segments and draw(st.booleans()):
                    attrs["refers"]["segment"] = draw(st.sampled_from(["segment 0", "referred"]))
        if stages and draw(st.booleans()):
            attrs["stage"] = draw(st.sampled_from(_STAGES))
        touchpoints[name] = attrs
    data = {
        "entry": {names[e]: w / sum(entry_weights) for e, w in zip(entries, entry_weights)},
        "touchpoints": touchpoints,
        "transitions": {names[i]: _row(draw, i, n, names, max_edges) for i in range(n)},
    }
    if stages:
        data["stages"] = list(_STAGES)
    if discount:
        data["discount"] = {"rate": draw(st.floats(0.01, 2.0)), "per": draw(st.sampled_from(["day", "week", "year"]))}
    if segments:
        k = draw(st.integers(2, 3))
        shares = [draw(st.integers(1, 10)) for _ in range(k)]
        data["segments"] = {}
        for s in range(k):
            replaced = draw(st.lists(st.integers(0, n - 1), max_size=2, unique=True))
            data["segments"][f"segment {s}"] = {
                "share": shares[s] / sum(shares),
                "transitions": {names[i]: _row(draw, i, n, names, max_edges) for i in replaced},
            }
        if routes:   # a segment only referred customers join, with rows of its own
            replaced = draw(st.lists(st.integers(0, n - 1), max_size=2, unique=True))
            data["segments"]["referred"] = {
                "share": 0, "transitions": {names[i]: _row(draw, i, n, names, max_edges) for i in replaced}}
    return read_journey(data, "<random map>")
