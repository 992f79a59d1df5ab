"""Who is asking: the signed-in user, their role and grids, and the access rules.

The contract other subsystems build on (pages, APIs, layers, exports):

- :class:`User` — an immutable view of a signed-in account (``grid_ids`` empty unless the
  account is limited to grids: a grid lead's or worker's assigned grids, or every grid of
  an area-scoped command centre's :class:`Area`).
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
    COMMAND = "command"  # command centre: whole city (or its area), personal data masked
    GRID_LEAD = "grid_lead"  # only assigned grids
    GRID_WORKER = "grid_worker"  # only assigned grids
    PLANNER = "planner"  # aggregates and exports, no personal data
    API_CLIENT = "api_client"  # token for intake


#: Roles whose rows are limited to their assigned grids.
GRID_SCOPED_ROLES = frozenset({Role.GRID_LEAD, Role.GRID_WORKER})


#: The kinds of area a command centre can be scoped to (the administrative hierarchy).
AREA_KINDS = ("district", "street", "community")


@dataclass(frozen=True)
class Area:
    """The district, street or community an area-scoped command account is responsible for."""

    kind: str  # one of AREA_KINDS
    id: int
    code: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.code}"


@dataclass(frozen=True)
class User:
    """A signed-in account."""

    id: int
    username: str
    display_name: str
    role: Role
    grid_ids: frozenset[int] = field(default_factory=frozenset)
    area: Area | None = None

    @property
    def grid_scoped(self) -> bool:
        """Whether this user sees only the rows of their grids (``grid_ids``): a grid lead
        or worker, or a command centre scoped to an area (its area's grids)."""
        return self.role in GRID_SCOPED_ROLES or self.area is not None


#: Attribute of ``flask.g`` holding the request's :class:`User` (set by sign-in).
G_USER = "GRIDMAP_USER"


def current_user() -> User | None:
    """The signed-in user of the current request (None: anonymous or outside a request)."""
    if not has_request_context():
        return None
    return g.get(G_USER)


__all__ = ["AREA_KINDS", "GRID_SCOPED_ROLES", "G_USER", "Area", "Role", "User", "current_user"]
