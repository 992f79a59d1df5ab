"""GPS ping ingest: validate a batch, refuse bad fixes into gps_pings_rejected with the
reason, store the rest idempotently and fold the new ones into the edge visit history.

A batch may be out of order and may repeat pings (within itself or already stored, or
already rejected): each (device, instant) is judged once, so sending the same batch twice
changes nothing. Speed jumps are judged against the nearest accepted fix before (stored or
earlier in the batch) and the nearest stored fix after, within ``NEIGHBOUR_S`` seconds.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from gridmap.patrols.errors import PatrolValidationError, Problem
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


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def parse_pings(payload: Any, settings: Settings | None = None) -> PingBatch:
    """A batch from JSON (``{"pings": [...]}`` or a list); every malformed entry is named."""
    settings = settings or get_settings()
    items = payload.get("pings") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise PatrolValidationError([Problem("pings", "must be a list of pings")])
    if not items:
        raise PatrolValidationError([Problem("pings", "is empty")])
    if len(items) > settings.patrol_max_batch:
        raise PatrolValidationError(
            [Problem("pings", f"has {len(items)} pings; at most {settings.patrol_max_batch}")]
        )
    zone = ZoneInfo(settings.cases_timezone)
    problems: list[Problem] = []
    device, at, lon, lat, acc = [], [], [], [], []
    for i, item in enumerate(items):
        where = f"pings[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(where, "must be an object"))
            continue
        dev = item.get("device_id")
        if not isinstance(dev, str) or not dev.strip() or len(dev) > 64:
            problems.append(Problem(f"{where}.device_id", "must be a text of 1-64 characters"))
        raw_at = item.get("at")
        moment = None
        if isinstance(raw_at, str):
            with contextlib.suppress(ValueError):
                moment = datetime.fromisoformat(raw_at.strip().replace("Z", "+00:00"))
        if moment is None:
            problems.append(Problem(f"{where}.at", "must be an ISO 8601 date-time"))
        elif moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        x, y = _number(item.get("lon")), _number(item.get("lat"))
        if x is None or y is None:
            problems.append(Problem(where, "needs numbers lon and lat"))
        raw_acc = item.get("accuracy_m", item.get("accuracy"))
        a = _number(raw_acc)
        if raw_acc is not None and (a is None or a < 0):
            problems.append(Problem(f"{where}.accuracy_m", "must be a number >= 0"))
        if len(problems) >= 20:
            break
        if not problems:
            device.append(dev.strip())
            at.append(to_us(moment))
            lon.append(x)
            lat.append(y)
            acc.append(math.nan if a is None else a)
    if problems:
        raise PatrolValidationError(problems)
    return PingBatch(
        np.array(device, dtype=object),
        np.array(at, dtype=np.int64),
        np.array(lon, dtype=float),
        np.array(lat, dtype=float),
        np.array(acc, dtype=float),
    )


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(h)))


NEIGHBOURS_SQL = f"""
SELECT d.device_id, (extract(epoch FROM s.at) * 1000000)::bigint, ST_X(s.geom), ST_Y(s.geom)
FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS d(device_id, lo, hi)
CROSS JOIN LATERAL (
    (SELECT p.at, p.geom FROM gps_pings p
     WHERE p.device_id = d.device_id AND p.at < {TS.format("d.lo")}
       AND p.at >= {TS.format("d.lo")} - interval '{NEIGHBOUR_S} seconds'
     ORDER BY p.at DESC LIMIT 1)
    UNION ALL
    (SELECT p.at, p.geom FROM gps_pings p
     WHERE p.device_id = d.device_id AND p.at BETWEEN {TS.format("d.lo")} AND {TS.format("d.hi")})
    UNION ALL
    (SELECT p.at, p.geom FROM gps_pings p
     WHERE p.device_id = d.device_id AND p.at > {TS.format("d.hi")}
       AND p.at <= {TS.format("d.hi")} + interval '{NEIGHBOUR_S} seconds'
     ORDER BY p.at LIMIT 1)
) s
"""

REJECTED_KEYS_SQL = f"""
SELECT r.device_id, (extract(epoch FROM r.at) * 1000000)::bigint
FROM unnest(%s::text[], %s::bigint[]) AS k(device_id, at_us)
JOIN gps_pings_rejected r ON r.device_id = k.device_id AND r.at = {TS.format("k.at_us")}
"""


def _judge(
    batch: PingBatch, cur, settings: Settings, now_us: int
) -> tuple[np.ndarray, list[tuple[int, str, str]], int]:
    """Indices of the fixes to store, the refused ones (index, reason, detail) and the
    number of duplicates."""
    n = len(batch)
    order = np.lexsort((batch.at_us, batch.device))
    first = np.ones(n, dtype=bool)
    keys = list(zip(batch.device[order], batch.at_us[order], strict=True))
    for j in range(1, n):
        if keys[j] == keys[j - 1]:
            first[order[j]] = False
    # fixes refused before are duplicates too (judged once)
    firsts = np.nonzero(first)[0]
    cur.execute(
        REJECTED_KEYS_SQL,
        (list(batch.device[firsts]), [int(v) for v in batch.at_us[firsts]]),
    )
    seen_rejected = {(d, int(t)) for d, t in cur.fetchall()}
    if seen_rejected:
        for i in firsts:
            if (batch.device[i], int(batch.at_us[i])) in seen_rejected:
                first[i] = False
    duplicates = int((~first).sum())
    rejected: list[tuple[int, str, str]] = []
    alive = first.copy()
    max_acc, max_speed = settings.patrol_max_accuracy_m, settings.patrol_max_speed_mps
    for i in np.nonzero(first)[0]:
        x, y, a = batch.lon[i], batch.lat[i], batch.accuracy[i]
        if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
            rejected.append((int(i), "coordinates", "lon/lat outside -180..180 / -90..90"))
        elif batch.at_us[i] > now_us + settings.patrol_future_s * US:
            rejected.append((int(i), "future", "dated after the server's clock"))
        elif math.isfinite(a) and a > max_acc:
            rejected.append((int(i), "accuracy", f"accuracy {a:g} m is worse than {max_acc:g} m"))
        else:
            continue
        alive[i] = False
    idx = np.nonzero(alive)[0]
    if len(idx) == 0:
        return idx, rejected, duplicates
    frame = pd.DataFrame({"device": batch.device[idx], "at": batch.at_us[idx], "i": idx})
    span = frame.groupby("device")["at"].agg(["min", "max"])
    cur.execute(
        NEIGHBOURS_SQL,
        (list(span.index), [int(v) for v in span["min"]], [int(v) for v in span["max"]]),
    )
    stored: dict[str, list[tuple[int, float, float]]] = {}
    for dev, at, x, y in cur.fetchall():
        stored.setdefault(dev, []).append((int(at), x, y))
    keep: list[int] = []
    for dev, group in frame.sort_values(["device", "at"]).groupby("device", sort=False):
        known = sorted(stored.get(dev, []))
        times = [k[0] for k in known]
        known_times = set(times)
        prev: tuple[int, float, float] | None = None
        k = 0
        for at, i in zip(group["at"].to_numpy(), group["i"].to_numpy(), strict=True):
            at = int(at)
            while k < len(known) and known[k][0] < at:
                prev = known[k] if prev is None or known[k][0] > prev[0] else prev
                k += 1
            if at in known_times:
                duplicates += 1
                continue
            x, y = batch.lon[i], batch.lat[i]
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
                rejected.append((int(i), "speed", reason))
                continue
            keep.append(int(i))
            prev = (at, x, y)
    return np.array(sorted(keep), dtype=np.int64), rejected, duplicates


def _lap(timings: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    timings[name] = round(now - since, 4)
    return now


def _copy_rows(cur, table: str, frame: pd.DataFrame) -> None:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False, na_rep="")
    buf.seek(0)
    cur.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv)", buf)


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
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            tick = time.perf_counter()
            keep, rejected, result.duplicates = _judge(batch, cur, settings, now_us)
            tick = _lap(result.timings, "judge", tick)
            if rejected:
                ri = np.array([r[0] for r in rejected], dtype=np.int64)
                rows = pd.DataFrame(
                    {
                        "device_id": batch.device[ri],
                        "at": batch.at_us[ri],
                        "lon": batch.lon[ri],
                        "lat": batch.lat[ri],
                        "accuracy_m": batch.accuracy[ri],
                        "reason": [r[1] for r in rejected],
                        "detail": [r[2] for r in rejected],
                    }
                )
                for col in ("lon", "lat"):  # non-finite coordinates are stored as NULL
                    rows.loc[~np.isfinite(rows[col]), col] = np.nan
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS patrol_rejected_in (device_id text, "
                    "at bigint, lon float8, lat float8, accuracy_m real, reason text, detail text)"
                )
                cur.execute("TRUNCATE patrol_rejected_in")
                _copy_rows(cur, "patrol_rejected_in", rows)
                cur.execute(
                    "INSERT INTO gps_pings_rejected "
                    "(device_id, at, lon, lat, accuracy_m, reason, detail) "
                    f"SELECT device_id, {TS.format('at')}, lon, lat, accuracy_m, reason, detail "
                    "FROM patrol_rejected_in ON CONFLICT DO NOTHING"
                )
                result.rejected = [
                    {
                        "index": i,
                        "device_id": batch.device[i],
                        "at": from_us(batch.at_us[i]).isoformat(),
                        "reason": reason,
                        "detail": detail,
                    }
                    for i, reason, detail in sorted(rejected)
                ]
            if len(keep):
                rows = pd.DataFrame(
                    {
                        "device_id": batch.device[keep],
                        "at": batch.at_us[keep],
                        "lon": batch.lon[keep],
                        "lat": batch.lat[keep],
                        "accuracy_m": batch.accuracy[keep],
                    }
                )
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS patrol_pings_in "
                    "(device_id text, at bigint, lon float8, lat float8, accuracy_m real)"
                )
                cur.execute("TRUNCATE patrol_pings_in")
                _copy_rows(cur, "patrol_pings_in", rows)
                cur.execute(
                    "INSERT INTO gps_pings (device_id, at, accuracy_m, geom) "
                    f"SELECT device_id, {TS.format('at')}, accuracy_m, "
                    "ST_SetSRID(ST_MakePoint(lon, lat), 4326) FROM patrol_pings_in "
                    "ON CONFLICT DO NOTHING "
                    "RETURNING (extract(epoch FROM at) * 1000000)::bigint, "
                    "ST_X(geom), ST_Y(geom)"
                )
                new = np.array(cur.fetchall(), dtype=float).reshape(-1, 3)
                result.accepted = len(new)
                result.duplicates += len(keep) - len(new)
                tick = _lap(result.timings, "store", tick)
                if len(new):
                    edges = matcher_for(engine).match(new[:, 1], new[:, 2], settings.patrol_match_m)
                    tick = _lap(result.timings, "match", tick)
                    result.edges_touched = apply_visits(cur, new[:, 0].astype(np.int64), edges)
                    tick = _lap(result.timings, "visits", tick)
        raw.commit()
        _lap(result.timings, "commit", tick)
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    return result
