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

Each item is a plain dict (it travels to worker processes and Dask workers). Its
``id`` hashes the plan entry (the file as the plan names it, the sweep values, the
engine and its options, the seed): the item's identity, and its file name in a
run's folder. Its ``key`` hashes that entry with the content of every file the item
reads (the hypothesis, its baseline map, any observations file the map names: the
``inputs``, path -> ``sha256:``) and :data:`RESULTS_VERSION`, so a resumed run reuses
a saved result only when nothing it was computed from has changed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journeysim._files import OWN_PROJECT, confinement, read_document, recording_reads, referenced_path
from journeysim.errors import LimitError, ScenarioError, UsageError, did_you_mean, excerpt
from journeysim.whatif.hypothesis import Hypothesis, read_hypothesis
from journeysim.whatif.prediction import DEFAULT_SIZE, ENGINES, check_engine, draws_needed
from journeysim.whatif.uncertain import get_path, parse_path, set_path

__all__ = ["Plan", "load_plan", "item_hypothesis", "item_key", "RESULTS_VERSION", "MAX_ITEMS"]

#: Part of every item's key: bump it with any change to journeysim that alters an item's numbers (an engine, the
#: draws, a default), so that ``run --resume`` recomputes results saved by a version that computed them otherwise.
RESULTS_VERSION = "2"          # 2: exact predictions stacked (#16): other last digits, another method text

_KEYS = ("plan", "hypotheses", "engines", "seeds", "draws", "level", "customers", "days")
#: Items a plan may expand into unless told otherwise (``--max-items``): five sweep paths of 100 values would
#: make 1e10 of them.
MAX_ITEMS = 10_000


@dataclass(frozen=True)
class Plan:
    """A parsed plan: its title, source and expanded items (in plan order)."""

    title: str
    source: str
    items: tuple[Mapping[str, Any], ...]


def _int(value: Any, what: str, source: str, minimum: int) -> int:
    """A whole number, written 1000 or 1e3 (as the command line takes it)."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ScenarioError(f"{source}: {what}: {excerpt(value)} must be a whole number >= {minimum}")
    return value


def load_plan(path: str | os.PathLike, *, within: Any = OWN_PROJECT, max_items: int = MAX_ITEMS,
              max_transitions: int | None = None) -> Plan:
    """Read a plan and expand it into items; every hypothesis and sweep value is checked first.

    Hypothesis files and their baselines must lie inside ``within``: by default the plan's project,
    ``None`` for anywhere (see :func:`journeysim._files.confinement`). A plan that would expand
    into more than ``max_items`` items is refused (:class:`~journeysim.errors.LimitError`) before
    any is built: sweep grids are counted, then enumerated one point at a time.
    ``max_transitions`` is each sampling item's limit of work (see :func:`~journeysim.whatif.prediction.predict`).

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
    if not isinstance(data, Mapping) or not any(isinstance(k, str) and k in _KEYS for k in data):
        raise ScenarioError(f"{source}: not a plan (a mapping with keys {', '.join(_KEYS)})")
    for key in data:
        if key not in _KEYS:
            raise ScenarioError(f"{source}: unknown key {excerpt(key)}{did_you_mean(key, _KEYS)} (allowed: {', '.join(_KEYS)})")
    engines = data.get("engines", ["exact"])
    if not isinstance(engines, list) or not engines:
        raise ScenarioError(f"{source}: engines must be a list (of {', '.join(ENGINES)})")
    for e in engines:
        if e not in ENGINES:
            raise ScenarioError(f"{source}: engine {excerpt(e)}{did_you_mean(e, ENGINES)} is not one of {', '.join(ENGINES)}")
    seeds = data.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds:
        raise ScenarioError(f"{source}: seeds must be a non-empty list of integers >= 0")
    seeds = [_int(s, "seeds", source, 0) for s in seeds]
    draws = _int(data.get("draws", 2000), "draws", source, 1)
    level = data.get("level", 0.9)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ScenarioError(f"{source}: level: {excerpt(level)} must be a number between 0 and 1")
    for key, engine in (("customers", "montecarlo"), ("days", "agents")):
        if key in data and engine not in engines:
            raise ScenarioError(f"{source}: {key}: applies to the {engine} engine, which the plan does not run "
                                f"(engines: {', '.join(engines)}); remove it or add {engine} to engines")
    sizes = {"montecarlo": _int(data.get("customers", DEFAULT_SIZE["montecarlo"]), "customers", source, 1),
             "agents": _int(data.get("days", DEFAULT_SIZE["agents"]), "days", source, 1)}
    entries = data.get("hypotheses")
    if not isinstance(entries, list) or not entries:
        raise ScenarioError(f"{source}: hypotheses must be a non-empty list of hypothesis files (or {{file, sweep}})")
    if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
        raise UsageError(f"max_items={excerpt(max_items)}: must be a whole number >= 1")
    _count_items(entries, len(engines) * len(seeds), source, max_items)
    items = []
    root = confinement(within, Path(source).parent)
    named: dict[str, tuple[int, str]] = {}
    for index, entry in enumerate(entries):
        file, sweep = _entry(entry, index, source)
        where = f"{source}: hypotheses[{index}]"
        path = referenced_path(file, Path(source).parent, where, root)
        first = named.setdefault(os.path.realpath(path), (index, file))
        if first[0] != index and first[1] != file:
            raise ScenarioError(f"{where}: {excerpt(file)} is the file hypotheses[{first[0]}] names as "
                                f"{excerpt(first[1])}: name each file one way (one entry, several sweep values)")
        for point in _grid(sweep):
            with recording_reads() as reads:
                hyp = item_hypothesis(path, point, where, named_by=f"plan {source} names hypothesis {file}",
                                      within=root)
            for engine in engines:
                check_engine(hyp, engine)
                if draws < 2 and (why := draws_needed(hyp, engine)) is not None:
                    raise ScenarioError(f"{where}: draws: 1 gives no interval: {excerpt(file)} {why}; give draws: "
                                        "20 or more (200 or more for a steady interval)")
                for seed in seeds:
                    # The file as the plan names it, so that a resume from another folder finds the item.
                    entry = {"file": file, "sweep": point, "engine": engine, "seed": seed, "draws": draws,
                             "level": float(level), "size": sizes.get(engine)}
                    identity = json.dumps(entry, sort_keys=True, ensure_ascii=False)
                    items.append({**entry, "file": path, "title": hyp.title, "max_transitions": max_transitions,
                                  "path": os.path.abspath(path),      # what workers open, wherever they run
                                  "id": hashlib.sha256(identity.encode()).hexdigest()[:16],
                                  "entry": entry, "inputs": dict(reads), "key": item_key(entry, reads.values()),
                                  "within": root})          # where its baseline may lie, for the workers too
    ids = [i["id"] for i in items]
    if len(set(ids)) != len(ids):
        raise ScenarioError(f"{source}: the plan lists the same item twice (same file, sweep values, engine and seed)")
    return Plan(str(data.get("plan", Path(source).stem)), source, tuple(items))


