"""GPS ping ingest: validate a batch, refuse bad fixes into gps_pings_rejected with the
reason, store the rest idempotently and fold the new ones into the edge visit history.

A batch may be out of order and may repeat pings (within itself or already stored, or
already rejected): each (device, instant) is judged once, so sending the same batch twice
changes nothing. Speed jumps are judged against the nearest accepted fix before (stored or
earlier in the batch) and the nearest stored fix after, within ``NEIGHBOUR_S`` seconds.
"""

from __future__ import annotations

import bisect
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg2.errors
from sqlalchemy import Engine

from gridmap.db.copy import copy_arrays
from gridmap.patrols.matching import matcher_for
from gridmap.patrols.visits import TS, US, apply_visits
from gridmap.settings import Settings, get_settings

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: How far (s) before/after a fix the speed check looks for a neighbouring fix.
NEIGHBOUR_S = 600
EARTH_M = 6_371_008.8


@dataclass
class PingBatch:
    """Pings as columns: device ids, times (µs since the epoch), lon, lat, accuracy (m)."""

    device: np.ndarray
    at_us: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    accuracy: np.ndarray

    def __len__(self) -> int:
        return len(self.at_us)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> PingBatch:
        """From columns device_id, at_us, lon, lat, accuracy_m."""
        return cls(
            frame["device_id"].to_numpy(dtype=object),
            frame["at_us"].to_numpy(dtype=np.int64),
            frame["lon"].to_numpy(dtype=float),
            frame["lat"].to_numpy(dtype=float),
            frame["accuracy_m"].to_numpy(dtype=float),
        )


@dataclass
class IngestResult:
    """What a batch did: counts and each refused fix (index in the batch, reason, detail)."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    edges_touched: int = 0
    #: Seconds spent per step (judge, store, match, visits, commit); not part of as_dict().
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected_count": len(self.rejected),
            "rejected": self.rejected,
            "edges_touched": self.edges_touched,
        }


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch (exact)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(us))


def parse_pings(payload: Any) -> PingBatch:
    """A batch from JSON (``{"pings": [...]}`` or a list), checked by the API's model
    (:class:`gridmap.api.patrol_schemas.PingBatchIn`); every malformed entry is named."""
    from gridmap.api.patrol_schemas import PingBatchIn, validated

    if isinstance(payload, list):
        payload = {"pings": payload}
    return batch_of(validated(PingBatchIn, payload))


def batch_of(body: Any) -> PingBatch:
    """The columns of a validated :class:`~gridmap.api.patrol_schemas.PingBatchIn`."""
    pings = body.pings
    return PingBatch(
        np.array([p.device_id for p in pings], dtype=object),
        np.array([to_us(p.at) for p in pings], dtype=np.int64),
        np.array([p.lon for p in pings], dtype=float),
        np.array([p.lat for p in pings], dtype=float),
        np.array([math.nan if p.accuracy_m is None else p.accuracy_m for p in pings], float),
    )


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(h)))


def _haversine(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray) -> np.ndarray:
    """Great-circle distances (m), element-wise (the formula of ``_metres``)."""
    p1, p2 = np.radians(y1), np.radians(y2)
    dp, dl = p2 - p1, np.radians(x2 - x1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))


#: Temp tables the statements below read, dropped at commit (nothing outlives the batch's
#: transaction on a pooled server connection): the batch's distinct devices (dev is
#: 1-based), its first occurrence of each (device, instant) (i: index in the batch; ok:
#: passed the checks that need no stored data) and the indices to store.
DEVICES_SQL = """
CREATE TEMP TABLE IF NOT EXISTS patrol_devices (dev integer, name text) ON COMMIT DROP;
TRUNCATE patrol_devices;
INSERT INTO patrol_devices SELECT dev, name FROM unnest(%s::text[]) WITH ORDINALITY AS n(name, dev);
"""

#: Fixes of the batch refused before (dev NULL, i) and, per device, the stored fixes around
#: its fixes still to judge (dev, at µs, x, y): the nearest one before the first within
#: NEIGHBOUR_S, all between the first and the last, the nearest one after the last.
NEIGHBOURS_SQL = f"""
WITH seen AS (
    SELECT s.i FROM patrol_pings_stage s JOIN patrol_devices d USING (dev)
    JOIN gps_pings_rejected r ON r.device_id = d.name AND r.at = {TS.format("s.at")}
), span AS (
    SELECT s.dev, min(s.at) AS lo, max(s.at) AS hi FROM patrol_pings_stage s
    WHERE s.ok AND s.i NOT IN (SELECT i FROM seen) GROUP BY s.dev
)
SELECT NULL::integer, i, NULL::bigint, NULL::float8, NULL::float8 FROM seen
UNION ALL
SELECT span.dev, NULL, (extract(epoch FROM p.at) * 1000000)::bigint, ST_X(p.geom), ST_Y(p.geom)
FROM span JOIN patrol_devices d USING (dev)
CROSS JOIN LATERAL (
    (SELECT p.at, p.geom FROM gps_pings p
     WHERE p.device_id = d.name AND p.at < {TS.format("span.lo")}
       AND p.at >= {TS.format("span.lo")} - interval '{NEIGHBOUR_S} seconds'
     ORDER BY p.at DESC LIMIT 1)
    UNION ALL
    (SELECT p.at, p.geom FROM gps_pings p
     WHERE p.device_id = d.name AND p.at BETWEEN {TS.format("span.lo")} AND {TS.format("span.hi")})
    UNION ALL
    (SELECT p.at, p.geom FROM gps_pings p
     WHERE p.device_id = d.name AND p.at > {TS.format("span.hi")}
       AND p.at <= {TS.format("span.hi")} + interval '{NEIGHBOUR_S} seconds'
     ORDER BY p.at LIMIT 1)
) p
"""

#: The judged fixes into gps_pings. The judge saw every stored fix at their instants, so
#: only a concurrent batch can conflict: the plain INSERT (a third cheaper than ON CONFLICT,
#: which probes the primary key twice) runs under a savepoint, and on a unique violation
#: the batch is stored again skipping the fixes stored meanwhile.
STORE_SQL = f"""
INSERT INTO gps_pings (device_id, at, accuracy_m, geom)
SELECT d.name, {TS.format("s.at")}, NULLIF(s.acc, 'NaN'),
       ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)
