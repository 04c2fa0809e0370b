"""Read hypothesis files: a baseline map, a metric and a list of changes with uncertain numbers.

The file's form is documented in docs/predict.md. Every problem raises
:class:`~journeysim.errors.ScenarioError` whose message names the file, the change's index and what is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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
    BALANCES,
    AddTouchpoint,
    Change,
    RemoveTouchpoint,
    ScaleEdge,
    SetEdge,
    SetEntry,
    SetTouchpoint,
    apply_changes,
)
from journeysim.whatif.guardrails import Guardrail, parse_guardrails
from journeysim.whatif.uncertain import (
    Uncertain,
    format_path,
    is_uncertain_spec,
    parse_path,
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
_OPTIONAL_EDGE_KEYS = {"set": ("balance",), "scale": ()}


@dataclass(frozen=True)
class _Param:
    """Where an uncertain number sits in a change, until a draw gives its value."""

    path: str


@dataclass(frozen=True, eq=False)
class Hypothesis:
    """A parsed hypothesis: its baseline journey and its changes, some numbers uncertain.

    ``parameters`` maps the path of every uncertain number (e.g.
    ``changes[0].to.purchase``) to its :class:`~journeysim.whatif.uncertain.Uncertain`.
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

    def changes(self, values: Mapping[str, float] | None = None) -> list[Change]:
        """The changes with every uncertain number set from ``values`` (path -> number; medians by default)."""
        values = values or {}
        concrete = [_substitute(t, lambda p: values[p.path] if p.path in values else self.parameters[p.path].median)
                    for t in self._templates]
        return [_build(c, i, self.source) for i, c in enumerate(concrete)]

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
    parameters: dict[str, Uncertain] = {}
    templates = []
    for i, change in enumerate(raw_changes):
        kind = _check_kind(change, i, source)
        templates.append(_template(change, ("changes", i), None, parameters, f"{source}: change {i} ({kind})"))
    guardrails = parse_guardrails(data.get("guardrails"), source, METRICS)
    hyp = Hypothesis(title.strip(), source, baseline_path, baseline, metric, data, parameters, tuple(templates),
                     guardrails=guardrails)
    _check_probability_ranges(hyp)
    for where, pick in (("", None), (" (every uncertain number at the low end of its range)", 0.001),
                        (" (every uncertain number at the high end of its range)", 0.999)):
        values = {} if pick is None else {p: _end(u, pick) for p, u in parameters.items()}
        try:
            hyp.variant(values)
        except ScenarioError as exc:
            raise ScenarioError(f"{exc}{where}") from None
    return hyp


def _end(u: Uncertain, q: float) -> float:
    low, high = u.support
    bound = low if q < 0.5 else high
    return bound if abs(bound) != float("inf") else float(u.frozen.ppf(q))


def _template(value: Any, path: tuple, parent: Any, parameters: dict, where: str) -> Any:
    """The change with each range or distribution replaced by a :class:`_Param` placeholder."""
    if parent != "delay" and is_uncertain_spec(value):
        try:
            parameters[format_path(path)] = parse_uncertain(value)
        except ValueError as exc:
            raise ScenarioError(f"{where}: {format_path(path[2:])}: {exc}") from None
        return _Param(format_path(path))
    if isinstance(value, Mapping):
        return {k: _template(v, (*path, k), k, parameters, where) for k, v in value.items()}
    return value


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


def _check_probability_ranges(hyp: Hypothesis) -> None:
    """Ranges and distributions where a probability goes must stay inside [0, 1] (use beta otherwise)."""
    for path, u in hyp.parameters.items():
        parts = parse_path(path)
        index, tail = parts[1], parts[2:]
        probability = tail[0] in ("from", "to", "entry") or tail == ("set", "p")
        low, high = u.support
        if probability and (low < 0 or high > 1):
            kind = _kind(hyp.data["changes"][index], index, hyp.source)
            what = f"range [{low:g}, {high:g}]" if u.dist == "uniform" else f"a {u.dist} distribution (support [{low:g}, {high:g}])"
            raise ScenarioError(f"{hyp.source}: change {index} ({kind}): {format_path(tail)}: {what} puts a probability"
                                " outside [0, 1] (use a range inside [0, 1] or a beta distribution)")


def _mapping(value: Any, what: str, index: int, kind: str, source: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{source}: change {index} ({kind}): {what} must be a mapping, not {excerpt(value)}")
    return value


def _number(value: Any, what: str, index: int, kind: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(f"{source}: change {index} ({kind}): {what}: {excerpt(value)} is not a number")
    return float(value)


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
        return AddTouchpoint(
            body, attributes,
            {k: _number(v, f"from {excerpt(k)}", index, kind, source) for k, v in sources.items()},
            {k: _number(v, f"to {excerpt(k)}", index, kind, source) for k, v in targets.items()},
            segment,
        )
    if kind in _EDGE_KEYS:
        body = _mapping(body, kind, index, kind, source)
        keys = _EDGE_KEYS[kind]
        allowed = (*keys, *_OPTIONAL_EDGE_KEYS[kind])
        for key in body:
            if key not in allowed:
                raise ScenarioError(f"{source}: change {index} ({kind}): unknown key {excerpt(key)}{did_you_mean(key, allowed)} (allowed: {', '.join(allowed)})")
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
        return SetEdge(body["from"], body["to"], number, segment, balance)
    if kind == "remove":
        return RemoveTouchpoint(body, segment)
    if kind == "entry":
        shares = _mapping(body, "entry", index, kind, source)
        return SetEntry({k: _number(v, f"entry share of {excerpt(k)}", index, kind, source) for k, v in shares.items()}, segment)
    body = _mapping(body, "touchpoint", index, kind, source)
    if "name" not in body:
        raise ScenarioError(f"{source}: change {index} (touchpoint): needs 'name' (the touchpoint to change)")
    return SetTouchpoint(body["name"], {k: v for k, v in body.items() if k != "name"}, segment)

