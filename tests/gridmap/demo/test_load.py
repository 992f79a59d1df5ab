"""The small demo city loaded into a real PostGIS (the suite's shared ``demo_url``)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from gridmap.db.engine import get_engine
from gridmap.demo.accounts import DEMO_ACCOUNTS, LEAD_GRIDS
from gridmap.demo.city import TABLES, generate_city
from gridmap.demo.load import DemoError, has_data, load_demo
from gridmap.derived import missing_steps
from tests.conftest import DEMO_SEED

GRIDMAP = Path(sys.executable).with_name("gridmap")


@pytest.fixture(scope="module")
def conn(demo_url: str) -> Connection:
    with get_engine(demo_url).connect() as c:
        yield c


@pytest.fixture(scope="module")
def meta(conn: Connection) -> dict[str, object]:
    rows = conn.execute(text("SELECT key, value FROM gridmap_meta WHERE key LIKE 'demo%'"))
    return dict(rows.all())


def _one(conn: Connection, sql: str) -> object:
    return conn.execute(text(sql)).scalar_one()


def test_meta_records_the_demo(meta: dict[str, object]) -> None:
    assert meta["demo_scale"] == "small"
    assert meta["demo_seed"] == DEMO_SEED
    anchor = datetime.fromisoformat(str(meta["demo_anchor"]))
    assert (anchor.hour, anchor.minute, anchor.utcoffset().total_seconds()) == (0, 0, 8 * 3600)
    assert sorted(meta["demo_counts"]) == sorted(TABLES)  # jsonb keeps no key order


def test_counts_match_the_generator(conn: Connection, meta: dict[str, object]) -> None:
    anchor = datetime.fromisoformat(str(meta["demo_anchor"]))
    frames = generate_city("small", seed=DEMO_SEED, anchor=anchor)
    expected = {t: len(f) for t, f in frames.items()}
    assert meta["demo_counts"] == expected
    # the loader adds the demo accounts the generator does not make: the grid lead "lead"
    # and its grids
    extra = {a.username for a in DEMO_ACCOUNTS} - set(frames["users"]["username"])
    assert extra == {"lead"}
    expected["users"] += 1
    expected["user_grids"] += LEAD_GRIDS
    for table, n in expected.items():
        assert _one(conn, f"SELECT count(*) FROM {table}") == n, table


@pytest.mark.parametrize(
    ("child", "parent", "fk"),
    [("grids", "communities", "community_id"), ("communities", "streets", "street_id"),
     ("streets", "districts", "district_id")],
)  # fmt: skip
def test_children_tile_their_parent(conn: Connection, child: str, parent: str, fk: str) -> None:
    worst = conn.execute(
        text(f"""
        SELECT max(abs(s.area_sum - s.parent_area) / s.parent_area),
               max(abs(s.union_area - s.parent_area) / s.parent_area),
               count(*)
        FROM (SELECT p.id, ST_Area(p.geom) AS parent_area, sum(ST_Area(c.geom)) AS area_sum,
                     ST_Area(ST_Union(c.geom)) AS union_area
              FROM {parent} p JOIN {child} c ON c.{fk} = p.id GROUP BY p.id) s
        """)
    ).one()
    assert worst[0] < 1e-9 and worst[1] < 1e-9
    assert worst[2] == _one(conn, f"SELECT count(*) FROM {parent}")
    overlaps = _one(
        conn,
        f"""SELECT count(*) FROM {child} a JOIN {child} b
            ON a.id < b.id AND a.{fk} = b.{fk} AND a.geom && b.geom
            WHERE ST_Overlaps(a.geom, b.geom)
               OR ST_Area(ST_Intersection(a.geom, b.geom)) > 0""",
    )
    assert overlaps == 0


def test_every_building_in_exactly_one_grid(conn: Connection) -> None:
    bad = _one(
        conn,
        """SELECT count(*) FROM buildings b
           WHERE b.grid_id IS DISTINCT FROM
                 (SELECT min(g.id) FROM grids g WHERE ST_Intersects(g.geom, b.geom))
              OR (SELECT count(*) FROM grids g WHERE ST_Intersects(g.geom, b.geom)) <> 1""",
    )
    assert bad == 0


@pytest.mark.parametrize("table", ["buildings", "cameras", "service_points"])
def test_points_have_a_grid(conn: Connection, table: str) -> None:
    assert _one(conn, f"SELECT count(*) FROM {table} WHERE grid_id IS NULL") == 0


def test_service_points_per_community(conn: Connection) -> None:
    per = conn.execute(
        text("""SELECT c.id, count(s.id) FROM communities c
                LEFT JOIN grids g ON g.community_id = c.id
                LEFT JOIN service_points s
                  ON s.grid_id = g.id AND s.kind = 'party_service_center'
                GROUP BY c.id""")
    ).all()
    assert all(n == 1 for _, n in per)


def test_road_edges(conn: Connection) -> None:
    row = conn.execute(
        text("""SELECT min(length_m),
                       max(abs(length_m - ST_Length(geom::geography)) / length_m),
                       count(DISTINCT name)
                FROM road_edges""")
    ).one()
    assert row[0] > 0
    assert row[1] < 0.01  # projected length within 1 % of the geodesic one
    assert row[2] > 20


def test_grid_leads_and_workers(conn: Connection) -> None:
    assert _one(conn, "SELECT count(*) FROM grids WHERE lead_user_id IS NULL") == 0
    assert (
        _one(
            conn,
            """SELECT count(*) FROM grids g JOIN users u ON u.id = g.lead_user_id
               WHERE u.role <> 'grid_lead' OR u.display_name <> g.lead_name
                  OR NOT EXISTS (SELECT 1 FROM user_grids ug
                                 WHERE ug.user_id = u.id AND ug.grid_id = g.id)""",
        )
        == 0
    )
    roles = dict(conn.execute(text("SELECT role, count(*) FROM users GROUP BY role")).all())
    assert roles["admin"] == roles["command"] == roles["planner"] == 1
    assert roles["grid_worker"] == _one(conn, "SELECT count(*) FROM patrol_shifts")


def test_pings_every_ten_seconds(conn: Connection) -> None:
    row = conn.execute(
        text("""SELECT count(*) FILTER (WHERE step <> interval '10 seconds'), count(*)
                FROM (SELECT at - lag(at) OVER (PARTITION BY device_id ORDER BY at) AS step
                      FROM gps_pings) s WHERE step IS NOT NULL""")
    ).one()
    assert row[0] == 0 and row[1] > 0
    assert (
        _one(
            conn,
            """SELECT count(*) FROM patrol_shifts s
               WHERE (SELECT min(at) FROM gps_pings p WHERE p.device_id = s.device_id)
                     <> s.started_at
                  OR (SELECT max(at) FROM gps_pings p WHERE p.device_id = s.device_id)
                     >= s.ended_at""",
        )
        == 0
    )


def test_case_timestamps_coherent(conn: Connection) -> None:
    bad = _one(
        conn,
        """SELECT count(*) FROM cases
           WHERE dispatched_at < reported_at OR resolved_at < dispatched_at
              OR closed_at < resolved_at OR closed_at < reported_at
              OR (status = 'closed') <> (closed_at IS NOT NULL)
              OR (status IN ('resolved', 'closed') AND resolved_at IS NULL)
              OR (status NOT IN ('reported', 'rejected') AND dispatched_at IS NULL)
              OR (satisfaction IS NOT NULL AND status <> 'closed')
              OR due_at <= reported_at OR updated_at < reported_at""",
    )
    assert bad == 0
    history = _one(
        conn,
        """SELECT count(*) FROM cases c
           WHERE c.status IS DISTINCT FROM (SELECT e.to_status FROM case_events e
                                            WHERE e.case_id = c.id ORDER BY e.at DESC, e.id DESC
                                            LIMIT 1)
              OR c.updated_at <> (SELECT max(e.at) FROM case_events e WHERE e.case_id = c.id)""",
    )
    assert history == 0


def test_every_index_is_valid_after_the_load(conn: Connection) -> None:
    """The loader drops secondary indexes before COPY and makes them again: a partitioned
    table's (case events, GPS pings) must cover its partitions again, not stay invalid."""
    invalid = conn.execute(
        text("SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid")
    ).scalars()
    assert list(invalid) == []
    on_partitions = _one(
        conn,
        """SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid
           WHERE i.inhparent = 'case_events_case_id'::regclass""",
    )
    partitions = _one(
        conn, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'case_events'::regclass"
    )
    assert on_partitions == partitions > 1


