"""TableCache: built once per database, rebuilt when the fingerprint's answer changes."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

from gridmap.db.cache import TableCache


def test_rebuilt_only_when_the_fingerprint_changes(engine: Engine) -> None:
    builds: list[int] = []

    def build(conn: Connection) -> int:
        builds.append(1)
        return conn.execute(text("SELECT count(*) FROM gridmap_meta")).scalar_one()

    cache = TableCache("SELECT count(*) FROM gridmap_meta", build, scope=lambda: None)
    first = cache.get(engine)
    assert cache.get(engine) == first and len(builds) == 1
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO gridmap_meta (key, value) VALUES ('cache_test', '1')"))
    try:
        assert cache.get(engine) == first + 1 and len(builds) == 2
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM gridmap_meta WHERE key = 'cache_test'"))
