"""Read routing over a real primary and streaming standby: the replica serves reads, a
lagging or failed replica is skipped until it recovers, and a caller reads its own writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask, jsonify
from sqlalchemy import text

from gridmap.db.app import (
    REPLICAS_KEY,
    URL_KEY,
    WAL_COOKIE,
    app_engine,
    read_engine,
    register_read_routing,
)
from gridmap.db.engine import get_engine
from gridmap.db.replicas import ReplicaRouter
from tests.replication import Replicated


@pytest.fixture
def pair(replicated_pair: Replicated) -> Replicated:
    """The session's primary and standby (tests/conftest.py), both running."""
    return replicated_pair


def in_recovery(url: str) -> bool:
    with get_engine(url).connect() as conn:
        return conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one()


def test_the_standby_streams_from_the_primary(pair: Replicated) -> None:
    assert in_recovery(pair.replica_url) is True
    assert in_recovery(pair.url) is False
    with get_engine(pair.url).connect() as conn:
        senders = conn.execute(
            text("SELECT application_name, state FROM pg_stat_replication")
        ).all()
    assert [tuple(r) for r in senders] == [("gridmap_replica1", "streaming")]
    assert pair.primary.replica_urls("gridmap_replicas") == [pair.replica_url]


def routing_app(pair: Replicated) -> Flask:
    """A bare Flask app on the pair with a write route and a read route (via read_engine)."""
    app = Flask("replica-test")
    app.config[URL_KEY] = pair.url
    app.config[REPLICAS_KEY] = [pair.replica_url]
    register_read_routing(app)

    @app.post("/write/<int:n>")
    def write(n: int):
        with app_engine().begin() as conn:
            conn.execute(text("UPDATE grids SET name = :n WHERE id = 1"), {"n": f"网格 {n}"})
        return jsonify(ok=True)

    @app.get("/read")
    def read():
        with read_engine().connect() as conn:
            row = conn.execute(
                text("SELECT pg_is_in_recovery(), name FROM grids WHERE id = 1")
            ).one()
        return jsonify(replica=row[0], name=row[1])

    return app


def test_reads_go_to_the_replica(pair: Replicated) -> None:
    pair.wait_replayed()
    client = routing_app(pair).test_client()
    assert client.get("/read").json["replica"] is True


def test_a_caller_reads_its_own_writes(pair: Replicated) -> None:
    client = routing_app(pair).test_client()
    assert client.get("/read").json["replica"] is True
    with get_engine(pair.replica_url).connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_pause()"))  # the replica cannot see them
    try:
        for n in range(5):
            response = client.post(f"/write/{n}")
            assert client.get_cookie(WAL_COOKIE) is not None
            assert response.json == {"ok": True}
            assert client.get("/read").json == {"replica": False, "name": f"网格 {n}"}
    finally:
        with get_engine(pair.replica_url).connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
    pair.wait_replayed()
    time.sleep(2.1)  # the next check (GRIDMAP_REPLICA_CHECK_S) sees the replica caught up
    assert client.get("/read").json == {"replica": True, "name": "网格 4"}
    other = routing_app(pair).test_client()  # a caller that wrote nothing
    assert other.get("/read").json["replica"] is True


def test_a_lagging_replica_is_skipped(pair: Replicated) -> None:
    router = ReplicaRouter(pair.url, [pair.replica_url], max_lag_s=0.5, check_s=0)
    pair.wait_replayed()
    assert router.pick() == pair.replica_url
    with get_engine(pair.replica_url).connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_pause()"))
    try:
        with get_engine(pair.url).begin() as conn:
            conn.execute(text("UPDATE grids SET name = '滞后' WHERE id = 2"))
        time.sleep(0.6)
        health = router.check()
        assert health.replicas[0].ok is False and health.replicas[0].lag_s > 0.5
        assert router.pick() == pair.url
    finally:
        with get_engine(pair.replica_url).connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
    pair.wait_replayed()
    assert router.pick() == pair.replica_url
    assert router.check().replicas[0].lag_s == 0.0


def test_a_failed_replica_is_skipped_until_it_recovers(pair: Replicated) -> None:
    router = ReplicaRouter(pair.url, [pair.replica_url], max_lag_s=5, check_s=0)
    assert router.pick() == pair.replica_url
    assert pair.standby.stop()
    try:
        health = router.check()
        assert health.replicas[0].ok is False
        assert health.replicas[0].reason.startswith("unreachable")
        assert router.pick() == pair.url
        assert router.primary_lost() is False
    finally:
        pair.standby.start()
    pair.wait_replayed()
    assert router.pick() == pair.replica_url


def test_with_the_primary_lost_reads_go_to_the_replica(pair: Replicated) -> None:
    router = ReplicaRouter(pair.url, [pair.replica_url], max_lag_s=5, check_s=0)
    get_engine(pair.url).dispose()
    assert pair.primary.stop()
    try:
        assert router.primary_lost() is True
        assert router.pick(min_lsn=2**62) == pair.replica_url  # nothing better to read
    finally:
        pair.primary.start()
    assert router.primary_lost() is False


def test_the_cli_starts_lists_and_stops_the_standby(pair: Replicated) -> None:
    env = {**os.environ, "GRIDMAP_HOME": str(pair.primary.home)}
    env.pop("GRIDMAP_DATABASE_URL", None)
    gridmap = [str(Path(sys.executable).parent / "gridmap"), "db"]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*gridmap, *args], env=env, capture_output=True, text=True)

    port = pair.standby.running_port()
    status = cli("status")
    assert status.returncode == 0, status.stderr
    assert f"standby 1: running on port {port} (data: {pair.standby.data_dir})" in status.stdout
    for url in (pair.url, pair.replica_url):
        get_engine(url).dispose()
    assert cli("stop").stdout == "stopped\n"
    assert (pair.primary.running_port(), pair.standby.running_port()) == (None, None)
    started = cli("start", "--replicas", "1")
    assert started.returncode == 0, started.stderr
    assert f"standby 1 running on 127.0.0.1:{port}" in started.stdout
    pair.wait_replayed()
