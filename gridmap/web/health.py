"""``/healthz``: the app answers and says whether its database does. Also: every 503 the
app answers (database unavailable, on any route) tells clients when to retry."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gridmap.errors import GridmapError
from gridmap.web.database import app_engine, database_reachable

health = Blueprint("health", __name__)

#: Seconds a client is asked to wait before retrying after a 503 (a database restart).
RETRY_AFTER_S = 5


def retry_after(response: Response) -> Response:
    """Give every 503 a ``Retry-After`` (clients and load balancers back off, then retry);
    an ``after_request`` hook of the whole server (see :func:`gridmap.api.register_api`)."""
    if response.status_code == 503 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


@health.get("/healthz")
def healthz() -> tuple[Response, int]:
    """JSON ``{"ok": bool, "database": bool}``; 503 when the database is unreachable."""
    try:
        reachable = database_reachable(app_engine())
    except GridmapError:
        reachable = False
    return jsonify(ok=reachable, database=reachable), 200 if reachable else 503
