"""Load the demo city into PostGIS with COPY, in one transaction, table by table.

For each table the generator builds the frame, then one COPY streams it in CSV chunks (see
:mod:`gridmap.db.copy`). The table's plain secondary indexes (not those behind primary
keys or unique constraints) are dropped before its COPY and rebuilt, from their own
definitions, right after it, which is much faster than maintaining them row by row; the
schema is the same afterwards. At city scale the household register is then filled by SQL
(:mod:`gridmap.demo.household_fill`). The grid triggers run as usual, so buildings, cameras,
service points and cases get their ``grid_id`` from the database. Identity sequences are
moved past the explicit ids, the demo accounts get their documented passwords
(:mod:`gridmap.demo.accounts`), the demo's scale, seed, anchor and counts go to
``gridmap_meta``, and everything is ANALYZEd. A failure rolls the whole load back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url
from tqdm import tqdm

from gridmap.db import partitions
from gridmap.db.copy import copy_frame
from gridmap.demo.accounts import add_demo_accounts
from gridmap.demo.city import (
    GENERATOR_VERSION,
    SCALES,
    TABLES,
    TZ,
    CityGenerator,
    default_anchor,
)
from gridmap.demo.household_fill import fill_households
from gridmap.errors import GridmapError

#: Every table holding data (TRUNCATEd by ``replace=True``).
DATA_TABLES: tuple[str, ...] = (*TABLES, "audit_log", "case_imports")
#: Keys of the demo facts in gridmap_meta.
META_KEYS = ("demo_scale", "demo_seed", "demo_anchor", "demo_counts", "demo_generator")


class DemoError(GridmapError):
    """The demo city cannot be loaded."""


@dataclass
class StageTiming:
    """Wall time of one table: generating its frame, then COPYing it (indexes included)."""

    table: str
    rows: int
    generate_s: float
    copy_s: float
    index_s: float


@dataclass
class LoadReport:
    """What a load did: rows per table (load order), time per stage, total time."""

    scale: str
    seed: int
    anchor: datetime
    counts: dict[str, int] = field(default_factory=dict)
    stages: list[StageTiming] = field(default_factory=list)
    finish_s: float = 0.0
    total_s: float = 0.0


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _connect(url: str) -> psycopg2.extensions.connection:
    try:
        return psycopg2.connect(_dsn(url), connect_timeout=10, application_name="gridmap-demo")
    except psycopg2.OperationalError as exc:
        raise DemoError(f"Cannot connect to the database: {exc}".strip()) from exc


def has_data(url: str) -> bool:
    """True when the database holds at least one grid."""
    conn = _connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass('grids') IS NOT NULL")
            if not cur.fetchone()[0]:
                return False
            cur.execute("SELECT EXISTS (SELECT 1 FROM grids)")
            return bool(cur.fetchone()[0])
    finally:
        conn.close()


def _nonempty_tables(cur: psycopg2.extensions.cursor) -> list[str]:
    found = []
    for t in DATA_TABLES:
        cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(t)))
        if cur.fetchone()[0]:
            found.append(t)
    return found


def _secondary_indexes(cur: psycopg2.extensions.cursor, table: str) -> list[tuple[str, str]]:
    """(name, definition) of a table's indexes that back no constraint. A partitioned
    table's index is defined ``ON ONLY`` the parent (pg_get_indexdef): made again so, it
    would cover no partition and stay invalid, so the definition drops the ``ONLY``."""
    cur.execute(
        """
        SELECT i.relname, replace(pg_get_indexdef(x.indexrelid), ' ON ONLY ', ' ON ')
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = %s::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
        ORDER BY i.relname
        """,
        (table,),
    )
    return cur.fetchall()


def _reset_identity(cur: psycopg2.extensions.cursor, table: str) -> None:
    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
    row = cur.fetchone()
    if row and row[0]:
        cur.execute(
            sql.SQL("SELECT setval(%s, coalesce((SELECT max(id) FROM {}), 0) + 1, false)").format(
                sql.Identifier(table)
            ),
            (row[0],),
        )


def _cover_partitions(cur: psycopg2.extensions.cursor, table: str, frame: pd.DataFrame) -> None:
    """Make the time partitions a partitioned table's frame falls in, so its COPY fills
    them directly (not the DEFAULT partition)."""
    if not partitions.is_partitioned(cur) or frame.empty:
        return
    cur.execute("SELECT column_name FROM gridmap_partitioned WHERE table_name = %s", (table,))
    row = cur.fetchone()
    if row and row[0] in frame.columns:
        moments = pd.to_datetime(frame[row[0]], utc=True)
        partitions.cover(cur, table, moments.min().to_pydatetime(), moments.max().to_pydatetime())


def run_load(
    url: str,
    *,
    scale: str = "small",
    seed: int = 7,
    replace: bool = False,
    progress: bool = True,
    anchor: datetime | None = None,
    defer_indexes: bool = True,
    chunk_rows: int = 100_000,
    on_frame: Callable[[str, pd.DataFrame], object] | None = None,
) -> LoadReport:
    """Generate and load the demo city; return counts and timings (see :func:`load_demo`).

    ``defer_indexes`` drops and rebuilds each table's secondary indexes around its COPY;
    ``on_frame(table, frame)`` sees every generated frame before it is loaded.
    """
    if scale not in SCALES:
        raise DemoError(f"Unknown demo scale {scale!r}.", hint=f"use one of {', '.join(SCALES)}")
    anchor = anchor or default_anchor()
    report = LoadReport(scale=scale, seed=seed, anchor=anchor)
    started = time.perf_counter()
    conn = _connect(url)
    table = "(start)"
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit = off")
            busy = _nonempty_tables(cur)
            if busy and not replace:
                raise DemoError(
                    f"The database already holds data ({', '.join(busy)}).",
                    hint="load with replace=True (gridmap demo --replace) to delete it first",
                )
            if replace:
                cur.execute(
                    sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                        sql.SQL(", ").join(map(sql.Identifier, DATA_TABLES))
                    )
                )
                cur.execute("DELETE FROM gridmap_meta WHERE key = ANY(%s)", (list(META_KEYS),))
            tables = CityGenerator(scale, seed, anchor).tables()
            position = 0
            while True:
                t0 = time.perf_counter()
                item = next(tables, None)
                if item is None:
                    break
                table, frame = item
                position += 1
                if on_frame:
                    on_frame(table, frame)
                t1 = time.perf_counter()
                bar = tqdm(
                    total=len(frame),
                    desc=f"{position:2d}/{len(TABLES)} {table}",
                    unit="rows",
                    disable=not progress,
                    dynamic_ncols=True,
                )
                bar.set_postfix_str(f"generated in {t1 - t0:.1f}s")
                _cover_partitions(cur, table, frame)
                indexes = _secondary_indexes(cur, table) if defer_indexes else []
                for name, _ in indexes:
                    cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
                rows = copy_frame(cur, table, frame, chunk_rows=chunk_rows, on_rows=bar.update)
                t2 = time.perf_counter()
                for _, definition in indexes:
                    cur.execute(definition)
                if "id" in frame.columns:
                    _reset_identity(cur, table)
                t3 = time.perf_counter()
                bar.close()
                del frame
                report.counts[table] = rows
                report.stages.append(StageTiming(table, rows, t1 - t0, t2 - t1, t3 - t2))
            fill = SCALES[scale].household_fill
            if fill:
                table = "households (city-wide fill)"
                t0 = time.perf_counter()
                rows = fill_households(cur, fill, seed=seed, anchor=anchor, tz=str(TZ))
                for name, n in rows.items():
                    report.counts[name] = report.counts.get(name, 0) + n
                report.stages.append(
                    StageTiming(table, rows["households"], 0.0, time.perf_counter() - t0, 0.0)
                )
            table = "users (demo accounts)"
            add_demo_accounts(cur)
            table = "gridmap_meta"
            t0 = time.perf_counter()
            meta = {
                "demo_scale": scale,
                "demo_seed": seed,
                "demo_anchor": anchor.isoformat(),
                "demo_counts": report.counts,
                "demo_generator": GENERATOR_VERSION,
            }
            for key, value in meta.items():
                cur.execute(
                    "INSERT INTO gridmap_meta (key, value) VALUES (%s, %s::jsonb) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (key, json.dumps(value, ensure_ascii=False)),
                )
            table = "(partitions)"
            if partitions.is_partitioned(cur):
                partitions.ensure(cur)
            table = "(analyze)"
            cur.execute("ANALYZE")
            report.finish_s = time.perf_counter() - t0
    except psycopg2.Error as exc:
        msg = (exc.pgerror or str(exc)).strip()
        raise DemoError(f"Loading the demo city failed at {table}: {msg}") from exc
    finally:
        conn.close()
    report.total_s = time.perf_counter() - started
    return report


def load_demo(
    url: str,
    *,
    scale: str = "small",
    seed: int = 7,
    replace: bool = False,
    progress: bool = True,
    anchor: datetime | None = None,
) -> dict[str, int]:
    """Generate the demo city for ``(scale, seed, anchor)`` and load it into ``url``.

    ``anchor`` (default: today's midnight, Asia/Shanghai) is the demo's "today"; it is
    recorded in ``gridmap_meta`` as ``demo_anchor``. A database holding data is refused
    unless ``replace`` (which TRUNCATEs every data table first). Returns rows per table,
    in load order. ``progress`` shows one tqdm bar per table.
    """
    report = run_load(
        url, scale=scale, seed=seed, replace=replace, progress=progress, anchor=anchor
    )
    return report.counts
