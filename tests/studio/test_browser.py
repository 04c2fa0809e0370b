"""The studio's page in real headless Chromium (Debian's, driven by Playwright).

Skipped without Chromium or Playwright on a developer's machine; failed instead under ``CI=true``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from journeysim.engines.exact import solve_exact
from journeysim.maps.read import load_journey, read_journey
from journeysim.whatif.hypothesis import load_hypothesis
from journeysim.whatif.prediction import predict

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture says what is missing
    expect = None

from tests.browser import CHROMIUM_FLAGS, chromium_path, unavailable
from tests.conftest import BUNDLED_MAPS
from tests.studio.conftest import start_studio

HOSTILE = "<img src=x onerror=alert(1)>"
EDITED_CR = '#metrics [data-metric="conversion_rate"] .edited'


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        unavailable("the playwright package is missing: pip install -e '.[test]'")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=executable, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 900})
        yield context
        context.close()


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    import shutil

    from tests.conftest import SCENARIOS

    root = tmp_path_factory.mktemp("studio") / "maps"
    shutil.copytree(SCENARIOS, root, ignore=shutil.ignore_patterns("events", "plans"))
    live = start_studio(root)
    yield live
    live.stop()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    page.problems = []
    page.dialogs = []
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    page.close()


def open_map(page, studio, name):
    page.goto(f"{studio.url}/?name={name}")
    page.wait_for_selector("body[data-ready]", timeout=20_000)
    assert page.evaluate("document.body.dataset.ready") == "map", page.problems


def shown(page, key) -> float:
    cell = page.locator(f'#metrics [data-metric="{key}"] .edited')
    return float(cell.get_attribute("data-value"))


@pytest.mark.parametrize("path", BUNDLED_MAPS, ids=lambda p: p.name)
def test_bundled_maps_render_one_element_per_touchpoint_and_edge(page, studio, path):
    open_map(page, studio, path.name)
    journey = load_journey(path)
    names = [page.locator("[data-touchpoint]").nth(i).get_attribute("data-touchpoint")
             for i in range(page.locator("[data-touchpoint]").count())]
    assert sorted(names) == sorted(journey.names)
    edges = {(a, b) for a, row in journey.rows.items() for b in row}
    edges |= {(a, b) for s in journey.segments.values() for a, row in s.rows.items() for b in row}
    edges_drawn = page.locator("[data-edge-from]")
    drawn = [(edges_drawn.nth(i).get_attribute("data-edge-from"), edges_drawn.nth(i).get_attribute("data-edge-to"))
             for i in range(edges_drawn.count())]
    assert sorted(map(tuple, drawn)) == sorted(edges)
    assert shown(page, "conversion_rate") == solve_exact(journey).conversion_rate
    assert page.problems == []


def test_editing_cart_to_purchase_shows_the_exact_engines_conversion_rate(page, studio):
    open_map(page, studio, "online-store.yaml")
    page.click('[data-edge-from="cart"][data-edge-to="purchase"]')
    box = page.locator('#editor input[type=number][aria-label="probability"]').first
    box.fill("0.7")
    box.press("Enter")
    edited = page.evaluate("fetch('/api/map?name=online-store.yaml').then(r => r.json())")
    edited["transitions"]["cart"]["purchase"] = 0.7
    expected = solve_exact(read_journey(edited)).conversion_rate
    expect(page.locator(EDITED_CR)).to_have_attribute("data-value", repr(expected), timeout=10_000)
    assert shown(page, "conversion_rate") == expected
    baseline = float(page.locator('#metrics [data-metric="conversion_rate"] .baseline').get_attribute("data-value"))
    assert expected > baseline
    assert page.locator('#metrics [data-metric="conversion_rate"] .difference').inner_text().startswith("+")
    assert page.locator('[data-remainder="cart"]').inner_text() == "0.2"
    # A row over 1 is refused inline with validate's message; the numbers stay those of the last good map.
    box = page.locator('#editor input[type=number][aria-label="probability"]').first
    box.fill("0.95")
    box.press("Enter")
    page.wait_for_selector("[data-refusal]", timeout=10_000)
    assert page.locator("[data-refusal]").inner_text() == \
        "online-store.yaml: touchpoint 'cart': transitions sum to 1.05 (must be at most 1)"
    assert shown(page, "conversion_rate") == expected
    # Undo goes back to the baseline's numbers, redo to the edit.
    page.click("#undo")
    expect(page.locator('#metrics [data-metric="conversion_rate"] .difference')).to_have_text("0", timeout=10_000)
    page.click("#redo")
    expect(page.locator(EDITED_CR)).to_have_attribute("data-value", repr(expected), timeout=10_000)
    # The refused edit's 422 is the one failed request Chromium reports.
    assert [p for p in page.problems if "status of 422" not in p] == []


def test_add_and_remove_touchpoints_and_edges_then_save_the_map(page, studio):
    path = studio.root / "online-store-live-chat.yaml"
    before = path.read_text(encoding="utf-8")
    open_map(page, studio, path.name)
    page.click("#add-touchpoint")
    page.fill('#editor input[aria-label="new touchpoint name"]', "callback")
    page.select_option('#editor select[aria-label="stage"]', "purchase")
    page.click("#editor button:text-is('Add')")
    page.wait_for_selector('[data-touchpoint="callback"]', timeout=10_000)
    expect(page.locator("#editor h2")).to_have_text("callback")
    page.select_option('#editor select[aria-label="new edge to"]', "purchase")
    page.click("#editor .field button:text-is('Add')")
    page.wait_for_selector('[data-edge-from="callback"][data-edge-to="purchase"]', timeout=10_000)
    row = page.locator('#editor .edge-row[data-edge-to="purchase"] input[type=number]')
    row.fill("0.3")
    row.press("Enter")
    expect(page.locator('[data-remainder="callback"]')).to_have_text("0.7", timeout=10_000)
    page.select_option('#editor select[aria-label="delay distribution"]', "gamma")
    page.fill('#editor input[aria-label="delay mean"]', "2")
    page.fill('#editor input[aria-label="delay sd"]', "1")
    page.locator('#editor input[aria-label="delay sd"]').press("Enter")
    page.click('[data-touchpoint="live chat"]')
    page.locator('#editor .edge-row[data-edge-to="product page"] button').click()
    page.wait_for_selector('[data-edge-from="live chat"][data-edge-to="product page"]', state="detached", timeout=10_000)
    page.click('[data-touchpoint="reviews"]')
    page.click("#editor button:text-is('Remove this touchpoint')")
    page.wait_for_selector('[data-touchpoint="reviews"]', state="detached", timeout=10_000)
    shown_cr = shown(page, "conversion_rate")
    page.click("#save-map")
    expect(page.locator("#status")).to_contain_text("saved online-store-live-chat.yaml", timeout=10_000)
    saved = load_journey(path)
    assert saved.rows["callback"]["purchase"].p == 0.3 and saved.touchpoints["callback"].delay.dist == "gamma"
    assert "reviews" not in saved.touchpoints and "product page" not in saved.rows["live chat"]
    assert solve_exact(saved).conversion_rate == shown_cr
    comments = lambda text: [line[line.index("#"):] for line in text.splitlines() if "#" in line]  # noqa: E731
    assert comments(path.read_text(encoding="utf-8")) == comments(before)
    assert (studio.root / "online-store-live-chat.yaml.bak").read_text(encoding="utf-8") == before
    assert page.problems == []


def test_save_as_hypothesis_then_predict_shows_an_interval(page, studio):
    open_map(page, studio, "online-store.yaml")
    page.click('[data-edge-from="cart"][data-edge-to="purchase"]')
    box = page.locator('#editor input[type=number][aria-label="probability"]').first
    box.fill("0.7")
    box.press("Enter")
    expect(page.locator("#save-hypothesis")).to_be_enabled(timeout=10_000)
    page.click("#save-hypothesis")
    page.wait_for_selector('#hyp-numbers input[data-path]', timeout=10_000)
    page.fill("#hyp-name", "hypotheses/browser-checkout.yaml")
    page.fill("#hyp-title", "Checkout converts better")
    page.fill('#hyp-numbers input[data-path=\'["transitions","cart","purchase"]\']', "[0.65, 0.75]")
    page.click("#hyp-write")
    page.wait_for_selector("#prediction-pane:not([hidden])", timeout=10_000)
    written = studio.root / "hypotheses" / "browser-checkout.yaml"
    assert "p: [0.65, 0.75], balance: exit" in written.read_text(encoding="utf-8")
    page.fill("#pred-draws", "400")
    page.fill("#pred-seed", "11")
    page.click("#predict")
    page.wait_for_selector("#pred-result:not([hidden])", timeout=60_000)
    expected = predict(load_hypothesis(written, within=studio.root), draws=400, rng=np.random.default_rng(11), seed=11)
    low, high = expected.lift_abs_interval
    text = page.locator('[data-prediction="lift_abs"] .interval').inner_text()
    shown_low, shown_high = (float(x) for x in text.strip("[]").split(","))
    assert shown_low == pytest.approx(low, rel=1e-3) and shown_high == pytest.approx(high, rel=1e-3) and low < high
    assert page.locator("#pred-plot").get_attribute("src").startswith("data:image/png;base64,")
    page.fill("#design-traffic", "2000/day")
    page.click("#design")
    page.wait_for_selector('[data-design="days"]', timeout=10_000)
    assert int(page.locator('[data-design="days"] td').nth(1).inner_text()) > 0
    assert page.problems == [] and page.dialogs == []


def test_a_hostile_name_is_text_and_runs_nothing(page, tmp_path):
    root = tmp_path / "hostile"
    root.mkdir()
    doc = {"name": HOSTILE, "stages": [HOSTILE], "entry": {HOSTILE: 1},
           "touchpoints": {HOSTILE: {"stage": HOSTILE, "channel": HOSTILE},
                           "buy": {"stage": HOSTILE, "goal": True, "value": 1},
                           "__proto__": {"stage": HOSTILE}, "constructor": {"stage": HOSTILE}},
           "transitions": {HOSTILE: {"buy": 0.5, HOSTILE: 0.2, "__proto__": 0.1}, "__proto__": {"constructor": 0.5},
                           "constructor": {"buy": 0.3}}}
    (root / "map.yaml").write_text(json.dumps(doc), encoding="utf-8")
    (root / f"{HOSTILE}.yaml").write_text(json.dumps(doc), encoding="utf-8")
    live = start_studio(root)
    try:
        page.goto(live.url + "/")
        page.wait_for_selector("body[data-ready=list]", timeout=20_000)
        assert page.locator(f'[data-entry="{HOSTILE}.yaml"]').count() == 1
        page.goto(f"{live.url}/?name=map.yaml")
        page.wait_for_selector("body[data-ready=map]", timeout=20_000)
        node = page.locator(f'[data-touchpoint="{HOSTILE}"]')
        assert node.count() == 1 and HOSTILE in node.text_content()
        assert page.locator(f'[data-edge-from="{HOSTILE}"][data-edge-to="{HOSTILE}"]').count() == 1   # self-loop
        # Names JavaScript objects know are ordinary names too.
        assert page.locator('[data-touchpoint="__proto__"]').count() == 1
        assert page.locator('[data-edge-from="__proto__"][data-edge-to="constructor"]').count() == 1
        expected = solve_exact(read_journey(doc)).conversion_rate
        assert float(page.locator(EDITED_CR).get_attribute("data-value")) == expected
        node.click()
        page.wait_for_selector("#editor h2")
        assert page.locator("#editor h2").inner_text() == HOSTILE
        page.fill('#editor input[aria-label="channel"]', HOSTILE + "2")
        page.locator('#editor input[aria-label="channel"]').press("Enter")
        page.wait_for_timeout(300)
        assert page.locator("img:not(#pred-plot)").count() == 0
        assert page.dialogs == [] and page.problems == []
    finally:
        live.stop()


def test_a_foreign_origin_gets_403(browser, studio):
    request = browser.request
    own = request.get(f"{studio.url}/api/maps", headers={"Origin": studio.url})
    assert own.status == 200
    for headers in ({"Origin": "http://evil.example"}, {"Host": "evil.example"}):
        res = request.post(f"{studio.url}/api/save", headers=headers,
                           data=json.dumps({"name": "online-store.yaml", "map": {}}))
        assert res.status == 403


def test_a_link_from_another_site_opens_the_page_but_its_scripts_get_nothing(page, studio):
    """A link to a map in a wiki or a chat opens the studio; a script of that site still cannot call the API."""
    import http.server
    import threading

    target = f"{studio.url}/?name=online-store.yaml"

    class Foreign(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = (f'<a id="go" href="{target}">studio</a><script>fetch("{studio.url}/api/maps")'
                    '.then(r => r.text()).then(t => { document.title = "read " + t; })'
                    '.catch(() => { document.title = "refused"; })</script>').encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    foreign = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Foreign)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    try:
        # localhost is another site than 127.0.0.1 for the browser.
        page.goto(f"http://localhost:{foreign.server_address[1]}/")
        page.wait_for_function("document.title !== ''", timeout=20_000)
        assert page.title() == "refused"
        page.click("#go")
        page.wait_for_selector("body[data-ready]", timeout=20_000)
        assert page.url == target and page.evaluate("document.body.dataset.ready") == "map"
    finally:
        foreign.shutdown()


def test_an_unbounded_metric_is_explained_under_the_graph(page, studio):
    """Referrals that sustain themselves: the per-seed numbers turn null, the panel still updates and says why."""
    open_map(page, studio, "online-store.yaml")
    assert page.locator("#warnings li").count() == 0
    page.click('[data-touchpoint="product page"]')
    expect(page.locator("#editor h2")).to_have_text("product page", timeout=10_000)
    refers = page.locator("#editor .field").filter(has_text="refers").locator("input")
    refers.fill("4")
    refers.press("Enter")
    expect(page.locator("#warnings li").first).to_contain_text("referrals sustain themselves", timeout=20_000)
    expect(page.locator("#status")).to_contain_text("numbers updated")
    assert page.locator('#metrics [data-metric="warnings"]').count() == 0
    # A table whose metric turned null (value lost per touchpoint needs bounded referrals) shows – on the edited side.
    lost = page.locator('#metric-tables [data-metric="removal_effects_value"] [data-item="cart"]')
    assert lost.locator(".baseline").inner_text() == "1" and lost.locator(".edited").inner_text() == "–"
    assert page.locator('#metrics [data-metric="customers_per_seed"] .edited').inner_text() == "–"
    assert page.problems == []
