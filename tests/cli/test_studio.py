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


def test_a_host_that_is_not_this_machines_says_so_and_a_taken_port_says_port():
    import socket

    import pytest

    from journeysim.errors import OutputError
    from journeysim.studio.server import _listen

    # 256.1.1.1 is no address at all: the advice was "choose another --port"
    for host in ("256.1.1.1", "nosuchhost.invalid"):
        with pytest.raises(OutputError, match=r"--host must be one of this machine's addresses"):
            _listen(host, 0)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        with pytest.raises(OutputError, match=r"choose another --port"):
            _listen("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()
