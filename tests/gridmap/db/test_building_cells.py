"""The kept per-cell sums of buildings (migration 0034, building_cells): equal to the
buildings summed afresh after every kind of change (insert, move, recount, regrid, delete,
truncate), no empty cell left, and a grid lead's z12 building tile counting its own grids'
buildings only."""

from __future__ import annotations

import mapbox_vector_tile
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection, text

from gridmap.db.engine import get_engine
from gridmap.web.app import create_app
from gridmap.web.tile_cache import TILES
from tests.conftest import make_demo_database
from tests.gridmap.web.test_tiles_layers import LAT, LON, tile_of
from tests.signin import client_sign_in, ensure_account

#: Cells of the buildings summed afresh, beside the kept ones: the rows that differ.
DIFFERENCES = text("""
    WITH fresh AS (
        SELECT floor(merc_x * 524288)::integer AS cx, floor(merc_y * 524288)::integer AS cy,
               grid_id, count(*) AS buildings, sum(households) AS households,
               sum(population) AS population, sum(merc_x) AS sum_x, sum(merc_y) AS sum_y
        FROM buildings GROUP BY 1, 2, 3
    )
    SELECT f.cx, f.cy, f.grid_id, f.buildings, k.cx, k.cy, k.grid_id, k.buildings
    FROM fresh f FULL JOIN building_cells k
      ON (k.cx, k.cy) = (f.cx, f.cy) AND k.grid_id IS NOT DISTINCT FROM f.grid_id
    WHERE f.cx IS NULL OR k.cx IS NULL
       OR (f.buildings, f.households, f.population) <> (k.buildings, k.households, k.population)
       OR abs(f.sum_x - k.sum_x) > 1e-9 OR abs(f.sum_y - k.sum_y) > 1e-9
    LIMIT 5
""")
#: A new building at lon/lat :lon/:lat in grid :grid.
INSERT = text("""
    INSERT INTO buildings (code, address, kind, households, population, geom, grid_id)
    VALUES (:code, '测试路 1 号', 'residential', 3, 8,
            ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :grid)
""")


@pytest.fixture(scope="module")
def url(_created: list[str]) -> str:
    """A copy of the demo city of this module's own (its buildings change)."""
    made = make_demo_database("cells")
    _created.append(made)
    return made


def differences(conn: Connection) -> list:
    return list(conn.execute(DIFFERENCES))


def test_the_kept_cells_are_the_buildings_summed(url: str) -> None:
    with get_engine(url).connect() as conn:
        cells, buildings = conn.execute(
            text("SELECT count(*), sum(buildings) FROM building_cells")
        ).one()
        assert buildings == conn.execute(text("SELECT count(*) FROM buildings")).scalar() > 0
        assert 0 < cells < buildings
        assert differences(conn) == []


def test_every_kind_of_change_keeps_the_cells_right(url: str) -> None:
    engine = get_engine(url)
    with engine.begin() as conn:
        grids = list(conn.execute(text("SELECT id FROM grids ORDER BY id LIMIT 2")).scalars())
        far = {"lon": 118.95, "lat": 32.2}  # a cell of its own (no building near)
        conn.execute(INSERT, [{"code": "T1", "grid": grids[0], **far},
                              {"code": "T2", "grid": grids[0], **far},
                              {"code": "T3", "grid": None, "lon": LON, "lat": LAT}])  # fmt: skip
        assert differences(conn) == []
    steps = [
        # moved to another cell, and one regridded: its old cell's row for that grid empties
        "UPDATE buildings SET geom = ST_SetSRID(ST_MakePoint(118.951, 32.2), 4326) "
        "WHERE code = 'T1'",
        f"UPDATE buildings SET grid_id = {grids[1]} WHERE code = 'T2'",
        # recounted (every building), and a change of what no cell counts
        "UPDATE buildings SET population = population + 1, households = households + 1",
        "UPDATE buildings SET address = address || ' ' WHERE id % 3 = 0",
        "DELETE FROM buildings WHERE code IN ('T1', 'T2', 'T3')",
    ]
    for step in steps:
        with engine.begin() as conn:
            conn.execute(text(step))
            assert differences(conn) == [], step
            empty = conn.execute(text("SELECT count(*) FROM building_cells WHERE buildings <= 0"))
            assert empty.scalar() == 0, step
    with engine.connect() as conn:  # a truncate empties the cells (rolled back)
        conn.execute(text("TRUNCATE buildings CASCADE"))
        assert conn.execute(text("SELECT count(*) FROM building_cells")).scalar() == 0
        conn.rollback()
        assert differences(conn) == []


def signed_in(url: str, role: str, grids: tuple[str, ...] = ()) -> FlaskClient:
    client = create_app(url).server.test_client()
    username = f"cells_{role}_{'_'.join(grids)}" if grids else None
    client_sign_in(client, *ensure_account(url, role, username=username, grids=grids))
    return client


@pytest.mark.parametrize("z", [12, 13])
def test_a_grid_leads_cells_count_its_own_grids_only(url: str, z: int) -> None:
    TILES.clear()
    x, y = tile_of(LON, LAT, z)
    in_tile = text("""
        SELECT g.code, count(*) FROM buildings b JOIN grids g ON g.id = b.grid_id
        WHERE floor(b.merc_x * 2 ^ :z) = :x AND floor(b.merc_y * 2 ^ :z) = :y
        GROUP BY g.code ORDER BY count(*) DESC
    """)
    with get_engine(url).connect() as conn:
        per_grid = dict(conn.execute(in_tile, {"z": z, "x": x, "y": y}).all())
    assert len(per_grid) >= 2
    lead_grids = tuple(sorted(per_grid)[:1])

    def counted(client: FlaskClient) -> int:
        response = client.get(f"/tiles/buildings/{z}/{x}/{y}.pbf")
        assert response.status_code == 200
        cells = mapbox_vector_tile.decode(response.data)["building_cells"]["features"]
        return sum(c["properties"]["buildings"] for c in cells)

    lead = counted(signed_in(url, "grid_lead", grids=lead_grids))
    assert lead == sum(per_grid[g] for g in lead_grids) > 0
    assert counted(signed_in(url, "command")) >= sum(per_grid.values()) > lead
    TILES.clear()
