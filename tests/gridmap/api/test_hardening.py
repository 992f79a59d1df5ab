"""Issue 12 regressions of the case API and Open311: bounded dates at every door and in the
schema (1b), inputs that gave a 500 (2), unknown API paths (3), idempotency keys scoped to
the caller and masking of history (4), accepted-though-wrong bodies (5), TRACE and who may
read the contract (6)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from gridmap import bounds
from gridmap.access import Role, User
from gridmap.access.masking import mask_event
from gridmap.db.engine import get_engine
from gridmap.io.export import ExportRequest, export_data
from gridmap.web.app import create_app
from tests.gridmap.cases.world import INSIDE, Api, insert_case
from tests.signin import api_token, client_sign_in, ensure_account

GOOD = {"title": "路灯不亮", "subcategory": "street_light", "lon": 120.005, "lat": 30.005}
FORM = {"service_code": "garbage", "lat": "30.005", "long": "120.015", "description": "垃圾"}


def cases(api: Api) -> int:
    return api.scalar("SELECT count(*) FROM cases")


def problems(r: requests.Response) -> list[dict]:
    return r.json()["error"]["problems"]


# -- 1b: bounded dates ------------------------------------------------------------------------


def test_year_one_is_refused_at_every_door_and_by_the_schema(api: Api) -> None:
    before = cases(api)
    r = api.post("/api/v1/cases", json=GOOD | {"reported_at": "0001-01-01T00:00:00+14:00"})
    assert (r.status_code, problems(r)) == (
        400,
        [{"field": "reported_at", "message": "must not be before 2000-01-01"}],
    )
    r = api.get("/open311/v2/requests.json?end_date=0001-01-01")
    assert (r.status_code, r.json()) == (
        400,
        [{"code": 400, "description": "end_date: must lie between 2000-01-01 and 2100-01-01"}],
    )
    assert cases(api) == before
    with pytest.raises(IntegrityError, match="cases_times_in_bounds"):
        insert_case(api.url, reported_at=datetime(1999, 12, 31, 23, 59, tzinfo=UTC))
    case_id = insert_case(api.url)
    with (
        pytest.raises(IntegrityError, match="case_events_at_in_bounds"),
        get_engine(api.url).begin() as conn,
    ):
        conn.execute(
            text(
                "INSERT INTO case_events (case_id, at, actor, action) "
                "VALUES (:id, '2100-01-01T00:00:00Z', 'x', 'note')"
            ),
            {"id": case_id},
        )


def test_moments_are_iso_text_not_numbers(api: Api) -> None:
    r = api.post("/api/v1/cases", json=GOOD | {"reported_at": 1_700_000_000})
    assert (r.status_code, problems(r)) == (
        400,
        [{"field": "reported_at", "message": "must be an ISO 8601 date-time, not an integer"}],
    )


def test_worst_allowed_values_read_back_on_every_route(api: Api, tmp_path: Path) -> None:
    r = api.post("/api/v1/cases", json=GOOD | {"reported_at": "2000-01-01T00:00:00+00:00"})
    assert r.status_code == 201, r.text
    earliest = r.json()["id"]
    latest_ok = (datetime.now(UTC) + bounds.FUTURE_SLACK - timedelta(seconds=30)).isoformat()
    r = api.post("/api/v1/cases", json=GOOD | {"reported_at": latest_ok, "title": "最晚"})
    assert r.status_code == 201, r.text
    edge = insert_case(
        api.url,
        "dispatched",
        reported_at=bounds.EARLIEST,
        due_at=bounds.EARLIEST + timedelta(hours=1),
        dispatched_at=bounds.LATEST - timedelta(microseconds=1),
        updated_at=bounds.LATEST - timedelta(microseconds=1),
    )
    for case_id in (earliest, edge):
        assert api.get(f"/api/v1/cases/{case_id}").status_code == 200
        assert api.get(f"/api/v1/cases/{case_id}/history").status_code == 200
    listing = api.get("/api/v1/cases?status=reported,dispatched&overdue=true&limit=500")
    assert listing.status_code == 200
    assert {earliest, edge} <= {c["id"] for c in listing.json()["cases"]}
    code = api.scalar("SELECT code FROM cases WHERE id = :id", id=edge)
    one = api.get(f"/open311/v2/requests.json?service_request_id={code}")
    assert (one.status_code, one.json()[0]["requested_datetime"]) == (
        200,
        "2000-01-01T08:00:00+08:00",
    )
    assert api.get(f"/open311/v2/requests/{code}.json").status_code == 200
    assert api.get(f"/open311/v2/requests/{code}.xml").status_code == 200
    assert api.get("/api/v1/cases/kpis?since=2000-01-01T00:00:00Z").json()["total"] >= 2
    window = api.get(
        "/open311/v2/requests.json?start_date=2000-01-01T00:00:00Z&end_date=2000-03-01T00:00:00Z"
    )
    assert window.status_code == 200 and len(window.json()) == 2
    target = tmp_path / "cases.csv"
    counts = export_data(get_engine(api.url), ExportRequest(("cases",), "csv"), target)
    with target.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert counts["cases"] == len(rows) == cases(api)


# -- 2: inputs that gave a 500 ------------------------------------------------------------


BAD_BODIES = {
    "lone-surrogate": '{"title": "\\ud800", "subcategory": "street_light"}',
    "5000-digit-integer": '{"title": "x", "subcategory": "street_light", "priority": '
    + "9" * 5000
    + "}",
    "100k-nested": "[" * 100_000,
    "400-digit-lon": '{"title": "x", "subcategory": "street_light", "lon": '
    + "1" * 400
    + ', "lat": 30}',
    "infinity": '{"title": "x", "subcategory": "street_light", "lon": Infinity, "lat": 30}',
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=list(BAD_BODIES))
@pytest.mark.parametrize("path", ["/api/v1/cases", "/open311/v2/requests.json"])
def test_unstorable_json_is_400(api: Api, path: str, body: str) -> None:
    before = cases(api)
    if path.startswith("/open311"):
        body = body.replace('"title": "x"', '"description": "x"').replace(
            '"title": "\\ud800"', '"description": "\\ud800"'
        )
        body = body.replace('"subcategory": "street_light"', '"service_code": "garbage"')
        body = body.replace('"lon":', '"long":')
    r = api.post(path, data=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert "Traceback" not in r.text
    assert cases(api) == before


def test_out_of_range_query_values_are_400(api: Api) -> None:
    r = api.get("/api/v1/cases?grid_id=99999999999")
    assert (r.status_code, problems(r)) == (
        400,
        [{"field": "grid_id", "message": "must be between 1 and 2147483647 (got '99999999999')"}],
    )
    r = api.get("/api/v1/cases/99999999999999999999")
    assert r.json() == {"error": {"message": "No case has id 99999999999999999999"}}


# -- 3 and 6: unknown paths, TRACE, the contract for every role ----------------------------


@pytest.fixture(scope="module")
def app_client(world_url: str):
    """The whole app in-process (Dash's catch-all page included), signed in as an admin."""
    client = create_app(world_url).server.test_client()
    client_sign_in(client, *ensure_account(world_url, "admin"))
    return client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/cases/-1"),
        ("GET", "/api/v1/nonexistent"),
        ("POST", "/api/v1/cases/-1/actions"),
        ("GET", "/api/v1/cases/1/history/x"),
    ],
)
def test_unknown_api_paths_are_json_404(app_client, method: str, path: str) -> None:
    r = app_client.open(path, method=method, headers={"Accept": "text/html"})
    assert (r.status_code, r.mimetype) == (404, "application/json")
    assert r.get_json()["error"]["message"].startswith("No API route")


