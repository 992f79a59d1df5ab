"""Escalation of overdue cases grid → community → street → district: each level at its
time, one event per level crossed, idempotent for the same `now`, shown by the API; and
the `gridmap cases escalate` command."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from gridmap.cases.escalation import Escalation, escalate
from gridmap.cases.filters import CLOSED_STATUSES
from gridmap.db.engine import get_engine
from gridmap.settings import get_settings
from tests.gridmap.cases.world import INSIDE, OUTSIDE, Api, insert_case

T0 = datetime(2024, 3, 1, tzinfo=UTC)
DUE = T0 + timedelta(hours=72)
HOURS = (0.0, 24.0, 72.0)


def events(api: Api, case_id: int) -> list[tuple]:
    return [
        tuple(r)
        for r in api.rows(
            "SELECT at, actor, action, from_status, to_status, note FROM case_events "
            "WHERE case_id = :id ORDER BY id",
            id=case_id,
        )
    ]


@pytest.fixture(scope="module")
def case_id(api: Api) -> int:
    return insert_case(api.url, "dispatched", reported_at=T0, due_at=DUE, point=INSIDE[3])


@pytest.mark.parametrize(
    ("now", "raised", "note"),
    [
        (DUE - timedelta(seconds=1), None, None),
        (DUE, (0, 1), "overdue: escalated to level 1 (community 社区 第二社区)"),
        (DUE, None, None),  # same now again: nothing
        (DUE + timedelta(hours=23), None, None),
        (DUE + timedelta(hours=24), (1, 2), "overdue: escalated to level 2 (street 街道 测试街道)"),
        (DUE + timedelta(hours=72), (2, 3), "overdue: escalated to level 3 (district 区 测试区)"),
        (DUE + timedelta(hours=500), None, None),  # already at the top
    ],
    ids=["before-due", "at-due", "again", "plus-23h", "plus-24h", "plus-72h", "top"],
)
def test_each_level_in_turn(api: Api, case_id: int, now: datetime, raised, note) -> None:
    before = events(api, case_id)
    got = [e for e in escalate(get_engine(api.url), now, hours=HOURS) if e.case_id == case_id]
    after = events(api, case_id)
    if raised is None:
        assert (got, after) == ([], before)
        return
    assert got == [Escalation(case_id, *raised)]
    assert after[len(before) :] == [
        (now, "system:escalation", "escalate", "dispatched", "dispatched", note)
    ]
    level = api.scalar("SELECT escalation_level FROM cases WHERE id = :id", id=case_id)
    assert level == raised[1]


def test_late_case_crosses_several_levels_at_once(api: Api) -> None:
    cid = insert_case(api.url, "reported", reported_at=T0, due_at=DUE, point=OUTSIDE)
    now = DUE + timedelta(hours=100)
    got = [e for e in escalate(get_engine(api.url), now, hours=HOURS) if e.case_id == cid]
    assert got == [Escalation(cid, 0, 3)]
    assert [e[5] for e in events(api, cid)] == [
        "overdue: escalated to level 1 (community 社区)",
        "overdue: escalated to level 2 (street 街道)",
        "overdue: escalated to level 3 (district 区)",
    ]
    case = api.get(f"/api/v1/cases/{cid}").json()
    assert (case["overdue"], case["escalation_level"], case["escalation_unit"]) == (
        True,
        3,
        "district",
    )


@pytest.mark.parametrize("status", CLOSED_STATUSES)
def test_finished_cases_never_escalate(api: Api, status: str) -> None:
    cid = insert_case(api.url, status, reported_at=T0, due_at=DUE)
    escalate(get_engine(api.url), DUE + timedelta(days=30), hours=HOURS)
    assert api.scalar("SELECT escalation_level FROM cases WHERE id = :id", id=cid) == 0
    assert events(api, cid) == []


def test_concurrent_runs_record_each_level_once(api: Api) -> None:
    cid = insert_case(api.url, "accepted", reported_at=T0, due_at=DUE)
    now = DUE + timedelta(hours=30)
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        escalate(get_engine(api.url), now, hours=HOURS)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e[2] for e in events(api, cid)] == ["escalate", "escalate"]
    assert api.scalar("SELECT escalation_level FROM cases WHERE id = :id", id=cid) == 2


def test_overdue_listing_filter(api: Api) -> None:
    r = api.get("/api/v1/cases", params={"overdue": "true", "min_escalation": 3})
    assert r.status_code == 200
    assert all(c["overdue"] and c["escalation_level"] == 3 for c in r.json()["cases"])
    assert r.json()["total"] >= 1


def test_escalate_command(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from gridmap.cases.cli import cases

    cid = insert_case(api.url, "dispatched", reported_at=T0, due_at=DUE)
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", api.url)
    monkeypatch.setenv("GRIDMAP_CASES_ESCALATION_HOURS", "[0, 24, 72]")
    get_settings.cache_clear()
    try:
        now = (DUE + timedelta(hours=25)).isoformat()
        first = CliRunner().invoke(cases, ["escalate", "--now", now])
        second = CliRunner().invoke(cases, ["escalate", "--now", now])
        bad = CliRunner().invoke(cases, ["escalate", "--now", "soon"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert f"case {cid}: grid → street" in first.output
    assert second.output == "0 case(s) escalated at 2024-03-05T01:00:00+00:00\n"
    assert (bad.exit_code, bad.output) == (2, "error: --now 'soon' is not an ISO 8601 date-time\n")