FROM patrol_keep_stage k JOIN patrol_pings_stage s USING (i) JOIN patrol_devices d USING (dev)
ORDER BY s.dev, s.at
"""


def _store(cur) -> int:
    """Insert the kept fixes; the number inserted."""
    cur.execute("SAVEPOINT patrol_store")
    try:
        cur.execute(STORE_SQL)
    except psycopg2.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT patrol_store")
        cur.execute(STORE_SQL + "ON CONFLICT DO NOTHING")
    stored = cur.rowcount
    cur.execute("RELEASE SAVEPOINT patrol_store")
    return stored


#: Non-finite coordinates are stored as NULL (abs(NaN) sorts above 'Infinity').
REJECT_SQL = f"""
INSERT INTO gps_pings_rejected (device_id, at, lon, lat, accuracy_m, reason, detail)
SELECT d.name, {TS.format("s.at")},
       CASE WHEN abs(s.lon) < 'Infinity' THEN s.lon END,
       CASE WHEN abs(s.lat) < 'Infinity' THEN s.lat END,
       NULLIF(s.acc, 'NaN'), r.reason, r.detail
FROM unnest(%s::integer[], %s::text[], %s::text[]) AS r(i, reason, detail)
JOIN patrol_pings_stage s USING (i) JOIN patrol_devices d USING (dev)
ON CONFLICT DO NOTHING
"""


@dataclass
class _Verdict:
    keep: np.ndarray
    rejected: list[tuple[int, str, str]]
    duplicates: int


def _judge(batch: PingBatch, cur, settings: Settings, now_us: int) -> _Verdict:
    """Which fixes to store, which to refuse (index, reason, detail), how many duplicates;
    stages the batch in the transaction's temp tables for the inserts."""
    n = len(batch)
    codes, names = pd.factorize(batch.device, sort=True)
    order = np.lexsort((batch.at_us, codes))  # stable: the first occurrence leads its ties
    again = np.zeros(n, dtype=bool)
    again[1:] = (codes[order][1:] == codes[order][:-1]) & (
        batch.at_us[order][1:] == batch.at_us[order][:-1]
    )
    firsts = order[~again]  # in (device, time) order
    x, y, acc, at = (
        batch.lon[firsts],
        batch.lat[firsts],
        batch.accuracy[firsts],
        batch.at_us[firsts],
    )
    with np.errstate(invalid="ignore"):
        bad_xy = ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90))
        future = ~bad_xy & (at > now_us + settings.patrol_future_s * US)
        vague = ~bad_xy & ~future & np.isfinite(acc) & (acc > settings.patrol_max_accuracy_m)
    ok = ~(bad_xy | future | vague)
    cur.execute(DEVICES_SQL, (list(names),))
    copy_arrays(
        cur,
        "patrol_pings_stage",
        {
            "i": firsts.astype(np.int32),
            "dev": (codes[firsts] + 1).astype(np.int32),
            "at": at,
            "lon": x,
            "lat": y,
            "acc": acc,
            "ok": ok,
        },
    )
    cur.execute(NEIGHBOURS_SQL)
    rows = cur.fetchall()
    seen = np.isin(firsts, [r[1] for r in rows if r[0] is None])
    stored = [r for r in rows if r[0] is not None]
    duplicates = n - len(firsts) + int(seen.sum())
    rejected: list[tuple[int, str, str]] = []
    max_acc = settings.patrol_max_accuracy_m
    for i in firsts[bad_xy & ~seen]:
        rejected.append((int(i), "coordinates", "lon/lat outside -180..180 / -90..90"))
    for i in firsts[future & ~seen]:
        rejected.append((int(i), "future", "dated after the server's clock"))
    for i in firsts[vague & ~seen]:
        detail = f"accuracy {batch.accuracy[i]:g} m is worse than {max_acc:g} m"
        rejected.append((int(i), "accuracy", detail))
    alive = firsts[ok & ~seen]
    if len(alive) == 0:
        return _Verdict(alive, rejected, duplicates)
    keep, too_fast, stored_dups = _speed_check(
        batch, codes[alive] + 1, alive, stored, settings.patrol_max_speed_mps
    )
    return _Verdict(keep, rejected + too_fast, duplicates + stored_dups)


