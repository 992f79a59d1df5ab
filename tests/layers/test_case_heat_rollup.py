"""The case heatmap's rollup of whole days (case_heat_days, migration 0009): after inserts,
updates, deletes and TRUNCATE it equals a direct count of the cases; the hexagon read gives
the direct count whether or not the stale days were refreshed, for every filter and for
windows with partial days; a change committed while a refresh runs keeps its stale mark."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import make_test_database

LEVELS = range(9, 15)
DETAIL_LEVEL = 11
#: Hours before "now" of the generated cases: several UTC days, both sides of midnights.
SPAN_HOURS = 24 * 6
CATEGORIES = ("disputes", "sanitation", "traffic")
SOURCES = ("hotline_12345", "grid_worker", "walk_in")
STATUSES = ("reported", "in_progress", "resolved", "closed", "rejected")


@pytest.fixture
def dsn(_created: list[str]) -> str:
    url = make_test_database("heat_rollup")
    _created.append(url)
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def conn(dsn: str) -> Iterator[psycopg2.extensions.connection]:
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    yield connection
    connection.close()


def add_cases(cur, n: int, seed: int, start_id: int) -> None:
    """n cases spread over the last SPAN_HOURS hours (a few without a position) around
    120.0 E 30.0 N, deterministic in `seed`."""
    cur.execute(
        """
        INSERT INTO cases (id, code, title, category, status, source, reported_at, geom)
        SELECT %(start)s + g, 'T' || (%(start)s + g), '事件',
               (%(cats)s::text[])[1 + (g * 7 + %(seed)s) %% 3],
               (%(statuses)s::text[])[1 + (g * 5 + %(seed)s) %% 5],
               (%(sources)s::text[])[1 + (g * 3 + %(seed)s) %% 3],
               now() - make_interval(mins => ((g * 37 + %(seed)s * 11) %% (%(span)s * 60))),
               CASE WHEN g %% 17 = 0 THEN NULL ELSE ST_SetSRID(ST_MakePoint(
                   120.0 + ((g * 7919 + %(seed)s) %% 1000) / 10000.0,
                   30.0 + ((g * 104729 + %(seed)s) %% 1000) / 10000.0), 4326) END
        FROM generate_series(1, %(n)s) g
        """,
        {
            "start": start_id,
            "n": n,
            "seed": seed,
            "span": SPAN_HOURS,
            "cats": list(CATEGORIES),
            "statuses": list(STATUSES),
            "sources": list(SOURCES),
        },
    )


def refresh_all(cur) -> None:
    for level in LEVELS:
        cur.execute("SELECT gridmap_case_heat_refresh(%s, NULL, NULL)", (level,))


def rollup(cur) -> set[tuple]:
    cur.execute(
        "SELECT level, detail, day, u.* FROM case_heat_days, "
        "unnest(cell_keys, cell_statuses, cell_categories, cell_sources, cell_counts) AS u"
    )
    rows = cur.fetchall()
    assert len(rows) == len(set(rows))
    return set(rows)


def direct(cur) -> set[tuple]:
    """The rollup as it should be, counted from cases: whole UTC days before today."""
    cur.execute(
        """
        WITH k AS (
            SELECT l AS level, gridmap_case_heat_day(c.reported_at) AS day,
                   gridmap_case_hex_key(c.geom, l) AS cell, c.status, c.category, c.source
            FROM cases c CROSS JOIN generate_series(9, 14) l
            WHERE c.geom IS NOT NULL AND c.reported_at < gridmap_case_heat_start(
                gridmap_case_heat_day(now()))
        )
        SELECT level, false, day, cell, status, NULL::text, NULL::text, count(*)::int
        FROM k GROUP BY level, day, cell, status
        UNION ALL
        SELECT level, true, day, cell, status, category, source, count(*)::int
        FROM k WHERE level <= %s GROUP BY level, day, cell, status, category, source
        """,
        (DETAIL_LEVEL,),
    )
    return set(cur.fetchall())


def hexes(cur, level: int, since, until, categories=None, statuses=None, sources=None) -> set:
    cur.execute(
        "SELECT cell_i, cell_j, cases, open FROM gridmap_layer_case_hexes("
        "NULL, NULL, NULL, NULL, %s, %s, %s, %s, %s, %s)",
        (since, until, categories, statuses, sources, level),
    )
    return set(cur.fetchall())


def hexes_direct(cur, level: int, since, until, categories=None, statuses=None, sources=None):
    cur.execute(
        """
        SELECT (k >> 32)::int, ((k & 4294967295) - 2147483648)::int, count(*)::int,
               (count(*) FILTER (WHERE gridmap_case_is_open(status)))::int
        FROM (SELECT gridmap_case_hex_key(geom, %(level)s) AS k, status FROM cases
              WHERE geom IS NOT NULL
                AND (%(since)s::timestamptz IS NULL OR reported_at >= %(since)s)
                AND (%(until)s::timestamptz IS NULL OR reported_at < %(until)s)
                AND (%(cats)s::text[] IS NULL OR category = ANY (%(cats)s))
                AND (%(statuses)s::text[] IS NULL OR status = ANY (%(statuses)s))
                AND (%(sources)s::text[] IS NULL OR source = ANY (%(sources)s))) x
        GROUP BY k
        """,
        {
            "level": level,
            "since": since,
            "until": until,
            "cats": categories,
            "statuses": statuses,
            "sources": sources,
        },
    )
    return set(cur.fetchall())


def change_everything(cur) -> None:
    """Updates (status, position, report time, an unrelated column), deletes, inserts."""
    cur.execute("UPDATE cases SET status = 'closed' WHERE id % 5 = 0")
    cur.execute("UPDATE cases SET geom = ST_Translate(geom, 0.013, 0.0) WHERE id % 7 = 0")
    cur.execute(
        "UPDATE cases SET reported_at = reported_at - interval '1 day 3 hours' WHERE id % 11 = 0"
    )
    cur.execute("UPDATE cases SET escalation_level = 1 WHERE id % 13 = 0")
    cur.execute("DELETE FROM cases WHERE id % 9 = 0")
    add_cases(cur, 300, seed=5, start_id=10_000)


def test_rollup_equals_a_direct_count_after_inserts_updates_deletes(conn) -> None:
    cur = conn.cursor()
    add_cases(cur, 1500, seed=1, start_id=0)
    refresh_all(cur)
    first = rollup(cur)
    assert first == direct(cur)
    assert {r[0] for r in first} == set(LEVELS)
    assert {r[0] for r in first if r[1]} == {9, 10, 11}  # category/source split up to 11

    change_everything(cur)
    cur.execute("SELECT count(DISTINCT (level, day)) FROM case_heat_stale")
    assert cur.fetchone()[0] > 0
    refresh_all(cur)
    assert rollup(cur) == direct(cur)
    cur.execute("SELECT count(*) FROM case_heat_stale WHERE day < gridmap_case_heat_day(now())")
    assert cur.fetchone()[0] == 0

    # An update of nothing the heatmap shows marks nothing stale.
    cur.execute("UPDATE cases SET escalation_level = 2 WHERE id % 3 = 0")
    cur.execute("SELECT count(*) FROM case_heat_stale WHERE day < gridmap_case_heat_day(now())")
    assert cur.fetchone()[0] == 0

    cur.execute("TRUNCATE cases CASCADE")
    cur.execute(
        "SELECT (SELECT count(*) FROM case_heat_days), (SELECT count(*) FROM case_heat_stale)"
    )
    assert cur.fetchone() == (0, 0)


FILTERS = [
    {},
    {"statuses": ["reported", "in_progress"]},
    {"categories": ["disputes"]},
    {"sources": ["walk_in", "grid_worker"]},
    {"categories": ["traffic", "sanitation"], "statuses": ["closed"], "sources": ["walk_in"]},
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f) or "none")
def test_hexagons_equal_a_direct_count_stale_or_refreshed(conn, filters: dict) -> None:
    cur = conn.cursor()
    add_cases(cur, 1200, seed=2, start_id=0)
    now = datetime.now(UTC)
    windows = [
        (now - timedelta(days=3, hours=5), None),  # partial first day, whole days, today
        (now - timedelta(hours=30), now - timedelta(hours=2)),
        (now - timedelta(hours=3), None),  # no whole day
        (None, None),
        (datetime(2000, 1, 1, tzinfo=UTC), datetime.combine(now.date(), datetime.min.time(), UTC)),
    ]
    for level in (10, 13):
        for since, until in windows:
            expected = hexes_direct(cur, level, since, until, **filters)
            assert hexes(cur, level, since, until, **filters) == expected  # stale: live
            cur.execute("SELECT gridmap_case_heat_refresh(%s, %s, %s)", (level, since, until))
            assert hexes(cur, level, since, until, **filters) == expected  # from the rollup
    change_everything(cur)
    for level in (10, 13):
        since = now - timedelta(days=5, hours=1)
        expected = hexes_direct(cur, level, since, None, **filters)
        assert hexes(cur, level, since, None, **filters) == expected
        cur.execute("SELECT gridmap_case_heat_refresh(%s, %s, NULL)", (level, since))
        assert hexes(cur, level, since, None, **filters) == expected


def test_a_change_committed_during_a_refresh_keeps_its_mark(conn, dsn: str) -> None:
    cur = conn.cursor()
    add_cases(cur, 400, seed=3, start_id=0)
    refresh_all(cur)
    day_before = datetime.now(UTC) - timedelta(days=2)
    # Committed changes first: once the writer below has changed a case, any other change
    # waits for it (both bump the one case-version row).
    cur.execute(
        "UPDATE cases SET status = 'closed' WHERE reported_at::date = %s::date AND id < 50",
        (day_before,),
    )
    writer = psycopg2.connect(dsn)
    try:
        wcur = writer.cursor()  # a transaction adding a case two days back, not committed yet
        wcur.execute(
            "INSERT INTO cases (id, code, title, category, source, reported_at, geom) "
            "VALUES (99999, 'W1', '事件', 'disputes', 'walk_in', %s, "
            "ST_SetSRID(ST_MakePoint(120.05, 30.05), 4326))",
            (day_before,),
        )
        refresh_all(cur)  # counts the day without the uncommitted case
        writer.commit()
    finally:
        writer.close()
    assert rollup(cur) != direct(cur)
    cur.execute(
        "SELECT count(*) FROM case_heat_stale WHERE day = gridmap_case_heat_day(%s)",
        (day_before,),
    )
    assert cur.fetchone()[0] == len(LEVELS)
    refresh_all(cur)
    assert rollup(cur) == direct(cur)
