"""GET /api/v1/cases over HTTP: every filter, paging, bad parameters; and the KPIs."""

from __future__ import annotations

import pytest

from tests.gridmap.cases.world import INSIDE, OUTSIDE, Api

#: (title, subcategory, point, reported_at, source), posted in this order.
CASES = [
    ("A", "garbage", INSIDE[1], "2024-01-01T08:00:00+08:00", "resident_app"),
    ("B", "street_light", INSIDE[2], "2024-01-02T08:00:00+08:00", "hotline_12345"),
    ("C", "noise", INSIDE[3], "2024-01-03T08:00:00+08:00", "grid_worker"),
    ("D", "neighbour_dispute", OUTSIDE, "2024-01-04T08:00:00+08:00", "resident_app"),
    ("E", "garbage", INSIDE[1], "2024-01-05T08:00:00+08:00", "hotline_12345"),
    ("F", "gas_hazard", None, None, "walk_in"),
]


@pytest.fixture(scope="module", autouse=True)
def cases(api: Api) -> dict[str, int]:
    ids = {}
    for title, sub, point, at, source in CASES:
        body = {"title": title, "subcategory": sub, "source": source}
        if point:
            body |= {"lon": point[0], "lat": point[1]}
        if at:
            body["reported_at"] = at
        r = api.post("/api/v1/cases", json=body)
        assert r.status_code == 201
        ids[title] = r.json()["id"]
    r = api.post(
        f"/api/v1/cases/{ids['E']}/actions",
        json={"action": "dispatch", "actor": "社区", "grid_id": 1},
    )
    assert r.status_code == 200
    return ids


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("", ["F", "E", "D", "C", "B", "A"]),
        ("status=dispatched", ["E"]),
        ("status=reported,dispatched", ["F", "E", "D", "C", "B", "A"]),
        ("category=sanitation", ["E", "C", "A"]),
        ("category=sanitation,disputes", ["E", "D", "C", "A"]),
        ("subcategory=garbage", ["E", "A"]),
        ("grid_id=1", ["E", "A"]),
        ("grid_id=2,3", ["C", "B"]),
        ("source=hotline_12345", ["E", "B"]),
        ("since=2024-01-02T08:00:00%2B08:00&until=2024-01-04T08:00:00%2B08:00", ["C", "B"]),
        ("since=2024-01-04", ["F", "E", "D"]),
        ("bbox=120.01,30.0,120.03,30.01", ["C", "B"]),
        ("bbox=120.9,30.9,121.1,31.1", ["D"]),
        ("overdue=true", ["E", "D", "C", "B", "A"]),
        ("overdue=false", ["F"]),
        ("category=sanitation&grid_id=1&status=reported", ["A"]),
        ("limit=2", ["F", "E"]),
        ("limit=2&offset=4", ["B", "A"]),
    ],
)
def test_filters(api: Api, query: str, titles: list[str]) -> None:
    r = api.get(f"/api/v1/cases?{query}")
    assert r.status_code == 200, r.text
    assert [c["title"] for c in r.json()["cases"]] == titles


def test_paging_envelope(api: Api) -> None:
    body = api.get("/api/v1/cases?limit=2&offset=1").json()
    assert (body["total"], body["limit"], body["offset"], body["next_offset"]) == (6, 2, 1, 3)
    last = api.get("/api/v1/cases?limit=2&offset=4").json()
    assert last["next_offset"] is None


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            "status=open",
            "status",
            "unknown value 'open' (known: reported, dispatched, accepted, "
            "in_progress, resolved, closed, returned, rejected)",
        ),
        (
            "category=aliens",
            "category",
            "unknown value 'aliens' (known: disputes, "
            "public_security, fire_safety, sanitation, municipal, livelihood, traffic, petitions)",
        ),
        ("grid_id=one", "grid_id", "must be an integer 1–2147483647 (got 'one')"),
        ("bbox=1,2,3", "bbox", "must have exactly 4 items (got 3)"),
        ("bbox=10,10,5,20", "bbox", "must lie within lon -180..180, lat -90..90 with min < max"),
        ("since=yesterday", "since", "must be an ISO 8601 date-time (got 'yesterday')"),
        ("overdue=maybe", "overdue", "must be true or false (got 'maybe')"),
        ("limit=0", "limit", "must be between 1 and 500 (got '0')"),
        ("limit=100000", "limit", "must be between 1 and 500 (got '100000')"),
        ("offset=-1", "offset", "must be between 0 and 1000000000 (got '-1')"),
        (
            "grid=1",
            "grid",
            "is not a known parameter (known: status, category, subcategory, "
            "grid_id, source, since, until, bbox, overdue, min_escalation, limit, offset)",
        ),
        (
            "status=%27%3B%20DROP%20TABLE%20cases%3B--",
            "status",
            'unknown value "\'; DROP TABLE cases;--" (known: reported, dispatched, accepted, '
            "in_progress, resolved, closed, returned, rejected)",
        ),
    ],
)
def test_bad_parameters(api: Api, query: str, field: str, message: str) -> None:
    r = api.get(f"/api/v1/cases?{query}")
    assert r.status_code == 400
    assert r.json()["error"]["problems"][0] == {"field": field, "message": message}


def test_kpis(api: Api) -> None:
    k = api.get("/api/v1/cases/kpis").json()
    assert (k["total"], k["open"], k["overdue_open"], k["unassigned"], k["resolved"]) == (
        6,
        6,
        5,
        2,
        0,
    )
    assert k["by_status"] == {"reported": 5, "dispatched": 1}
    assert k["by_category"] == {"sanitation": 3, "municipal": 1, "disputes": 1, "fire_safety": 1}
    assert api.get("/api/v1/cases/kpis?grid_id=1").json()["total"] == 2


def test_taxonomy_endpoint(api: Api) -> None:
    t = api.get("/api/v1/taxonomy").json()
    assert [c["slug"] for c in t["categories"]] == [
        "disputes",
        "public_security",
        "fire_safety",
        "sanitation",
        "municipal",
        "livelihood",
        "traffic",
        "petitions",
    ]
    assert t["handling_types"]["transfer"] == {"zh": "转交办理类", "en": "Transfer to a department"}
