"""The Flask app's database: one engine per process for the URL the app was created with."""

from __future__ import annotations

from flask import current_app, has_app_context
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gridmap.db.engine import database_url, get_engine

#: Flask config key holding the database URL (resolved on first use when unset).
URL_KEY = "GRIDMAP_DATABASE_URL"


def app_engine() -> Engine:
    """The engine for the current Flask app's database (settings/embedded when unset)."""
    url = current_app.config.get(URL_KEY) if has_app_context() else None
    if not url:
        url = database_url()
        if has_app_context():
            current_app.config[URL_KEY] = url
    return get_engine(url)


def database_reachable(engine: Engine) -> bool:
    """Whether a trivial query answers (within the engine's connect timeout)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True
