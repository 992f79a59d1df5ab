"""Read replicas: which server a read-only request reads from.

A :class:`ReplicaRouter` (one per primary and replica list per process) checks the primary
and every replica at most every ``check_s`` seconds (cached; the request that finds the
check stale runs it, the others meanwhile use the last one) and picks, round-robin, a
replica that

- answers and is a standby (``pg_is_in_recovery()``),
- lags by at most ``max_lag_s``: a replica whose replayed WAL position
  (``pg_last_wal_replay_lsn()``) has reached the primary's ``pg_current_wal_lsn()`` read
  just before is caught up (lag 0, however long the primary has been idle). One behind it
  lags by at most the smaller of two upper bounds: ``now() -
  pg_last_xact_replay_timestamp()`` (the age of the newest transaction it replayed: every
  commit it misses is younger) and the age of the newest earlier check whose primary
  position it has passed (it holds all the primary held then). Both err towards the
  primary, never towards stale data;
- has replayed at least ``min_lsn`` when one is asked (read-your-writes: the primary's
  WAL position after the caller's own last write).

Otherwise the read goes to the primary. When the primary does not answer, any standby that
answers is used whatever its lag (:attr:`Health.primary_lost`: the app is read-only) and
``min_lsn`` cannot be honoured. Nothing here holds a connection: engines come from
:func:`gridmap.db.engine.get_engine` (per process, fork-safe).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from gridmap.db.engine import get_engine

#: The primary's WAL position, as bytes from 0/0 (an integer compares and travels easily).
PRIMARY_SQL = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"
#: A standby's state: in recovery, replayed position (bytes), age of its newest replayed
#: transaction (s).
REPLICA_SQL = """
SELECT pg_is_in_recovery() AS standby,
       pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint AS replay_lsn,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age_s
"""
#: A check gives up on a server that does not answer within this (ms).
CHECK_TIMEOUT_MS = 2000
#: Earlier checks' primary positions kept to bound a replica's lag.
SAMPLES = 16


@dataclass(frozen=True)
class ReplicaHealth:
    """One replica as last checked: usable, its replayed position, its lag and why not."""

    url: str
    ok: bool
    replay_lsn: int | None = None
    lag_s: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Health:
    """The primary and the replicas as last checked (``checked_at``: time.monotonic())."""

    checked_at: float
    primary_ok: bool
    primary_lsn: int | None
    replicas: tuple[ReplicaHealth, ...]

    @property
    def primary_lost(self) -> bool:
        """The primary does not answer but a replica does: the app is read-only."""
        return not self.primary_ok and any(r.ok for r in self.replicas)


def lsn_text(lsn: int) -> str:
    """An integer WAL position as PostgreSQL writes it (``16/B374D848``)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def _execute_one(url: str, sql: str):
    with get_engine(url).connect() as conn, conn.begin():
        conn.execute(text(f"SET LOCAL statement_timeout = {CHECK_TIMEOUT_MS}"))
        return conn.execute(text(sql)).one()


