"""Vector tiles of the big layers (buildings, grids, cameras) and their TileJSON, over real
HTTP on the demo city: each known tile holds exactly the features PostGIS finds in it."""

from __future__ import annotations

import math
from collections.abc import Iterator

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from gridmap.db.engine import get_engine
from gridmap.web.tiles import tilesets
from tests.gridmap.ogc.live import Live, serve

#: A point in the demo city (seed 7): the tiles tested are the ones holding it.
LON, LAT = 118.78, 32.04


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ (slippy map) tile holding lon/lat at zoom z."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture(scope="module")
def live(demo_url: str) -> Iterator[Live]:
    with serve(demo_url) as server:
        yield server


def in_tile(
    url: str, table: str, z: int, x: int, y: int, where: str = "true", margin: float = 64
) -> list[int]:
    """Ids of ``table`` rows within tile z/x/y and its margin (64 of 4096 tile units, as the
    tile functions read them)."""
    sql = (
        f"SELECT t.id FROM {table} t WHERE {where} AND ST_Intersects(ST_Transform(t.geom, 3857), "
        "ST_TileEnvelope(:z, :x, :y, margin => :m / 4096)) ORDER BY t.id"
    )
    with get_engine(url).connect() as conn:
        return list(conn.execute(text(sql), {"z": z, "x": x, "y": y, "m": margin}).scalars())


def assert_same_ids(got: list[int], url: str, table: str, z: int, x: int, y: int) -> None:
    """``got`` holds every row in the tile and margin; on the margin's edge (where tile units
    round to it) rows may be in or out."""
    inner = set(in_tile(url, table, z, x, y, margin=63.5))
    outer = set(in_tile(url, table, z, x, y, margin=64.5))
    assert len(got) == len(set(got))
    assert inner <= set(got) <= outer, (inner - set(got), set(got) - outer)


def decode(live: Live, layer: str, z: int, x: int, y: int) -> dict:
    response = live.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    # The basemap is the same for everyone (no row-level security): shared caches may keep it.
    shared = "public, max-age=3600" if layer == "basemap" else "private, max-age=60"
    assert response.headers["Cache-Control"] == shared
    return mapbox_vector_tile.decode(response.content)


def test_buildings_tile_holds_every_building_in_it(live: Live, demo_url: str) -> None:
    x, y = tile_of(LON, LAT, 15)
    tile = decode(live, "buildings", 15, x, y)
    assert list(tile) == ["buildings"]
    features = tile["buildings"]["features"]
    assert len(features) > 50
    assert_same_ids([f["id"] for f in features], demo_url, "buildings", 15, x, y)
    assert set(features[0]["properties"]) == {
        "kind", "floors", "households", "population", "grid_id",
    }  # fmt: skip
    assert "address" not in features[0]["properties"]  # no personal data in tiles


def test_buildings_are_counted_per_cell_below_zoom_14(live: Live, demo_url: str) -> None:
    x, y = tile_of(LON, LAT, 12)
    tile = decode(live, "buildings", 12, x, y)
    assert list(tile) == ["building_cells"]
    cells = tile["building_cells"]["features"]
    counted = sum(c["properties"]["buildings"] for c in cells)
    # Cells count the tile's own points (no margin), so neighbouring tiles add up.
    low, high = (len(in_tile(demo_url, "buildings", 12, x, y, margin=m)) for m in (-0.5, 0.5))
    assert low <= counted <= high and counted > 0
    assert len(cells) < sum(c["properties"]["buildings"] for c in cells) / 5
    # Below the layer's min zoom nothing is drawn (204), whatever lies there.
    bx, by = tile_of(LON, LAT, 11)
    assert live.get(f"/tiles/buildings/11/{bx}/{by}.pbf").status_code == 204


