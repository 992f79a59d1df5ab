"""Coverage of the hand-made world: exact street lengths and shares, window boundaries,
camera sectors, the longest-unvisited streets and the risk gap ranking."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from gridmap.errors import InvalidInput
from gridmap.patrols import coverage
from gridmap.patrols.ingest import ingest_pings, parse_pings
from tests.gridmap.patrols.conftest import walk
from tests.gridmap.patrols.world import T0, edge_length

NOW = T0 + timedelta(hours=1)
#: The server clock at ingest (later than every test ping).
CLOCK = T0 + timedelta(hours=10)
GRID1_M = sum(edge_length(e) for e in (1, 2, 3, 4))
GRID2_M = edge_length(5) + edge_length(6)


def send(engine: Engine, pings: list[dict]) -> None:
    ingest_pings(engine, parse_pings({"pings": pings}), now=CLOCK)


def by_grid(engine: Engine, window: coverage.Window) -> dict[int, dict]:
    return {r["grid_id"]: r for r in coverage.grid_coverage(engine, window)}


def test_street_pieces_have_the_known_lengths(world: Engine) -> None:
    with world.connect() as conn:
        rows = conn.execute(
            text("SELECT edge_id, grid_id, length_m FROM edge_grid ORDER BY 1")
        ).all()
    assert [(r[0], r[1]) for r in rows] == [(1, 1), (2, 1), (3, 1), (4, 1), (5, 2), (6, 2)]
    for edge_id, _, length in rows:
        assert length == pytest.approx(edge_length(edge_id), abs=1e-6)


def test_coverage_of_a_known_track(world: Engine) -> None:
    send(world, walk())  # 08:00:00-08:01:40 along edges 1 and 2
    cov = by_grid(world, coverage.Window.last(timedelta(hours=2), NOW))
    g1, g2 = cov[1], cov[2]
    assert g1["street_m"] == pytest.approx(GRID1_M, abs=1e-6)
    assert g1["patrolled_m"] == pytest.approx(edge_length(1) + edge_length(2), abs=1e-6)
    assert g1["patrolled_share"] == pytest.approx(0.5, abs=1e-9)
    assert g1["seen_m"] == 0.0 and g1["watched_share"] == g1["patrolled_share"]
    assert g2["street_m"] == pytest.approx(GRID2_M, abs=1e-6)
    assert g2["patrolled_m"] == 0.0
    # camera 1 (online) sees 100 m of edge 6; camera 2 is offline
    assert g2["seen_m"] == pytest.approx(100.0, abs=0.01)
    assert g2["watched_share"] == pytest.approx(100.0 / GRID2_M, abs=1e-5)


@pytest.mark.parametrize(
    ("start_s", "end_s", "edges"),
    [
        (0, 0, [1]),  # the first ping alone
        (90, 100, [2]),  # pings 9 and 10 (lon 120.0041, 120.0045) lie on edge 2
        (101, 3600, []),  # just after the last ping
        (100, 100, [2]),  # the last ping's instant: included
        (-3600, -1, []),  # before the walk
    ],
)
def test_window_boundaries_are_inclusive(
    world: Engine, start_s: int, end_s: int, edges: list[int]
) -> None:
    send(world, walk())
    window = coverage.Window(T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=end_s))
    with world.connect() as conn:
        got = (
            conn.execute(
                text("SELECT edge_id FROM gridmap_patrol_visited(:t0, :t1) ORDER BY 1"),
                window.params(),
            )
            .scalars()
            .all()
        )
    assert got == edges


def test_rolling_windows(world: Engine) -> None:
    send(world, walk(t0=T0))  # edges 1, 2 at 08:00
    send(world, walk(start=120.0055, n=11, t0=T0 + timedelta(hours=7)))  # edges 3, 4 at 15:00
    end = T0 + timedelta(hours=8)
    shares = {
        label: by_grid(world, coverage.Window.last(length, end))[1]["patrolled_share"]
        for label, length in coverage.WINDOWS.items()
    }
    assert shares["2h"] == pytest.approx(0.5, abs=1e-9)
    assert shares["8h"] == pytest.approx(1.0, abs=1e-9)
    assert shares["24h"] == pytest.approx(1.0, abs=1e-9)
    # 8 h window starting one second after the first walk's last ping
    late = coverage.Window(T0 + timedelta(seconds=101), end)
    assert by_grid(world, late)[1]["patrolled_share"] == pytest.approx(0.5, abs=1e-9)


def test_longest_unvisited_streets_come_first(world: Engine) -> None:
    send(world, walk(n=3))  # edge 1 only
    rows = coverage.unvisited_streets(world, 1, limit=4)
    assert [r["edge_id"] for r in rows] == [2, 3, 4, 1]  # never visited (equal length), then 1
    assert rows[-1]["last_at"] == T0 + timedelta(seconds=20)


def test_camera_sector_geometry(world: Engine) -> None:
    with world.connect() as conn:
        inside, outside, area = conn.execute(
            text(
                "SELECT ST_Covers(geom, ST_SetSRID(ST_MakePoint(120.0155, 30.008), 4326)), "
                "ST_Covers(geom, ST_SetSRID(ST_MakePoint(120.0145, 30.008), 4326)), "
                "ST_Area(geom::geography) FROM camera_sectors WHERE camera_id = 1"
            )
        ).one()
    assert inside and not outside
    # a 60° sector of radius 100 m (13 arc points: chord polygon slightly under pi r² / 6)
    assert 5200 < area < 100**2 * 3.14159265 / 6


def test_offline_camera_sees_nothing_until_online(world: Engine) -> None:
    with world.begin() as conn:
        conn.execute(text("UPDATE cameras SET status = 'online' WHERE id = 2"))
    try:
        coverage.refresh_cameras(world)
        g2 = by_grid(world, coverage.Window.last(timedelta(hours=2), NOW))[2]
        assert g2["seen_m"] == pytest.approx(200.0, abs=0.02)
    finally:
        with world.begin() as conn:
            conn.execute(text("UPDATE cameras SET status = 'offline' WHERE id = 2"))
        coverage.refresh_cameras(world)


def _case(conn, n: int, lon: float, at) -> None:
    for _ in range(n):
        conn.execute(
            text(
                "INSERT INTO cases (code, title, category, source, reported_at, geom) VALUES "
                "(gen_random_uuid()::text, 't', 'municipal', 'grid_worker', :at, "
                "ST_SetSRID(ST_MakePoint(:lon, 30.005), 4326))"
            ),
            {"lon": lon, "at": at},
        )


def test_risk_gap_ranks_cases_against_patrols(world: Engine) -> None:
    send(world, walk())  # grid 1 half patrolled
    with world.begin() as conn:
        _case(conn, 4, 120.003, T0 + timedelta(minutes=10))  # grid 1
        _case(conn, 3, 120.015, T0 + timedelta(minutes=20))  # grid 2
        _case(conn, 9, 120.015, T0 - timedelta(days=3))  # grid 2, outside the window
    rows = coverage.risk_gap(world, coverage.Window.last(timedelta(hours=2), NOW))
    assert [(r["rank"], r["grid_id"], r["cases"]) for r in rows] == [(1, 1, 4), (2, 2, 3)]
    # grid 1: 4 cases / 0.965 km x 0.5 unpatrolled; grid 2: 3 / 1.544 km x 1
    assert rows[0]["need"] == pytest.approx(4 / (GRID1_M / 1000) * 0.5, rel=1e-9)
    assert rows[1]["need"] == pytest.approx(3 / (GRID2_M / 1000), rel=1e-9)
    send(world, walk(start=120.0055, n=11, t0=T0 + timedelta(minutes=30)))  # grid 1 full
    rows = coverage.risk_gap(world, coverage.Window.last(timedelta(hours=2), NOW))
    assert [r["grid_id"] for r in rows] == [2, 1]
    assert rows[1]["need"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(("raw", "hours"), [("2h", 2), ("8h", 8), ("24h", 24), ("7d", 168)])
def test_parse_window(raw: str, hours: int) -> None:
    assert coverage.parse_window(raw) == timedelta(hours=hours)


@pytest.mark.parametrize("raw", ["", "0h", "2w", "h"])
def test_parse_window_refuses(raw: str) -> None:
    with pytest.raises(InvalidInput):
        coverage.parse_window(raw)


@pytest.mark.parametrize(
    "window",
    [
        (0, 100),  # ends at the latest visit: read from edge_last_visit
        (0, 50),  # ends before it: read from the 5-minute buckets
        (-3600, 7 * 3600 + 100),
    ],
)
def test_live_grid_shares_equal_the_sql_figures(world: Engine, window: tuple[int, int]) -> None:
    send(world, walk(t0=T0))  # edges 1, 2
    send(world, walk(start=120.0055, n=11, t0=T0 + timedelta(hours=7)))  # edges 3, 4
    t0, t1 = (T0 + timedelta(seconds=s) for s in window)
    with world.connect() as conn:
        sql = conn.execute(
            text(
                "SELECT id, street_m, patrolled_share, watched_share "
                "FROM gridmap_patrol_grid_shares(NULL, NULL, NULL, NULL, :t0, :t1)"
            ),
            {"t0": t0, "t1": t1},
        ).all()
    ids = [r[0] for r in sql]
    asked = [*reversed(ids), 999_999]  # any order; a grid without streets gets zeros
    got = coverage.grid_shares(world, asked, t0, t1).set_index("id")
    assert list(got.index) == asked
    for grid_id, street_m, patrolled, watched in sql:
        row = got.loc[grid_id]
        assert row["street_m"] == pytest.approx(street_m, abs=1e-9)
        assert row["patrolled_share"] == pytest.approx(patrolled, abs=1e-12)
        assert row["watched_share"] == pytest.approx(watched, abs=1e-12)
    assert tuple(got.loc[999_999]) == (0.0, 0.0, 0.0)
    assert got["patrolled_share"].max() > 0


def test_live_grid_shares_follow_a_refresh_of_the_pieces(world: Engine) -> None:
    """The cached street pieces are read again when what cameras see changes."""
    send(world, walk())
    end = T0 + timedelta(seconds=100)
    before = coverage.grid_shares(world, [1, 2], T0, end).set_index("id")
    with world.begin() as conn:
        conn.execute(text("UPDATE edge_grid SET seen_m = length_m WHERE grid_id = 2"))
    after = coverage.grid_shares(world, [1, 2], T0, end).set_index("id")
    assert before.loc[2, "watched_share"] < 1 and after.loc[2, "watched_share"] == 1.0
    assert after.loc[1, "watched_share"] == before.loc[1, "watched_share"]
