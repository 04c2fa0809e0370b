"""The studio's HTTP API against careless and hostile requests: each gets a one-line 4xx, never a 500 or a write
the user did not ask for."""

from __future__ import annotations

import asyncio
import copy
import json
import threading

import pytest
from starlette.testclient import TestClient

from journeysim.studio import app as studio_app
from journeysim.studio.app import create_app
from journeysim.studio.workspace import Workspace

from tests.studio.conftest import TOKEN, start_studio

WRITE = {"x-studio-token": TOKEN}
CHANGE = [{"set": {"from": "cart", "to": "purchase", "p": 0.7}}]


@pytest.fixture
def client(folder):
    # A 500 must come back as an answer, to be asserted on, not as the server's exception.
    return TestClient(create_app(Workspace(folder), token=TOKEN), base_url="http://127.0.0.1:8765",
                      raise_server_exceptions=False)


def get_map(client, name="online-store.yaml"):
    res = client.get("/api/map", params={"name": name})
    return res.json(), res.headers["etag"].strip('"')


def one_error(res, status):
    assert res.status_code == status, res.text
    errors = res.json()["errors"]
    assert len(errors) == 1 and "\n" not in errors[0] and "Traceback" not in errors[0]
    return errors[0]


def test_json_nested_too_deep_is_a_400_not_a_500(client):
    for path in ("/api/evaluate", "/api/flows", "/api/hypothesis", "/api/predict", "/api/design"):
        assert "nested too deeply" in one_error(client.post(path, content=b"[" * 100_000), 400)


def test_a_body_without_a_length_is_cut_off_at_the_limit(monkeypatch):
    """A chunked body is refused once it passes the limit, not read whole into memory first."""
    monkeypatch.setattr(studio_app, "MAX_BODY", 10_000)
    app = create_app(Workspace("scenarios"), token=TOKEN)
    sent, answer = [0], {}

    async def receive():
        sent[0] += 1
        return {"type": "http.request", "body": b" " * 1000, "more_body": sent[0] < 1000}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] = answer.get("body", b"") + message.get("body", b"")

    scope = {"type": "http", "method": "POST", "path": "/api/evaluate", "raw_path": b"/api/evaluate",
             "query_string": b"", "headers": [(b"host", b"127.0.0.1:8765")], "http_version": "1.1",
             "scheme": "http", "server": ("127.0.0.1", 8765), "client": ("127.0.0.1", 5000), "root_path": ""}
    asyncio.run(app(scope, receive, send))
    assert answer["status"] == 413 and "larger than 10_000 bytes" in answer["body"].decode()
    assert sent[0] <= 11


@pytest.mark.parametrize("body, key", [
    ({"baseline": "0.1", "lift": 0.01}, "baseline"),
    ({"baseline": 0.1, "lift": None}, "lift"),
    ({"baseline": 0.1, "lift": 0.01, "alpha": "x"}, "alpha"),
    ({"baseline": 0.1, "lift": 0.01, "power": [0.8]}, "power"),
    ({"baseline": 0.1, "lift": 0.01, "relative": "yes"}, "relative"),
])
def test_design_with_a_wrong_type_is_a_422(client, body, key):
    assert one_error(client.post("/api/design", json=body), 422).startswith(f"{key}=")


@pytest.mark.parametrize("uncertain", [5, {"path": ["transitions", "cart", "purchase"]},
                                       [{"path": [["transitions"]], "spec": [0.6, 0.8]}]])
def test_hypothesis_with_a_malformed_uncertain_is_a_400(client, uncertain):
    data, rev = get_map(client)
    data["transitions"]["cart"]["purchase"] = 0.7
    res = client.post("/api/hypothesis", json={"name": "online-store.yaml", "map": data, "uncertain": uncertain})
    assert "uncertain" in one_error(res, 400)


def test_predict_without_a_hypothesis_says_what_to_send(client):
    for body in ({}, {"name": 5}):
        assert "'name'" in one_error(client.post("/api/predict", json=body), 400)


def test_a_name_too_long_for_the_file_system_is_refused_in_one_line(client, folder):
    name = "x" * 300 + ".yaml"
    assert "too long" in one_error(client.get("/api/map", params={"name": name}), 403)
    res = client.post("/api/save", headers=WRITE, json={"name": name, "hypothesis": {
        "hypothesis": "t", "baseline": "online-store.yaml", "changes": CHANGE}})
    assert "too long" in one_error(res, 403)


