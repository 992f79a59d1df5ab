"""The dashboard's case figures, read for a :class:`~gridmap.cases.filters.CaseFilter`: the
KPI tiles (new today, open, overdue, resolution rate, mean time to close), the ticker of the
latest cases, the hottest grids, and the wall's heavier tiles (patrol coverage now, cameras
online, people inside the service circles). The components in
:mod:`gridmap.web.components` only render what these return.

The SQL functions are in ``sql/functions/case_layer.sql`` (tiles, ticker: the one case
predicate ``gridmap_case_matches``) and ``sql/functions/wall.sql``. Every reader raises
SQLAlchemyError when the database fails; callers turn that into a stale notice.

People inside the circles only change with a new coverage run, so that sum is kept per run
(and parameters) in the process; the other figures are read every time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from threading import Lock
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text

from gridmap.access import User, current_user
from gridmap.access.masking import mask_phones
from gridmap.access.policy import sees_single_cases
from gridmap.access.scope import request_cache_scope
from gridmap.cases.filters import FILTER_PARAMS, CaseFilter
from gridmap.settings import get_settings

TILES_SQL = f"SELECT * FROM gridmap_case_tiles({FILTER_PARAMS}, :at, :day_start)"
TICKER_SQL = (
    "SELECT id, code, title, category, status, priority, reported_at, grid_code, grid_name, "
    "geom IS NOT NULL AS located "
    f"FROM gridmap_layer_cases(NULL, NULL, NULL, NULL, {FILTER_PARAMS}, false, :limit)"
)
TICKER_SIZE = 10
HOT_SQL = (
    "SELECT grid_id, code, name, community, open, new_today "
    "FROM gridmap_wall_hot_grids(:since, :day_start, :limit)"
)
CAMERAS_SQL = "SELECT cameras, online FROM gridmap_wall_cameras()"
PATROL_SQL = "SELECT street_m, patrolled_m FROM gridmap_wall_patrol(:t0, :t1)"
LATEST_RUN_SQL = "SELECT id FROM gridmap_latest_run('coverage')"
CIRCLES_SQL = (
    "SELECT run_id, max_minutes, population, covered "
    "FROM gridmap_wall_circle_population(:minutes, :kinds)"
)
#: Households tracked by a visit cadence, those visited within it, and the vulnerable ones
#: overdue, city-wide (or in the reader's scope) on a local day; nothing without households.
#: (One aggregate over the households, in parallel workers: ~0.3 s at 1.2M households.)
VISITS_SQL = (
    "SELECT households, visited, vulnerable_overdue FROM gridmap_visit_totals(:as_of, :tz) "
    "WHERE households > 0"
)


# -- KPI tiles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseTiles:
    """The figures the tiles show (``total``: cases in the window)."""

    new_today: int
    total: int
    open: int
    overdue: int
    resolved: int
    mean_close_hours: float | None

    @property
    def resolution_rate(self) -> float | None:
        """Resolved or closed share of the window's cases (None when there are none)."""
        return self.resolved / self.total if self.total else None

    def to_store(self) -> dict[str, Any]:
        return asdict(self)


def read_tiles(engine: Engine, flt: CaseFilter, at: datetime, day_start: datetime) -> CaseTiles:
    """The tiles of the cases matching ``flt`` (the whole city), judged at ``at``; "new
    today" counts from ``day_start`` (the window does not apply to it)."""
    with engine.connect() as conn:
        row = conn.execute(
            text(TILES_SQL), flt.sql_args() | {"at": at, "day_start": day_start}
        ).one()
    mean = row.mean_close_hours
    return CaseTiles(
        new_today=int(row.new_today),
        total=int(row.total),
        open=int(row.open),
        overdue=int(row.overdue),
        resolved=int(row.resolved),
        mean_close_hours=float(mean) if mean is not None else None,
    )


# -- ticker ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TickerItem:
    """One line of the ticker."""

    id: int
    code: str
    title: str
    category: str
    status: str
    priority: int
    reported_at: datetime
    grid_code: str | None
    grid_name: str | None
    #: The case has a position (without a grid: it lies outside every grid).
    located: bool = True


def read_latest(
    engine: Engine, flt: CaseFilter, user: User | None = None, limit: int = TICKER_SIZE
) -> list[TickerItem]:
    """The newest ``limit`` cases matching ``flt`` (located or not, anywhere), phone numbers
    in titles masked. Nothing for an account that sees case counts only (a planner);
    ``user`` None: the signed-in user of the request."""
    if not sees_single_cases(user if user is not None else current_user()):
        return []
    with engine.connect() as conn:
        rows = conn.execute(text(TICKER_SQL), flt.sql_args() | {"limit": limit}).mappings()
        return [TickerItem(**(dict(r) | {"title": mask_phones(r["title"])})) for r in rows]


# -- hottest grids ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HotGrid:
    """One line of the hottest grids."""

    grid_id: int
    code: str
    name: str
    community: str
    open: int
    new_today: int


