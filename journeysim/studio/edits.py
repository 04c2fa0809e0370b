"""From a baseline map and its edited copy to a hypothesis whose variant is exactly the edited map.

The studio edits a map as a map editor does: an edge changes alone and drop-off takes
the difference. The hypothesis says the same with the existing change kinds:

1. ``remove`` for every touchpoint gone, ``add`` (with its attributes) for every new one;
2. ``touchpoint`` for changed attributes of the others;
3. ``entry`` listing the changed entry shares (the unchanged ones keep theirs);
4. ``set ... balance: exit`` for every changed edge, row by row, decreases first so that
   no row passes 1 on the way;
5. the same per segment, for what its own rows (and entry) still differ by.

The changes are then applied to the baseline and the result compared with the edited
map: an edit the format cannot say (an edge's own delay, a segment's share) is refused
with what it is, never written as something else. Every number that was edited is
listed, so that the user may give it as a range or a distribution instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from journeysim.errors import ScenarioError, excerpt
from journeysim.journey import Edge, Journey
from journeysim.maps.read import read_journey
from journeysim.whatif.hypothesis import METRICS, read_hypothesis

__all__ = ["EditedNumber", "HypothesisDraft", "draft_hypothesis"]

_SAME = 1e-12
#: Defaults a removed attribute returns to; other attributes cannot be removed by a hypothesis.
_DEFAULTS = {"goal": False, "value": 0, "refers": 0, "delay": 0}


@dataclass(frozen=True)
class EditedNumber:
    """A number the edits changed: where it is in the map and in the hypothesis's changes."""

    path: tuple[str, ...]
    label: str
    before: float | None
    after: float
    change: int
    key: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"path": list(self.path), "label": self.label, "before": self.before, "after": self.after,
                "change": self.change, "key": list(self.key)}


@dataclass(frozen=True)
class HypothesisDraft:
    """The hypothesis document and the edited numbers it holds."""

    data: dict[str, Any]
    numbers: tuple[EditedNumber, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"hypothesis": self.data, "numbers": [n.to_dict() for n in self.numbers]}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _attributes(raw: Any) -> dict[str, Any]:
    return dict(raw) if isinstance(raw, Mapping) else {}


class _Draft:
    def __init__(self, baseline: Journey, source: str):
        self.baseline = baseline
        self.source = source
        self.changes: list[dict[str, Any]] = []
        self.numbers: list[EditedNumber] = []
        #: The entry shares each ``entry`` change starts from, by the change's index.
        self.entries: dict[int, dict[str, float]] = {}

    def add(self, change: dict[str, Any]) -> int:
        self.changes.append(change)
        return len(self.changes) - 1

    def note(self, path, label, before, after, index, key) -> None:
        if _number(after):
            self.numbers.append(EditedNumber(tuple(path), label, before, float(after), index, tuple(key)))
        elif isinstance(after, Mapping) and key[-1] == "delay":
            for part in ("mean", "sd"):
                old = before.get(part) if isinstance(before, Mapping) else None
                if _number(after.get(part)) and not (_number(old) and old == after[part]):
                    self.note((*path, part), f"{label} {part}", old, after[part], index, (*key, part))

    def attributes(self, name: str, attrs: Mapping, before: Mapping, index: int, key: tuple) -> None:
        for attr in ("value", "refers", "delay"):
            if attr in attrs:
                old = before.get(attr)
                old = old if _number(old) or attr == "delay" else None
                self.note(("touchpoints", name, attr), f"{name}: {attr}", old, attrs[attr], index, (*key, attr))

    def current(self) -> Journey:
        if not self.changes:
            return self.baseline
        return read_hypothesis({"hypothesis": "draft", "changes": self.changes}, self.source,
                               baseline=self.baseline).variant()

    def rows(self, old: Mapping[str, Mapping[str, Edge]], new: Mapping[str, Mapping[str, Edge]], names,
             segment: str | None, original: Mapping[str, Mapping[str, Edge]]) -> None:
        """Set every edge where ``old`` (the rows so far) differs from ``new``; list those the user edited
        (``original`` differs from ``new``), not those a shared change only put back."""
        prefix = () if segment is None else ("segments", segment)
        where = "" if segment is None else f"segment {excerpt(segment)}: "
        for a in names:
            before, after = old.get(a, {}), new.get(a, {})
            moves = []
            for b in dict.fromkeys([*after, *before]):
                p0 = before[b].p if b in before else 0.0
                p1 = after[b].p if b in after else 0.0
                if abs(p1 - p0) > _SAME:
                    moves.append((p1 - p0, b, p0, p1))
            # Decreases first: the row never passes 1 on its way to the edited one.
            for _, b, p0, p1 in sorted(moves, key=lambda m: m[0] > 0):
                change: dict[str, Any] = {"set": {"from": a, "to": b, "p": p1, "balance": "exit"}}
                if segment is not None:
                    change["segment"] = segment
                index = self.add(change)
                first = original.get(a, {}).get(b)
                first = first.p if first is not None else 0.0
                if abs(first - p1) > _SAME:
                    self.note((*prefix, "transitions", a, b), f"{where}{a} → {b}", first, p1, index, ("set", "p"))

    def entry(self, old: Mapping[str, float], new: Mapping[str, float], segment: str | None,
              original: Mapping[str, float]) -> None:
        changed = {n: new.get(n, 0.0) for n in dict.fromkeys([*new, *old])
                   if abs(new.get(n, 0.0) - old.get(n, 0.0)) > _SAME}
        if not changed:
            return
        change: dict[str, Any] = {"entry": changed}
        if segment is not None:
            change["segment"] = segment
        index = self.add(change)
        self.entries[index] = dict(old)
        prefix = () if segment is None else ("segments", segment)
        where = "entry" if segment is None else f"segment {excerpt(segment)}: entry"
        for n, share in changed.items():
            if abs(original.get(n, 0.0) - share) > _SAME:
                self.note((*prefix, "entry", n), f"{where}: {n}", original.get(n, 0.0), share, index, ("entry", n))


