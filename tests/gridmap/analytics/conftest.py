"""Fixtures: the toy network database (read-only for tests that share it)."""

from __future__ import annotations

import pytest

from tests.conftest import make_test_database
from tests.gridmap.analytics.toy import seed_toy


@pytest.fixture(scope="session")
def toy_url(_created: list[str]) -> str:
    """A migrated database holding the toy city of tests.gridmap.analytics.toy; read-only."""
    url = make_test_database("toy")
    _created.append(url)
    seed_toy(url)
    return url
