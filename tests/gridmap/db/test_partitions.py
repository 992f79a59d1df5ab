"""Time-partitioned history (migrations 0029-0031, sql/functions/partitions.sql): partitions
made ahead, UTC midnight bounds, the DEFAULT partition and its move, retention dropping
whole day partitions of raw pings (aggregates kept), idempotency across partitions, and the
move of a filled database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
from click.testing import CliRunner

from gridmap.cli import main
from gridmap.db import partitions
from gridmap.db.engine import drop_database
from gridmap.db.migrations import upgrade
from gridmap.settings import get_settings
from tests.conftest import make_test_database

pytestmark = pytest.mark.pooled  # a database access path (make test-pooled)

MIGRATIONS = get_settings().sql_dir / "migrations"
POINT = "ST_SetSRID(ST_MakePoint(120.001, 30.001), 4326)"
TABLES = ("audit_log", "case_events", "edge_visits", "gps_pings")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """A migrated database of this module's own (its partitions change)."""
    made = make_test_database("partitions")
    yield made
    drop_database(made)


@pytest.fixture
def cur(url: str) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor in a transaction rolled back after the test (DDL included)."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as c:
            c.execute("SET TimeZone = 'Asia/Shanghai'")  # bounds must not follow the session
            yield c
        conn.rollback()
    finally:
        conn.close()


def utc_midnight(days: int = 0) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days)


def ping(cur, at: datetime, device: str = "d1") -> str:
    """Insert a ping (a re-sent one is a no-op); the partition it went to, or ''."""
    cur.execute(
        f"INSERT INTO gps_pings (device_id, at, accuracy_m, geom) VALUES (%s, %s, 5, {POINT}) "
        "ON CONFLICT DO NOTHING RETURNING tableoid::regclass::text",
        (device, at),
    )
    row = cur.fetchone()
    return row[0] if row else ""


def names(cur, table: str) -> list[str]:
    cur.execute("SELECT partition_name FROM gridmap_partitions(%s)", (table,))
    return [n for (n,) in cur.fetchall()]


def test_upgrade_makes_partitions_ahead(cur) -> None:
    days = [f"gps_pings_p{utc_midnight(d):%Y%m%d}" for d in range(8)]
    assert names(cur, "gps_pings") == [*days, "gps_pings_default"]
    month = f"{utc_midnight():%Y%m}"
    for table in ("audit_log", "case_events", "edge_visits"):
        assert f"{table}_p{month}" in names(cur, table)
    made = partitions.ensure(cur, 10)
    assert [m for m in made if m.startswith("gps_pings")] == [
        f"gps_pings_p{utc_midnight(d):%Y%m%d}" for d in (8, 9, 10)
    ]
    assert partitions.ensure(cur, 10) == []


def test_partitions_are_closed_to_the_grid_reader(cur) -> None:
    cur.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relispartition AND c.relkind = 'r' AND "
        "(has_table_privilege('gridmap_grid_reader', c.oid, 'SELECT') OR NOT c.relrowsecurity)"
    )
    assert cur.fetchall() == []


def test_midnight_utc_opens_the_next_day_partition(cur) -> None:
    midnight = utc_midnight(1)
    assert ping(cur, midnight) == f"gps_pings_p{midnight:%Y%m%d}"
    just_before = midnight - timedelta(microseconds=1)
    assert ping(cur, just_before) == f"gps_pings_p{just_before:%Y%m%d}"
    cur.execute("SELECT count(*) FROM gps_pings WHERE at >= %s", (midnight,))
    assert cur.fetchone()[0] == 1


def test_row_without_partition_lands_in_default_then_moves(cur) -> None:
    far = datetime(2031, 3, 1, tzinfo=UTC)  # the first moment of a month
    assert ping(cur, far) == "gps_pings_default"
    cur.execute(
        "INSERT INTO cases (id, code, title, category, source) "
        "VALUES (900001, 'P-1', 't', 'c', 'walk_in')"
    )
    cur.execute(
        "INSERT INTO case_events (case_id, at, actor, action) VALUES (900001, %s, 'a', 'report') "
        "RETURNING id, tableoid::regclass::text",
        (far,),
    )
    event_id, where = cur.fetchone()
    assert where == "case_events_default"
    made = partitions.ensure(cur, 7)
    assert {"gps_pings_p20310301", "case_events_p203103"} <= set(made)
    cur.execute("SELECT tableoid::regclass::text FROM gps_pings WHERE at = %s", (far,))
    assert cur.fetchall() == [("gps_pings_p20310301",)]
    cur.execute("SELECT id, tableoid::regclass::text FROM case_events WHERE case_id = 900001")
    assert cur.fetchall() == [(event_id, "case_events_p203103")]
    cur.execute(
        "SELECT (SELECT count(*) FROM gps_pings_default), "
        "(SELECT count(*) FROM case_events_default)"
    )
    assert cur.fetchone() == (0, 0)


