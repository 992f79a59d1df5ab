"""A database holding the hand-made patrol world, its static coverage refreshed; each test
starts with no pings, rejected fixes, visits or cases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from gridmap.db.engine import get_engine
from gridmap.patrols import coverage
from tests.conftest import make_test_database
from tests.gridmap.patrols.world import LAT, T0, seed_patrol_world


@pytest.fixture(scope="session")
def patrol_url(_created: list[str]) -> str:
    url = make_test_database("patrols")
    _created.append(url)
    seed_patrol_world(url)
    coverage.refresh_static(get_engine(url))
    return url


@pytest.fixture
def world(patrol_url: str) -> Iterator[Engine]:
    engine = get_engine(patrol_url)
    yield engine
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE gps_pings, gps_pings_rejected, edge_visits, edge_last_visit, "
                "case_events, cases, patrol_shifts CASCADE"
            )
        )


def walk(
    device: str = "D1",
    start: float = 120.0005,
    step: float = 0.0004,
    n: int = 11,
    t0=T0,
    every_s: int = 10,
    lat: float = LAT + 0.0001,
) -> list[dict[str, Any]]:
    """Pings of a device walking east along the streets at ~38 m per ping."""
    return [
        {
            "device_id": device,
            "at": (t0 + timedelta(seconds=every_s * k)).isoformat(),
            "lon": round(start + step * k, 7),
            "lat": lat,
            "accuracy_m": 5.0,
        }
        for k in range(n)
    ]