def _close(a: Mapping[str, float], b: Mapping[str, float], tol: float) -> bool:
    keys = {k for k, v in a.items() if v > _SAME} | {k for k, v in b.items() if v > _SAME}
    return all(abs(a.get(k, 0.0) - b.get(k, 0.0)) <= tol for k in keys)


def _differences(got: Journey, want: Journey) -> list[str]:
    """What the hypothesis's variant still differs by from the edited map, in words."""
    out = []
    if set(got.names) != set(want.names):
        return [f"touchpoints {sorted(set(got.names) ^ set(want.names))}"]
    for name in want.names:
        g, w = got.touchpoints[name], want.touchpoints[name]
        for attr in ("stage", "channel", "goal", "value", "refers", "delay", "service"):
            if getattr(g, attr) != getattr(w, attr) and not (attr == "delay" and g.mean_delay == w.mean_delay == 0):
                out.append(f"touchpoint {excerpt(name)}: {attr} (a hypothesis cannot remove it)")
        if dict(g.extra) != dict(w.extra):
            out.append(f"touchpoint {excerpt(name)}: {', '.join(sorted(set(g.extra) ^ set(w.extra)) or g.extra)}")
    if {n: s.share for n, s in got.segments.items()} != {n: s.share for n, s in want.segments.items()}:
        return [*out, "segments or their shares (a hypothesis cannot change them)"]
    for (segment, _, g), (_, _, w) in zip(got.segment_journeys(), want.segment_journeys()):
        where = "" if segment is None else f"segment {excerpt(segment)}: "
        if not _close(g.entry, w.entry, 1e-6):
            out.append(f"{where}entry shares")
        for a in want.names:
            grow, wrow = g.rows.get(a, {}), w.rows.get(a, {})
            if not _close({b: e.p for b, e in grow.items()}, {b: e.p for b, e in wrow.items()}, 1e-9):
                out.append(f"{where}touchpoint {excerpt(a)}: transitions")
            for b, edge in wrow.items():
                if b in grow and (grow[b].delay != edge.delay or dict(grow[b].extra) != dict(edge.extra)):
                    out.append(f"{where}edge {excerpt(a)} -> {excerpt(b)}: its own delay or attributes (a hypothesis sets "
                               "only an edge's probability; save the map instead)")
    return list(dict.fromkeys(out))


def _put(change: dict, key: tuple, spec: Any) -> None:
    target = change
    for part in key[:-1]:
        target = target[part]
    if key[-1] == "delay" and _number(target[key[-1]]):
        spec = {"dist": "exponential", "mean": spec}     # a bare delay is an exponential's mean
    target[key[-1]] = spec


def _let_the_rest_rescale(shares: dict, before: Mapping[str, float], numbers, index: int) -> None:
    """With a range on some entry shares, the edited points of the others are left out when rescaling the rest
    in proportion gives them anyway (the studio's entry slider rescales the others so): listed, they would
    make every draw sum to other than 1."""
    uncertain = [k for k, v in shares.items() if not _number(v)]
    if not uncertain:
        return
    point = {n.key[1]: n.after for n in numbers if n.change == index}
    listed = sum(point.get(k, 0.0) for k in uncertain)
    rest = {k: v for k, v in before.items() if k not in uncertain}
    total = sum(rest.values())
    certain = [k for k in shares if k not in uncertain]
    if total > 0 and all(k in rest and abs(rest[k] * (1 - listed) / total - shares[k]) <= 1e-9 for k in certain):
        for k in certain:
            del shares[k]


