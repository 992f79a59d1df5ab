"""Who may call which route: every Flask endpoint is classified by an :class:`Access` level.

New routes say their level with the :func:`allow` decorator (put it under the route
decorator)::

    @blueprint.get("/things")
    @allow(Access.SIGNED_IN)
    def things(): ...

or, for endpoints made by libraries, an entry in :data:`ENDPOINTS`. An unclassified
endpoint is treated as :attr:`Access.PERSONAL` at run time, and the access tests
(tests/gridmap/access/test_routes.py) fail until it is classified.

Rows are scoped on top of this: a grid lead's reads go through row-level security
(:mod:`gridmap.access.scope`), so a SIGNED_IN route still shows them only their grids.
Dashboard pages and their Dash callbacks (``/<path:path>``, ``/_dash-update-component``)
are further limited to the roles each page declares (:mod:`gridmap.access.pages`).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from gridmap.access import Role, User


class Access(StrEnum):
    """Access levels of routes, from open to closed."""

    PUBLIC = "public"  # anyone, no sign-in (login page, health, static files, Open311 discovery)
    INTAKE = "intake"  # reporting: api_client tokens and every signed-in person
    SIGNED_IN = "signed_in"  # every signed-in person (not api_client); rows scoped, data masked
    PERSONAL = "personal"  # individual records with personal data: not planner, not api_client
    ADMIN = "admin"  # admin only


#: Roles allowed per level (PUBLIC: anyone, including anonymous).
ROLES: dict[Access, frozenset[Role]] = {
    Access.PUBLIC: frozenset(Role),
    Access.INTAKE: frozenset(Role),
    Access.SIGNED_IN: frozenset(Role) - {Role.API_CLIENT},
    Access.PERSONAL: frozenset({Role.ADMIN, Role.COMMAND, Role.GRID_LEAD, Role.GRID_WORKER}),
    Access.ADMIN: frozenset({Role.ADMIN}),
}

#: Levels of endpoints that are not decorated (Flask's, Dash's, and the existing APIs').
ENDPOINTS: dict[str, Access] = {
    "static": Access.PUBLIC,
    "_dash_assets.static": Access.PUBLIC,
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": Access.PUBLIC,
    "/_favicon.ico": Access.PUBLIC,
    "/_reload-hash": Access.SIGNED_IN,
    "/_dash-layout": Access.SIGNED_IN,
    "/_dash-dependencies": Access.SIGNED_IN,
    "/_dash-update-component": Access.SIGNED_IN,
    "/": Access.SIGNED_IN,
    "/<path:path>": Access.SIGNED_IN,
    "health.healthz": Access.PUBLIC,
    "tiles.roads_tile": Access.SIGNED_IN,
    "tiles.roads_tilejson": Access.SIGNED_IN,
    "cases_api.report_case": Access.INTAKE,
    "cases_api.list_cases": Access.PERSONAL,
    "cases_api.case_kpis": Access.SIGNED_IN,
    "cases_api.get_case": Access.PERSONAL,
    "cases_api.get_history": Access.PERSONAL,
    "cases_api.get_cameras": Access.PERSONAL,
    "cases_api.act_on_case": Access.PERSONAL,
    "cases_api.workflow_table": Access.SIGNED_IN,
    "cases_api.get_taxonomy_json": Access.INTAKE,
    "open311.discovery": Access.PUBLIC,
    "open311.services": Access.PUBLIC,
    "open311.service_definition": Access.PUBLIC,
    "open311.post_request": Access.INTAKE,
    "open311.get_requests": Access.PERSONAL,
    "open311.get_request": Access.PERSONAL,
    "open311.get_token": Access.PERSONAL,
    "patrols_api.post_pings": Access.INTAKE,
    "patrols_api.post_shift": Access.INTAKE,
    "patrols_api.end_shift": Access.INTAKE,
    "patrols_api.get_shifts": Access.PERSONAL,
    "patrols_api.get_shift": Access.PERSONAL,
    "patrols_api.get_track": Access.PERSONAL,
    "patrols_api.get_coverage": Access.SIGNED_IN,
    "patrols_api.get_unvisited": Access.SIGNED_IN,
    "patrols_api.get_risk_gap": Access.SIGNED_IN,
}

#: Level assumed for an endpoint nobody classified.
UNCLASSIFIED = Access.PERSONAL
_ATTRIBUTE = "gridmap_access"

F = TypeVar("F", bound=Callable)


def allow(level: Access) -> Callable[[F], F]:
    """Decorator classifying a view function (place it below ``@blueprint.get(...)``)."""

    def mark(view: F) -> F:
        setattr(view, _ATTRIBUTE, Access(level))
        return view

    return mark


def classified(endpoint: str, view: Callable | None) -> Access | None:
    """The level given to an endpoint (decorator first, then :data:`ENDPOINTS`), or None."""
    level = getattr(view, _ATTRIBUTE, None) if view is not None else None
    return level or ENDPOINTS.get(endpoint)


def level_of(endpoint: str | None, view: Callable | None) -> Access:
    """The level enforced for an endpoint (unclassified ones count as PERSONAL)."""
    if endpoint is None:  # no route matched: let Flask answer 404 (after sign-in)
        return Access.SIGNED_IN
    return classified(endpoint, view) or UNCLASSIFIED


def sees_single_cases(user: User | None) -> bool:
    """Whether ``user`` may see single cases (ids, codes, titles): the roles of
    :attr:`Access.PERSONAL`, and no user (the CLI, background jobs). A planner gets counts
    only (the case layer's hexagons at every zoom, no ticker, no case export)."""
    return user is None or user.role in ROLES[Access.PERSONAL]


def permits(level: Access, user: User | None) -> bool:
    """Whether ``user`` (None: anonymous) may call a route of ``level``."""
    if level is Access.PUBLIC:
        return True
    return user is not None and user.role in ROLES[level]
