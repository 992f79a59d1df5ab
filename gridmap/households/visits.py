"""Recording door-to-door visits (走访) and reading them back.

:func:`record_visit` is idempotent like case intake: the same account's Idempotency-Key
answers the visit it first stored (never a second one, also when retries race: the unique
index decides); a key reused for a different visit is a :class:`VisitConflict`. Without
a key, a visit repeating one the same account recorded within intake's DUPLICATE_WINDOW
(same target, kind, outcome, note, fix, and visited_at when given) answers that one. A GPS fix
farther from the building than ``far_m`` is stored with its distance and flagged
(``far_fix``): kept, shown, and not counted as seeing the household. A visit may open a
case (intake's own validation and idempotency; the visit's ``case_id`` names it, and the
case is found from the visit and the visit from the case).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from gridmap.cases.intake import DUPLICATE_WINDOW, NewCase, submit_case
from gridmap.errors import InvalidInput, Problem
from gridmap.households.errors import HouseholdNotFound, VisitConflict

#: Outcomes of a visit: met the household, nobody at home (not counted as seen), needs a
#: follow-up.
OUTCOMES = ("met", "not_home", "follow_up")


@dataclass(frozen=True)
class NewVisit:
    """A validated visit: what it names (a household, or a building, or a ten-household
    unit), when, what kind, how it went, and the optional fix and case to open."""

    visited_at: datetime
    kind: str
    outcome: str
    household_id: int | None = None
    building_id: int | None = None
    unit_id: int | None = None
    note: str | None = None
    lon: float | None = None
    lat: float | None = None
    accuracy_m: float | None = None
    case: NewCase | None = field(default=None, compare=False)
    #: False when the server's clock filled in ``visited_at`` (a retry then has another).
    visited_at_given: bool = True


INSERT_VISIT = text(
    """
    INSERT INTO visits (household_id, building_id, ten_household_unit_id, worker_id,
                        worker_name, visited_at, kind, outcome, note, geom, accuracy_m,
                        distance_m, far_fix, case_id, idempotency_key, submitted_by)
    SELECT :household_id, :building_id, :unit_id, :worker_id, :worker_name, :visited_at,
           :kind, :outcome, :note, fix.g, :accuracy_m, d.m,
           coalesce(d.m > CAST(:far_m AS float8), false), :case_id, :key, :submitted_by
    FROM (SELECT CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
                      ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END AS g) fix
    CROSS JOIN LATERAL (
        SELECT gridmap_visit_distance(
            coalesce(CAST(:building_id AS bigint),
                     (SELECT building_id FROM households WHERE id = :household_id)),
            fix.g) AS m) d
    ON CONFLICT (submitted_by, idempotency_key) WHERE idempotency_key IS NOT NULL
    DO NOTHING
    RETURNING id
    """
)
VISIT_COLUMNS = """
    v.id, v.household_id, v.building_id, v.ten_household_unit_id AS unit_id, v.grid_id,
    v.worker_id, v.worker_name, v.visited_at, v.kind, k.name_zh AS kind_zh, v.outcome,
    v.note, ST_X(v.geom) AS lon, ST_Y(v.geom) AS lat, v.accuracy_m, v.distance_m,
    v.far_fix, v.case_id, c.code AS case_code, v.created_at
"""
VISIT_FROM = """
    FROM visits v JOIN visit_kinds k ON k.slug = v.kind LEFT JOIN cases c ON c.id = v.case_id
