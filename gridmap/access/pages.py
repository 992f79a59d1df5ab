"""Who may open which dashboard page and call which Dash callback, declared once per page.

Each page module registers itself with :func:`page` (a ``with`` block around its callback
registrations)::

    ROLES = frozenset({Role.ADMIN, Role.PLANNER})

    def register(app):
        with page(app, __name__, path="/plan", roles=ROLES, nav="nav.plan", ...):
            app.callback(...)(redraw)       # allowed for ROLES
            export_panel.register(app)      # a component's callbacks inherit them too
            with narrower(app, {Role.ADMIN}):
                app.callback(...)(purge)    # admin only

The roles are kept in ``dash.page_registry`` (key ``roles``) beside the page's path, and
for every server-side callback registered inside the block in the app's
``callback_map`` (see :func:`callback_roles`). The sign-in guard
(:mod:`gridmap.access.web`) checks them on the server for every page request and every
``/_dash-update-component`` call; a callback whose output no page declared is refused
(deny by default). The header's mode links are derived from the same registry
(:func:`pages_for`). Clientside callbacks never reach the server and get no roles.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dash
from dash import Dash
from flask import Flask

from gridmap.access import Role

#: ``dash.page_registry`` keys this module adds: allowed roles, and the header label key.
ROLES_KEY, NAV_KEY = "roles", "nav"
#: Where the callback roles of an app live (``server.extensions``).
_EXTENSION = "gridmap_callback_roles"
#: The pages plugin's own callback: renders the layout of the page at a pathname.
ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."
ROUTER_INPUT = "_pages_location"


#: Where sign-in lands a role that asked for no page (the bare ``/``): a grid lead or
#: worker on their grids, a planner on planning; other roles on the city map. Only the
#: sign-in redirect uses this: ``/`` itself opens the city map for every role allowed there
#: (a planner gets it with case counts only), so the header's city-map link never bounces.
HOMES: dict[Role, str] = {
    Role.GRID_LEAD: "/lead",
    Role.GRID_WORKER: "/lead",
    Role.PLANNER: "/plan",
}


def home_of(role: Role) -> str:
    """The page sign-in lands ``role`` on when no other page was asked for."""
    return HOMES.get(role, "/")


def _roles_of(server: Flask) -> dict[str, frozenset[Role]]:
    return server.extensions.setdefault(_EXTENSION, {})


def _server_side(app: Dash) -> set[str]:
    return {key for key, spec in app.callback_map.items() if "callback" in spec}


@contextmanager
def page(
    app: Dash,
    module: str,
    *,
    path: str,
    roles: Iterable[Role],
    nav: str | None = None,
    **page_args: Any,
) -> Iterator[frozenset[Role]]:
    """Register the page ``module`` at ``path`` for ``roles`` (``nav``: its header label
    key); the server-side callbacks registered in the block are allowed for these roles
    (unless a :func:`narrower` block inside says fewer)."""
    allowed = frozenset(Role(r) for r in roles)
    dash.register_page(module, path=path, **{ROLES_KEY: allowed, NAV_KEY: nav}, **page_args)
    with narrower(app, allowed):
        yield allowed


@contextmanager
def narrower(app: Dash, roles: Iterable[Role]) -> Iterator[None]:
    """Server-side callbacks registered in the block (not yet given roles by an inner
    block) are allowed for ``roles`` only."""
    before = _server_side(app)
    allowed = frozenset(Role(r) for r in roles)
    yield
    table = _roles_of(app.server)
    for key in _server_side(app) - before:
        table.setdefault(key, allowed)


def callback_roles(server: Flask, output: str) -> frozenset[Role] | None:
    """The roles allowed to call the callback of ``output`` (the ``output`` key of a
    ``/_dash-update-component`` request); None: no page declared it."""
    return _roles_of(server).get(output)


def page_at(path: str) -> Mapping[str, Any] | None:
    """The registered page at ``path`` (query and trailing slash ignored), or None."""
    wanted = "/" + path.split("?", 1)[0].strip("/")
    for entry in dash.page_registry.values():
        if entry.get("path") == wanted:
            return entry
    return None


def page_roles(path: str) -> frozenset[Role] | None:
    """The roles allowed to open the page at ``path`` (None: no such page)."""
    entry = page_at(path)
    if entry is None:
        return None
    return frozenset(entry.get(ROLES_KEY) or ())  # a page that declared no roles: nobody


def pages_for(role: Role) -> list[Mapping[str, Any]]:
    """The pages ``role`` may open that have a header label, in registration order."""
    return [
        entry
        for entry in dash.page_registry.values()
        if entry.get(NAV_KEY) and role in (entry.get(ROLES_KEY) or ())
    ]


def routed_path(body: Mapping[str, Any]) -> str | None:
    """The pathname a call of the pages router asks the layout of (None: not given)."""
    for item in body.get("inputs") or ():
        if (
            isinstance(item, Mapping)
            and item.get("id") == ROUTER_INPUT
            and item.get("property") == "pathname"
            and isinstance(item.get("value"), str)
        ):
            return item["value"]
    return None


def may_call(server: Flask, role: Role, body: Any) -> bool:
    """Whether ``role`` may run the callback a ``/_dash-update-component`` request body
    asks for: its page's roles, and for the pages router the roles of the page it would
    render. Malformed bodies and undeclared callbacks: no."""
    if not isinstance(body, Mapping) or not isinstance(body.get("output"), str):
        return False
    output = body["output"]
    if output == ROUTER_OUTPUT:
        path = routed_path(body)
        if path is None:
            return False
        roles = page_roles(path)
        return roles is None or role in roles  # an unknown path renders "not found"
    roles = callback_roles(server, output)
    return roles is not None and role in roles
