"""Fixtures of the household tests: a database per module holding the household world."""

from __future__ import annotations

import pytest

from tests.conftest import make_test_database
from tests.gridmap.households.world import seed_households


@pytest.fixture(scope="module")
def hh_url(_created: list[str], request: pytest.FixtureRequest) -> str:
    """A migrated database with the household world, one per test module."""
    url = make_test_database("hh_" + request.module.__name__.rsplit(".", 1)[-1][5:])
    _created.append(url)
    seed_households(url)
    return url


@pytest.fixture(scope="module")
def hh_ids(hh_url: str) -> dict[str, int]:
    """Household code -> id in the module's database."""
    from sqlalchemy import text

    from gridmap.db.engine import get_engine

    with get_engine(hh_url).connect() as conn:
        return dict(conn.execute(text("SELECT code, id FROM households")).all())
