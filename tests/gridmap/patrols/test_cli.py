"""``gridmap patrols`` over a subprocess, on the hand-made world."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

from gridmap.patrols.ingest import ingest_pings, parse_pings
from tests.gridmap.patrols.conftest import walk
from tests.gridmap.patrols.world import T0

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
