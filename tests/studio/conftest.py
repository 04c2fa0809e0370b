"""A studio on a copy of the bundled scenarios: in process for the API tests, on a real port for the browser's."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SCENARIOS

TOKEN = "test-token"


@pytest.fixture
def folder(tmp_path) -> Path:
    """A writable copy of ``scenarios/`` (maps at the top, hypotheses in ``hypotheses/``)."""
    target = tmp_path / "maps"
    shutil.copytree(SCENARIOS, target, ignore=shutil.ignore_patterns("events", "plans"))
    return target


def make_client(root: Path, port: int = 8765):
    from starlette.testclient import TestClient

    from journeysim.studio.app import create_app
    from journeysim.studio.workspace import Workspace

    app = create_app(Workspace(root), host="127.0.0.1", port=port, token=TOKEN)
    return TestClient(app, base_url=f"http://127.0.0.1:{port}")


@pytest.fixture
def client(folder):
    return make_client(folder)


@dataclass
class LiveStudio:
    url: str
    root: Path
    server: object
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_studio(root: Path) -> LiveStudio:
    """The studio on 127.0.0.1 and a free port, served by uvicorn in a thread."""
    import uvicorn

    from journeysim.studio.app import create_app
    from journeysim.studio.workspace import Workspace

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    app = create_app(Workspace(root), host="127.0.0.1", port=port, token=TOKEN)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return LiveStudio(f"http://127.0.0.1:{port}", root, server, thread)
