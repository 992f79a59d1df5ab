"""OGC API fixtures: the small demo city with stored service circles, served over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_demo_database
from tests.gridmap.ogc.live import Live, serve


@pytest.fixture(scope="package")
def ogc_url(_created: list[str]) -> str:
    """The demo city (seed DEMO_SEED) plus its walking isochrones; read-only for the tests."""
    url = make_demo_database("ogc")
    _created.append(url)
    gridmap = Path(sys.executable).parent / "gridmap"
    subprocess.run(
        [str(gridmap), "circles", "compute"],
        env={**os.environ, "GRIDMAP_DATABASE_URL": url},
        check=True,
        capture_output=True,
    )
    return url


@pytest.fixture(scope="package")
def live(ogc_url: str) -> Iterator[Live]:
    with serve(ogc_url) as server:
        yield server
