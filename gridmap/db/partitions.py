"""Partition maintenance of the time-partitioned tables (GPS pings, patrol visit buckets,
case events, the audit log; migrations 0029-0031, ``sql/functions/partitions.sql``).

Partitions are made ``ahead`` days in advance (by every upgrade, the demo loader and
``gridmap db partitions``); a row no partition covers lands in the table's DEFAULT
partition and is moved into a partition of its own by the next run. Raw GPS pings older
than ``GRIDMAP_PING_RETENTION_DAYS`` go by dropping whole day partitions; the visit
aggregates stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg2.extensions

from gridmap.db.engine import connect

#: Days of partitions made ahead of now by default (a weekly run keeps inserts off DEFAULT).
DEFAULT_AHEAD_DAYS = 7
#: The table whose old partitions retention drops (raw pings; aggregates are kept).
RETAINED_TABLE = "gps_pings"


@dataclass
class Maintenance:
    """What one maintenance run did."""

    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Partition:
    """One partition and its bounds (``lower`` None: open below; both None: DEFAULT)."""

    table: str
    name: str
    lower: datetime | None
    upper: datetime | None
    rows: int


def is_partitioned(cur: psycopg2.extensions.cursor) -> bool:
    """Whether the database holds the partition registry (migration 0029 applied)."""
    cur.execute("SELECT to_regclass('gridmap_partitioned') IS NOT NULL")
    return bool(cur.fetchone()[0])


def ensure(cur: psycopg2.extensions.cursor, ahead_days: int = DEFAULT_AHEAD_DAYS) -> list[str]:
    """Make partitions up to ``ahead_days`` ahead and move rows out of DEFAULT partitions;
    return the partitions created."""
    cur.execute("SELECT gridmap_partitions_ensure(%s)", (ahead_days,))
    return [name for (name,) in cur.fetchall()]


def cover(cur: psycopg2.extensions.cursor, table: str, lo: datetime, hi: datetime) -> list[str]:
    """Make ``table``'s partitions for every period from ``lo`` to ``hi`` (before a bulk
    load); return those created."""
    cur.execute("SELECT gridmap_partitions_cover(%s, %s, %s)", (table, lo, hi))
    return [name for (name,) in cur.fetchall()]


def expire_pings(cur: psycopg2.extensions.cursor, retention_days: int) -> list[str]:
    """Drop the day partitions of raw pings that ended at least ``retention_days`` UTC days
    before today's UTC midnight (so at least that many whole days stay); return them."""
    if retention_days < 1:
        raise ValueError(f"retention_days must be at least 1, not {retention_days}")
    cur.execute(
        "SELECT gridmap_partitions_drop_before(%s, "
        "date_trunc('day', now(), 'UTC') - make_interval(days => %s))",
        (RETAINED_TABLE, retention_days),
    )
    return [name for (name,) in cur.fetchall()]


def maintain(
    dsn: str, *, ahead_days: int = DEFAULT_AHEAD_DAYS, retention_days: int | None = None
) -> Maintenance:
    """One maintenance run in one transaction: partitions ahead, then retention (if set)."""
    from gridmap.db.migrations import LOCK_KEY

    done = Maintenance()
    conn = connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))  # one run or upgrade
            done.created = ensure(cur, ahead_days)
            if retention_days:
                done.dropped = expire_pings(cur, retention_days)
    finally:
        conn.close()
    return done


def partitions(dsn: str) -> list[Partition]:
    """Every partition of every partitioned table, oldest first, with estimated rows."""
    conn = connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                """
                SELECT r.table_name, p.partition_name, p.lower_bound, p.upper_bound,
                       greatest(c.reltuples, 0)::bigint
                FROM gridmap_partitioned r
                CROSS JOIN LATERAL gridmap_partitions(r.table_name) p
                JOIN pg_class c ON c.oid = p.partition_name::regclass
                ORDER BY r.table_name, p.upper_bound NULLS LAST, p.lower_bound NULLS FIRST
                """
            )
            return [Partition(*row) for row in cur.fetchall()]
    finally:
        conn.close()
