"""The bulk import assigns grids a chunk at a time (gridmap_grids_at; the per-row trigger
stands aside for its one statement): the same grid as the trigger gives for inside, border,
corner, edge, outside and unlocated points; every other insert and update still gets its grid
from the trigger."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import text

from gridmap.cases.importer import import_cases, parse_mapping
from gridmap.cases.taxonomy import get_taxonomy
from gridmap.db.engine import get_engine
from tests.gridmap.cases.world import BORDER_1_2, BORDER_2_3, INSIDE, OUTSIDE

#: name → (lon, lat) or None, and the grid the border rule (lowest id) gives.
POINTS: dict[str, tuple[tuple[float, float] | None, int | None]] = {
    "inside_1": (INSIDE[1], 1),
    "inside_2": (INSIDE[2], 2),
    "inside_3": (INSIDE[3], 3),
    "border_1_2": (BORDER_1_2, 1),
    "border_2_3": (BORDER_2_3, 2),
    "corner_1_2_south": ((120.01, 30.00), 1),
    "corner_2_3_north": ((120.02, 30.01), 2),
    "outer_corner_1": ((120.00, 30.00), 1),
    "south_edge_3": ((120.025, 30.00), 3),
    "east_edge_3": ((120.03, 30.005), 3),
    "just_outside_3": ((120.0300001, 30.005), None),
    "outside": (OUTSIDE, None),
    "unlocated": (None, None),
}
MAPPING = "external_id=工单号,title=标题,category=类别,lon=经度,lat=纬度,reported_at=受理时间"


@pytest.fixture
def clean(world_url: str) -> str:
    with get_engine(world_url).begin() as conn:
        conn.execute(text("ALTER TABLE case_events DISABLE TRIGGER case_events_append_only"))
        conn.execute(text("DELETE FROM case_events; DELETE FROM cases"))
        conn.execute(text("ALTER TABLE case_events ENABLE TRIGGER case_events_append_only"))
    return world_url


def test_import_gives_the_triggers_grid(clean: str, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["工单号", "标题", "类别", "经度", "纬度", "受理时间"])
        for name, (pos, _) in POINTS.items():
            lon, lat = pos if pos else ("", "")
            writer.writerow([name, "测试", "disputes", lon, lat, "2024-03-01 08:00"])
    report = import_cases(
        get_engine(clean), path, parse_mapping(MAPPING), get_taxonomy(), source="hotline_12345"
    )
    assert report.inserted == len(POINTS)
    assert report.unassigned == sum(1 for _, grid in POINTS.values() if grid is None)

    with get_engine(clean).begin() as conn:
        # The same points through a plain INSERT: the trigger assigns them.
        for name, (pos, _) in POINTS.items():
            conn.execute(
                text(
                    "INSERT INTO cases (title, category, source, external_id, geom) "
                    "VALUES ('测试', 'disputes', 'walk_in', :name, "
                    "CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL "
                    "ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END)"
                ),
                {"name": name, "lon": pos[0] if pos else None, "lat": pos[1] if pos else None},
            )
        rows = conn.execute(
            text("SELECT source, external_id, grid_id FROM cases ORDER BY external_id")
        ).all()
    imported = {e: g for s, e, g in rows if s == "hotline_12345"}
    by_trigger = {e: g for s, e, g in rows if s == "walk_in"}
    assert imported == by_trigger == {name: grid for name, (_, grid) in POINTS.items()}


def test_only_the_import_statement_skips_the_trigger(clean: str) -> None:
    raw = get_engine(clean).raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SELECT gridmap_import_stage_create()")
        cur.execute(
            "INSERT INTO pg_temp.case_import_stage (row_no, title, category, source, priority, "
            "lon, lat, external_id, reported_at, due_at, status, grid_id) "
            "SELECT 2, '测试', 'disputes', 'hotline_12345', 3, x, y, 'S1', now(), now(), "
            "'reported', (gridmap_grids_at(ARRAY[x], ARRAY[y]))[1] FROM (VALUES (%s, %s)) p (x, y)",
            BORDER_2_3,
        )
        cur.execute(
            "INSERT INTO case_imports (actor, source, file_name) "
            "VALUES ('t', 'hotline_12345', 'f') RETURNING id"
        )
        cur.execute(
            "SELECT inserted, unassigned FROM gridmap_import_staged_cases(%s)", cur.fetchone()
        )
        assert cur.fetchone() == (1, 0)
        cur.execute("SELECT grid_id FROM cases WHERE external_id = 'S1'")
        assert cur.fetchone() == (2,)  # the border rule, staged by gridmap_grids_at
        # Later statements of the same transaction: the trigger corrects a wrong grid.
        cur.execute(
            "INSERT INTO cases (title, category, source, grid_id, geom) VALUES "
            "('测试', 'disputes', 'walk_in', 3, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) "
            "RETURNING grid_id",
            INSIDE[1],
        )
        assert cur.fetchone() == (1,)
        cur.execute(
            "UPDATE cases SET geom = ST_SetSRID(ST_MakePoint(%s, %s), 4326) "
            "WHERE external_id = 'S1' RETURNING grid_id",
            OUTSIDE,
        )
        assert cur.fetchone() == (None,)
        cur.execute("SELECT grid_id FROM cases WHERE external_id = 'S1'")
        assert cur.fetchone() == (None,)
        cur.execute("SELECT current_setting('gridmap.cases_grid_assigned', true)")
        assert cur.fetchone() == ("off",)
    finally:
        raw.rollback()
        raw.close()


def test_grids_at_keeps_order_and_marks_the_unlocated(clean: str) -> None:
    names = list(POINTS)
    lons = [POINTS[n][0][0] if POINTS[n][0] else None for n in names]
    lats = [POINTS[n][0][1] if POINTS[n][0] else None for n in names]
    with get_engine(clean).connect() as conn:
        grids = conn.execute(
            text("SELECT gridmap_grids_at(:x, :y)"), {"x": lons, "y": lats}
        ).scalar_one()
        empty = conn.execute(
            text("SELECT gridmap_grids_at('{}'::float8[], '{}'::float8[])")
        ).scalar_one()
    assert grids == [POINTS[n][1] for n in names]
    assert empty == []