def item_key(entry: Mapping[str, Any], hashes) -> str:
    """``sha256:<hex>`` of a plan entry, the content hashes of the files it read (in reading order) and
    :data:`RESULTS_VERSION`. Paths are left out: a project moved or opened from another folder keeps its keys.

    Examples
    --------
    >>> entry = {"file": "h.yaml", "sweep": {}, "engine": "exact", "seed": 1, "draws": 10, "level": 0.9, "size": None}
    >>> item_key(entry, ["sha256:aa"]) == item_key(dict(entry), ("sha256:aa",)), item_key(entry, ["sha256:ab"])[:7]
    (True, 'sha256:')
    >>> item_key(entry, ["sha256:aa"]) == item_key(entry, ["sha256:ab"])
    False
    """
    text = json.dumps({"entry": entry, "inputs": list(hashes), "version": RESULTS_VERSION}, sort_keys=True,
                      ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


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


def _grid(sweep: Mapping[str, list]):
    """The sweep's points, one at a time (a grid is never held whole)."""
    paths = list(sweep)
    return (dict(zip(paths, values)) for values in itertools.product(*(sweep[p] for p in paths)))


def _count_items(entries: list, per_point: int, source: str, limit: int) -> None:
    """Refuse a plan of more than ``limit`` items, counted without building them (``per_point``: engines x seeds)."""
    total = 0
    for index, entry in enumerate(entries):
        _, sweep = _entry(entry, index, source)
        points = math.prod(len(v) for v in sweep.values())
        total += points * per_point
        if total > limit:
            sizes = " x ".join(f"{len(v):,}" for v in sweep.values()) or "1"
            pairs = f"{per_point:,} engine and seed pair{'s' if per_point != 1 else ''}"
            raise LimitError(f"{source}: hypotheses[{index}]: the plan would have more than {limit:,} items (this "
                             f"entry's sweep grid has {sizes} = {points:,} points, each run by {pairs}): raise the "
                             "limit with --max-items (max_items= in Python) if you mean it, or sweep fewer values")


def item_hypothesis(file: str, sweep: Mapping[str, Any], where: str = "", *, named_by: str | None = None,
                    within: Any = OWN_PROJECT) -> Hypothesis:
    """The hypothesis in ``file`` with each sweep path set to its value (``named_by``: where ``file`` was named;
    its baseline inside ``within``, as in :func:`journeysim.whatif.hypothesis.load_hypothesis`).

    Examples
    --------
    >>> h = item_hypothesis("scenarios/hypotheses/live-chat.yaml", {"changes[0].from.cart.p": 0.05})
    >>> dict(h.changes()[0].sources)
    {'cart': 0.05}
    """
    data, problems = read_document(file, named_by=named_by)
    if problems:
        raise ScenarioError(problems)
    for path, value in sweep.items():
        try:
            parts = parse_path(path)
            get_path(data, parts)
        except (ValueError, KeyError):
            raise ScenarioError(f"{where or file}: sweep path {excerpt(path)} is not a number in {file}") from None
        data = set_path(data, parts, value)
    return read_hypothesis(data, file, Path(file).parent, within=confinement(within, Path(file).parent))
