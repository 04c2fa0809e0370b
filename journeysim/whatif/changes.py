"""Change operations of a hypothesis: each a pure ``Journey -> Journey`` with fixed numbers.

A row's outcomes include drop-off (``exit``). When a change sets one outcome, the
row's other outcomes (exit included) rescale in proportion so that the row still
sums to 1; when the changed outcome held the whole row, the freed share goes to exit.
``take_from`` narrows that to some outcomes: ``"exit"`` (the share is taken from the
drop-off alone) or a list of outcomes (from those, in proportion); ``"all"`` is the
default above.

* ``add``: a new touchpoint; ``sources`` ``{a: p}`` send share ``p`` of the customers
  leaving ``a`` to it (``a``'s other outcomes, or its ``take_from[a]``, shrink in
  proportion); ``targets`` is its own row (the rest is exit).
* ``set`` / ``scale``: one outcome of a row set to ``p`` / multiplied by ``by``; ``set``
  may say what it takes the share from. A ``set`` with ``balance: exit`` (the same as
  ``take_from: exit``) changes that edge alone: drop-off gives (or takes) the difference
  and the row's other outcomes keep their probabilities, as when a map is edited by hand.
* ``remove``: the touchpoint goes; what flowed into it drops off, and its entry share
  (and its share of any ``refers`` entry) is lost: entry shares are **not** renormalised, so
  per-customer metrics stay per original new customer and conversion falls by what that
  share would have brought.
* ``entry``: the listed shares are set; unlisted entry touchpoints rescale in
  proportion to fill the rest.
* ``touchpoint``: any attribute of the map format (``delay``, ``value``, ``goal``...).

A change with a ``segment`` acts on that segment's rows (and entry) only; touchpoint
attributes are shared by every segment, so ``touchpoint`` takes no segment. A change
without a segment also applies to every segment's own version of the rows it touches.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from journeysim.errors import ScenarioError, did_you_mean, excerpt
from journeysim.journey import EXIT, Edge, Journey, Segment, Touchpoint
from journeysim.maps import schema
from journeysim.maps.values import referral_problems

__all__ = [
    "ChangeError",
    "AddTouchpoint",
    "SetEdge",
    "ScaleEdge",
    "RemoveTouchpoint",
    "SetEntry",
    "SetTouchpoint",
    "Change",
    "apply_changes",
    "set_outcome",
    "set_against_exit",
    "touchpoint_attributes",
    "BALANCES",
    "TakeFrom",
    "ALL",
    "KIND",
]

_TOLERANCE = 1e-9
#: What a ``set`` takes its change from: the row's other outcomes in proportion, or drop-off alone.
BALANCES = ("proportional", "exit")
#: ``take_from`` of a change that takes its share from every other outcome of the row, exit included.
ALL = "all"
#: What a change takes its share from: :data:`ALL`, one outcome's name (``"exit"``) or several, in proportion.
TakeFrom = str | tuple[str, ...]


class ChangeError(ValueError):
    """A change that cannot be applied; :func:`apply_changes` adds the file and change index."""


def _known(journey: Journey, name: str, allow_exit: bool = False) -> None:
    if allow_exit and name == EXIT:
        return
    if name not in journey.touchpoints:
        raise ChangeError(f"unknown touchpoint {excerpt(name)}{did_you_mean(name, journey.names)}")


def _probability(p: float, what: str) -> None:
    if not (math.isfinite(p) and -_TOLERANCE <= p <= 1 + _TOLERANCE):
        raise ChangeError(f"{what}: probability {p:.6g} is outside [0, 1]")


def _outcome(row: Mapping[str, Edge], name: str) -> float:
    """The probability of ``name`` in ``row`` (exit is what the listed outcomes leave)."""
    if name in row:
        return row[name].p
    return 1.0 - math.fsum(e.p for e in row.values()) if name == EXIT else 0.0


def _take_from(take_from: TakeFrom) -> tuple[str, ...] | None:
    """The outcomes ``take_from`` names (``None``: all of them)."""
    if take_from == ALL:
        return None
    return (take_from,) if isinstance(take_from, str) else tuple(take_from)


def set_outcome(row: Mapping[str, Edge], target: str, p: float, where: str,
                take_from: TakeFrom = ALL) -> dict[str, Edge]:
    """Row with ``target``'s probability set to ``p``, the change made up by the other outcomes.

    With ``take_from="all"`` every other outcome (exit included) rescales by
    ``(1 - p) / (1 - old)``. With ``take_from`` naming outcomes, only those change,
    by a common factor, so that together they give (or take back) ``p - old``; a
    share larger than they hold is refused. Outcomes that hold nothing take back a
    freed share in equal parts.

    Examples
    --------
    >>> row = {"purchase": Edge(0.6), "product page": Edge(0.1)}         # exit 0.3
    >>> {k: round(e.p, 6) for k, e in set_outcome(row, "purchase", 0.65, "cart").items()}
    {'purchase': 0.65, 'product page': 0.0875}
    >>> {k: round(e.p, 6) for k, e in set_outcome(row, "chat", 0.15, "cart", take_from="exit").items()}
    {'purchase': 0.6, 'product page': 0.1, 'chat': 0.15}
    >>> {k: round(e.p, 6) for k, e in set_outcome(row, "chat", 0.15, "cart", ("exit", "product page")).items()}
    {'purchase': 0.6, 'product page': 0.0625, 'chat': 0.15}
    >>> set_outcome(row, "chat", 0.35, "from 'cart'", take_from="exit")
    Traceback (most recent call last):
    ...
    journeysim.whatif.changes.ChangeError: from 'cart': edge to 'chat': 0.35 is taken from exit, which holds only 0.3
    """
    _probability(p, f"{where}: edge to {excerpt(target)}")
    p = min(max(p, 0.0), 1.0)
    old = min(max(_outcome(row, target), 0.0), 1.0)
    names = _take_from(take_from)
    if names is None:
        rest = 1.0 - old
        if rest <= _TOLERANCE and target == EXIT and p < old - _TOLERANCE:
            # Every customer leaves here: lowering drop-off frees a share, and only edges of the row can take it
            # (in equal parts, as take_from does with outcomes that hold nothing); a row of exit alone cannot.
            others = [b for b in row if b != EXIT]
            if not others:
                raise ChangeError(f"{where}: edge to exit: lowering it from {old:.6g} to {p:.6g} frees "
                                  f"{old - p:.6g}, but the row has no other outcome to take it (add an edge first)")
            return {b: Edge((1.0 - p) / len(others), e.delay, e.extra) for b, e in row.items() if b != EXIT}
        factor = (1.0 - p) / rest if rest > _TOLERANCE else 0.0
        out = {b: Edge(p if b == target else e.p * factor, e.delay, e.extra) for b, e in row.items()}
    else:
        held = math.fsum(max(_outcome(row, b), 0.0) for b in names)
        change = p - old
        if change > held + _TOLERANCE:
            what = f"raising it from {old:.6g} to {p:.6g} takes {change:.6g}" if old > 0 else f"{p:.6g} is taken"
            raise ChangeError(f"{where}: edge to {excerpt(target)}: {what} from {', '.join(names)}, which "
                              f"hold{'s' if len(names) == 1 else ''} only {held:.6g}")
        out = dict(row)
        out[target] = Edge(p, row[target].delay, row[target].extra) if target in row else Edge(p)
        for b in names:
            if b == EXIT:
                continue      # exit is what the row leaves
            e = row.get(b, Edge(0.0))
            new = e.p * (held - change) / held if held > _TOLERANCE else -change / len(names)
            out[b] = Edge(max(new, 0.0), e.delay, e.extra)
    if target != EXIT and target not in out:
        out[target] = Edge(p)
    if target == EXIT:
        out.pop(EXIT, None)
    return out


def set_against_exit(row: Mapping[str, Edge], target: str, p: float, where: str) -> dict[str, Edge]:
    """Row with ``target``'s probability set to ``p`` and every other edge kept: exit takes the difference.

    Examples
    --------
    >>> row = {"purchase": Edge(0.6), "product page": Edge(0.1)}         # exit 0.3
    >>> {k: e.p for k, e in set_against_exit(row, "purchase", 0.7, "from 'cart'").items()}
    {'purchase': 0.7, 'product page': 0.1}
    >>> set_against_exit(row, "purchase", 0.95, "from 'cart'")
    Traceback (most recent call last):
    ...
    journeysim.whatif.changes.ChangeError: from 'cart': transitions sum to 1.05 (must be at most 1; balance: exit takes the change from drop-off alone)
    """
    _probability(p, f"{where}: edge to {excerpt(target)}")
    p = min(max(p, 0.0), 1.0)
    old = row.get(target)
    out = {**row, target: Edge(p) if old is None else Edge(p, old.delay, old.extra)}
    total = math.fsum(e.p for e in out.values())
    if total > 1.0 + _TOLERANCE:
        raise ChangeError(f"{where}: transitions sum to {total:.6g} (must be at most 1; balance: exit takes the change "
                          "from drop-off alone)")
    return out
def _check_take_from(journey: Journey, take_from: TakeFrom, target: str) -> None:
    names = _take_from(take_from)
    if names is None:
        return
    if not names:
        raise ChangeError("take_from lists no outcome (use 'all', 'exit' or a list of outcomes)")
    for name in names:
        if not isinstance(name, str):
            raise ChangeError(f"take_from: {excerpt(name)} is not an outcome's name")
        if name != EXIT and name not in journey.touchpoints:
            raise ChangeError(f"take_from: unknown outcome {excerpt(name)}{did_you_mean(name, (*journey.names, EXIT))}")
        if name == target:
            raise ChangeError(f"take_from: {excerpt(name)} is the outcome being set (name the outcomes that give it its share)")
    if len(set(names)) < len(names):
        raise ChangeError(f"take_from names an outcome twice ({', '.join(names)})")


def _rows_with(journey: Journey, source: str, segment: str | None, edit) -> Journey:
    """Apply ``edit(row) -> row`` to ``source``'s row: everywhere, or in one segment."""
    if segment is not None:
        seg = journey.segments[segment]
        row = seg.rows.get(source, journey.rows.get(source, {}))
        seg_rows = {**seg.rows, source: edit(row)}
        segments = {**journey.segments, segment: Segment(seg.name, seg.share, seg_rows, seg.entry)}
        return journey.replace(segments=segments)
    rows = {**journey.rows, source: edit(journey.rows.get(source, {}))}
    segments = {
        name: Segment(s.name, s.share, {**s.rows, source: edit(s.rows[source])}, s.entry) if source in s.rows else s
        for name, s in journey.segments.items()
    }
    return journey.replace(rows=rows, segments=segments)


