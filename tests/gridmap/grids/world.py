"""The grid-lead tests' world: the small demo city (seed 7) with its patrol visit history
and service-circle coverage computed, so every figure of the detail panel has data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gridmap.demo.load import load_demo
from gridmap.settings import PROJECT_ROOT
from tests.conftest import DEMO_SEED, make_test_database

GRIDMAP = str(Path(sys.executable).parent / "gridmap")
STEPS = (
    ["patrols", "refresh"],
    ["patrols", "rebuild"],
    ["circles", "compute", "--no-isochrones"],
)


def make_lead_city(suffix: str) -> str:
    """A new database with the demo city, patrol visits and service coverage; its URL."""
    url = make_test_database(suffix)
    load_demo(url, scale="small", seed=DEMO_SEED, progress=False)
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    for step in STEPS:
        subprocess.run([GRIDMAP, *step], env=env, cwd=PROJECT_ROOT, check=True, capture_output=True)
    return url