def read_hot_grids(
    engine: Engine, flt: CaseFilter, day_start: datetime, limit: int
) -> list[HotGrid]:
    """The ``limit`` grids with the most open cases reported since ``flt.since`` (only the
    window's start counts: open cases of any category and source); new today counts from
    ``day_start``."""
    params = {"since": flt.since, "day_start": day_start, "limit": limit}
    with engine.connect() as conn:
        return [HotGrid(**dict(r)) for r in conn.execute(text(HOT_SQL), params).mappings()]


# -- the wall's heavier tiles ----------------------------------------------------------------


@dataclass(frozen=True)
class WallExtras:
    """The heavier figures: cameras (all, online), city street metres and the metres
    patrolled in the last ``patrol_hours`` (None: street pieces never computed), and the
    people of the latest coverage run inside ``circle_minutes`` circles of ``circle_kinds``
    (None: no run, or the run's circles are smaller)."""

    cameras: int
    cameras_online: int
    patrol_hours: float
    street_m: float | None
    patrolled_m: float | None
    circle_minutes: float
    population: int | None
    population_covered: int | None
    circle_kinds: tuple[str, ...] = ()
    #: Households a visit cadence tracks, those visited within it, vulnerable ones overdue
    #: (None: no households registered).
    households: int | None = None
    households_visited: int | None = None
    vulnerable_overdue: int | None = None

    @property
    def visit_rate(self) -> float | None:
        if not self.households or self.households_visited is None:
            return None
        return self.households_visited / self.households

    @property
    def camera_rate(self) -> float | None:
        return self.cameras_online / self.cameras if self.cameras else None

    @property
    def patrol_rate(self) -> float | None:
        if not self.street_m or self.patrolled_m is None:
            return None
        return self.patrolled_m / self.street_m

    @property
    def circle_rate(self) -> float | None:
        if not self.population or self.population_covered is None:
            return None
        return self.population_covered / self.population

    def to_store(self) -> dict[str, Any]:
        return asdict(self)


_circle_cache: dict[tuple, tuple[int | None, int | None]] = {}
_circle_lock = Lock()


def _after_fork_in_child() -> None:
    global _circle_lock
    _circle_lock = Lock()  # a thread of the parent may have held it


os.register_at_fork(after_in_child=_after_fork_in_child)


def _circle_population(
    conn: Connection, url: str, minutes: float, kinds: Sequence[str]
) -> tuple[int | None, int | None]:
    """(people, people covered) of the latest coverage run, cached per run."""
    run_id = conn.execute(text(LATEST_RUN_SQL)).scalar()
    if run_id is None:
        return None, None
    key = (url, request_cache_scope(), int(run_id), float(minutes), tuple(kinds))
    with _circle_lock:
        if key in _circle_cache:
            return _circle_cache[key]
    row = conn.execute(
        text(CIRCLES_SQL), {"minutes": minutes, "kinds": list(kinds) or None}
    ).first()
    if row is None or row.max_minutes is None or row.max_minutes < minutes:
        value: tuple[int | None, int | None] = (None, None)
    else:
        value = (int(row.population), int(row.covered))
    if row is not None and int(row.run_id) == key[2]:
        with _circle_lock:
            _circle_cache[key] = value
    return value


def read_extras(
    engine: Engine,
    now: datetime,
    *,
    patrol_hours: float,
    circle_minutes: float,
    circle_kinds: Sequence[str] = (),
    patrol: bool = True,
    visits_tz: str | None = None,
) -> WallExtras:
    """The heavier figures at ``now`` (one connection); ``patrol=False`` leaves the patrol
    metres unread (None) for a caller that has them already. The households visited within
    their cadence count local days of ``visits_tz`` (default: the cases' time zone)."""
    url = engine.url.render_as_string(hide_password=True)
    street = patrolled = None
    with engine.connect() as conn:
        cameras = conn.execute(text(CAMERAS_SQL)).one()
        if patrol:
            t0 = now - timedelta(hours=patrol_hours)
            row = conn.execute(text(PATROL_SQL), {"t0": t0, "t1": now}).one()
            if row.street_m is not None:
                street, patrolled = float(row.street_m), float(row.patrolled_m)
        population, covered = _circle_population(conn, url, circle_minutes, circle_kinds)
        tz = visits_tz or get_settings().cases_timezone
        visits = conn.execute(
            text(VISITS_SQL), {"as_of": now.astimezone(ZoneInfo(tz)).date(), "tz": tz}
        ).one_or_none()
    return WallExtras(
        cameras=int(cameras.cameras),
        cameras_online=int(cameras.online),
        patrol_hours=float(patrol_hours),
        street_m=street,
        patrolled_m=patrolled,
        circle_minutes=float(circle_minutes),
        population=population,
        population_covered=covered,
        circle_kinds=tuple(circle_kinds),
        households=None if visits is None else int(visits.households),
        households_visited=None if visits is None else int(visits.visited),
        vulnerable_overdue=None if visits is None else int(visits.vulnerable_overdue),
    )
