"""The studio's front door: requests from another site, or to another host name, are refused.

A page on another web site, open in the same browser, can send requests to
``127.0.0.1``; so can a site whose host name it re-points at ``127.0.0.1`` (DNS
rebinding). The first carries its own ``Origin`` (or ``Sec-Fetch-Site: cross-site``),
the second its own ``Host``: either is answered 403 before any route runs. One
cross-site request is let in: a link followed to the page itself (``GET /``, a top-level
navigation), as a link to a map in a wiki or a chat is; the other site cannot read the
page, frame it or call the API. Every response also carries headers that keep the page
out of frames and its scripts to the studio's own files.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from urllib.parse import urlsplit

from journeysim.errors import excerpt

__all__ = ["Guard", "allowed_hosts", "ip_literal", "SECURITY_HEADERS", "WILDCARDS"]

#: The page runs only its own scripts (and compiles the bundled WebAssembly layout engine).
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
                                 b"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                                 b"frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]

WILDCARDS = ("0.0.0.0", "::", "")


def allowed_hosts(host: str, port: int) -> set[str]:
    """``Host`` header values the studio answers to: its own address and this machine's names, with the port.

    Examples
    --------
    >>> sorted(allowed_hosts("127.0.0.1", 8765))
    ['127.0.0.1:8765', '[::1]:8765', 'localhost:8765']
    """
    names = {"127.0.0.1", "localhost", "[::1]"}
    if host in WILDCARDS:
        # And its IP addresses: see Guard's any_address_on.
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    else:
        names.add(f"[{host}]" if ":" in host else host.lower())
    return {f"{name}:{port}" for name in names}


def ip_literal(host: str, port: int) -> bool:
    """Whether a ``Host`` header is an IP address with ``port``: a browser sends one only to a page opened by that
    address, never for a re-pointed name, so it is safe to answer on a studio listening on every address.

    Examples
    --------
    >>> ip_literal("192.168.1.5:8765", 8765), ip_literal("[fe80::1]:8765", 8765), ip_literal("evil.example:8765", 8765)
    (True, True, False)
    """
    try:
        parts = urlsplit(f"http://{host}")
        return parts.port == port and ipaddress.ip_address(parts.hostname or "") is not None
    except ValueError:
        return False


class Guard:
    """ASGI middleware: 403 for a foreign ``Host`` or ``Origin``; security headers on every answer.

    ``any_address_on``: the port of a studio listening on every address (``--host 0.0.0.0``), which answers
    to this machine's IP addresses too, as other machines reach it.
    """

    def __init__(self, app, hosts: set[str], any_address_on: int | None = None):
        self.app = app
        self.hosts = hosts
        self.origins = {f"http://{h}" for h in hosts}
        self.any_address_on = any_address_on

    def ours(self, host: str) -> bool:
        return host in self.hosts or (self.any_address_on is not None and ip_literal(host, self.any_address_on))

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        problem = None
        host = headers.get("host", "").lower()
        if not self.ours(host):
            problem = f"host {excerpt(headers.get('host', ''))} is not this studio's address"
        elif "origin" in headers and headers["origin"].lower() not in (*self.origins, f"http://{host}"):
            problem = f"requests from {excerpt(headers['origin'])} are refused (only the studio's own page may call it)"
        elif headers.get("sec-fetch-site") == "cross-site" and not _followed_link(scope, headers):
            problem = "cross-site requests are refused (only the studio's own page may call it)"
        if problem is not None:
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            return await _refuse(send, problem)

        async def secured(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, secured)


def _followed_link(scope, headers: dict[str, str]) -> bool:
    """A link from another site to the page: it gets the page (with no map data), which that site cannot read."""
    return (scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/"
            and headers.get("sec-fetch-mode") == "navigate" and headers.get("sec-fetch-dest", "document") == "document")


async def _refuse(send, problem: str) -> None:
    body = json.dumps({"errors": [problem]}).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
