"""Export to Mermaid, DOT, GraphML and node-link JSON; import back unchanged."""

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeysim import Delay, Edge, Journey, MapError, dump_journey, load_journey
from journeysim.cli import main
from journeysim.maps.convert import (
    export_journey,
    graph_journey,
    import_journey,
    journey_graph,
    to_dot,
    to_graphml,
    to_mermaid,
)

from tests.conftest import BUNDLED_MAPS
from tests.properties.strategies import journeys

ODD_NAMES = ['say "hi"', "a#b;c", "<b>&amp;</b>", "back\\slash", "zvýšenie – ľščťž", "tab\tnew\nline\rcr",
             "emoji 🛒", "`tick`|pipe|", "[x] (y) {z}"]


def round_trip(journey, tmp_path, fmt):
    path = tmp_path / f"map.{fmt}"
    path.write_text(export_journey(journey, fmt), encoding="utf-8")
    return import_journey(path)


def odd_journey():
    names = ODD_NAMES
    rows = {a: {b: 0.3} for a, b in zip(names, names[1:])}
    return Journey.from_rows({names[0]: 1.0}, rows, goals=[names[-1]], name='Map "odd" <&>',
                             touchpoint_attributes={n: {"stage": f"stage {n}"} for n in names[:3]})


@pytest.mark.parametrize("path", BUNDLED_MAPS, ids=lambda p: p.stem)
@pytest.mark.parametrize("fmt", ["graphml", "json"])
def test_bundled_maps_survive_export_and_import(path, fmt, tmp_path):
    journey = load_journey(path)
    assert dump_journey(round_trip(journey, tmp_path, fmt)) == dump_journey(journey)


@given(journeys(segments=True, with_delays=True, refers=True, routes=True, discount=True, service=True), st.data())
def test_random_maps_survive_export_and_import(tmp_path_factory, journey, data):
    counts = data.draw(st.lists(st.floats(0, 1e6), min_size=len(journey.names), max_size=len(journey.names)))
    journey = journey.replace(observations={"entry": 500.0, **dict(zip(journey.names, counts))},
                              stages=("s0", "s1"),
                              touchpoints={n: t.__class__(**{**t.__dict__, "stage": f"s{i % 2}", "channel": n})
                                           for i, (n, t) in enumerate(journey.touchpoints.items())})
    first = next(a for a, row in journey.rows.items() if row)
    target, edge = next(iter(journey.rows[first].items()))
    edge_delay = Delay("gamma", 2.0, data.draw(st.floats(0.1, 3.0)))
    journey = journey.replace(rows={**journey.rows, first: {**journey.rows[first], target: Edge(edge.p, edge_delay)}})
    tmp = tmp_path_factory.mktemp("rt")
    for fmt in ("graphml", "json"):
        assert dump_journey(round_trip(journey, tmp, fmt)) == dump_journey(journey)


@pytest.mark.parametrize("fmt", ["graphml", "json"])
def test_odd_names_and_empty_rows_survive(fmt, tmp_path):
    journey = odd_journey()
    journey = journey.replace(rows={**journey.rows, ODD_NAMES[-1]: {}})   # a row that is all drop-off
    back = round_trip(journey, tmp_path, fmt)
    assert dump_journey(back) == dump_journey(journey)
    assert back.names == journey.names


def test_graph_carries_every_attribute(online_store):
    g = journey_graph(online_store)
    assert g.nodes["product page"]["delay"] == {"dist": "lognormal", "mean": 0.2, "sd": 0.3}
    assert g.edges["newsletter", "product page"] == {"p": 0.3, "delay": 2.0}
    assert g.nodes["search ad"]["entry"] == 0.6 and "entry" not in g.nodes["cart"]
    assert g.graph["segments"]["bargain hunters"]["share"] == 0.3
    assert dump_journey(graph_journey(g)) == dump_journey(online_store)


def test_mermaid_escapes_names():
    text = to_mermaid(odd_journey())
    labels = re.findall(r'\w+\(?\["(.*?)"\]\)?$', text, flags=re.M)
    decoded = [re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), s) for s in labels]
    assert sorted(decoded) == sorted([*ODD_NAMES, *(f"stage {n}" for n in ODD_NAMES[:3])])
    for label in labels:
        assert not set(label) & set('"<>&\n\r\t`')
    assert json.loads(text.splitlines()[1].removeprefix("title: ")) == 'Map "odd" <&>'


