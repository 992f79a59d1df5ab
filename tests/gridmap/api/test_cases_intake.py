"""POST /api/v1/cases over HTTP: defaults from the taxonomy, idempotent retries (also
concurrent), grid assignment, bad input refused with nothing written, inert payloads."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest

from gridmap.cases.taxonomy import get_taxonomy
from tests.gridmap.cases.world import BORDER_1_2, BORDER_2_3, INSIDE, OUTSIDE, Api

GOOD = {"title": "路灯不亮", "subcategory": "street_light", "lon": 120.005, "lat": 30.005}


def count(api: Api) -> tuple[int, int]:
    return (
        api.scalar("SELECT count(*) FROM cases"),
        api.scalar("SELECT count(*) FROM case_events"),
    )


def test_report_fills_defaults_and_history(api: Api) -> None:
    before = count(api)
    r = api.post("/api/v1/cases", json=GOOD | {"reporter_phone": "13812345678"})
    assert r.status_code == 201
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert r.headers["Location"] == f"/api/v1/cases/{body['id']}"
    assert body["code"] == f"GM{body['id']:09d}" or body["code"].startswith("GM")
    assert (body["category"], body["subcategory"], body["status"]) == (
        "municipal",
        "street_light",
        "reported",
    )
    assert body["category_name"] == {"zh": "市政设施", "en": "Municipal facilities"}
    assert (body["priority"], body["handling_type"], body["source"]) == (
        3,
        "transfer",
        "resident_app",
    )
    reported = datetime.fromisoformat(body["reported_at"])
    assert datetime.fromisoformat(body["due_at"]) - reported == timedelta(hours=72)
    assert body["grid"] == {"id": 1, "code": "G1", "name": "第1网格"}
    assert body["location"] == {"lon": 120.005, "lat": 30.005}
    assert body["reporter_phone"] == "138****5678"
    assert body["allowed_actions"] == ["dispatch", "reject"]
    assert [(h["action"], h["from_status"], h["to_status"]) for h in body["history"]] == [
        ("report", None, "reported")
    ]
    assert count(api) == (before[0] + 1, before[1] + 1)


def test_subcategory_overrides_category_rules(api: Api) -> None:
    r = api.post(
        "/api/v1/cases",
        json={"title": "井盖没了", "category": "municipal", "subcategory": "manhole_cover"},
    )
    body = r.json()
    assert (r.status_code, body["priority"], body["location"], body["grid"]) == (201, 1, None, None)
    hours = datetime.fromisoformat(body["due_at"]) - datetime.fromisoformat(body["reported_at"])
    assert hours == timedelta(hours=6)


def test_category_by_chinese_name(api: Api) -> None:
    r = api.post("/api/v1/cases", json={"title": "吵架", "category": "矛盾纠纷"})
    assert (r.status_code, r.json()["category"], r.json()["priority"]) == (201, "disputes", 2)


def test_idempotent_retry_returns_same_case(api: Api) -> None:
    before = count(api)
    headers = {"Idempotency-Key": "retry-1"}
    first = api.post("/api/v1/cases", json=GOOD, headers=headers)
    second = api.post("/api/v1/cases", json=GOOD, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(api) == (before[0] + 1, before[1] + 1)


def test_concurrent_retries_create_one_case(api: Api) -> None:
    before = count(api)
    n = 8
    barrier = threading.Barrier(n)
    results: list[tuple[int, int]] = []
    lock = threading.Lock()

    def post() -> None:
        import requests

        barrier.wait()
        r = requests.post(
            api.base + "/api/v1/cases",
            json=GOOD,
            headers={"Idempotency-Key": "race-1", **api.session.headers},
            timeout=20,
        )
        with lock:
            results.append((r.status_code, r.json()["id"]))

    threads = [threading.Thread(target=post) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for s, _ in results) == [200] * (n - 1) + [201]
    assert len({i for _, i in results}) == 1
    assert count(api) == (before[0] + 1, before[1] + 1)
    assert api.scalar("SELECT count(*) FROM cases WHERE idempotency_key = 'race-1'") == 1


def test_key_reused_for_a_different_case_is_refused(api: Api) -> None:
    api.post("/api/v1/cases", json=GOOD, headers={"Idempotency-Key": "reuse-1"})
    before = count(api)
    r = api.post(
        "/api/v1/cases", json=GOOD | {"title": "另一件事"}, headers={"Idempotency-Key": "reuse-1"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("Idempotency-Key 'reuse-1' was used for a")
    assert count(api) == before


@pytest.mark.parametrize(
    ("point", "grid"),
    [
        (INSIDE[1], 1),
        (INSIDE[3], 3),
        (BORDER_1_2, 1),  # shared border: the smallest grid id
        (BORDER_2_3, 2),
        (OUTSIDE, None),  # outside every grid: stored, unassigned
    ],
    ids=["inside-1", "inside-3", "border-1-2", "border-2-3", "outside"],
)
def test_grid_assignment(api: Api, point: tuple[float, float], grid: int | None) -> None:
    r = api.post("/api/v1/cases", json=GOOD | {"lon": point[0], "lat": point[1]})
    assert r.status_code == 201
    assert (r.json()["grid"] or {}).get("id") == grid
    assert api.scalar("SELECT grid_id FROM cases WHERE id = :id", id=r.json()["id"]) == grid


BAD = [
    ("malformed", '{"title": "x",', "body", "is not valid UTF-8 JSON at line 1 column 15"),
    ("empty", "", "body", "is empty; send a JSON object"),
    ("array", "[1, 2]", "body", "must be a JSON object"),
    ("no-title", {"subcategory": "garbage"}, "title", "is required"),
    ("blank-title", {"title": "   ", "subcategory": "garbage"}, "title", "is required"),
    ("no-category", {"title": "x"}, "category", "is required (a category or subcategory slug)"),
    (
        "unknown-category",
        {"title": "x", "category": "aliens"},
        "category",
        "unknown category 'aliens' (known: disputes, public_security, fire_safety, sanitation, "
        "municipal, livelihood, traffic, petitions)",
    ),
    (
        "unknown-subcategory",
        {"title": "x", "subcategory": "ufo"},
        "subcategory",
        "unknown subcategory 'ufo' (known: " + ", ".join(get_taxonomy().subcategories) + ")",
    ),
    (
        "wrong-pair",
        {"title": "x", "category": "traffic", "subcategory": "garbage"},
        "subcategory",
        "'garbage' is not in category 'traffic'",
    ),
    ("lon-range", GOOD | {"lon": 181}, "lon", "must be between -180 and 180 (got 181)"),
    ("lat-range", GOOD | {"lat": -90.5}, "lat", "must be between -90 and 90 (got -90.5)"),
    (
        "lon-alone",
        {"title": "x", "category": "traffic", "lon": 120.0},
        "lat",
        "is required with lon",
    ),
    ("title-int", GOOD | {"title": 123}, "title", "must be a string, not an integer"),
    (
        "priority-word",
        GOOD | {"priority": "high"},
        "priority",
        "must be an integer 1–4 (got 'high')",
    ),
    (
        "priority-bool",
        GOOD | {"priority": True},
        "priority",
        "must be an integer 1–4, not a boolean",
    ),
    ("priority-range", GOOD | {"priority": 7}, "priority", "must be between 1 and 4 (got 7)"),
    ("lon-word", GOOD | {"lon": "east"}, "lon", "must be a number (got 'east')"),
    ("lat-list", GOOD | {"lat": [30]}, "lat", "must be a number, not a list"),
    (
        "title-long",
        GOOD | {"title": "长" * 201},
        "title",
        "is too long (201 characters; at most 200)",
    ),
    (
        "description-long",
        GOOD | {"description": "x" * 5001},
        "description",
        "is too long (5001 characters; at most 5000)",
    ),
    ("nul", GOOD | {"title": "a\x00b"}, "title", "must not contain NUL characters"),
    (
        "unknown-field",
        GOOD | {"grid": 1},
        "grid",
        "is not a known field (known: title, "
        "description, category, subcategory, source, priority, handling_type, lon, lat, address, "
        "reporter_name, reporter_phone, external_id, reported_at)",
    ),
    (
        "source",
        GOOD | {"source": "fax"},
        "source",
        "unknown source 'fax' (known: hotline_12345, grid_worker, resident_app, video_patrol, "
        "walk_in, open311, import)",
    ),
    (
        "future",
        GOOD | {"reported_at": "2999-01-01T00:00:00+08:00"},
        "reported_at",
        "must not be more than 5 minutes in the future",
    ),
    (
        "bad-date",
        GOOD | {"reported_at": "yesterday"},
        "reported_at",
        "must be an ISO 8601 date-time (got 'yesterday')",
    ),
    (
        "phone",
        GOOD | {"reporter_phone": "call me"},
        "reporter_phone",
        "must be digits, spaces, +, - or parentheses",
    ),
]


@pytest.mark.parametrize(
    ("body", "field", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_input_is_400_and_writes_nothing(api: Api, body, field: str, message: str) -> None:
    before = count(api)
    data = body if isinstance(body, str) else json.dumps(body)
    r = api.post("/api/v1/cases", data=data.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["problems"][0] == {"field": field, "message": message}
    assert "Traceback" not in r.text
    assert count(api) == before


def test_every_bad_field_is_named(api: Api) -> None:
    r = api.post("/api/v1/cases", json={"title": 1, "category": "aliens", "lon": 500})
    fields = [p["field"] for p in r.json()["error"]["problems"]]
    assert (r.status_code, fields) == (400, ["title", "category", "lon"])


def test_bad_idempotency_key(api: Api) -> None:
    before = count(api)
    r = api.post("/api/v1/cases", json=GOOD, headers={"Idempotency-Key": "has space"})
    assert r.status_code == 400
    assert r.json()["error"]["problems"] == [
        {
            "field": "Idempotency-Key",
            "message": "must be 1–200 printable ASCII characters, no spaces",
        }
    ]
    assert count(api) == before


def test_oversized_body_is_413(api: Api) -> None:
    before = count(api)
    r = api.post(
        "/api/v1/cases",
        data=b'{"title": "' + b"x" * 1_100_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["error"]["message"].startswith("The data value transmitted exceeds")
    assert count(api) == before


PAYLOADS = {
    "title": "'); DROP TABLE cases; --",
    "description": "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "address": "Robert'); DELETE FROM case_events WHERE ('1'='1",
    "reporter_name": "{{7*7}} ${7*7} %s %(x)s",
}


def test_injection_payloads_are_stored_and_returned_inert(api: Api) -> None:
    events = api.scalar("SELECT count(*) FROM case_events")
    r = api.post("/api/v1/cases", json=GOOD | PAYLOADS)
    assert r.status_code == 201
    again = api.get(f"/api/v1/cases/{r.json()['id']}")
    assert again.headers["Content-Type"] == "application/json"
    for key, value in PAYLOADS.items():
        assert r.json()[key] == value
        assert again.json()[key] == value
    assert api.scalar("SELECT count(*) FROM case_events") == events + 1
    assert api.scalar("SELECT to_regclass('cases') IS NOT NULL") is True


def test_unknown_case_and_route_are_json_404(api: Api) -> None:
    r = api.get("/api/v1/cases/987654")
    assert (r.status_code, r.json()["error"]["message"]) == (404, "No case has id 987654")
    r = api.get("/api/v1/nowhere")
    assert r.status_code == 404 and "error" in r.json()
    r = api.session.delete(api.base + "/api/v1/cases", timeout=10)
    assert r.status_code == 405 and "error" in r.json()


def test_unreachable_database_is_503_not_a_traceback() -> None:
    from tests.gridmap.cases.world import serve_api

    with serve_api("postgresql://nobody:secret@127.0.0.1:1/nowhere") as down:
        r = down.post("/api/v1/cases", json=GOOD)
        listing = down.get("/api/v1/cases")
    assert (r.status_code, r.json()) == (
        503,
        {"error": {"message": "The database is unavailable; try again shortly."}},
    )
    assert listing.status_code == 503
    assert "secret" not in r.text and "Traceback" not in r.text
