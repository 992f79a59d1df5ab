"""``/healthz``: the app answers and says whether its database does (every 503 the app
answers says when to retry: :func:`gridmap.api.errors.retry_after`)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gridmap.db.app import app_engine, database_reachable, primary_lost
from gridmap.errors import GridmapError

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> tuple[Response, int]:
    """JSON ``{"ok": bool, "database": bool}``; 503 when the database is unreachable. With
    the primary lost but a read replica up the app still serves reads: 200 with
    ``"database": false, "read_only": true``."""
    try:
        reachable = database_reachable(app_engine())
    except GridmapError:
        reachable = False
    if not reachable and primary_lost():
        return jsonify(ok=True, database=False, read_only=True), 200
    return jsonify(ok=reachable, database=reachable), 200 if reachable else 503