def test_a_map_save_must_name_the_revision_it_was_edited_from(client, folder):
    """A script that leaves the revision out must not overwrite a file someone changed on disk since."""
    path = folder / "online-store.yaml"
    data, rev = get_map(client)
    path.write_text(path.read_text(encoding="utf-8") + "# changed by hand\n", encoding="utf-8")
    newer = path.read_bytes()
    data["transitions"]["cart"]["purchase"] = 0.7
    for extra in ({}, {"revision": None}, {"revision": 5}):
        res = client.post("/api/save", headers=WRITE, json={"name": "online-store.yaml", "map": data, **extra})
        assert "revision" in one_error(res, 400)
    assert one_error(client.post("/api/save", headers=WRITE, json={"name": "online-store.yaml", "map": data,
                                                                   "revision": rev}), 409)
    assert path.read_bytes() == newer and not (folder / "online-store.yaml.bak").exists()


def test_a_map_deleted_since_it_was_read_is_not_written_again(client, folder):
    data, rev = get_map(client)
    (folder / "online-store.yaml").unlink()
    res = client.post("/api/save", headers=WRITE, json={"name": "online-store.yaml", "map": data, "revision": rev})
    assert "no such file" in one_error(res, 404)
    assert not (folder / "online-store.yaml").exists() and not (folder / "online-store.yaml.bak").exists()


