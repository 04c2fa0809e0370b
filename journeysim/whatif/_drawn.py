"""A prediction's maps as arrays: every draw of the baseline and of the variant at once.

A hypothesis's draws share one structure (touchpoints, rows and edges, segments);
only numbers differ: probabilities, entry shares, values, referral rates.
:class:`DrawnMaps` holds the structure as a :class:`~journeysim.journey.Journey`
and the numbers as rows of arrays (a float where every draw agrees), and
:func:`apply_drawn` replays a hypothesis's changes on them, each change one
array operation over all draws, with the arithmetic of
:mod:`journeysim.whatif.changes`. Nothing here raises: a change that some draw
makes invalid, or an uncertain number where these arrays cannot follow it (a
delay, a stage...), sends the prediction to the one-map-per-draw path of
:mod:`journeysim.whatif.prediction`, which says what is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from journeysim.journey import EXIT, Edge, Journey, Segment
from journeysim.whatif.changes import (
    ALL,
    AddTouchpoint,
    RemoveTouchpoint,
    ScaleEdge,
    SetEdge,
    SetEntry,
    SetTouchpoint,
)
from journeysim.whatif.uncertain import DIRICHLET_PRIOR, parse_path

__all__ = ["DrawnMaps", "posterior_draws", "posterior_maps", "journeys_from_draws", "apply_drawn", "followed"]

Number = float | np.ndarray
Row = dict[str, Number]
#: The tolerance of journeysim.whatif.changes.
_TOLERANCE = 1e-9
#: Where an uncertain number may sit in a change for the arrays to follow it (after ``changes[i]``).
_FOLLOWED = {("set", "p"), ("scale", "by"), ("entry", None), ("to", None), ("from", None), ("from", None, "p"),
             ("value",), ("refers",), ("refers", "k"), ("touchpoint", "value"), ("touchpoint", "refers"),
             ("touchpoint", "refers", "k")}


def followed(path: str) -> bool:
    """Whether the arrays follow an uncertain number at ``path`` (else the prediction goes map by map).

    >>> followed("changes[0].to.purchase"), followed("changes[2].touchpoint.delay.mean")
    (True, False)
    """
    parts = parse_path(path)[2:]
    shape = tuple(None if k == 1 and parts[0] in ("entry", "to", "from") else p for k, p in enumerate(parts))
    return shape in _FOLLOWED


@dataclass
class DrawnMaps:
    """``draws`` versions of ``structure``: its rows, entry shares, values and referral rates as numbers per draw.

    ``segments`` maps a segment to its own rows and entry (``None``: the journey's); ``bad`` marks the draws a
    change refused.
    """

    structure: Journey
    draws: int
    rows: dict[str, Row]
    entry: Row
    segments: dict[str, tuple[dict[str, Row], Row | None]]
    value: dict[str, Number] = field(default_factory=dict)
    refers: dict[str, Number] = field(default_factory=dict)
    bad: np.ndarray | bool = False

    def copy(self) -> DrawnMaps:
        return DrawnMaps(self.structure, self.draws, {a: dict(r) for a, r in self.rows.items()}, dict(self.entry),
                         {s: ({a: dict(r) for a, r in rows.items()}, None if e is None else dict(e))
                          for s, (rows, e) in self.segments.items()},
                         dict(self.value), dict(self.refers), self.bad)

    def arrays(self) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
        """Dense ``Q`` and entry of each segment (``structure.segment_journeys()`` order), values and referral
        rates: the input of :func:`journeysim.engines.stacked.solve_stacked` (an array every draw shares has one
        row)."""
        names = self.structure.names
        index = {n: i for i, n in enumerate(names)}
        d, n = self.draws, len(names)
        Qs, entries = [], []
        for seg, _, _ in self.structure.segment_journeys():
            rows, entry = self.rows, self.entry
            if seg is not None:
                seg_rows, seg_entry = self.segments[seg]
                rows = {**rows, **seg_rows}
                entry = entry if seg_entry is None else seg_entry
            cells = [(index[a] * n + index[b], p) for a, row in rows.items() for b, p in row.items()]
            numbers = _columns([p for _, p in cells], d)
            Q = np.zeros((len(numbers), n * n))
            Q[:, [c for c, _ in cells]] = numbers
            Qs.append(Q.reshape(-1, n, n))
            numbers = _columns(list(entry.values()), d)
            e = np.zeros((len(numbers), n))
            e[:, [index[name] for name in entry]] = numbers
            entries.append(e)
        tps = [self.structure.touchpoints[name] for name in names]
        value = np.broadcast_to(_columns([self.value.get(t.name, t.value) for t in tps], d), (d, n))
        refers = np.broadcast_to(_columns([self.refers.get(t.name, t.refers) for t in tps], d), (d, n))
        return Qs, entries, value, refers


def _columns(numbers: list[Number], d: int) -> np.ndarray:
    """``(d, len(numbers))``: one column per number, a float repeated down its column; ``(1, len(numbers))``
    when every number is a float."""
    out = np.empty((d if any(isinstance(x, np.ndarray) for x in numbers) else 1, len(numbers)))
    for k, x in enumerate(numbers):
        out[:, k] = x
    return out


# -- the baseline's draws ------------------------------------------------------------------


def _draw_row(row: Mapping[str, Edge], n: float, draws: int, rng) -> np.ndarray:
    p = np.array([e.p for e in row.values()] + [max(0.0, 1.0 - math.fsum(e.p for e in row.values()))])
    return rng.dirichlet(p * n + DIRICHLET_PRIOR, size=draws)


def _draw_shares(shares: Mapping[str, float], n: float, draws: int, rng) -> np.ndarray:
    return rng.dirichlet(np.array([shares[k] for k in shares]) * n + DIRICHLET_PRIOR, size=draws)


def posterior_draws(journey: Journey, draws: int, *, rng: np.random.Generator) -> dict:
    """The Dirichlet posterior draws of a map's observed rows and entry shares, by where they go: ``rows``
    (touchpoint -> draws x outcomes, exit last), ``entry``, ``segment rows`` and ``segment entry``."""
    obs = journey.observations
    out = {"rows": {}, "entry": None, "segment rows": {}, "segment entry": {}}
    if not obs:
        return out
    out["rows"] = {a: _draw_row(r, obs[a], draws, rng) for a, r in journey.rows.items() if a in obs and r}
    if "entry" in obs:
        out["entry"] = _draw_shares(journey.entry, obs["entry"], draws, rng)
    out["segment rows"] = {name: {a: _draw_row(r, obs[a], draws, rng) for a, r in s.rows.items() if a in obs and r}
                           for name, s in journey.segments.items()}
    out["segment entry"] = {name: _draw_shares(s.entry, obs["entry"], draws, rng)
                            for name, s in journey.segments.items() if s.entry is not None and "entry" in obs}
    return out


def journeys_from_draws(journey: Journey, drawn: dict, draws: int) -> list[Journey]:
    """One journey per draw, its observed rows and entry shares those drawn (see :func:`posterior_draws`)."""
    if not journey.observations:
        return [journey] * draws

    def table(rows, matrices):
        lists = {a: m.tolist() for a, m in matrices.items()}
        return [{a: {b: Edge(lists[a][k][i], e.delay, e.extra) for i, (b, e) in enumerate(r.items())}
                 if a in lists else r for a, r in rows.items()} for k in range(draws)]

    def shares(names, matrix):
        return [dict(zip(names, row)) for row in matrix.tolist()]

    rows = table(journey.rows, drawn["rows"])
    entry = shares(journey.entry, drawn["entry"]) if drawn["entry"] is not None else [journey.entry] * draws
    seg_rows = {name: table(s.rows, drawn["segment rows"][name]) for name, s in journey.segments.items()}
    seg_entry = {name: shares(s.entry, drawn["segment entry"][name]) if name in drawn["segment entry"]
                 else [s.entry] * draws for name, s in journey.segments.items()}
    return [journey.replace(rows=rows[k], entry=entry[k], segments={
        name: Segment(s.name, s.share, seg_rows[name][k], seg_entry[name][k]) for name, s in journey.segments.items()})
        for k in range(draws)]


def posterior_maps(journey: Journey, drawn: dict, draws: int) -> DrawnMaps:
    """The baseline's draws as :class:`DrawnMaps` (the same numbers as :func:`journeys_from_draws`)."""
    def rows_of(rows, matrices):
        return {a: {b: matrices[a][:, i] for i, b in enumerate(r)} if a in matrices else {b: e.p for b, e in r.items()}
                for a, r in rows.items()}

    def entry_of(entry, matrix):
        return {name: matrix[:, i] for i, name in enumerate(entry)} if matrix is not None else dict(entry)

    segments = {name: (rows_of(s.rows, drawn["segment rows"].get(name, {})),
                       None if s.entry is None else entry_of(s.entry, drawn["segment entry"].get(name)))
                for name, s in journey.segments.items()}
    return DrawnMaps(journey, draws, rows_of(journey.rows, drawn["rows"]), entry_of(journey.entry, drawn["entry"]),
                     segments)


# -- the changes, on all draws at once ----------------------------------------------------------


def _sum(values) -> Number:
    total = 0.0
    for v in values:
        total = total + v
    return total


def _outcome(row: Row, name: str) -> Number:
    if name in row:
        return row[name]
    return 1.0 - _sum(row.values()) if name == EXIT else 0.0


class _Replay:
    """The changes of :mod:`journeysim.whatif.changes`, on rows of arrays; refused draws are marked, not raised."""

    def __init__(self, maps: DrawnMaps):
        self.m = maps

    def refuse(self, mask) -> None:
        self.m.bad = self.m.bad | mask

    def probability(self, p: Number) -> None:
        self.refuse(~(np.isfinite(p) & (p >= -_TOLERANCE) & (p <= 1 + _TOLERANCE)))

    def set_outcome(self, row: Row, target: str, p: Number, take_from=ALL) -> Row:
        self.probability(p)
        p = np.clip(p, 0.0, 1.0)
        old = np.clip(_outcome(row, target), 0.0, 1.0)
        names = None if take_from == ALL else (take_from,) if isinstance(take_from, str) else tuple(take_from)
        if names is None:
            rest = 1.0 - old
            some = rest > _TOLERANCE
            factor = np.where(some, (1.0 - p) / np.where(some, rest, 1.0), 0.0)
            out = {b: p if b == target else e * factor for b, e in row.items()}
            if target == EXIT:    # as changes.set_outcome: a freed share goes to the row's edges in equal parts
                stuck = ~some & (p < old - _TOLERANCE)
                others = [b for b in row if b != EXIT]
                if not others:
                    self.refuse(stuck)
                for b in others:
                    out[b] = np.where(stuck, (1.0 - p) / len(others), out[b])
        else:
            held = _sum(np.maximum(_outcome(row, b), 0.0) for b in names)
            change = p - old
            self.refuse(change > held + _TOLERANCE)
            some = held > _TOLERANCE
            out = dict(row)
            out[target] = p
            for b in names:
                if b == EXIT:
                    continue
                e = row.get(b, 0.0)
                new = np.where(some, e * (held - change) / np.where(some, held, 1.0), -change / len(names))
                out[b] = np.maximum(new, 0.0)
        if target != EXIT and target not in out:
            out[target] = p
        out.pop(EXIT, None)
        return out

    def set_against_exit(self, row: Row, target: str, p: Number) -> Row:
        self.probability(p)
        out = {**row, target: np.clip(p, 0.0, 1.0)}
        self.refuse(_sum(out.values()) > 1.0 + _TOLERANCE)
        return out

    def rows_with(self, source: str, segment: str | None, edit: Callable[[Row], Row]) -> None:
        m = self.m
        if segment is not None:
            seg_rows, _ = m.segments[segment]
            seg_rows[source] = edit(seg_rows.get(source, m.rows.get(source, {})))
            return
        m.rows[source] = edit(m.rows.get(source, {}))
        for seg_rows, _ in m.segments.values():
            if source in seg_rows:
                seg_rows[source] = edit(seg_rows[source])

    def apply(self, change, numbers: dict) -> None:
        {AddTouchpoint: self.add, SetEdge: self.set, ScaleEdge: self.scale, RemoveTouchpoint: self.remove,
         SetEntry: self.entry, SetTouchpoint: self.touchpoint}[type(change)](change, numbers)

    def set(self, c: SetEdge, numbers: dict) -> None:
        p = numbers["p"]
        if c.balance == "exit":
            self.rows_with(c.source, c.segment, lambda r: self.set_against_exit(r, c.target, p))
        else:
            self.rows_with(c.source, c.segment, lambda r: self.set_outcome(r, c.target, p, c.take_from))

    def scale(self, c: ScaleEdge, numbers: dict) -> None:
        by = numbers["by"]
        self.refuse(~(np.isfinite(by) & (by >= 0)))
        self.rows_with(c.source, c.segment,
                       lambda r: self.set_outcome(r, c.target, np.maximum(_outcome(r, c.target), 0.0) * by))

    def add(self, c: AddTouchpoint, numbers: dict) -> None:
        m = self.m
        row = {}
        for target, p in numbers["to"].items():
            self.probability(p)
            if target != EXIT:
                row[target] = p
        self.refuse(_sum(numbers["to"].values()) > 1 + _TOLERANCE)
        m.rows[c.name] = row
        self.attributes(c.name, numbers)
        for source, p in numbers["from"].items():
            take = c.take_from.get(source, ALL)
            self.rows_with(source, c.segment, lambda r, p=p, take=take: self.set_outcome(r, c.name, p, take))

    def remove(self, c: RemoveTouchpoint, numbers: dict) -> None:
        m, name = self.m, c.name
        drop = lambda row: {b: e for b, e in row.items() if b != name}  # noqa: E731
        if c.segment is not None:
            seg_rows, seg_entry = m.segments[c.segment]
            seg_rows.update({a: drop(r) for a, r in {**m.rows, **seg_rows}.items() if name in r})
            m.segments[c.segment] = (seg_rows, drop(seg_entry if seg_entry is not None else m.entry))
            return
        m.segments = {s: ({a: drop(r) for a, r in rows.items() if a != name}, None if e is None else drop(e))
                      for s, (rows, e) in m.segments.items()}
        m.rows = {a: drop(r) for a, r in m.rows.items() if a != name}
        m.entry = drop(m.entry)
        m.value.pop(name, None)
        m.refers.pop(name, None)

    def entry(self, c: SetEntry, numbers: dict) -> None:
        m = self.m
        shares = numbers["entry"]
        seg_entry = m.segments[c.segment][1] if c.segment is not None else None
        current = dict(seg_entry if seg_entry is not None else m.entry)
        for share in shares.values():
            self.probability(share)
        listed = _sum(shares.values())
        self.refuse(listed > 1 + _TOLERANCE)
        others = {n: s for n, s in current.items() if n not in shares}
        rest = _sum(others.values())
        some = rest > _TOLERANCE
        self.refuse(~some & (listed < 1 - 1e-6))
        factor = np.where(some, (1.0 - listed) / np.where(some, rest, 1.0), 0.0)
        entry = {n: s * factor for n, s in others.items()}
        entry = {n: shares.get(n, entry.get(n)) for n in [*current, *shares]}
        if c.segment is None:
            m.entry = entry
        else:
            m.segments[c.segment] = (m.segments[c.segment][0], entry)

    def touchpoint(self, c: SetTouchpoint, numbers: dict) -> None:
        self.attributes(c.name, numbers)

    def attributes(self, name: str, numbers: dict) -> None:
        """Uncertain values and referral rates; every other attribute is in the structure. A fixed number
        replaces an earlier change's uncertain one (the structure holds it)."""
        refers = numbers.get("refers")
        k = refers.get("k") if isinstance(refers, Mapping) else refers
        for drawn, given in ((self.m.value, numbers.get("value")), (self.m.refers, k)):
            if isinstance(given, np.ndarray):
                drawn[name] = given
            elif given is not None:
                drawn.pop(name, None)


def _numbers(kind: str, raw: Mapping) -> dict:
    """The numbers of one change in the file's form (uncertain ones as arrays)."""
    body = raw[kind]
    if kind == "set":
        return {"p": _number(body["p"])}
    if kind == "scale":
        return {"by": _number(body["by"])}
    if kind == "entry":
        return {"entry": {k: _number(v) for k, v in body.items()}}
    if kind == "add":
        return {"from": {k: _number(v["p"] if isinstance(v, Mapping) else v) for k, v in raw.get("from", {}).items()},
                "to": {k: _number(v) for k, v in raw.get("to", {}).items()},
                "value": raw.get("value"), "refers": raw.get("refers")}
    if kind == "touchpoint":
        return {"value": body.get("value"), "refers": body.get("refers")}
    return {}


def _number(x) -> Number:
    return x if isinstance(x, np.ndarray) else float(x)


def apply_drawn(hyp, baseline: DrawnMaps, values: Mapping[str, np.ndarray],
                structure: Journey | None = None) -> DrawnMaps | None:
    """The variant of every draw: ``hyp``'s changes with its uncertain numbers at ``values`` (path -> draws),
    replayed on ``baseline``; ``None`` when the arrays cannot follow an uncertain number or a draw is refused.
    ``structure`` is the variant of ``baseline.structure`` at the central values, if the caller has it."""
    if not all(followed(path) for path in values):
        return None
    structure = hyp.variant(None, baseline.structure) if structure is None else structure
    maps = baseline.copy()
    maps.structure = structure
    replay = _Replay(maps)
    for change, raw in zip(hyp.changes(), hyp.filled(values)):
        kind = next(k for k in ("add", "set", "scale", "remove", "entry", "touchpoint") if k in raw)
        replay.apply(change, _numbers(kind, raw))
    for rows in [maps.rows, *(rows for rows, _ in maps.segments.values())]:
        for row in rows.values():
            total = _sum(row.values())
            replay.refuse(total > 1 + _TOLERANCE)
            for p in row.values():
                replay.refuse((p < 0) | (p > 1 + _TOLERANCE))
    if np.any(maps.bad):
        return None
    return maps
