"""Fixtures of the API tests: a seeded database per module and a live server on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import make_test_database
from tests.gridmap.cases.world import Api, seed_world, serve_api


@pytest.fixture(scope="module")
def world_url(_created: list[str], request: pytest.FixtureRequest) -> str:
    """A migrated database holding the small test world, one per test module."""
    url = make_test_database("api_" + request.module.__name__.rsplit(".", 1)[-1][5:])
    _created.append(url)
    seed_world(url)
    return url


@pytest.fixture(scope="module")
def api(world_url: str) -> Iterator[Api]:
    """The API served over HTTP on 127.0.0.1 against the module's database."""
    with serve_api(world_url) as live:
        yield live
