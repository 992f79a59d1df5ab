"""The wall's visits tile (households visited within their cadence, city-wide, and the
vulnerable ones overdue) read by dashboard.read_extras on the hand-made household world:
H1-H4 in G1, H9 in G3, registered 2026-01-01; H1, H2, H4, H9 carry vulnerable tags."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from gridmap.db.engine import get_engine
from gridmap.web.components.wall_tiles import extra_tiles
from gridmap.web.services.dashboard import read_extras
from tests.conftest import make_test_database
from tests.gridmap.households.world import seed_households
from tests.gridmap.web.services.test_wall import texts

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(scope="module")
def url(_created: list[str]) -> str:
    url = make_test_database("wall_visits")
    _created.append(url)
    seed_households(url)
    return url


def visits_tile(url: str, lang: str) -> list[str]:
    extras = read_extras(get_engine(url), NOON, patrol_hours=8, circle_minutes=15)
    tiles = extra_tiles(extras, lang)
    assert len(tiles) == 4 and tiles[3].id == "wall-kpi-visits"
    return texts(tiles[3])


def test_visits_tile_before_and_after_a_visit(url: str) -> None:
    # on 03-10 nobody was seen: H1, H4, H9 weekly and H2 monthly are overdue (H3 not yet)
    assert visits_tile(url, "zh-CN") == ["周期内走访率", "0.0%", "困难群体逾期 4 户"]
    with get_engine(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO visits (household_id, visited_at, kind, outcome) "
                "SELECT id, '2026-03-09 10:00+08', 'care', 'met' FROM households "
                "WHERE code = 'H1'"
            )
        )
    assert visits_tile(url, "en") == [
        "Visited within cadence", "20.0%", "3 vulnerable households overdue",
    ]  # fmt: skip