def test_concurrent_saves_from_one_revision_only_one_is_written(folder):
    """Eight pages saving at once from the same revision: one wins, the others get 409, the file is the winner's."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx2 as httpx

    live = start_studio(folder)
    try:
        res = httpx.get(f"{live.url}/api/map", params={"name": "online-store.yaml"})
        data, rev = res.json(), res.headers["etag"].strip('"')

        def save(i):
            edited = copy.deepcopy(data)
            edited["transitions"]["cart"]["purchase"] = 0.3 + i / 100
            return i, httpx.post(f"{live.url}/api/save", headers=WRITE, timeout=60,
                                 json={"name": "online-store.yaml", "map": edited, "revision": rev})

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(save, range(8)))
        winners = [i for i, r in answers if r.status_code == 200]
        assert len(winners) == 1 and sorted(r.status_code for _, r in answers) == [200] + [409] * 7
        saved = httpx.get(f"{live.url}/api/map", params={"name": "online-store.yaml"}).json()
        assert saved["transitions"]["cart"]["purchase"] == 0.3 + winners[0] / 100
        assert [p.name for p in folder.glob(".*.tmp")] == []
    finally:
        live.stop()


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_hypothesis_never_replaces_a_map(client, folder, overwrite):
    before = (folder / "online-store.yaml").read_bytes()
    hyp = {"hypothesis": "t", "baseline": "online-store.yaml", "changes": CHANGE}
    res = client.post("/api/save", headers=WRITE, json={"name": "online-store.yaml", "hypothesis": hyp,
                                                          "overwrite": overwrite})
    assert "is a map" in one_error(res, 422)
    assert (folder / "online-store.yaml").read_bytes() == before and not (folder / "online-store.yaml.bak").exists()


def test_overwrite_must_be_true_or_false(client, folder):
    hyp = {"hypothesis": "t", "baseline": "../online-store.yaml", "changes": CHANGE}
    res = client.post("/api/save", headers=WRITE, json={"name": "hypotheses/live-chat.yaml", "hypothesis": hyp,
                                                          "overwrite": "no"})
    assert "overwrite" in one_error(res, 400)
    assert "Live chat" in (folder / "hypotheses" / "live-chat.yaml").read_text(encoding="utf-8")


def test_a_backup_that_is_a_link_is_replaced_not_written_through(client, folder):
    """``NAME.yaml.bak`` linking to another map of the folder: the save must not overwrite that map."""
    other = folder / "b2b-hourglass.yaml"
    before = other.read_bytes()
    (folder / "online-store.yaml.bak").symlink_to("b2b-hourglass.yaml")
    original = (folder / "online-store.yaml").read_bytes()
    data, rev = get_map(client)
    data["transitions"]["cart"]["purchase"] = 0.7
    res = client.post("/api/save", headers=WRITE, json={"name": "online-store.yaml", "map": data, "revision": rev})
    assert res.status_code == 200, res.text
    assert other.read_bytes() == before
    backup = folder / "online-store.yaml.bak"
    assert not backup.is_symlink() and backup.read_bytes() == original


def _chain(n: int) -> dict:
    return {"entry": {"t0": 1}, "touchpoints": {f"t{i}": {"goal": i == n - 1} for i in range(n)},
            "transitions": {f"t{i}": {f"t{i + 1}": 0.5} for i in range(n - 1)}}


def test_a_map_too_large_to_recompute_on_every_edit_is_refused_in_one_line(client, monkeypatch):
    monkeypatch.setattr(studio_app, "MAX_TOUCHPOINTS", 50)
    big = _chain(51)
    for path in ("/api/evaluate?name=big.yaml", "/api/flows?name=big.yaml"):
        message = one_error(client.post(path, json=big), 413)
        assert message.startswith("big.yaml: 51 touchpoints") and "journeysim simulate" in message
    assert client.post("/api/evaluate", json=_chain(50)).status_code == 200


def _slowed(monkeypatch, owner, attribute):
    """``owner.attribute`` made to wait, once called, until the returned ``release`` is set."""
    release, started = threading.Event(), threading.Event()
    original = getattr(owner, attribute)

    def slow(*args, **kwargs):
        started.set()
        release.wait(60)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, attribute, slow)
    return started, release


@pytest.mark.parametrize("slow_part", ["solving a map", "listing the folder"])
def test_the_studio_answers_while_slow_work_runs(folder, monkeypatch, slow_part):
    """Slow work (a large map, a folder of many documents) runs beside the server: other requests still answer."""
    import httpx2 as httpx

    if slow_part == "solving a map":
        started, release = _slowed(monkeypatch, studio_app, "evaluate_map")
        slow = lambda url: httpx.post(f"{url}/api/evaluate", json=_chain(3), timeout=60)  # noqa: E731
        quick = lambda url: httpx.get(f"{url}/api/maps", timeout=30)                      # noqa: E731
    else:
        started, release = _slowed(monkeypatch, Workspace, "entries")
        slow = lambda url: httpx.get(f"{url}/api/maps", timeout=60)                       # noqa: E731
        quick = lambda url: httpx.post(f"{url}/api/evaluate", json=_chain(3), timeout=30)  # noqa: E731
    live = start_studio(folder)
    try:
        answer = {}
        worker = threading.Thread(target=lambda: answer.update(res=slow(live.url)))
        worker.start()
        assert started.wait(60)
        try:
            assert quick(live.url).status_code == 200
        finally:
            release.set()
            worker.join(60)
        assert answer["res"].status_code == 200
    finally:
        live.stop()


def test_nan_and_infinity_in_a_map_are_refused_by_name(client):
    data, _ = get_map(client)
    text = json.dumps(data).replace('"purchase": 0.6', '"purchase": NaN')
    message = one_error(client.post("/api/evaluate?name=m.yaml", content=text.encode()), 422)
    assert message.startswith("m.yaml: touchpoint 'cart': edge to 'purchase'") and "nan" in message


def test_only_a_followed_link_to_the_page_itself_passes_cross_site(client):
    link = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
    assert client.get("/", headers=link).status_code == 200
    assert client.get("/api/maps", headers=link).status_code == 403
    assert client.get("/api/map", params={"name": "online-store.yaml"}, headers=link).status_code == 403
    assert client.get("/", headers={**link, "sec-fetch-mode": "no-cors", "sec-fetch-dest": "iframe"}).status_code == 403
    assert client.post("/", headers=link).status_code == 403
    assert client.get("/", headers={**link, "host": "evil.example:8765"}).status_code == 403


def test_names_yaml_reads_specially_are_saved_into_the_text_and_read_back(client, folder):
    """Quotes, newlines, YAML's own marks, words YAML 1.1 reads as booleans and U+2028 (a line break to YAML)."""
    names = ['a"b', "a\nb", "#c", "*alias", "&anchor", "- x", ": y", "no", "null", "1e3", "c\u2028d", "e\u2029f",
             "g\x85h", "<img src=x onerror=alert(1)>"]
    path = folder / "online-store.yaml"
    before = path.read_text(encoding="utf-8")
    data, rev = get_map(client)
    data["transitions"]["cart"]["purchase"] = 0.1
    for name in names:
        data["touchpoints"][name] = {"stage": "purchase", "channel": name}
        data["transitions"]["cart"][name] = 0.02
        data["transitions"][name] = {"purchase": 0.5}
    res = client.post("/api/save", headers=WRITE, json={"name": "online-store.yaml", "map": data, "revision": rev})
    assert res.status_code == 200 and res.json()["method"] == "spliced", res.text
    assert get_map(client)[0] == data
    after = path.read_text(encoding="utf-8").splitlines()
    assert [line for line in before.splitlines() if line not in after] == [
        "  cart:         {purchase: 0.6, product page: 0.1}"]