def test_unknown_open311_path_is_open311_404(app_client) -> None:
    r = app_client.get("/open311/v2/nope.json")
    assert (r.status_code, r.get_json()) == (
        404,
        [{"code": 404, "description": "No API route '/open311/v2/nope.json'."}],
    )


def test_unknown_api_path_is_404_before_sign_in(world_url: str) -> None:
    client = create_app(world_url).server.test_client()
    assert client.get("/api/v1/nonexistent").status_code == 404


def test_trace_is_405_with_allow(app_client) -> None:
    r = app_client.open("/api/v1/cases", method="TRACE")
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_intake_client_reads_the_contract(world_url: str) -> None:
    client = create_app(world_url).server.test_client()
    bearer = {"Authorization": f"Bearer {api_token(world_url)}"}
    r = client.get("/api/openapi.json", headers=bearer)
    assert r.status_code == 200
    body = r.get_json()["paths"]["/api/v1/cases"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/CaseIn"}
    assert client.get("/api/docs", headers=bearer).status_code == 200


# -- 4: idempotency keys scoped to the caller; history masked -------------------------------


def test_idempotency_key_of_another_account_is_a_new_key(api: Api) -> None:
    other = requests.Session()
    other.headers["Authorization"] = f"Bearer {api_token(api.url)}"  # an api_client
    key = {"Idempotency-Key": "shared-key-1"}
    first = api.post("/api/v1/cases", json=GOOD | {"reporter_name": "李四"}, headers=key)
    assert first.status_code == 201
    theirs = other.post(api.base + "/api/v1/cases", json=GOOD, headers=key, timeout=10)
    assert theirs.status_code == 201  # not a replay of the admin's case
    assert theirs.json()["id"] != first.json()["id"]
    changed = GOOD | {"title": "另一件"}
    conflict = other.post(api.base + "/api/v1/cases", json=changed, headers=key, timeout=10)
    assert conflict.status_code == 422
    assert str(first.json()["id"]) not in conflict.text
    assert f"(id {theirs.json()['id']})" in conflict.text
    replay = other.post(api.base + "/api/v1/cases", json=GOOD, headers=key, timeout=10)
    assert (replay.status_code, replay.json()["id"]) == (200, theirs.json()["id"])


def test_intake_client_sees_no_reporter_in_history(api: Api) -> None:
    other = requests.Session()
    other.headers["Authorization"] = f"Bearer {api_token(api.url)}"
    r = other.post(
        api.base + "/api/v1/cases",
        json=GOOD | {"reporter_name": "赵六", "reporter_phone": "13912345678"},
        timeout=10,
    )
    assert r.status_code == 201
    body = r.json()
    assert (body["reporter_name"], body["reporter_phone"]) == (None, None)
    assert [e["actor"] for e in body["history"]] == [None]
    assert "赵六" not in r.text and "13912345678" not in r.text


@pytest.mark.parametrize(
    ("role", "actor", "note"),
    [
        (Role.ADMIN, "赵六", "赵六来电 139****5678"),
        (Role.COMMAND, "赵*", "赵*来电 139****5678"),
        (Role.PLANNER, None, "*来电 139****5678"),
        (Role.API_CLIENT, None, "*来电 139****5678"),
    ],
)
def test_history_actor_and_note_are_masked(role: Role, actor: str | None, note: str) -> None:
    user = User(id=1, username="u", display_name="u", role=role)
    event = {"actor": "赵六", "note": "赵六来电 13912345678", "action": "report"}
    assert mask_event(event, "赵六", user) == {"actor": actor, "note": note, "action": "report"}


# -- 5: accepted though wrong ------------------------------------------------------------


def test_json_sent_as_text_plain_is_415(api: Api) -> None:
    before = cases(api)
    r = api.post(
        "/api/v1/cases", data=json.dumps(GOOD).encode(), headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 415
    assert r.json()["error"]["message"].startswith("Send the body as JSON")
    assert cases(api) == before


def test_chunked_body_over_the_limit_is_413(api: Api) -> None:
    before = cases(api)

    def chunks():
        yield b'{"title": "'
        for _ in range(40):
            yield b"x" * 32_768
        yield b'"}'

    r = api.post("/api/v1/cases", data=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert cases(api) == before


def test_open311_form_with_invalid_utf8_is_400(api: Api) -> None:
    before = cases(api)
    r = api.post(
        "/open311/v2/requests.json",
        data=b"service_code=garbage&lat=30.005&long=120.015&description=%FF%FEbad",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (r.status_code, r.json()) == (
        400,
        [{"code": 400, "description": "description: is not valid UTF-8"}],
    )
    assert cases(api) == before


def test_open311_post_still_takes_forms_and_json(api: Api) -> None:
    assert api.post("/open311/v2/requests.json", data=FORM).status_code == 200
    as_json = FORM | {"lat": INSIDE[1][1], "long": INSIDE[1][0]}
    assert api.post("/open311/v2/requests.json", json=as_json).status_code == 200


def test_phone_numbers_in_free_text_are_masked(api: Api) -> None:
    body = GOOD | {"description": "请回电 13912345678", "reporter_name": "钱七"}
    r = api.post("/api/v1/cases", json=body)
    assert r.json()["description"] == "请回电 139****5678"
    code = r.json()["code"]
    listed = api.get(f"/open311/v2/requests.json?service_request_id={code}").json()[0]
    assert listed["description"] == "请回电 139****5678"
    assert (
        api.scalar("SELECT description FROM cases WHERE code = :c", c=code) == body["description"]
    )  # stored whole; masked when shown


def test_a_far_utc_offset_is_taken_as_its_instant(api: Api) -> None:
    """Offsets beyond PostgreSQL's ±15:59 (Python reads up to ±23:59) were a 500."""
    at = "2026-01-02T20:00:00+23:30"
    r = api.post("/api/v1/cases", json=GOOD | {"title": "远时区", "reported_at": at})
    assert r.status_code == 201, r.text
    stored = api.scalar("SELECT reported_at FROM cases WHERE id = :id", id=r.json()["id"])
    assert stored == datetime.fromisoformat(at)
    r = api.get(
        "/open311/v2/requests.json"
        "?start_date=2026-01-01T00:00:00-20:00&end_date=2026-01-20T00:00:00%2B20:00"
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [("/tiles/x%0Ay/1/2/3.pbf", "application/json"), ("/ogc/x%0Ay", "application/json")],
)
def test_paths_no_route_matches_answer_in_their_api_format(
    app_client, path: str, mimetype: str
) -> None:
    """A newline in the path slips past the catch-all routes: still no dashboard HTML."""
    r = app_client.get(path, headers={"Accept": "text/html"})
    assert (r.status_code, r.mimetype) == (404, mimetype)