def test_unassigned_cases_are_kept(conn: Connection) -> None:
    row = conn.execute(
        text("""SELECT count(*) FILTER (WHERE grid_id IS NULL),
                       count(*) FILTER (WHERE grid_id IS NULL AND NOT EXISTS
                           (SELECT 1 FROM grids g WHERE ST_Intersects(g.geom, c.geom)))
                FROM cases c""")
    ).one()
    assert row[0] >= 100  # ~0.5 % of 20,000 lie just outside the city
    assert row[0] == row[1]


def test_identity_continues_after_the_demo(conn: Connection) -> None:
    for table in ("users", "cases", "case_events", "buildings"):
        seq = _one(conn, f"SELECT pg_get_serial_sequence('{table}', 'id')")
        last, called = conn.execute(text(f"SELECT last_value, is_called FROM {seq}")).one()
        nxt = last + 1 if called else last
        assert nxt == _one(conn, f"SELECT max(id) FROM {table}") + 1, table


def test_has_data(fresh_url: str, demo_url: str) -> None:
    assert has_data(fresh_url) is False
    assert has_data(demo_url) is True


def test_load_refuses_a_loaded_database(demo_url: str) -> None:
    with pytest.raises(DemoError, match="already holds data"):
        load_demo(demo_url, scale="small", seed=DEMO_SEED, progress=False)


