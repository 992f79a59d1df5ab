"""API errors as responses: the safe message of a gridmap error with its HTTP status, JSON
for ``/api/…`` and Open311 errors for ``/open311/…``; never a traceback."""

from __future__ import annotations

import logging

from flask import Response
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from gridmap.api.context import json_response
from gridmap.api.open311_render import error_response as open311_error
from gridmap.cases.errors import TransitionRefused
from gridmap.errors import GridmapError, InvalidInput

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
OPEN311_PREFIX = "/open311/"
#: Vector tiles answer errors in the API's JSON body too; OGC in its own exception format.
TILES_PREFIX = "/tiles/"
OGC_PREFIX = "/ogc"
#: SQLSTATEs of values the database refuses (a client's error, not the server's): invalid
#: parameter, numeric or date/time out of range, check constraint failed.
REFUSED_VALUES = ("22023", "22003", "22008", "23514")
#: Seconds a client is asked to wait before retrying after a 503 (a database restart).
RETRY_AFTER_S = 5


def retry_after(response: Response) -> Response:
    """Give every 503 a ``Retry-After`` (clients and load balancers back off, then retry);
    an ``after_request`` hook of the whole server (see :func:`gridmap.api.register_api`)."""
    if response.status_code == 503 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def error_payload(exc: Exception) -> tuple[int, dict]:
    """HTTP status and JSON body for an error raised while serving an API: a gridmap error's
    own ``http_status`` with its safe message, hint and problems; never a traceback."""
    if isinstance(exc, GridmapError):
        body: dict = {"message": exc.message}
        if exc.hint:
            body["hint"] = exc.hint
        if isinstance(exc, InvalidInput):
            body["problems"] = [p.as_dict() for p in exc.problems]
        if isinstance(exc, TransitionRefused):
            body["status"] = exc.status
            body["allowed_actions"] = exc.allowed
        return exc.http_status, body
    if isinstance(exc, HTTPException):
        return exc.code or 500, {"message": exc.description or exc.name}
    if isinstance(exc, OperationalError):
        return 503, {"message": "The database is unavailable; try again shortly."}
    if isinstance(exc, DBAPIError) and getattr(exc.orig, "pgcode", "") in REFUSED_VALUES:
        return 400, {
            "message": "The database refused the values (out of range or a constraint failed)."
        }
    return 500, {"message": "Internal error; it has been logged."}


def _only_a_page(path: str) -> bool:
    """Whether no API route but only the dashboard's catch-all page matches ``path``."""
    from flask import current_app, request

    from gridmap.api import PAGE_ENDPOINTS

    try:
        adapter = current_app.url_map.bind_to_environ(request.environ)
        rule, _ = adapter.match(path, method="GET", return_rule=True)
    except HTTPException:
        return False
    return rule.endpoint in PAGE_ENDPOINTS


def handle_api_error(exc: Exception):
    """Error handler of every API blueprint (and of 404/405 under their prefixes)."""
    from flask import request

    path = request.path
    if isinstance(exc, HTTPException) and path.startswith(OGC_PREFIX):
        # a path no route (not even the OGC catch-all: e.g. a newline in it) matches
        from gridmap.ogc.errors import OgcError
        from gridmap.ogc.views import ogc_error

        return ogc_error(OgcError(f"There is no resource {path[:100]!r} in this API.", 404))
    if not path.startswith((API_PREFIX, OPEN311_PREFIX, TILES_PREFIX)):
        if isinstance(exc, HTTPException):
            return exc
        raise exc
    if isinstance(exc, MethodNotAllowed) and _only_a_page(path):
        exc = NotFound(f"No API route {path[:100]!r}.")  # not an API route at all
    status, body = error_payload(exc)
    if status >= 500 and not isinstance(exc, HTTPException):
        log.exception("API error on %s %s", request.method, path)
    if path.startswith(OPEN311_PREFIX):
        response = open311_error(status, exc, body)
    else:
        response = json_response({"error": body}, status)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return response