"""
BY_KEY = text(
    f"SELECT {VISIT_COLUMNS} {VISIT_FROM} WHERE v.idempotency_key = :key "
    "AND v.submitted_by IS NOT DISTINCT FROM CAST(:submitted_by AS integer)"
)


#: One key-less visit of an account and target at a time (the twin check, then insert).
LOCK_TWINS = text("SELECT pg_advisory_xact_lock(hashtextextended(:lock, 0))")
#: The visit a key-less one repeats: the same account, target, kind, outcome, note and
#: fix, recorded within the window (and the same visited_at when the client gave one).
RECENT_TWIN = text(
    """
    SELECT id FROM visits
     WHERE submitted_by = :submitted_by AND idempotency_key IS NULL
       AND created_at >= now() - make_interval(secs => :window)
       AND household_id IS NOT DISTINCT FROM CAST(:household_id AS bigint)
       AND (CAST(:building_id AS bigint) IS NULL OR building_id = :building_id)
       AND (CAST(:unit_id AS integer) IS NULL OR ten_household_unit_id = :unit_id)
       AND kind = :kind AND outcome = :outcome AND note IS NOT DISTINCT FROM :note
       AND (NOT :given OR visited_at = :visited_at)
       AND CASE WHEN CAST(:lon AS float8) IS NULL THEN geom IS NULL
                ELSE ST_X(geom) = :lon AND ST_Y(geom) = :lat END
     ORDER BY id DESC
     LIMIT 1
    """
)


def _target(visit: NewVisit) -> str:
    return f"{visit.household_id}:{visit.building_id}:{visit.unit_id}"


def visit_kinds(conn: Engine | Connection) -> list[dict[str, Any]]:
    """The configured visit kinds, in their order."""
    rows = conn.execute(
        text("SELECT slug, name_zh, name_en FROM visit_kinds ORDER BY sort, slug")
    ).mappings()
    return [dict(r) for r in rows]


def check_visit(conn: Engine | Connection, visit: NewVisit) -> None:
    """Refuse an unknown kind or outcome, or a visit naming nothing, with every problem."""
    problems = []
    kinds = [k["slug"] for k in visit_kinds(conn)]
    if visit.kind not in kinds:
        problems.append(
            Problem("kind", f"unknown visit kind {visit.kind[:40]!r} (known: {', '.join(kinds)})")
        )
    if visit.outcome not in OUTCOMES:
        problems.append(Problem("outcome", f"must be one of {', '.join(OUTCOMES)}"))
    if visit.household_id is None and visit.building_id is None and visit.unit_id is None:
        problems.append(Problem("household_id", "is required (or building_id, or unit_id)"))
    if (visit.lon is None) != (visit.lat is None):
        problems.append(Problem("lat" if visit.lat is None else "lon", "is required with lon/lat"))
    if problems:
        raise InvalidInput(problems)


def _same(row: dict[str, Any], visit: NewVisit) -> bool:
    return (
        row["household_id"] == visit.household_id
        and (visit.building_id is None or row["building_id"] == visit.building_id)
        and (visit.unit_id is None or row["unit_id"] == visit.unit_id)
        and (not visit.visited_at_given or row["visited_at"] == visit.visited_at)
        and row["kind"] == visit.kind
        and row["outcome"] == visit.outcome
        and row["note"] == visit.note
    )


def _replay(conn: Connection, key: str, submitted_by: int | None, visit: NewVisit) -> int | None:
    """The visit stored under ``key`` by this account (None: none yet); a different visit
    under the same key is a VisitConflict."""
    row = conn.execute(BY_KEY, {"key": key, "submitted_by": submitted_by}).mappings().first()
    if row is None:
        return None
    if not _same(dict(row), visit):
        raise VisitConflict(
            f"Idempotency-Key {key!r} was used for a different visit (id {row['id']})",
            hint="use a new key for a new visit; reuse a key only to retry the same request",
        )
    return int(row["id"])


def record_visit(
    engine: Engine,
    visit: NewVisit,
    *,
    far_m: float,
    idempotency_key: str | None = None,
    worker_id: int | None = None,
    worker_name: str | None = None,
) -> tuple[int, bool]:
    """Store ``visit`` (and the case it opens); return (visit id, created)."""
    key = idempotency_key
    with engine.connect() as conn:
        check_visit(conn, visit)
        if key is not None:
            found = _replay(conn, key, worker_id, visit)
            if found is not None:
                return found, False
    params = {
        "household_id": visit.household_id,
        "building_id": visit.building_id,
        "unit_id": visit.unit_id,
        "worker_id": worker_id,
        "worker_name": worker_name,
        "visited_at": visit.visited_at,
        "kind": visit.kind,
        "outcome": visit.outcome,
        "note": visit.note,
        "lon": visit.lon,
        "lat": visit.lat,
        "accuracy_m": visit.accuracy_m,
        "far_m": far_m,
        "case_id": None,
        "key": key,
        "submitted_by": worker_id,
    }
    with engine.begin() as conn:
        if key is None and worker_id is not None:
            # no key: one key-less visit of this account and target at a time, and a
            # repeat of a recent one is that one (as case intake's natural key)
            conn.execute(LOCK_TWINS, {"lock": f"gridmap-visit:{worker_id}:{_target(visit)}"})
            twin = conn.execute(
                RECENT_TWIN,
                params
                | {
                    "window": DUPLICATE_WINDOW.total_seconds(),
                    "given": visit.visited_at_given,
                },
            ).scalar()
            if twin is not None:
                return int(twin), False
        if visit.case is not None:
            case_key = f"visit:{key}" if key is not None else None
            params["case_id"], _ = submit_case(
                engine,
                visit.case,
                idempotency_key=case_key,
                actor=worker_name,
                submitted_by=worker_id,
                natural_key=key is None,
            )
        new_id = conn.execute(INSERT_VISIT, params).scalar()
        if new_id is not None:
            return int(new_id), True
    with engine.connect() as conn:  # a racing retry stored it first
        found = _replay(conn, key or "", worker_id, visit)
    if found is None:  # pragma: no cover - the conflict names a stored row
        raise VisitConflict(f"Idempotency-Key {key!r} could not be resolved; retry")
    return found, False


def get_visit(conn: Engine | Connection, visit_id: int) -> dict[str, Any]:
    """One visit (as the connection may see it), or HouseholdNotFound."""
    row = (
        conn.execute(
            text(f"SELECT {VISIT_COLUMNS} {VISIT_FROM} WHERE v.id = :id"), {"id": visit_id}
        )
        .mappings()
        .first()
    )
    if row is None:
        raise HouseholdNotFound(f"There is no visit {visit_id}.")
    return dict(row)


def household_visits(
    conn: Engine | Connection, household_id: int, limit: int = 200
) -> list[dict[str, Any]]:
    """A household's visits, newest first (at most ``limit``)."""
    rows = conn.execute(
        text(
            f"SELECT {VISIT_COLUMNS} {VISIT_FROM} WHERE v.household_id = :id "
            "ORDER BY v.visited_at DESC, v.id DESC LIMIT :limit"
        ),
        {"id": household_id, "limit": limit},
    ).mappings()
    return [dict(r) for r in rows]


