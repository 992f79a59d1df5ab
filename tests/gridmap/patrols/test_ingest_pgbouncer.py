"""Patrol ingest through pgbouncer in transaction mode with ONE server connection."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from gridmap.db.engine import get_engine
from gridmap.patrols.ingest import ingest_pings, parse_pings
from tests.gridmap.db.test_pgbouncer import READ_STATE, bouncer_missing, running_bouncer
from tests.gridmap.patrols.conftest import walk
from tests.gridmap.patrols.world import T0

pytestmark = [pytest.mark.pooled, pytest.mark.skipif(bouncer_missing(), reason="no pgbouncer")]


def test_a_patrol_batch_needs_one_server_connection(world: Engine, patrol_url: str) -> None:
    """Patrol ingest (temp tables, a savepoint, the street matcher's cache check) through a
    pgbouncer of ONE server connection: no step waits on a second connection while the
    batch's transaction holds the only one, and no temp table outlives the batch."""
    with running_bouncer(pool_size=1) as one:
        engine = get_engine(one.url(patrol_url))
        batch = parse_pings({"pings": walk(n=4)})
        result = ingest_pings(engine, batch, now=T0 + timedelta(minutes=5))
        assert (result.received, result.accepted, result.duplicates) == (4, 4, 0)
        assert ingest_pings(engine, batch, now=T0 + timedelta(minutes=5)).duplicates == 4
        with engine.connect() as conn:
            assert conn.execute(text(READ_STATE)).one()[1:] == ("gridmap", None, 0)
