"""Cadences and what is overdue (sql/functions/households.sql), on a hand-made grid with
known numbers: the due day itself is within cadence, the day after is 1 day overdue;
visits that did not see the household do not count; local days, not UTC days."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from gridmap.db.engine import get_engine
from gridmap.households.cadence import overdue_households, visit_shares

TZ = "Asia/Shanghai"
#: Visits of the hand-made grid G1 (and one in G3): household, local time, outcome.
VISITS = [
    ("H1", "2026-03-03 23:30:00+08", "met"),  # weekly: due 03-10 (15:30 UTC is still 03-03)
    ("H2", "2026-02-01 10:00:00+08", "met"),  # monthly: due 03-03, 7 days overdue on 03-10
    ("H4", "2026-03-05 10:00:00+08", "not_home"),  # weekly, never seen: due 01-08
    ("H9", "2026-03-09 00:10:00+08", "met"),  # G3, weekly: 03-08 16:10 UTC is local 03-09
]


@pytest.fixture(scope="module")
def url(hh_url: str) -> str:
    with get_engine(hh_url).begin() as conn:
        for code, at, outcome in VISITS:
            conn.execute(
                text(
                    "INSERT INTO visits (household_id, visited_at, kind, outcome) "
                    "SELECT id, :at, 'care', :outcome FROM households WHERE code = :code"
                ),
                {"code": code, "at": at, "outcome": outcome},
            )
    return hh_url


def status(url: str, as_of: date) -> dict[str, tuple]:
    with get_engine(url).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT h.code, s.cadence_days, s.last_seen_on, s.due_on, s.visited, "
                "s.days_overdue FROM gridmap_visit_status(:d, :tz) s "
                "JOIN households h ON h.id = s.household_id"
            ),
            {"d": as_of, "tz": TZ},
        ).all()
    return {code: tuple(rest) for code, *rest in rows}


def test_exactly_on_the_due_day_is_within_cadence(url: str) -> None:
    on_due_day = status(url, date(2026, 3, 10))["H1"]
    assert on_due_day == (7, date(2026, 3, 3), date(2026, 3, 10), True, 0)
    day_after = status(url, date(2026, 3, 11))["H1"]
    assert day_after == (7, date(2026, 3, 3), date(2026, 3, 10), False, 1)


def test_household_statuses_on_a_known_day(url: str) -> None:
    assert status(url, date(2026, 3, 10)) == {
        "H1": (7, date(2026, 3, 3), date(2026, 3, 10), True, 0),
        "H2": (30, date(2026, 2, 1), date(2026, 3, 3), False, 7),
        "H3": (90, None, date(2026, 4, 1), False, 0),  # quarterly, registered 01-01
        "H4": (7, None, date(2026, 1, 8), False, 61),  # not_home does not count
        "H9": (7, date(2026, 3, 9), date(2026, 3, 16), True, 0),
    }


def test_a_later_visit_does_not_count_for_an_earlier_day(url: str) -> None:
    assert status(url, date(2026, 3, 8))["H9"] == (7, None, date(2026, 1, 8), False, 59)


def test_overdue_share_of_a_hand_made_grid(url: str) -> None:
    with get_engine(url).connect() as conn:
        grids = visit_shares(conn, date(2026, 3, 10), TZ)
        units = visit_shares(conn, date(2026, 3, 10), TZ, by_unit=True)
        only_g1 = visit_shares(conn, date(2026, 3, 10), TZ, grid_ids=[1])
        unit_ids = dict(conn.execute(text("SELECT code, id FROM ten_household_units")).all())
    keys = ("id", "households", "visited", "overdue", "vulnerable_overdue", "share")
    assert [tuple(r[k] for k in keys) for r in grids] == [
        (1, 4, 1, 2, 2, 0.25),
        (3, 1, 1, 0, 0, 1.0),
    ]
    assert [tuple(r[k] for k in keys) for r in units] == [
        (unit_ids["U1"], 3, 1, 1, 1, 0.3333),  # H4 belongs to no unit
        (unit_ids["U3"], 1, 1, 0, 0, 1.0),
    ]
    assert only_g1 == grids[:1]


def test_overdue_list_with_days_overdue(url: str) -> None:
    with get_engine(url).connect() as conn:
        rows = overdue_households(conn, date(2026, 3, 10), TZ, grid_ids=[1])
        by_unit = overdue_households(
            conn,
            date(2026, 3, 10),
            TZ,
            unit_ids=[
                conn.execute(text("SELECT id FROM ten_household_units WHERE code = 'U1'")).scalar()
            ],
        )
    assert [(r["code"], r["days_overdue"], r["head_name"], r["tags"]) for r in rows] == [
        ("H4", 61, "刘洋", ["elderly_alone", "low_income"]),
        ("H2", 7, "李建国", ["disabled"]),
    ]
    assert [r["code"] for r in by_unit] == ["H2"]


def test_vulnerable_people_not_seen(url: str) -> None:
    with get_engine(url).begin() as conn:
        conn.execute(text("UPDATE households SET registered_on = '2025-12-01' WHERE code = 'H3'"))
        every = overdue_households(conn, date(2026, 3, 10), TZ, grid_ids=[1])
        vulnerable = overdue_households(conn, date(2026, 3, 10), TZ, grid_ids=[1],
                                        vulnerable_only=True)  # fmt: skip
        conn.rollback()
    assert [(r["code"], r["days_overdue"]) for r in every] == [("H4", 61), ("H3", 9), ("H2", 7)]
    assert [r["code"] for r in vulnerable] == ["H4", "H2"]  # H3 carries no tag


def test_cadences_are_data(url: str) -> None:
    with get_engine(url).begin() as conn:
        conn.execute(text("UPDATE visit_cadences SET days = 45 WHERE tag = 'disabled'"))
        h2 = conn.execute(
            text(
                "SELECT s.days_overdue FROM gridmap_visit_status('2026-03-10', :tz) s "
                "JOIN households h ON h.id = s.household_id WHERE h.code = 'H2'"
            ),
            {"tz": TZ},
        ).scalar_one()
        assert h2 == 0  # 02-01 + 45 days = 03-18
        conn.rollback()
