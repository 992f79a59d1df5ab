"""The shared city-scale database benchmarks read: ``gridmap_bench_city`` on the configured
server, holding the demo city at the reference "city" scale (seed 7).

    .venv/bin/python benchmarks/citydb.py            # make sure it exists, print its URL

It is loaded once (~6 minutes on 2 cores) and reused while its recorded scale, seed and
generator version match; benchmarks that write create their own scratch tables or
databases and leave this one as they found it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psycopg2
import psycopg2.errors
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gridmap.db.engine import database_url, ensure_database, get_engine
from gridmap.db.migrations import upgrade
from gridmap.demo.city import GENERATOR_VERSION
from gridmap.demo.load import load_demo
from gridmap.settings import get_settings

DB_NAME = "gridmap_bench_city"
SEED = 7


def _loaded(url: str) -> bool:
    with get_engine(url).connect() as conn:
        meta = dict(
            conn.execute(
                text(
                    "SELECT key, value FROM gridmap_meta "
                    "WHERE key IN ('demo_scale', 'demo_seed', 'demo_generator')"
                )
            ).all()
        )
    return meta == {"demo_scale": "city", "demo_seed": SEED, "demo_generator": GENERATOR_VERSION}


def city_url(*, progress: bool = True) -> str:
    """URL of the city-scale benchmark database, loading it first when needed."""
    url = make_url(database_url()).set(database=DB_NAME).render_as_string(hide_password=False)
    ensure_database(url)
    upgrade(url, get_settings().sql_dir / "migrations")
    if not _loaded(url):
        load_demo(url, scale="city", seed=SEED, replace=True, progress=progress)
    return url


def _admin() -> psycopg2.extensions.connection:
    url = make_url(database_url()).set(drivername="postgresql", database="postgres")
    conn = psycopg2.connect(url.render_as_string(hide_password=False))
    conn.autocommit = True
    return conn


def copy_city(name: str, *, replace: bool = False, template: str = DB_NAME) -> str:
    """``name`` as a copy of the city database (``CREATE DATABASE … TEMPLATE``, retried
    while the template has other sessions), kept when it exists unless ``replace``, then
    migrated and checkpointed; its URL. The city database itself is never changed here."""
    url = make_url(database_url()).set(database=name).render_as_string(hide_password=False)
    conn = _admin()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,))
            if cur.fetchone() is None:
                raise SystemExit(f"no {template} database: run benchmarks/citydb.py first")
            if replace:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                _create_from(cur, name, template)
    finally:
        conn.close()
    upgrade(url, get_settings().sql_dir / "migrations")
    conn = _admin()
    try:
        with conn.cursor() as cur:
            cur.execute("CHECKPOINT")  # measurements start on a settled database
    finally:
        conn.close()
    return url


def _create_from(cur: psycopg2.extensions.cursor, name: str, template: str) -> None:
    for attempt in range(60):
        try:
            # FILE_COPY: a few GB copied as files, not streamed through the WAL (whose
            # checkpoints would then land in the measurements that follow).
            cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY = FILE_COPY')
            return
        except psycopg2.errors.ObjectInUse:  # another session on the template
            print(f"{template} busy, retrying ({attempt + 1}) …", flush=True)
            time.sleep(10)
    raise SystemExit(f"{template} stayed busy; try again later")


def drop_database(name: str) -> None:
    """Drop a benchmark's database (its sessions are ended)."""
    conn = _admin()
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


if __name__ == "__main__":
    print(city_url())