def test_dot_escapes_names():
    text = to_dot(odd_journey())
    labels = re.findall(r'label="((?:[^"\\]|\\.)*)"', text)
    unescaped = [re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), s) for s in labels]
    expected = {n.replace("\r", "") for n in ODD_NAMES}
    assert expected <= set(unescaped)
    assert 'Map "odd" <&>' in unescaped
    assert text.count("{") == text.count("}")


def test_graphml_refuses_names_xml_cannot_carry(tmp_path):
    journey = Journey.from_rows({"bell\x07": 1.0}, {"bell\x07": {"buy": 0.5}}, goals=["buy"])
    with pytest.raises(MapError, match=r"touchpoint 'bell\\x07'.*export to json"):
        to_graphml(journey)
    assert dump_journey(round_trip(journey, tmp_path, "json")) == dump_journey(journey)


def test_cli_export_and_import(tmp_path, capsys):
    src = BUNDLED_MAPS[0]
    out = tmp_path / "map.graphml"
    assert main(["export", str(src), "--to", "graphml", "-o", str(out)]) == 0
    assert main(["import", str(out), "-o", str(tmp_path / "back.yaml")]) == 0
    assert dump_journey(load_journey(tmp_path / "back.yaml")) == dump_journey(load_journey(src))
    capsys.readouterr()
    assert main(["export", str(src), "--to", "dot"]) == 0
    assert capsys.readouterr().out.startswith("digraph journey {")


@pytest.mark.parametrize("content, message", [
    ("<graphml", "not a GraphML file"),
    ('<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><key id="d0" for="edge" attr.name="q" '
     'attr.type="double"/><graph edgedefault="directed"><node id="a"/><node id="b"/>'
     '<edge source="a" target="b"><data key="d0">0.5</data></edge></graph></graphml>', "edge 'a' -> 'b': missing"),
    ('<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><key id="d0" for="node" attr.name="delay" '
     'attr.type="string"/><graph edgedefault="directed"><node id="a"><data key="d0">{oops</data></node>'
     '</graph></graphml>', "touchpoint 'a': attribute 'delay' is not JSON"),
])
def test_import_reports_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.graphml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MapError, match=f"{re.escape(str(path))}: .*{re.escape(message)}"):
        import_journey(path)


@pytest.mark.parametrize("name, content, message", [
    ("folder.json", None, "is a folder, not a graph file"),
    ("list.json", "[1, 2]", "not node-link JSON (expected an object with 'nodes' and 'edges', not list)"),
])
def test_import_names_a_folder_or_a_non_object(tmp_path, name, content, message):
    path = tmp_path / name
    if content is None:
        path.mkdir()
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(MapError) as info:
        import_journey(path)
    assert str(info.value) == f"{path}: {message}"


def test_import_validates_the_map_and_writes_nothing(tmp_path, capsys):
    bad = journey_graph(Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}}, goals=["buy"]))
    bad = bad.copy()
    bad.edges["ad", "buy"]["p"] = 1.5
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(__import__("networkx").node_link_data(bad, edges="edges")), encoding="utf-8")
    out = tmp_path / "out.yaml"
    assert main(["import", str(path), "-o", str(out)]) == 1
    assert "touchpoint 'ad': edge to 'buy': probability 1.5 is outside [0, 1]" in capsys.readouterr().err
    assert not out.exists()
    (tmp_path / "map.txt").write_text("x")
    with pytest.raises(MapError, match="unknown graph format '.txt'"):
        import_journey(tmp_path / "map.txt")


def test_import_ignores_what_graph_editors_add_and_refuses_typos(online_store, tmp_path):
    import networkx as nx

    g = journey_graph(online_store).copy()
    for i, node in enumerate(g.nodes):
        g.nodes[node].update(label=node, x=10.0 * i, y=5.0, r=200, g=10, b=10, size=12.0)
    for a, b in g.edges:
        g.edges[a, b]["weight"] = 1.0                      # Gephi writes a weight on every edge
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(nx.node_link_data(g, edges="edges")), encoding="utf-8")
    assert dump_journey(import_journey(path)) == dump_journey(online_store)
    g.nodes["cart"]["chanel"] = "web"
    path.write_text(json.dumps(nx.node_link_data(g, edges="edges")), encoding="utf-8")
    with pytest.raises(MapError, match="touchpoint 'cart': unknown node attribute 'chanel'"):
        import_journey(path)