def _check_segment(journey: Journey, segment: str | None) -> None:
    if segment is not None and segment not in journey.segments:
        known = tuple(journey.segments)
        raise ChangeError(f"unknown segment {excerpt(segment)}{did_you_mean(segment, known)}"
                          + (f" (segments: {', '.join(known)})" if known else " (the map has no segments)"))


def _check_edge(journey: Journey, source: str, target: str, segment: str | None) -> None:
    """The edge ``source -> target`` (``target`` may be ``exit``) can be changed in ``segment``."""
    _check_segment(journey, segment)
    _known(journey, source)
    _known(journey, target, allow_exit=True)


def touchpoint_attributes(journey: Journey, attributes: Mapping[str, Any], base: Touchpoint) -> Touchpoint:
    """``base`` with map-format attributes (raw values, parsed by :mod:`journeysim.maps.schema`) replaced.

    Examples
    --------
    >>> j = Journey.from_rows({"cart": 1.0}, {}, goals=["cart"])
    >>> touchpoint_attributes(j, {"delay": 2, "channel": "web"}, j.touchpoints["cart"]).delay
    Delay(dist='exponential', mean=2.0, sd=None)
    """
    fields: dict[str, Any] = {}
    extra = dict(base.extra)
    for key, raw in attributes.items():
        attribute = schema.TOUCHPOINT_ATTRIBUTES.get(key)
        if attribute is None:
            known = schema.TOUCHPOINT_ATTRIBUTES
            raise ChangeError(f"unknown attribute {excerpt(key)}{did_you_mean(key, known)} (allowed: {', '.join(known)})")
        try:
            value = attribute.parse(raw)
        except schema.Invalid as exc:
            raise ChangeError(f"{key}: {exc}") from None
        if key in schema.TOUCHPOINT_FIELDS:
            fields.update(schema.touchpoint_fields(key, value))
        else:
            extra[key] = value
    stage = fields.get("stage")
    if stage is not None and journey.stages and stage not in journey.stages:
        raise ChangeError(f"unknown stage {excerpt(stage)}{did_you_mean(stage, journey.stages)} (stages: {', '.join(journey.stages)})")
    if "refers" in fields:
        names = (*journey.names, *([] if base.name in journey.touchpoints else [base.name]))
        problems = referral_problems(fields["refer_entry"], fields["refer_segment"], names, tuple(journey.segments))
        if problems:
            raise ChangeError(f"refers: {problems[0]}")
    if fields.get("service", base.service) is not None and extra.get("capacity") is None:
        raise ChangeError("service: needs 'capacity' (it is the time a server holds the customer; without servers, "
                          "change 'delay' instead)")
    return dataclasses.replace(base, **fields, extra=extra)


