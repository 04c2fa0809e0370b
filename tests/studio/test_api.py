"""The studio's HTTP API, in process: every endpoint, bad maps, names outside the folder, saves that keep comments."""

from __future__ import annotations

import copy
import difflib
import io
import json
from contextlib import redirect_stdout

import numpy as np
import pytest

from journeysim.cli import main
from journeysim.engines.exact import solve_exact
from journeysim.maps.read import check_map, read_journey
from journeysim.whatif.hypothesis import load_hypothesis
from journeysim.whatif.prediction import predict

from tests.conftest import BUNDLED_MAPS
from tests.studio.conftest import TOKEN, make_client

WRITE = {"x-studio-token": TOKEN}


def cli_json(*argv) -> dict:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(list(argv)) == 0
    return json.loads(out.getvalue())


def get_map(client, name):
    res = client.get("/api/map", params={"name": name})
    assert res.status_code == 200, res.text
    return res.json(), res.headers["etag"].strip('"')


def test_maps_lists_maps_and_hypotheses_with_their_baselines(client):
    entries = {e["name"]: e for e in client.get("/api/maps").json()["entries"]}
    assert {n for n, e in entries.items() if e["kind"] == "map"} == {p.name for p in BUNDLED_MAPS}
    assert entries["hypotheses/live-chat.yaml"] == {
        "name": "hypotheses/live-chat.yaml", "kind": "hypothesis",
        "title": "Live chat at checkout cuts cart abandonment", "baseline": "online-store.yaml"}
    assert entries["online-store.yaml"]["title"] == "Online store"


def test_one_map_lists_itself_and_its_hypotheses(folder):
    client = make_client(folder / "hypotheses" / ".." / "online-store.yaml")
    body = client.get("/api/maps").json()
    assert body["single"] == "online-store.yaml"
    assert [e["name"] for e in body["entries"]] == ["online-store.yaml"]   # hypotheses live in a subfolder
    assert client.get("/api/map").json()["name"] == "Online store"           # no name: the one map


@pytest.mark.parametrize("path", BUNDLED_MAPS, ids=lambda p: p.name)
def test_evaluate_is_the_exact_engines_simulate_json(client, path):
    data, _ = get_map(client, path.name)
    res = client.post(f"/api/evaluate?name={path.name}", json=data)
    assert res.status_code == 200
    assert res.json() == cli_json("simulate", str(path), "--json")


def test_evaluate_answers_an_edit_with_the_edited_maps_numbers(client):
    data, _ = get_map(client, "online-store.yaml")
    data["transitions"]["cart"]["purchase"] = 0.7
    got = client.post("/api/evaluate", json=data).json()["conversion_rate"]
    assert got == solve_exact(read_journey(data)).conversion_rate
    assert got > client.post("/api/evaluate", json=get_map(client, "online-store.yaml")[0]).json()["conversion_rate"]


def test_bad_maps_get_422_with_validates_messages(client, folder, monkeypatch):
    data, _ = get_map(client, "online-store.yaml")
    data["transitions"]["cart"]["purchase"] = 0.95                 # row 1.05
    data["touchpoints"]["reviews"]["stage"] = "consideratoin"
    res = client.post("/api/evaluate?name=online-store.yaml", json=data)
    assert res.status_code == 422
    bad = folder / "bad" / "online-store.yaml"
    bad.parent.mkdir()
    bad.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.chdir(bad.parent)
    assert res.json()["errors"] == list(check_map("online-store.yaml").errors)
    assert "online-store.yaml: touchpoint 'cart': transitions sum to 1.05 (must be at most 1)" in res.json()["errors"]
    assert client.post("/api/evaluate", content=b"{not json").status_code == 400
    assert client.post("/api/flows", json={"touchpoints": {}}).status_code == 422


