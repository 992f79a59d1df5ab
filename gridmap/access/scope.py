"""Reads on behalf of a user, filtered by PostgreSQL row-level security.

:func:`scoped_connection` is the one way to read as a user. For a grid-scoped user (grid
lead, grid worker) it opens a transaction that records the user's id
(``gridmap.user_id``) and switches to the ``gridmap_grid_reader`` role, which is subject
to the policies of migration 0010: cases, case events, buildings, grids, patrol shifts and
pings, street pieces and building access of other grids are simply not there. The role
can only SELECT. Everyone else (admin, command, planner, no user: CLI and background jobs)
reads with the app's own login, unfiltered; personal data for command and planner is
masked where it is shown (:mod:`gridmap.access.masking`).

Both settings are ``LOCAL``: they end with the transaction, so a pooled connection never
carries them over to the next borrower.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

from gridmap.access import User

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
