"""The grid lead's day route on ``/lead``: the households due or overdue today in one grid,
grouped by building and ordered into a walking route by the same service as
``GET /api/v1/day-plan?grid_id=`` (:func:`gridmap.households.dayplan.due_households` and
:func:`~gridmap.households.dayplan.plan_route` over the project's walking network), read
through the user's row-level security, masked and audited as the API does. The printable
page is that API's PDF for the same grid (:func:`pdf_href`)."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from gridmap.access import User, audit
from gridmap.access.masking import mask_household
from gridmap.access.scope import unscoped
from gridmap.analytics.errors import NetworkError
from gridmap.analytics.network import WalkGraph
from gridmap.households import dayplan
from gridmap.settings import get_settings
from gridmap.web.services.lead.scope import (
    GridReadError,
    narrow,
    user_connection,
    visible_grid_ids,
)
from layers.overdue_visits import today

#: Most buildings on the lead's route (the API's default max_stops).
MAX_STOPS = 40
PDF_PATH = "/api/v1/day-plan.pdf"


def _graph(url: str) -> WalkGraph | None:
    """The database's walking graph (kept per process); None without roads (the plan then
    goes by straight lines and its method says so)."""
    try:
        with unscoped():  # the road network is not anyone's grid data
            return dayplan.walk_graph(url)
    except NetworkError:
        return None


def day_route(
    engine: Engine,
    url: str,
    user: User | None,
    grid_id: int,
    *,
    as_of: date | None = None,
    max_stops: int = MAX_STOPS,
) -> dayplan.DayPlan | None:
    """Grid ``grid_id``'s day plan for ``as_of`` (default: today) over the walking graph
    of database ``url``, households masked for ``user`` (None: the user may not see the
    grid). Reading it is a view of personal data: audited."""
    ids = narrow(visible_grid_ids(user), [grid_id])
    if not ids:
        return None
    tz = get_settings().cases_timezone
    day = as_of or today(tz)
    with user_connection(engine, user) as conn:
        rows = dayplan.due_households(conn, day, tz, ids)
    graph = _graph(url) if rows else None
    plan = dayplan.plan_route(graph, rows, day, max_stops=max_stops)
    for stop in plan.stops:
        stop["households"] = [mask_household(h, user) for h in stop["households"]]
    try:
        audit.record(
            audit.VIEW_PERSONAL,
            "households:day-plan",
            {"grid_id": grid_id, "n": plan.households, "page": "/lead"},
            user=user,
            engine=engine,
        )
    except SQLAlchemyError as exc:
        raise GridReadError("The audit log could not be written.") from exc
    return plan


def pdf_href(grid_id: int, as_of: date | None = None) -> str:
    """The printable one-page day plan of the same grid (GET /api/v1/day-plan.pdf)."""
    query = {"grid_id": grid_id} | ({"date": as_of.isoformat()} if as_of else {})
    return f"{PDF_PATH}?{urlencode(query)}"
