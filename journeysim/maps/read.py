"""Read, validate and write journey map files (YAML or JSON).

Every problem in a file is collected, not only the first, and each reads as one
line: ``file: touchpoint 'cart': transitions sum to 1.15 (must be at most 1)``.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from journeysim._files import OWN_PROJECT, confinement, read_document, referenced_path, skeleton, tidy_document
from journeysim._result import Result
from journeysim.errors import MapError, ScenarioError, did_you_mean, excerpt
from journeysim.journey import EXIT, Edge, Journey, Segment, Touchpoint
from journeysim.maps import schema
from journeysim.maps.agents import service_problems
from journeysim.maps.checks import structure_problems
from journeysim.maps.values import Invalid, MapContext, count, referral_problems
from journeysim.maps.write import (  # re-exported: readers look for the writers here
    dump_journey,
    save_journey,
)

__all__ = ["MapCheck", "MapContext", "check_map", "load_journey", "read_journey", "dump_journey", "save_journey"]

ROW_TOLERANCE = 1e-9
SHARE_TOLERANCE = 1e-6
_CORE_KEYS = ("format", "name", "stages", "time_unit", "entry", "touchpoints", "transitions", "segments", "observations")
_EDGE_FIELDS = {"p", "delay"}


@dataclass(frozen=True, repr=False)
class MapCheck(Result):
    """The outcome of checking one map file: the journey (when valid), errors and warnings."""

    source: str
    journey: Journey | None
    errors: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """``source``, ``ok``, ``errors`` and ``warnings`` (lists of one-line messages), JSON-ready."""
        return {"source": self.source, "ok": self.ok, "errors": list(self.errors), "warnings": list(self.warnings)}

    def summary(self) -> str:
        """``valid`` or ``invalid``, then every error and warning, one line each."""
        head = f"{self.source}: " + (f"valid ({len(self.journey.names)} touchpoints)" if self.ok else "invalid")
        return "\n".join([head, *(f"error: {e}" for e in self.errors), *(f"warning: {w}" for w in self.warnings)])

    def _headline(self) -> str:
        return f"{self.source}: {'valid' if self.ok else 'invalid'}, {len(self.errors)} errors, {len(self.warnings)} warnings"

    def _table(self):
        """One row per problem: ``severity`` (error, warning) and ``message``."""
        return ("severity", "message"), [*(("error", e) for e in self.errors), *(("warning", w) for w in self.warnings)]


def check_map(path: str | os.PathLike, *, named_by: str | None = None) -> MapCheck:
    """Read and validate a map file, collecting every error and warning (it raises nothing for bad maps).

    Parameters
    ----------
    path : str or os.PathLike
        A map file, YAML or JSON.
    named_by : str, optional
        Where the path was named, for a file that cannot be read
        (``hypothesis h.yaml names baseline ../x.yaml: no such file``).

    Returns
    -------
    MapCheck
        ``ok``, the ``journey`` (``None`` when invalid), ``errors`` and ``warnings``,
        each one line naming the file and the touchpoint.

    Examples
    --------
    >>> check = check_map("scenarios/online-store.yaml")
    >>> check.ok, len(check.journey.names), check.errors
    (True, 8, ())
    >>> check_map("no-such-map.yaml").errors
    ('no-such-map.yaml: no such file',)
    """
    source = str(path)
    ctx = MapContext(source)
    data, problems = read_document(path, named_by=named_by)
    ctx.errors.extend(problems)
    journey = _build(data, ctx, os.path.dirname(source)) if data is not None and not ctx.errors else None
    return MapCheck(source, None if ctx.errors else journey, tuple(ctx.errors), tuple(ctx.warnings))


def load_journey(path: str | os.PathLike, *, named_by: str | None = None) -> Journey:
    """Read a map file into a :class:`Journey`; raise :class:`MapError` listing every problem.

    Parameters
    ----------
    path : str or os.PathLike
        A map file, YAML or JSON (the format is documented in ``docs/``).
    named_by : str, optional
        Where the path was named, as for :func:`check_map`.

    Returns
    -------
    Journey

    Raises
    ------
    MapError
        Every problem of the file, one line each (``exc.messages``).

    Examples
    --------
    >>> j = load_journey("scenarios/online-store.yaml")
    >>> j.goals, j.time_unit
    (('purchase',), 'day')
    """
    check = check_map(path, named_by=named_by)
    if check.errors:
        raise MapError(check.errors)
    return check.journey


def read_journey(data: Mapping[str, Any], source: str = "<map>") -> Journey:
    """Validate an already-parsed map (a dict in the file's form) into a :class:`Journey`.

    Parameters
    ----------
    data : Mapping
        The map in the file's form (as YAML or JSON parse it).
    source : str
        The name errors give the map.

    Returns
    -------
    Journey

    Examples
    --------
    >>> j = read_journey({
    ...     "entry": {"ad": 1},
    ...     "touchpoints": {"ad": {}, "buy": {"goal": True, "value": 40}},
    ...     "transitions": {"ad": {"buy": 0.1}},
    ... })
    >>> j.goals, j.exit_probability("ad")
    (('buy',), 0.9)
    >>> read_journey({"entry": {"ad": 1}, "touchpoints": {"ad": {}, "buy": {"goal": True}},
    ...               "transitions": {"ad": {"buy": 1.2}}}, "shop.yaml")
    Traceback (most recent call last):
    ...
    journeysim.errors.MapError: shop.yaml: touchpoint 'ad': edge to 'buy': probability 1.2 is outside [0, 1]
    """
    data, problems = tidy_document(data, source)
    if problems:
        raise MapError(problems)
    ctx = MapContext(source)
    journey = _build(data, ctx)
    if ctx.errors:
        raise MapError(ctx.errors)
    return journey


# -- building ----------------------------------------------------------------------------


def _missing_or_wrong(raw: Any) -> str:
    """``missing or empty``, or what was written instead of a mapping (a list is a common slip)."""
    return "missing or empty" if raw is None or isinstance(raw, Mapping) or raw in ("", [], ()) \
        else f"must be a mapping, not {type(raw).__name__}"


def _build(data: Any, ctx: MapContext, folder: str | None = None) -> Journey | None:
    """The journey of a parsed map; ``folder`` holds the map file (files it names are relative to it)."""
    if not isinstance(data, Mapping):
        ctx.error("", f"a map must be a mapping of keys (format, name, entry, touchpoints, transitions...), not {type(data).__name__}")
        return None
    known_keys = (*_CORE_KEYS, *schema.MAP_ATTRIBUTES)
    if not any(isinstance(k, str) and k in known_keys for k in data):
        # Not one of journeysim's files (a path in a hypothesis may name any file): show nothing of it.
        ctx.error("", "not a journey map (a mapping with entry, touchpoints and transitions)")
        return None
    for key in data:
        if key not in known_keys:
            ctx.error("", f"unknown key {excerpt(key)}{did_you_mean(key, known_keys)} (allowed: {', '.join(known_keys)})")

    fmt = data.get("format", schema.FORMAT_VERSION)
    if fmt != schema.FORMAT_VERSION:
        ctx.error("format", f"{excerpt(fmt)} is not supported (this journeysim reads format {schema.FORMAT_VERSION})")
    name = _value(ctx, "name", data.get("name", ""), lambda v: v if isinstance(v, str) else schema.text(v))
    time_unit = data.get("time_unit", "day")
    if time_unit not in schema.TIME_UNITS:
        ctx.error("time_unit", f"{excerpt(time_unit)} is not a time unit (allowed: {', '.join(schema.TIME_UNITS)})")
    ctx.stages = _stages(data.get("stages", []), ctx)

    raw_tps = data.get("touchpoints")
    if not isinstance(raw_tps, Mapping) or not raw_tps:
        ctx.error("touchpoints", f"{_missing_or_wrong(raw_tps)} (a mapping of touchpoint name -> attributes)")
        return None
    ctx.names = tuple(n for n in raw_tps if isinstance(n, str))
    touchpoints = {}
    for tp_name, attrs in raw_tps.items():
        tp = _touchpoint(tp_name, attrs, ctx)
        if tp is not None:
            touchpoints[tp_name] = tp

    entry = _entry(data.get("entry"), "entry", ctx)
    rows = _rows(data.get("transitions", {}) or {}, "", ctx)
    segments = _segments(data.get("segments", {}) or {}, ctx, folder)
    _referrals(touchpoints, segments, ctx)
    observations = _observations(data.get("observations", {}) or {}, ctx, folder)
    extra = {}
    for key, attribute in schema.MAP_ATTRIBUTES.items():
        if key in data:
            extra[key] = attribute.parse(data[key], ctx)
    if ctx.errors:
        return None
    journey = Journey(
        touchpoints=touchpoints, entry=entry, rows=rows, name=name or "", stages=ctx.stages,
        time_unit=time_unit, segments=segments, observations=observations, extra=extra,
    )
    for kind, where, message in [*structure_problems(journey), *service_problems(journey)]:
        (ctx.error if kind == "error" else ctx.warn)(where, message)
    return journey


def _value(ctx: MapContext, where: str, raw: Any, parse):
    try:
        return parse(raw)
    except Invalid as exc:
        ctx.error(where, str(exc))
        return None


def _stages(raw: Any, ctx: MapContext) -> tuple[str, ...]:
    if not isinstance(raw, list):
        ctx.error("stages", "must be a list of stage names, in order")
        return ()
    stages = [s for s in (_value(ctx, "stages", s, schema.text) for s in raw) if s is not None]
    for s, count in Counter(stages).items():
        if count > 1:
            ctx.error("stages", f"stage {excerpt(s)} is listed twice")
    return tuple(dict.fromkeys(stages))


def _touchpoint(name: Any, attrs: Any, ctx: MapContext) -> Touchpoint | None:
    where = f"touchpoint {excerpt(name)}"
    if not isinstance(name, str) or not skeleton(name):
        ctx.error(where, "a touchpoint name must be text with a visible character (quote it)")
        return None
    if name == EXIT:
        ctx.error(where, "'exit' is reserved for drop-off and cannot name a touchpoint")
        return None
    if skeleton(name) == EXIT:
        ctx.error(where, "looks like 'exit', which is reserved for drop-off (it differs only by spaces or "
                         "invisible characters); rename it")
        return None
    attrs = {} if attrs is None else attrs
    if not isinstance(attrs, Mapping):
        ctx.error(where, f"attributes must be a mapping like {{stage: ..., delay: ...}}, not {excerpt(attrs)}")
        return None
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, raw in attrs.items():
        attribute = schema.TOUCHPOINT_ATTRIBUTES.get(key)
        if attribute is None:
            known = schema.TOUCHPOINT_ATTRIBUTES
            ctx.error(where, f"unknown attribute {excerpt(key)}{did_you_mean(key, known)} (allowed: {', '.join(known)})")
            continue
        value = _value(ctx, f"{where}: {key}", raw, attribute.parse)
        if key not in schema.TOUCHPOINT_FIELDS:
            extra[key] = value
        elif value is not None:
            fields.update(schema.touchpoint_fields(key, value))
    stage = fields.get("stage")
    problem = None if stage is None else ctx.unknown_stage(stage)
    if problem is not None:
        ctx.error(where, problem)
    for key, attribute in schema.TOUCHPOINT_ATTRIBUTES.items():
        if key not in schema.TOUCHPOINT_FIELDS and key not in extra and attribute.default is not None:
            extra[key] = attribute.default
    return Touchpoint(name, extra=extra, **fields)


def _referrals(touchpoints: Mapping[str, Touchpoint], segments: Mapping[str, Segment], ctx: MapContext) -> None:
    """Routed ``refers`` name touchpoints and segments of this map."""
    for name, tp in touchpoints.items():
        if tp.routed:
            for problem in referral_problems(tp.refer_entry, tp.refer_segment, ctx.names, tuple(segments)):
                ctx.error(f"touchpoint {excerpt(name)}: refers", problem)
    routed = {tp.refer_segment for tp in touchpoints.values() if tp.refers > 0}
    for name, seg in segments.items():
        if seg.share == 0 and name not in routed:
            ctx.warn(f"segment {excerpt(name)}", "has share 0 and no touchpoint refers customers to it: nobody is in it "
                                          "(give it a share, or route referrals to it with refers: {k, segment})")


def _shares(raw: Any, where: str, ctx: MapContext, what: str) -> dict[str, float]:
    if not isinstance(raw, Mapping) or not raw:
        ctx.error(where, f"{_missing_or_wrong(raw)} (a mapping of touchpoint -> share of new customers)")
        return {}
    shares = {}
    for name, share in raw.items():
        tp = ctx.touchpoint(name, where)
        value = _value(ctx, f"{where}: touchpoint {excerpt(name)}", share, schema.probability)
        if tp is not None and value is not None:
            shares[tp] = value
    total = math.fsum(shares.values())
    if len(shares) == len(raw) and abs(total - 1.0) > SHARE_TOLERANCE:
        ctx.error(where, f"{what} sum to {total:.6g} (must sum to 1)")
    return shares


def _entry(raw: Any, where: str, ctx: MapContext) -> dict[str, float]:
    return _shares(raw, where, ctx, "entry shares")


def _edge(raw: Any, where: str, ctx: MapContext) -> Edge | None:
    if not isinstance(raw, Mapping):
        p = _value(ctx, where, raw, schema.probability)
        return None if p is None else Edge(p)
    if "p" not in raw:
        ctx.error(where, "an edge written as a mapping needs 'p' (e.g. {p: 0.3, delay: 2})")
        return None
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    ok = True
    for key, value in raw.items():
        attribute = schema.EDGE_ATTRIBUTES.get(key)
        if attribute is None:
            known = schema.EDGE_ATTRIBUTES
            ctx.error(where, f"unknown edge key {excerpt(key)}{did_you_mean(key, known)} (allowed: {', '.join(known)})")
            ok = False
            continue
        parsed = _value(ctx, f"{where}: {key}", value, attribute.parse)
        ok = ok and parsed is not None
        (fields if key in _EDGE_FIELDS else extra)[key] = parsed
    return Edge(extra=extra, **fields) if ok else None


def _rows(raw: Any, prefix: str, ctx: MapContext) -> dict[str, dict[str, Edge]]:
    if not isinstance(raw, Mapping):
        ctx.error(f"{prefix}transitions", "must be a mapping of touchpoint -> {next touchpoint: probability}")
        return {}
    rows = {}
    for src, row in raw.items():
        where = f"{prefix}touchpoint {excerpt(src)}"
        if ctx.touchpoint(src, f"{prefix}transitions") is None:
            continue
        row = {} if row is None else row
        if not isinstance(row, Mapping):
            ctx.error(where, f"transitions must be a mapping of next touchpoint -> probability, not {excerpt(row)}")
            continue
        edges: dict[str, Edge] = {}
        for dst, spec in row.items():
            target = ctx.touchpoint(dst, f"{where}: transitions", allow_exit=True)
            edge = _edge(spec, f"{where}: edge to {excerpt(dst)}", ctx)
            if target is None or edge is None:
                continue
            if target != EXIT:
                edges[target] = edge
            elif edge.delay is not None:
                ctx.error(f"{where}: edge to 'exit'", "drop-off takes no delay")
        total = math.fsum(e.p for e in edges.values()) + _explicit_exit(row)
        if total > 1.0 + ROW_TOLERANCE:  # the good edges alone exceeding 1 is an error whatever the bad ones say
            ctx.error(where, f"transitions sum to {total:.6g} (must be at most 1)")
        rows[src] = edges
    return rows


def _explicit_exit(row: Mapping) -> float:
    spec = row.get(EXIT, 0.0)
    p = spec.get("p", 0.0) if isinstance(spec, Mapping) else spec
    # A bad exit probability has its own error; it must not also inflate the row's sum.
    return float(p) if isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p <= 1 else 0.0


def _segments(raw: Any, ctx: MapContext, folder: str | None = None) -> dict[str, Segment]:
    if not isinstance(raw, Mapping):
        ctx.error("segments", "must be a mapping of segment name -> {share, transitions, entry}")
        return {}
    segments = {}
    for name, spec in raw.items():
        where = f"segment {excerpt(name)}"
        if not isinstance(name, str) or not isinstance(spec, Mapping):
            ctx.error(where, "must be a named mapping {share: ..., transitions: ..., entry: ...}")
            continue
        for key in spec:
            if key not in schema.SEGMENT_KEYS:
                ctx.error(where, f"unknown key {excerpt(key)}{did_you_mean(key, schema.SEGMENT_KEYS)} (allowed: {', '.join(schema.SEGMENT_KEYS)})")
        if "share" not in spec:
            ctx.error(where, "needs a 'share' of new customers")
            continue
        share = _value(ctx, f"{where}: share", spec["share"], schema.probability)
        rows = _rows(spec.get("transitions", {}) or {}, f"{where}: ", ctx)
        entry = _entry(spec["entry"], f"{where}: entry", ctx) if "entry" in spec else None
        observations = _observations(spec.get("observations", {}) or {}, ctx, folder, f"{where}: observations")
        if share is not None:
            segments[name] = Segment(name, share, rows, entry, observations)
    total = math.fsum(s.share for s in segments.values())
    if segments and len(segments) == len(raw) and abs(total - 1.0) > SHARE_TOLERANCE:
        ctx.error("segments", f"segment shares sum to {total:.6g} (must sum to 1)")
    return segments


def _observations(raw: Any, ctx: MapContext, folder: str | None, where: str = "observations") -> dict[str, float]:
    if isinstance(raw, str):
        # Counts kept in their own file (refreshed by whoever owns the data), relative to the map.
        if folder is None:
            ctx.error(where, f"names a file ({raw}), which only a map read from a file can do; give the counts")
            return {}
        try:    # inside the map's project, as every path named in a file (see docs/limits.md)
            path = referenced_path(raw, folder, f"{ctx.source}: observations", confinement(OWN_PROJECT, folder or "."))
        except ScenarioError as exc:
            ctx.errors.extend(exc.messages)
            return {}
        data, problems = read_document(path, named_by=f"map {ctx.source} names observations {raw}")
        ctx.errors.extend(problems)
        if problems:
            return {}
        raw, where = data, f"{where} ({raw})"
    if not isinstance(raw, Mapping):
        ctx.error(where, "must be a mapping of touchpoint (or 'entry') -> number of departures observed, "
                         "or the name of a YAML/JSON file holding one")
        return {}
    if raw and "entry" in ctx.names:
        # fit wrote the touchpoint's departures and the journeys started under the one key, keeping either
        ctx.error(where, "'entry' names both a touchpoint and the count of journeys started, which the counts cannot "
                         "tell apart (rename the touchpoint)")
        return {}
    counts = {}
    for name, n in raw.items():
        if name != "entry" and ctx.touchpoint(name, where) is None:
            continue
        value = _value(ctx, f"{where}: {excerpt(name)}", n, count)
        if value is not None:
            counts[name] = value
    return counts
