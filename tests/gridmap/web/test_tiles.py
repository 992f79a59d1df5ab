"""Roads vector tiles from PostGIS: over real HTTP (gunicorn) and the Flask test client."""

from __future__ import annotations

import mapbox_vector_tile
import pytest
from flask.testing import FlaskClient

from tests.gridmap.web.conftest import LiveServer

#: z14 tile holding (120.05 E, 30.02 N): the primary road and no footway.
ROAD_TILE = "/tiles/roads/14/13655/6758.pbf"
#: z16 tile holding part of the footway at 30.01 N (120.01–120.02 E), no primary road.
FOOTWAY_TILE = "/tiles/roads/16/54616/27036.pbf"
#: z13 tile holding both the footway and the primary road.
BOTH_TILE = "/tiles/roads/13/6827/3379.pbf"
#: z14 tile in the Gulf of Guinea: no roads.
EMPTY_TILE = "/tiles/roads/14/8214/8169.pbf"


def test_tile_with_roads_over_http(seeded_server: LiveServer) -> None:
    response = seeded_server.get(ROAD_TILE)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    tile = mapbox_vector_tile.decode(response.content)
    assert list(tile) == ["roads"]
    features = tile["roads"]["features"]
    assert [f["properties"] for f in features] == [{"kind": "primary", "name": "示例大道"}]
    assert features[0]["geometry"]["type"] == "LineString"
    # A second request with the ETag is answered "not modified".
    again = seeded_server.get(ROAD_TILE, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_empty_tile_over_http(seeded_server: LiveServer) -> None:
    response = seeded_server.get(EMPTY_TILE)
    assert response.status_code == 204
    assert response.content == b""
    assert "Content-Type" not in response.headers


def kinds(client: FlaskClient, path: str) -> list[str]:
    response = client.get(path)
    assert response.status_code == 200
    features = mapbox_vector_tile.decode(response.data)["roads"]["features"]
    return sorted(f["properties"]["kind"] for f in features)


def test_minor_roads_join_at_high_zoom(client: FlaskClient) -> None:
    assert kinds(client, FOOTWAY_TILE) == ["footway"]
    # Below zoom 14 footways stay out of tiles that cross them.
    assert kinds(client, BOTH_TILE) == ["primary"]
    assert kinds(client, "/tiles/roads/10/853/422.pbf") == ["primary"]


@pytest.mark.parametrize("path", ["/tiles/roads/3/8/0.pbf", "/tiles/roads/23/0/0.pbf"])
def test_tile_outside_the_tile_grid_is_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "No tile" in response.get_json()["error"]["message"]


def test_tilejson(client: FlaskClient) -> None:
    doc = client.get("/tiles/roads.json").get_json()
    assert doc["tiles"] == ["http://localhost/tiles/roads/{z}/{x}/{y}.pbf"]
    assert doc["vector_layers"][0]["id"] == "roads"


def test_tile_with_unreachable_database_is_503() -> None:
    from gridmap.web.app import create_app

    dead = create_app("postgresql://nobody@127.0.0.1:1/none").server.test_client()
    assert dead.get(ROAD_TILE).status_code == 401  # anonymous: refused before any query
    # With credentials the sign-in check itself needs the database: 503, said plainly.
    response = dead.get(ROAD_TILE, headers={"Authorization": "Bearer gmt_unreachable"})
    assert response.status_code == 503
    assert "database" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "path",
    ["/tiles/grids/1/0/x.pbf", "/tiles/grids/1/-1/0.pbf", "/tiles/nothing", "/tiles/"],
)
def test_unknown_tile_paths_are_json_404_not_the_dashboard(
    seeded_server: LiveServer, path: str
) -> None:
    response = seeded_server.get(path)
    assert (response.status_code, response.headers["Content-Type"]) == (404, "application/json")
    assert response.json()["error"]["message"].startswith(f"No tile or TileJSON at {path!r}")


def test_unknown_ogc_path_is_the_ogc_404_not_the_dashboard(seeded_server: LiveServer) -> None:
    response = seeded_server.get("/ogc/nothing/here")
    assert response.status_code == 404
    assert response.json() == {
        "code": "NotFound",
        "description": "There is no resource '/ogc/nothing/here' in this API.",
    }


def test_wrong_method_on_a_tile_path_is_405(client: FlaskClient) -> None:
    response = client.post("/tiles/roads.json")
    assert (response.status_code, response.headers["Allow"]) == (405, "GET, HEAD")
    assert response.get_json() == {"error": {"message": "POST is not allowed here; use GET, HEAD."}}