def test_resent_ping_is_a_no_op_in_any_partition(cur) -> None:
    for at in (utc_midnight(), utc_midnight(3), datetime(2031, 3, 1, tzinfo=UTC)):
        assert ping(cur, at) != ""
        assert ping(cur, at) == ""  # the key holds the partition key: the same partition
    partitions.ensure(cur, 7)  # after the DEFAULT row moved, still a no-op
    assert ping(cur, datetime(2031, 3, 1, tzinfo=UTC)) == ""
    cur.execute("SELECT count(*) FROM gps_pings WHERE device_id = 'd1'")
    assert cur.fetchone()[0] == 3


def test_duplicate_case_submission_refused_across_months(cur) -> None:
    cur.execute(
        "INSERT INTO cases (code, title, category, source, reported_at, idempotency_key) "
        "VALUES ('P-2', 't', 'c', 'walk_in', '2026-01-15 08:00+08', 'key-1')"
    )
    with pytest.raises(psycopg2.errors.UniqueViolation):
        cur.execute(
            "INSERT INTO cases (code, title, category, source, reported_at, idempotency_key) "
            "VALUES ('P-3', 't', 'c', 'walk_in', '2026-03-15 08:00+08', 'key-1')"
        )


def test_retention_drops_whole_day_partitions_and_keeps_aggregates(cur) -> None:
    for d in range(-5, 1):
        partitions.cover(cur, "gps_pings", utc_midnight(d), utc_midnight(d))
        for minute in (0, 600, 1439):
            at = utc_midnight(d) + timedelta(minutes=minute)
            ping(cur, at)
            cur.execute(
                "INSERT INTO edge_visits VALUES (7, %s, %s, %s) ON CONFLICT DO NOTHING",
                (at, at, at),
            )
    cur.execute("SELECT count(*) FROM edge_visits")
    visits = cur.fetchone()[0]
    dropped = partitions.expire_pings(cur, 2)
    gone = {f"gps_pings_p{utc_midnight(d):%Y%m%d}" for d in (-5, -4, -3)}
    assert gone <= set(dropped)
    assert not gone & set(names(cur, "gps_pings"))
    cur.execute("SELECT min(at), count(*) FROM gps_pings")
    assert cur.fetchone() == (utc_midnight(-2), 9)
    cur.execute("SELECT count(*) FROM edge_visits")
    assert cur.fetchone()[0] == visits == 18


def test_retention_deletes_stale_rows_stranded_in_default(cur) -> None:
    cur.execute("DROP TABLE IF EXISTS gps_pings_p20000101")
    assert ping(cur, datetime(2000, 1, 1, 12, tzinfo=UTC)) == "gps_pings_default"
    partitions.expire_pings(cur, 30)
    cur.execute("SELECT count(*) FROM gps_pings_default")
    assert cur.fetchone()[0] == 0


def test_retention_refuses_less_than_a_day(cur) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        partitions.expire_pings(cur, 0)


# -- moving a filled database (migration from 0028 to 0031) -------------------------------


def snapshot(cur) -> dict[str, object]:
    """Everything that must survive the move: rows, keys, indexes, constraints, policies,
    triggers, grants, sequences and the change tracking."""
    out: dict[str, object] = {}
    for t in TABLES:
        cur.execute(f"SELECT count(*), md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {t} x")
        out[f"{t}.rows"] = cur.fetchone()
        cur.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass ORDER BY 1",
            (t,),
        )
        out[f"{t}.constraints"] = cur.fetchall()
        cur.execute(
            "SELECT indexrelid::regclass::text, regexp_replace(pg_get_indexdef(indexrelid), "
            "' ON (ONLY )?public\\.\\w+ USING', ' ON t USING') FROM pg_index "
            "WHERE indrelid = %s::regclass ORDER BY 1",
            (t,),
        )
        out[f"{t}.indexes"] = cur.fetchall()
        cur.execute(
            "SELECT policyname, roles::text, cmd, qual FROM pg_policies WHERE tablename = %s",
            (t,),
        )
        out[f"{t}.policies"] = cur.fetchall()
        cur.execute(
            "SELECT tgname, tgtype, tgfoid::regproc::text, tgenabled FROM pg_trigger "
            "WHERE tgrelid = %s::regclass AND NOT tgisinternal ORDER BY 1",
            (t,),
        )
        out[f"{t}.triggers"] = cur.fetchall()
        cur.execute(
            "SELECT relacl::text, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE oid = %s::regclass",
            (t,),
        )
        out[f"{t}.grants"] = cur.fetchone()
    for t in ("case_events", "audit_log"):
        cur.execute(f"SELECT last_value, is_called FROM {t}_id_seq")
        out[f"{t}.sequence"] = cur.fetchone()
    cur.execute("SELECT table_name, version FROM gridmap_data_version ORDER BY 1")
    out["data_versions"] = cur.fetchall()
    cur.execute(
        "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
        "WHERE tgname LIKE 'gridmap_data_version%' ORDER BY 1, 2"
    )
    out["change_tracking"] = cur.fetchall()
    return out


