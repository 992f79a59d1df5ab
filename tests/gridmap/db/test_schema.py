"""Schema constraints: geometry type, SRID, validity and lon/lat range; value checks;
grid assignment of points; append-only history."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

SQUARE_A = "MULTIPOLYGON(((120 30, 120.01 30, 120.01 30.01, 120 30.01, 120 30)))"
SQUARE_B = "MULTIPOLYGON(((120.01 30, 120.02 30, 120.02 30.01, 120.01 30.01, 120.01 30)))"
BOWTIE = "MULTIPOLYGON(((120 30, 120.01 30.01, 120.01 30, 120 30.01, 120 30)))"
PROJECTED = "MULTIPOLYGON(((500000 3300000, 501000 3300000, 501000 3301000, 500000 3300000)))"


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection whose work is rolled back after the test."""
    with engine.connect() as c:
        tx = c.begin()
        c.execute(
            text(
                "INSERT INTO districts (id, code, name, geom) VALUES (1, 'D1', '测试区', "
                "ST_GeomFromText(:a, 4326));"
                "INSERT INTO streets (id, code, name, district_id, geom) "
                "VALUES (1, 'S1', '测试街道', 1, ST_GeomFromText(:a, 4326));"
                "INSERT INTO communities (id, code, name, street_id, geom) "
                "VALUES (1, 'C1', '测试社区', 1, ST_GeomFromText(:a, 4326));"
                "INSERT INTO grids (id, code, name, community_id, geom) VALUES "
                "(1, 'G1', '第1网格', 1, ST_GeomFromText(:a, 4326)),"
                "(2, 'G2', '第2网格', 1, ST_GeomFromText(:b, 4326));"
            ),
            {"a": SQUARE_A, "b": SQUARE_B},
        )
        yield c
        tx.rollback()


def insert_grid(conn: Connection, wkt: str, srid: int = 4326, code: str = "GX") -> None:
    conn.execute(
        text(
            "INSERT INTO grids (code, name, community_id, geom) "
            "VALUES (:code, '坏网格', 1, ST_GeomFromText(:wkt, :srid))"
        ),
        {"code": code, "wkt": wkt, "srid": srid},
    )


def error_of(conn: Connection, fn, *args) -> str:
    """Run fn inside a savepoint and return the database's error message."""
    with pytest.raises(DBAPIError) as info, conn.begin_nested():
        fn(conn, *args)
    return str(info.value.orig)


@pytest.mark.parametrize(
    ("wkt", "srid", "message"),
    [
        (BOWTIE, 4326, r"grids GX: invalid geom \(Self-intersection"),
        (PROJECTED, 4326, "outside longitude -180..180"),
        ("POINT(120 30)", 4326, r"Geometry type \(Point\) does not match column type"),
        (SQUARE_A, 3857, r"Geometry SRID \(3857\) does not match column SRID \(4326\)"),
        ("MULTIPOLYGON EMPTY", 4326, "grids GX: geom is empty"),
    ],
    ids=["self-intersecting", "projected-coordinates", "wrong-type", "wrong-srid", "empty"],
)
def test_bad_grid_polygon_is_rejected_with_clear_message(
    conn: Connection, wkt: str, srid: int, message: str
) -> None:
    msg = error_of(conn, insert_grid, wkt, srid)
    assert re.search(message, msg), msg


def test_projected_coordinates_hint_at_the_coordinate_system(conn: Connection) -> None:
    with pytest.raises(DBAPIError) as info, conn.begin_nested():
        insert_grid(conn, PROJECTED)
    assert "EPSG:4326" in info.value.orig.diag.message_hint


POINT_TABLES = {
    "buildings": "INSERT INTO buildings (code, address, kind, geom) VALUES ('B', '测试路1号', "
    "'residential', ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING grid_id",
    "cameras": "INSERT INTO cameras (code, name, kind, geom) VALUES ('C', '测试', 'dome', "
    "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING grid_id",
    "service_points": "INSERT INTO service_points (code, name, kind, geom) VALUES ('S', '测试', "
    "'police_office', ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING grid_id",
    "cases": "INSERT INTO cases (code, title, category, source, geom) VALUES ('K', '测试', "
    "'environment', 'walk_in', ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING grid_id",
}