@dataclass(frozen=True)
class AddTouchpoint:
    """Add ``name`` with ``attributes``; ``sources`` ``{a: p}`` feed it, ``targets`` is its row.

    ``take_from`` ``{a: outcomes}`` says what source ``a``'s share is taken from:
    ``"exit"``, a tuple of outcomes (in proportion) or ``"all"`` (the default: every
    other outcome of ``a``'s row, in proportion).

    Examples
    --------
    >>> j = Journey.from_rows({"cart": 1.0}, {"cart": {"buy": 0.6}}, goals=["buy"])
    >>> k = AddTouchpoint("chat", {"stage": "purchase"}, {"cart": 0.15}, {"buy": 0.5}).apply(j)
    >>> {b: round(e.p, 4) for b, e in k.rows["cart"].items()}, round(k.exit_probability("cart"), 4)
    ({'buy': 0.51, 'chat': 0.15}, 0.34)
    >>> k = AddTouchpoint("chat", {}, {"cart": 0.15}, {"buy": 0.5}, take_from={"cart": "exit"}).apply(j)
    >>> {b: round(e.p, 4) for b, e in k.rows["cart"].items()}, round(k.exit_probability("cart"), 4)
    ({'buy': 0.6, 'chat': 0.15}, 0.25)
    """

    name: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, float] = field(default_factory=dict)
    targets: Mapping[str, float] = field(default_factory=dict)
    segment: str | None = None
    take_from: Mapping[str, TakeFrom] = field(default_factory=dict)

    def apply(self, journey: Journey) -> Journey:
        _check_segment(journey, self.segment)
        if not isinstance(self.name, str) or not self.name.strip() or self.name == EXIT:
            raise ChangeError(f"a new touchpoint needs a name that is non-empty text other than 'exit', not {excerpt(self.name)}")
        if self.name in journey.touchpoints:
            raise ChangeError(f"touchpoint {excerpt(self.name)} already exists (use 'touchpoint' or 'set' to change it)")
        tp = touchpoint_attributes(journey, self.attributes, Touchpoint(self.name))
        journey = journey.replace(touchpoints={**journey.touchpoints, self.name: tp})
        row: dict[str, Edge] = {}
        for target, p in self.targets.items():
            _known(journey, target, allow_exit=True)
            _probability(p, f"to {excerpt(target)}")
            if target != EXIT:
                row[target] = Edge(p)
        total = math.fsum(self.targets.values())
        if total > 1 + _TOLERANCE:
            raise ChangeError(f"touchpoint {excerpt(self.name)}: 'to' sums to {total:.6g} (must be at most 1)")
        journey = journey.replace(rows={**journey.rows, self.name: row})
        for name in self.take_from:
            if name not in self.sources:
                raise ChangeError(f"take_from names {excerpt(name)}, which is not in 'from'")
        for source, p in self.sources.items():
            _known(journey, source)
            take = self.take_from.get(source, ALL)
            try:
                _check_take_from(journey, take, self.name)
            except ChangeError as exc:
                raise ChangeError(f"from {excerpt(source)}: {exc}") from None
            journey = _rows_with(journey, source, self.segment,
                                 lambda r, s=source, q=p, t=take: set_outcome(r, self.name, q, f"from {excerpt(s)}", t))
        return journey


