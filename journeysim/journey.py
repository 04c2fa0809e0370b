"""The journey: touchpoints, transition rows, entry shares and segments.

A :class:`Journey` is immutable. It is the one object every engine, hypothesis
and fit works from; files become journeys in :mod:`journeysim.maps.read`, and
nothing here reads or writes files.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from journeysim._svg import layered_svg
from journeysim._text import fmt, format_table
from journeysim.errors import UsageError, excerpt

__all__ = ["Delay", "Edge", "Touchpoint", "Segment", "Journey", "EXIT", "DELAY_DISTRIBUTIONS", "expect_journey"]

#: The reserved drop-off outcome of a row.
EXIT = "exit"

DELAY_DISTRIBUTIONS = ("exponential", "fixed", "lognormal", "gamma")


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Delay:
    """Time spent at a touchpoint before moving on, in the map's ``time_unit``.

    ``exponential`` and ``fixed`` need only ``mean``; ``lognormal`` and ``gamma``
    also need ``sd``.

    Examples
    --------
    >>> Delay("lognormal", 2.0, 1.0).lognormal_params()  # (mu, sigma) of log(delay)
    (0.5815754049028404, 0.47238072707743883)
    """

    dist: str = "exponential"
    mean: float = 0.0
    sd: float | None = None

    def lognormal_params(self) -> tuple[float, float]:
        """Return ``(mu, sigma)`` of the underlying normal for a lognormal delay."""
        sigma2 = math.log1p((self.sd / self.mean) ** 2)
        return math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2)

    def gamma_params(self) -> tuple[float, float]:
        """Return ``(shape, scale)`` for a gamma delay."""
        shape = (self.mean / self.sd) ** 2
        return shape, self.mean / shape

    def draw(self, n: int, *, rng):
        """``n`` delays from this distribution, in the map's time unit.

        Parameters
        ----------
        n : int
        rng : numpy.random.Generator

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> import numpy as np
        >>> Delay("fixed", 2.0).draw(3, rng=np.random.default_rng(0))
        array([2., 2., 2.])
        >>> Delay("gamma", 2.0, 1.0).draw(100_000, rng=np.random.default_rng(0)).mean().round(2)
        np.float64(2.0)
        """
        import numpy as np  # with the engines that draw, not with every map

        if self.mean == 0:
            return np.zeros(n)
        if self.dist == "exponential":
            return rng.exponential(self.mean, n)
        if self.dist == "fixed":
            return np.full(n, self.mean)
        if self.dist == "lognormal":
            return rng.lognormal(*self.lognormal_params(), n)
        return rng.gamma(*self.gamma_params(), n)

    def to_spec(self) -> float | dict:
        """The map-file form: a bare number for an exponential delay."""
        if self.dist == "exponential":
            return self.mean
        spec: dict[str, Any] = {"dist": self.dist, "mean": self.mean}
        if self.sd is not None:
            spec["sd"] = self.sd
        return spec


@dataclass(frozen=True)
class Edge:
    """One outcome of a row: the probability and, optionally, its own delay.

    An edge's delay replaces the delay of the touchpoint it leaves, for the
    customers who take that edge.
    """

    p: float
    delay: Delay | None = None
    #: Attributes used by particular engines (social proof, fatigue...), validated by mapfile.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "extra", _frozen(self.extra))


@dataclass(frozen=True)
class Touchpoint:
    """A touchpoint and its attributes (see docs/map-format.md)."""

    name: str
    stage: str | None = None
    channel: str | None = None
    delay: Delay | None = None
    goal: bool = False
    value: float = 0.0
    refers: float = 0.0
    #: Attributes used by particular engines (capacity, budgets...), validated by mapfile.
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Where the customers this touchpoint refers start: entry shares (``None``: the entry of the
    #: segment they join) and segment (``None``: the map's segment mix, by share).
    refer_entry: Mapping[str, float] | None = None
    refer_segment: str | None = None
    #: On a touchpoint with ``capacity``: the time a server holds the customer. ``delay`` (and an edge's
    #: delay) is then the customer's own time after the service, holding no server. Every engine counts
    #: service plus delay as time spent here.
    service: Delay | None = None

    def __post_init__(self):
        object.__setattr__(self, "extra", _frozen(self.extra))
        if self.refer_entry is not None:
            object.__setattr__(self, "refer_entry", _frozen(self.refer_entry))

    @property
    def mean_delay(self) -> float:
        return self.delay.mean if self.delay is not None else 0.0

    @property
    def routed(self) -> bool:
        """Whether its referred customers start somewhere other than where new customers do."""
        return self.refer_entry is not None or self.refer_segment is not None

    def refers_spec(self) -> float | dict:
        """The map-file form of ``refers``: a number, or ``{k, entry, segment}`` when routed."""
        if not self.routed:
            return self.refers
        spec: dict[str, Any] = {"k": self.refers}
        if self.refer_entry is not None:
            spec["entry"] = dict(self.refer_entry)
        if self.refer_segment is not None:
            spec["segment"] = self.refer_segment
        return spec


@dataclass(frozen=True)
class Segment:
    """A persona: its share of new customers, the rows it replaces and its own entry."""

    name: str
    share: float
    rows: Mapping[str, Mapping[str, Edge]] = field(default_factory=dict)
    entry: Mapping[str, float] | None = None
    #: Departures observed from each touchpoint (and ``entry``: journeys started) in this segment, written by ``fit``.
    observations: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "rows", _frozen({k: _frozen(v) for k, v in self.rows.items()}))
        if self.entry is not None:
            object.__setattr__(self, "entry", _frozen(self.entry))
        object.__setattr__(self, "observations", _frozen(self.observations))


@dataclass(frozen=True, repr=False)
class Journey:
    """A probabilistic touchpoint graph.

    ``rows[a][b]`` is the :class:`Edge` from ``a`` to ``b``; whatever a row
    leaves to 1 is drop-off (:data:`EXIT`). A touchpoint with no row ends the
    journey. Build journeys with :func:`journeysim.maps.read.read_journey` (which
    validates) or directly for tests.

    Examples
    --------
    >>> j = Journey.from_rows(
    ...     entry={"ad": 1.0},
    ...     rows={"ad": {"page": 0.5}, "page": {"buy": 0.2}},
    ...     goals=["buy"],
    ... )
    >>> j.names, j.goals, j.exit_probability("page")
    (('ad', 'page', 'buy'), ('buy',), 0.8)
    >>> j
    <Journey: 3 touchpoints, 1 goal, 2 transitions>
    """

    touchpoints: Mapping[str, Touchpoint]
    entry: Mapping[str, float]
    rows: Mapping[str, Mapping[str, Edge]]
    name: str = ""
    stages: tuple[str, ...] = ()
    time_unit: str = "day"
    segments: Mapping[str, Segment] = field(default_factory=dict)
    #: Departures observed from each touchpoint (and ``entry``), written by ``fit``.
    observations: Mapping[str, float] = field(default_factory=dict)
    #: Top-level attributes used by particular engines (arrivals, campaigns...).
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "touchpoints", _frozen(self.touchpoints))
        object.__setattr__(self, "entry", _frozen(self.entry))
        object.__setattr__(self, "rows", _frozen({k: _frozen(v) for k, v in self.rows.items()}))
        object.__setattr__(self, "stages", tuple(self.stages))
        object.__setattr__(self, "segments", _frozen(self.segments))
        object.__setattr__(self, "observations", _frozen(self.observations))
        object.__setattr__(self, "extra", _frozen(self.extra))

    @classmethod
    def from_rows(
        cls,
        entry: Mapping[str, float],
        rows: Mapping[str, Mapping[str, float | Edge]],
        goals=(),
        **attributes: Any,
    ) -> Journey:
        """Build a journey from plain probabilities; touchpoints are named by use.

        ``attributes`` maps touchpoint names to keyword arguments of
        :class:`Touchpoint` (e.g. ``{"buy": {"value": 40}}``) under the key
        ``touchpoint_attributes``; any other keyword goes to :class:`Journey`.
        """
        tp_attrs = attributes.pop("touchpoint_attributes", {})
        names: list[str] = []
        for name in [*entry, *rows, *(b for r in rows.values() for b in r), *goals, *tp_attrs]:
            if name not in names and name != EXIT:
                names.append(name)
        touchpoints = {
            n: Touchpoint(n, goal=n in goals, **tp_attrs.get(n, {})) for n in names
        }
        edges = {
            a: {b: e if isinstance(e, Edge) else Edge(float(e)) for b, e in r.items() if b != EXIT}
            for a, r in rows.items()
        }
        return cls(touchpoints=touchpoints, entry=dict(entry), rows=edges, **attributes)

    # -- queries ---------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Touchpoint names in map order."""
        return tuple(self.touchpoints)

    @property
    def goals(self) -> tuple[str, ...]:
        """Goal (conversion) touchpoints in map order."""
        return tuple(n for n, t in self.touchpoints.items() if t.goal)

    def exit_probability(self, name: str) -> float:
        """Probability of dropping off after ``name`` (1 for a touchpoint with no row)."""
        return max(0.0, 1.0 - math.fsum(e.p for e in self.rows.get(name, {}).values()))

    def stage_of(self, name: str) -> str | None:
        return self.touchpoints[name].stage

    def stage_names(self) -> tuple[str, ...]:
        """Declared stages, then any stage used by a touchpoint but not declared."""
        used = [t.stage for t in self.touchpoints.values() if t.stage is not None]
        return tuple(dict.fromkeys([*self.stages, *used]))

    def segment_journeys(self) -> list[tuple[str | None, float, Journey]]:
        """``(segment name, share, journey)`` for each segment with its rows applied.

        A journey with no segments yields ``[(None, 1.0, self)]``.
        """
        if not self.segments:
            return [(None, 1.0, self)]
        return [(s.name, s.share, self.for_segment(s.name)) for s in self.segments.values()]

    def for_segment(self, segment: str) -> Journey:
        """The journey as customers of ``segment`` see it, with no segments left."""
        seg = self.segments[segment]
        rows = dict(self.rows)
        rows.update(seg.rows)
        entry = seg.entry if seg.entry is not None else self.entry
        return dataclasses.replace(self, rows=rows, entry=entry, segments={})

    def replace(self, **changes: Any) -> Journey:
        """A copy with some fields replaced (the journey itself never changes)."""
        return dataclasses.replace(self, **changes)

    def referral_starts(self, name: str) -> list[tuple[str | None, float, Mapping[str, float]]]:
        """``(segment, weight, entry shares)`` where the customers ``name`` refers start.

        New customers start by :meth:`segment_journeys` (segment shares, each segment's
        entry); a routed touchpoint's customers start at its ``refer_entry`` and join its
        ``refer_segment`` (either may be left to the default).

        Examples
        --------
        >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}}, goals=["buy"],
        ...     touchpoint_attributes={"buy": {"refers": 0.2, "refer_entry": {"buy": 1.0}}})
        >>> j.referral_starts("buy"), j.referral_starts("ad")
        ([(None, 1.0, {'buy': 1.0})], [(None, 1.0, {'ad': 1.0})])
        """
        tp = self.touchpoints[name]
        parts = [(s, share, j) for s, share, j in self.segment_journeys()
                 if tp.refer_segment is None or s == tp.refer_segment]
        if tp.refer_segment is not None:
            parts = [(s, 1.0, j) for s, _, j in parts]
        return [(s, share, dict(tp.refer_entry if tp.refer_entry is not None else j.entry)) for s, share, j in parts]

    def reachable(self) -> set[str]:
        """Touchpoints any customer (new, of any segment, or referred) can reach."""
        parts = {s: j for s, _, j in self.segment_journeys()}   # each segment has its own rows: its own search
        reached: dict[str | None, set[str]] = {s: set() for s in parts}
        stack = [(s, n) for s, share, j in self.segment_journeys() if share > 0
                 for n, p in j.entry.items() if p > 0 and n in j.touchpoints]
        while stack:
            s, a = stack.pop()
            if a in reached[s]:
                continue
            reached[s].add(a)
            stack += [(s, b) for b, edge in parts[s].rows.get(a, {}).items() if edge.p > 0 and b not in reached[s]]
            if self.touchpoints[a].refers > 0:   # the customers it refers start searches of their own
                stack += [(seg, x) for seg, w, entry in self.referral_starts(a) if w > 0
                          for x, p in entry.items() if p > 0 and x in self.touchpoints]
        return set().union(*reached.values())

    # -- for people ------------------------------------------------------------------

    def columns(self) -> list[tuple[str, list[str]]]:
        """Touchpoints by stage, in map order: ``(stage, names)`` per stage, then ``(no stage)`` if any.

        Examples
        --------
        >>> Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"]).columns()
        [('(no stage)', ['ad', 'buy'])]
        """
        columns = {stage: [] for stage in self.stage_names()}
        for name, tp in self.touchpoints.items():
            columns.setdefault(tp.stage if tp.stage is not None else "(no stage)", []).append(name)
        return [(stage, names) for stage, names in columns.items() if names]

    def __repr__(self) -> str:
        count = lambda n, what: f"{n} {what}" + ("" if n == 1 else "s")  # noqa: E731
        parts = [count(len(self.touchpoints), "touchpoint"), count(len(self.goals), "goal"),
                 count(sum(len(r) for r in self.rows.values()), "transition")]
        if self.stages:
            parts.append(count(len(self.stage_names()), "stage"))
        if self.segments:
            parts.append(count(len(self.segments), "segment"))
        return f"<Journey{' ' + repr(self.name) if self.name else ''}: {', '.join(parts)}>"

    def summary(self) -> str:
        """The map as text: one row per touchpoint (stage, goal, value, entry share, drop-off, next steps)."""
        rows = []
        for name, tp in self.touchpoints.items():
            row = self.rows.get(name, {})
            ahead = sorted(row.items(), key=lambda kv: -kv[1].p)
            rows.append((name, tp.stage or "-", fmt(tp.goal), fmt(tp.value), fmt(self.entry.get(name)),
                         fmt(self.exit_probability(name)) if name in self.rows else "ends",
                         ", ".join(f"{b} {e.p:.3g}" for b, e in ahead) or "-"))
        title = f"{self.name or 'journey'} ({self.time_unit}s)"
        parts = [format_table(title, ["touchpoint", "stage", "goal", "value", "entry", "drop-off", "next"], rows,
                              width=140)]
        parts.extend(f"segment {s.name!r}: share {fmt(s.share)}, own rows: {len(s.rows)}"
                     for s in self.segments.values())
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.summary()

    def to_frame(self):
        """Every transition as a tidy pandas DataFrame: ``segment, from, to, p`` (``to`` is ``exit`` for drop-off).

        ``segment`` is ``None`` for a journey without segments; with segments each one
        lists its whole rows (shared rows included).

        Examples
        --------
        >>> Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"]).to_frame()
          segment from    to     p
        0    None   ad   buy  0.25
        1    None   ad  exit  0.75
        """
        import pandas as pd

        rows = [(segment, a, b, e.p) for segment, _, j in self.segment_journeys()
                for a in j.names if a in j.rows
                for b, e in [*j.rows[a].items(), (EXIT, Edge(j.exit_probability(a)))]]
        return pd.DataFrame(rows, columns=["segment", "from", "to", "p"])

    def _repr_html_(self) -> str:
        """Jupyter's view: the map drawn by stage (inline SVG), then its summary."""
        edges: dict[tuple[str, str], float] = {}
        for _, share, j in self.segment_journeys():
            for a, row in j.rows.items():
                for b, e in row.items():
                    edges[a, b] = edges.get((a, b), 0.0) + share * e.p
        import html

        svg = layered_svg(self.columns(), edges, self.goals, self.entry)
        return f"<div>{svg}</div><pre>{html.escape(self.summary())}</pre>"


def expect_journey(journey: Any) -> None:
    """Refuse, in one line, anything but a :class:`Journey` where an engine needs one (a path among them: the
    engines take journeys; :func:`journeysim.simulate` and :func:`journeysim.load_journey` take paths).

    Examples
    --------
    >>> expect_journey("scenarios/online-store.yaml")
    Traceback (most recent call last):
    ...
    journeysim.errors.UsageError: journey='scenarios/online-store.yaml': must be a Journey, not str (read a map file with journeysim.load_journey(path), or give the path to journeysim.simulate)
    """
    if not isinstance(journey, Journey):
        raise UsageError(f"journey={excerpt(journey)}: must be a Journey, not {type(journey).__name__} (read a map "
                         "file with journeysim.load_journey(path), or give the path to journeysim.simulate)")
