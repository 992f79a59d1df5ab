"""gridmap's HTTP APIs (Flask blueprints): ``/api/v1/cases…`` and Open311 GeoReport v2 at
``/open311/v2/…``. Errors come back as JSON (or Open311 errors) with a safe message, never
a traceback; a path under the APIs that no route matches is a 404 in that format.

Each route declares what it accepts and answers with ``@contract``
(:mod:`gridmap.api.contract`): the same pydantic models validate the request and write the
OpenAPI document at ``/api/openapi.json``."""

from __future__ import annotations

import flask
from werkzeug.exceptions import NotFound

from gridmap.api.errors import handle_api_error

#: Path prefixes that belong to the APIs: a path under them that no API route matches is a
#: 404 in the API's format, never the dashboard page (Dash serves ``/<path:path>``).
API_PATHS = ("/api/", "/open311/")
#: Dash's catch-all page endpoints.
PAGE_ENDPOINTS = ("/", "/<path:path>")


def no_page_for_api_paths() -> None:
    """``before_request``: an unknown path under :data:`API_PATHS` is a 404 (and a path no
    route matches at all is its routing error), before sign-in is asked for."""
    if not flask.request.path.startswith(API_PATHS):
        return
    if flask.request.endpoint in PAGE_ENDPOINTS:
        raise NotFound(f"No API route {flask.request.path[:100]!r}.")
    if flask.request.routing_exception is not None:
        raise flask.request.routing_exception


def register_api(server: flask.Flask) -> None:
    """Register the case API and Open311 blueprints, and JSON 404/405 under their prefixes,
    behind the sign-in guard of :mod:`gridmap.access.web` (also installed on the server).

    The database is ``server.config["GRIDMAP_DATABASE_URL"]`` when set, else gridmap's
    configured (or embedded) database."""
    from gridmap.access.web import install as install_sign_in
    from gridmap.api.cases import blueprint as cases_blueprint
    from gridmap.api.errors import retry_after
    from gridmap.api.exports import blueprint as exports_blueprint
    from gridmap.api.households import blueprint as visits_blueprint
    from gridmap.api.open311 import blueprint as open311_blueprint
    from gridmap.api.patrols import blueprint as patrols_blueprint

    server.before_request(no_page_for_api_paths)  # before the sign-in guard: 404 for all
    install_sign_in(server)  # the API never runs without sign-in (idempotent)
    if retry_after not in server.after_request_funcs.get(None, []):
        server.after_request(retry_after)  # every 503, on any route, says when to retry
    server.register_blueprint(cases_blueprint)
    server.register_blueprint(open311_blueprint)
    server.register_blueprint(patrols_blueprint)
    server.register_blueprint(exports_blueprint)
    server.register_blueprint(visits_blueprint)
    for code in (404, 405):
        server.register_error_handler(code, handle_api_error)