@dataclass(frozen=True)
class SetEdge:
    """Set the probability of ``source -> target`` (``target`` may be ``exit``) to ``p``.

    With ``balance="proportional"`` (the default) the row's other outcomes, exit included,
    rescale in proportion; with ``balance="exit"`` they stay and drop-off takes the difference.
    ``take_from`` says more generally which outcomes make up the change: ``"all"`` (the
    default: every other outcome, in proportion), ``"exit"`` (what ``balance="exit"`` does)
    or a tuple of outcomes (in proportion).

    Examples
    --------
    >>> j = Journey.from_rows({"cart": 1.0}, {"cart": {"buy": 0.6, "page": 0.1}}, goals=["buy"])
    >>> k = SetEdge("cart", "exit", 0.1).apply(j)
    >>> {b: round(e.p, 4) for b, e in k.rows["cart"].items()}
    {'buy': 0.7714, 'page': 0.1286}
    >>> {b: e.p for b, e in SetEdge("cart", "buy", 0.7, balance="exit").apply(j).rows["cart"].items()}
    {'buy': 0.7, 'page': 0.1}
    >>> k = SetEdge("cart", "buy", 0.65, take_from="exit").apply(j)
    >>> {b: round(e.p, 4) for b, e in k.rows["cart"].items()}, round(k.exit_probability("cart"), 4)
    ({'buy': 0.65, 'page': 0.1}, 0.25)
    """

    source: str
    target: str
    p: float
    segment: str | None = None
    balance: str = "proportional"
    take_from: TakeFrom = ALL

    def apply(self, journey: Journey) -> Journey:
        _check_edge(journey, self.source, self.target, self.segment)
        if self.balance not in BALANCES:
            raise ChangeError(f"balance {excerpt(self.balance)}{did_you_mean(self.balance, BALANCES)} is not one of "
                              f"{', '.join(BALANCES)}")
        if self.balance == "exit":
            if self.take_from != ALL:
                raise ChangeError("give balance: exit or take_from, not both (balance: exit is take_from: exit)")
            if self.target == EXIT:
                raise ChangeError("balance: exit takes the change from drop-off, so 'to' cannot be exit itself")
            edit = lambda r: set_against_exit(r, self.target, self.p, f"from {excerpt(self.source)}")  # noqa: E731
        else:
            _check_take_from(journey, self.take_from, self.target)
            edit = lambda r: set_outcome(r, self.target, self.p, f"from {excerpt(self.source)}", self.take_from)  # noqa: E731
        return _rows_with(journey, self.source, self.segment, edit)


