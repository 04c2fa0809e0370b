"""Import refuses an edge whose end is not a declared node (networkx would invent the touchpoint)."""

import json

import pytest

from journeysim import Journey, MapError
from journeysim.cli import main
from journeysim.maps.convert import import_journey, to_json

_HEAD = ('<graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
         '<key id="p" for="edge" attr.name="p" attr.type="double"/>'
         '<key id="g" for="node" attr.name="goal" attr.type="boolean"/>'
         '<key id="e" for="node" attr.name="entry" attr.type="double"/>'
         '<graph edgedefault="directed">')


def graphml(body: str) -> str:
    return _HEAD + body + "</graph></graphml>"


# Valid maps but for the undeclared node: before the check, import invented a touchpoint 'page'.
_DECLARED = '<node id="ad"><data key="e">1</data></node><node id="buy"><data key="g">true</data></node>' \
            '<edge source="ad" target="buy"><data key="p">0.3</data></edge>'


@pytest.mark.parametrize("body, message", [
    (_DECLARED + '<edge source="ad" target="page"><data key="p">0.2</data></edge>',
     "edge 'ad' -> 'page': node 'page'"),
    (_DECLARED + '<edge source="page" target="buy"><data key="p">0.2</data></edge>',
     "edge 'page' -> 'buy': node 'page'"),
])
def test_graphml_edge_to_an_undeclared_node(tmp_path, body, message):
    path = tmp_path / "edited.graphml"
    path.write_text(graphml(body), encoding="utf-8")
    with pytest.raises(MapError) as info:
        import_journey(path)
    assert str(info.value) == (f"{path}: {message} is not declared "
                               "(GraphML needs a <node id=...> for every edge end)")


def test_graphml_nodes_may_be_declared_after_their_edges(tmp_path):
    path = tmp_path / "late.graphml"
    late = ('<edge source="ad" target="buy"><data key="p">0.3</data></edge>'
            '<node id="ad"><data key="e">1</data></node><node id="buy"><data key="g">true</data></node>')
    path.write_text(graphml(late), encoding="utf-8")
    assert import_journey(path).rows["ad"]["buy"].p == 0.3


def test_node_link_json_edge_to_an_undeclared_node(tmp_path):
    data = json.loads(to_json(Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.3}}, goals=["buy"])))
    data["edges"].append({"source": "ad", "target": "page", "p": 0.2})
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(MapError) as info:
        import_journey(path)
    assert str(info.value) == (f"{path}: edge 'ad' -> 'page': node 'page' is not declared "
                               "(every edge end must be listed in 'nodes')")


def test_cli_import_exits_1_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "edited.graphml"
    path.write_text(graphml(_DECLARED + '<edge source="ad" target="purchase"><data key="p">0.3</data></edge>'),
                    encoding="utf-8")
    out = tmp_path / "map.yaml"
    assert main(["import", str(path), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == f"{path}: edge 'ad' -> 'purchase': node 'purchase' is not declared " \
                  "(GraphML needs a <node id=...> for every edge end)\n"
    assert not out.exists()


def test_node_link_json_edge_end_that_is_a_list(tmp_path):
    data = json.loads(to_json(Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.3}}, goals=["buy"])))
    data["edges"][0]["source"] = ["ad"]                  # networkx would turn it into a tuple node
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(MapError, match=r"edge \['ad'\] -> 'buy': node \['ad'\] is not declared"):
        import_journey(path)
