"""A small world for household tests, on top of the case world (grids G1, G2 side by side
in community 1, G3 in community 2): a compound over G1, a building in G1 and one in G3,
ten-household units, and households with tags, registered on known days."""

from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy import Connection, text

from gridmap.db.engine import get_engine
from tests.gridmap.cases.world import INSIDE, seed_world, square

#: Building codes and their points (G1's and G3's centres).
BUILDINGS = {"B-G1": INSIDE[1], "B-G3": INSIDE[3]}
#: The day every household was registered (cadences count from here before any visit).
REGISTERED = date(2026, 1, 1)
#: Households: code -> (building, unit code or None, room, head name, head phone, tags).
HOUSEHOLDS = {
    "H1": ("B-G1", "U1", "101", "王秀英", "13912345678", ["elderly_alone"]),
    "H2": ("B-G1", "U1", "102", "李建国", "13812340000", ["disabled"]),
    "H3": ("B-G1", "U1", "201", "张伟", "13700001111", []),
    "H4": ("B-G1", None, "202", "刘洋", "13600002222", ["low_income", "elderly_alone"]),
    "H9": ("B-G3", "U3", "301", "陈静", "13500003333", ["elderly_alone"]),
}


def seed_households(url: str) -> dict[str, int]:
    """Seed the case world plus the households' world; household code -> id."""
    seed_world(url)
    with get_engine(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO compounds (code, name, community_id, property_manager, "
                "owners_committee, party_branch, geom) VALUES ('C1', '幸福小区', 1, "
                "'安居物业', true, true, ST_GeomFromText(:wkt, 4326))"
            ),
            {"wkt": square(120.000, 30.000, 120.010, 30.010)},
        )
        for code, (lon, lat) in BUILDINGS.items():
            conn.execute(
                text(
                    "INSERT INTO buildings (code, address, kind, geom) VALUES (:c, :c, "
                    "'residential', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
                ),
                {"c": code, "lon": lon, "lat": lat},
            )
        conn.execute(
            text(
                "INSERT INTO ten_household_units (code, name, grid_id, lead_name, lead_phone) "
                "VALUES ('U1', '一号楼联户', 1, '赵联户', '13300004444'), "
                "('U3', '三号网格联户', 3, '钱联户', '13300005555')"
            )
        )
        ids = {}
        for code, (building, unit, room, name, phone, tags) in HOUSEHOLDS.items():
            ids[code] = conn.execute(
                text(
                    "INSERT INTO households (code, building_id, ten_household_unit_id, unit, "
                    "floor, room, head_name, head_phone, members, tags, registered_on) "
                    "SELECT :code, b.id, (SELECT id FROM ten_household_units WHERE code = :u), "
                    "'1', CAST(left(:room, 1) AS smallint), :room, :name, :phone, 2, :tags, "
                    ":reg FROM buildings b WHERE b.code = :b RETURNING id"
                ),
                {"code": code, "u": unit, "room": room, "name": name, "phone": phone,
                 "tags": tags, "reg": REGISTERED, "b": building},
            ).scalar_one()  # fmt: skip
    return ids


#: A street along y = 30.005 through B-G1 (120.005) and B-G1b (120.008), 300 m apart on it.
STREET = [(120.000, 30.005), (120.005, 30.005), (120.008, 30.005), (120.025, 30.005)]
LENGTHS = [480.0, 300.0, 1650.0]


def add_route_street(conn: Connection) -> dict[str, int]:
    """A second building in G1 (B-G1b, with one household, H5) and the street through
    both buildings (:data:`STREET`), for day-plan routes; building code -> id."""
    conn.execute(
        text(
            "INSERT INTO buildings (code, address, kind, geom) VALUES ('B-G1b', "
            "'幸福路8号', 'residential', ST_SetSRID(ST_MakePoint(120.008, 30.005), 4326))"
        )
    )
    conn.execute(
        text(
            "INSERT INTO households (code, building_id, room, head_name, head_phone, "
            "members, tags, registered_on) SELECT 'H5', id, '101', '孙红', '13400006666', "
            "1, '{}', '2026-01-01' FROM buildings WHERE code = 'B-G1b'"
        )
    )
    for i, (a, b) in enumerate(itertools.pairwise(STREET)):
        conn.execute(
            text(
                "INSERT INTO road_edges (source, target, length_m, kind, geom) VALUES "
                "(:s, :t, :m, 'residential', ST_SetSRID(ST_MakeLine(ST_MakePoint(:ax, :ay),"
                " ST_MakePoint(:bx, :by)), 4326))"
            ),
            {"s": i + 1, "t": i + 2, "m": LENGTHS[i], "ax": a[0], "ay": a[1],
             "bx": b[0], "by": b[1]},
        )  # fmt: skip
    return dict(conn.execute(text("SELECT code, id FROM buildings")).all())
