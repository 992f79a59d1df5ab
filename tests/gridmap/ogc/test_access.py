"""The OGC API and the layer tiles under the access rules, on ``gridmap serve`` (gunicorn):
sign-in required, a grid lead sees only their grids' rows (row-level security), and GDAL
reads with a bearer token."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import mapbox_vector_tile
import pytest
import requests
from sqlalchemy import text

from gridmap.db.engine import get_engine
from tests.gridmap.web.conftest import LiveServer, start_server, stop_server
from tests.gridmap.web.test_tiles_layers import tile_of
from tests.signin import api_token


@pytest.fixture(scope="module")
def server(ogc_url: str) -> Iterator[LiveServer]:
    live = start_server(ogc_url, "ogc")
    try:
        yield live
    finally:
        stop_server(live)


@pytest.fixture(scope="module")
def lead_grids(server: LiveServer, ogc_url: str) -> list[int]:
    """Ids of the grids of the demo grid lead."""
    username, _ = server.account("grid_lead")
    with get_engine(ogc_url).connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT ug.grid_id FROM user_grids ug JOIN users u ON u.id = ug.user_id "
                    "WHERE u.username = :u ORDER BY 1"
                ),
                {"u": username},
            ).scalars()
        )


@pytest.mark.parametrize(
    "path",
    ["/ogc/", "/ogc/collections", "/ogc/collections/grids/items", "/tiles/grids/14/0/0.pbf",
     "/tiles/grids.json", "/api/openapi.json"],
)  # fmt: skip
def test_anonymous_gets_401(server: LiveServer, path: str) -> None:
    response = requests.get(server.url + path, timeout=30)
    assert response.status_code == 401
    assert "Sign in" in response.json()["error"]["message"]


def test_grid_lead_sees_only_their_grids(
    server: LiveServer, ogc_url: str, lead_grids: list[int]
) -> None:
    assert len(lead_grids) == 3
    lead = server.session("grid_lead")

    def items(collection: str, role: requests.Session = lead) -> dict:
        response = role.get(f"{server.url}/ogc/collections/{collection}/items?limit=10000")
        assert response.status_code == 200, response.text
        return response.json()

    grids = items("grids")
    assert grids["numberMatched"] == 3
    assert sorted(f["id"] for f in grids["features"]) == lead_grids
    buildings = items("buildings")
    with get_engine(ogc_url).connect() as conn:
        theirs = conn.execute(
            text("SELECT count(*) FROM buildings WHERE grid_id = ANY(:g)"), {"g": lead_grids}
        ).scalar()
    assert buildings["numberMatched"] == theirs > 0
    assert {f["properties"]["grid_id"] for f in buildings["features"]} <= set(lead_grids)
    days = items("case_aggregates")
    assert {f["properties"]["grid_id"] for f in days["features"]} <= set(lead_grids)
    # Another grid is simply not there; the admin sees the whole city.
    other = next(i for i in range(1, 200) if i not in lead_grids)
    assert lead.get(f"{server.url}/ogc/collections/grids/items/{other}").status_code == 404
    assert items("grids", server.session("admin"))["numberMatched"] == 131
    extent = lead.get(f"{server.url}/ogc/collections/grids").json()["extent"]["spatial"]
    city = server.get("/ogc/collections/grids").json()["extent"]["spatial"]
    assert extent["bbox"] != city["bbox"]


def test_grid_lead_tiles_hold_only_their_grids(server: LiveServer, lead_grids: list[int]) -> None:
    grid = server.get(f"/ogc/collections/grids/items/{lead_grids[0]}").json()
    lon, lat = grid["geometry"]["coordinates"][0][0][0]
    x, y = tile_of(lon, lat, 13)
    path = f"/tiles/grids/13/{x}/{y}.pbf"
    everyone = mapbox_vector_tile.decode(server.get(path).content)["grids"]["features"]
    response = server.session("grid_lead").get(server.url + path)
    assert response.headers["Cache-Control"].startswith("private")
    theirs = mapbox_vector_tile.decode(response.content)["grids"]["features"]
    assert {f["id"] for f in theirs} <= set(lead_grids) and theirs
    assert len(everyone) > len(theirs)


def test_ogrinfo_with_a_bearer_token(server: LiveServer, ogc_url: str) -> None:
    def ogrinfo(token: str) -> str:
        env = {**os.environ, "GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}"}
        return subprocess.run(
            ["ogrinfo", "-ro", "-so", f"OAPIF:{server.url}/ogc", "grids"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=True,
        ).stdout

    assert "Feature Count: 131" in ogrinfo(api_token(ogc_url, "planner"))
    assert "Feature Count: 3" in ogrinfo(api_token(ogc_url, "grid_lead"))
    refused = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{server.url}/ogc", "grids"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode != 0  # no token: 401