@pytest.mark.parametrize("table", [*POINT_TABLES, "gps_pings"])
@pytest.mark.parametrize(("x", "y"), [(181, 30), (120, -91), (500000, 3300000)])
def test_point_outside_lonlat_is_rejected(conn: Connection, table: str, x: float, y: float) -> None:
    sql = POINT_TABLES.get(table) or (
        "INSERT INTO gps_pings (device_id, at, geom) "
        "VALUES ('d1', now(), ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
    )
    msg = error_of(conn, lambda c: c.execute(text(sql), {"x": x, "y": y}))
    assert f'violates check constraint "{table}_geom_valid"' in msg


@pytest.mark.parametrize(
    ("x", "y", "grid"),
    [(120.005, 30.005, 1), (120.015, 30.005, 2), (120.01, 30.005, 1), (121, 31, None)],
    ids=["inside-1", "inside-2", "shared-border-smallest-id", "outside-unassigned"],
)
@pytest.mark.parametrize("table", POINT_TABLES)
def test_points_get_their_grid(
    conn: Connection, table: str, x: float, y: float, grid: int | None
) -> None:
    assert conn.execute(text(POINT_TABLES[table]), {"x": x, "y": y}).scalar() == grid


def test_moving_a_point_reassigns_its_grid(conn: Connection) -> None:
    conn.execute(text(POINT_TABLES["cameras"]), {"x": 120.005, "y": 30.005})
    new = conn.execute(
        text(
            "UPDATE cameras SET geom = ST_SetSRID(ST_MakePoint(120.015, 30.005), 4326) "
            "WHERE code = 'C' RETURNING grid_id"
        )
    ).scalar()
    assert new == 2


@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        (
            "INSERT INTO cameras (code, name, kind, status, geom) VALUES ('C', 'x', 'dome', "
            "'broken', ST_SetSRID(ST_MakePoint(120, 30), 4326))",
            "cameras_status_check",
        ),
        (
            "INSERT INTO cameras (code, name, kind, heading, geom) VALUES ('C', 'x', 'dome', "
            "400, ST_SetSRID(ST_MakePoint(120, 30), 4326))",
            "cameras_heading_check",
        ),
        (
            "INSERT INTO buildings (code, address, kind, population, elderly_alone, geom) "
            "VALUES ('B', 'x', 'residential', 2, 3, ST_SetSRID(ST_MakePoint(120, 30), 4326))",
            "buildings_vulnerable_le_population",
        ),
        (
            "INSERT INTO cases (code, title, category, source, status) "
            "VALUES ('K', 'x', 'c', 'walk_in', 'lost')",
            "cases_status_check",
        ),
        (
            "INSERT INTO cases (code, title, category, source, reported_at, closed_at) VALUES "
            "('K', 'x', 'c', 'walk_in', '2026-01-02', '2026-01-01')",
            "cases_closed_after_reported",
        ),
        (
            "INSERT INTO users (username, display_name, role) VALUES ('u1', 'x', 'king')",
            "users_role_check",
        ),
        (
            "INSERT INTO patrol_shifts (device_id, kind, started_at, ended_at) "
            "VALUES ('d', 'grid_patrol', '2026-01-02', '2026-01-01')",
            "patrol_shifts_ends_after_start",
        ),
        (
            "INSERT INTO road_edges (source, target, length_m, geom) "
            "VALUES (1, 2, 0, ST_GeomFromText('LINESTRING(120 30, 120.001 30)', 4326))",
            "road_edges_length_m_check",
        ),
    ],
    ids=lambda v: v if not v.startswith("INSERT") else "",
)
def test_value_checks(conn: Connection, sql: str, constraint: str) -> None:
    assert f'"{constraint}"' in error_of(conn, lambda c: c.execute(text(sql)))


def test_case_without_location_is_kept_unassigned(conn: Connection) -> None:
    row = conn.execute(
        text(
            "INSERT INTO cases (code, title, category, source) VALUES ('K', '无地址', 'c', "
            "'hotline_12345') RETURNING grid_id, status"
        )
    ).one()
    assert tuple(row) == (None, "reported")


