"""A rendered report in real headless Chromium: no console errors, a screenshot that is not blank.

Chromium is installed by ``.ci/run`` (``apt-get install chromium``); without it the test skips and says
so, except in CI (``CI=true``), where it fails.
"""

import io
import subprocess

import pytest
from PIL import Image

from journeysim.cli import main

from tests.browser import CHROMIUM_FLAGS, chromium_path
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_path()


def open_in_chromium(chromium, page, tmp_path, name):
    """Load ``page`` (a file) headless; return the console lines it logged and the screenshot."""
    shot = tmp_path / f"{name}.png"
    cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / f'profile-{name}'}", "--enable-logging=stderr",
           "--v=0", "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}", page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    # Chromium logs every console message (log, error, uncaught exception, failed resource) as CONSOLE.
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return console, Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")


def test_report_opens_without_console_errors_and_is_not_blank(chromium, tmp_path):
    out = tmp_path / "report"
    assert main(["report", "simulate", str(SCENARIOS / "omnichannel-sk.yaml"), "-o", str(out)]) == 0
    console, shot = open_in_chromium(chromium, out / "report.html", tmp_path, "report")
    assert console == []
    colours = shot.getcolors(maxcolors=1 << 24)
    assert len(colours) > 200                                  # text, bars and the graph, not one flat colour
    white = max(count for count, colour in colours if colour == (255, 255, 255))
    assert white < 0.97 * shot.width * shot.height


def test_the_console_check_sees_errors(chromium, tmp_path):
    # Control: the same check flags a page that does log an error, so an empty list above means something.
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><p>x</p><script>console.error("boom"); undefined_function();</script>',
                   encoding="utf-8")
    console, _ = open_in_chromium(chromium, bad, tmp_path, "bad")
    assert any("boom" in line for line in console) and any("undefined_function" in line for line in console)
