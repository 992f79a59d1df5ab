"""Retention of raw GPS pings (issue 16, item 1): dropping a day of pings as a whole
partition vs ``DELETE`` of the same rows from one unpartitioned table.

    .venv/bin/python benchmarks/bench_partitions.py [--pings-per-day 6400000] [--days 2]
        [--cases 4000000] [--out FILE]

Makes its own database ``gridmap_bench_partitions`` (migrated: gps_pings partitioned by UTC
day) and fills, by SQL (``generate_series``), ``--days`` days of pings (``--pings-per-day``
each: 2,000 devices × one fix every 27 s is the issue's 6.4M/day) into ``gps_pings`` and the
same rows into ``flat_pings``, a plain table like gps_pings before migration 0029 (primary
key (device_id, at), index on at). Then, in one transaction each, the oldest day goes:

- partitioned: ``gridmap_partitions_drop_before`` (DROP TABLE of the day's partition);
- unpartitioned: ``DELETE FROM flat_pings WHERE at < <end of that day>``, then the
  ``VACUUM`` that the dead rows need before their space is reused.

Both are measured to commit, with the machine's load averages (other work shares its
2 cores).

Cases stay one table (see migration 0030); to check that choice, ``--cases`` rows over 365
days go into ``flat_cases`` (like cases, index on reported_at) and into ``part_cases`` (the
same, partitioned by month), and a dashboard's 30-day window (counts by category and
status) and its raw heatmap (counts in ~500 m cells) are timed on each (median of 5, after
one warm-up). ``--cases-only`` measures only that and keeps the file's ping figures.

Results go to ``benchmarks/results/partitions.json``; the database is dropped unless
``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

from gridmap.db.engine import database_url, drop_database, ensure_database  # noqa: E402
from gridmap.db.migrations import upgrade  # noqa: E402
from gridmap.settings import get_settings  # noqa: E402

DB_NAME = "gridmap_bench_partitions"
OUT = ROOT / "benchmarks" / "results" / "partitions.json"
DEVICES = 2000

FILL = """
INSERT INTO {table} (device_id, at, accuracy_m, geom)
SELECT 'dev' || mod(n, %(devices)s),
       %(day)s::timestamptz + (n / %(devices)s) * %(step)s::bigint * interval '1 microsecond',
       5 + mod(n, 7),
       ST_SetSRID(ST_MakePoint(120.1 + mod(n, 997) * 1e-4, 30.2 + mod(n, 991) * 1e-4), 4326)
FROM generate_series(0, %(rows)s - 1) n
"""


def bench_url() -> str:
    return make_url(database_url()).set(database=DB_NAME).render_as_string(hide_password=False)


def timed(conn, statements: list[str], params: dict | None = None) -> float:
    t0 = time.perf_counter()
    with conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql, params)
    return round(time.perf_counter() - t0, 3)


CASES_FILL = """
INSERT INTO {table} (id, code, title, category, source, status, reported_at, updated_at,
                     grid_id, geom)
SELECT n, 'B' || n, 't', (ARRAY['市容环境', '治安', '民生', '消防', '交通'])[1 + mod(n, 5)],
       'hotline_12345', (ARRAY['reported', 'dispatched', 'resolved', 'closed'])[1 + mod(n, 4)],
       %(end)s::timestamptz - (n::float8 / %(rows)s) * interval '365 days',
       %(end)s::timestamptz, mod(n, 10000),
       ST_SetSRID(ST_MakePoint(120.0 + mod(n::bigint * 7919, 4001) * 1e-4,
                               30.1 + mod(n::bigint * 104729, 3001) * 1e-4), 4326)