class ReplicaRouter:
    """Picks the server for a read (see the module docstring)."""

    def __init__(
        self,
        primary_url: str,
        replica_urls: Sequence[str],
        *,
        max_lag_s: float = 5.0,
        check_s: float = 2.0,
    ) -> None:
        self.primary_url = primary_url
        self.replica_urls = tuple(replica_urls)
        self.max_lag_s = max_lag_s
        self.check_s = check_s
        self._health: Health | None = None
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._samples: deque[tuple[float, int]] = deque(maxlen=SAMPLES)
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._health = None
        self._samples.clear()

    # -- checking -------------------------------------------------------------------------

    def _check_replica(self, url: str, primary_lsn: int | None, now: float) -> ReplicaHealth:
        try:
            row = _execute_one(url, REPLICA_SQL)
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            return ReplicaHealth(url, False, reason=f"unreachable ({type(cause).__name__})")
        if not row.standby:
            # a promoted standby (or a URL of a primary): only read while the primary is lost
            return ReplicaHealth(url, primary_lsn is None, None, None, "not a standby")
        replay = row.replay_lsn
        if primary_lsn is not None and replay is not None and replay >= primary_lsn:
            lag = 0.0
        else:
            lag = row.replay_age_s if row.replay_age_s is not None else float("inf")
            passed = [at for at, lsn in self._samples if replay is not None and replay >= lsn]
            if passed:
                lag = min(lag, now - max(passed))
        if primary_lsn is not None and lag > self.max_lag_s:
            return ReplicaHealth(url, False, replay, lag, f"lags {lag:.1f} s")
        return ReplicaHealth(url, True, replay, lag)

    def check(self) -> Health:
        """Check the primary and every replica now."""
        now = time.monotonic()
        try:
            primary_lsn = int(_execute_one(self.primary_url, PRIMARY_SQL)[0])
        except SQLAlchemyError:
            primary_lsn = None
        replicas = tuple(self._check_replica(url, primary_lsn, now) for url in self.replica_urls)
        health = Health(now, primary_lsn is not None, primary_lsn, replicas)
        if primary_lsn is not None:
            self._samples.append((now, primary_lsn))
        self._health = health
        return health

    def health(self) -> Health:
        """The last check, redone when older than ``check_s`` (by one request at a time)."""
        health = self._health
        if health is not None and time.monotonic() - health.checked_at < self.check_s:
            return health
        if not self._lock.acquire(blocking=health is None):
            return health  # another thread is checking: use the last answer meanwhile
        try:
            current = self._health
            if current is not None and time.monotonic() - current.checked_at < self.check_s:
                return current
            return self.check()
        finally:
            self._lock.release()

    # -- picking --------------------------------------------------------------------------

    def candidates(self, min_lsn: int | None = None) -> list[ReplicaHealth]:
        """The replicas a read may use now."""
        health = self.health()
        usable = [r for r in health.replicas if r.ok]
        if health.primary_ok and min_lsn is not None:
            usable = [r for r in usable if r.replay_lsn is not None and r.replay_lsn >= min_lsn]
        return usable

    def pick(self, min_lsn: int | None = None) -> str:
        """The URL to read from: a usable replica in turn, else the primary."""
        usable = self.candidates(min_lsn)
        if not usable:
            return self.primary_url
        return usable[next(self._turn) % len(usable)].url

    def primary_lost(self) -> bool:
        """Whether the app is read-only now (primary down, a replica up)."""
        return bool(self.replica_urls) and self.health().primary_lost


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def configured_replica_urls(primary_url: str) -> list[str]:
    """The replicas of ``primary_url``: the replica_urls setting, else, for the embedded
    cluster's default database, its running standbys (``gridmap db start --replicas N``)."""
    from gridmap.db.cluster import Cluster, ClusterError
    from gridmap.settings import get_settings

    settings = get_settings()
    if settings.replica_urls or settings.database_url:
        return list(settings.replica_urls)
    cluster = Cluster.from_settings(settings)
    try:
        if _plain(primary_url) != _plain(cluster.url(settings.db_name)):
            return []
    except ClusterError:
        return []
    return cluster.replica_urls(settings.db_name)


def router_for(primary_url: str, replica_urls: Sequence[str] | None = None) -> ReplicaRouter | None:
    """The process's router for ``primary_url`` (None when it has no replicas)."""
    from gridmap.settings import get_settings

    urls = configured_replica_urls(primary_url) if replica_urls is None else list(replica_urls)
    if not urls:
        return None
    settings = get_settings()
    return get_router(
        primary_url, urls, max_lag_s=settings.replica_max_lag_s, check_s=settings.replica_check_s
    )


def primary_position(primary_url: str) -> int | None:
    """The primary's current WAL position (None when it does not answer)."""
    try:
        return int(_execute_one(primary_url, PRIMARY_SQL)[0])
    except SQLAlchemyError:
        return None


_routers: dict[tuple[str, tuple[str, ...], float, float], ReplicaRouter] = {}
_routers_lock = threading.Lock()


def get_router(
    primary_url: str, replica_urls: Sequence[str], *, max_lag_s: float, check_s: float
) -> ReplicaRouter:
    """The process's router for this primary and these replicas (made once)."""
    key = (primary_url, tuple(replica_urls), max_lag_s, check_s)
    with _routers_lock:
        router = _routers.get(key)
        if router is None:
            router = _routers[key] = ReplicaRouter(
                primary_url, replica_urls, max_lag_s=max_lag_s, check_s=check_s
            )
        return router


def _new_routers_lock() -> None:
    global _routers_lock
    _routers_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_routers_lock)
