"""GeoDataFrames read from PostGIS queries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection
from sqlalchemy.sql.elements import TextClause

#: The CRS of geometries that carry no SRID (0): the app stores lon/lat.
DEFAULT_SRID = 4326


def read_geoframe(
    conn: Connection,
    sql: TextClause | str,
    params: Mapping[str, Any] | None = None,
    *,
    geom_col: str = "geom",
) -> gpd.GeoDataFrame:
    """The rows of ``sql`` (with a ``geom_col`` geometry column) as a GeoDataFrame.

    What ``geopandas.read_postgis`` gives, for less: one query (it sends two more per read:
    pandas asks whether ``sql`` names a table, geopandas looks the SRID up in
    ``spatial_ref_sys``); the CRS is the geometries' SRID (pyproj's own EPSG registry; no
    SRID: EPSG:4326), and they are parsed in one vectorized call, not one per row."""
    frame = pd.read_sql_query(sql, conn, params=dict(params or {}))
    wkb = frame[geom_col].to_numpy(dtype=object, copy=True)  # hex EWKB text (or bytes)
    wkb[pd.isna(wkb)] = None  # NULL
    geoms = shapely.from_wkb(wkb)
    present = geoms[~shapely.is_missing(geoms)]
    srid = int(shapely.get_srid(present[0])) if len(present) else 0
    frame[geom_col] = geoms
    return gpd.GeoDataFrame(frame, geometry=geom_col, crs=srid or DEFAULT_SRID)