@pytest.mark.parametrize("table", ["case_events", "audit_log"])
def test_history_is_append_only(conn: Connection, table: str) -> None:
    if table == "case_events":
        conn.execute(
            text(
                "INSERT INTO cases (id, code, title, category, source) "
                "VALUES (1, 'K', 't', 'c', 'walk_in');"
                "INSERT INTO case_events (case_id, actor, action) VALUES (1, 'a', 'report')"
            )
        )
    else:
        conn.execute(text("INSERT INTO audit_log (action) VALUES ('login')"))
    for sql in (f"UPDATE {table} SET at = now()", f"DELETE FROM {table}"):
        assert "append-only" in error_of(conn, lambda c, s=sql: c.execute(text(s)))


def test_repeated_ping_is_a_no_op(conn: Connection) -> None:
    sql = text(
        "INSERT INTO gps_pings (device_id, at, accuracy_m, geom) VALUES "
        "('d1', '2026-01-01 08:00:00+08', 5, ST_SetSRID(ST_MakePoint(120, 30), 4326)) "
        "ON CONFLICT DO NOTHING"
    )
    assert conn.execute(sql).rowcount == 1
    assert conn.execute(sql).rowcount == 0


def test_every_geometry_column_is_typed_4326_and_indexed(conn: Connection) -> None:
    cols = conn.execute(
        text(
            "SELECT f_table_name, f_geometry_column, srid, type FROM geometry_columns "
            "WHERE f_table_name NOT IN (SELECT relname FROM pg_class WHERE relispartition)"
        )
    ).all()
    assert cols and all(srid == 4326 and kind != "GEOMETRY" for _, _, srid, kind in cols)
    indexed = {
        r[0]
        for r in conn.execute(
            text(
                "SELECT t.relname || '.' || a.attname FROM pg_index i "
                "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class x ON x.oid = i.indexrelid "
                "JOIN pg_am am ON am.oid = x.relam "
                "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) "
                "WHERE am.amname = 'gist'"
            )
        )
    }
    # pings are read by device and time only; their GiST was dropped for ingest speed (0013)
    missing = {f"{t}.{c}" for t, c, _, _ in cols} - indexed - {"gps_pings.geom"}
    assert not missing, f"geometry columns without a GiST index: {missing}"


def streets(conn: Connection) -> list[tuple[str, str | None, str]]:
    """road_streets as (kind, name, WKT) rows in order."""
    return conn.execute(
        text("SELECT kind, name, ST_AsText(geom) FROM road_streets ORDER BY kind, name, 3")
    ).all()


def test_road_streets_follow_road_edges(conn: Connection) -> None:
    conn.execute(text("DELETE FROM road_edges"))
    assert streets(conn) == []
    conn.execute(
        text(
            "INSERT INTO road_edges (source, target, length_m, kind, name, geom) VALUES "
            "(1, 2, 100, 'primary', '中山路', 'LINESTRING(120 30, 120.001 30)'),"
            "(2, 3, 100, 'primary', '中山路', 'LINESTRING(120.001 30, 120.002 30)'),"
            "(3, 4, 100, 'residential', NULL, 'LINESTRING(120.002 30, 120.002 30.001)'),"
            "(5, 6, 100, 'residential', '', 'LINESTRING(120.01 30, 120.01 30.001)')"
        )
    )
    # One line per street (its edges merged); unnamed and empty names are one street.
    assert streets(conn) == [
        ("primary", "中山路", "LINESTRING(120 30,120.001 30,120.002 30)"),
        ("residential", None, "LINESTRING(120.002 30,120.002 30.001)"),
        ("residential", None, "LINESTRING(120.01 30,120.01 30.001)"),
    ]
    conn.execute(text("UPDATE road_edges SET name = '人民路' WHERE source = 2"))
    assert streets(conn)[:2] == [
        ("primary", "中山路", "LINESTRING(120 30,120.001 30)"),
        ("primary", "人民路", "LINESTRING(120.001 30,120.002 30)"),
    ]
    conn.execute(text("DELETE FROM road_edges WHERE kind = 'residential'"))
    assert [s[:2] for s in streets(conn)] == [("primary", "中山路"), ("primary", "人民路")]
    conn.execute(text("TRUNCATE road_edges CASCADE"))
    assert streets(conn) == []
