"""Running the studio: bind the address, print where it is, open the browser, stop cleanly on Ctrl-C."""

from __future__ import annotations

import errno
import os
import secrets
import socket
import sys
import threading
import webbrowser
from urllib.parse import quote

import uvicorn

from journeysim.errors import OutputError
from journeysim.studio.app import create_app
from journeysim.studio.workspace import Workspace

__all__ = ["serve", "studio_url", "one_blas_thread"]


def one_blas_thread() -> None:
    """Solve with one BLAS thread: the studio's matrices are small, and on a busy machine a BLAS thread pool
    made a 100x100 inverse fifty times slower (threads spinning for cores they could not get)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def studio_url(host: str, port: int, name: str | None = None) -> str:
    """The address to open (a wildcard address is opened as 127.0.0.1).

    Examples
    --------
    >>> studio_url("127.0.0.1", 8765, "online store.yaml")
    'http://127.0.0.1:8765/?name=online%20store.yaml'
    >>> studio_url("::1", 8000)
    'http://[::1]:8000/'
    """
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/" + (f"?name={quote(name)}" if name else "")


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            # the address, not the port: no such name, or not one of this machine's addresses
            raise OutputError(f"cannot listen on {host}:{port} ({exc.strerror}): --host must be one of this "
                              "machine's addresses (127.0.0.1, the default, or 0.0.0.0 for all)", exc.strerror) from None
        raise OutputError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port (0 picks a free "
                          "one)", exc.strerror) from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def serve(path: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True,
          out=None) -> int:
    """Serve the studio for ``path`` until interrupted; return the exit code."""
    out = out or sys.stdout
    workspace = Workspace(path)
    one_blas_thread()
    sock = _listen(host, port)
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(24)
    app = create_app(workspace, host=host, port=port, token=token)
    url = studio_url(host, port, workspace.single)
    print(f"journeysim studio: {workspace.root} at {url}", file=out)
    if host not in ("127.0.0.1", "localhost", "::1"):
        # The page hands its token to whoever loads it: the token stops other web sites, not other machines.
        print(f"warning: listening on {host}: anyone who can reach this machine on port {port} can read and change "
              "the maps there", file=out)
    print("Ctrl-C stops it.", file=out, flush=True)
    if open_browser:
        # In a thread: some browsers' launchers block until the browser exits.
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass                 # uvicorn has shut down cleanly and passes the Ctrl-C on: it is how one stops it
    finally:
        sock.close()
    print("journeysim studio: stopped", file=out, flush=True)
    return 0
