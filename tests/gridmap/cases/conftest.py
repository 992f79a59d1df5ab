"""Fixtures of the case service tests: a database holding the small test world."""

from __future__ import annotations

import pytest

from tests.conftest import make_test_database
from tests.gridmap.cases.world import seed_world


@pytest.fixture(scope="module")
def world_url(_created: list[str], request: pytest.FixtureRequest) -> str:
    """A migrated database holding the small test world, one per test module."""
    url = make_test_database("cases_" + request.module.__name__.rsplit(".", 1)[-1][5:])
    _created.append(url)
    seed_world(url)
    return url
