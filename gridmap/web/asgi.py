"""The Flask server as an ASGI app for gunicorn's ``asgi`` worker, so slow or idle clients
cost an open socket on the event loop, never a thread.

gunicorn's ``gthread`` worker hands a connection to one of its few threads as soon as it
is readable; a client that then sends half a request (a flaky mobile network, or an
attacker) keeps that thread waiting, and a few of them starved the whole service,
``/healthz`` included. The ``asgi`` worker reads request lines and headers on its event
loop instead; a2wsgi then runs the (WSGI) app in a small thread pool. Two more steps keep
threads for ready work only:

- the request body is read on the event loop, complete, before a thread is used
  (a2wsgi alone reads it lazily from the app's thread, so a slow upload would hold one);
  the app then sees its length (a chunked body is no longer one of unknown length);
  a body larger than any route takes is refused with 413 at once, and one that stalls
  past the server's timeout (60 s between two pieces) with 408;
- ``GET/HEAD /healthz`` runs in a thread pool of its own, so a load balancer's probe
  never queues behind the app's work.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi import WSGIMiddleware

from gridmap.settings import Settings, get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths answered by their own thread pool (the liveness/readiness probe).
PROBE_PATHS = frozenset({"/healthz"})
#: Threads of the probe's pool (per worker process).
PROBE_THREADS = 2


def max_request_bytes(settings: Settings) -> int:
    """The largest request body any route takes: an import upload (base64 inside a Dash
    callback's JSON, 4/3 of the file) or an API body, plus room for the JSON around it."""
    upload = settings.import_max_upload_mb * 2**20 * 4 // 3
    return max(upload, settings.api_max_body_bytes) + 2**20


class BufferedBody:
    """Read each HTTP request's whole body on the event loop, then call ``app``."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"The request body is too large (at most {self.limit} bytes)."
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await _refuse(send, 413, too_large)
            return
        body = bytearray()  # one buffer, grown in place (an upload may be 270 MB)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                # gone, or stalled past the server's timeout: no thread was spent on it
                await _refuse(send, 408, "The request body did not arrive in time.")
                return
            body += message.get("body", b"")
            if len(body) > self.limit:
                await _refuse(send, 413, too_large)
                return
            if not message.get("more_body", False):
                break
        scope = _framed(scope, len(body))
        pending: bytearray | None = body
        del body

        async def replay() -> Message:
            nonlocal pending
            if pending is not None:
                message = {"type": "http.request", "body": pending, "more_body": False}
                pending = None  # the app's reader holds the only reference from here on
                return message
            return await receive()  # after the body: wait for the disconnect

        await self.app(scope, replay, send)


def _framed(scope: Scope, length: int) -> Scope:
    """The scope of a request whose body is now whole: its length declared, no
    ``Transfer-Encoding`` (a chunked body would otherwise reach the WSGI app as empty)."""
    headers = [(k, v) for k, v in scope.get("headers", []) if k != b"transfer-encoding"]
    if not any(k == b"content-length" for k, _ in headers):
        headers.append((b"content-length", str(length).encode()))
    return {**scope, "headers": headers}


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server's parser refuses it anyway
    return None


async def _refuse(send: Send, status: int, message: str) -> None:
    """A JSON error answered from the event loop; the connection closes after it (the
    server ignores the answer when the client has gone)."""
    body = json.dumps({"error": {"message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ProbeLane:
    """Send the probe paths to their own thread pool, everything else to ``app``."""

    def __init__(self, app: ASGIApp, probe: ASGIApp) -> None:
        self.app = app
        self.probe = probe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in PROBE_PATHS:
            await self.probe(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def asgi_app(wsgi: Callable[..., Any], threads: int, settings: Settings | None = None) -> ASGIApp:
    """``wsgi`` (the Flask server) served by ``threads`` threads, behind the body buffer,
    with the probe paths on a pool of their own."""
    settings = settings or get_settings()
    app = WSGIMiddleware(wsgi, workers=threads)
    probe = WSGIMiddleware(wsgi, workers=PROBE_THREADS)
    # named threads of its own (a2wsgi names every pool's threads "WSGI_n")
    probe.executor = ThreadPoolExecutor(PROBE_THREADS, thread_name_prefix="gridmap-probe")
    return BufferedBody(ProbeLane(app, probe), max_request_bytes(settings))
