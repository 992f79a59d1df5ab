"""Edge visit history: matched pings folded into edge_visits (per edge per 5-minute
bucket: first and last ping) and edge_last_visit, incrementally or rebuilt whole."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from gridmap.db.copy import copy_arrays
from gridmap.patrols.matching import BUCKET_S, EdgeMatcher

US = 1_000_000
#: Microseconds since the epoch as a timestamptz, in SQL.
TS = "(timestamptz 'epoch' + {} * interval '1 microsecond')"


def bucket_rows(at_us: np.ndarray, edge: np.ndarray) -> dict[str, np.ndarray]:
    """Matched pings (``edge`` >= 0) grouped per edge and bucket: first and last time (µs),
    as columns edge_id, bucket, first_at, last_at (sorted by edge and bucket)."""
    keep = edge >= 0
    edge, at = np.asarray(edge[keep], dtype=np.int64), np.asarray(at_us[keep], dtype=np.int64)
    bucket = (at // (BUCKET_S * US)) * (BUCKET_S * US)
    order = np.lexsort((at, bucket, edge))
    edge, bucket, at = edge[order], bucket[order], at[order]
    start = np.ones(len(at), dtype=bool)
    start[1:] = (edge[1:] != edge[:-1]) | (bucket[1:] != bucket[:-1])
    first = np.nonzero(start)[0]
    last = np.append(first[1:], len(at))[: len(first)] - 1  # no ping matched: both empty
    return {
        "edge_id": edge[first],
        "bucket": bucket[first],
        "first_at": at[first],
        "last_at": at[last],
    }


def _stage(cur, rows: dict[str, np.ndarray]) -> None:
    copy_arrays(cur, "patrol_visits_stage", rows)


def apply_visits(cur, at_us: np.ndarray, edge: np.ndarray) -> int:
    """Fold matched pings into the visit tables (idempotent: only widens); returns the
    number of distinct edges touched."""
    rows = bucket_rows(at_us, edge)
    if len(rows["edge_id"]) == 0:
        return 0
    _stage(cur, rows)
    cur.execute(
        f"""
        INSERT INTO edge_visits (edge_id, bucket, first_at, last_at)
        SELECT edge_id, {TS.format("bucket")}, {TS.format("first_at")}, {TS.format("last_at")}
        FROM patrol_visits_stage
        ON CONFLICT (edge_id, bucket) DO UPDATE
            SET first_at = LEAST(edge_visits.first_at, EXCLUDED.first_at),
                last_at = GREATEST(edge_visits.last_at, EXCLUDED.last_at)
            WHERE EXCLUDED.first_at < edge_visits.first_at
               OR EXCLUDED.last_at > edge_visits.last_at
        """
    )
    cur.execute(
        f"""
        INSERT INTO edge_last_visit (edge_id, last_at)
        SELECT edge_id, {TS.format("max(last_at)")} FROM patrol_visits_stage
        GROUP BY edge_id ORDER BY edge_id
        ON CONFLICT (edge_id) DO UPDATE SET last_at = EXCLUDED.last_at
            WHERE EXCLUDED.last_at > edge_last_visit.last_at
        """
    )
    return len(np.unique(rows["edge_id"]))


def replace_visits(cur, rows: dict[str, np.ndarray], oldest_us: int | None) -> None:
    """Replace the visit tables by ``rows`` (:func:`bucket_rows`) rebuilt from every stored
    ping, the oldest at ``oldest_us`` (None: no ping), in the caller's transaction."""
    # Buckets older than the oldest stored ping stay: their pings may be gone by
    # retention (GRIDMAP_PING_RETENTION_DAYS), the aggregates are kept.
    # (no ping at all: nothing to rebuild from, every bucket stays).
    if oldest_us is not None:
        kept = TS.format(oldest_us // (BUCKET_S * US) * (BUCKET_S * US))
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM edge_visits WHERE bucket < {kept})")
        if cur.fetchone()[0]:
            cur.execute(f"DELETE FROM edge_visits WHERE bucket >= {kept}")
        else:
            cur.execute("TRUNCATE edge_visits")
    cur.execute("TRUNCATE edge_last_visit")
    _stage(cur, rows)
    cur.execute(
        f"""
        INSERT INTO edge_visits (edge_id, bucket, first_at, last_at)
        SELECT edge_id, {TS.format("bucket")}, {TS.format("first_at")},
               {TS.format("last_at")}
        FROM patrol_visits_stage
        """
    )
    cur.execute(
        """
        INSERT INTO edge_last_visit (edge_id, last_at)
        SELECT edge_id, max(last_at) FROM edge_visits GROUP BY edge_id
        """
    )
    cur.execute("ANALYZE edge_visits")


def read_pings(
    conn, max_accuracy_m: float, area: tuple[float | None, ...] | None = None
) -> pd.DataFrame:
    """Every stored ping at least as accurate as ``max_accuracy_m``: at (µs), lon, lat;
    ``area`` (lon0, lon1, lat0, lat1; None: unbounded): only those with lon0 <= lon < lon1
    and lat0 <= lat < lat1."""
    where = [f"coalesce(accuracy_m, 0) <= {float(max_accuracy_m)!r}"]
    if area is not None:
        tests = (
            "ST_X(geom) >= {!r}",
            "ST_X(geom) < {!r}",
            "ST_Y(geom) >= {!r}",
            "ST_Y(geom) < {!r}",
        )
        where += [t.format(float(v)) for v, t in zip(area, tests, strict=True) if v is not None]
    buf = io.StringIO()
    with conn.cursor() as cur:
        cur.copy_expert(
            "COPY (SELECT (extract(epoch FROM at) * 1000000)::bigint, ST_X(geom), ST_Y(geom) "
            f"FROM gps_pings WHERE {' AND '.join(where)}) TO STDOUT WITH (FORMAT csv)",
            buf,
        )
    buf.seek(0)
    return pd.read_csv(
        buf, header=None, names=["at", "lon", "lat"], dtype={"at": np.int64}, engine="c"
    )


def rebuild_visits(
    conn,
    matcher: EdgeMatcher,
    *,
    max_accuracy_m: float,
    match_m: float,
    chunk: int = 1_000_000,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Recompute the visit tables from every stored ping (in one transaction of ``conn``),
    keeping the buckets older than the oldest ping;
    returns counts and the seconds of each step (read, match, write)."""
    t0 = time.perf_counter()
    pings = read_pings(conn, max_accuracy_m)
    t1 = time.perf_counter()
    at = pings["at"].to_numpy()
    lon, lat = pings["lon"].to_numpy(), pings["lat"].to_numpy()
    edge = np.empty(len(pings), dtype=np.int64)
    for start in range(0, len(pings), chunk):
        stop = min(start + chunk, len(pings))
        edge[start:stop] = matcher.match(lon[start:stop], lat[start:stop], match_m)
        if progress:
            progress(stop, len(pings))
    t2 = time.perf_counter()
    rows = bucket_rows(at, edge)
    with conn.cursor() as cur:
        replace_visits(cur, rows, int(at.min()) if len(at) else None)
    return {
        "pings": len(pings),
        "matched": int((edge >= 0).sum()),
        "visits": len(rows["edge_id"]),
        "edges": len(np.unique(rows["edge_id"])),
        "read_s": round(t1 - t0, 2),
        "match_s": round(t2 - t1, 2),
        "write_s": round(time.perf_counter() - t2, 2),
    }
