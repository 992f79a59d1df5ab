"""A database holding the tiny known city of :mod:`tests.layers.seed` (read-only)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from gridmap.db.engine import get_engine
from tests.conftest import make_test_database
from tests.layers.seed import seed


@pytest.fixture(scope="session")
def seeded_url(_created: list[str]) -> str:
    """URL of a migrated database holding the seeded tiny city."""
    url = make_test_database("layers")
    _created.append(url)
    seed(url)
    return url


@pytest.fixture(scope="session")
def seeded_engine(seeded_url: str) -> Engine:
    return get_engine(seeded_url)
