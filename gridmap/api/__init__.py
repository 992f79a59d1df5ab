"""gridmap's HTTP APIs (Flask blueprints): ``/api/v1/cases…`` and Open311 GeoReport v2 at
``/open311/v2/…``. Errors come back as JSON (or Open311 errors) with a safe message, never
a traceback."""

from __future__ import annotations

import flask

from gridmap.api.errors import handle_api_error


def register_api(server: flask.Flask) -> None:
    """Register the case API and Open311 blueprints, and JSON 404/405 under their prefixes,
    behind the sign-in guard of :mod:`gridmap.access.web` (also installed on the server).

    The database is ``server.config["GRIDMAP_DATABASE_URL"]`` when set, else gridmap's
    configured (or embedded) database."""
    from gridmap.access.web import install as install_sign_in
    from gridmap.api.cases import blueprint as cases_blueprint
    from gridmap.api.exports import blueprint as exports_blueprint
    from gridmap.api.open311 import blueprint as open311_blueprint
    from gridmap.api.patrols import blueprint as patrols_blueprint
    from gridmap.web.health import retry_after

    install_sign_in(server)  # the API never runs without sign-in (idempotent)
    if retry_after not in server.after_request_funcs.get(None, []):
        server.after_request(retry_after)  # every 503, on any route, says when to retry
    server.register_blueprint(cases_blueprint)
    server.register_blueprint(open311_blueprint)
    server.register_blueprint(patrols_blueprint)
    server.register_blueprint(exports_blueprint)
    for code in (404, 405):
        server.register_error_handler(code, handle_api_error)
