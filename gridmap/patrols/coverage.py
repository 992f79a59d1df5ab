"""Patrol and camera coverage per grid for a time window, the longest-unvisited streets,
the risk gap ranking, and the refresh of the static parts (street pieces per grid, camera
sectors and what online cameras see)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text

from gridmap.access.scope import request_cache_scope
from gridmap.db.cache import TableCache
from gridmap.errors import Problem
from gridmap.patrols.errors import invalid_input

#: The windows the dashboard offers (label → length).
WINDOWS: dict[str, timedelta] = {
    "2h": timedelta(hours=2),
    "8h": timedelta(hours=8),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
#: A window length: 1-9999 minutes, hours or days (the API's contract reads it too).
WINDOW_PATTERN = r"^([1-9][0-9]{0,3})\s*([mhd])$"
_WINDOW_RE = re.compile(WINDOW_PATTERN)


def parse_window(value: str) -> timedelta:
    """A window length from ``2h``, ``8h``, ``24h``, ``7d``, ``90m`` …"""
    match = _WINDOW_RE.match((value or "").strip().lower())
    if not match:
        raise invalid_input(
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


# -- live per-grid shares ---------------------------------------------------------------------

PIECES_SQL = "SELECT edge_id, grid_id, length_m, seen_m FROM edge_grid"
#: Changes whenever the street pieces are rebuilt or what cameras see is recomputed (sums of
#: whole millimetres: exact in any order, so a parallel scan gives the same figures).
PIECES_FINGERPRINT_SQL = (
    "SELECT count(*), coalesce(sum(round(length_m * 1000)::bigint), 0), "
    "coalesce(sum(round(seen_m * 1000)::bigint), 0) FROM edge_grid"
)
VISITED_SQL = "SELECT edge_id FROM gridmap_patrol_visited(:t0, :t1)"


@dataclass(frozen=True)
class StreetPieces:
    """The street pieces per grid (``edge_grid``) as arrays, kept per process while they
    are unchanged, so that a live view's per-grid shares cost one read of the window's
    visited edges and a few numpy sums instead of a join of every piece per request."""

    edge_id: np.ndarray
    grid_id: np.ndarray
    length_m: np.ndarray
    seen_m: np.ndarray

    @classmethod
    def read(cls, conn: Connection) -> StreetPieces:
        rows = conn.execute(text(PIECES_SQL)).all()
        cols = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
        return cls(
            np.asarray(cols[0], dtype=np.int64),
            np.asarray(cols[1], dtype=np.int64),
            np.asarray(cols[2], dtype=np.float64),
            np.asarray(cols[3], dtype=np.float64),
        )


_PIECES = TableCache(PIECES_FINGERPRINT_SQL, StreetPieces.read, scope=request_cache_scope)


def grid_shares(
    engine: Engine, grid_ids: Sequence[int], t0: datetime, t1: datetime
) -> pd.DataFrame:
    """For each of ``grid_ids`` (in that order): street metres and the shares patrolled and
    watched (patrolled, else seen by an online camera) in [t0, t1] — the figures of
    ``gridmap_patrol_grid_shares``, summed in numpy over the cached street pieces."""
    pieces = _PIECES.get(engine)
    with engine.connect() as conn:
        visited = np.fromiter(
            conn.execute(text(VISITED_SQL), {"t0": t0, "t1": t1}).scalars(), dtype=np.int64
        )
    ids = np.asarray(grid_ids, dtype=np.int64)
    slot = pd.Index(ids).get_indexer(pieces.grid_id)  # each piece's grid among ids, or -1
    asked = slot >= 0
    slot = slot[asked]
    hit = np.isin(pieces.edge_id[asked], visited)
    length, seen = pieces.length_m[asked], pieces.seen_m[asked]
    street = np.bincount(slot, weights=length, minlength=len(ids))
    patrolled = np.bincount(slot, weights=np.where(hit, length, 0.0), minlength=len(ids))
    watched = np.bincount(slot, weights=np.where(hit, length, seen), minlength=len(ids))
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "id": ids,
                "street_m": street,
                "patrolled_share": np.where(street > 0, patrolled / street, 0.0),
                "watched_share": np.where(street > 0, watched / street, 0.0),
            }
        )