def test_a_hypothesis_is_not_written_over_a_folder_or_a_pipe(client, folder):
    import os

    (folder / "dir.yaml").mkdir()
    os.mkfifo(folder / "pipe.yaml")       # reading it for a backup would wait for a writer for ever
    hyp = {"hypothesis": "t", "baseline": "online-store.yaml", "changes": CHANGE}
    for name in ("dir.yaml", "pipe.yaml"):
        res = client.post("/api/save", headers=WRITE, json={"name": name, "hypothesis": hyp, "overwrite": True})
        assert "is not a file" in one_error(res, 422)
        assert "not a file" in one_error(client.get("/api/map", params={"name": name}), 404)
    assert (folder / "dir.yaml").is_dir() and not (folder / "dir.yaml.bak").exists()


def test_a_document_too_large_to_edit_is_listed_and_refused_without_being_read(client, folder, monkeypatch):
    from journeysim.studio import workspace

    monkeypatch.setattr(workspace, "_MAX_BYTES", 1000)
    (folder / "huge.yaml").write_text("touchpoints:\n" + "".join(f"  t{i}: {{}}\n" for i in range(200)),
                                      encoding="utf-8")
    listed = {e["name"]: e for e in client.get("/api/maps").json()["entries"]}
    assert listed["huge.yaml"]["problems"] == [
        "huge.yaml: larger than 1_000 bytes: not a map the studio edits (journeysim simulate and validate read it)"]
    assert one_error(client.get("/api/map", params={"name": "huge.yaml"}), 422) == listed["huge.yaml"]["problems"][0]


def test_listening_beyond_this_machine_warns_that_others_can_change_the_maps(folder, monkeypatch):
    """Whoever can load the page gets the token with it: the warning must not promise that writes are safe."""
    import io

    import uvicorn

    from journeysim.studio.server import serve

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    out = io.StringIO()
    assert serve(folder, host="0.0.0.0", port=0, open_browser=False, out=out) == 0
    warning = next(line for line in out.getvalue().splitlines() if line.startswith("warning:"))
    assert "read and change the maps" in warning and "token" not in warning
    out = io.StringIO()
    serve(folder, host="127.0.0.1", port=0, open_browser=False, out=out)
    assert "warning" not in out.getvalue()


def test_a_folder_that_cannot_be_written_gets_one_line_and_no_file(client, folder, monkeypatch):
    """As a read-only folder does (the tests may run as root, whom permissions do not stop)."""
    import journeysim._files as files

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", denied)
    before = sorted(p.name for p in folder.rglob("*"))
    data, rev = get_map(client)
    data["transitions"]["cart"]["purchase"] = 0.7
    res = client.post("/api/save", headers=WRITE, json={"name": "online-store.yaml", "map": data, "revision": rev})
    assert one_error(res, 422).endswith("cannot write (Permission denied)")
    hyp = {"hypothesis": "t", "baseline": "../online-store.yaml", "changes": CHANGE}
    res = client.post("/api/save", headers=WRITE, json={"name": "hypotheses/new.yaml", "hypothesis": hyp})
    assert one_error(res, 422).endswith("hypotheses/new.yaml: cannot write (Permission denied)")
    assert sorted(p.name for p in folder.rglob("*")) == before
    assert get_map(client)[1] == rev


@pytest.mark.parametrize("name", ["new\nline.yaml", "tab\there.yaml", "bell\x07.yaml", "nel\x85.yaml"])
def test_a_file_name_with_control_characters_is_refused_in_one_line(client, folder, name):
    assert "control characters" in one_error(client.get("/api/map", params={"name": name}), 403)
    res = client.post("/api/save", headers=WRITE, json={"name": name, "hypothesis": {
        "hypothesis": "t", "baseline": "online-store.yaml", "changes": CHANGE}})
    assert "control characters" in one_error(res, 403)
    assert not (folder / name).exists()


def test_the_engines_warnings_come_with_the_numbers_they_explain(client):
    """refers 4 on a page 29% of customers see: the per-seed metrics are unbounded (null); the answer says why."""
    data, _ = get_map(client)
    data["touchpoints"]["product page"]["refers"] = 4
    body = client.post("/api/evaluate?name=online-store.yaml", json=data).json()
    assert body["customers_per_seed"] is None
    assert len(body["warnings"]) == 1 and body["warnings"][0].startswith("referrals sustain themselves through")


