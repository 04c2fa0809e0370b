"""A rendered report in real headless Chromium: no console errors, a screenshot that is not blank.

Chromium is installed by ``.ci/run`` (``apt-get install chromium``, best effort); without it the test
skips and says so.
"""

import io
import shutil
import subprocess

import pytest
from PIL import Image

from journeysim.cli import main

from tests.conftest import SCENARIOS

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and shutil.which(p)), None)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not found: install it with "
    "'apt-get update && apt-get install -y chromium' (.ci/run tries this) to run the browser test")


def open_in_chromium(page, tmp_path, name):
    """Load ``page`` (a file) headless; return the console lines it logged and the screenshot."""
    shot = tmp_path / f"{name}.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / f'profile-{name}'}", "--enable-logging=stderr", "--v=0",
           "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}", page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    # Chromium logs every console message (log, error, uncaught exception, failed resource) as CONSOLE.
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return console, Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")


def test_report_opens_without_console_errors_and_is_not_blank(tmp_path):
    out = tmp_path / "report"
    assert main(["report", "simulate", str(SCENARIOS / "omnichannel-sk.yaml"), "-o", str(out)]) == 0
    console, shot = open_in_chromium(out / "report.html", tmp_path, "report")
    assert console == []
    colours = shot.getcolors(maxcolors=1 << 24)
    assert len(colours) > 200                                  # text, bars and the graph, not one flat colour
    white = max(count for count, colour in colours if colour == (255, 255, 255))
    assert white < 0.97 * shot.width * shot.height


def test_the_console_check_sees_errors(tmp_path):
    # Control: the same check flags a page that does log an error, so an empty list above means something.
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><p>x</p><script>console.error("boom"); undefined_function();</script>',
                   encoding="utf-8")
    console, _ = open_in_chromium(bad, tmp_path, "bad")
    assert any("boom" in line for line in console) and any("undefined_function" in line for line in console)
