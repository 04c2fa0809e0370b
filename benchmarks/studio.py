"""Edit to updated panel in the studio, on a 100-touchpoint map: the goal is under 100 ms.

Through the HTTP API the page uses: a real uvicorn server on 127.0.0.1, one kept-alive
connection, each request a map with one edge changed (as a slider sends it):

* ``POST /api/evaluate``: validation and the exact engine, the panel's numbers;
* ``POST /api/flows``: edge widths, which the page fetches after the panel is drawn;
* the reference, measured in the same run and interleaved with the requests: the same
  evaluation called in process (``evaluate_map``), so the ratio is the HTTP and JSON cost;
  its CPU time (this thread's alone) is the cost on an idle machine, when others load this one.

With Chromium present (``/usr/bin/chromium``, driven by Playwright), it also types edits
into the page and reads the page's own edit-to-panel time (``data-panel-ms``).

Usage::

    python benchmarks/studio.py [--edits 200] [--no-browser]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from journeysim.studio.evaluate import evaluate_map

STAGES = ["reach", "consider", "compare", "buy", "keep"]


def hundred_touchpoints(seed: int = 3) -> dict:
    """A map in file form: 100 touchpoints in 5 stages, 3-6 edges a row (some back to earlier stages), 5 goals."""
    rng = np.random.default_rng(seed)
    names = [f"{stage} {i}" for stage in STAGES for i in range(20)]
    touchpoints = {n: {"stage": n.split()[0], "delay": round(float(rng.uniform(0.1, 3)), 2)} for n in names}
    for n in names[-5:]:
        touchpoints[n].update(goal=True, value=float(rng.integers(20, 200)))
    transitions = {}
    for i, n in enumerate(names[:-5]):
        k = int(rng.integers(3, 7))
        later = rng.choice(np.arange(i + 1, len(names)), size=min(k, len(names) - i - 1), replace=False)
        targets = [names[j] for j in later]
        if i > 20 and rng.random() < 0.3:
            targets[0] = names[int(rng.integers(0, i))]        # a way back
        p = rng.dirichlet(np.ones(len(targets) + 1))[:-1] * 0.9
        transitions[n] = {t: round(float(x), 4) for t, x in zip(dict.fromkeys(targets), p)}
    entry = {n: 0.05 for n in names[:20]}
    return {"format": 1, "name": "100 touchpoints", "stages": STAGES, "entry": entry, "touchpoints": touchpoints,
            "transitions": transitions}


def serve(root: Path):
    import uvicorn

    from journeysim.studio.app import create_app
    from journeysim.studio.server import one_blas_thread
    from journeysim.studio.workspace import Workspace

    one_blas_thread()                                         # as `journeysim studio` does
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    app = create_app(Workspace(root), host="127.0.0.1", port=port, token="bench")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, port


def figures(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p90 = ms[int(0.9 * (len(ms) - 1))]
    return f"{name:<34} median {statistics.median(ms):7.2f} ms   p90 {p90:7.2f} ms   max {ms[-1]:7.2f} ms   (n={len(ms)})"


def http_edits(port: int, doc: dict, edits: int) -> dict[str, list[float]]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"content-type": "application/json", "host": f"127.0.0.1:{port}"}
    row = doc["transitions"]["consider 3"]
    target = next(iter(row))
    times: dict[str, list[float]] = {"evaluate over HTTP": [], "flows over HTTP": [], "evaluate in process": [],
                                     "evaluate in process, CPU": []}
    for k in range(edits + 10):
        row[target] = round(0.05 + 0.3 * (k % 20) / 20, 4)
        body = json.dumps(doc)
        for path in ("/api/evaluate?name=big.yaml", "/api/flows?name=big.yaml"):
            start = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            res = conn.getresponse()
            res.read()
            assert res.status == 200, res.status
            if k >= 10:                                   # the first ten warm the caches
                times[("evaluate" if "evaluate" in path else "flows") + " over HTTP"].append(
                    1e3 * (time.perf_counter() - start))
        start, cpu = time.perf_counter(), time.thread_time()
        evaluate_map(json.loads(body), "big.yaml")
        if k >= 10:
            times["evaluate in process"].append(1e3 * (time.perf_counter() - start))
            # CPU of this thread alone: what the edit costs on an idle machine, whatever else runs here.
            times["evaluate in process, CPU"].append(1e3 * (time.thread_time() - cpu))
    return times


def browser_edits(port: int, edits: int) -> list[float] | None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    out = []
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(profile, executable_path=chromium, headless=True, args=flags,
                                                       viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/?name=big.yaml")
        page.wait_for_selector("body[data-ready]", timeout=120_000)
        if page.get_attribute("body", "data-ready") != "map":
            print("browser: the page did not open the map:", page.inner_text("#status"), page.inner_text("#map-errors"))
            context.close()
            return None
        page.click('[data-touchpoint="consider 3"]')
        box = page.locator('#editor .edge-row input[type=number]').first
        for k in range(edits):
            before = page.get_attribute("body", "data-edits") or "0"
            box.fill(str(round(0.05 + 0.3 * (k % 20) / 20 + 0.001, 4)))
            box.press("Enter")
            deadline = time.monotonic() + 10
            while page.get_attribute("body", "data-edits") == before and time.monotonic() < deadline:
                time.sleep(0.002)
            if page.get_attribute("body", "data-edits") == before:
                print("browser: an edit was not taken:", page.inner_text("#editor")[:300])
                break
            out.append(float(page.get_attribute("body", "data-panel-ms")))
        context.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    doc = hundred_touchpoints()
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "big.yaml").write_text(json.dumps(doc), encoding="utf-8")
        server, port = serve(Path(folder))
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} on {os.cpu_count()} cores; "
              f"100 touchpoints, {sum(len(r) for r in doc['transitions'].values())} edges")
        cpu = time.process_time()
        times = http_edits(port, doc, args.edits)
        cpu = time.process_time() - cpu
        for name, ms in times.items():
            print(figures(name, ms))
        http_med = statistics.median(times["evaluate over HTTP"])
        ref_med = statistics.median(times["evaluate in process"])
        print(f"HTTP and JSON cost: {http_med / ref_med:.2f}x the in-process evaluation "
              f"(CPU {1e3 * cpu / args.edits:.2f} ms per edit for client, server and reference together)")
        page = None if args.no_browser else browser_edits(port, min(args.edits, 60))
        if page is None:
            print("browser: skipped (no Chromium or Playwright, or --no-browser)")
        else:
            print(figures("edit to panel in Chromium", page))
        verdict = max(http_med, statistics.median(page) if page else 0)
        print(f"goal: edit to updated panel under 100 ms; median measured {verdict:.1f} ms")
        server.should_exit = True


if __name__ == "__main__":
    main()
