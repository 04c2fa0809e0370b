"""Where the journey picture puts its touchpoints and routes its edges: Graphviz's ``dot``.

``dot`` ranks the touchpoints left to right (one rank per stage), orders each rank to cut the fewest crossings and
routes every edge as a spline around the nodes it does not touch, self-loops included. The picture itself is drawn
with matplotlib (:func:`journeysim.report.plots.plot_journey`) from the layout read back in ``dot``'s plain format,
so that fonts, colours and escaping stay those of the other plots. Without the ``dot`` program (Debian's
``graphviz`` package) there is no layout and the picture falls back to plain columns.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field

from journeysim.journey import Journey

__all__ = ["Layout", "dot_layout"]

#: Seconds ``dot`` may take: a map of a few hundred touchpoints lays out in well under one.
DOT_TIMEOUT = 60


@dataclass(frozen=True)
class Layout:
    """A laid-out journey, in inches with y upwards: each touchpoint's box and each edge's cubic Bezier points.

    ``edges`` maps ``(from, to)`` to the control points ``[(x, y), ...]`` (``1 + 3k`` of them) of its spline,
    which ends where the arrow head begins.
    """

    width: float
    height: float
    nodes: Mapping[str, tuple[float, float, float, float]]
    edges: Mapping[tuple[str, str], tuple[tuple[float, float], ...]]
    #: Where ``dot`` put each edge's label (only for edges given one), its centre.
    edge_labels: Mapping[tuple[str, str], tuple[float, float]] = field(default_factory=dict)


def _quoted(text: str) -> str:
    """A DOT string literal: quotes and backslashes escaped, line breaks as spaces."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ") + '"'


def dot_source(journey: Journey, flows: Mapping[tuple[str, str], float], labels: Mapping[str, str],
               edge_labels: Mapping[tuple[str, str], str] | None = None) -> str:
    """The DOT text ``dot`` lays out: nodes ``n0..`` labelled with ``labels``, one ``rank=same`` group per stage.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"])
    >>> print(dot_source(j, {("ad", "buy"): 0.25}, {"ad": "ad", "buy": "buy"}))
    digraph journey {
      rankdir=LR; nodesep=0.3; ranksep=0.6;
      node [shape=box, style=rounded, fontsize=10, margin="0.12,0.06"];
      n0 [label="ad"];
      n1 [label="buy"];
      n0 -> n1 [penwidth=8];
    }
    """
    ids = {name: f"n{i}" for i, name in enumerate(journey.names)}
    lines = ["digraph journey {", "  rankdir=LR; nodesep=0.3; ranksep=0.6;",
             '  node [shape=box, style=rounded, fontsize=10, margin="0.12,0.06"];']
    lines += [f"  {ids[name]} [label={_quoted(labels[name])}];" for name in journey.names]
    for stage in journey.stage_names():
        members = [ids[n] for n, t in journey.touchpoints.items() if t.stage == stage]
        if members:
            lines.append("  { rank=same; " + " ".join(f"{m};" for m in members) + " }")
    top = max(flows.values(), default=1.0) or 1.0
    for (a, b), flow in flows.items():
        if flow > 0:
            text = (edge_labels or {}).get((a, b))
            label = "" if text is None else f", label={_quoted(text)}, fontsize=9"
            lines.append(f"  {ids[a]} -> {ids[b]} [penwidth={1 + 7 * flow / top:.3g}{label}];")
    lines.append("}")
    return "\n".join(lines)


def dot_layout(journey: Journey, flows: Mapping[tuple[str, str], float],
               labels: Mapping[str, str], edge_labels: Mapping[tuple[str, str], str] | None = None) -> Layout | None:
    """Lay the journey out with ``dot``; ``None`` when the program is not installed.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25, "ad": 0.1}}, goals=["buy"])
    >>> layout = dot_layout(j, {("ad", "buy"): 0.25, ("ad", "ad"): 0.1}, {"ad": "ad", "buy": "buy"})
    >>> layout is None or (sorted(layout.edges) == [("ad", "ad"), ("ad", "buy")]
    ...                    and layout.nodes["ad"][0] < layout.nodes["buy"][0])
    True
    """
    program = shutil.which("dot")
    if program is None:
        return None
    done = subprocess.run([program, "-Tplain"], input=dot_source(journey, flows, labels, edge_labels).encode("utf-8"),
                          capture_output=True, timeout=DOT_TIMEOUT, check=False)
    if done.returncode != 0:
        return None
    names = {f"n{i}": name for i, name in enumerate(journey.names)}
    return _read_plain(done.stdout.decode("utf-8"), names)


def _read_plain(text: str, names: Mapping[str, str]) -> Layout:
    """Parse ``dot -Tplain``: ``graph``, ``node`` and ``edge`` lines (node ids are ``n<i>``, never quoted)."""
    width = height = 0.0
    nodes, edges, edge_labels = {}, {}, {}
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word == "graph":
            _, width, height = (float(v) for v in rest.split()[:3])
        elif word == "node":
            ident, x, y, w, h = rest.split()[:5]
            nodes[names[ident]] = (float(x), float(y), float(w), float(h))
        elif word == "edge":
            fields = rest.split()
            n = int(fields[2])
            points = [float(v) for v in fields[3:3 + 2 * n]]
            key = (names[fields[0]], names[fields[1]])
            edges[key] = tuple(zip(points[::2], points[1::2]))
            tail = shlex.split(" ".join(fields[3 + 2 * n:]))   # [label x y] style colour; a label may be quoted
            if len(tail) >= 5:
                edge_labels[key] = (float(tail[1]), float(tail[2]))
    return Layout(width, height, nodes, edges, edge_labels)
