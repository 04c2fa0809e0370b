"""``journeysim studio``: prints where it is, answers, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request

from tests.conftest import SCENARIOS


def test_studio_serves_a_map_and_stops_on_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "journeysim", "studio", str(SCENARIOS / "online-store.yaml"),
                             "--port", "0", "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/\?name=online-store\.yaml", first)
        assert url, first + proc.stderr.read() if proc.poll() is not None else first
        base = url.group(0).split("?")[0]
        with urllib.request.urlopen(base + "api/maps", timeout=30) as res:
            assert json.load(res)["single"] == "online-store.yaml"
        with urllib.request.urlopen(base + "api/map", timeout=30) as res:
            assert json.load(res)["name"] == "Online store"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "journeysim studio: stopped" in out
    assert "Traceback" not in err
