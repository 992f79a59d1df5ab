"""The patrol API over real HTTP on the hand-made patrol world."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from gridmap.db.engine import get_engine
from gridmap.patrols import coverage
from tests.conftest import make_test_database
from tests.gridmap.cases.world import Api, serve_api
from tests.gridmap.patrols.conftest import walk
from tests.gridmap.patrols.world import T0, seed_patrol_world


@pytest.fixture(scope="module")
def api(_created: list[str]) -> Iterator[Api]:
    url = make_test_database("api_patrols")
    _created.append(url)
    seed_patrol_world(url)
    coverage.refresh_static(get_engine(url))
    with serve_api(url) as live:
        yield live


def test_ping_batch_is_idempotent_over_http(api: Api) -> None:
    pings = walk(device="H1", t0=T0)
    pings.append(dict(pings[-1], at=(T0 + timedelta(seconds=200)).isoformat(), accuracy_m=99))
    first = api.post("/api/v1/patrols/pings", json={"pings": pings})
    assert first.status_code == 200
    body = first.json()
    assert (body["accepted"], body["rejected_count"], body["duplicates"]) == (11, 1, 0)
    assert body["rejected"][0]["reason"] == "accuracy"
    again = api.post("/api/v1/patrols/pings", json={"pings": pings}).json()
    assert (again["accepted"], again["duplicates"], again["rejected_count"]) == (0, 12, 0)
    assert api.scalar("SELECT count(*) FROM gps_pings WHERE device_id = 'H1'") == 11
    assert api.scalar("SELECT count(*) FROM gps_pings_rejected WHERE device_id = 'H1'") == 1


def test_malformed_batch_is_400_with_problems(api: Api) -> None:
    res = api.post("/api/v1/patrols/pings", json={"pings": [{"device_id": "x"}]})
    assert res.status_code == 400
    problems = res.json()["error"]["problems"]
    assert [p["field"] for p in problems] == ["pings[0].at", "pings[0].lon", "pings[0].lat"]
    bad_json = {"data": "{", "headers": {"Content-Type": "application/json"}}
    assert api.post("/api/v1/patrols/pings", **bad_json).status_code == 400
    assert api.post("/api/v1/patrols/pings", data="{}").status_code == 415  # not sent as JSON


def test_coverage_track_unvisited_and_risk_gap(api: Api) -> None:
    api.post("/api/v1/patrols/pings", json={"pings": walk(device="H2", t0=T0)})
    end = (T0 + timedelta(hours=1)).isoformat()
    res = api.get("/api/v1/patrols/coverage", params={"window": "2h", "end": end})
    assert res.status_code == 200
    grids = {g["grid_id"]: g for g in res.json()["grids"]}
    assert grids[1]["patrolled_share"] == pytest.approx(0.5, abs=1e-9)
    track = api.get(
        "/api/v1/patrols/track",
        params={"device_id": "H2", "from": T0.isoformat(), "to": end},
    ).json()
    assert len(track["points"]) == 11
    assert track["points"][0]["lon"] == pytest.approx(120.0005, abs=1e-9)
    streets = api.get("/api/v1/patrols/grids/1/unvisited", params={"limit": 2}).json()
    assert [s["edge_id"] for s in streets["streets"]] == [3, 4]
    with get_engine(api.url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cases (code, title, category, source, reported_at, geom) VALUES "
                "('R1', 't', 'municipal', 'grid_worker', :at, "
                "ST_SetSRID(ST_MakePoint(120.015, 30.005), 4326))"
            ),
            {"at": T0},
        )
    gap = api.get("/api/v1/patrols/risk-gap", params={"window": "2h", "end": end}).json()
    assert [(g["rank"], g["grid_id"], g["cases"]) for g in gap["grids"]] == [(1, 2, 1)]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/patrols/coverage", {"window": "3w"}, "window"),
        ("/api/v1/patrols/coverage", {"end": "soon"}, "end"),
        ("/api/v1/patrols/risk-gap", {"limit": "0"}, "limit"),
        ("/api/v1/patrols/track", {}, "device_id"),
    ],
)
def test_bad_parameters_are_400(api: Api, path: str, params: dict, field: str) -> None:
    res = api.get(path, params=params)
    assert res.status_code == 400
    assert res.json()["error"]["problems"][0]["field"] == field


def test_shift_lifecycle(api: Api) -> None:
    res = api.post(
        "/api/v1/patrols/shifts",
        json={
            "device_id": "H3",
            "kind": "cadre_night",
            "team": "夜巡队",
            "started_at": T0.isoformat(),
        },
    )
    assert res.status_code == 201
    shift = res.json()
    assert (shift["kind"], shift["team"], shift["ended_at"]) == ("cadre_night", "夜巡队", None)
    bad = api.post(
        f"/api/v1/patrols/shifts/{shift['id']}/end",
        json={"ended_at": (T0 - timedelta(hours=1)).isoformat()},
    )
    assert bad.status_code == 400
    done = api.post(
        f"/api/v1/patrols/shifts/{shift['id']}/end",
        json={"ended_at": (T0 + timedelta(hours=8)).isoformat()},
    )
    assert done.status_code == 200 and datetime.fromisoformat(
        done.json()["ended_at"]
    ) == T0 + timedelta(hours=8)
    assert api.get("/api/v1/patrols/shifts/999999").status_code == 404
    refused = api.post("/api/v1/patrols/shifts", json={"device_id": "H3", "kind": "jog"})
    assert refused.status_code == 400
    fields = [p["field"] for p in refused.json()["error"]["problems"]]
    assert fields == ["kind", "started_at"]
    listed = api.get("/api/v1/patrols/shifts").json()["shifts"]
    assert [s["id"] for s in listed] == [shift["id"]]


def _ping(**values: object) -> dict:
    ping = {"device_id": "B1", "at": T0.isoformat(), "lon": 120.001, "lat": 30.005}
    return ping | values


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        (
            json.dumps({"pings": [_ping(device_id="B\u0000")]}),
            "pings[0].device_id",
            "must not contain control characters",
        ),
        (
            json.dumps({"pings": [_ping(device_id="B\ud800")]}),
            "body",
            "holds a lone UTF-16 surrogate",
        ),
        (
            json.dumps({"pings": [_ping(device_id="B" * 65)]}),
            "pings[0].device_id",
            "is too long (65 characters; at most 64)",
        ),
        (
            '{"pings": [{"device_id": "B1", "at": "2026-11-20T08:00:00Z", "lon": 1'
            + "0" * 400
            + ', "lat": 30}]}',
            "pings[0].lon",
            "must be a number",
        ),
        (
            json.dumps({"pings": [_ping(accuracy_m=1e39)]}),
            "pings[0].accuracy_m",
            "must be less than or equal to 100000",
        ),
        (
            json.dumps({"pings": [_ping(accuracy_m=math.inf)]}),  # JSON Infinity
            "body",
            "is not valid JSON: Infinity is not a JSON number",
        ),
        (
            json.dumps({"pings": [_ping(at="9999-12-31T23:59:59-14:00")]}),
            "pings[0].at",
            "must lie between 2000-01-01 and 2100-01-01",
        ),
        (
            json.dumps({"pings": [_ping(at="0001-01-01T00:00:00+14:00")]}),
            "pings[0].at",
            "must lie between 2000-01-01 and 2100-01-01",
        ),
    ],
)
def test_bad_pings_are_400_and_store_nothing(api: Api, body: str, field: str, says: str) -> None:
    res = api.post("/api/v1/patrols/pings", data=body, headers={"Content-Type": "application/json"})
    assert res.status_code == 400, res.text
    problem = res.json()["error"]["problems"][0]
    assert problem["field"] == field
    assert problem["message"].startswith(says)
    assert api.scalar("SELECT count(*) FROM gps_pings WHERE device_id LIKE 'B%'") == 0
    assert api.scalar("SELECT count(*) FROM gps_pings_rejected WHERE device_id LIKE 'B%'") == 0


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/v1/patrols/grids/10000000000000001/unvisited", 404, "There is no grid"),
        ("/api/v1/patrols/grids/999/unvisited", 404, "There is no grid 999."),
        ("/api/v1/patrols/shifts/99999999999999999999", 404, "There is no patrol shift"),
        ("/api/v1/patrols/coverage?end=0001-01-01", 400, "end: must lie between 2000-01-01"),
        ("/api/v1/patrols/risk-gap?end=9999-12-31", 400, "end: must lie between 2000-01-01"),
        ("/api/v1/patrols/shifts?since=0001-01-01", 400, "since: must lie between"),
        ("/api/v1/patrols/coverage?window=0h", 400, "window: must look like 90m, 2h"),
        (
            "/api/v1/patrols/track?device_id=a%00b&from=2026-01-01&to=2026-01-02",
            400,
            "device_id: must not contain control characters",
        ),
    ],
)
def test_bad_paths_and_parameters(api: Api, path: str, status: int, says: str) -> None:
    res = api.get(path)
    assert res.status_code == status, res.text
    assert res.json()["error"]["message"].startswith(says)


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        ({"grid_id": 424242}, "grid_id", "names no grid (424242)"),
        ({"grid_id": 2**64}, "grid_id", "must be between 1 and 2147483647"),
        ({"grid_id": "1"}, "grid_id", "must be an integer"),
        ({"worker_id": "abc"}, "worker_id", "must be an integer"),
        ({"worker_id": 999999}, "worker_id", "names no user (999999)"),
        ({"team": "队" * 201}, "team", "is too long (201 characters; at most 200)"),
        ({"device_id": "H\u0000"}, "device_id", "must not contain control characters"),
        (
            {"started_at": "0001-01-01T00:00:00+14:00"},
            "started_at",
            "must not be before 2000-01-01",
        ),
        ({"started_at": "2099-01-01T00:00:00Z"}, "started_at", "must not be more than 5 minutes"),
        ({"shift": 1}, "shift", "is not a known field (known: device_id, kind,"),
    ],
)
def test_bad_shifts_are_400(api: Api, values: dict, field: str, says: str) -> None:
    body = {"device_id": "H4", "kind": "grid_patrol", "started_at": T0.isoformat()} | values
    res = api.post("/api/v1/patrols/shifts", json=body)
    assert res.status_code == 400, res.text
    problem = res.json()["error"]["problems"][0]
    assert (problem["field"], problem["message"][: len(says)]) == (field, says)
    assert api.scalar("SELECT count(*) FROM patrol_shifts WHERE device_id LIKE 'H4%'") == 0


def test_pings_far_from_every_street_are_stored_and_touch_nothing(api: Api) -> None:
    pings = [_ping(device_id="FAR", lon=121.5, lat=31.2)]
    res = api.post("/api/v1/patrols/pings", json={"pings": pings})
    assert res.status_code == 200, res.text  # was a 500: no ping matched any street
    body = res.json()
    assert (body["accepted"], body["edges_touched"]) == (1, 0)


def test_track_of_an_unknown_shift_is_404(api: Api) -> None:
    res = api.get("/api/v1/patrols/track", params={"shift_id": "26101"})
    assert res.status_code == 404
    assert res.json()["error"]["message"] == "There is no patrol shift 26101."


def test_a_far_utc_offset_is_stored_as_its_instant(api: Api) -> None:
    """Python reads offsets up to ±23:59, PostgreSQL none beyond ±15:59: the door passes the
    instant on in UTC (the fuzzer's '-23:03' was a 500)."""
    started = datetime.fromisoformat("2000-01-01T23:20:23-23:03")
    body = {"device_id": "OFFSET", "kind": "party_volunteer", "started_at": started.isoformat()}
    res = api.post("/api/v1/patrols/shifts", json=body)
    assert res.status_code == 201, res.text
    stored = api.scalar("SELECT started_at FROM patrol_shifts WHERE device_id = 'OFFSET'")
    assert stored == started
