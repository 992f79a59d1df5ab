"""The offline basemap's vector tiles on the demo city (seed 7): water, parks, named roads,
buildings and place names, each from its own zoom, the same for every user."""

from __future__ import annotations

import math
from collections.abc import Iterator

import mapbox_vector_tile
import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from gridmap.db.engine import get_engine
from gridmap.web.app import create_app
from tests.signin import client_sign_in, ensure_account

#: A point in the demo city: the tiles tested are the ones holding it.
LON, LAT = 118.78, 32.04


@pytest.fixture(scope="module")
def app_for(demo_url: str):
    return create_app(demo_url)


@pytest.fixture(scope="module")
def admin(app_for, demo_url: str) -> Iterator[FlaskClient]:
    client = app_for.server.test_client()
    client_sign_in(client, *ensure_account(demo_url, "admin"))
    yield client


def tile_of(z: int) -> tuple[int, int, int]:
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(LAT))) / math.pi) / 2 * n
    return z, int((LON + 180) / 360 * n), int(y)


def decode(client: FlaskClient, z: int, x: int, y: int) -> dict:
    response = client.get(f"/tiles/basemap/{z}/{x}/{y}.pbf")
    assert response.status_code == 200, response.data
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    return mapbox_vector_tile.decode(response.data)


def props(tile: dict, layer: str) -> list[dict]:
    return [f["properties"] for f in tile[layer]["features"]]


def sql_names(url: str, query: str, z: int, x: int, y: int) -> set[str]:
    with get_engine(url).connect() as conn:
        return set(conn.execute(text(query), {"z": z, "x": x, "y": y}).scalars())


#: Place names whose label point (the centroid, or the centre of the largest inscribed circle
#: when the centroid lies outside) is in the tile.
PLACES_SQL = """
SELECT name FROM {table},
    LATERAL (SELECT CASE WHEN ST_Intersects(geom, ST_Centroid(geom)) THEN ST_Centroid(geom)
                         ELSE (ST_MaximumInscribedCircle(geom)).center END AS point) p
WHERE ST_Intersects(ST_Transform(p.point, 3857), ST_TileEnvelope(:z, :x, :y))
"""
#: Names of the roads of some kinds crossing the tile or its 64-unit margin (a hair inside).
ROADS_SQL = """
SELECT DISTINCT name FROM road_edges
WHERE kind IN ({kinds}) AND ST_Intersects(ST_Transform(geom, 3857),
                                         ST_TileEnvelope(:z, :x, :y, margin => 63.5 / 4096))
"""


def test_tilejson_lists_the_basemap_layers(admin: FlaskClient) -> None:
    doc = admin.get("/tiles/basemap.json").get_json()
    assert doc["tiles"] == ["http://localhost/tiles/basemap/{z}/{x}/{y}.pbf"]
    assert [(v["id"], v["minzoom"]) for v in doc["vector_layers"]] == [
        ("water", 0), ("parks", 11), ("roads", 0), ("buildings", 15), ("pois", 15),
        ("places", 8),
    ]  # fmt: skip


def test_low_zoom_holds_water_major_roads_and_districts(admin: FlaskClient, demo_url: str) -> None:
    tile = decode(admin, *tile_of(9))
    assert sorted(tile) == ["places", "roads", "water"]
    assert sorted((p["class"], p["name"]) for p in props(tile, "water")) == [
        ("lake", "翠湖"), ("river", "月牙河"),
    ]  # fmt: skip
    # Primary roads only, one unnamed line (no labels at this zoom).
    assert props(tile, "roads") == [{"kind": "primary"}]
    assert sorted(p["name"] for p in props(tile, "places")) == ["西城区", "青山区"]
    assert {p["kind"] for p in props(tile, "places")} == {"district"}


def test_town_zoom_holds_parks_named_roads_streets_and_communities(
    admin: FlaskClient, demo_url: str
) -> None:
    z, x, y = tile_of(13)
    tile = decode(admin, z, x, y)
    assert sorted(tile) == ["parks", "places", "roads", "water"]
    parks = props(tile, "parks")
    assert len(parks) > 10 and all(p["name"] for p in parks)
    assert "月牙河滨河绿地" in {p["name"] for p in parks}
    roads = props(tile, "roads")
    major = {p["name"] for p in roads if p["kind"] in ("primary", "secondary")}
    assert major == sql_names(demo_url, ROADS_SQL.format(kinds="'primary', 'secondary'"), z, x, y)
    assert [p for p in roads if p["kind"] == "residential"] == [{"kind": "residential"}]
    assert "alley" not in {p["kind"] for p in roads}
    places = props(tile, "places")
    for kind, table in (("street", "streets"), ("community", "communities")):
        names = {p["name"] for p in places if p["kind"] == kind}
        assert names == sql_names(demo_url, PLACES_SQL.format(table=table), z, x, y)
        assert names and all(n.endswith("街道" if kind == "street" else "社区") for n in names)


def test_street_zoom_holds_buildings_and_every_named_road(
    admin: FlaskClient, app_for, demo_url: str
) -> None:
    z, x, y = tile_of(15)
    tile = decode(admin, z, x, y)
    assert sorted(tile) == ["buildings", "parks", "places", "pois", "roads", "water"]
    # Landmarks: the service points in the tile, by name.
    points = sql_names(
        demo_url,
        "SELECT name FROM service_points WHERE ST_Intersects(ST_Transform(geom, 3857), "
        "ST_TileEnvelope(:z, :x, :y))",
        z,
        x,
        y,
    )
    assert {p["name"] for p in props(tile, "pois")} == points and points
    names = {p["name"] for p in props(tile, "roads")}
    every = "'primary', 'secondary', 'residential', 'alley', 'footway'"
    assert names == sql_names(demo_url, ROADS_SQL.format(kinds=every), z, x, y)
    with get_engine(demo_url).connect() as conn:
        in_tile = conn.execute(
            text(
                "SELECT count(*) FROM buildings WHERE ST_Intersects(ST_Transform(geom, 3857), "
                "ST_TileEnvelope(:z, :x, :y))"
            ),
            {"z": z, "x": x, "y": y},
        ).scalar_one()
    assert len(tile["buildings"]["features"]) >= in_tile > 100
    assert {p["kind"] for p in props(tile, "places")} == {"community"}
    # A grid lead (row-level security on the buildings register) gets the very same tile.
    lead = app_for.server.test_client()
    client_sign_in(lead, *ensure_account(demo_url, "grid_lead"))
    path = f"/tiles/basemap/{z}/{x}/{y}.pbf"
    assert lead.get(path).data == admin.get(path).data
    # ... while the buildings layer's own tile shows the lead fewer buildings.
    layer = f"/tiles/buildings/{z}/{x}/{y}.pbf"
    seen = [
        len(
            mapbox_vector_tile.decode(c.get(layer).data or b"").get("buildings", {"features": []})[
                "features"
            ]
        )
        for c in (lead, admin)
    ]
    assert seen[0] < seen[1]
