"""A private primary with a streaming standby for the read replica tests: an embedded
cluster in a temporary folder (never the shared one), migrated and holding the tiny known
city of tests.layers.seed, and its standby (``pg_basebackup -R``) on its own port."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from gridmap.db.cluster import Cluster, Standby
from gridmap.db.engine import ensure_database, get_engine
from gridmap.db.migrations import upgrade
from gridmap.settings import get_settings
from tests.layers.seed import seed


@dataclass
class Replicated:
    """The primary, its standby and their URLs of one database."""

    primary: Cluster
    standby: Standby
    url: str
    replica_url: str

    def close(self) -> None:
        """Drop this process's connections and remove both servers and their data."""
        for url in (self.url, self.replica_url):
            get_engine(url).dispose()
        self.primary.remove()

    def wait_replayed(self, timeout: float = 30.0) -> None:
        """Wait until the standby has replayed everything the primary wrote so far."""
        with get_engine(self.url).connect() as conn:
            lsn = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with get_engine(self.replica_url).connect() as conn:
                done = conn.execute(
                    text("SELECT pg_last_wal_replay_lsn() >= CAST(:l AS pg_lsn)"), {"l": lsn}
                ).scalar_one()
            if done:
                return
            time.sleep(0.05)
        raise TimeoutError(f"the standby did not replay up to {lsn}")


def replicated(home: Path, dbname: str) -> Replicated:
    """Start a private primary (migrated, seeded) and a standby of it under ``home``."""
    primary = Cluster(home)
    primary.start()
    url = primary.url(dbname)
    ensure_database(url)
    upgrade(url, get_settings().sql_dir / "migrations")
    seed(url)
    standby = Standby(primary, 1)
    standby.start()
    result = Replicated(primary, standby, url, standby.url(dbname))
    result.wait_replayed(60)
    return result