def _gridmap(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    return subprocess.run(
        [str(GRIDMAP), "demo", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_refuses_to_load_twice(demo_url: str) -> None:
    out = _gridmap(demo_url, "--scale", "small")
    assert out.returncode == 2
    assert "already holds data" in out.stderr


def test_cli_loads_and_computes_the_derived_analyses(fresh_url: str) -> None:
    out = _gridmap(fresh_url, "--scale", "small")
    assert out.returncode == 0, out.stderr
    assert "stored 120 isochrones" in out.stdout
    assert missing_steps(fresh_url) == ()


def test_cli_if_empty_is_a_no_op(demo_url: str, conn: Connection) -> None:
    before = _one(conn, "SELECT count(*) FROM cases")
    out = _gridmap(demo_url, "--if-empty")
    assert out.returncode == 0, out.stderr
    assert "not loaded" in out.stdout
    assert _one(conn, "SELECT count(*) FROM cases") == before


def test_replace_reloads_the_same_city(
    fresh_url: str, demo_url: str, meta: dict[str, object]
) -> None:
    """A reload with replace=True over existing rows gives byte-identical tables (but the
    demo accounts' password hashes, salted afresh, and the added accounts' creation time)."""
    anchor = datetime.fromisoformat(str(meta["demo_anchor"]))
    with get_engine(fresh_url).begin() as c:
        c.execute(
            text("INSERT INTO users (username, display_name, role) VALUES ('zz', 'z', 'admin')")
        )
    with pytest.raises(DemoError):
        load_demo(fresh_url, scale="small", seed=DEMO_SEED, progress=False, anchor=anchor)
    counts = load_demo(
        fresh_url, scale="small", seed=DEMO_SEED, replace=True, progress=False, anchor=anchor
    )
    assert counts == meta["demo_counts"]
    digest = """SELECT md5(string_agg({row}::text, '|' ORDER BY {order})) FROM {table} t"""
    user_row = """(t.id, t.username, t.display_name, t.role, t.phone, t.active,
                   CASE WHEN t.password_hash IS NULL THEN t.created_at END)"""
    for table, order in [("grids", "id"), ("buildings", "id"), ("cases", "id"),
                         ("case_events", "id"), ("gps_pings", "device_id, at"),
                         ("users", "id")]:  # fmt: skip
        q = digest.format(table=table, order=order, row=user_row if table == "users" else "t")
        with get_engine(fresh_url).connect() as c:
            fresh = c.execute(text(q)).scalar_one()
        with get_engine(demo_url).connect() as c:
            loaded = c.execute(text(q)).scalar_one()
        assert fresh == loaded, table
