"""A small world for case tests: one district and street, two communities, three grids in
a row, cameras at known distances from a case point; and a live API server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import flask
import requests
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.serving import make_server

from gridmap.api import register_api
from gridmap.db.engine import get_engine
from tests.signin import api_token

GEOD = Geod(ellps="WGS84")


def square(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"MULTIPOLYGON((({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0})))"


#: Grids 1 and 2 (community 1) and 3 (community 2), each 0.01° wide, side by side.
GRIDS = {
    1: ("G1", "第1网格", 1, square(120.00, 30.00, 120.01, 30.01)),
    2: ("G2", "第2网格", 1, square(120.01, 30.00, 120.02, 30.01)),
    3: ("G3", "第3网格", 2, square(120.02, 30.00, 120.03, 30.01)),
}
INSIDE = {1: (120.005, 30.005), 2: (120.015, 30.005), 3: (120.025, 30.005)}
BORDER_1_2 = (120.01, 30.005)
BORDER_2_3 = (120.02, 30.005)
OUTSIDE = (121.0, 31.0)

#: Cameras around INSIDE[1]: (code, distance m, azimuth°, status).
CAMERAS = [
    ("CAM-050", 50.0, 10.0, "online"),
    ("CAM-120-OFF", 120.0, 80.0, "offline"),
    ("CAM-200", 200.0, 170.0, "online"),
    ("CAM-250-FAULT", 250.0, 200.0, "fault"),
    ("CAM-299", 299.0, 260.0, "online"),
    ("CAM-301", 301.0, 300.0, "online"),
    ("CAM-600", 600.0, 45.0, "online"),
]


def camera_position(distance: float, azimuth: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(*INSIDE[1], azimuth, distance)
    return lon, lat


def seed_world(url: str) -> None:
    """Insert the hierarchy, grids and cameras (fixed ids)."""
    whole = square(120.00, 30.00, 120.03, 30.01)
    with get_engine(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO districts (id, code, name, geom) "
                "VALUES (1, 'D1', '测试区', ST_GeomFromText(:w, 4326));"
                "INSERT INTO streets (id, code, name, district_id, geom) "
                "VALUES (1, 'S1', '测试街道', 1, ST_GeomFromText(:w, 4326));"
                "INSERT INTO communities (id, code, name, street_id, geom) VALUES "
                "(1, 'C1', '第一社区', 1, ST_GeomFromText(:c1, 4326)),"
                "(2, 'C2', '第二社区', 1, ST_GeomFromText(:c2, 4326));"
            ),
            {
                "w": whole,
                "c1": square(120.00, 30.00, 120.02, 30.01),
                "c2": square(120.02, 30.00, 120.03, 30.01),
            },
        )
        for gid, (code, name, community, wkt) in GRIDS.items():
            conn.execute(
                text(
                    "INSERT INTO grids (id, code, name, community_id, geom) "
                    "VALUES (:id, :code, :name, :c, ST_GeomFromText(:wkt, 4326))"
                ),
                {"id": gid, "code": code, "name": name, "c": community, "wkt": wkt},
            )
        for code, dist, az, status in CAMERAS:
            lon, lat = camera_position(dist, az)
            conn.execute(
                text(
                    "INSERT INTO cameras (code, name, kind, status, geom) VALUES "
                    "(:code, :code, 'dome', :status, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
                ),
                {"code": code, "status": status, "lon": lon, "lat": lat},
            )


@dataclass
class Api:
    """A live gridmap API on a real socket, and its database."""

    base: str
    url: str
    session: requests.Session

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.base + path, timeout=10, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.session.post(self.base + path, timeout=10, **kw)

    def scalar(self, sql: str, **params: Any) -> Any:
        with get_engine(self.url).connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with get_engine(self.url).connect() as conn:
            return list(conn.execute(text(sql), params).all())


@contextmanager
def serve_api(url: str) -> Iterator[Api]:
    """A bare Flask app with register_api on 127.0.0.1 (free port), in a thread; the
    session sends an admin's API token (``Authorization: Bearer``)."""
    app = flask.Flask("gridmap-api-test")
    app.config["GRIDMAP_DATABASE_URL"] = url
    register_api(app)
    try:
        token = api_token(url, "admin", username="test_api_admin")
    except SQLAlchemyError:  # an unreachable database: the API answers 503 anyway
        token = "gmt_unreachable"
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            yield Api(f"http://127.0.0.1:{server.server_port}", url, session)
    finally:
        server.shutdown()
        thread.join(5)


def insert_case(url: str, status: str = "reported", **values: Any) -> int:
    """A case inserted directly (tests of the workflow start from any status)."""
    lon, lat = values.pop("point", INSIDE[1])
    cols = {
        "title": "测试事件",
        "category": "municipal",
        "subcategory": "street_light",
        "source": "grid_worker",
        "status": status,
    } | values
    names = ", ".join(cols)
    binds = ", ".join(f":{k}" for k in cols)
    with get_engine(url).begin() as conn:
        return conn.execute(
            text(
                f"INSERT INTO cases ({names}, geom) VALUES ({binds}, "
                "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"
            ),
            cols | {"lon": lon, "lat": lat},
        ).scalar_one()
