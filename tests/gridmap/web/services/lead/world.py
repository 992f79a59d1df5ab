"""The grid-lead tests' world: the small demo city (seed 7) with its patrol visit history
and service-circle coverage computed, so every figure of the detail panel has data."""

from __future__ import annotations

from functools import cache

from sqlalchemy import text

from gridmap.access import Role, User
from gridmap.db.engine import get_engine
from gridmap.derived import compute_all
from tests.conftest import make_demo_database


@cache
def make_lead_city(suffix: str) -> str:
    """A new database with the demo city, patrol visits and service coverage; its URL (made
    once per test session and suffix)."""
    url = make_demo_database(suffix)
    compute_all(url, steps=("patrol_static", "patrol_visits", "coverage"))
    return url


def account(url: str, username: str, grid_ids: set[int], role: Role = Role.GRID_LEAD) -> User:
    """An account of ``role`` assigned exactly ``grid_ids`` (made or reset), as a User; the
    database's row-level security keys on its id, so tests read as a real account."""
    with get_engine(url).begin() as conn:
        user_id = conn.execute(
            text(
                "INSERT INTO users (username, display_name, role) VALUES (:u, :u, :r) "
                "ON CONFLICT (username) DO UPDATE SET role = EXCLUDED.role RETURNING id"
            ),
            {"u": username, "r": str(role)},
        ).scalar_one()
        conn.execute(text("DELETE FROM user_grids WHERE user_id = :u"), {"u": user_id})
        conn.execute(
            text("INSERT INTO user_grids SELECT :u, unnest(CAST(:g AS integer[]))"),
            {"u": user_id, "g": sorted(grid_ids)},
        )
    return User(user_id, username, username, role, frozenset(grid_ids))
