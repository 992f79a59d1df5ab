"""OGC API fixtures: the small demo city with stored service circles, served over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gridmap.derived import compute_all
from tests.conftest import make_demo_database
from tests.gridmap.ogc.live import Live, serve


@pytest.fixture(scope="package")
def ogc_url(_created: list[str]) -> str:
    """The demo city (seed DEMO_SEED) plus its walking isochrones; read-only for the tests."""
    url = make_demo_database("ogc")
    _created.append(url)
    compute_all(url, steps=("coverage", "isochrones"))
    return url


@pytest.fixture(scope="package")
def live(ogc_url: str) -> Iterator[Live]:
    with serve(ogc_url) as server:
        yield server