@dataclass(frozen=True)
class ScaleEdge:
    """Multiply the probability of ``source -> target`` by ``by``; the rest of the row rescales.

    Examples
    --------
    >>> j = Journey.from_rows({"cart": 1.0}, {"cart": {"buy": 0.6, "page": 0.1}}, goals=["buy"])
    >>> k = ScaleEdge("cart", "exit", 0.8).apply(j)                      # exit 0.3 -> 0.24
    >>> {b: round(e.p, 4) for b, e in k.rows["cart"].items()}
    {'buy': 0.6514, 'page': 0.1086}
    """

    source: str
    target: str
    by: float
    segment: str | None = None

    def apply(self, journey: Journey) -> Journey:
        _check_edge(journey, self.source, self.target, self.segment)
        if not (math.isfinite(self.by) and self.by >= 0):
            raise ChangeError(f"scale factor {self.by:.6g} must be a number >= 0")

        def edit(row):
            old = row[self.target].p if self.target in row else (
                1.0 - math.fsum(e.p for e in row.values()) if self.target == EXIT else 0.0)
            return set_outcome(row, self.target, max(old, 0.0) * self.by, f"from {excerpt(self.source)} (scaled by {self.by:g})")

        return _rows_with(journey, self.source, self.segment, edit)


@dataclass(frozen=True)
class RemoveTouchpoint:
    """Remove ``name``: what flowed into it drops off and its entry share is lost (not renormalised).

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 0.6, "post": 0.4}, {"ad": {"buy": 0.5}, "post": {"buy": 0.2}}, goals=["buy"])
    >>> k = RemoveTouchpoint("post").apply(j)
    >>> k.names, dict(k.entry)
    (('ad', 'buy'), {'ad': 0.6})
    """

    name: str
    segment: str | None = None

    def apply(self, journey: Journey) -> Journey:
        _check_segment(journey, self.segment)
        _known(journey, self.name)
        drop = lambda row: {b: e for b, e in row.items() if b != self.name}  # noqa: E731
        if self.segment is not None:
            seg = journey.segments[self.segment]
            rows = {**journey.rows, **seg.rows}
            seg_rows = {**seg.rows, **{a: drop(r) for a, r in rows.items() if self.name in r}}
            entry = drop(seg.entry if seg.entry is not None else journey.entry)
            segments = {**journey.segments, self.segment: Segment(seg.name, seg.share, seg_rows, entry)}
            return journey.replace(segments=segments)
        segments = {
            n: Segment(s.name, s.share, {a: drop(r) for a, r in s.rows.items() if a != self.name},
                       None if s.entry is None else drop(s.entry))
            for n, s in journey.segments.items()
        }
        # Referred customers who would have started at the removed touchpoint are lost, like its entry share.
        touchpoints = {n: dataclasses.replace(t, refer_entry=drop(t.refer_entry))
                       if t.refer_entry is not None and self.name in t.refer_entry else t
                       for n, t in drop(journey.touchpoints).items()}
        return journey.replace(
            touchpoints=touchpoints,
            rows={a: drop(r) for a, r in journey.rows.items() if a != self.name},
            entry=drop(journey.entry),
            segments=segments,
            observations=drop(journey.observations),
        )


