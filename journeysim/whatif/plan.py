"""Batch plans: hypotheses x sweep values x engines x seeds, expanded into items.

A plan file (YAML or JSON) reads::

    plan: Checkout ideas                  # title
    hypotheses:                           # paths relative to the plan
      - hypotheses/live-chat.yaml
      - file: hypotheses/live-chat.yaml
        sweep: {"changes[0].from.cart.p": [0.05, 0.1, 0.15]}   # one item per value (a grid over several paths)
    engines: [exact]                      # default [exact]
    seeds: [1, 2]                         # default [0]
    draws: 1000                           # default 2000
    level: 0.9                            # default 0.9
    customers: 20000                      # montecarlo: customers per segment and draw
    days: 60                              # agents: days per draw

Each item is a plain dict (it travels to worker processes and Dask workers) whose
``id`` is a hash of everything that determines its result, so a finished item is
recognised when a run resumes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journeysim._files import read_document
from journeysim.errors import ScenarioError, did_you_mean
from journeysim.whatif.hypothesis import Hypothesis, read_hypothesis
from journeysim.whatif.prediction import DEFAULT_SIZE, ENGINES, check_engine
from journeysim.whatif.uncertain import get_path, parse_path, set_path

__all__ = ["Plan", "load_plan", "item_hypothesis"]

_KEYS = ("plan", "hypotheses", "engines", "seeds", "draws", "level", "customers", "days")


@dataclass(frozen=True)
class Plan:
    """A parsed plan: its title, source and expanded items (in plan order)."""

    title: str
    source: str
    items: tuple[Mapping[str, Any], ...]


def _int(value: Any, what: str, source: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ScenarioError(f"{source}: {what}: {value!r} must be an integer >= {minimum}")
    return value


def load_plan(path: str | os.PathLike) -> Plan:
    """Read a plan and expand it into items; every hypothesis and sweep value is checked first.

    Examples
    --------
    >>> plan = load_plan("scenarios/plans/next-quarter.yaml")
    >>> len(plan.items), plan.items[0]["engine"], plan.items[0]["sweep"]
    (7, 'exact', {})
    """
    source = str(path)
    data, problems = read_document(path)
    if problems:
        raise ScenarioError(problems)
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: a plan must be a mapping with keys {', '.join(_KEYS)}")
    for key in data:
        if key not in _KEYS:
            raise ScenarioError(f"{source}: unknown key {key!r}{did_you_mean(key, _KEYS)} (allowed: {', '.join(_KEYS)})")
    engines = data.get("engines", ["exact"])
    if not isinstance(engines, list) or not engines:
        raise ScenarioError(f"{source}: engines must be a list (of {', '.join(ENGINES)})")
    for e in engines:
        if e not in ENGINES:
            raise ScenarioError(f"{source}: engine {e!r}{did_you_mean(e, ENGINES)} is not one of {', '.join(ENGINES)}")
    seeds = data.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds:
        raise ScenarioError(f"{source}: seeds must be a non-empty list of integers >= 0")
    seeds = [_int(s, "seeds", source, 0) for s in seeds]
    draws = _int(data.get("draws", 2000), "draws", source, 1)
    level = data.get("level", 0.9)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ScenarioError(f"{source}: level: {level!r} must be a number between 0 and 1")
    sizes = {"montecarlo": _int(data.get("customers", DEFAULT_SIZE["montecarlo"]), "customers", source, 1),
             "agents": _int(data.get("days", DEFAULT_SIZE["agents"]), "days", source, 1)}
    entries = data.get("hypotheses")
    if not isinstance(entries, list) or not entries:
        raise ScenarioError(f"{source}: hypotheses must be a non-empty list of hypothesis files (or {{file, sweep}})")
    items = []
    for index, entry in enumerate(entries):
        file, sweep = _entry(entry, index, source)
        path = os.path.normpath(Path(source).parent / file)
        for point in _grid(sweep):
            hyp = item_hypothesis(path, point, f"{source}: hypotheses[{index}]")
            for engine in engines:
                check_engine(hyp, engine)
                for seed in seeds:
                    item = {"file": path, "sweep": point, "engine": engine, "seed": seed, "draws": draws,
                            "level": float(level), "size": sizes.get(engine), "title": hyp.title,
                            "path": os.path.abspath(path)}   # what workers open, wherever they run
                    # The file as the plan names it, so that a resume from another folder finds the item.
                    key = json.dumps({**{k: v for k, v in item.items() if k not in ("title", "path")}, "file": file},
                                     sort_keys=True, ensure_ascii=False)
                    item["id"] = hashlib.sha256(key.encode()).hexdigest()[:16]
                    items.append(item)
    ids = [i["id"] for i in items]
    if len(set(ids)) != len(ids):
        raise ScenarioError(f"{source}: the plan lists the same item twice (same file, sweep values, engine and seed)")
    return Plan(str(data.get("plan", Path(source).stem)), source, tuple(items))


def _entry(entry: Any, index: int, source: str) -> tuple[str, dict]:
    if isinstance(entry, str):
        return entry, {}
    if not isinstance(entry, Mapping) or "file" not in entry or set(entry) - {"file", "sweep"}:
        raise ScenarioError(f"{source}: hypotheses[{index}]: must be a file name or {{file: ..., sweep: {{path: [values]}}}}")
    sweep = entry.get("sweep", {}) or {}
    if not isinstance(sweep, Mapping) or not all(isinstance(v, list) and v for v in sweep.values()):
        raise ScenarioError(f"{source}: hypotheses[{index}]: sweep must map a path such as changes[0].from.cart.p "
                            "to a non-empty list of values")
    return entry["file"], dict(sweep)


def _grid(sweep: Mapping[str, list]) -> list[dict]:
    paths = list(sweep)
    return [dict(zip(paths, values)) for values in itertools.product(*(sweep[p] for p in paths))]


def item_hypothesis(file: str, sweep: Mapping[str, Any], where: str = "") -> Hypothesis:
    """The hypothesis in ``file`` with each sweep path set to its value.

    Examples
    --------
    >>> h = item_hypothesis("scenarios/hypotheses/live-chat.yaml", {"changes[0].from.cart.p": 0.05})
    >>> dict(h.changes()[0].sources)
    {'cart': 0.05}
    """
    data, problems = read_document(file)
    if problems:
        raise ScenarioError(problems)
    for path, value in sweep.items():
        try:
            parts = parse_path(path)
            get_path(data, parts)
        except (ValueError, KeyError):
            raise ScenarioError(f"{where or file}: sweep path {path!r} is not a number in {file}") from None
        data = set_path(data, parts, value)
    return read_hypothesis(data, file, Path(file).parent)
