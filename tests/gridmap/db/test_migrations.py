"""Migrations: ordered, applied once, recorded, refused when an applied file changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg2
import pytest

from gridmap.db.migrations import MigrationError, applied_versions, discover, upgrade
from gridmap.settings import get_settings

pytestmark = pytest.mark.pooled  # a database access path (make test-pooled)

MIGRATIONS = get_settings().sql_dir / "migrations"


def copy_sql(tmp_path: Path) -> Path:
    """A copy of sql/ to change freely; returns its migrations folder."""
    shutil.copytree(MIGRATIONS.parent, tmp_path / "sql")
    return tmp_path / "sql" / "migrations"


def test_project_migrations_are_well_formed() -> None:
    found = discover(MIGRATIONS)
    assert found[0].version == 1
    assert [m.version for m in found] == sorted({m.version for m in found})


def test_migration_older_than_the_applied_ones_is_refused(fresh_url: str, tmp_path: Path) -> None:
    folder = copy_sql(tmp_path)
    (folder / "9002_later.sql").write_text("CREATE TABLE later_t (id int);")
    upgrade(fresh_url, folder)
    (folder / "9001_earlier.sql").write_text("CREATE TABLE earlier_t (id int);")
    with pytest.raises(MigrationError, match="out of order"):
        upgrade(fresh_url, folder)


def test_upgrade_is_idempotent(fresh_url: str) -> None:
    # fresh_url is already migrated: a second run applies nothing and changes nothing.
    before = applied_versions(fresh_url)
    assert before == [m.version for m in discover(MIGRATIONS)]
    assert upgrade(fresh_url, MIGRATIONS) == []
    assert applied_versions(fresh_url) == before


def test_new_migration_applies_once(fresh_url: str, tmp_path: Path) -> None:
    folder = copy_sql(tmp_path)
    (folder / "9001_extra.sql").write_text("CREATE TABLE extra_t (id int);")
    assert [m.name for m in upgrade(fresh_url, folder)] == ["extra"]
    assert upgrade(fresh_url, folder) == []
    assert applied_versions(fresh_url)[-1] == 9001


def test_changed_applied_migration_is_refused(fresh_url: str, tmp_path: Path) -> None:
    folder = copy_sql(tmp_path)
    first = discover(folder)[0].path
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        upgrade(fresh_url, folder)


def test_failed_migration_applies_nothing(fresh_url: str, tmp_path: Path) -> None:
    folder = copy_sql(tmp_path)
    (folder / "9001_good.sql").write_text("CREATE TABLE good_t (id int);")
    (folder / "9002_bad.sql").write_text("CREATE TABLE bad_t (id nosuchtype);")
    with pytest.raises(MigrationError, match=r"9002_bad\.sql failed"):
        upgrade(fresh_url, folder)
    assert 9001 not in applied_versions(fresh_url)
    with psycopg2.connect(fresh_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('good_t')")
        assert cur.fetchone() == (None,)


def test_bad_file_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_oops.sql").write_text("")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        discover(tmp_path)


def test_missing_migrations_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError) as err:
        discover(tmp_path / "nowhere")
    assert err.value.message == f"No migrations folder at {tmp_path / 'nowhere'}."
    assert err.value.hint == "set GRIDMAP_SQL_DIR to the folder holding migrations/ and functions/"


def test_function_files_reapply_when_changed(fresh_url: str, tmp_path: Path) -> None:
    folder = copy_sql(tmp_path)
    functions = folder.parent / "functions"
    functions.mkdir(exist_ok=True)
    body = "CREATE OR REPLACE FUNCTION gm_t() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT {}';"
    (functions / "zz_test.sql").write_text(body.format(1))
    upgrade(fresh_url, folder)
    (functions / "zz_test.sql").write_text(body.format(2))
    upgrade(fresh_url, folder)
    with psycopg2.connect(fresh_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT gm_t()")
        assert cur.fetchone() == (2,)
