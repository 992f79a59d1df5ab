"""The offline basemap's vector tiles on the demo city: water, parks, named roads,
buildings and place names, each from its own zoom."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import mapbox_vector_tile
import pytest
from flask.testing import FlaskClient

from gridmap.web.app import create_app
from tests.signin import client_sign_in, ensure_account


@pytest.fixture(scope="module")
def demo_client(demo_url: str) -> Iterator[FlaskClient]:
    client = create_app(demo_url).server.test_client()
    client_sign_in(client, *ensure_account(demo_url, "admin"))
    yield client


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    lat_r = math.radians(lat)
    y = (1 - math.log(math.tan(lat_r) + 1 / math.cos(lat_r)) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


def decode(client: FlaskClient, z: int, x: int, y: int) -> dict:
    response = client.get(f"/tiles/basemap/{z}/{x}/{y}.pbf")
    assert response.status_code in (200, 204), response.data
    return mapbox_vector_tile.decode(response.data) if response.data else {}


def test_dump(demo_client: FlaskClient) -> None:
    for z in (9, 11, 12, 13, 14, 15, 16):
        t0 = time.perf_counter()
        tile = decode(demo_client, *tile_of(118.78, 32.04, z))
        ms = (time.perf_counter() - t0) * 1000
        print(z, f"{ms:.0f} ms", {k: len(v["features"]) for k, v in tile.items()})
        for k, v in tile.items():
            print("   ", k, [f["properties"] for f in v["features"][:6]])