HOUSEHOLD = text(
    """
    SELECT h.id, h.code, h.building_id, b.code AS building_code, b.address, h.unit, h.floor,
           h.room, h.head_name, h.head_phone, h.members, h.tags,
           h.ten_household_unit_id AS unit_id, u.name AS unit_name, h.grid_id,
           b.compound_id, h.registered_on, h.last_visited_at,
           gridmap_household_cadence(h.tags) AS cadence_days
    FROM households h JOIN buildings b ON b.id = h.building_id
    LEFT JOIN ten_household_units u ON u.id = h.ten_household_unit_id
    WHERE h.id = :id
    """
)


def get_household(conn: Engine | Connection, household_id: int) -> dict[str, Any]:
    """One household (as the connection may see it), or HouseholdNotFound."""
    row = conn.execute(HOUSEHOLD, {"id": household_id}).mappings().first()
    if row is None:
        raise HouseholdNotFound(f"There is no household {household_id}.")
    return dict(row)


def visible(conn: Connection, table: str, row_id: int) -> bool:
    """Whether the connection (a user's scoped read) sees row ``row_id`` of ``table``."""
    assert table in ("households", "buildings", "ten_household_units", "visits")
    return (
        conn.execute(text(f"SELECT 1 FROM {table} WHERE id = :id"), {"id": row_id}).first()
        is not None
    )


def building_place(
    conn: Connection, building_id: int | None, household_id: int | None
) -> tuple[float, float] | None:
    """(lon, lat) of a visit's building (given, else its household's; None: neither): where
    a case opened from a visit without a fix is placed."""
    row = conn.execute(
        text(
            "SELECT ST_X(b.geom), ST_Y(b.geom) FROM buildings b WHERE b.id = "
            "coalesce(CAST(:b AS bigint), (SELECT building_id FROM households WHERE id = :h))"
        ),
        {"b": building_id, "h": household_id},
    ).first()
    return (float(row[0]), float(row[1])) if row is not None else None
