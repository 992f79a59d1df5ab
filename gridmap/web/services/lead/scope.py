"""Which grids a user may see, and the one way this package reads the database as them.

Every read of :mod:`gridmap.web.services.lead` goes through :func:`user_connection` and passes the
user's grid ids to its SQL function, so a grid-scoped user is limited twice: by the
explicit ``grid_ids`` argument and by PostgreSQL row-level security on the connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from gridmap.access import User
from gridmap.access.scope import scoped_connection
from gridmap.errors import GridmapError


class GridReadError(GridmapError):
    """The grid data could not be read (database unreachable, query failed)."""


def visible_grid_ids(user: User | None) -> list[int] | None:
    """The grids ``user`` may see: None for every grid, a sorted list for grid-scoped roles
    (empty when anonymous or with no grid assigned)."""
    if user is None:
        return []
    if user.grid_scoped:
        return sorted(user.grid_ids)
    return None


def narrow(allowed: list[int] | None, wanted: list[int] | None) -> list[int] | None:
    """``wanted`` limited to ``allowed`` (None means no limit on either side)."""
    if wanted is None:
        return allowed
    if allowed is None:
        return sorted(set(wanted))
    return sorted(set(wanted) & set(allowed))


@contextmanager
def user_connection(engine: Engine, user: User | None) -> Iterator[Connection]:
    """A read-only connection as ``user``: row-level security applies (see
    :func:`gridmap.access.scope.scoped_connection`)."""
    try:
        with scoped_connection(engine, user) as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise GridReadError(
            "The grid data could not be read from the database.",
            hint=type(exc.orig or exc).__name__,
        ) from exc
