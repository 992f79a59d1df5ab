"""Made vector tiles kept in memory, per server process, until their data changes.

A tile's key is its database, tile set, z/x/y, the change counters (migration 0022) of
every table its SQL function reads, and whose rows it holds: layer tiles are read as the
signed-in user under row-level security, so a grid lead's tiles are kept apart (their id and
grids) and never handed to anyone else, while every unscoped reader (admin, command,
planner) shares one copy (:func:`gridmap.access.scope.cache_scope`). Any insert, update,
delete or truncate of one of those tables bumps its counter, so the next request misses and
makes the tile anew; the stale entries age out of the LRU.

The tables a tile function reads are found once per process from its source in
``pg_proc`` (and the ``gridmap_*`` functions it calls): every identifier naming a table.
A tile set reading a table without a change counter is not cached at all.

Why memory rather than a table (measured on the city database, z12 building tiles of
~72 KB, machine load ~10 on 2 cores): an LRU lookup takes microseconds, a read of the same
tile from an indexed unlogged ``bytea`` table 10 ms at p50 (40 at p95), making it anew
151 ms (226); the change probe costs 3 ms either way. A table would be shared by workers and
survive restarts, but needs a write on every miss (from a request that may run as the
read-only grid reader) and vacuuming; tiles remade after a restart cost what they cost
without a cache. The size is ``GRIDMAP_TILE_CACHE_MB`` per process (0: off).

Nothing here is opened before gunicorn forks: the LRU and its lock are made on first use
in the worker (and a child gets a fresh lock).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Hashable

from cachetools import LRUCache
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gridmap.access import User
from gridmap.access.scope import cache_scope, unscoped

log = logging.getLogger(__name__)

#: Bytes counted per entry besides the tile's own (key, bookkeeping).
ENTRY_OVERHEAD = 200
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_FUNCTIONS_SQL = text(
    "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE n.nspname = 'public' AND p.proname LIKE 'gridmap\\_%'"
)
_TABLES_SQL = text(
    "SELECT c.relname, v.table_name IS NOT NULL AS tracked "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN gridmap_data_version v ON v.table_name = c.relname "
    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')"
)
_VERSIONS_SQL = text(
    "SELECT (SELECT oid FROM pg_database WHERE datname = current_database()), "
    "array_agg(version ORDER BY table_name) FROM gridmap_data_version "
    "WHERE table_name = ANY(:tables)"
)


def read_tables(source: str, functions: dict[str, str], tables: set[str]) -> set[str]:
    """The tables named in SQL ``source`` and in the ``gridmap_*`` functions it calls."""
    seen: set[str] = set()
    found: set[str] = set()
    pending = [source]
    while pending:
        words = set(_IDENTIFIER.findall(pending.pop().lower()))
        found |= words & tables
        for word in sorted(words & functions.keys() - seen):
            seen.add(word)
            pending.append(functions[word])
    return found


class TileCache:
    """The process's kept tiles (see the module's docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: LRUCache[Hashable, bytes] | None = None
        self._reads: dict[tuple[str, str], tuple[str, ...] | None] = {}
        self._counts: dict[str, list[int]] = {}
        os.register_at_fork(after_in_child=self._new_lock)

    def _new_lock(self) -> None:
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries = None
            self._reads.clear()
            self._counts.clear()

    def counts(self, engine: Engine) -> tuple[int, int]:
        """Hits and misses so far of the tiles read through ``engine``'s database."""
        hits, misses = self._counts.get(engine.url.render_as_string(hide_password=False), (0, 0))
        return hits, misses

    def _lru(self, max_bytes: int) -> LRUCache[Hashable, bytes]:
        if self._entries is None or self._entries.maxsize != max_bytes:
            self._entries = LRUCache(max_bytes, getsizeof=lambda v: len(v) + ENTRY_OVERHEAD)
        return self._entries

    def tables(self, engine: Engine, function: str) -> tuple[str, ...] | None:
        """The tracked tables ``function`` reads, sorted (None: it reads an untracked one,
        or the database has no change counters)."""
        key = (engine.url.render_as_string(hide_password=False), function)
        if key not in self._reads:
            try:
                with unscoped(), engine.connect() as conn:
                    functions = {name: src for name, src in conn.execute(_FUNCTIONS_SQL)}
                    kinds = {name: tracked for name, tracked in conn.execute(_TABLES_SQL)}
            except SQLAlchemyError as exc:  # no migration 0022: not cached
                log.info("tile cache off for %s: %s", function, type(exc).__name__)
                return None
            read = read_tables(functions.get(function, ""), functions, set(kinds))
            untracked = sorted(t for t in read if not kinds[t])
            if untracked or function not in functions:
                log.info("tile cache off for %s: reads untracked %s", function, untracked)
                self._reads[key] = None
            else:
                self._reads[key] = tuple(sorted(read))
        return self._reads[key]

    def tile(
        self,
        engine: Engine,
        user: User | None,
        tileset: str,
        function: str,
        zxy: tuple[int, int, int],
        make: Callable[[], bytes],
        max_bytes: int,
    ) -> bytes:
        """The tile ``zxy`` of ``tileset``: kept, or made by ``make`` (and kept)."""
        if max_bytes <= 0:
            return make()
        tables = self.tables(engine, function)
        if tables is None:
            return make()
        try:
            with unscoped(), engine.connect() as conn:
                database, versions = conn.execute(_VERSIONS_SQL, {"tables": list(tables)}).one()
        except SQLAlchemyError:
            return make()
        where = engine.url.render_as_string(hide_password=False)
        key = (where, database, tileset, zxy, tuple(versions or ()), cache_scope(user))
        with self._lock:
            lru = self._lru(max_bytes)
            data = lru.get(key)
            counts = self._counts.setdefault(where, [0, 0])  # [hits, misses]
            counts[data is None] += 1
            if data is not None:
                return data
        data = make()
        if len(data) + ENTRY_OVERHEAD <= max_bytes:
            with self._lock:
                self._lru(max_bytes)[key] = data
        return data


#: The process's tile cache.
TILES = TileCache()
