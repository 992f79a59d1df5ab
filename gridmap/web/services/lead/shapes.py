"""Grid outlines and extents for the grid lead's map."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
from sqlalchemy import Engine, text

from gridmap.access import User
from gridmap.db.frames import read_geoframe
from gridmap.web.services.lead.scope import narrow, user_connection, visible_grid_ids

BBox = tuple[float, float, float, float]


def grid_extent(engine: Engine, user: User | None, grid_ids: Sequence[int]) -> BBox | None:
    """The lon/lat extent of the grids (None: none of them visible)."""
    ids = narrow(visible_grid_ids(user), list(grid_ids))
    if not ids:
        return None
    with user_connection(engine, user) as conn:
        row = conn.execute(text("SELECT * FROM gridmap_grid_ids_extent(:ids)"), {"ids": ids})
        found = row.first()
    return None if found is None else tuple(float(v) for v in found)


def grid_shapes(
    engine: Engine, user: User | None, grid_ids: Sequence[int], tolerance: float = 0.0
) -> gpd.GeoDataFrame:
    """Outlines (simplified by ``tolerance`` degrees) of the grids the user may see."""
    ids = narrow(visible_grid_ids(user), list(grid_ids)) or []
    sql = text("SELECT * FROM gridmap_grid_shapes(:ids, :tol)")
    with user_connection(engine, user) as conn:
        return read_geoframe(conn, sql, {"ids": ids, "tol": tolerance})
