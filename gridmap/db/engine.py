"""Where the database is, and SQLAlchemy engines for it.

Engines are per process. A database connection must never be used by two processes (one
socket, two readers: each reads the other's results), so no engine or pooled connection
survives a fork:

- :func:`dispose_engines` closes this process's connections; ``gridmap serve`` calls it in
  the gunicorn master before every fork of a worker;
- in a forked child, every engine's pool is replaced by an empty one at once
  (``os.register_at_fork``; SQLAlchemy's ``dispose(close=False)``) and the inherited pool is
  kept, never used and never closed: closing or even garbage-collecting a psycopg2
  connection sends the server a goodbye on the socket the parent still uses.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from typing import Any

import psycopg2
from psycopg2 import sql
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from gridmap.db.cluster import Cluster
from gridmap.errors import GridmapError
from gridmap.settings import Settings, get_settings

#: Engines kept per process (most recently used last); older ones are dropped.
MAX_ENGINES = 8


class DatabaseError(GridmapError):
    """The database cannot be reached or set up."""


def database_url(settings: Settings | None = None) -> str:
    """The configured URL, or the embedded cluster's (started on demand)."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    cluster = Cluster.from_settings(settings)
    cluster.start()
    url = cluster.url(settings.db_name)
    ensure_database(url)
    return url


def connect(url: str) -> psycopg2.extensions.connection:
    """A plain psycopg2 connection; an unreachable server is a clear DatabaseError."""
    try:
        return psycopg2.connect(url, connect_timeout=10)
    except psycopg2.OperationalError as exc:
        raise DatabaseError(
            f"Cannot connect to the database: {str(exc).strip()}",
            hint="check GRIDMAP_DATABASE_URL, or unset it to use the embedded database",
        ) from exc


def _admin_dsn(url: str) -> str:
    """libpq DSN of the server's maintenance database ``postgres``."""
    return (
        make_url(url)
        .set(database="postgres", drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def ensure_database(url: str, template: str | None = None) -> bool:
    """Create the URL's database if it is missing (a copy of the database ``template``
    names, when given: nobody may be connected to it); True when it was created."""
    name = make_url(url).database
    conn = connect(_admin_dsn(url))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return False
            create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template is not None:
                create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            cur.execute(create)
            return True
    finally:
        conn.close()


def drop_database(url: str) -> None:
    """Drop the URL's database, closing other sessions on it first."""
    name = make_url(url).database
    conn = connect(_admin_dsn(url))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            cur.execute(drop.format(sql.Identifier(name)))
    finally:
        conn.close()


_engines: OrderedDict[str, Engine] = OrderedDict()
_engines_lock = threading.Lock()
#: What a forked child inherited from its parent (pools, connections): referenced for the
#: child's lifetime and never used, so nothing in the child touches the parent's sockets.
_inherited: list[Any] = []
#: Every engine made here and still referenced (also those dropped from ``_engines``).
_every_engine: weakref.WeakSet[Engine] = weakref.WeakSet()


def _create_engine(url: str) -> Engine:
    engine = create_engine(
        make_url(url).set(drivername="postgresql+psycopg2"),
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": 5, "application_name": "gridmap"},
    )
    _every_engine.add(engine)
    return engine


def _engine_for(url: str) -> Engine:
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = _create_engine(url)
            while len(_engines) > MAX_ENGINES:
                _engines.popitem(last=False)
        else:
            _engines.move_to_end(url)
        return engine


def get_engine(url: str | None = None) -> Engine:
    """A pooled engine (one per URL per process); pre-ping survives database restarts."""
    return _engine_for(url or database_url())


def dispose_engines() -> None:
    """Close every pooled connection of this process (before forking, for one)."""
    for engine in list(_every_engine):
        engine.dispose()


def _after_fork_in_child() -> None:
    """Give every engine an empty pool; keep (never use, never close) the inherited one."""
    global _engines_lock
    _engines_lock = threading.Lock()  # another thread may have held it at the fork
    for engine in list(_every_engine):
        _inherited.append(engine.pool)
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)
