"""Finding headless Chromium for the browser tests: skipped without it on a developer's machine, failed in CI.

``.ci/run`` installs Debian's ``chromium`` with apt-get when it is missing; with ``CI=true`` a browser test
that cannot run is a failure, so a broken install cannot turn CI green by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest

#: The flags every browser test starts Chromium with (no network of its own, no first-run work).
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    """The Chromium executable, or skip (fail under ``CI=true``) saying how to install it."""
    found = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                  if p and shutil.which(p)), None)
    if found is None:
        unavailable("headless Chromium not found: install it with 'apt-get update && apt-get install -y chromium' "
                    "(.ci/run does)")
    return found


def unavailable(reason: str) -> None:
    """Skip a test that cannot run here; in CI (``CI=true``) fail it instead."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true, so this browser test may not be skipped: {reason}", pytrace=False)
    pytest.skip(reason)
