"""``gridmap patrols`` over a subprocess, on the hand-made world."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, text

from gridmap.patrols.ingest import ingest_pings, parse_pings
from tests.gridmap.patrols.conftest import walk
from tests.gridmap.patrols.world import LAT, T0

GRIDMAP = str(Path(sys.executable).parent / "gridmap")


def run(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    return subprocess.run(
        [GRIDMAP, "patrols", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_coverage_and_gaps(world: Engine, patrol_url: str) -> None:
    ingest_pings(world, parse_pings({"pings": walk()}), now=T0.replace(hour=12))
    out = run(patrol_url, "coverage", "--window", "2h")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].endswith(": 2 grids")
    assert lines[1].startswith("G2") and "patrolled   0.0 %" in lines[1]
    assert lines[2].startswith("G1") and "patrolled  50.0 %" in lines[2]
    bad = run(patrol_url, "gaps", "--window", "2x")
    assert bad.returncode == 2 and "window" in bad.stderr


def test_rebuild_on_a_dask_scheduler_writes_the_same_visits(world: Engine, patrol_url: str) -> None:
    from dask.distributed import LocalCluster

    from gridmap.derived import rebuild_patrol_visits

    ingest_pings(world, parse_pings({"pings": walk() + walk("D2", lat=LAT - 0.0001)}), now=T0)
    rebuild_patrol_visits(world)
    visits = "SELECT edge_id, bucket, first_at, last_at FROM edge_visits ORDER BY 1, 2"
    with world.connect() as conn:
        single = conn.execute(text(visits)).all()
        conn.execute(text("TRUNCATE edge_visits, edge_last_visit"))
        conn.commit()
    with LocalCluster(
        n_workers=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        out = run(patrol_url, "rebuild", "--scheduler", cluster.scheduler_address)
    assert out.returncode == 0, out.stderr
    assert "'tiles': 4" in out.stdout
    with world.connect() as conn:
        assert conn.execute(text(visits)).all() == single
    assert len(single) >= 2