@dataclass(frozen=True)
class SetEntry:
    """Set entry shares; unlisted entry touchpoints rescale in proportion to fill the rest.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 0.5, "post": 0.3, "mail": 0.2}, {}, goals=["ad"])
    >>> {k: round(v, 4) for k, v in SetEntry({"ad": 0.7}).apply(j).entry.items()}
    {'ad': 0.7, 'post': 0.18, 'mail': 0.12}
    """

    shares: Mapping[str, float]
    segment: str | None = None

    def apply(self, journey: Journey) -> Journey:
        _check_segment(journey, self.segment)
        seg = journey.segments.get(self.segment) if self.segment is not None else None
        current = dict(seg.entry if seg is not None and seg.entry is not None else journey.entry)
        for name, share in self.shares.items():
            _known(journey, name)
            _probability(share, f"entry share of {excerpt(name)}")
        listed = math.fsum(self.shares.values())
        if listed > 1 + _TOLERANCE:
            raise ChangeError(f"entry shares sum to {listed:.6g} (must be at most 1)")
        others = {n: s for n, s in current.items() if n not in self.shares}
        rest = math.fsum(others.values())
        if rest <= _TOLERANCE and listed < 1 - 1e-6:
            raise ChangeError(f"entry shares sum to {listed:.6g} and no other entry touchpoint takes the rest (must sum to 1)")
        factor = (1.0 - listed) / rest if rest > _TOLERANCE else 0.0
        entry = {n: s * factor for n, s in others.items()}
        entry = {n: self.shares.get(n, entry.get(n)) for n in [*current, *self.shares]}
        if seg is None:
            return journey.replace(entry=entry)
        segments = {**journey.segments, seg.name: Segment(seg.name, seg.share, seg.rows, entry)}
        return journey.replace(segments=segments)