def _speed(at: np.ndarray, x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray):
    """Speed (m/s) between fixes ``a`` and ``b`` (positions), over at least one second."""
    dt = np.maximum(np.abs(at[a] - at[b]) / US, 1.0)
    return _haversine(x[a], y[a], x[b], y[b]) / dt


def _speed_check(
    batch: PingBatch, dev: np.ndarray, idx: np.ndarray, stored: list[tuple], max_speed: float
) -> tuple[np.ndarray, list[tuple[int, str, str]], int]:
    """Fixes ``idx`` (of devices ``dev``, sorted by device and time) against their
    neighbours: the previous fix (stored or kept from the batch) and the next stored one.
    Vectorised assuming every fix is kept; the devices where that finds a fix too fast (or
    within 1e-9 of the limit) are judged one fix at a time by ``_judge_device``, so the
    outcome is the sequential one. Returns the indices to keep, the refused fixes and the
    number of fixes already stored."""
    s_dev = np.array([r[0] for r in stored], dtype=np.int64)
    s_at = np.array([r[2] for r in stored], dtype=np.int64)
    s_x = np.array([r[3] for r in stored], dtype=float)
    s_y = np.array([r[4] for r in stored], dtype=float)
    m_dev = np.concatenate([s_dev, dev])
    m_at = np.concatenate([s_at, batch.at_us[idx]])
    m_ref = np.concatenate([np.full(len(s_dev), -1), idx])  # batch index, -1 when stored
    order = np.lexsort((m_ref >= 0, m_at, m_dev))  # at a tie, the stored fix first
    m_dev, m_at, m_ref = m_dev[order], m_at[order], m_ref[order]
    m_x = np.concatenate([s_x, batch.lon[idx]])[order]
    m_y = np.concatenate([s_y, batch.lat[idx]])[order]
    dup = np.zeros(len(m_dev), dtype=bool)  # a batch fix already stored
    dup[1:] = (m_dev[1:] == m_dev[:-1]) & (m_at[1:] == m_at[:-1]) & (m_ref[1:] >= 0)
    dup_dev = m_dev[dup]
    live = ~dup
    m_dev, m_at, m_x, m_y, m_ref = (a[live] for a in (m_dev, m_at, m_x, m_y, m_ref))
    pos = np.nonzero(m_ref >= 0)[0]
    suspect = np.zeros(len(pos), dtype=bool)
    limit = max_speed * (1 - 1e-9)
    has_prev = (pos > 0) & (m_dev[pos - 1] == m_dev[pos])
    a, b = pos[has_prev], pos[has_prev] - 1
    suspect[has_prev] = _speed(m_at, m_x, m_y, a, b) > limit
    stored_pos = np.nonzero(m_ref < 0)[0]
    if len(stored_pos):
        k = np.minimum(np.searchsorted(stored_pos, pos, side="right"), len(stored_pos) - 1)
        nxt = stored_pos[k]
        has_next = (nxt > pos) & (m_dev[nxt] == m_dev[pos])
        a, b = pos[has_next], nxt[has_next]
        suspect[has_next] |= _speed(m_at, m_x, m_y, a, b) > limit
    slow = np.unique(m_dev[pos[suspect]])
    recheck = np.isin(m_dev[pos], slow)
    keep = [m_ref[pos[~recheck]]]
    refused: list[tuple[int, str, str]] = []
    stored_dups = int((~np.isin(dup_dev, slow)).sum())
    for d in slow:
        mine = s_dev == d
        known = sorted(zip(*(a[mine].tolist() for a in (s_at, s_x, s_y)), strict=True))
        kept, too_fast, dups = _judge_device(batch, known, idx[dev == d], max_speed)
        keep.append(np.array(kept, dtype=np.int64))
        refused += too_fast
        stored_dups += dups
    return np.sort(np.concatenate(keep)), refused, stored_dups


