"""Reads on behalf of a user, filtered by PostgreSQL row-level security.

:func:`scoped_connection` is the one way to read as a user. Inside a web request it is
also automatic: :func:`install` (done by the sign-in guard) hooks every SQLAlchemy
transaction begun while a grid-scoped user's GET request or Dash callback is served, so
code that opens its own ``engine.connect()`` (layers, exports, OGC, pages) is filtered too.
Requests that change data (POST/PUT/PATCH/DELETE other than Dash callbacks) are not
scoped automatically: their views check that the target is visible through a scoped read
before writing (the grid reader cannot write). :func:`unscoped` lifts the automatic scope
for a block (the audit log, sign-in bookkeeping).

For a grid-scoped user (grid lead, grid worker, or a command centre scoped to a district,
street or community) it opens a transaction that records the user's id
(``gridmap.user_id``) and switches to the ``gridmap_grid_reader`` role, which is subject
to the policies of migration 0010: cases, case events, buildings, grids, patrol shifts and
pings, street pieces and building access of other grids are simply not there. The role
can only SELECT. An area-scoped command centre is the same mechanism, not a second one: its
area is one more way to name a set of grids (migration 0026 adds the area's grids to
``gridmap_user_grids()``, the set every policy checks), so every table scoped by grid is
scoped by area with no policy of its own. Everyone else (admin, whole-city command,
planner, no user: CLI and background jobs)
reads with the app's own login, unfiltered; personal data for command and planner is
masked where it is shown (:mod:`gridmap.access.masking`).

Both settings are ``LOCAL``: they end with the transaction, so a pooled connection never
carries them over to the next borrower.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import g, has_request_context, request
from sqlalchemy import Connection, Engine, event, text

from gridmap.access import User, current_user
from gridmap.access.errors import AccessError

#: The database role grid-scoped reads run under (created by migration 0010).
GRID_READER = "gridmap_grid_reader"


def enter_scope(conn: Connection, user: User | None) -> None:
    """Scope the connection's current transaction to ``user`` (no-op unless grid-scoped)."""
    if user is None or not user.grid_scoped:
        return
    conn.execute(text("SELECT set_config('gridmap.user_id', :uid, true)"), {"uid": str(user.id)})
    conn.execute(text(f"SET LOCAL ROLE {GRID_READER}"))


@contextmanager
def scoped_connection(engine: Engine, user: User | None) -> Iterator[Connection]:
    """A connection inside a transaction whose reads see only what ``user`` may see.

    Use it for reads only (the grid reader cannot write); the transaction is rolled back
    at the end."""
    with engine.connect() as conn, conn.begin() as tx:
        enter_scope(conn, user)
        try:
            yield conn
        finally:
            if tx.is_active:
                tx.rollback()


#: ``flask.g`` flag: the automatic scope is lifted (see :func:`unscoped`).
G_UNSCOPED = "GRIDMAP_UNSCOPED"
#: Requests scoped automatically besides GET/HEAD: Dash callbacks (reads, mostly).
SCOPED_POSTS = frozenset({"/_dash-update-component"})


def request_scope_user() -> User | None:
    """The grid-scoped user whose reads the current request's transactions are limited to."""
    if not has_request_context() or g.get(G_UNSCOPED):
        return None
    user = current_user()
    if user is None or not user.grid_scoped:
        return None
    if request.method in ("GET", "HEAD") or request.endpoint in SCOPED_POSTS:
        return user
    return None


def cache_scope(user: User | None) -> tuple[int, tuple[int, ...]] | None:
    """The part of a cache key that says whose rows a cached read holds: None for every
    unscoped reader (they read the same rows), else the scoped user's id and grids (an
    area-scoped command centre's grids are its area's, resolved at sign-in of each
    request, so a grid added to the area is a new key)."""
    if user is None or not user.grid_scoped:
        return None
    return user.id, tuple(sorted(user.grid_ids))


def request_cache_scope() -> tuple[int, tuple[int, ...]] | None:
    """:func:`cache_scope` of the current request's automatic scope (None outside one)."""
    return cache_scope(request_scope_user())


def _on_begin(conn: Connection) -> None:
    user = request_scope_user()
    if user is None:
        return
    if getattr(conn.connection.dbapi_connection, "autocommit", False):
        # SET LOCAL would not hold outside a transaction: refuse rather than leak.
        raise AccessError("A grid-scoped read cannot run on an autocommit connection.")
    cursor = conn.connection.cursor()
    try:
        cursor.execute("SELECT set_config('gridmap.user_id', %s, true)", (str(user.id),))
        cursor.execute(f"SET LOCAL ROLE {GRID_READER}")
    finally:
        cursor.close()


def install() -> None:
    """Scope every engine's transactions begun during a grid-scoped read request."""
    if not event.contains(Engine, "begin", _on_begin):
        event.listen(Engine, "begin", _on_begin)


@contextmanager
def unscoped() -> Iterator[None]:
    """Lift the automatic request scope for the block (writes the app itself makes)."""
    if not has_request_context():
        yield
        return
    before = g.get(G_UNSCOPED)
    setattr(g, G_UNSCOPED, True)
    try:
        yield
    finally:
        setattr(g, G_UNSCOPED, before)
