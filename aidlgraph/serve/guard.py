"""The server's edges: which ``Host`` it answers, ``HEAD``, and how long a client may take to send
a request. Nothing here knows the routes, so every page and endpoint gets the same guard.

- **Host** (DNS rebinding): a web page on an attacker's domain that resolves to 127.0.0.1 can make
  a browser send requests to this server, and read the answers, because to the browser they are
  same-origin. The browser still sends the attacker's name as ``Host``, so requests are served only
  when ``Host`` names this server: ``localhost``, ``127.0.0.1``, ``::1``, the host it is bound to
  (and, when bound to all interfaces, this machine's name and addresses), and any names in
  ``AIDLGRAPH_ALLOWED_HOSTS`` (``*`` allows every name; ``*.example.org`` a domain's names).
  Others get 400 with a JSON error.
- **HEAD** is answered on every GET route, as GET without the body (same status and headers).
- **Timeouts** are the protocol's job (``serve.protocol``: a request's headers within 10 s, its
  body never pausing for more than 30 s).

The middleware is plain ASGI: it needs neither FastAPI nor uvicorn.
"""
from __future__ import annotations

import ipaddress
import json
import socket
from typing import Iterable

LOOPBACK = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("", "0.0.0.0", "::")


def allowed_hosts(bound: str | None, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The ``Host`` names a server bound to ``bound`` answers (lower case, without ports)."""
    names = [*LOOPBACK, *(h.strip().lower() for h in extra if h.strip())]
    if bound is not None and bound.strip().lower() not in WILDCARD_BINDS:
        names.append(bound.strip().lower().strip("[]"))
    elif bound is not None:  # all interfaces: this machine by its name and its addresses
        hostname = socket.gethostname().lower()
        names += [hostname, socket.getfqdn().lower()]
        try:
            names += [info[4][0].lower() for info in socket.getaddrinfo(hostname, None)]
        except OSError:
            pass
    return tuple(dict.fromkeys(names))


def host_name(header: str) -> str:
    """The name in a ``Host`` header, lower case, without the port or IPv6 brackets.

    >>> host_name("LocalHost:8765"), host_name("[::1]:8765"), host_name("127.0.0.1")
    ('localhost', '::1', '127.0.0.1')
    """
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header[1:]
    name, _, port = header.rpartition(":")
    if name and port.isdigit():
        return name
    try:
        ipaddress.IPv6Address(header)  # a bare IPv6 address has colons of its own
    except ValueError:
        pass
    return header


def host_allowed(name: str, allowed: Iterable[str]) -> bool:
    for pattern in allowed:
        if pattern == "*" or pattern == name:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


async def send_json(send, status: int, body: dict, extra_headers: list | None = None) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(extra_headers or [])]})
    await send({"type": "http.response.body", "body": data})


class GuardMiddleware:
    """Plain ASGI middleware: refuse unknown ``Host`` names; answer ``HEAD`` as ``GET``."""

    def __init__(self, app, allowed: Iterable[str]):
        self.app = app
        self.allowed = tuple(allowed)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        header = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
        name = host_name(header)
        if not header or not host_allowed(name, self.allowed):
            shown = repr(name[:100]) if header else "(none)"
            return await send_json(send, 400, {"error": (
                f"host {shown} is not served here (a guard against DNS rebinding); use http://127.0.0.1 or "
                "http://localhost, or add the name to AIDLGRAPH_ALLOWED_HOSTS on the server")},
                [(b"connection", b"close")])
        if scope["method"] != "HEAD":
            return await self.app(scope, receive, send)

        async def headers_only(message):
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        return await self.app({**scope, "method": "GET"}, receive, headers_only)
