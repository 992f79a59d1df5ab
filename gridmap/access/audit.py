"""The audit log (append-only ``audit_log``): who did what, when, from where.

Call :func:`record` for anything worth a trace: sign-ins (``login``, ``login_failed``,
``logout``), exports (``export``, target = what was exported), views of personal data
(``view_personal``, target = e.g. ``case:123``). Inside a request the signed-in user and the
client address are filled in; outside one (CLI) pass ``user`` or leave it anonymous.
"""

from __future__ import annotations

import json
from typing import Any

from flask import has_request_context, request
from sqlalchemy import Connection, Engine, text

from gridmap.access import User, current_user
from gridmap.access.scope import unscoped

LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGOUT = "logout"
EXPORT = "export"
VIEW_PERSONAL = "view_personal"

_INSERT = text(
    "INSERT INTO audit_log (user_id, username, action, target, detail, client_ip) "
    "VALUES (:user_id, :username, :action, :target, CAST(:detail AS jsonb), "
    "CAST(:ip AS inet))"
)


def client_ip() -> str | None:
    """The address of the request's client (the socket peer; None outside a request)."""
    return request.remote_addr if has_request_context() else None


def record(
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    *,
    user: User | None = None,
    username: str | None = None,
    engine: Engine | Connection | None = None,
) -> None:
    """Append one entry. ``engine`` defaults to the current app's database; pass a
    Connection to write inside your own transaction (the entry then commits with it)."""
    who = user or current_user()
    values = {
        "user_id": who.id if who else None,
        "username": who.username if who else username,
        "action": action,
        "target": target,
        "detail": json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        "ip": client_ip(),
    }
    if isinstance(engine, Connection):
        engine.execute(_INSERT, values)
        return
    if engine is None:
        from gridmap.db.app import app_engine

        engine = app_engine()
    with unscoped(), engine.begin() as conn:  # the app writes it, not the user's reader role
        conn.execute(_INSERT, values)
