"""``/healthz``: the app answers and says whether its database does."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gridmap.errors import GridmapError
from gridmap.web.database import app_engine, database_reachable

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> tuple[Response, int]:
    """JSON ``{"ok": bool, "database": bool}``; 503 when the database is unreachable."""
    try:
        reachable = database_reachable(app_engine())
    except GridmapError:
        reachable = False
    return jsonify(ok=reachable, database=reachable), 200 if reachable else 503
