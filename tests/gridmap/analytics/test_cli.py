"""``gridmap circles …`` over subprocess on the toy network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import make_test_database
from tests.gridmap.analytics.toy import seed_toy

GRIDMAP = str(Path(sys.executable).parent / "gridmap")


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_CIRCLES_SPEED_KMH": "6",
           "GRIDMAP_CIRCLES_MINUTES": "[2, 4, 6]"}  # fmt: skip
    return subprocess.run([GRIDMAP, "circles", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)  # fmt: skip


def test_compute_status_suggest(_created: list[str]) -> None:
    url = make_test_database("circlescli")
    _created.append(url)
    seed_toy(url)
    before = run(url, "status")
    assert before.stdout.splitlines() == [
        "coverage: missing: never computed", "isochrones: missing: never computed"
    ]  # fmt: skip
    done = run(url, "compute", "--kinds", "party_service_center")
    assert done.returncode == 0, done.stderr
    assert "network: 6 nodes, 5 edges (2 component(s); dropped 1 edges" in done.stdout
    assert "2 buildings off the network (> 200 m from a street)" in done.stdout
    assert "party_service_center   6 min:  62.20% of people" in done.stdout
    assert "stored 3 isochrones" in done.stdout
    assert "isochrones: 100%" in done.stderr  # the progress bar
    fresh = run(url, "status", "--kinds", "party_service_center")
    assert [line.split(" (")[0] for line in fresh.stdout.splitlines()] == [
        "coverage: fresh", "isochrones: fresh"
    ]  # fmt: skip
    stale = run(url, "status", "--kinds", "party_service_center", "--speed", "5")
    assert stale.stdout.splitlines()[0].endswith(": parameters changed")
    tip = run(url, "suggest", "--kind", "party_service_center", "--k", "1", "--minutes", "2",
              "--candidates", "nodes")  # fmt: skip
    assert "#1 at " in tip.stdout and "+680 people (+14 vulnerable, 2 buildings)" in tip.stdout
    table = run(url, "report", "--kind", "party_service_center", "--minutes", "2", "--by", "grid")
    lines = table.stdout.splitlines()
    assert lines[0].startswith("grid_id,population,elderly_alone,disabled,low_income,")
    assert lines[1].startswith("1,950,14,2,4,110,")
    assert lines[1].endswith(",11.58")  # 110 of 950 people in the grid
    bad = run(url, "compute", "--minutes", "five")
    assert bad.returncode == 2 and "error: Minutes 'five' are not numbers" in bad.stderr
