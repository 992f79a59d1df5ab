"""Who is asking: the signed-in user, their role and grids, and the access rules.

The contract other subsystems build on (pages, APIs, layers, exports):

- :class:`User` — an immutable view of a signed-in account (``grid_ids`` empty unless the
  role is limited to assigned grids).
- :func:`current_user` — the user of the current Flask request, or ``None`` when
  anonymous. Sign-in (``gridmap.access`` modules: passwords, sessions, CSRF, rate limits)
  stores the user on ``flask.g`` as ``GRIDMAP_USER`` before any view or callback runs.
- Database reads on behalf of a user go through the row-level-security scope the access
  modules provide, so a grid lead's rows are filtered by PostgreSQL itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from flask import g, has_request_context


class Role(StrEnum):
    """The roles of the ``users`` table."""

    ADMIN = "admin"
    COMMAND = "command"  # command centre: whole city, residents' personal data masked
    GRID_LEAD = "grid_lead"  # only assigned grids
    GRID_WORKER = "grid_worker"  # only assigned grids
    PLANNER = "planner"  # aggregates and exports, no personal data
    API_CLIENT = "api_client"  # token for intake


#: Roles whose rows are limited to their assigned grids.
GRID_SCOPED_ROLES = frozenset({Role.GRID_LEAD, Role.GRID_WORKER})


@dataclass(frozen=True)
class User:
    """A signed-in account."""

    id: int
    username: str
    display_name: str
    role: Role
    grid_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def grid_scoped(self) -> bool:
        """Whether this user sees only the rows of their assigned grids."""
        return self.role in GRID_SCOPED_ROLES


#: Attribute of ``flask.g`` holding the request's :class:`User` (set by sign-in).
G_USER = "GRIDMAP_USER"


def current_user() -> User | None:
    """The signed-in user of the current request (None: anonymous or outside a request)."""
    if not has_request_context():
        return None
    return g.get(G_USER)


__all__ = ["GRID_SCOPED_ROLES", "G_USER", "Role", "User", "current_user"]
