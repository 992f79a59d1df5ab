"""The shared city-scale database benchmarks read: ``gridmap_bench_city`` on the configured
server, holding the demo city at the reference "city" scale (seed 7).

    .venv/bin/python benchmarks/citydb.py            # make sure it exists, print its URL

It is loaded once (~6 minutes on 2 cores) and reused while its recorded scale, seed and
generator version match; benchmarks that write create their own scratch tables or
databases and leave this one as they found it.
"""

from __future__ import annotations

import sys
from pathlib import Path

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


if __name__ == "__main__":
    print(city_url())
