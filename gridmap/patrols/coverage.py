"""Patrol and camera coverage per grid for a time window, the longest-unvisited streets,
the risk gap ranking, and the refresh of the static parts (street pieces per grid, camera
sectors and what online cameras see)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from gridmap.patrols.errors import PatrolValidationError, Problem

#: The windows the dashboard offers (label → length).
WINDOWS: dict[str, timedelta] = {
    "2h": timedelta(hours=2),
    "8h": timedelta(hours=8),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
_WINDOW_RE = re.compile(r"^(\d{1,4})\s*([mhd])$")


def parse_window(value: str) -> timedelta:
    """A window length from ``2h``, ``8h``, ``24h``, ``7d``, ``90m`` …"""
    match = _WINDOW_RE.match((value or "").strip().lower())
    if not match or int(match.group(1)) == 0:
        raise PatrolValidationError(
            [Problem("window", f"must look like 2h, 8h, 24h or 7d (got {str(value)[:20]!r})")]
        )
    n, unit = int(match.group(1)), match.group(2)
    return {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}[unit]


@dataclass(frozen=True)
class Window:
    """A closed time window [start, end]."""

    start: datetime
    end: datetime

    @classmethod
    def last(cls, length: timedelta, end: datetime | None = None) -> Window:
        end = end or datetime.now(UTC)
        return cls(end - length, end)

    def params(self) -> dict[str, datetime]:
        return {"t0": self.start, "t1": self.end}


def refresh_static(engine: Engine) -> dict[str, int]:
    """Recompute street pieces per grid, camera sectors and camera-seen lengths."""
    with engine.begin() as conn:
        pieces = conn.execute(text("SELECT gridmap_patrol_refresh_edge_grid()")).scalar_one()
        sectors = conn.execute(text("SELECT gridmap_patrol_refresh_sectors()")).scalar_one()
        seen = conn.execute(text("SELECT gridmap_patrol_refresh_seen()")).scalar_one()
        conn.execute(text("ANALYZE edge_grid"))
    return {"pieces": pieces, "sectors": sectors, "seen_pieces": seen}


def refresh_cameras(engine: Engine) -> dict[str, int]:
    """Recompute camera sectors and seen lengths (after camera moves or status changes)."""
    with engine.begin() as conn:
        sectors = conn.execute(text("SELECT gridmap_patrol_refresh_sectors()")).scalar_one()
        seen = conn.execute(text("SELECT gridmap_patrol_refresh_seen()")).scalar_one()
    return {"sectors": sectors, "seen_pieces": seen}


def grid_coverage(engine: Engine, window: Window) -> list[dict[str, Any]]:
    """Per grid with streets: street, patrolled, seen and watched metres and shares."""
    sql = text(
        "SELECT c.*, g.code, g.name FROM gridmap_patrol_coverage(:t0, :t1) c "
        "JOIN grids g ON g.id = c.grid_id ORDER BY c.grid_id"
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sql, window.params())]


def unvisited_streets(engine: Engine, grid_id: int, limit: int = 10) -> list[dict[str, Any]]:
    """The grid's street pieces patrolled longest ago (never first), longest first."""
    sql = text(
        "SELECT edge_id, name, kind, length_m, last_at FROM gridmap_patrol_unvisited(:gid, :lim)"
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sql, {"gid": grid_id, "lim": limit})]


def risk_gap(engine: Engine, window: Window, limit: int = 20) -> list[dict[str, Any]]:
    """Grids ranked by case density (cases per street km) x unpatrolled share."""
    sql = text("SELECT * FROM gridmap_patrol_risk_gap(:t0, :t1, :lim)")
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sql, window.params() | {"lim": limit})]


def latest_ping(engine: Engine) -> datetime | None:
    """The time of the newest stored ping (windows "ending now" on replayed data)."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT max(at) FROM gps_pings")).scalar()
