"""The city-scale household fill (gridmap.demo.household_fill), run on the small demo's
homes without a register in a transaction rolled back afterwards (the demo stays as it is):
households in the demo's tag shares, units of about ten with a lead, 90 days of visits
with gaps, the triggers' columns written as the triggers would, the same rows for a seed."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gridmap.demo.household_fill import fill_households

ANCHOR = datetime(2026, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
TARGET = 6_000


def _fill(url: str, seed: int, checks: str) -> tuple[dict[str, int], list[tuple]]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT max(id) FROM households")
            first = cur.fetchone()[0]
            rows = fill_households(cur, TARGET, seed=seed, anchor=ANCHOR, tz="Asia/Shanghai")
            cur.execute(checks, {"first": first})
            found = cur.fetchall()
    finally:
        conn.rollback()
        conn.close()
    return rows, found


CHECKS = """
WITH h AS (SELECT * FROM households WHERE id > %(first)s),
     v AS (SELECT * FROM visits WHERE household_id > %(first)s)
SELECT 'households', count(*)::float8 FROM h
UNION ALL SELECT 'tagged', avg((cardinality(tags) > 0)::int) FROM h
UNION ALL SELECT 'elderly_alone', avg(('elderly_alone' = ANY (tags))::int) FROM h
UNION ALL SELECT 'unit_size', avg(n) FROM (SELECT count(*) n FROM h
                                           GROUP BY ten_household_unit_id) u
UNION ALL SELECT 'units_without_lead', count(*) FROM ten_household_units
    WHERE id IN (SELECT ten_household_unit_id FROM h) AND lead_name IS NULL
UNION ALL SELECT 'never_visited',
    avg((NOT EXISTS (SELECT 1 FROM visits x WHERE x.household_id = h.id))::int) FROM h
UNION ALL SELECT 'grid_differs', count(*) FROM h JOIN buildings b ON b.id = h.building_id
    WHERE h.grid_id IS DISTINCT FROM b.grid_id
UNION ALL SELECT 'care_differs', count(*) FROM h
    WHERE cadence_days IS DISTINCT FROM gridmap_household_cadence(tags)
       OR vulnerable <> (cardinality(tags) > 0)
UNION ALL SELECT 'last_seen_differs', count(*) FROM h
    WHERE last_visited_at IS DISTINCT FROM (
        SELECT max(x.visited_at) FROM visits x WHERE x.household_id = h.id
          AND x.outcome <> 'not_home' AND NOT x.far_fix)
UNION ALL SELECT 'visits_outside_window', count(*) FROM v
    WHERE visited_at < '2026-03-10 00:00+08'::timestamptz - interval '90 days'
       OR visited_at >= '2026-03-10 00:00+08'
UNION ALL SELECT 'not_home', avg((outcome = 'not_home')::int) FROM v
UNION ALL SELECT 'far_fix', avg(far_fix::int) FROM v
UNION ALL SELECT 'visit_grid_differs', count(*) FROM v JOIN households x ON x.id = v.household_id
    WHERE v.grid_id IS DISTINCT FROM x.grid_id OR v.worker_id IS NULL
UNION ALL SELECT 'codes_unique', (count(DISTINCT code) = count(*))::int FROM households
UNION ALL SELECT 'digest', ('x' || left(md5(string_agg(h.code || h.tags::text || h.head_name,
                                              ',' ORDER BY h.id)), 8))::bit(32)::int FROM h
"""


@pytest.fixture(scope="module")
def filled(demo_url: str) -> tuple[dict[str, int], dict[str, float]]:
    rows, found = _fill(demo_url, 7, CHECKS)
    return rows, dict(found)


def test_fill_writes_households_units_and_visits(filled) -> None:
    rows, found = filled
    assert rows["households"] == found["households"]
    assert TARGET * 0.95 <= rows["households"] <= TARGET * 1.25  # at least 1 a building
    assert rows["ten_household_units"] > 0 and rows["visits"] > rows["households"] * 0.8
    assert 0.07 <= found["tagged"] <= 0.09 and 0.02 <= found["elderly_alone"] <= 0.04
    assert 8 <= found["unit_size"] <= 12 and found["units_without_lead"] == 0
    assert 0.08 <= found["never_visited"] <= 0.3  # neglected, and quarterly ones not yet
    assert 0.07 <= found["not_home"] <= 0.13 and 0.005 <= found["far_fix"] <= 0.04
    assert found["codes_unique"] == 1


def test_fill_writes_what_the_triggers_would(filled) -> None:
    _, found = filled
    for check in ("grid_differs", "care_differs", "last_seen_differs",
                  "visits_outside_window", "visit_grid_differs"):  # fmt: skip
        assert found[check] == 0, check


def test_same_seed_same_households(demo_url: str, filled) -> None:
    _, found = filled
    _, again = _fill(demo_url, 7, CHECKS)
    _, other = _fill(demo_url, 8, CHECKS)
    assert dict(again)["digest"] == found["digest"] != dict(other)["digest"]


def test_the_demo_is_left_as_it_was(demo_engine, filled) -> None:
    with demo_engine.connect() as conn:
        counts = conn.execute(
            text("SELECT (SELECT count(*) FROM households), (SELECT max(id) FROM visits)")
        ).one()
    assert tuple(counts) == (12_175, int(counts[1])) and counts[1] < 30_000
