"""Ordered SQL migrations from ``sql/migrations/NNNN_name.sql``, each applied once, then
the repeatable SQL functions from ``sql/functions/*.sql``, then the time partitions ahead
(:mod:`gridmap.db.partitions`).

Every applied migration is recorded with its SHA-256 in ``gridmap_migration``. Running
again is a no-op; a file that changed after it was applied is refused, since the database
no longer matches it (write a new migration instead). Function files hold only
``CREATE OR REPLACE`` statements and are (re)applied whenever they change.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from gridmap.db import partitions
from gridmap.db.engine import connect
from gridmap.errors import GridmapError

FILE_PATTERN = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
#: Key of the advisory lock that serialises concurrent upgrades.
LOCK_KEY = 4_815_162_342

BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS gridmap_migration (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    sha256     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS gridmap_function_file (
    name       text PRIMARY KEY,
    sha256     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(GridmapError):
    """A migration is malformed, changed after it was applied, or failed."""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(folder: Path) -> list[Migration]:
    """The migrations in a folder, in version order."""
    if not folder.is_dir():
        raise MigrationError(
            f"No migrations folder at {folder}.",
            hint="set GRIDMAP_SQL_DIR to the folder holding migrations/ and functions/",
        )
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = FILE_PATTERN.match(path.name)
        if not match:
            raise MigrationError(f"Migration file name {path.name!r} is not NNNN_name.sql.")
        version = int(match[1])
        if version in found:
            raise MigrationError(f"Two migrations share version {version:04d}.")
        found[version] = Migration(version, match[2], path)
    return [found[v] for v in sorted(found)]


def upgrade(dsn: str, folder: Path) -> list[Migration]:
    """Apply the pending migrations in order, then changed function files, in one
    transaction; return the migrations applied now. ``folder`` is ``sql/migrations``."""
    migrations = discover(folder)
    functions = sorted((folder.parent / "functions").glob("*.sql"))
    conn = connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            cur.execute(BOOKKEEPING)
            cur.execute("SELECT version, sha256, name FROM gridmap_migration")
            applied = {v: (sha, name) for v, sha, name in cur.fetchall()}
            for m in migrations:
                if m.version in applied and applied[m.version][0] != m.sha256:
                    raise MigrationError(
                        f"Migration {m.path.name} was changed after it was applied to this "
                        "database; the database no longer matches it.",
                        hint="restore the file and add the change as a new migration",
                    )
            latest = max(applied, default=0)
            late = [m for m in migrations if m.version not in applied and m.version < latest]
            if late:
                raise MigrationError(
                    f"Migration {late[0].path.name} is older than {latest:04d}, which is "
                    "already applied to this database; applying it now would run it out of order.",
                    hint="renumber it after the newest applied migration",
                )
            done = []
            for m in migrations:
                if m.version in applied:
                    continue
                try:
                    cur.execute(m.sql)
                except psycopg2.Error as exc:
                    raise MigrationError(
                        f"Migration {m.path.name} failed: {exc.pgerror or exc}".strip()
                    ) from exc
                cur.execute(
                    "INSERT INTO gridmap_migration (version, name, sha256) VALUES (%s, %s, %s)",
                    (m.version, m.name, m.sha256),
                )
                done.append(m)
            _apply_functions(cur, functions)
            if partitions.is_partitioned(cur):
                partitions.ensure(cur)
            return done
    finally:
        conn.close()


def _apply_functions(cur: psycopg2.extensions.cursor, files: list[Path]) -> None:
    # Function files may call functions defined in files applied after them (alphabetical
    # order): bodies are checked when called, not when created.
    cur.execute("SET LOCAL check_function_bodies = off")
    cur.execute("SELECT name, sha256 FROM gridmap_function_file")
    known = dict(cur.fetchall())
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if known.get(path.name) == digest:
            continue
        try:
            cur.execute(path.read_text(encoding="utf-8"))
        except psycopg2.Error as exc:
            raise MigrationError(f"SQL functions {path.name} failed: {exc.pgerror or exc}") from exc
        cur.execute(
            "INSERT INTO gridmap_function_file (name, sha256) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET sha256 = EXCLUDED.sha256, applied_at = now()",
            (path.name, digest),
        )


def applied_versions(dsn: str) -> list[int]:
    """Versions recorded as applied (empty when none)."""
    conn = connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass('gridmap_migration') IS NOT NULL")
            if not cur.fetchone()[0]:
                return []
            cur.execute("SELECT version FROM gridmap_migration ORDER BY version")
            return [v for (v,) in cur.fetchall()]
    finally:
        conn.close()
