"""Login rate limits, counted from the ``login_failed`` entries of the audit log.

Failed sign-ins are audited anyway; counting them per account and per client address over
a sliding window needs no other store and holds across gunicorn workers and restarts.
The limits and the window are settings (``login_max_failures``, ``login_max_failures_ip``,
``login_window_s``).
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from gridmap.access.audit import LOGIN_FAILED
from gridmap.access.errors import RateLimited
from gridmap.settings import get_settings


def check_login_allowed(engine: Engine, username: str, ip: str | None) -> None:
    """Raise :class:`RateLimited` when the account or the address failed too often."""
    settings = get_settings()
    window = settings.login_window_s
    with engine.connect() as conn:
        row = conn.execute(
            text(
                """
                SELECT
                  (SELECT count(*) FROM audit_log
                   WHERE action = :a AND lower(username) = lower(:u)
                     AND at > now() - make_interval(secs => :w)) AS by_user,
                  (SELECT count(*) FROM audit_log
                   WHERE action = :a AND client_ip = CAST(:ip AS inet)
                     AND at > now() - make_interval(secs => :w)) AS by_ip
                """
            ),
            {"a": LOGIN_FAILED, "u": username.strip(), "ip": ip, "w": window},
        ).one()
    if row.by_user >= settings.login_max_failures or (
        ip is not None and row.by_ip >= settings.login_max_failures_ip
    ):
        raise RateLimited(
            "Too many failed sign-ins; wait a few minutes and try again.",
            retry_after=window,
        )
