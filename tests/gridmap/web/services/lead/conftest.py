"""Fixtures of the grid-lead service tests."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from gridmap.db.engine import get_engine
from tests.gridmap.web.services.lead.world import make_lead_city


@pytest.fixture(scope="session")
def lead_url(_created: list[str]) -> str:
    """The demo city with patrol visits and service coverage (read-only)."""
    url = make_lead_city("leadcity")
    _created.append(url)
    return url


@pytest.fixture(scope="session")
def lead_engine(lead_url: str) -> Engine:
    return get_engine(lead_url)
