"""``/api/v1/visits`` and ``/api/v1/households`` over HTTP: idempotent visits, a far-away
fix kept but flagged (and not counted), a visit opening a case, a household's history,
and a grid lead of another grid who gets nothing (404, empty lists) of these households."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from gridmap.access.accounts import issue_token
from gridmap.db.engine import get_engine
from tests.gridmap.cases.world import INSIDE, Api, camera_position, serve_api
from tests.signin import ensure_account

NEAR = camera_position(50.0, 10.0)  # 50 m from building B-G1
FAR = camera_position(600.0, 45.0)  # 600 m away (the setting: 200 m)


@pytest.fixture(scope="module")
def api(hh_url: str) -> Iterator[Api]:
    with serve_api(hh_url) as live:
        yield live


def bearer(url: str, username: str, grids: tuple[str, ...]) -> requests.Session:
    user, _ = ensure_account(url, "grid_lead", username=username, grids=grids)
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + issue_token(get_engine(url), user, "api")
    return session


@pytest.fixture(scope="module")
def foreign_lead(hh_url: str) -> requests.Session:
    """A grid lead of G3 only (the households H1-H4 are in G1)."""
    return bearer(hh_url, "lead_g3", ("G3",))


def visit(api: Api, body: dict, key: str | None = None) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return api.post("/api/v1/visits", json=body, headers=headers)


def test_same_key_same_visit_no_double(api: Api, hh_ids: dict[str, int]) -> None:
    body = {"household_id": hh_ids["H3"], "kind": "routine", "outcome": "met",
            "visited_at": "2026-03-01T10:00:00+08:00", "lon": NEAR[0], "lat": NEAR[1]}  # fmt: skip
    first = visit(api, body, "k-1")
    again = visit(api, body, "k-1")
    assert first.status_code == 201, first.text
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert first.headers["Location"] == f"/api/v1/visits/{first.json()['id']}"
    assert api.scalar("SELECT count(*) FROM visits WHERE idempotency_key = 'k-1'") == 1
    assert first.json()["far_fix"] is False and round(first.json()["distance_m"]) == 50
    other = visit(api, body | {"outcome": "follow_up"}, "k-1")
    assert other.status_code == 422
    assert "was used for a different visit" in other.json()["error"]["message"]


def test_without_a_key_a_repeat_within_minutes_is_the_same_visit(
    api: Api, hh_ids: dict[str, int]
) -> None:
    body = {"household_id": hh_ids["H4"], "kind": "care", "outcome": "not_home",
            "note": "敲门无人应答", "lon": NEAR[0], "lat": NEAR[1]}  # fmt: skip
    first, again = visit(api, body), visit(api, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    other = visit(api, body | {"note": "第二次敲门无人应答"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert api.scalar("SELECT count(*) FROM visits WHERE household_id = :h", h=hh_ids["H4"]) == 2


def test_far_fix_is_kept_flagged_and_not_counted(api: Api, hh_ids: dict[str, int]) -> None:
    before = api.scalar("SELECT last_visited_at FROM households WHERE code = 'H2'")
    body = {"household_id": hh_ids["H2"], "kind": "care", "outcome": "met",
            "lon": FAR[0], "lat": FAR[1], "accuracy_m": 5}  # fmt: skip
    response = visit(api, body, "far-1")
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["far_fix"] is True and round(out["distance_m"]) == 600
    assert (out["lon"], out["lat"]) == pytest.approx(FAR)
    assert api.scalar("SELECT far_fix FROM visits WHERE id = :id", id=out["id"]) is True
    assert api.scalar("SELECT last_visited_at FROM households WHERE code = 'H2'") == before


def test_visit_opens_a_case_linked_both_ways(api: Api, hh_ids: dict[str, int]) -> None:
    case = {"title": "燃气管老化", "subcategory": "street_light"}
    body = {"household_id": hh_ids["H1"], "kind": "safety_check", "outcome": "follow_up",
            "note": "燃气管老化", "open_case": case}  # fmt: skip
    first = visit(api, body, "case-1")
    again = visit(api, body, "case-1")
    assert first.status_code == 201, first.text
    case_id = first.json()["case_id"]
    assert case_id and again.json()["case_id"] == case_id
    assert api.scalar("SELECT count(*) FROM cases WHERE title = '燃气管老化'") == 1
    assert api.scalar("SELECT id FROM visits WHERE case_id = :c", c=case_id) == first.json()["id"]
    lon, lat = api.rows("SELECT ST_X(geom), ST_Y(geom) FROM cases WHERE id = :c", c=case_id)[0]
    assert (lon, lat) == pytest.approx(INSIDE[1])  # no fix: at the building
    case = api.get(f"/api/v1/cases/{case_id}").json()
    assert (case["source"], case["visit_id"]) == ("grid_worker", first.json()["id"])


def test_household_and_its_history(api: Api, hh_ids: dict[str, int]) -> None:
    hid = hh_ids["H3"]
    household = api.get(f"/api/v1/households/{hid}")
    assert household.status_code == 200
    out = household.json()
    assert (out["code"], out["head_name"], out["head_phone"], out["cadence_days"]) == (
        "H3", "张伟", "137****1111", 90)  # fmt: skip
    history = api.get(f"/api/v1/households/{hid}/visits").json()["visits"]
    assert [(v["kind"], v["outcome"], v["kind_zh"]) for v in history] == [
        ("routine", "met", "日常走访")
    ]
    assert (
        api.scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'view_personal' AND target = :t",
            t=f"household:{hid}",
        )
        == 1
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "routine", "outcome": "met"}, "household_id"),
        ({"household_id": 1, "kind": "party", "outcome": "met"}, "kind"),
        ({"household_id": 1, "kind": "care", "outcome": "gone"}, "outcome"),
        ({"household_id": 1, "kind": "care", "outcome": "met", "lon": 120.0}, "lat"),
    ],
)
def test_bad_visits_are_refused_with_a_reason(api: Api, body: dict, field: str) -> None:
    response = visit(api, body)
    assert response.status_code == 400, response.text
    assert field in [p["field"] for p in response.json()["error"]["problems"]]


def test_unknown_household_is_404(api: Api) -> None:
    response = visit(api, {"household_id": 999999, "kind": "care", "outcome": "met"})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "There is no household 999999."


def test_lead_of_another_grid_gets_nothing(
    api: Api, hh_ids: dict[str, int], foreign_lead: requests.Session
) -> None:
    hid = hh_ids["H1"]
    for path in (f"/api/v1/households/{hid}", f"/api/v1/households/{hid}/visits"):
        response = foreign_lead.get(api.base + path, timeout=10)
        assert response.status_code == 404, path
        assert "王秀英" not in response.text
    posted = foreign_lead.post(
        api.base + "/api/v1/visits",
        json={"household_id": hid, "kind": "care", "outcome": "met"},
        timeout=10,
    )
    assert posted.status_code == 404
    overdue = foreign_lead.get(api.base + "/api/v1/visits/overdue?as_of=2026-03-10", timeout=10)
    assert [h["code"] for h in overdue.json()["households"]] == ["H9"]
    shares = foreign_lead.get(api.base + "/api/v1/visits/shares?as_of=2026-03-10", timeout=10)
    assert [g["id"] for g in shares.json()["groups"]] == [3]
    own = foreign_lead.get(api.base + f"/api/v1/households/{hh_ids['H9']}", timeout=10)
    assert own.status_code == 200 and own.json()["head_name"] == "陈静"


def test_command_sees_names_masked(api: Api, hh_url: str, hh_ids: dict[str, int]) -> None:
    user, _ = ensure_account(hh_url, "command", username="cmd_hh")
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + issue_token(get_engine(hh_url), user, "api")
    out = session.get(api.base + f"/api/v1/households/{hh_ids['H1']}", timeout=10).json()
    assert (out["head_name"], out["head_phone"], out["room"]) == ("王**", "139****5678", "101")


def test_lists_of_kinds_and_tags(api: Api) -> None:
    kinds = api.get("/api/v1/visit-kinds").json()
    assert [k["slug"] for k in kinds] == ["routine", "care", "mediation", "door_service",
                                          "safety_check"]  # fmt: skip
    tags = api.get("/api/v1/household-tags").json()
    assert tags["every_household_days"] == 90
    assert {t["name_zh"]: t["cadence_days"] for t in tags["tags"]} == {
        "独居老人": 7, "残疾": 30, "低保": 30, "留守儿童": 30, "重点关注": 14}  # fmt: skip


def test_visit_to_a_building_or_a_unit(api: Api) -> None:
    building = api.scalar("SELECT id FROM buildings WHERE code = 'B-G3'")
    unit = api.scalar("SELECT id FROM ten_household_units WHERE code = 'U1'")
    at_building = visit(api, {"building_id": building, "kind": "safety_check", "outcome": "met"})
    at_unit = visit(api, {"unit_id": unit, "kind": "mediation", "outcome": "follow_up"})
    assert at_building.status_code == at_unit.status_code == 201
    a, b = at_building.json(), at_unit.json()
    assert (a["household_id"], a["building_id"], a["grid_id"]) == (None, building, 3)
    assert (b["household_id"], b["unit_id"], b["grid_id"], b["distance_m"]) == (None, unit, 1, None)