def test_flows_are_expected_traversals_and_warnings(client):
    data, _ = get_map(client, "online-store.yaml")
    flows = {(a, b): f for a, b, f in client.post("/api/flows", json=data).json()["flows"]}
    assert flows[("search ad", "product page")] == pytest.approx(0.6 * 0.35)
    data["touchpoints"]["island"] = {"stage": "advocacy"}
    warnings = client.post("/api/flows?name=m.yaml", json=data).json()["warnings"]
    assert any("island" in w for w in warnings)


OUTSIDE = ["../online-store.yaml", "/etc/passwd", "hypotheses/../../x.yaml", "..\\x.yaml", ".hidden.yaml",
           "notes.txt", "a\x00.yaml"]


@pytest.mark.parametrize("name", OUTSIDE)
def test_names_outside_the_folder_are_refused(client, name):
    assert client.get("/api/map", params={"name": name}).status_code == 403
    res = client.post("/api/save", headers=WRITE, json={"name": name, "map": {}})
    assert res.status_code == 403 and res.json()["errors"]
    assert client.post("/api/predict", json={"name": name}).status_code == 403


def test_a_link_leading_out_of_the_folder_is_refused(client, folder, tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("touchpoints: {a: {}}\n", encoding="utf-8")
    (folder / "link.yaml").symlink_to(secret)
    res = client.get("/api/map", params={"name": "link.yaml"})
    assert res.status_code == 403 and "outside" in res.json()["errors"][0]
    assert client.get("/api/map", params={"name": "missing.yaml"}).status_code == 404
    assert client.get("/api/map", params={"name": "hypotheses/live-chat.yaml"}).status_code == 422


def test_foreign_host_or_origin_is_refused(client):
    assert client.get("/api/maps").status_code == 200
    assert client.get("/api/maps", headers={"origin": "http://127.0.0.1:8765"}).status_code == 200
    for headers in ({"origin": "http://evil.example"}, {"origin": "null"}, {"host": "evil.example:8765"},
                    {"host": "127.0.0.1:9999"}, {"sec-fetch-site": "cross-site"}):
        res = client.post("/api/save", headers={**WRITE, **headers}, json={"name": "online-store.yaml", "map": {}})
        assert res.status_code == 403, headers
    assert "content-security-policy" in client.get("/").headers


def test_save_needs_the_token(client, folder):
    data, rev = get_map(client, "online-store.yaml")
    before = (folder / "online-store.yaml").read_bytes()
    for headers in ({}, {"x-studio-token": "wrong"}):
        res = client.post("/api/save", headers=headers, json={"name": "online-store.yaml", "map": data})
        assert res.status_code == 403
    assert (folder / "online-store.yaml").read_bytes() == before
    assert not (folder / "online-store.yaml.bak").exists()


def test_save_keeps_comments_and_layout_byte_for_byte_outside_the_edited_lines(client, folder):
    path = folder / "online-store.yaml"
    before = path.read_text(encoding="utf-8")
    data, rev = get_map(client, "online-store.yaml")
    data["transitions"]["cart"]["purchase"] = 0.7
    data["touchpoints"]["purchase"]["value"] = 45
    res = client.post("/api/save", headers=WRITE, json={"name": "online-store.yaml", "map": data, "revision": rev})
    assert res.status_code == 200, res.text
    assert res.json()["method"] == "spliced" and res.json()["backup"] == "online-store.yaml.bak"
    after = path.read_text(encoding="utf-8")
    diff = difflib.ndiff(before.splitlines(), after.splitlines())
    changed = [line[0] + line[2:] for line in diff if line[:1] in "+-"]
    assert changed == [
        "-  purchase:     {stage: purchase, goal: true, value: 40}",
        "+  purchase:     {stage: purchase, goal: true, value: 45}",
        "-  cart:         {purchase: 0.6, product page: 0.1}",
        "+  cart:         {purchase: 0.7, product page: 0.1}",
    ]
    assert (folder / "online-store.yaml.bak").read_text(encoding="utf-8") == before
    assert res.json()["revision"] == get_map(client, "online-store.yaml")[1]
    # The old revision is stale now: a second save from it is refused, and nothing is written.
    again = client.post("/api/save", headers=WRITE, json={"name": "online-store.yaml", "map": data, "revision": rev})
    assert again.status_code == 409 and path.read_text(encoding="utf-8") == after


def test_save_keeps_comments_when_touchpoints_and_edges_come_and_go(client, folder):
    path = folder / "online-store-live-chat.yaml"
    before = path.read_text(encoding="utf-8")
    data, rev = get_map(client, path.name)
    del data["transitions"]["live chat"]["product page"]
    data["touchpoints"]["callback"] = {"stage": "purchase", "delay": 0.5}
    data["transitions"]["callback"] = {"purchase": 0.3}
    data["transitions"]["cart"]["callback"] = 0.05
    res = client.post("/api/save", headers=WRITE, json={"name": path.name, "map": data, "revision": rev})
    assert res.status_code == 200, res.text
    after = path.read_text(encoding="utf-8")
    comments = lambda text: [line[line.index("#"):] for line in text.splitlines() if "#" in line]  # noqa: E731
    assert comments(after) == comments(before)
    assert get_map(client, path.name)[0] == data


def test_an_invalid_map_is_never_written(client, folder):
    data, rev = get_map(client, "online-store.yaml")
    data["transitions"]["cart"]["purchase"] = 0.95
    before = (folder / "online-store.yaml").read_bytes()
    res = client.post("/api/save", headers=WRITE, json={"name": "online-store.yaml", "map": data, "revision": rev})
    assert res.status_code == 422 and "transitions sum to 1.05" in res.json()["errors"][0]
    assert (folder / "online-store.yaml").read_bytes() == before


def test_hypothesis_from_edits_predicts_the_edited_map_exactly(client, folder):
    data, rev = get_map(client, "online-store.yaml")
    edited = copy.deepcopy(data)
    edited["transitions"]["cart"]["purchase"] = 0.7
    edited["transitions"]["reviews"]["cart"] = 0.25
    edited["touchpoints"]["purchase"]["value"] = 45
    body = {"name": "online-store.yaml", "revision": rev, "map": edited, "save_as": "hypotheses/checkout.yaml",
            "title": "Checkout fixes", "metric": "expected_value"}
    draft = client.post("/api/hypothesis", json=body).json()
    assert [n["label"] for n in draft["numbers"]] == ["purchase: value", "reviews → cart", "cart → purchase"]
    saved = client.post("/api/save", headers=WRITE,
                        json={"name": "hypotheses/checkout.yaml", "hypothesis": draft["hypothesis"]})
    assert saved.status_code == 200, saved.text
    hyp = load_hypothesis(folder / "hypotheses" / "checkout.yaml", within=folder)   # the studio's folder
    assert hyp.baseline_path.endswith("online-store.yaml")
    exact = solve_exact(read_journey(edited))
    variant = solve_exact(hyp.variant())
    assert variant.expected_value == pytest.approx(exact.expected_value, rel=1e-12)
    assert variant.conversion_rate == pytest.approx(exact.conversion_rate, rel=1e-12)
    # A second write under the same name needs overwrite, and keeps the old file.
    again = client.post("/api/save", headers=WRITE,
                        json={"name": "hypotheses/checkout.yaml", "hypothesis": draft["hypothesis"]})
    assert again.status_code == 409
    over = client.post("/api/save", headers=WRITE,
                       json={"name": "hypotheses/checkout.yaml", "hypothesis": draft["hypothesis"], "overwrite": True})
    assert over.json()["backup"] == "hypotheses/checkout.yaml.bak"


def test_hypothesis_ranges_and_their_refusals(client):
    data, rev = get_map(client, "online-store.yaml")
    edited = copy.deepcopy(data)
    edited["transitions"]["cart"]["purchase"] = 0.7
    body = {"name": "online-store.yaml", "map": edited, "save_as": "h.yaml", "title": "T",
            "uncertain": [{"path": ["transitions", "cart", "purchase"], "spec": "[0.65, 0.75]"}]}
    draft = client.post("/api/hypothesis", json=body).json()
    assert draft["hypothesis"]["changes"][0] == {
        "set": {"from": "cart", "to": "purchase", "p": [0.65, 0.75], "balance": "exit"}}
    assert "p: [0.65, 0.75], balance: exit" in draft["yaml"]
    body["uncertain"][0]["spec"] = "[0.65, 0.95]"                 # 0.95 + 0.1 > 1 at the high end
    res = client.post("/api/hypothesis", json=body)
    assert res.status_code == 422 and "at the high end of its range" in res.json()["errors"][0]
    res = client.post("/api/hypothesis", json={**body, "map": data, "uncertain": []})
    assert res.status_code == 422 and "no edits" in res.json()["errors"][0]


def test_predict_by_name_is_predict_json(client, folder):
    res = client.post("/api/predict", json={"name": "hypotheses/live-chat.yaml", "draws": 300, "seed": 7})
    assert res.status_code == 200
    expected = predict(load_hypothesis(folder / "hypotheses" / "live-chat.yaml", within=folder), draws=300,
                       rng=np.random.default_rng(7), seed=7)
    assert res.json() == json.loads(json.dumps(expected.to_dict()))


def test_predict_a_hypothesis_sent_with_its_map(client):
    data, _ = get_map(client, "online-store.yaml")
    hyp = {"hypothesis": "More carts", "changes": [{"set": {"from": "product page", "to": "cart", "p": [0.3, 0.35]}}]}
    res = client.post("/api/predict", json={"hypothesis": hyp, "map": data, "draws": 200, "seed": 1})
    body = res.json()
    assert res.status_code == 200 and body["hypothesis"] == "More carts"
    low, high = body["lift_abs_interval"]
    assert 0 < low < body["lift_abs"] < high
    bad = client.post("/api/predict", json={"hypothesis": {"changes": [{"set": {"from": "x", "to": "cart", "p": 1}}]},
                                            "map": data})
    assert bad.status_code == 422 and "unknown touchpoint 'x'" in bad.json()["errors"][0]
    assert client.post("/api/predict", json={"name": "hypotheses/live-chat.yaml", "draws": 0}).status_code == 422


def test_background_prediction_progress_and_test_design(client):
    res = client.post("/api/predict", json={"name": "hypotheses/live-chat.yaml", "draws": 400, "seed": 3,
                                            "background": True})
    assert res.status_code == 202
    job = res.json()["job"]
    done = client.app.state.jobs.wait(job, timeout=120)
    status = client.get(f"/api/predict/{job}").json()
    assert done.state == "done" and status["state"] == "done" and status["progress"] == 1.0
    assert status["plot"].startswith("data:image/png;base64,")
    assert status["prediction"]["lift_rel_interval"][0] < status["prediction"]["lift_rel_interval"][1]
    design = client.post("/api/design", json={"job": job, "traffic": "2000/day"}).json()
    expected = cli_json("design", "--baseline", repr(status["prediction"]["baseline"]), "--lift",
                        repr(status["prediction"]["lift_abs"]), "--traffic", "2000/day", "--json")
    assert design["n_per_arm"] == expected["n_per_arm"] and design["days"] == expected["days"]
    assert 0 < design["assurance"] < 1
    assert client.get("/api/predict/nope").status_code == 404
    assert client.post("/api/design", json={"job": job, "traffic": "lots"}).status_code == 422


def test_the_page_carries_the_token_and_no_inline_script(client):
    page = client.get("/").text
    assert f'content="{TOKEN}"' in page and "<script>" not in page
    assert client.get("/static/vendor/graphviz.js").headers["content-type"].startswith(("text/javascript",
                                                                                       "application/javascript"))


def test_studio_command_refuses_bad_input(folder, capsys):
    assert main(["studio", str(folder / "nope"), "--no-browser"]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["studio", str(folder), "--port", "70000", "--no-browser"]) == 2
