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


def shares(url: str, as_of: date, **kw) -> list[tuple]:
    keys = ("id", "households", "visited", "overdue", "vulnerable_overdue", "share")
    with get_engine(url).connect() as conn:
        return [tuple(r[k] for k in keys) for r in visit_shares(conn, as_of, TZ, **kw)]


def test_shares_on_and_after_the_due_day(url: str) -> None:
    # H1 (weekly, seen 03-03) counts as visited on its due day 03-10, overdue on 03-11
    assert shares(url, date(2026, 3, 11), grid_ids=[1]) == [(1, 4, 0, 3, 3, 0.0)]


def test_shares_ignore_a_visit_after_the_day(url: str) -> None:
    # H9's visit of local 03-09 does not count on 03-08 (never seen, due 01-08)
    assert shares(url, date(2026, 3, 8), grid_ids=[3]) == [(3, 1, 0, 1, 1, 0.0)]


def test_shares_agree_with_the_statuses_every_day(url: str) -> None:
    """The shares' rule without local dates equals gridmap_visit_status, day by day."""
    sql = text(
        "SELECT d::date, s.grid_id, count(*), count(*) FILTER (WHERE s.visited), "
        "count(*) FILTER (WHERE s.days_overdue > 0), "
        "count(*) FILTER (WHERE s.days_overdue > 0 AND s.vulnerable) "
        "FROM generate_series(DATE '2025-12-30', DATE '2026-04-15', '1 day') d, "
        "gridmap_visit_status(d::date, :tz) s GROUP BY 1, 2 ORDER BY 1, 2"
    )
    with get_engine(url).connect() as conn:
        expected = [tuple(r) for r in conn.execute(sql, {"tz": TZ})]
        got = [
            (r[0], *tuple(r[1:]))
            for r in conn.execute(
                text(
                    "SELECT d::date, s.id, s.households, s.visited, s.overdue, "
                    "s.vulnerable_overdue "
                    "FROM generate_series(DATE '2025-12-30', DATE '2026-04-15', '1 day') d, "
                    "gridmap_visit_shares(d::date, :tz) s ORDER BY 1, 2"
                ),
                {"tz": TZ},
            )
        ]
    assert got == expected
    assert len(expected) > 150


def test_totals_are_the_sum_of_the_shares(url: str) -> None:
    with get_engine(url).connect() as conn:
        row = conn.execute(
            text("SELECT * FROM gridmap_visit_totals('2026-03-10', :tz)"), {"tz": TZ}
        ).one()
        none = conn.execute(
            text("SELECT * FROM gridmap_visit_totals('2025-12-01', :tz)"), {"tz": TZ}
        ).one()
    assert tuple(row) == (5, 2, 2, 2, 0.4)
    assert tuple(none) == (0, 0, 0, 0, None)  # nobody registered yet


def test_households_keep_their_cadence_and_vulnerability(url: str) -> None:
    def kept(conn) -> dict[str, tuple]:
        rows = conn.execute(text("SELECT code, cadence_days, vulnerable FROM households"))
        return {code: (days, vulnerable) for code, days, vulnerable in rows}

    with get_engine(url).begin() as conn:
        assert kept(conn) == {"H1": (7, True), "H2": (30, True), "H3": (90, False),
                              "H4": (7, True), "H9": (7, True)}  # fmt: skip
        conn.execute(text("UPDATE households SET tags = '{watch}', cadence_days = 1, "
                          "vulnerable = false WHERE code = 'H3'"))  # fmt: skip
        assert kept(conn)["H3"] == (14, True)  # from the tags, never by hand
        conn.execute(text("UPDATE visit_cadences SET days = 10 WHERE tag = 'watch'"))
        conn.execute(text("UPDATE household_tags SET vulnerable = false WHERE slug = 'watch'"))
        assert kept(conn)["H3"] == (10, False)
        conn.execute(text("DELETE FROM visit_cadences"))
        assert set(kept(conn).values()) == {(None, True), (None, False)}
        conn.rollback()


def test_the_shares_can_run_in_parallel_workers(url: str) -> None:
    """All of the shares' functions are PARALLEL SAFE and their scan runs under a Gather
    when parallel plans are made cheap (at city scale the planner picks one by itself)."""
    calls = ("gridmap_visit_shares('2026-03-10', :tz)", "gridmap_visit_totals('2026-03-10', :tz)")
    with get_engine(url).begin() as conn:
        unsafe = conn.execute(
            text(
                "SELECT proname FROM pg_proc WHERE proname = ANY (:names) "
                "AND proparallel <> 's' ORDER BY 1"
            ),
            {"names": ["gridmap_visit_shares", "gridmap_visit_totals", "gridmap_visit_marks",
                       "gridmap_last_seen", "gridmap_day_starts", "gridmap_visit_status"]},
        ).scalars().all()  # fmt: skip
        for setting in ("parallel_setup_cost", "parallel_tuple_cost",
                        "min_parallel_table_scan_size"):  # fmt: skip
            conn.execute(text(f"SET LOCAL {setting} = 0"))
        conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 2"))
        plans = [
            "\n".join(conn.execute(text(f"EXPLAIN SELECT * FROM {call}"), {"tz": TZ}).scalars())
            for call in calls
        ]
    assert unsafe == []
    assert all("Gather" in plan and "Parallel Seq Scan on households" in plan for plan in plans)