def test_a_draft_names_the_map_for_the_maps_problems_and_quotes_a_bad_path(client):
    data, rev = get_map(client)
    edited = copy.deepcopy(data)
    edited["transitions"]["cart"]["purchase"] = 0.95                 # the row sums to 1.05
    body = {"name": "online-store.yaml", "map": edited, "save_as": "hypotheses/h.yaml"}
    assert one_error(client.post("/api/hypothesis", json=body), 422) == \
        "online-store.yaml: touchpoint 'cart': transitions sum to 1.05 (must be at most 1)"
    edited["transitions"]["cart"]["purchase"] = 0.7
    body = {**body, "map": edited, "uncertain": [{"path": ["transitions", "a\nb", "purchase"], "spec": [0.6, 0.8]}]}
    assert one_error(client.post("/api/hypothesis", json=body), 422) == \
        "hypotheses/h.yaml: 'transitions/a\\nb/purchase' is not a number the edits changed"


def test_at_most_two_maps_are_solved_at_once(folder, monkeypatch):
    """A script sending many large maps at once must not have the studio hold a dense solve for each."""
    import httpx2 as httpx

    running, most, lock = [0], [0], threading.Lock()
    two, release = threading.Barrier(3), threading.Event()
    solve = studio_app.evaluate_map

    def counted(data, source):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            first_two = most[0] <= 2 and running[0] <= 2
        if first_two and not release.is_set():
            two.wait(60)
        release.wait(60)
        with lock:
            running[0] -= 1
        return solve(data, source)

    monkeypatch.setattr(studio_app, "evaluate_map", counted)
    live = start_studio(folder)
    try:
        answers = []
        posts = [threading.Thread(target=lambda: answers.append(
            httpx.post(f"{live.url}/api/evaluate", json=_chain(3), timeout=60).status_code)) for _ in range(4)]
        for post in posts:
            post.start()
        two.wait(60)                        # two solves are running
        threading.Event().wait(1.0)         # the other two would have started by now, if nothing held them
        assert most[0] == 2
        release.set()
        for post in posts:
            post.join(60)
        assert answers == [200] * 4 and most[0] == 2
    finally:
        release.set()
        live.stop()


def test_predictions_started_in_a_loop_are_refused_past_the_queue(client, monkeypatch):
    """Eight predictions queued or running: the ninth is told to wait (429), in the background or not."""
    import journeysim.whatif.prediction as prediction
    from journeysim.studio.jobs import WAITING

    hold = threading.Event()
    real = prediction.predict

    def held(*args, **kwargs):
        hold.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(prediction, "predict", held)
    body = {"name": "hypotheses/live-chat.yaml", "draws": 20, "seed": 1}
    try:
        started = [client.post("/api/predict", json={**body, "background": True}) for _ in range(WAITING)]
        assert [r.status_code for r in started] == [202] * WAITING
        assert "wait for one to finish" in one_error(client.post("/api/predict", json={**body, "background": True}),
                                                     429)
        assert one_error(client.post("/api/predict", json=body), 429)
    finally:
        hold.set()
    for r in started:
        assert client.app.state.jobs.wait(r.json()["job"], timeout=60).state == "done"
    answer = client.post("/api/predict", json=body)
    assert answer.status_code == 200 and answer.json()["hypothesis"] == "Live chat at checkout cuts cart abandonment"
    assert one_error(client.post("/api/predict", json={**body, "name": "online-store.yaml"}), 403)


def test_a_studio_on_every_address_answers_to_this_machines_ip_addresses(folder):
    """--host 0.0.0.0 is for other machines, which reach it by an IP address: that Host is answered; names
    (a re-pointed one included) and other ports are still refused, and so are other sites' pages."""
    client = TestClient(create_app(Workspace(folder), host="0.0.0.0", port=8765, token=TOKEN),
                        base_url="http://192.168.1.5:8765")
    assert client.get("/api/maps").status_code == 200
    assert client.get("/api/maps", headers={"origin": "http://192.168.1.5:8765"}).status_code == 200
    assert client.get("/api/maps", headers={"host": "[fe80::1]:8765"}).status_code == 200
    for headers in ({"host": "192.168.1.5:9999"}, {"host": "evil.example:8765"}, {"host": "192.168.1.5"},
                    {"origin": "http://evil.example"}, {"origin": "http://192.168.1.6:8765"}):
        assert client.get("/api/maps", headers=headers).status_code == 403, headers
    # Listening on this machine only, an address is not enough.
    local = TestClient(create_app(Workspace(folder), host="127.0.0.1", port=8765, token=TOKEN),
                       base_url="http://192.168.1.5:8765")
    assert local.get("/api/maps").status_code == 403
