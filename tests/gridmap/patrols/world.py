"""A hand-made patrol world: two grids, straight streets of known length, one camera.

Grid 1 (120.000–120.010 E, 30.000–30.010 N) holds four equal edges along 30.005 N (ids
1–4, each 0.0025° of longitude); grid 2 (120.010–120.020 E) holds edge 5 along 30.005 N
(120.010–120.020) and edge 6 along 30.008 N (120.012–120.018). Camera 1 (online) stands
on edge 6 at 120.015 looking east (heading 90°, fov 60°, range 100 m); camera 2 (offline)
looks at edge 5.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg2
from pyproj import Geod
from sqlalchemy.engine import make_url

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
LAT = 30.005
EDGES = {
    1: ((120.0, LAT), (120.0025, LAT)),
    2: ((120.0025, LAT), (120.005, LAT)),
    3: ((120.005, LAT), (120.0075, LAT)),
    4: ((120.0075, LAT), (120.01, LAT)),
    5: ((120.01, LAT), (120.02, LAT)),
    6: ((120.012, 30.008), (120.018, 30.008)),
}
GEOD = Geod(ellps="WGS84")


def edge_length(edge_id: int) -> float:
    """Geodesic length (m) of a world edge (as PostGIS ST_Length(geography) measures)."""
    (x0, y0), (x1, y1) = EDGES[edge_id]
    return GEOD.line_length([x0, x1], [y0, y1])


def box(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def seed_patrol_world(url: str) -> None:
    """Insert the world into a migrated, empty database."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        area = box(120.0, 30.0, 120.02, 30.01)
        cur.execute(
            "INSERT INTO districts (id, code, name, geom) VALUES (1, 'D', '区', %s)", [area]
        )
        cur.execute(
            "INSERT INTO streets (id, code, name, district_id, geom) VALUES (1, 'S', '街', 1, %s)",
            [area],
        )
        cur.execute(
            "INSERT INTO communities (id, code, name, street_id, geom) "
            "VALUES (1, 'C', '社区', 1, %s)",
            [area],
        )
        cur.execute(
            "INSERT INTO grids (id, code, name, community_id, geom) VALUES "
            "(1, 'G1', '一网格', 1, %s), (2, 'G2', '二网格', 1, %s)",
            [box(120.0, 30.0, 120.01, 30.01), box(120.01, 30.0, 120.02, 30.01)],
        )
        for eid, ((x0, y0), (x1, y1)) in EDGES.items():
            cur.execute(
                "INSERT INTO road_edges (id, source, target, length_m, name, geom) VALUES "
                "(%s, %s, %s, %s, %s, ST_GeomFromText(%s, 4326))",
                [
                    eid,
                    eid,
                    eid + 100,
                    edge_length(eid),
                    f"路{eid}",
                    f"LINESTRING({x0} {y0}, {x1} {y1})",
                ],
            )
        cur.execute(
            "INSERT INTO cameras (id, code, name, kind, status, heading, fov, range_m, geom) "
            "VALUES (1, 'K1', '东看', 'bullet', 'online', 90, 60, 100, "
            "ST_SetSRID(ST_MakePoint(120.015, 30.008), 4326)), "
            "(2, 'K2', '坏的', 'bullet', 'offline', 90, 60, 100, "
            "ST_SetSRID(ST_MakePoint(120.012, 30.005), 4326))"
        )
    conn.close()
