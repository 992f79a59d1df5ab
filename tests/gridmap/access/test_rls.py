"""Row-level security in PostgreSQL itself: as a grid lead, every per-grid table holds only
the lead's grids' rows; the reader role cannot write or read secrets; every table with a
grid_id column is protected (a new one without a policy fails here)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from gridmap.access import Role, User
from gridmap.access.scope import scoped_connection
from gridmap.db.engine import get_engine
from tests.gridmap.access.conftest import Town

pytestmark = pytest.mark.pooled  # a database access path (make test-pooled)

#: Per-grid tables and the SQL counting the rows a user of grids :g should see.
EXPECTED = {
    "cases": "SELECT count(*) FROM cases WHERE grid_id = ANY(:g)",
    "buildings": "SELECT count(*) FROM buildings WHERE grid_id = ANY(:g)",
    "grids": "SELECT count(*) FROM grids WHERE id = ANY(:g)",
    "case_events": "SELECT count(*) FROM case_events e JOIN cases c ON c.id = e.case_id "
    "WHERE c.grid_id = ANY(:g)",
    "patrol_shifts": "SELECT count(*) FROM patrol_shifts WHERE grid_id = ANY(:g)",
    "gps_pings": "SELECT count(*) FROM gps_pings WHERE device_id IN "
    "(SELECT device_id FROM patrol_shifts WHERE grid_id = ANY(:g))",
    "edge_grid": "SELECT count(*) FROM edge_grid WHERE grid_id = ANY(:g)",
    "households": "SELECT count(*) FROM households WHERE grid_id = ANY(:g)",
    "ten_household_units": "SELECT count(*) FROM ten_household_units WHERE grid_id = ANY(:g)",
    "visits": "SELECT count(*) FROM visits WHERE grid_id = ANY(:g)",
}


def lead(town: Town) -> User:
    return User(town.lead_id, "lead", "示例网格长", Role.GRID_LEAD, frozenset(town.own_grid_ids))


def test_lead_counts_equal_their_grids_only(town: Town) -> None:
    engine = get_engine(town.url)
    with engine.connect() as conn:
        expected = {
            t: conn.execute(text(sql), {"g": list(town.own_grid_ids)}).scalar_one()
            for t, sql in EXPECTED.items()
        }
        everything = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
    assert 0 < expected["cases"] < everything
    with scoped_connection(engine, lead(town)) as conn:
        seen = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in EXPECTED}
        assert conn.execute(text("SELECT current_user")).scalar_one() == "gridmap_grid_reader"
        foreign = conn.execute(
            text("SELECT count(*) FROM cases WHERE id = ANY(:ids)"),
            {"ids": list(town.foreign_case_ids)},
        ).scalar_one()
    assert seen == expected
    assert foreign == 0
    with engine.connect() as conn:  # the scope ended with the transaction
        assert conn.execute(text("SELECT count(*) FROM cases")).scalar_one() == everything
        assert conn.execute(text("SELECT current_user")).scalar_one() != "gridmap_grid_reader"


def test_unscoped_roles_and_unset_user(town: Town) -> None:
    engine = get_engine(town.url)
    with engine.connect() as conn:
        everything = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
    command = User(2, "command", "指挥中心", Role.COMMAND)
    with scoped_connection(engine, command) as conn:
        assert conn.execute(text("SELECT count(*) FROM cases")).scalar_one() == everything
    with engine.connect() as conn, conn.begin():  # the reader role with no user: nothing
        conn.execute(text("SET LOCAL ROLE gridmap_grid_reader"))
        assert conn.execute(text("SELECT count(*) FROM cases")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM grids")).scalar_one() == 0


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM cases",
        "UPDATE buildings SET population = 0",
        "INSERT INTO audit_log (action) VALUES ('x')",
        "SELECT count(*) FROM audit_log",
        "SELECT password_hash FROM users",
        "SELECT phone FROM users",
        "SELECT token_sha256 FROM user_tokens",
    ],
)
def test_reader_cannot_write_or_read_secrets(town: Town, sql: str) -> None:
    with (
        pytest.raises(ProgrammingError, match="permission denied"),
        scoped_connection(get_engine(town.url), lead(town)) as conn,
    ):
        conn.execute(text(sql))


def test_every_grid_table_has_row_level_security(town: Town) -> None:
    with get_engine(town.url).connect() as conn:
        unprotected = conn.execute(
            text(
                """
                SELECT c.relname FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'grid_id'
                WHERE c.relkind IN ('r', 'p', 'm')
                  AND NOT (c.relrowsecurity
                           AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))
                """
            )
        ).scalars()
        unprotected = sorted(unprotected)
    # Cameras and service points are city infrastructure, not residents' data.
    allowed = {"cameras", "service_points"}
    assert set(unprotected) <= allowed, (
        f"tables with a grid_id but no row-level security: {sorted(set(unprotected) - allowed)}; "
        "add ENABLE ROW LEVEL SECURITY and a 'grid_scope' policy TO gridmap_grid_reader in "
        "your migration (see sql/migrations/0010_access.sql), or add the table here if it "
        "holds no per-grid personal data"
    )


#: Tables the grid reader may read whole: no per-grid rows and nothing derived from them
#: (see the inventory in sql/migrations/0017_scoped_aggregates.sql).
OPEN_TABLES = {
    "road_edges", "road_streets", "service_points", "service_isochrones", "cameras",
    "camera_sectors", "districts", "streets", "communities", "analysis_runs", "basemap_features",
    "gridmap_migration", "gridmap_function_file", "spatial_ref_sys",
    # the compound level of the administrative map, and configurable lists (issue 15)
    "compounds", "household_tags", "visit_cadences", "visit_kinds",
}  # fmt: skip


def test_every_table_the_reader_sees_is_scoped_or_open(town: Town) -> None:
    """A derived or cached table (a rollup, visits, jobs) must not answer the reader role
    from rows out of its scope: each readable table has row-level security, or is listed
    as holding no per-grid data."""
    with get_engine(town.url).connect() as conn:
        unscoped = conn.execute(
            text(
                """
                SELECT c.relname FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
                WHERE c.relkind IN ('r', 'p', 'm')
                  AND has_table_privilege('gridmap_grid_reader', c.oid, 'SELECT')
                  AND NOT c.relrowsecurity
                """
            )
        ).scalars()
        unscoped = set(unscoped)
    assert unscoped == OPEN_TABLES, (
        f"readable by the grid reader without row-level security: {sorted(unscoped - OPEN_TABLES)}"
        "; scope them in a migration (see 0017_scoped_aggregates.sql) or, if they hold no "
        "per-grid data, list them in OPEN_TABLES"
    )