FROM generate_series(1, %(rows)s) n
"""
WINDOW = """
SELECT category, status, count(*) FROM {table}
WHERE reported_at >= %(end)s::timestamptz - interval '30 days' AND reported_at < %(end)s
GROUP BY 1, 2
"""
#: The raw heatmap of the same window: counts in ~500 m cells. (The served heatmap reads the
#: per-day rollup ``case_heat_days`` for whole days and the cases table only for today.)
HEAT = """
SELECT floor(ST_X(geom) / 0.005)::int, floor(ST_Y(geom) / 0.005)::int, count(*) FROM {table}
WHERE reported_at >= %(end)s::timestamptz - interval '30 days' AND reported_at < %(end)s
GROUP BY 1, 2
"""


def case_window(conn, rows: int) -> dict:
    """A 30-day window of cases, one table vs partitioned by month (see the docstring)."""
    end = datetime.now(UTC).replace(microsecond=0)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE flat_cases (LIKE cases INCLUDING DEFAULTS)")
        cur.execute(
            "CREATE TABLE part_cases (LIKE cases INCLUDING DEFAULTS) "
            "PARTITION BY RANGE (reported_at)"
        )
        for m in range(-13, 2):
            cur.execute(
                "SELECT date_trunc('month', now(), 'UTC') + make_interval(months => %s)", (m,)
            )
            lo = cur.fetchone()[0]
            cur.execute(
                f"CREATE TABLE part_cases_{m + 13} PARTITION OF part_cases "
                "FOR VALUES FROM (%s) TO (%s::timestamptz + interval '1 month')",
                (lo, lo),
            )
        for table in ("flat_cases", "part_cases"):
            cur.execute(f"CREATE INDEX ON {table} (reported_at)")
    fill_s = {}
    for table in ("flat_cases", "part_cases"):
        fill_s[table] = timed(conn, [CASES_FILL.format(table=table)], {"rows": rows, "end": end})
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE flat_cases")
        cur.execute("VACUUM ANALYZE part_cases")
    conn.autocommit = False
    load = os.getloadavg()
    out: dict = {"cases": rows, "fill_s": fill_s, "load_average": [round(x, 2) for x in load]}
    for name, query in (("window", WINDOW), ("heat", HEAT)):
        for table in ("flat_cases", "part_cases"):
            times = []
            for _ in range(6):
                times.append(timed(conn, [query.format(table=table)], {"end": end}))
            out[f"{table}_{name}_ms_median"] = round(statistics.median(times[1:]) * 1000, 1)
            with conn, conn.cursor() as cur:
                cur.execute("EXPLAIN " + query.format(table=table), {"end": end})
                out[f"{table}_{name}_plan"] = [line for (line,) in cur.fetchall()][:6]
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pings-per-day", type=int, default=6_400_000)
    parser.add_argument("--days", type=int, default=2, help="days filled (the oldest goes)")
    parser.add_argument("--cases", type=int, default=4_000_000, help="0: no case window")
    parser.add_argument("--out", type=Path, default=OUT, help="results JSON")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--cases-only", action="store_true", help="only the case window; keep the ping figures"
    )
    args = parser.parse_args()
    if args.cases_only:
        cases_only(args)
        return

    load_before = os.getloadavg()
    url = bench_url()
    drop_database(url)
    ensure_database(url)
    upgrade(url, get_settings().sql_dir / "migrations")
    conn = psycopg2.connect(url)
    # Days well in the past: whole UTC days, none of them today's.
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=10
    )
    days = [first + timedelta(days=d) for d in range(args.days)]
    step_us = 86_400_000_000 * DEVICES // args.pings_per_day
    fill_s: dict[str, float] = {}
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE flat_pings (LIKE gps_pings INCLUDING ALL)")
        cur.execute("SELECT gridmap_partitions_cover('gps_pings', %s, %s)", (days[0], days[-1]))
    for table in ("gps_pings", "flat_pings"):
        t0 = time.perf_counter()
        for day in days:
            params = {"devices": DEVICES, "day": day, "step": step_us, "rows": args.pings_per_day}
            timed(conn, [FILL.format(table=table)], params)
        fill_s[table] = round(time.perf_counter() - t0, 1)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE gps_pings")
        cur.execute("VACUUM ANALYZE flat_pings")
    conn.autocommit = False
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM gps_pings")
        partitioned_rows = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM flat_pings")
        flat_rows = cur.fetchone()[0]
        cur.execute("SELECT pg_total_relation_size('flat_pings')")
        flat_bytes = cur.fetchone()[0]
    cutoff = days[0] + timedelta(days=1)

    load_measure = os.getloadavg()
    drop_s = timed(
        conn, ["SELECT gridmap_partitions_drop_before('gps_pings', %(c)s)"], {"c": cutoff}
    )
    delete_s = timed(conn, ["DELETE FROM flat_pings WHERE at < %(c)s"], {"c": cutoff})
    conn.autocommit = True
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute("VACUUM flat_pings")
    vacuum_s = round(time.perf_counter() - t0, 3)
    conn.autocommit = False
    with conn, conn.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM gps_pings), (SELECT count(*) FROM flat_pings)")
        left = cur.fetchone()
    window = case_window(conn, args.cases) if args.cases else None
    conn.close()
    if not args.keep:
        drop_database(url)

    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_at_measure": [round(x, 2) for x in load_measure],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "pings_per_day": args.pings_per_day,
        "days_filled": args.days,
        "devices": DEVICES,
        "rows": {"partitioned": partitioned_rows, "unpartitioned": flat_rows},
        "unpartitioned_bytes": flat_bytes,
        "fill_s": fill_s,
        "drop_one_day": {
            "partition_drop_s": drop_s,
            "delete_s": delete_s,
            "delete_then_vacuum_s": round(delete_s + vacuum_s, 3),
            "vacuum_s": vacuum_s,
            "speedup_vs_delete": round(delete_s / max(drop_s, 1e-3), 1),
            "rows_left": {"partitioned": left[0], "unpartitioned": left[1]},
        },
        "case_window_30d": window,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


def cases_only(args: argparse.Namespace) -> None:
    """Measure the case window and heatmap again into the results file's ``case_window_30d``."""
    url = bench_url()
    drop_database(url)
    ensure_database(url)
    upgrade(url, get_settings().sql_dir / "migrations")
    conn = psycopg2.connect(url)
    window = case_window(conn, args.cases)
    conn.close()
    if not args.keep:
        drop_database(url)
    result = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    result["case_window_30d"] = window
    result["case_window_measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(window, indent=2))


if __name__ == "__main__":
    main()
