"""The grid lead's case table: pages, totals, open-only, the drawn area, where a case
stands, and that a grid lead never reads another grid's cases."""

from __future__ import annotations

from datetime import datetime

import pytest
import shapely
from sqlalchemy import Engine, text

from gridmap.access import Role, User
from gridmap.web.services.lead.cases import CaseScope, case_page, case_position
from tests.gridmap.web.services.lead.world import account

LEAD: User

ADMIN = User(1, "admin", "admin", Role.ADMIN)
NOW = datetime.fromisoformat("2030-01-01T00:00:00+00:00")


@pytest.fixture(scope="module", autouse=True)
def _lead(lead_url: str) -> None:
    global LEAD
    LEAD = account(lead_url, "lead_cases", {3, 4})


def _ids(engine: Engine, sql: str, **params: object) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).scalars())


def _all_pages(engine: Engine, user: User, scope: CaseScope, size: int) -> list[dict]:
    rows, offset = [], 0
    while True:
        page = case_page(engine, user, scope, offset=offset, limit=size, at=NOW)
        rows += page.rows
        if page.offset + size >= page.total:
            return rows
        offset += size


def test_pages_list_the_grids_cases_newest_first(lead_engine: Engine) -> None:
    want = _ids(
        lead_engine,
        "SELECT id FROM cases WHERE grid_id IN (3, 4) ORDER BY reported_at DESC, id DESC",
    )
    scope = CaseScope((3, 4))
    first = case_page(lead_engine, LEAD, scope, offset=0, limit=50, at=NOW)
    assert first.total == len(want) > 100
    assert [r["id"] for r in first.rows] == want[:50]
    assert [r["id"] for r in _all_pages(lead_engine, LEAD, scope, 50)] == want
    beyond = case_page(lead_engine, LEAD, scope, offset=10_000, limit=50, at=NOW)
    assert beyond.offset == (len(want) - 1) // 50 * 50
    assert [r["id"] for r in beyond.rows] == want[beyond.offset :]


def test_open_only_and_overdue(lead_engine: Engine) -> None:
    want = _ids(
        lead_engine,
        "SELECT id FROM cases WHERE grid_id IN (3, 4) "
        "AND gridmap_case_is_open(status) ORDER BY reported_at DESC, id DESC",
    )
    page = case_page(lead_engine, LEAD, CaseScope((3, 4), open_only=True), offset=0,
                     limit=100, at=NOW)  # fmt: skip
    assert [r["id"] for r in page.rows] == want
    overdue = _ids(
        lead_engine,
        "SELECT id FROM cases WHERE grid_id IN (3, 4) AND due_at < :at "
        "AND gridmap_case_is_open(status)",
        at=NOW,
    )
    assert sorted(r["id"] for r in page.rows if r["overdue"]) == sorted(overdue)


def test_area_keeps_the_cases_inside(lead_engine: Engine) -> None:
    with lead_engine.connect() as conn:
        x0, y0, x1, y1 = conn.execute(
            text("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM grids "
                 "WHERE id = 3")
        ).one()  # fmt: skip
    box = shapely.box(x0, y0, (x0 + x1) / 2, y1)
    want = _ids(
        lead_engine,
        "SELECT id FROM cases WHERE grid_id IN (3, 4) "
        "AND ST_Intersects(geom, ST_GeomFromText(:w, 4326)) ORDER BY reported_at DESC, id DESC",
        w=box.wkt,
    )
    got = _all_pages(lead_engine, LEAD, CaseScope((3, 4), box.wkt), 100)
    assert [r["id"] for r in got] == want and len(want) > 0
    assert all(box.covers(shapely.Point(r["lon"], r["lat"])) for r in got)


def test_case_position_finds_the_page(lead_engine: Engine) -> None:
    scope = CaseScope((3, 4))
    want = _ids(
        lead_engine,
        "SELECT id FROM cases WHERE grid_id IN (3, 4) ORDER BY reported_at DESC, id DESC",
    )
    for index in (0, 37, len(want) - 1):
        assert case_position(lead_engine, LEAD, scope, want[index]) == index
    other = _ids(lead_engine, "SELECT id FROM cases WHERE grid_id = 5 LIMIT 1")[0]
    assert case_position(lead_engine, LEAD, scope, other) is None


def test_a_lead_never_reads_another_grids_cases(lead_engine: Engine) -> None:
    others = CaseScope((5, 6))
    assert case_page(lead_engine, LEAD, others, offset=0, limit=50, at=NOW).total == 0
    mixed = case_page(lead_engine, LEAD, CaseScope((4, 5)), offset=0, limit=500, at=NOW)
    assert {r["grid_id"] for r in mixed.rows} == {4}
    assert case_page(lead_engine, None, CaseScope((4,)), offset=0, limit=5, at=NOW).total == 0
    everyone = case_page(lead_engine, ADMIN, others, offset=0, limit=5, at=NOW)
    assert everyone.total == len(_ids(lead_engine, "SELECT id FROM cases WHERE grid_id IN (5, 6)"))
