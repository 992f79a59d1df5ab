"""The Flask app's database: one engine per process for the URL the app was created with,
and the engine read-only work uses (:func:`read_engine`: a healthy read replica when there
are any, see :mod:`gridmap.db.replicas`).

Read-your-writes: a request that committed on the primary records the primary's WAL
position afterwards in the ``gridmap_wal`` cookie (:func:`remember_writes`, an
``after_request`` hook); the caller's later reads go to a replica only once it has replayed
that far (else to the primary), and the rest of the writing request reads from the primary.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, current_app, g, has_app_context, has_request_context, request
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from gridmap.db.engine import database_url, get_engine
from gridmap.db.replicas import (
    PRIMARY_SQL,
    ReplicaRouter,
    configured_replica_urls,
    router_for,
)

#: Flask config key holding the database URL (resolved on first use when unset).
URL_KEY = "GRIDMAP_DATABASE_URL"
#: Flask config key holding the replica URLs (a list; resolved from the settings when unset).
REPLICAS_KEY = "GRIDMAP_REPLICA_URLS"
#: Cookie carrying the primary's WAL position (bytes) after the caller's last write.
WAL_COOKIE = "gridmap_wal"
#: Seconds the cookie lives (a replica lagging longer is skipped anyway).
WAL_COOKIE_S = 600
#: ``flask.g`` keys: this request committed on the primary; the engine its reads use.
G_WROTE = "gridmap_wrote"
G_READ = "gridmap_read_engine"
G_BOOKKEEPING = "gridmap_bookkeeping"


def app_engine() -> Engine:
    """The engine for the current Flask app's database (settings/embedded when unset):
    the primary, for writes and for reads that must see them."""
    url = current_app.config.get(URL_KEY) if has_app_context() else None
    if not url:
        url = database_url()
        if has_app_context():
            current_app.config[URL_KEY] = url
    return _watched(get_engine(url))


def _watched(engine: Engine) -> Engine:
    """Have the primary engine mark the request that commits on it (read-your-writes)."""
    if not event.contains(engine, "commit", _on_commit):
        event.listen(engine, "commit", _on_commit)
    return engine


#: Requests that change data (writes not made through SQLAlchemy's commit, e.g. COPY on a
#: raw connection, count too) — except Dash callbacks, which mostly read.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DASH_CALLBACK = "/_dash-update-component"


def _request_wrote() -> bool:
    """Whether the current request wrote (or may have: a POST/PUT/PATCH/DELETE)."""
    if not has_request_context():
        return False
    if g.get(G_WROTE):
        return True
    return request.method not in SAFE_METHODS and request.path != DASH_CALLBACK


def _on_commit(_conn) -> None:
    if has_request_context() and not g.get(G_BOOKKEEPING):
        g.setdefault(G_WROTE, True)


@contextmanager
def bookkeeping() -> Iterator[None]:
    """Writes in this block are not the caller's own data (a token's last use): they do not
    send the caller's later reads to the primary."""
    if not has_request_context():
        yield
        return
    before = g.get(G_BOOKKEEPING)
    g.setdefault(G_BOOKKEEPING, True)
    try:
        yield
    finally:
        if not before:
            g.pop(G_BOOKKEEPING, None)


def _replica_urls() -> list[str]:
    configured = current_app.config.get(REPLICAS_KEY)
    if configured is None:
        app_engine()  # resolves the app's URL
        primary = current_app.config[URL_KEY]
        configured = current_app.config[REPLICAS_KEY] = configured_replica_urls(primary)
    return list(configured)


def app_router() -> ReplicaRouter | None:
    """The current app's replica router (None without replicas or app)."""
    if not has_app_context():
        return None
    urls = _replica_urls()
    if not urls:
        return None
    return router_for(current_app.config[URL_KEY], urls)


def _caller_lsn() -> int | None:
    raw = request.cookies.get(WAL_COOKIE, "") if has_request_context() else ""
    return int(raw) if raw.isdigit() and len(raw) < 20 else None


def read_engine() -> Engine:
    """The engine for read-only work: a healthy replica that has replayed the caller's own
    writes, else the primary. One choice per request (a probe and the data it gates are
    read from the same server); the primary once the request has written."""
    router = app_router()
    if router is None or _request_wrote():
        return app_engine()
    if has_request_context() and G_READ in g:
        return g.get(G_READ)
    url = router.pick(_caller_lsn())
    engine = app_engine() if url == router.primary_url else get_engine(url)
    if has_request_context():
        g.setdefault(G_READ, engine)
    return engine


def primary_lost() -> bool:
    """Whether the app is read-only now: its primary does not answer, a replica does."""
    router = app_router()
    return router is not None and router.primary_lost()


def primary_lost_now() -> bool:
    """:func:`primary_lost`, checked anew (after the primary failed a request: the last
    check may predate the loss)."""
    router = app_router()
    return router is not None and router.replica_urls != () and router.check().primary_lost


def remember_writes(response: Response) -> Response:
    """``after_request``: after a request that wrote, record the primary's WAL position in
    the caller's ``gridmap_wal`` cookie (only when the app has replicas)."""
    if not _request_wrote() or app_router() is None:
        return response
    try:
        with app_engine().connect() as conn:
            lsn = int(conn.execute(text(PRIMARY_SQL)).scalar_one())
    except SQLAlchemyError:
        return response
    response.set_cookie(
        WAL_COOKIE,
        str(lsn),
        max_age=WAL_COOKIE_S,
        httponly=True,
        samesite="Lax",
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
    )
    return response


def register_read_routing(server: Flask) -> None:
    """Install :func:`remember_writes` on the Flask server."""
    if remember_writes not in server.after_request_funcs.get(None, []):
        server.after_request(remember_writes)


def database_reachable(engine: Engine) -> bool:
    """Whether a trivial query answers (within the engine's connect timeout)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True