@dataclass(frozen=True)
class SetTouchpoint:
    """Change attributes of touchpoint ``name`` (any attribute of the map format).

    Examples
    --------
    >>> j = Journey.from_rows({"cart": 1.0}, {"cart": {"buy": 0.6}}, goals=["buy"])
    >>> SetTouchpoint("buy", {"value": 45}).apply(j).touchpoints["buy"].value
    45.0
    """

    name: str
    attributes: Mapping[str, Any]
    segment: str | None = None

    def apply(self, journey: Journey) -> Journey:
        if self.segment is not None:
            raise ChangeError("touchpoint attributes are shared by every segment: 'touchpoint' takes no segment")
        _known(journey, self.name)
        tp = touchpoint_attributes(journey, self.attributes, journey.touchpoints[self.name])
        return journey.replace(touchpoints={**journey.touchpoints, self.name: tp})


Change = AddTouchpoint | SetEdge | ScaleEdge | RemoveTouchpoint | SetEntry | SetTouchpoint


def _check_result(journey: Journey) -> None:
    for seg_name, rows in [(None, journey.rows), *((s.name, s.rows) for s in journey.segments.values())]:
        where = f"segment {excerpt(seg_name)}: " if seg_name is not None else ""
        for a, row in rows.items():
            total = math.fsum(e.p for e in row.values())
            if total > 1 + _TOLERANCE or any(not 0 <= e.p <= 1 + _TOLERANCE for e in row.values()):
                raise ChangeError(f"{where}touchpoint {excerpt(a)}: transitions sum to {total:.6g} (must be at most 1)")


def apply_changes(journey: Journey, changes: Sequence[Change], source: str = "<hypothesis>") -> Journey:
    """Apply ``changes`` in order; a failure raises :class:`ScenarioError` naming file and change index.

    Parameters
    ----------
    journey : Journey
        The map to change (it is not modified: journeys are immutable).
    changes : sequence of Change
        :class:`AddTouchpoint`, :class:`SetEdge`, :class:`ScaleEdge`,
        :class:`RemoveTouchpoint`, :class:`SetEntry`, :class:`SetTouchpoint`, with fixed
        numbers (a hypothesis file's ranges go through :func:`~journeysim.whatif.prediction.predict`).
    source : str
        The name errors give the changes (a hypothesis file's path).

    Returns
    -------
    Journey
        The variant.

    Examples
    --------
    >>> j = Journey.from_rows({"cart": 1.0}, {"cart": {"buy": 0.6}}, goals=["buy"])
    >>> apply_changes(j, [SetEdge("cart", "buy", 0.7)]).rows["cart"]["buy"].p
    0.7
    >>> apply_changes(j, [SetEdge("cart", "buyy", 0.7)], "h.yaml")
    Traceback (most recent call last):
    ...
    journeysim.errors.ScenarioError: h.yaml: change 0 (set): unknown touchpoint 'buyy' (did you mean 'buy'?)
    """
    for index, change in enumerate(changes):
        try:
            journey = change.apply(journey)
        except ChangeError as exc:
            raise ScenarioError(f"{source}: change {index} ({KIND[type(change)]}): {exc}") from None
    try:
        # Each change keeps its rows valid by construction; this guards the result as a whole.
        _check_result(journey)
    except ChangeError as exc:
        raise ScenarioError(f"{source}: after the changes: {exc}") from None
    return journey


#: The hypothesis-file keyword of each change type.
KIND = {
    AddTouchpoint: "add",
    SetEdge: "set",
    ScaleEdge: "scale",
    RemoveTouchpoint: "remove",
    SetEntry: "entry",
    SetTouchpoint: "touchpoint",
}