def _judge_device(
    batch: PingBatch, known: list[tuple[int, float, float]], idx: np.ndarray, max_speed: float
) -> tuple[list[int], list[tuple[int, str, str]], int]:
    """One device's fixes ``idx`` (in time order), one at a time, against its stored fixes
    ``known`` (at µs, lon, lat; sorted) and the fixes kept before them."""
    times = [k[0] for k in known]
    known_times = set(times)
    prev: tuple[int, float, float] | None = None
    keep: list[int] = []
    refused: list[tuple[int, str, str]] = []
    dups = k = 0
    for i in idx.tolist():
        at = int(batch.at_us[i])
        while k < len(known) and known[k][0] < at:
            prev = known[k] if prev is None or known[k][0] > prev[0] else prev
            k += 1
        if at in known_times:
            dups += 1
            continue
        x, y = float(batch.lon[i]), float(batch.lat[i])
        nxt_pos = bisect.bisect_right(times, at)
        nxt = known[nxt_pos] if nxt_pos < len(known) else None
        reason = None
        for other in (prev, nxt):
            if other is None:
                continue
            dt = max(abs(at - other[0]) / US, 1.0)
            speed = _metres(x, y, other[1], other[2]) / dt
            if speed > max_speed:
                when = from_us(other[0]).isoformat()
                reason = f"{speed:.1f} m/s from the fix at {when} (max {max_speed:g} m/s)"
                break
        if reason:
            refused.append((i, "speed", reason))
            continue
        keep.append(i)
        prev = (at, x, y)
    return keep, refused, dups


def _lap(timings: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    timings[name] = round(now - since, 4)
    return now


def ingest_pings(
    engine: Engine,
    batch: PingBatch,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Store a batch (one transaction): accepted fixes into gps_pings, refused ones into
    gps_pings_rejected, new fixes matched to streets and folded into the visit tables."""
    settings = settings or get_settings()
    now_us = to_us(now or datetime.now(UTC))
    result = IngestResult(received=len(batch))
    # The matcher (its road_edges check reads on a connection of its own) is had before the
    # batch's transaction opens: a transaction waiting on a second connection could wait
    # for ever when every pooled server connection (pgbouncer) is held by such a batch.
    matcher = matcher_for(engine)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            tick = time.perf_counter()
            verdict = _judge(batch, cur, settings, now_us)
            result.duplicates = verdict.duplicates
            tick = _lap(result.timings, "judge", tick)
            if verdict.rejected:
                refused = sorted(verdict.rejected)
                cur.execute(REJECT_SQL, tuple(map(list, zip(*refused, strict=True))))
                result.rejected = [
                    {
                        "index": i,
                        "device_id": batch.device[i],
                        "at": from_us(batch.at_us[i]).isoformat(),
                        "reason": reason,
                        "detail": detail,
                    }
                    for i, reason, detail in refused
                ]
            keep = verdict.keep
            if len(keep):
                copy_arrays(cur, "patrol_keep_stage", {"i": keep.astype(np.int32)})
                result.accepted = _store(cur)
                # a concurrent batch may have stored some first; folding them in again
                # changes nothing (the visit upserts only widen)
                result.duplicates += len(keep) - result.accepted
                tick = _lap(result.timings, "store", tick)
                edges = matcher.match(batch.lon[keep], batch.lat[keep], settings.patrol_match_m)
                tick = _lap(result.timings, "match", tick)
                result.edges_touched = apply_visits(cur, batch.at_us[keep], edges)
                tick = _lap(result.timings, "visits", tick)
        raw.commit()
        _lap(result.timings, "commit", tick)
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    return result
