"""GeoDataFrames read from PostGIS: what geopandas.read_postgis gives, without its
per-row parsing and spatial_ref_sys query."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import Engine, event, text

from gridmap.db.frames import read_geoframe

ROWS = text("""
    SELECT * FROM (VALUES
        (1, '网格 1', ST_SetSRID(ST_MakePoint(118.78, 32.04), 4326)),
        (2, NULL, NULL::geometry),
        (3, '网格 3', ST_Buffer(ST_SetSRID(ST_MakePoint(118.8, 32.0), 4326), 0.01, 4))
    ) AS t(id, name, geom)
    WHERE id <= :last
""")


def test_rows_equal_what_geopandas_reads(engine: Engine) -> None:
    with engine.connect() as conn:
        ours = read_geoframe(conn, ROWS, {"last": 3})
        theirs = gpd.read_postgis(ROWS, conn, geom_col="geom", params={"last": 3})
    assert ours.crs == theirs.crs == "EPSG:4326"
    assert list(ours.columns) == list(theirs.columns) == ["id", "name", "geom"]
    assert ours.geometry.name == "geom"
    assert ours["id"].tolist() == [1, 2, 3]
    assert ours["name"].tolist()[0] == "网格 1" and ours["name"].isna().tolist()[1]
    assert ours.geometry.isna().tolist() == [False, True, False]
    assert ours.geometry.geom_equals(theirs.geometry).tolist() == [True, False, True]


def test_no_spatial_ref_sys_query_per_read(engine: Engine) -> None:
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        with engine.connect() as conn:
            read_geoframe(conn, ROWS, {"last": 3})
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert len(sent) == 1 and "spatial_ref_sys" not in sent[0]


@pytest.mark.parametrize(
    ("geom", "crs"),
    [
        ("ST_SetSRID(ST_MakePoint(13222000, 3768000), 3857)", "EPSG:3857"),
        ("ST_MakePoint(118.78, 32.04)", "EPSG:4326"),  # no SRID: the app's lon/lat
    ],
)
def test_the_crs_is_the_geometries_srid(engine: Engine, geom: str, crs: str) -> None:
    with engine.connect() as conn:
        frame = read_geoframe(conn, f"SELECT 1 AS id, {geom} AS geom")
    assert frame.crs == crs
    assert isinstance(frame.geometry.iloc[0], shapely.Point)


def test_no_rows_give_an_empty_frame_in_lon_lat(engine: Engine) -> None:
    with engine.connect() as conn:
        frame = read_geoframe(conn, ROWS, {"last": 0})
    assert frame.empty and list(frame.columns) == ["id", "name", "geom"]
    assert frame.crs == "EPSG:4326" and frame.geometry.name == "geom"
