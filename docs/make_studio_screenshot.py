"""Take docs/studio.png: the studio on the bundled online store, cart -> purchase raised to 0.7, a prediction shown.

Run from the repository root (needs Debian's chromium and the test extra): ``python docs/make_studio_screenshot.py``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM_FLAGS  # noqa: E402
from tests.studio.conftest import start_studio  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "scenarios"
        shutil.copytree(ROOT / "scenarios", root, ignore=shutil.ignore_patterns("events", "plans"))
        live = start_studio(root)
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(str(Path(tmp) / "profile"), headless=True,
                                                           executable_path=shutil.which("chromium"),
                                                           args=CHROMIUM_FLAGS, viewport={"width": 1440, "height": 860})
            page = context.new_page()
            page.goto(f"{live.url}/?name=online-store.yaml&hypothesis=hypotheses/live-chat.yaml")
            page.wait_for_selector("body[data-ready=map]", timeout=60_000)
            page.click('[data-edge-from="cart"][data-edge-to="purchase"]')
            box = page.locator('#editor input[type=number][aria-label="probability"]').first
            box.fill("0.7")
            box.press("Enter")
            expect(page.locator('#metrics [data-metric="conversion_rate"] .difference')).not_to_have_text("0")
            page.fill("#pred-seed", "1")
            page.click("#predict")
            page.wait_for_selector("#pred-result:not([hidden])", timeout=120_000)
            page.locator("#numbers").scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            page.screenshot(path=str(ROOT / "docs" / "studio.png"))
            context.close()
        live.stop()


if __name__ == "__main__":
    main()
