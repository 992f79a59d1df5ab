"""Per-process values built from database tables, kept while a cheap fingerprint query
answers the same (the road network's edge matcher, the street pieces per grid).

Values are kept per database and per reading scope: a grid lead's request reads through
row-level security (:mod:`gridmap.access.scope`), so what it builds holds only their grids
and is never handed to another reader (nor theirs to the lead). The caller names how the
scope is found (``scope``: :func:`gridmap.access.scope.request_cache_scope`), so this
module stays below the access rules."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import Connection, Engine, text

T = TypeVar("T")


class TableCache(Generic[T]):
    """One value per database and reading scope (``scope()``'s answer at the time of the
    read), built by ``build`` and rebuilt when the answer of ``fingerprint_sql`` (one row)
    changes."""

    def __init__(
        self,
        fingerprint_sql: str,
        build: Callable[[Connection], T],
        *,
        scope: Callable[[], Hashable],
    ) -> None:
        self.fingerprint_sql = fingerprint_sql
        self.build = build
        self.scope = scope
        self._values: dict[tuple[str, Hashable], tuple[tuple, T]] = {}
        self._lock = threading.Lock()
        # A forked child gets a fresh lock (a thread of the parent may have held this one);
        # the values hold no connection, so they stay.
        os.register_at_fork(after_in_child=self._new_lock)

    def _new_lock(self) -> None:
        self._lock = threading.Lock()

    def get(self, engine: Engine) -> T:
        key = (engine.url.render_as_string(hide_password=False), self.scope())
        with self._lock, engine.connect() as conn:
            fingerprint = tuple(conn.execute(text(self.fingerprint_sql)).one())
            cached = self._values.get(key)
            if cached is None or cached[0] != fingerprint:
                cached = self._values[key] = (fingerprint, self.build(conn))
            return cached[1]
