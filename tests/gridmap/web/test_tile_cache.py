"""The vector tile cache (gridmap.web.tile_cache): hits, invalidation by a data change, and
scopes kept apart, over the Flask test client on the seeded city."""

from __future__ import annotations

from collections.abc import Iterator

import mapbox_vector_tile
import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from gridmap.db.engine import get_engine
from gridmap.settings import get_settings
from gridmap.web.app import create_app
from gridmap.web.tile_cache import TILES
from gridmap.web.tiles import tilesets
from tests.conftest import make_test_database
from tests.layers.seed import seed
from tests.signin import client_sign_in, ensure_account

#: The z12 tile holding the seeded city's four grids.
GRIDS = "/tiles/grids/12/3413/1689.pbf"


@pytest.fixture(scope="module")
def url(_created: list[str]) -> str:
    """The seeded city in a database of its own (these tests change it)."""
    url = make_test_database("tilecache")
    _created.append(url)
    seed(url)
    return url


def signed_in(url: str, role: str, grids: tuple[str, ...] = ()) -> FlaskClient:
    client = create_app(url).server.test_client()
    username = f"tiles_{role}_{'_'.join(grids)}" if grids else None
    client_sign_in(client, *ensure_account(url, role, username=username, grids=grids))
    return client


@pytest.fixture
def cache() -> Iterator[None]:
    TILES.clear()
    yield
    TILES.clear()


def grid_names(client: FlaskClient) -> dict[str, str]:
    response = client.get(GRIDS)
    assert response.status_code == 200
    features = mapbox_vector_tile.decode(response.data)["grids"]["features"]
    return {f["properties"]["code"]: f["properties"]["name"] for f in features}


def test_tables_read_by_each_tile_function(url: str, cache: None) -> None:
    engine = get_engine(url)
    assert TILES.tables(engine, "gridmap_tile_roads") == ("road_streets",)
    # (its "households" column is also the households table's name: counted, to be safe)
    assert TILES.tables(engine, "gridmap_tile_buildings") == (
        "building_cells", "buildings", "households",
    )  # fmt: skip
    assert TILES.tables(engine, "gridmap_tile_grids") == ("communities", "grids")
    # (a scoped reader's cameras are its grids': a change of grids is a new tile)
    assert TILES.tables(engine, "gridmap_tile_cameras") == ("cameras", "grids")
    assert TILES.tables(engine, "gridmap_tile_basemap") == (
        "basemap_features", "buildings", "communities", "districts", "road_streets",
        "service_points", "streets",
    )  # fmt: skip
    # every tile set served is cached: none reads a table whose changes are not counted
    assert [ts.id for ts in tilesets().values() if TILES.tables(engine, ts.function) is None] == []


def test_a_function_reading_an_untracked_table_is_not_cached(url: str, cache: None) -> None:
    engine = get_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION gridmap_tile_probe(z int, x int, y int) RETURNS bytea "
                "LANGUAGE sql STABLE AS $$ SELECT ''::bytea FROM cases LIMIT 1 $$"
            )
        )
    try:
        assert TILES.tables(engine, "gridmap_tile_probe") is None
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP FUNCTION gridmap_tile_probe(int, int, int)"))


def test_hit_then_invalidated_by_a_data_change(url: str, cache: None) -> None:
    admin = signed_in(url, "admin")
    first = grid_names(admin)
    assert first == {"G1": "西南网格", "G2": "西北网格", "G3": "东南网格", "G4": "东北网格"}
    assert TILES.counts(get_engine(url)) == (0, 1)
    assert grid_names(admin) == first
    assert TILES.counts(get_engine(url)) == (1, 1)
    with get_engine(url).begin() as conn:
        conn.execute(text("UPDATE grids SET name = '西南网格（新）' WHERE code = 'G1'"))
    try:
        assert grid_names(admin)["G1"] == "西南网格（新）"
        assert TILES.counts(get_engine(url)) == (1, 2)
    finally:
        with get_engine(url).begin() as conn:
            conn.execute(text("UPDATE grids SET name = '西南网格' WHERE code = 'G1'"))


def test_a_grid_leads_tile_is_never_served_to_another_reader(url: str, cache: None) -> None:
    admin = signed_in(url, "admin")
    command = signed_in(url, "command")
    lead = signed_in(url, "grid_lead", grids=("G1",))
    other_lead = signed_in(url, "grid_lead", grids=("G2",))
    every = {"G1", "G2", "G3", "G4"}
    assert set(grid_names(lead)) == {"G1"}
    assert set(grid_names(admin)) == every
    assert set(grid_names(other_lead)) == {"G2"}
    assert TILES.counts(get_engine(url)) == (0, 3)
    # unscoped readers share one copy; each lead has their own
    assert set(grid_names(command)) == every
    assert set(grid_names(lead)) == {"G1"}
    assert TILES.counts(get_engine(url)) == (2, 3)


def test_size_zero_turns_the_cache_off(
    url: str, cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "tile_cache_mb", 0)
    admin = signed_in(url, "admin")
    grid_names(admin)
    grid_names(admin)
    assert TILES.counts(get_engine(url)) == (0, 0)