@pytest.mark.parametrize("z", [12, 13])
def test_each_cell_is_its_buildings_summed_at_their_mean_position(
    live: Live, demo_url: str, z: int
) -> None:
    """The cells (from the kept per-cell sums, migration 0034) are what the buildings of each
    64-unit cell of the tile give: counts and people exactly, the mean position to a unit."""
    x, y = tile_of(LON, LAT, z)
    cells = decode(live, "buildings", z, x, y)["building_cells"]["features"]
    people = ("buildings", "households", "population")
    got = [(*(c["properties"][k] for k in people), *c["geometry"]["coordinates"]) for c in cells]
    per_cell = text("""
        SELECT count(*), sum(households), sum(population), avg(ux), 4096 - avg(uy)
        FROM (SELECT (merc_x * 2 ^ :z - :x) * 4096 AS ux, (merc_y * 2 ^ :z - :y) * 4096 AS uy,
                     households, population FROM buildings) b
        WHERE ux >= 0 AND ux < 4096 AND uy >= 0 AND uy < 4096
        GROUP BY floor(ux / 64), floor(uy / 64)
    """)
    with get_engine(demo_url).connect() as conn:
        want = conn.execute(per_cell, {"z": z, "x": x, "y": y}).all()
    assert len(got) == len(want) > 20
    for n, h, p, ux, uy in want:  # each cell of the buildings is one of the tile's
        same = [g for g in got if g[:3] == (n, h, p) and abs(g[3] - ux) <= 1 >= abs(g[4] - uy)]
        assert len(same) == 1, (n, h, p, ux, uy, same)


def test_grids_tile(live: Live, demo_url: str) -> None:
    x, y = tile_of(LON, LAT, 14)
    tile = decode(live, "grids", 14, x, y)
    assert list(tile) == ["grids"]
    ids = [f["id"] for f in tile["grids"]["features"]]
    assert ids
    assert_same_ids(ids, demo_url, "grids", 14, x, y)
    assert tile["grids"]["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # Grids from zoom 12, community outlines below.
    x12, y12 = tile_of(LON, LAT, 12)
    assert list(decode(live, "grids", 12, x12, y12)) == ["grids"]
    x10, y10 = tile_of(LON, LAT, 10)
    low = decode(live, "grids", 10, x10, y10)
    assert list(low) == ["communities"]
    ids = [f["id"] for f in low["communities"]["features"]]
    assert_same_ids(ids, demo_url, "communities", 10, x10, y10)


def test_cameras_tiles(live: Live, demo_url: str) -> None:
    x, y = tile_of(LON, LAT, 14)
    tile = decode(live, "cameras", 14, x, y)
    features = tile["cameras"]["features"]
    assert_same_ids([f["id"] for f in features], demo_url, "cameras", 14, x, y)
    assert {f["properties"]["status"] for f in features} <= {"online", "offline", "fault"}
    x, y = tile_of(LON, LAT, 11)
    cells = decode(live, "cameras", 11, x, y)["camera_cells"]["features"]
    expected = in_tile(demo_url, "cameras", 11, x, y, margin=0)
    assert sum(c["properties"]["cameras"] for c in cells) == len(expected) > 0
    online = in_tile(demo_url, "cameras", 11, x, y, "t.status = 'online'", margin=0)
    assert sum(c["properties"]["online"] for c in cells) == len(online)


def test_empty_and_unknown_tiles(live: Live) -> None:
    assert live.get("/tiles/buildings/15/0/0.pbf").status_code == 204
    unknown = live.get("/tiles/parcels/15/0/0.pbf")
    assert unknown.status_code == 404 and "parcels" in unknown.json()["error"]["message"]
    assert live.get("/tiles/grids/3/8/0.pbf").status_code == 404


@pytest.mark.parametrize("layer", sorted(tilesets()))
def test_tilejson(live: Live, layer: str) -> None:
    doc = live.get(f"/tiles/{layer}.json").json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"] == [f"{live.url}/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf"]
    assert 0 <= doc["minzoom"] <= doc["maxzoom"] == 22
    assert doc["vector_layers"] and all(
        {"id", "fields", "minzoom", "maxzoom"} <= set(v) for v in doc["vector_layers"]
    )
    assert len(doc["bounds"]) == 4
    # Every MVT layer a tile carries is described, with its fields.
    x, y = tile_of(LON, LAT, 15)
    if layer != "roads":
        described = {v["id"]: v for v in doc["vector_layers"]}
        for name, content in decode(live, layer, 15, x, y).items():
            for feature in content["features"]:
                assert set(feature["properties"]) <= set(described[name]["fields"])
    assert live.get("/tiles/parcels.json").status_code == 404
