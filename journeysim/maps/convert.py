"""Maps that travel: Mermaid, Graphviz DOT, GraphML and node-link JSON, and back.

Every format is written from :func:`journey_graph`, a :class:`networkx.DiGraph`
whose node, edge and graph attributes hold the whole map (in the map file's
own form, from :func:`journeysim.maps.read.dump_journey`), so GraphML and JSON
read back into the same journey. GraphML attributes must be scalars: nested
values (delays, ``extra`` attributes, stages, segments, observations) are
stored there as JSON text. Mermaid and DOT are drawings only.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from journeysim._files import read_bytes, read_document
from journeysim.errors import MapError, excerpt
from journeysim.journey import Journey
from journeysim.maps.read import dump_journey, read_journey

__all__ = [
    "EXPORT_FORMATS",
    "journey_graph",
    "graph_journey",
    "to_mermaid",
    "to_dot",
    "to_graphml",
    "to_json",
    "export_journey",
    "import_journey",
]

EXPORT_FORMATS = ("mermaid", "dot", "graphml", "json")
GRAPH_FORMAT = 1
_GRAPH_KEYS = ("stages", "segments", "observations", "extra")
_NODE_FIELDS = ("stage", "channel", "delay", "goal", "value", "refers", "service")
# Nested values GraphML can only carry as JSON text.
_NESTED = {"graph": ("stages", "segments", "observations", "extra"), "node": ("delay", "service", "extra"),
           "edge": ("delay", "extra")}
# Drawing attributes graph editors add (yEd, Gephi, Cytoscape): ignored on import, not errors.
_PRESENTATION = frozenset({"label", "x", "y", "z", "size", "r", "g", "b", "color", "shape_type", "width", "height",
                           "weight"})


def journey_graph(journey: Journey) -> nx.DiGraph:
    """The whole map as a graph: one node per touchpoint, one edge per transition.

    Node attributes: ``stage``, ``channel``, ``delay``, ``service``, ``goal``, ``value``,
    ``refers``, ``entry`` (share, when an entry point), ``row`` (whether the
    touchpoint has a row, even one that is all drop-off) and ``extra``. Edge
    attributes: ``p``, ``delay`` and ``extra``. Graph attributes: ``name``,
    ``time_unit``, ``journeysim_format`` and the map's ``stages``, ``segments``,
    ``observations`` and ``extra`` top-level attributes. Absent values are left out.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"])
    >>> g = journey_graph(j)
    >>> g.nodes["ad"]["entry"], g.edges["ad", "buy"]["p"], g.nodes["buy"]["goal"]
    (1.0, 0.25, True)
    """
    data = dump_journey(journey)
    g = nx.DiGraph(journeysim_format=GRAPH_FORMAT, name=data["name"], time_unit=data["time_unit"])
    core = {"format", "name", "stages", "time_unit", "entry", "touchpoints", "transitions", "segments", "observations"}
    for key in ("stages", "segments", "observations"):
        if key in data:
            g.graph[key] = data[key]
    extra = {k: v for k, v in data.items() if k not in core}
    if extra:
        g.graph["extra"] = extra
    for name, attrs in data["touchpoints"].items():
        node = {k: attrs[k] for k in ("stage", "channel", "delay", "service") if k in attrs}
        node.update(goal=bool(attrs.get("goal", False)), value=float(attrs.get("value", 0.0)),
                    refers=attrs.get("refers", 0.0), row=name in data["transitions"])
        if name in data["entry"]:
            node["entry"] = data["entry"][name]
        tp_extra = {k: v for k, v in attrs.items() if k not in _NODE_FIELDS}
        if tp_extra:
            node["extra"] = tp_extra
        g.add_node(name, **node)
    for a, row in data["transitions"].items():
        for b, spec in row.items():
            edge = dict(spec) if isinstance(spec, Mapping) else {"p": spec}
            attrs = {"p": edge.pop("p")}
            if "delay" in edge:
                attrs["delay"] = edge.pop("delay")
            if edge:
                attrs["extra"] = edge
            g.add_edge(a, b, **attrs)
    return g


def graph_journey(g: nx.Graph, source: str = "<graph>") -> Journey:
    """Read a journey back from a graph in :func:`journey_graph`'s form (validated).

    Drawing attributes that graph editors add (``label``, ``x``, ``y``, ``size``,
    colours, ``weight``...) are ignored; any other unknown attribute is an error.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"])
    >>> dump_journey(graph_journey(journey_graph(j))) == dump_journey(j)
    True
    """
    if not g.is_directed() or g.is_multigraph():
        raise MapError(f"{source}: the graph must be directed with at most one edge per pair of touchpoints")
    fmt = g.graph.get("journeysim_format", GRAPH_FORMAT)
    if fmt != GRAPH_FORMAT:
        raise MapError(f"{source}: journeysim_format {excerpt(fmt)} is not supported (this journeysim reads {GRAPH_FORMAT})")
    data: dict[str, Any] = {"name": g.graph.get("name", ""), "time_unit": g.graph.get("time_unit", "day")}
    for key in ("stages", "segments", "observations"):
        if key in g.graph:
            data[key] = g.graph[key]
    extra = g.graph.get("extra", {})
    if not isinstance(extra, Mapping):
        raise MapError(f"{source}: graph attribute 'extra' must be a mapping of map attributes")
    entry, touchpoints, transitions = {}, {}, {}
    for name, attrs in g.nodes(data=True):
        unknown = set(attrs) - {*_NODE_FIELDS, "entry", "row", "extra", *_PRESENTATION}
        if unknown:
            raise MapError(f"{source}: touchpoint {excerpt(name)}: unknown node attribute {excerpt(sorted(unknown)[0])}")
        tp = {k: attrs[k] for k in _NODE_FIELDS if k in attrs}
        tp.update(attrs.get("extra") or {})
        touchpoints[name] = tp
        if "entry" in attrs:
            entry[name] = attrs["entry"]
        if attrs.get("row") or g.out_degree(name):
            transitions[name] = {}
    for a, b, attrs in g.edges(data=True):
        where = f"{source}: edge {excerpt(a)} -> {excerpt(b)}"
        if "p" not in attrs:
            raise MapError(f"{where}: missing probability 'p'")
        unknown = set(attrs) - {"p", "delay", "extra", *_PRESENTATION}
        if unknown:
            raise MapError(f"{where}: unknown edge attribute {excerpt(sorted(unknown)[0])}")
        spec = {"p": attrs["p"], **{k: attrs[k] for k in ("delay",) if k in attrs}, **(attrs.get("extra") or {})}
        transitions[a][b] = spec if len(spec) > 1 else attrs["p"]
    data.update(entry=entry, touchpoints=touchpoints, transitions=transitions)
    data.update(extra)
    return read_journey(data, source)


# -- GraphML and JSON ----------------------------------------------------------------------


def _xml_safe(text: str) -> bool:
    return all(c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFD or ord(c) >= 0x10000
               for c in text)


def _flat(attrs: Mapping[str, Any], nested: tuple[str, ...], where: str) -> dict[str, Any]:
    out = {}
    for key, value in attrs.items():
        # A routed ``refers`` ({k, entry, segment}) is the one mapping a scalar attribute may hold.
        value = json.dumps(value, ensure_ascii=False) if key in nested or isinstance(value, Mapping) else value
        if isinstance(value, str) and not _xml_safe(value):
            raise MapError(f"{where}: {key} {excerpt(value)} holds a character XML cannot carry (GraphML is XML 1.0); "
                           "export to json instead")
        out[key] = value
    return out


def to_graphml(journey: Journey) -> str:
    """The map as GraphML (nested attributes as JSON text), for yEd, Gephi or Cytoscape.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"])
    >>> "<graphml" in to_graphml(j)
    True
    """
    g = journey_graph(journey)
    flat = nx.DiGraph(**_flat(g.graph, _NESTED["graph"], "map"))
    for name, attrs in g.nodes(data=True):
        if not _xml_safe(name):
            raise MapError(f"touchpoint {excerpt(name)}: the name holds a character XML cannot carry; export to json instead")
        flat.add_node(name, **_flat(attrs, _NESTED["node"], f"touchpoint {excerpt(name)}"))
    for a, b, attrs in g.edges(data=True):
        flat.add_edge(a, b, **_flat(attrs, _NESTED["edge"], f"edge {excerpt(a)} -> {excerpt(b)}"))
    return "\n".join(nx.generate_graphml(flat)) + "\n"


def to_json(journey: Journey) -> str:
    """The map as node-link JSON (networkx's ``node_link_data``, as D3 and Cytoscape.js read it).

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"])
    >>> json.loads(to_json(j))["edges"]
    [{'p': 0.25, 'source': 'ad', 'target': 'buy'}]
    """
    return json.dumps(nx.node_link_data(journey_graph(journey), edges="edges"), ensure_ascii=False, indent=2) + "\n"


def _undeclared(path: Path, edges: Iterator[tuple[Any, Any]], declared: set, how: str) -> None:
    """Refuse the first edge whose end is not a declared node (networkx would add it silently)."""
    for a, b in edges:
        for end in (a, b):
            try:
                missing = end not in declared
            except TypeError:        # a JSON list as an end: no declared id (those are hashable) can equal it
                missing = True
            if missing:
                raise MapError(f"{path}: edge {excerpt(a)} -> {excerpt(b)}: node {excerpt(end)} is not declared ({how})")


def _read_graphml(path: Path) -> nx.Graph:
    raw, problems = read_bytes(path)          # within the limits of every document journeysim reads
    if problems:
        raise MapError(problems)
    try:
        g = nx.parse_graphml(raw, force_multigraph=False)
        # GraphML requires every edge end to be a declared <node>; read_graphml invents missing ones.
        elements = list(ET.fromstring(raw).iter())
    except (ET.ParseError, nx.NetworkXError, ValueError, KeyError) as exc:
        raise MapError(f"{path}: not a GraphML file journeysim can read ({exc})") from None
    local = [(e.tag.rpartition("}")[2], e) for e in elements if isinstance(e.tag, str)]
    _undeclared(path, ((e.get("source"), e.get("target")) for tag, e in local if tag == "edge"),
                {e.get("id") for tag, e in local if tag == "node"}, "GraphML needs a <node id=...> for every edge end")
    for kind, keys in _NESTED.items():
        items = [(g.graph, "map")] if kind == "graph" else (
            [(a, f"touchpoint {excerpt(n)}") for n, a in g.nodes(data=True)] if kind == "node"
            else [(a, f"edge {excerpt(u)} -> {excerpt(v)}") for u, v, a in g.edges(data=True)])
        for attrs, where in items:
            for key in keys:
                if key in attrs:
                    try:
                        attrs[key] = json.loads(attrs[key])
                    except (TypeError, json.JSONDecodeError) as exc:
                        raise MapError(f"{path}: {where}: attribute {excerpt(key)} is not JSON text ({exc})") from None
    for name, attrs in g.nodes(data=True):
        if isinstance(attrs.get("refers"), str):   # a routed refers, written as JSON text
            try:
                attrs["refers"] = json.loads(attrs["refers"])
            except json.JSONDecodeError as exc:
                raise MapError(f"{path}: touchpoint {excerpt(name)}: attribute 'refers' is neither a number nor JSON text "
                               f"({exc})") from None
    g.graph.pop("node_default", None)
    g.graph.pop("edge_default", None)
    return g


def _read_node_link(path: Path) -> nx.Graph:
    data, problems = read_document(path)      # within the limits of every document journeysim reads
    if problems:
        raise MapError(problems)
    if not isinstance(data, dict):
        raise MapError(f"{path}: not node-link JSON (expected an object with 'nodes' and 'edges', "
                       f"not {type(data).__name__})")
    for key, kind in (("nodes", list), ("edges", list), ("graph", dict)):
        if key in data and not isinstance(data[key], kind):
            raise MapError(f"{path}: not node-link JSON ('{key}' must be a{'n object' if kind is dict else ' list'}, "
                           f"not {type(data[key]).__name__})")
    for key, required in (("nodes", ("id",)), ("edges", ("source", "target"))):
        if key not in data:
            raise MapError(f"{path}: not node-link JSON (no '{key}')")
        for i, item in enumerate(data[key]):
            if not isinstance(item, dict) or any(r not in item for r in required):
                raise MapError(f"{path}: not node-link JSON ({key}[{i}] must be an object with "
                               f"{' and '.join(repr(r) for r in required)}, not {excerpt(item)})")
    try:
        g = nx.node_link_graph(data, directed=True, multigraph=False, edges="edges")
    except (KeyError, TypeError, AttributeError, nx.NetworkXError) as exc:
        raise MapError(f"{path}: not node-link JSON networkx can read ({excerpt(str(exc))})") from None
    _undeclared(path, ((e["source"], e["target"]) for e in data["edges"]), {n["id"] for n in data["nodes"]
                                                                            if _hashable(n["id"])},
                "every edge end must be listed in 'nodes'")
    return g


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def import_journey(path: str | os.PathLike) -> Journey:
    """Read a journey from GraphML (``.graphml``) or node-link JSON (``.json``) written by :func:`export_journey`.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.graphml`` or ``.json`` file (graph editors' drawing attributes are ignored).

    Returns
    -------
    Journey
        Validated as a map file is.

    Examples
    --------
    >>> import tempfile
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "map.graphml"
    ...     _ = p.write_text(to_graphml(j), encoding="utf-8")
    ...     import_journey(p).rows["ad"]["buy"].p
    0.25
    """
    path = Path(path)
    if path.is_dir():
        raise MapError(f"{path}: is a folder, not a graph file")
    if not path.is_file():
        raise MapError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".graphml", ".xml"):
        g = _read_graphml(path)
    elif suffix == ".json":
        g = _read_node_link(path)
    else:
        raise MapError(f"{path}: unknown graph format {excerpt(suffix)} (import reads .graphml or node-link .json)")
    return graph_journey(g, str(path))


# -- drawings: Mermaid and DOT -----------------------------------------------------------------


def _clustered(journey: Journey, node: Callable[[str], str], opening: Callable[[int, str], str],
               closing: str) -> list[str]:
    """Node lines of a drawing: each stage's touchpoints inside its cluster, in stage order, then the unstaged."""
    lines = []
    staged = set()
    for i, stage in enumerate(journey.stage_names()):
        members = [n for n in journey.names if journey.touchpoints[n].stage == stage]
        if members:
            lines.append(f"  {opening(i, stage)}")
            lines += [f"    {node(n)}" for n in members]
            lines.append(f"  {closing}")
            staged.update(members)
    return lines + [f"  {node(n)}" for n in journey.names if n not in staged]


def _arcs(journey: Journey) -> Iterator[tuple[str, str | None, float]]:
    """``(from, to, p)`` for every edge, row by row, each row's drop-off (``to`` is ``None``) after its edges."""
    for a in journey.names:
        for b, edge in journey.rows.get(a, {}).items():
            yield a, b, edge.p
        if (x := journey.exit_probability(a)) > 0:
            yield a, None, x


def _mermaid_text(text: str) -> str:
    """A label's text with Mermaid's entity codes (``#<decimal>;``, decoded inside quoted labels) for every
    character that would end or re-interpret the label: quotes, markup, ``%`` and braces (Mermaid finds a
    ``%%{init: ...}%%`` directive anywhere in the text, even inside a label), control characters and line
    separators.

    >>> _mermaid_text('%%{init: {"theme": "dark"}}%%')
    '#37;#37;#123;init: #123;#34;theme#34;: #34;dark#34;#125;#125;#37;#37;'
    """
    return "".join(f"#{ord(c)};" if c in _MERMAID_SPECIAL or ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f else c
                   for c in text)


_MERMAID_SPECIAL = frozenset('"#&<>`\\%{}|\u2028\u2029')


def to_mermaid(journey: Journey) -> str:
    """A Mermaid flowchart: stages as subgraphs, goals rounded, drop-off dashed, edges labelled with p.

    Examples
    --------
    >>> j = Journey.from_rows({'say "hi"': 1.0}, {'say "hi"': {"buy": 0.25}}, goals=["buy"])
    >>> print(to_mermaid(j))
    flowchart LR
      n0["say #34;hi#34;"]
      n1(["buy"])
      dropoff((drop-off))
      n0 -->|"0.25"| n1
      n0 -.->|"0.75"| dropoff
      n1 -.->|"1"| dropoff
    """
    ids = {name: f"n{i}" for i, name in enumerate(journey.names)}
    lines = []
    if journey.name:
        # A YAML string with every non-ASCII character and "%" escaped: no directive, no line break.
        title = json.dumps(journey.name, ensure_ascii=True).replace("%", "\\u0025")
        lines += ["---", f"title: {title}", "---"]
    lines.append("flowchart LR")

    def node(name: str) -> str:
        label = f'"{_mermaid_text(name)}"'
        return f"{ids[name]}([{label}])" if journey.touchpoints[name].goal else f"{ids[name]}[{label}]"

    lines += _clustered(journey, node, lambda i, stage: f'subgraph s{i}["{_mermaid_text(stage)}"]', "end")
    lines.append("  dropoff((drop-off))")
    for a, b, p in _arcs(journey):
        lines.append(f'  {ids[a]} -->|"{p:.4g}"| {ids[b]}' if b is not None else f'  {ids[a]} -.->|"{p:.4g}"| dropoff')
    return "\n".join(lines)


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")


def to_dot(journey: Journey) -> str:
    """A Graphviz digraph: stages as clusters, goals double-bordered, pen width by probability.

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"])
    >>> print(to_dot(j))
    digraph journey {
      graph [rankdir=LR, label=""];
      node [shape=box, style=rounded];
      n0 [label="ad"];
      n1 [label="buy", peripheries=2];
      dropoff [label="drop-off", shape=plaintext];
      n0 -> n1 [label="0.25", penwidth=2];
      n0 -> dropoff [label="0.75", style=dashed];
      n1 -> dropoff [label="1", style=dashed];
    }
    """
    ids = {name: f"n{i}" for i, name in enumerate(journey.names)}

    def node(name: str) -> str:
        goal = ", peripheries=2" if journey.touchpoints[name].goal else ""
        return f'{ids[name]} [label="{_dot_text(name)}"{goal}];'

    lines = ["digraph journey {", f'  graph [rankdir=LR, label="{_dot_text(journey.name)}"];',
             "  node [shape=box, style=rounded];"]
    lines += _clustered(journey, node, lambda i, stage: f'subgraph cluster_{i} {{ label="{_dot_text(stage)}";', "}")
    lines.append('  dropoff [label="drop-off", shape=plaintext];')
    for a, b, p in _arcs(journey):
        lines.append(f'  {ids[a]} -> {ids[b]} [label="{p:.4g}", penwidth={1 + 4 * p:.3g}];' if b is not None
                     else f'  {ids[a]} -> dropoff [label="{p:.4g}", style=dashed];')
    lines.append("}")
    return "\n".join(lines)


def export_journey(journey: Journey, to: str) -> str:
    """The map in one of :data:`EXPORT_FORMATS`, as text (``journeysim export``; ``journeysim.export``).

    Parameters
    ----------
    journey : Journey
    to : {"mermaid", "dot", "graphml", "json"}
        Mermaid and DOT are drawings; GraphML and node-link JSON carry the whole map
        and read back with :func:`import_journey`.

    Returns
    -------
    str

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.25}}, goals=["buy"])
    >>> export_journey(j, "mermaid").splitlines()[0]
    'flowchart LR'
    """
    writers = {"mermaid": to_mermaid, "dot": to_dot, "graphml": to_graphml, "json": to_json}
    if to not in writers:
        raise MapError(f"unknown export format {excerpt(to)} (allowed: {', '.join(EXPORT_FORMATS)})")
    text = writers[to](journey)
    return text if text.endswith("\n") else text + "\n"
