"""A hand-made walking network with known edge lengths, buildings and one service point.

Nodes lie on an east-west street at latitude 30 N (x metres east of 120 E), a branch north
of node 2, and a separate two-node street 2 km south (a second component)::

        6
        |  50
    1 - 2 - 3 ------- 4 - 5          10 - 11   (2 km south)
     100 100    300    100              80

At 6 km/h (100 m a minute): P1 sits on node 1; B1 (node 2) is 100 m away, B2 (node 3)
200 m, B4 (10 m north of node 6) 50 + 100 + 10 = 160 m, B3 (node 4) 500 m, B7 (node 5)
600 m; B5 lies 1 km from any street and B6 on the cut-off street: both off the network.
"""

from __future__ import annotations

import math

import psycopg2

LAT0, LON0 = 30.0, 120.0
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))

#: node id → (x, y) metres from (LON0, LAT0).
NODES = {
    1: (0.0, 0.0),
    2: (100.0, 0.0),
    3: (200.0, 0.0),
    4: (500.0, 0.0),
    5: (600.0, 0.0),
    6: (100.0, 50.0),
    10: (300.0, -2000.0),
    11: (380.0, -2000.0),
}
#: (source, target, length_m)
EDGES = [(1, 2, 100.0), (2, 3, 100.0), (3, 4, 300.0), (4, 5, 100.0), (2, 6, 50.0),
         (10, 11, 80.0)]  # fmt: skip
#: building id → (x, y, population, elderly_alone, disabled, low_income)
BUILDINGS = {
    1: (100.0, 0.0, 10, 1, 0, 0),
    2: (200.0, 0.0, 20, 0, 2, 0),
    3: (500.0, 0.0, 40, 0, 0, 4),
    4: (100.0, 60.0, 80, 3, 0, 0),
    5: (300.0, -1000.0, 160, 0, 0, 0),
    6: (300.0, -2000.0, 320, 0, 0, 0),
    7: (600.0, 0.0, 640, 10, 0, 0),
}
#: point id → (x, y, kind)
POINTS = {1: (0.0, 0.0, "party_service_center")}
SPEED_KMH = 6.0  # 100 m a minute


def lonlat(x: float, y: float) -> tuple[float, float]:
    return LON0 + x / M_PER_DEG_LON, LAT0 + y / M_PER_DEG_LAT


def point_wkt(x: float, y: float) -> str:
    lon, lat = lonlat(x, y)
    return f"SRID=4326;POINT({lon:.9f} {lat:.9f})"


def seed_toy(url: str) -> None:
    """Insert the toy city (one district/community/grid around it, so buildings get grids)."""
    box = "SRID=4326;MULTIPOLYGON(((119.99 29.985,120.01 29.985,120.01 30.01,119.99 30.01,119.99 29.985)))"  # noqa: E501
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO districts (id, code, name, geom) VALUES (1, 'D', 'd', %s)",
                        (box,))  # fmt: skip
            cur.execute(
                "INSERT INTO streets (id, code, name, district_id, geom) VALUES (1,'S','s',1,%s)",
                (box,),
            )
            cur.execute(
                "INSERT INTO communities (id, code, name, street_id, geom) "
                "VALUES (1, 'C', 'c', 1, %s)",
                (box,),
            )
            cur.execute(
                "INSERT INTO grids (id, code, name, community_id, geom) VALUES (1,'G','g',1,%s)",
                (box,),
            )
            for s, t, length in EDGES:
                (x0, y0), (x1, y1) = NODES[s], NODES[t]
                (a, b), (c, d) = lonlat(x0, y0), lonlat(x1, y1)
                cur.execute(
                    "INSERT INTO road_edges (source, target, length_m, geom) VALUES "
                    "(%s, %s, %s, ST_GeomFromText(%s, 4326))",
                    (s, t, length, f"LINESTRING({a:.9f} {b:.9f},{c:.9f} {d:.9f})"),
                )
            for bid, (x, y, pop, eld, dis, low) in BUILDINGS.items():
                cur.execute(
                    "INSERT INTO buildings (id, code, address, kind, population, elderly_alone, "
                    "disabled, low_income, geom) VALUES (%s, %s, %s, 'residential', %s, %s, %s, "
                    "%s, %s)",
                    (bid, f"B{bid}", f"toy {bid}", pop, eld, dis, low, point_wkt(x, y)),
                )
            for pid, (x, y, kind) in POINTS.items():
                cur.execute(
                    "INSERT INTO service_points (id, code, name, kind, geom) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (pid, f"P{pid}", f"point {pid}", kind, point_wkt(x, y)),
                )
    finally:
        conn.close()


def toy_with_circles(created: list[str], suffix: str) -> str:
    """A new test database holding the toy city with coverage and isochrones stored at the
    default parameters (4.5 km/h; 5, 10, 15 min)."""
    from gridmap.analytics.coverage import compute_coverage
    from gridmap.analytics.isochrones import run_isochrones
    from gridmap.analytics.params import CircleParams
    from tests.conftest import make_test_database

    url = make_test_database(suffix)
    created.append(url)
    seed_toy(url)
    params = CircleParams()
    model, _walks, _t = compute_coverage(url, params)
    run_isochrones(url, params, model=model)
    return url