def draft_hypothesis(baseline: Mapping, edited: Mapping, *, source: str, baseline_ref: str, title: str,
                     metric: str = "conversion_rate",
                     uncertain: Mapping[tuple[str, ...], Any] | None = None) -> HypothesisDraft:
    """The hypothesis (file form) whose changes turn ``baseline`` into ``edited``; both are maps in file form.

    ``source`` names the hypothesis (for messages), ``baseline_ref`` is written as its
    ``baseline:``. ``uncertain`` maps the path of an edited number in the map (e.g.
    ``("transitions", "cart", "purchase")``) to a range or distribution written in its place.

    Examples
    --------
    >>> base = {"entry": {"cart": 1}, "touchpoints": {"cart": {}, "page": {}, "buy": {"goal": True}},
    ...         "transitions": {"cart": {"buy": 0.6, "page": 0.1}}}
    >>> edited = {**base, "transitions": {"cart": {"buy": 0.7, "page": 0.1}}}
    >>> d = draft_hypothesis(base, edited, source="h.yaml", baseline_ref="shop.yaml", title="Checkout",
    ...                      uncertain={("transitions", "cart", "buy"): [0.65, 0.75]})
    >>> d.data["changes"]
    [{'set': {'from': 'cart', 'to': 'buy', 'p': [0.65, 0.75], 'balance': 'exit'}}]
    >>> [(n.label, n.before, n.after) for n in d.numbers]
    [('cart → buy', 0.6, 0.7)]
    """
    if metric not in METRICS:
        raise ScenarioError(f"{source}: metric {excerpt(metric)} is not one of {', '.join(METRICS)}")
    if not isinstance(title, str) or not title.strip() or "\n" in title:
        raise ScenarioError(f"{source}: the hypothesis needs a one-line title saying what the change is")
    base = read_journey(baseline, baseline_ref)
    new = read_journey(edited, source)
    draft = _Draft(base, source)
    old_tps, new_tps = baseline.get("touchpoints", {}), edited.get("touchpoints", {})
    for name in base.names:
        if name not in new.touchpoints:
            draft.add({"remove": name})
    for name in new.names:
        if name not in base.touchpoints:
            attrs = _attributes(new_tps.get(name))
            draft.attributes(name, attrs, {}, draft.add({"add": name, **attrs}), ())
    for name in new.names:
        if name in base.touchpoints:
            before, after = _attributes(old_tps.get(name)), _attributes(new_tps.get(name))
            changed = {k: v for k, v in after.items() if k not in before or _differ(before[k], v)}
            changed.update({k: _DEFAULTS[k] for k in before if k not in after and k in _DEFAULTS})
            if changed:
                index = draft.add({"touchpoint": {"name": name, **changed}})
                draft.attributes(name, changed, before, index, ("touchpoint",))
    kept = {n: s for n, s in base.entry.items() if n in new.touchpoints}
    draft.entry(kept, new.entry, None, kept)
    current = draft.current()
    draft.rows(current.rows, new.rows, new.names, None, base.rows)
    current = draft.current()
    for segment in new.segments:
        if segment not in current.segments:
            raise ScenarioError(f"{source}: segment {excerpt(segment)} is new: a hypothesis cannot add segments")
        got, want, first = current.for_segment(segment), new.for_segment(segment), base.for_segment(segment)
        draft.rows(got.rows, want.rows, new.names, segment, first.rows)
        draft.entry(got.entry, want.entry, segment, first.entry)
    problems = _differences(draft.current(), new)
    if problems:
        raise ScenarioError(f"{source}: these edits cannot be written as a hypothesis: {'; '.join(problems)}")
    if not draft.changes:
        raise ScenarioError(f"{source}: no edits: the map is the same as its baseline")
    for path, spec in (uncertain or {}).items():
        number = next((n for n in draft.numbers if n.path == tuple(path)), None)
        if number is None:
            raise ScenarioError(f"{source}: {excerpt('/'.join(map(str, path)))} is not a number the edits changed")
        _put(draft.changes[number.change], number.key, spec)
    for index, before in draft.entries.items():
        _let_the_rest_rescale(draft.changes[index]["entry"], before, draft.numbers, index)
    data = {"hypothesis": title.strip(), "baseline": baseline_ref, "metric": metric, "changes": draft.changes}
    read_hypothesis(data, source, baseline=base)        # ranges that push a row over 1 are refused here
    return HypothesisDraft(data, tuple(draft.numbers))


def _differ(a: Any, b: Any) -> bool:
    """An attribute edited: any change of a number counts (value 0 to 1e-300 too), ``1`` and ``1.0`` are one."""
    if _number(a) and _number(b):
        return a != b
    return a != b or type(a) is not type(b)
