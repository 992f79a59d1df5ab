"""The worst values the schema allows in the patrol tables (migration 0019) read back
through every patrol route over HTTP, and one step past each bound refused by the schema
itself (issue 12, item 1b: one bad row must not poison reads)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from sqlalchemy import text

from gridmap.db.engine import get_engine
from gridmap.patrols import coverage
from tests.conftest import make_test_database
from tests.gridmap.cases.world import Api, serve_api
from tests.gridmap.patrols.world import seed_patrol_world

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LAST = datetime(2100, 1, 1, tzinfo=UTC) - timedelta(microseconds=1)
DEVICE = "设" * 64
TEAM = "队" * 200


@pytest.fixture(scope="module")
def api(_created: list[str]) -> Iterator[Api]:
    url = make_test_database("api_patrol_bounds")
    _created.append(url)
    seed_patrol_world(url)
    coverage.refresh_static(get_engine(url))
    with get_engine(url).begin() as conn:
        for at, x in ((EARLIEST, 120.001), (LAST, 120.009)):
            conn.execute(
                text(
                    "INSERT INTO gps_pings (device_id, at, accuracy_m, geom) VALUES "
                    "(:d, :at, 100000, ST_SetSRID(ST_MakePoint(:x, 30.005), 4326))"
                ),
                {"d": DEVICE, "at": at, "x": x},
            )
        conn.execute(
            text(
                "INSERT INTO gps_pings_rejected (device_id, at, lon, lat, accuracy_m, reason, "
                "detail, received_at) VALUES (:d, :at, 1e308, -1e308, 3e38, 'future', :t, :at)"
            ),
            {"d": DEVICE, "at": LAST, "t": TEAM},
        )
        conn.execute(
            text(
                "INSERT INTO patrol_shifts (id, device_id, kind, team, grid_id, started_at, "
                "ended_at) VALUES (7, :d, 'police_joint', :t, 1, :t0, :t1), "
                "(8, :d, 'cadre_night', NULL, NULL, :t1, NULL)"
            ),
            {"d": DEVICE, "t": TEAM, "t0": EARLIEST, "t1": LAST},
        )
        conn.execute(
            text(
                "INSERT INTO edge_visits (edge_id, bucket, first_at, last_at) VALUES "
                "(1, :t0, :t0, :t0), (3, :b, :t1, :t1); "
                "INSERT INTO edge_last_visit (edge_id, last_at) VALUES (1, :t0), (3, :t1)"
            ),
            {"t0": EARLIEST, "t1": LAST, "b": LAST - timedelta(minutes=4, seconds=59)},
        )
    with serve_api(url) as live:
        yield live


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/patrols/shifts", {"since": "2000-01-01T00:00:00Z"}),
        ("/api/v1/patrols/shifts/7", {}),
        ("/api/v1/patrols/shifts/8", {}),
        ("/api/v1/patrols/track", {"shift_id": "7"}),
        (
            "/api/v1/patrols/track",
            {"device_id": DEVICE, "from": "2000-01-01T00:00:00Z", "to": "2099-12-31T23:59:59Z"},
        ),
        ("/api/v1/patrols/coverage", {"end": "2099-12-31T23:59:59.999999Z", "window": "9999d"}),
        ("/api/v1/patrols/coverage", {"end": "2000-01-01T00:00:00Z", "window": "9999d"}),
        ("/api/v1/patrols/risk-gap", {"end": "2099-12-31T23:59:59Z", "window": "9999d"}),
        ("/api/v1/patrols/grids/1/unvisited", {"limit": "500"}),
    ],
)
def test_every_patrol_route_reads_the_extremes_back(api: Api, path: str, params: dict) -> None:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text


def test_the_extremes_come_back_exactly(api: Api) -> None:
    shift = api.get("/api/v1/patrols/shifts/7").json()
    assert (shift["device_id"], shift["team"]) == (DEVICE, TEAM)
    assert datetime.fromisoformat(shift["started_at"]) == EARLIEST
    assert datetime.fromisoformat(shift["ended_at"]) == LAST
    track = api.get("/api/v1/patrols/track", params={"shift_id": "7"}).json()
    assert [datetime.fromisoformat(p["at"]) for p in track["points"]] == [EARLIEST, LAST]
    assert [p["accuracy_m"] for p in track["points"]] == [100000, 100000]
    streets = api.get("/api/v1/patrols/grids/1/unvisited").json()["streets"]
    last = {s["edge_id"]: s["last_at"] for s in streets}
    assert datetime.fromisoformat(last[1]) == EARLIEST
    assert datetime.fromisoformat(last[3]) == LAST


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO gps_pings (device_id, at, geom) VALUES "
        "('X', '1999-12-31 23:59:59.999999+00', ST_SetSRID(ST_MakePoint(120, 30), 4326))",
        "INSERT INTO gps_pings (device_id, at, geom) VALUES "
        "('X', '2100-01-01 00:00:00+00', ST_SetSRID(ST_MakePoint(120, 30), 4326))",
        "INSERT INTO gps_pings_rejected (device_id, at, reason) VALUES "
        "('X', '0001-01-01 00:00:00+14', 'future')",
        "INSERT INTO patrol_shifts (device_id, kind, started_at) VALUES "
        "('X', 'grid_patrol', '9999-12-31 00:00:00+00')",
        "INSERT INTO edge_visits (edge_id, bucket, first_at, last_at) VALUES "
        "(1, '1999-12-31 23:55:00+00', '1999-12-31 23:59:00+00', '2000-01-01 00:01:00+00')",
        "INSERT INTO edge_last_visit (edge_id, last_at) VALUES (2, '2100-01-01 00:00:00+00')",
        "INSERT INTO audit_log (at, action) VALUES ('1999-01-01 00:00:00+00', 'x')",
        "INSERT INTO export_jobs (options, finished_at) VALUES ('{}', '2200-01-01 00:00:00+00')",
        "UPDATE cameras SET last_seen = '0001-01-01 00:00:00+00' WHERE id = 1",
    ],
)
def test_the_schema_refuses_one_step_past_a_bound(api: Api, sql: str) -> None:
    raw = get_engine(api.url).raw_connection()
    try:
        with raw.cursor() as cur, pytest.raises(psycopg2.errors.CheckViolation):
            cur.execute(sql)
    finally:
        raw.rollback()
        raw.close()
