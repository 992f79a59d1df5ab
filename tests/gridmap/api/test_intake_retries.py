"""Retries of case intake (issue 12, item 1d): a key-less report that repeats one the
same account made a moment ago answers that case (JSON API and Open311, also when the
repeats race); a committed insert is answered even when reading it back fails; every 503
says when to retry."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy.exc import OperationalError

from gridmap.api import cases as cases_api
from tests.gridmap.cases.world import INSIDE, Api, serve_api
from tests.signin import api_token

pytestmark = pytest.mark.pooled  # a database access path (make test-pooled)

LON, LAT = INSIDE[1]
BODY = {"title": "井盖缺失", "subcategory": "street_light", "lon": LON, "lat": LAT}
DEAD_URL = "postgresql://nobody@127.0.0.1:1/none"


def count(api: Api, title: str) -> int:
    return api.scalar("SELECT count(*) FROM cases WHERE title = :t", t=title)


def test_a_keyless_repeat_answers_the_first_case(api: Api) -> None:
    body = BODY | {"title": "repeat 1"}
    first = api.post("/api/v1/cases", json=body)
    again = api.post("/api/v1/cases", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == f"/api/v1/cases/{first.json()['id']}"
    assert count(api, "repeat 1") == 1
    admin = api.scalar("SELECT id FROM users WHERE username = 'test_api_admin'")
    stored = api.rows(
        "SELECT submitted_by, submitted_at IS NOT NULL FROM cases WHERE id = :id",
        id=first.json()["id"],
    )
    assert [tuple(r) for r in stored] == [(admin, True)]


@pytest.mark.parametrize(
    "change",
    [
        {"title": "repeat 2 other"},
        {"description": "另一处"},
        {"lon": LON + 0.0001},
        {"reporter_phone": "13900001111"},
        {"reported_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
    ],
    ids=["title", "description", "location", "phone", "reported-an-hour-earlier"],
)
def test_a_different_report_is_a_new_case(api: Api, change: dict) -> None:
    body = BODY | {"title": "repeat 2"}
    first = api.post("/api/v1/cases", json=body)
    other = api.post("/api/v1/cases", json=body | change)
    assert other.status_code == 201, other.text
    assert other.json()["id"] != first.json()["id"]


def test_another_account_is_never_answered_with_someone_elses_case(api: Api) -> None:
    body = BODY | {"title": "repeat 3"}
    mine = api.post("/api/v1/cases", json=body)
    token = api_token(api.url, "api_client", username="test_intake_other")
    theirs = requests.post(
        api.base + "/api/v1/cases",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert count(api, "repeat 3") == 2


def test_racing_keyless_repeats_store_one_case(api: Api) -> None:
    body = BODY | {"title": "repeat 4"}
    answers: list[requests.Response] = []
    start = threading.Barrier(8)

    def post() -> None:
        start.wait()
        answers.append(api.post("/api/v1/cases", json=body))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in answers) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in answers}) == 1
    assert count(api, "repeat 4") == 1


def test_an_open311_repeat_answers_the_first_request_and_token(api: Api) -> None:
    form = {"service_code": "street_light", "lat": "30.005", "long": "120.015"}
    form |= {"description": "repeat 5 路灯不亮"}
    first = api.post("/open311/v2/requests.json", data=form).json()[0]
    again = api.post("/open311/v2/requests.json", data=form).json()[0]
    assert again["service_request_id"] == first["service_request_id"]
    assert again["token"] == first["token"]
    assert count(api, "repeat 5 路灯不亮") == 1
    keyed = api.post("/open311/v2/requests.json", data=form, headers={"Idempotency-Key": "k5"})
    assert keyed.json()[0]["service_request_id"] != first["service_request_id"]


def test_a_stored_case_is_answered_when_its_read_back_fails(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database drops after the commit: the answer is still 201 and names the case."""
    failures = iter([True, True])  # two failed reads, then the database is back

    def flaky(case_id: int) -> dict:
        if next(failures, False):
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        return real(case_id)

    real = cases_api.case_detail
    monkeypatch.setattr(cases_api, "READ_BACK_WAITS", (0, 0, 0))
    monkeypatch.setattr(cases_api, "case_detail", flaky)
    r = api.post("/api/v1/cases", json=BODY | {"title": "read back 1"})
    assert r.status_code == 201 and r.json()["title"] == "read back 1"

    def down(case_id: int) -> dict:
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(cases_api, "case_detail", down)
    r = api.post("/api/v1/cases", json=BODY | {"title": "read back 2"})
    stored = api.scalar("SELECT id FROM cases WHERE title = 'read back 2'")
    assert (r.status_code, r.json()["id"]) == (201, stored)
    assert r.headers["Location"] == f"/api/v1/cases/{stored}"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/api/v1/cases", {"json": BODY}),
        ("get", "/api/v1/cases", {}),
        ("post", "/open311/v2/requests.json", {"data": {"service_code": "street_light"}}),
    ],
)
def test_every_503_says_when_to_retry(method: str, path: str, kwargs: dict) -> None:
    with serve_api(DEAD_URL) as down:
        r = getattr(down.session, method)(down.base + path, timeout=30, **kwargs)
    assert (r.status_code, r.headers.get("Retry-After")) == (503, "5")
