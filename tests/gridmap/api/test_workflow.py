"""POST /api/v1/cases/{id}/actions over HTTP: every (action, status) pair of the transition
table, valid or refused; required fields; coherent timestamps; concurrent steps."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
import requests

from gridmap.cases.intake import STATUSES
from gridmap.cases.workflow import BY_ACTION, TRANSITIONS, allowed_actions
from tests.gridmap.cases.world import Api, insert_case

PAIRS = [(t.action, s) for t in TRANSITIONS for s in STATUSES]


def body_for(action: str) -> dict:
    body = {"action": action, "actor": "网格员张三", "note": "处理说明"}
    if "target" in BY_ACTION[action].needs:
        body["grid_id"] = 2
    if action == "close":
        body["satisfaction"] = 4
    return body


def case_row(api: Api, case_id: int) -> dict:
    row = api.rows(
        "SELECT status, grid_id, department, dispatched_at, resolved_at, closed_at, "
        "updated_at, satisfaction, escalation_level FROM cases WHERE id = :id",
        id=case_id,
    )[0]
    return row._asdict()


@pytest.mark.parametrize(("action", "status"), PAIRS, ids=[f"{a}-from-{s}" for a, s in PAIRS])
def test_transition_table(api: Api, action: str, status: str) -> None:
    rule = BY_ACTION[action]
    case_id = insert_case(api.url, status, escalation_level=2)
    events = api.scalar("SELECT count(*) FROM case_events WHERE case_id = :id", id=case_id)
    r = api.post(f"/api/v1/cases/{case_id}/actions", json=body_for(action))
    after = case_row(api, case_id)
    if status not in rule.sources:
        assert r.status_code == 409
        error = r.json()["error"]
        assert error["status"] == status
        assert error["allowed_actions"] == allowed_actions(status)
        assert error["message"].startswith(f"Cannot {action} ({rule.zh}) case {case_id}: it is")
        assert after["status"] == status
        assert (
            api.scalar("SELECT count(*) FROM case_events WHERE case_id = :id", id=case_id) == events
        )
        return
    assert r.status_code == 200, r.text
    expected = (
        rule.target_if_assigned
        if (rule.target_if_assigned and "grid_id" in body_for(action))
        else rule.target
    )
    event = r.json()["event"]
    assert (event["action"], event["from_status"], event["to_status"], event["actor"]) == (
        action,
        status,
        expected,
        "网格员张三",
    )
    assert event["note"].endswith("处理说明")
    assert r.json()["case"]["status"] == after["status"] == expected
    at = api.scalar("SELECT at FROM case_events WHERE id = :id", id=event["id"])
    assert datetime.fromisoformat(event["at"]) == at.replace(microsecond=0)
    assert after["updated_at"] == at
    if action == "dispatch":
        assert (after["dispatched_at"], after["grid_id"]) == (at, 2)
        assert event["note"] == "→ grid G2; 处理说明"
    if action == "resolve":
        assert after["resolved_at"] == at
    if action == "close":
        assert (after["closed_at"], after["satisfaction"]) == (at, 4)
        assert event["note"] == "satisfaction 4/5; 处理说明"
    if action == "reopen":
        assert (
            after["resolved_at"],
            after["closed_at"],
            after["satisfaction"],
            after["escalation_level"],
        ) == (None, None, None, 0)


@pytest.mark.parametrize(
    ("extra", "to_status", "grid"), [({}, "reported", 1), ({"grid_id": 3}, "dispatched", 3)]
)
def test_reopen_to_reported_or_dispatched(api: Api, extra: dict, to_status: str, grid: int) -> None:
    case_id = insert_case(api.url, "closed", satisfaction=2)
    r = api.post(
        f"/api/v1/cases/{case_id}/actions",
        json={"action": "reopen", "actor": "回访员", "note": "群众不满意"} | extra,
    )
    assert r.status_code == 200
    row = case_row(api, case_id)
    assert (row["status"], row["grid_id"], row["satisfaction"]) == (to_status, grid, None)
    assert (row["dispatched_at"] is not None) == (to_status == "dispatched")


def test_dispatch_to_a_department(api: Api) -> None:
    case_id = insert_case(api.url, "reported")
    r = api.post(
        f"/api/v1/cases/{case_id}/actions",
        json={"action": "dispatch", "actor": "社区", "department": "城管局"},
    )
    assert r.status_code == 200
    assert r.json()["event"]["note"] == "→ department 城管局"
    row = case_row(api, case_id)
    assert (row["status"], row["department"], row["grid_id"]) == ("dispatched", "城管局", 1)


@pytest.mark.parametrize(
    ("status", "body", "field", "message"),
    [
        ("reported", {"action": "dispatch"}, "grid_id", "dispatch needs a grid_id or a department"),
        ("reported", {"action": "dispatch", "grid_id": 999}, "grid_id", "no grid has id 999"),
        ("dispatched", {"action": "return"}, "note", "return needs a note saying why"),
        ("reported", {"action": "reject"}, "note", "reject needs a note saying why"),
        ("resolved", {"action": "close"}, "satisfaction", "close needs satisfaction 1–5"),
        (
            "resolved",
            {"action": "close", "satisfaction": 6},
            "satisfaction",
            "must be between 1 and 5 (got 6)",
        ),
        (
            "reported",
            {"action": "fly"},
            "action",
            "unknown action 'fly' (known: dispatch, "
            "accept, return, start, resolve, close, reject, reopen)",
        ),
        (
            "reported",
            {"action": "dispatch", "grid_id": "2"},
            "grid_id",
            "must be an integer 1–2147483647 (got '2')",
        ),
        (
            "reported",
            {"action": "dispatch", "grid_id": 2, "bogus": 1},
            "bogus",
            "is not a known field (known: action, actor, note, grid_id, department, "
            "satisfaction, expected_status)",
        ),
    ],
)
def test_bad_action_request_is_400(
    api: Api, status: str, body: dict, field: str, message: str
) -> None:
    case_id = insert_case(api.url, status)
    r = api.post(f"/api/v1/cases/{case_id}/actions", json={"actor": "甲"} | body)
    assert r.status_code == 400
    assert r.json()["error"]["problems"][0] == {"field": field, "message": message}
    assert case_row(api, case_id)["status"] == status
    assert api.scalar("SELECT count(*) FROM case_events WHERE case_id = :id", id=case_id) == 0


def test_missing_actor_and_unknown_case(api: Api) -> None:
    case_id = insert_case(api.url, "dispatched")
    r = api.post(f"/api/v1/cases/{case_id}/actions", json={"action": "accept"})
    assert (r.status_code, r.json()["error"]["problems"]) == (
        400,
        [{"field": "actor", "message": "is required"}],
    )
    r = api.post("/api/v1/cases/99999999/actions", json={"action": "accept", "actor": "x"})
    assert r.status_code == 404


def test_expected_status_guards_against_stale_views(api: Api) -> None:
    case_id = insert_case(api.url, "accepted")
    r = api.post(
        f"/api/v1/cases/{case_id}/actions",
        json={"action": "start", "actor": "x", "expected_status": "dispatched"},
    )
    assert r.status_code == 409
    assert r.json()["error"]["message"] == (
        f"Case {case_id} is accepted, not dispatched: it changed meanwhile"
    )


def test_full_lifecycle_history(api: Api) -> None:
    r = api.post(
        "/api/v1/cases",
        json={
            "title": "楼道堆物",
            "subcategory": "blocked_fire_exit",
            "lon": 120.015,
            "lat": 30.005,
        },
    )
    case_id = r.json()["id"]
    steps = [
        {"action": "dispatch", "grid_id": 2},
        {"action": "return", "note": "不属于本网格"},
        {"action": "dispatch", "grid_id": 3},
        {"action": "accept"},
        {"action": "start"},
        {"action": "resolve", "note": "已清理"},
        {"action": "close", "satisfaction": 5},
    ]
    for step in steps:
        resp = api.post(f"/api/v1/cases/{case_id}/actions", json={"actor": "甲"} | step)
        assert resp.status_code == 200, resp.text
    case = api.get(f"/api/v1/cases/{case_id}").json()
    assert [(h["action"], h["from_status"], h["to_status"]) for h in case["history"]] == [
        ("report", None, "reported"),
        ("dispatch", "reported", "dispatched"),
        ("return", "dispatched", "returned"),
        ("dispatch", "returned", "dispatched"),
        ("accept", "dispatched", "accepted"),
        ("start", "accepted", "in_progress"),
        ("resolve", "in_progress", "resolved"),
        ("close", "resolved", "closed"),
    ]
    times = [
        datetime.fromisoformat(case[k])
        for k in ("reported_at", "dispatched_at", "resolved_at", "closed_at")
    ]
    assert times == sorted(times)
    assert (
        case["status"],
        case["satisfaction"],
        case["grid"]["code"],
        case["allowed_actions"],
    ) == ("closed", 5, "G3", ["reopen"])


def test_concurrent_accepts_one_wins(api: Api) -> None:
    case_id = insert_case(api.url, "dispatched")
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def accept() -> None:
        barrier.wait()
        r = requests.post(
            f"{api.base}/api/v1/cases/{case_id}/actions",
            json={"action": "accept", "actor": "x"},
            headers=dict(api.session.headers),
            timeout=20,
        )
        codes.append(r.status_code)

    threads = [threading.Thread(target=accept) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409, 409, 409]
    assert (
        api.scalar(
            "SELECT count(*) FROM case_events WHERE case_id = :id AND action = 'accept'", id=case_id
        )
        == 1
    )


def test_workflow_table_endpoint(api: Api) -> None:
    table = api.get("/api/v1/cases/workflow").json()
    assert [t["action"] for t in table] == [t.action for t in TRANSITIONS]
    assert table[0] == {
        "action": "dispatch",
        "name_zh": "派单",
        "from": ["reported", "returned"],
        "to": "dispatched",
        "to_if_assigned": None,
        "needs": ["target"],
    }
