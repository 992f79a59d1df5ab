"""The grid lead's households: one grid's overdue households (masked and audited as the
API does), its share visited within cadence, the visit kinds, the overdue-visits map trace
of its buildings, and recording a visit through the API's own service
(:func:`gridmap.households.visits.record_visit`: idempotent, the same rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from gridmap.access import User, audit
from gridmap.access.masking import mask_household
from gridmap.access.scope import unscoped
from gridmap.errors import InvalidInput, Problem
from gridmap.households import cadence, visits
from gridmap.households.errors import HouseholdNotFound
from gridmap.settings import get_settings
from gridmap.web.services.lead.scope import (
    GridReadError,
    narrow,
    user_connection,
    visible_grid_ids,
)
from layers.base import LayerContext
from layers.overdue_visits import OverdueVisitsLayer, today

#: Most overdue households the panel lists (the most days overdue first).
MAX_LISTED = 50
#: Longest note the form takes (as the API: household_schemas.MAX_NOTE).
MAX_NOTE = 2000


@dataclass(frozen=True)
class GridHouseholds:
    """One grid's visit figures and its overdue households (masked for the user)."""

    grid_id: int
    as_of: date
    households: int
    visited: int
    overdue: int
    vulnerable_overdue: int
    share: float | None
    listed: list[dict[str, Any]]


def _tz() -> str:
    return get_settings().cases_timezone


def grid_households(
    engine: Engine, user: User | None, grid_id: int, *, as_of: date | None = None
) -> GridHouseholds | None:
    """Grid ``grid_id``'s share visited and its overdue households (None: the user may
    not see the grid). Reading the list is a view of personal data: audited."""
    ids = narrow(visible_grid_ids(user), [grid_id])
    if not ids:
        return None
    day = as_of or today(_tz())
    with user_connection(engine, user) as conn:
        shares = cadence.visit_shares(conn, day, _tz(), grid_ids=ids)
        rows = cadence.overdue_households(conn, day, _tz(), grid_ids=ids, limit=MAX_LISTED)
    share = shares[0] if shares else {}
    _audit(user, engine, grid_id, len(rows))
    return GridHouseholds(
        grid_id=grid_id,
        as_of=day,
        households=int(share.get("households", 0)),
        visited=int(share.get("visited", 0)),
        overdue=int(share.get("overdue", 0)),
        vulnerable_overdue=int(share.get("vulnerable_overdue", 0)),
        share=share.get("share"),
        listed=[mask_household(r, user) for r in rows],
    )


def _audit(user: User | None, engine: Engine, grid_id: int, count: int) -> None:
    try:
        audit.record(
            audit.VIEW_PERSONAL,
            "households:overdue",
            {"grid_id": grid_id, "n": count, "page": "/lead"},
            user=user,
            engine=engine,
        )
    except SQLAlchemyError as exc:
        raise GridReadError("The audit log could not be written.") from exc


def visit_kinds(engine: Engine) -> list[dict[str, Any]]:
    """The configured visit kinds, in order."""
    try:
        with engine.connect() as conn:
            return visits.visit_kinds(conn)
    except SQLAlchemyError as exc:
        raise GridReadError("The visit kinds could not be read.") from exc


def overdue_trace(
    engine: Engine, user: User | None, grid_id: int | None, lang: str, *, as_of: date | None = None
) -> dict[str, Any]:
    """The overdue-visits layer's trace of grid ``grid_id``'s buildings (None: empty), a
    plotly JSON dict for the lead's map."""
    layer = OverdueVisitsLayer(as_of=as_of, grid_ids=None if grid_id is None else (int(grid_id),))
    if grid_id is None or not narrow(visible_grid_ids(user), [int(grid_id)]):
        return layer.empty_traces(lang)[0].to_plotly_json()
    data = layer.export(LayerContext(engine, user=user))
    return layer.traces(data, lang)[0].to_plotly_json()


def record(
    engine: Engine,
    user: User | None,
    *,
    household_id: Any,
    kind: Any,
    outcome: Any,
    note: Any,
    key: str | None,
) -> tuple[int, bool]:
    """Record a visit of ``user`` to a household they may see (HouseholdNotFound
    otherwise; InvalidInput for a missing household, kind or outcome, or a note too long);
    ``key``: the form's idempotency key (a double click records one visit)."""
    problems = []
    if not isinstance(household_id, int) or isinstance(household_id, bool):
        problems.append(Problem("household_id", "choose a household"))
    if not isinstance(kind, str) or not kind:
        problems.append(Problem("kind", "choose a kind of visit"))
    if not isinstance(outcome, str) or not outcome:
        problems.append(Problem("outcome", "choose an outcome"))
    text = note.strip() if isinstance(note, str) else ""
    if len(text) > MAX_NOTE:
        problems.append(Problem("note", f"at most {MAX_NOTE} characters"))
    if problems:
        raise InvalidInput(problems)
    with user_connection(engine, user) as conn:
        if user is None or not visits.visible(conn, "households", household_id):
            raise HouseholdNotFound(f"There is no household {household_id}.")
    new = visits.NewVisit(
        visited_at=datetime.now(UTC),
        visited_at_given=False,
        kind=kind,
        outcome=outcome,
        household_id=household_id,
        note=text or None,
    )
    try:
        with unscoped():  # the app writes it (the grid reader cannot), as the API does
            return visits.record_visit(
                engine,
                new,
                far_m=get_settings().visit_far_fix_m,
                idempotency_key=key,
                worker_id=user.id,
                worker_name=user.display_name,
            )
    except SQLAlchemyError as exc:
        raise GridReadError(
            "The visit could not be recorded.", hint=type(exc.orig or exc).__name__
        ) from exc
