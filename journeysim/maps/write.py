"""Writing journeys in the map-file form (YAML or JSON), atomically.

:mod:`journeysim.maps.read` reads and validates; this module is its inverse.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from journeysim._files import FLOAT_WITHOUT_DOT, write_atomic
from journeysim.journey import Edge, Journey, expect_journey
from journeysim.maps import schema

__all__ = ["dump_journey", "save_journey", "dump_yaml"]


def _edge_spec(edge: Edge) -> float | dict:
    if edge.delay is None and not edge.extra:
        return edge.p
    spec: dict[str, Any] = {"p": edge.p}
    if edge.delay is not None:
        spec["delay"] = edge.delay.to_spec()
    spec.update(edge.extra)
    return spec


def _rows_spec(rows: Mapping[str, Mapping[str, Edge]]) -> dict:
    return {a: {b: _edge_spec(e) for b, e in row.items()} for a, row in rows.items()}


def dump_journey(journey: Journey) -> dict[str, Any]:
    """The map-file form of a journey (plain dicts, lists and numbers), ready for YAML or JSON.

    Parameters
    ----------
    journey : Journey

    Returns
    -------
    dict
        What :func:`~journeysim.maps.read.read_journey` reads back into the same journey.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.1}}, goals=["buy"])
    >>> dump_journey(j)["transitions"]
    {'ad': {'buy': 0.1}}
    """
    expect_journey(journey)
    tps = {}
    for name, tp in journey.touchpoints.items():
        attrs: dict[str, Any] = {}
        if tp.stage is not None:
            attrs["stage"] = tp.stage
        if tp.channel is not None:
            attrs["channel"] = tp.channel
        if tp.delay is not None:
            attrs["delay"] = tp.delay.to_spec()
        if tp.goal:
            attrs["goal"] = True
        if tp.value:
            attrs["value"] = tp.value
        if tp.refers or tp.routed:
            attrs["refers"] = tp.refers_spec()
        attrs.update({k: v for k, v in tp.extra.items() if v != schema.TOUCHPOINT_ATTRIBUTES[k].default})
        if tp.service is not None:
            attrs["service"] = tp.service.to_spec()
        tps[name] = attrs
    data: dict[str, Any] = {"format": schema.FORMAT_VERSION, "name": journey.name}
    if journey.stages:
        data["stages"] = list(journey.stages)
    data["time_unit"] = journey.time_unit
    data["entry"] = dict(journey.entry)
    data["touchpoints"] = tps
    data["transitions"] = _rows_spec(journey.rows)
    if journey.segments:
        data["segments"] = {}
        for s in journey.segments.values():
            spec: dict[str, Any] = {"share": s.share}
            if s.rows:
                spec["transitions"] = _rows_spec(s.rows)
            if s.entry is not None:
                spec["entry"] = dict(s.entry)
            if s.observations:
                spec["observations"] = dict(s.observations)
            data["segments"][s.name] = spec
    if journey.observations:
        data["observations"] = dict(journey.observations)
    data.update(_unfreeze(journey.extra))
    return data


def _unfreeze(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _unfreeze(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_unfreeze(v) for v in obj]
    return obj


class _Dumper(yaml.SafeDumper):
    """Writes text the way the reader reads it back: quoted where the reader would take it for a number
    (``2e5``: the reader follows YAML 1.2 there), and double-quoted, with escapes, where it holds a character
    that plain or single-quoted YAML would change (a control character, U+0085 or U+2028 read as line breaks)."""


def _represent_str(dumper: _Dumper, text: str):
    style = '"' if not text.isprintable() or any(ch in text for ch in "\x85\u2028\u2029\ufeff") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_WITHOUT_DOT, list("-+0123456789"))
_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    r"""YAML text that journeysim's reader reads back to ``data`` (strings stay strings, whatever they hold).

    Examples
    --------
    >>> print(dump_yaml({"2e5": "yes", "tab\there": 1}), end="")
    '2e5': 'yes'
    "tab\there": 1
    """
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=120)


def save_journey(journey: Journey, path: str | os.PathLike) -> None:
    """Write a journey as YAML (JSON for a ``.json`` path), atomically: never half a file.

    Parameters
    ----------
    journey : Journey
    path : str or os.PathLike
        The file to write (replaced if it exists).

    Returns
    -------
    None

    Examples
    --------
    >>> import tempfile
    >>> from journeysim.maps.read import load_journey
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.1}}, goals=["buy"])
    >>> path = Path(tempfile.mkdtemp()) / "shop.yaml"
    >>> save_journey(j, path)
    >>> load_journey(path).rows["ad"]["buy"].p
    0.1
    """
    data = dump_journey(journey)
    if Path(path).suffix.lower() == ".json":
        body = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    else:
        body = dump_yaml(data)
    write_atomic(path, body)
