"""A tiny known city for layer and tile tests: every id and position is fixed.

One district and street (120.00–120.10 E, 30.00–30.10 N) split into two communities (west,
east) and four grids (SW, NW, SE, NE quarters); buildings, cameras and service points at
known points (one of each kind of "outside every grid"); two roads along 30.02 N.
"""

from __future__ import annotations

import psycopg2
from sqlalchemy.engine import make_url

#: The south-west quarter, slightly inside grid 1 (so it touches no other grid).
SW_BBOX = (120.0, 30.0, 120.045, 30.045)
#: Everything seeded, with a margin.
ALL_BBOX = (119.9, 29.9, 120.6, 30.6)


def box(x0: float, y0: float, x1: float, y1: float) -> str:
    """EWKT of a lon/lat rectangle as a MultiPolygon."""
    return f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def pt(x: float, y: float) -> str:
    return f"SRID=4326;POINT({x} {y})"


SEED = [
    (
        "INSERT INTO districts (id, code, name, geom) VALUES (1, 'D1', '示例区', %s)",
        [box(120.0, 30.0, 120.1, 30.1)],
    ),
    (
        "INSERT INTO streets (id, code, name, district_id, geom) "
        "VALUES (1, 'S1', '示例街道', 1, %s)",
        [box(120.0, 30.0, 120.1, 30.1)],
    ),
    (
        "INSERT INTO communities (id, code, name, street_id, geom) VALUES "
        "(1, 'C1', '西社区', 1, %s), (2, 'C2', '东社区', 1, %s)",
        [box(120.0, 30.0, 120.05, 30.1), box(120.05, 30.0, 120.1, 30.1)],
    ),
    (
        "INSERT INTO grids (id, code, name, community_id, lead_name, geom) VALUES "
        "(1, 'G1', '西南网格', 1, '张伟', %s), (2, 'G2', '西北网格', 1, '李娜', %s), "
        "(3, 'G3', '东南网格', 2, NULL, %s), (4, 'G4', '东北网格', 2, '王芳', %s)",
        [
            box(120.0, 30.0, 120.05, 30.05),
            box(120.0, 30.05, 120.05, 30.1),
            box(120.05, 30.0, 120.1, 30.05),
            box(120.05, 30.05, 120.1, 30.1),
        ],
    ),
    (
        "INSERT INTO buildings (id, code, address, kind, households, population, geom) VALUES "
        "(1, 'B1', '西南路1号', 'residential', 12, 30, %s), "
        "(2, 'B2', '西南路2号', 'commercial', 0, 0, %s), "
        "(3, 'B3', '西南路3号', 'mixed', 8, 21, %s), "
        "(4, 'B4', '东北路4号', 'residential', 20, 55, %s), "
        "(5, 'B5', '城外路5号', 'industrial', 0, 0, %s)",
        [
            pt(120.01, 30.01),
            pt(120.02, 30.02),
            pt(120.03, 30.03),
            pt(120.08, 30.08),
            pt(120.5, 30.5),
        ],
    ),
    (
        "INSERT INTO cameras (id, code, name, kind, status, geom) VALUES "
        "(1, 'K1', '西南路口', 'dome', 'online', %s), "
        "(2, 'K2', '西南小区门口', 'face', 'offline', %s), "
        "(3, 'K3', '东北广场', 'bullet', 'fault', %s), "
        "(4, 'K4', '东南路口', 'vehicle', 'online', %s)",
        [pt(120.01, 30.01), pt(120.012, 30.011), pt(120.08, 30.08), pt(120.09, 30.02)],
    ),
    (
        "INSERT INTO service_points (id, code, name, kind, address, opening_hours, geom) VALUES "
        "(1, 'P1', '西社区党群服务中心', 'party_service_center', '西南路2号', '9:00-17:00', %s), "
        "(2, 'P2', '东社区警务室', 'police_office', NULL, NULL, %s), "
        "(3, 'P3', '城外便民服务站', 'convenience_station', NULL, NULL, %s)",
        [pt(120.02, 30.02), pt(120.07, 30.07), pt(120.5, 30.5)],
    ),
    (
        "INSERT INTO road_edges (id, source, target, length_m, kind, name, geom) VALUES "
        "(1, 1, 2, 9600, 'primary', '示例大道', "
        "'SRID=4326;LINESTRING(120.0 30.02, 120.1 30.02)'), "
        "(2, 3, 4, 960, 'footway', NULL, 'SRID=4326;LINESTRING(120.01 30.01, 120.02 30.01)')",
        [],
    ),
]


def seed(url: str) -> None:
    """Insert the tiny city into the (empty, migrated) database at ``url``."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            for statement, params in SEED:
                cur.execute(statement, params)
    finally:
        conn.close()
