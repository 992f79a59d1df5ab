"""The patrol API over real HTTP on the hand-made patrol world."""

from __future__ import annotations

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
    assert [p["field"] for p in problems] == ["pings[0].at", "pings[0]"]
    json_type = {"Content-Type": "application/json"}
    assert api.post("/api/v1/patrols/pings", data="{", headers=json_type).status_code == 400
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
