"""Where the database is, and SQLAlchemy engines for it."""

from __future__ import annotations

from functools import lru_cache

import psycopg2
from psycopg2 import sql
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from gridmap.db.cluster import Cluster
from gridmap.errors import GridmapError
from gridmap.settings import Settings, get_settings


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


def ensure_database(url: str) -> bool:
    """Create the URL's database if it is missing; True when it was created."""
    name = make_url(url).database
    conn = connect(_admin_dsn(url))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return False
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
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


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return create_engine(
        make_url(url).set(drivername="postgresql+psycopg2"),
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": 5, "application_name": "gridmap"},
    )


def get_engine(url: str | None = None) -> Engine:
    """A pooled engine (one per URL per process); pre-ping survives database restarts."""
    return _engine_for(url or database_url())
