"""Read hypothesis files: a baseline map, a metric and a list of changes with uncertain numbers.

The file's form is documented in docs/predict.md. Every problem raises
:class:`~journeysim.errors.ScenarioError` whose message names the file, the change's index and what is wrong.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from journeysim._files import OWN_PROJECT, confinement, read_document, recording_reads, referenced_path
from journeysim.engines.metrics import SCALAR_METRICS
from journeysim.errors import ScenarioError, did_you_mean, excerpt
from journeysim.journey import Journey
from journeysim.maps import schema
from journeysim.maps.read import load_journey
from journeysim.whatif.changes import (
    ALL,
    BALANCES,
    AddTouchpoint,
    Change,
    RemoveTouchpoint,
    ScaleEdge,
    SetEdge,
    SetEntry,
    SetTouchpoint,
    TakeFrom,
    apply_changes,
)
from journeysim.whatif.guardrails import Guardrail, parse_guardrails
from journeysim.whatif.uncertain import (
    MAX_ROW_EXCESS,
    DirichletRow,
    Uncertain,
    UncertainRow,
    draw_parameters,
    format_path,
    is_dirichlet_spec,
    is_uncertain_spec,
    parse_dirichlet,
    parse_uncertain,
)

__all__ = ["Hypothesis", "load_hypothesis", "read_hypothesis", "METRICS"]

#: What a hypothesis may predict: every scalar metric of the engines.
METRICS = SCALAR_METRICS
_TOP_KEYS = ("hypothesis", "baseline", "metric", "changes", "guardrails", "notes")
_CHANGE_KEYS = {
    "add": ("add", "from", "to", "segment"),   # plus any touchpoint attribute
    "set": ("set", "segment"),
    "scale": ("scale", "segment"),
    "remove": ("remove", "segment"),
    "entry": ("entry", "segment"),
    "touchpoint": ("touchpoint", "segment"),
}
_EDGE_KEYS = {"set": ("from", "to", "p"), "scale": ("from", "to", "by")}
_OPTIONAL_EDGE_KEYS = {"set": ("balance", "take_from"), "scale": ()}
#: The keys of an add's ``from`` entry written as a mapping.
_SOURCE_KEYS = ("p", "take_from")
#: Keys whose mapping is not an uncertain number: a delay's ``{dist, mean, sd}`` and ``take_from``'s outcomes.
_NOT_UNCERTAIN = ("delay", "service", "take_from")
#: The largest share of a normal or lognormal's mass that may lie outside [0, 1] where a probability goes.
_MAX_OUTSIDE = 0.5


@dataclass(frozen=True)
class _Param:
    """Where an uncertain number sits in a change, until a draw gives its value."""

    path: str


@dataclass(frozen=True, eq=False)
class Hypothesis:
    """A parsed hypothesis: its baseline journey and its changes, some numbers uncertain.

    ``parameters`` maps the path of every uncertain number (e.g.
    ``changes[0].to.purchase``) to its :class:`~journeysim.whatif.uncertain.Uncertain`
    (a Dirichlet row's outcome to its marginal beta); ``rows`` are the rows with
    uncertain outcomes (drawn jointly, redrawn when they sum over 1) and ``joint`` the
    rows given whole as one Dirichlet distribution.
    """

    title: str
    source: str
    baseline_path: str
    baseline: Journey
    metric: str
    data: Mapping[str, Any]
    parameters: Mapping[str, Uncertain]
    _templates: tuple
    #: Every file read to build it (the hypothesis, its baseline map, files the map names) -> ``sha256:`` of the
    #: bytes read; empty for a hypothesis not read from a file.
    inputs: Mapping[str, str] = field(default_factory=dict)
    #: Metrics the change must not harm by more than a margin (see :mod:`journeysim.whatif.guardrails`).
    guardrails: tuple[Guardrail, ...] = ()
    rows: tuple[UncertainRow, ...] = ()
    joint: tuple[DirichletRow, ...] = ()

    @property
    def central(self) -> dict[str, float]:
        """Each uncertain number's central value: its median, or its mean in a Dirichlet row (so the row sums to 1)."""
        out = {path: u.median for path, u in self.parameters.items()}
        for row in self.joint:
            out.update(zip(row.members, row.mean))
        return out

    def filled(self, values: Mapping[str, Any] | None = None) -> list[dict]:
        """The changes in the file's form with every uncertain number set from ``values`` (path -> number, or
        an array of draws; central values by default)."""
        values = values or {}
        if any(path not in values for path in self.parameters):     # (the central values cost a ppf each)
            values = {**self.central, **values}
        return [_substitute(t, lambda p: values[p.path]) for t in self._templates]

    def changes(self, values: Mapping[str, float] | None = None) -> list[Change]:
        """The changes with every uncertain number set from ``values`` (path -> number; central values by default)."""
        return [_build(c, i, self.source) for i, c in enumerate(self.filled(values))]

    def draw(self, n: int, *, rng) -> tuple[dict, dict[str, int]]:
        """``n`` joint draws of the uncertain numbers (by path) and, per row, how many draws were redrawn
        because they pushed the row over 1 (see :func:`~journeysim.whatif.uncertain.draw_parameters`)."""
        return draw_parameters(self.parameters, n, rng=rng, rows=self.rows, joint=self.joint)

    def variant(self, values: Mapping[str, float] | None = None, baseline: Journey | None = None) -> Journey:
        """The edited journey (on ``baseline``, by default the hypothesis's own)."""
        return apply_changes(self.baseline if baseline is None else baseline, self.changes(values), self.source)


def load_hypothesis(path: str | os.PathLike, *, within: Any = OWN_PROJECT) -> Hypothesis:
    """Read and check a hypothesis file (its ``baseline`` is relative to the file, and must lie inside
    ``within``: by default the file's project, ``None`` for anywhere; see :func:`journeysim._files.confinement`).

    Parameters
    ----------
    path : str or os.PathLike
        A hypothesis file: ``baseline`` map, ``metric`` and ``changes`` (numbers may be
        ranges or distributions).

    Returns
    -------
    Hypothesis

    Examples
    --------
    >>> h = load_hypothesis("scenarios/hypotheses/live-chat.yaml")
    >>> h.metric, sorted(h.parameters)
    ('conversion_rate', ['changes[0].to.purchase', 'changes[1].scale.by'])
    """
    with recording_reads() as reads:
        data, problems = read_document(path)
        if problems:
            raise ScenarioError(problems)
        hyp = read_hypothesis(data, str(path), Path(path).parent, within=confinement(within, Path(path).parent))
    return replace(hyp, inputs=dict(reads))


def read_hypothesis(data: Any, source: str, base_dir: str | os.PathLike = ".", *,
                    baseline: Journey | None = None, within: Any = OWN_PROJECT) -> Hypothesis:
    """Check an already-parsed hypothesis (a dict in the file's form); ``baseline`` is relative to ``base_dir``
    and must lie inside ``within`` (as in :func:`load_hypothesis`).

    A ``baseline`` journey given here replaces the file's ``baseline:`` (which may then be left out).

    Examples
    --------
    >>> j = Journey.from_rows({"cart": 1.0}, {"cart": {"buy": 0.6}}, goals=["buy"])
    >>> h = read_hypothesis({"changes": [{"scale": {"from": "cart", "to": "buy", "by": [1, 1.2]}}]}, "h.yaml", baseline=j)
    >>> h.parameters["changes[0].scale.by"].support
    (1.0, 1.2)
    """
    if not isinstance(data, Mapping) or not any(isinstance(k, str) and k in _TOP_KEYS for k in data):
        # Not one of journeysim's files (a path in a prediction may name any file): show nothing of it.
        raise ScenarioError(f"{source}: not a hypothesis (a mapping with keys {', '.join(_TOP_KEYS)})")
    for key in data:
        if key not in _TOP_KEYS:
            raise ScenarioError(f"{source}: unknown key {excerpt(key)}{did_you_mean(key, _TOP_KEYS)} (allowed: {', '.join(_TOP_KEYS)})")
    title = data.get("hypothesis", Path(source).stem)
    if not isinstance(title, str) or not title.strip():
        raise ScenarioError(f"{source}: 'hypothesis' must be a one-line text describing the idea")
    metric = data.get("metric", "conversion_rate")
    if metric not in METRICS:
        raise ScenarioError(f"{source}: metric {excerpt(metric)}{did_you_mean(metric, METRICS)} is not one of {', '.join(METRICS)}")
    baseline_ref = data.get("baseline")
    if baseline is not None:
        baseline_path = "<journey>"
    elif not isinstance(baseline_ref, str) or not baseline_ref.strip():
        raise ScenarioError(f"{source}: 'baseline' must name the map file the changes apply to (relative to this file)")
    else:
        baseline_path = referenced_path(baseline_ref, base_dir, f"{source}: baseline", confinement(within, base_dir))
        baseline = load_journey(baseline_path, named_by=f"hypothesis {source} names baseline {baseline_ref}")
    if metric.startswith("discounted_") and "discount" not in baseline.extra:
        raise ScenarioError(f"{source}: metric {excerpt(metric)} needs a discount in the baseline map {baseline_path} "
                            "(add discount: {rate: 0.1, per: year})")
    raw_changes = data.get("changes")
    if not isinstance(raw_changes, list) or not raw_changes:
        raise ScenarioError(f"{source}: 'changes' must be a non-empty list of changes (add, set, scale, remove, entry, touchpoint)")
    reader = _Reader(source)
    templates = []
    for i, change in enumerate(raw_changes):
        kind = _check_kind(change, i, source)
        templates.append(reader.template(change, ("changes", i), f"{source}: change {i} ({kind})"))
    parameters = reader.parameters
    guardrails = parse_guardrails(data.get("guardrails"), source, METRICS)
    hyp = Hypothesis(title.strip(), source, baseline_path, baseline, metric, data, parameters, tuple(templates),
                     guardrails=guardrails, joint=tuple(reader.joint))
    # A row's outcomes are checked on their joint draws below, so here they stay at their central values.
    in_rows = {m for row in (*reader.rows, *reader.joint) for m in row.members}
    central = hyp.central
    for where, pick in (("", None), (" (every uncertain number at the low end of its range)", 0.001),
                        (" (every uncertain number at the high end of its range)", 0.999)):
        values = {} if pick is None else {p: central[p] if p in in_rows else _end(u, pick) for p, u in parameters.items()}
        try:
            hyp.variant(values)
        except ScenarioError as exc:
            raise ScenarioError(f"{exc}{where}") from None
    rows = []
    for row, where in zip(reader.rows, reader.row_where):
        row = row.with_excess(parameters)
        if row.excess > MAX_ROW_EXCESS:
            raise ScenarioError(f"{where}: {row.label} sums to more than 1 in {row.excess:.2%} of the joint draws of "
                                f"its uncertain outcomes (at most {MAX_ROW_EXCESS:.0%} may, and are redrawn): narrow "
                                "their distributions or lower its other outcomes")
        rows.append(row)
    return dataclasses.replace(hyp, rows=tuple(rows))


def _end(u: Uncertain, q: float) -> float:
    low, high = u.support
    bound = low if q < 0.5 else high
    return bound if abs(bound) != float("inf") else float(u.frozen.ppf(q))


def _is_probability(tail: tuple) -> bool:
    """Whether the number at ``tail`` (its path inside a change) is a probability."""
    return tail[0] in ("from", "to", "entry") or tail == ("set", "p")


class _Reader:
    """Turns changes into templates, collecting their uncertain numbers and the rows those share."""

    def __init__(self, source: str):
        self.source = source
        self.parameters: dict[str, Uncertain] = {}
        self.rows: list[UncertainRow] = []
        self.row_where: list[str] = []
        self.joint: list[DirichletRow] = []

    def template(self, change: Mapping, path: tuple, where: str) -> dict:
        """The change with each range or distribution replaced by a :class:`_Param` placeholder."""
        out = {}
        for key, value in change.items():
            if key in ("to", "entry") and isinstance(value, Mapping):
                out[key] = self._row(value, (*path, key), where, change)
            else:
                out[key] = self._value(value, (*path, key), key, where)
        return out

    def _row(self, value: Mapping, path: tuple, where: str, change: Mapping) -> Any:
        """A new touchpoint's row (``to`` of an add) or entry shares: a Dirichlet, or outcomes drawn jointly."""
        row_path = format_path(path)
        kind = "add" if "add" in change else "entry" if "entry" in change else None
        if is_dirichlet_spec(value):
            if kind is None:
                raise ScenarioError(f"{where}: {format_path(path[2:])}: a dirichlet distribution is a whole row: "
                                    "give it as the 'to' of an add or as an entry")
            try:
                row = parse_dirichlet(value, row_path)
            except ValueError as exc:
                raise ScenarioError(f"{where}: {format_path(path[2:])}: {exc}") from None
            self.joint.append(row)
            for i, member in enumerate(row.members):
                self.parameters[member] = row.marginal(i)
            return {o: _Param(m) for o, m in zip(row.outcomes, row.members)}
        template = self._value(value, path, path[-1], where)
        members = tuple(v.path for v in template.values() if isinstance(v, _Param)) if kind else ()
        if members:
            fixed = math.fsum(v for v in template.values() if isinstance(v, (int, float)) and not isinstance(v, bool))
            label = f"the row of {excerpt(change['add'])}" if kind == "add" else "the entry row"
            self.rows.append(UncertainRow(row_path, label, members, fixed))
            self.row_where.append(where)
        return template

    def _value(self, value: Any, path: tuple, parent: Any, where: str) -> Any:
        if parent not in _NOT_UNCERTAIN and is_dirichlet_spec(value):
            raise ScenarioError(f"{where}: {format_path(path[2:])}: a dirichlet distribution is a whole row: "
                                "give it as the 'to' of an add or as an entry")
        if parent not in _NOT_UNCERTAIN and is_uncertain_spec(value):
            try:
                u = parse_uncertain(value)
            except ValueError as exc:
                raise ScenarioError(f"{where}: {format_path(path[2:])}: {exc}") from None
            if _is_probability(path[2:]):
                u = self._probability(u, path, where)
            self.parameters[format_path(path)] = u
            return _Param(format_path(path))
        if isinstance(value, Mapping):
            return {k: self._value(v, (*path, k), k, where) for k, v in value.items()}
        return value

    def _probability(self, u: Uncertain, path: tuple, where: str) -> Uncertain:
        """A normal or lognormal truncated to [0, 1]; a range or beta must lie inside it."""
        tail = format_path(path[2:])
        if u.dist in ("normal", "lognormal"):
            t = u.truncated(0.0, 1.0)
            if t.outside > _MAX_OUTSIDE:
                raise ScenarioError(f"{where}: {tail}: a {u.describe()} puts {t.outside:.1%} of its mass outside "
                                    "[0, 1] where a probability goes (a probability is a share, e.g. 0.15 for 15%)")
            return t
        low, high = u.support
        if low < 0 or high > 1:
            what = u.describe() if u.dist == "uniform" else f"a {u.dist} distribution (support [{low:g}, {high:g}])"
            raise ScenarioError(f"{where}: {tail}: {what} puts a probability outside [0, 1] (use a range inside "
                                "[0, 1], a beta distribution, or a normal, which is truncated to [0, 1])")
        return u


def _substitute(value: Any, pick) -> Any:
    if isinstance(value, _Param):
        return pick(value)
    if isinstance(value, dict):
        return {k: _substitute(v, pick) for k, v in value.items()}
    return value


def _kind(change: Any, index: int, source: str) -> str:
    if not isinstance(change, Mapping):
        raise ScenarioError(f"{source}: change {index}: must be a mapping such as {{set: {{from: a, to: b, p: 0.5}}}}")
    kinds = [k for k in _CHANGE_KEYS if k in change]
    if len(kinds) != 1:
        found = f"found {', '.join(kinds)}" if kinds else f"found keys {', '.join(map(str, change))}"
        raise ScenarioError(f"{source}: change {index}: needs exactly one of {', '.join(_CHANGE_KEYS)} ({found})")
    return kinds[0]


def _check_kind(change: Any, index: int, source: str) -> str:
    kind = _kind(change, index, source)
    allowed = (*_CHANGE_KEYS[kind], *(schema.TOUCHPOINT_ATTRIBUTES if kind == "add" else ()))
    for key in change:
        if key not in allowed:
            raise ScenarioError(f"{source}: change {index} ({kind}): unknown key {excerpt(key)}{did_you_mean(key, allowed)}"
                                f" (allowed: {', '.join(map(str, allowed))})")
    return kind


def _mapping(value: Any, what: str, index: int, kind: str, source: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{source}: change {index} ({kind}): {what} must be a mapping, not {excerpt(value)}")
    return value


def _number(value: Any, what: str, index: int, kind: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(f"{source}: change {index} ({kind}): {what}: {excerpt(value)} is not a number")
    return float(value)


def _take_from(value: Any, what: str, index: int, kind: str, source: str) -> TakeFrom:
    """``all``, one outcome's name or a list of outcomes."""
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(value)
    raise ScenarioError(f"{source}: change {index} ({kind}): {what}: take_from must be 'all', 'exit', an outcome's "
                        f"name or a list of outcomes, not {excerpt(value)}")


def _build(change: Mapping, index: int, source: str) -> Change:
    kind = _kind(change, index, source)
    segment = change.get("segment")
    if segment is not None and not isinstance(segment, str):
        raise ScenarioError(f"{source}: change {index} ({kind}): segment must be a segment's name, not {excerpt(segment)}")
    body = change[kind]
    if kind == "add":
        sources = _mapping(change.get("from", {}), "from", index, kind, source)
        targets = _mapping(change.get("to", {}), "to", index, kind, source)
        attributes = {k: v for k, v in change.items() if k not in _CHANGE_KEYS["add"]}
        shares, take_from = {}, {}
        for name, value in sources.items():
            if isinstance(value, Mapping):
                unknown = [k for k in value if k not in _SOURCE_KEYS]
                if unknown or "p" not in value:
                    raise ScenarioError(f"{source}: change {index} ({kind}): from {excerpt(name)}: a number, or a mapping "
                                        "with 'p' and optionally 'take_from' (e.g. {p: 0.15, take_from: exit})")
                if "take_from" in value:
                    take_from[name] = _take_from(value["take_from"], f"from {excerpt(name)}", index, kind, source)
                value = value["p"]
            shares[name] = _number(value, f"from {excerpt(name)}", index, kind, source)
        return AddTouchpoint(
            body, attributes, shares,
            {k: _number(v, f"to {excerpt(k)}", index, kind, source) for k, v in targets.items()},
            segment, take_from,
        )
    if kind in _EDGE_KEYS:
        body = _mapping(body, kind, index, kind, source)
        keys = _EDGE_KEYS[kind]
        allowed = (*keys, *_OPTIONAL_EDGE_KEYS[kind])
        for key in body:
            if key not in allowed:
                raise ScenarioError(f"{source}: change {index} ({kind}): unknown key {excerpt(key)}{did_you_mean(key, allowed)}"
                                    f" (allowed: {', '.join(allowed)})")
        missing = [k for k in keys if k not in body]
        if missing:
            raise ScenarioError(f"{source}: change {index} ({kind}): needs {', '.join(keys)} (missing {', '.join(missing)})")
        number = _number(body[keys[2]], keys[2], index, kind, source)
        if kind == "scale":
            return ScaleEdge(body["from"], body["to"], number, segment)
        balance = body.get("balance", BALANCES[0])
        if balance not in BALANCES:
            raise ScenarioError(f"{source}: change {index} (set): balance {excerpt(balance)}{did_you_mean(str(balance), BALANCES)}"
                                f" is not one of {', '.join(BALANCES)}")
        take = _take_from(body["take_from"], "take_from", index, kind, source) if "take_from" in body else ALL
        return SetEdge(body["from"], body["to"], number, segment, balance, take)
    if kind == "remove":
        return RemoveTouchpoint(body, segment)
    if kind == "entry":
        shares = _mapping(body, "entry", index, kind, source)
        return SetEntry({k: _number(v, f"entry share of {excerpt(k)}", index, kind, source) for k, v in shares.items()}, segment)
    body = _mapping(body, "touchpoint", index, kind, source)
    if "name" not in body:
        raise ScenarioError(f"{source}: change {index} (touchpoint): needs 'name' (the touchpoint to change)")
    return SetTouchpoint(body["name"], {k: v for k, v in body.items() if k != "name"}, segment)