def fill(cur) -> None:
    """Rows over three months and three days, the ids of events and audit entries with a gap."""
    cur.execute(
        "INSERT INTO users (id, username, display_name, role) VALUES (1, 'user1', 'u', 'planner');"
        "INSERT INTO cases (id, code, title, category, source) "
        "VALUES (1, 'K1', 't', 'c', 'walk_in');"
    )
    for i in range(300):
        at = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(hours=5 * i)
        cur.execute(
            "INSERT INTO case_events (case_id, at, actor, action) VALUES (1, %s, 'a', 'report');"
            "INSERT INTO audit_log (at, user_id, username, action, client_ip) "
            "VALUES (%s, 1, 'user1', 'login_failed', '10.0.0.1');"
            f"INSERT INTO gps_pings VALUES ('dev{i % 3}', %s, 4, {POINT});"
            "INSERT INTO edge_visits VALUES (%s, %s, %s, %s)",
            (at, at, at, i % 11, at, at, at),
        )
    cur.execute("SELECT nextval('case_events_id_seq'), nextval('audit_log_id_seq')")


def test_migration_moves_a_filled_database(tmp_path: Path) -> None:
    sql, moved = tmp_path / "sql", tmp_path / "moved"
    shutil.copytree(MIGRATIONS.parent, sql)
    shutil.copytree(MIGRATIONS.parent, moved)
    (sql / "functions/partitions.sql").unlink()
    for path in (sql / "migrations").glob("*.sql"):
        if int(path.name[:4]) >= 29:  # the database as it stood before partitioning
            path.unlink()
    for path in (moved / "migrations").glob("*.sql"):
        if int(path.name[:4]) > 31:  # and after it (0029-0031), before what came later
            path.unlink()
    old = make_test_database("partitions_move", migrate=False)
    try:
        upgrade(old, sql / "migrations")
        conn = psycopg2.connect(old)
        with conn, conn.cursor() as c:
            fill(c)
            before = snapshot(c)
        upgrade(old, moved / "migrations")
        with conn, conn.cursor() as c:
            after = snapshot(c)
            c.execute("SELECT partition_name FROM gridmap_partitions('gps_pings')")
            parts = [n for (n,) in c.fetchall()]
            c.execute(
                "INSERT INTO case_events (case_id, actor, action) VALUES (1, 'a', 'x') RETURNING id"
            )
            next_event = c.fetchone()[0]
        conn.close()
    finally:
        drop_database(old)
    rekeyed = {"case_events.constraints", "audit_log.constraints"}
    rekeyed |= {"case_events.indexes", "audit_log.indexes"}
    for key in before.keys() - rekeyed:
        assert after[key] == before[key], key
    for t in ("case_events", "audit_log"):  # the key holds the partition key now
        assert after[f"{t}.constraints"] == [
            (n, "PRIMARY KEY (id, at)" if n.endswith("_pkey") else d)
            for n, d in before[f"{t}.constraints"]
        ]
        assert after[f"{t}.indexes"] == [
            (n, d.replace("(id)", "(id, at)") if n.endswith("_pkey") else d)
            for n, d in before[f"{t}.indexes"]
        ]
    assert parts[0] == "gps_pings_legacy" and parts[-1] == "gps_pings_default"
    assert next_event == before["case_events.sequence"][0] + 1


def test_cli_makes_partitions_and_applies_retention(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as c:
        partitions.cover(c, "gps_pings", utc_midnight(-9), utc_midnight(-9))
    conn.close()
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)
    monkeypatch.setenv("GRIDMAP_PING_RETENTION_DAYS", "3")
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(main, ["db", "partitions", "--ahead", "9", "--list"])
        bad = CliRunner().invoke(main, ["db", "partitions", "--ahead", "-1"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert f"created gps_pings_p{utc_midnight(9):%Y%m%d}" in lines
    assert f"dropped gps_pings_p{utc_midnight(-9):%Y%m%d}" in lines
    assert "pings kept 3 days" in out.output
    assert any(line.startswith("gps_pings    gps_pings_default") for line in lines)
    assert bad.exit_code == 2 and isinstance(bad.exception, SystemExit)  # a usage error
    assert "-1 is not in the range 0<=x<=366" in bad.output
