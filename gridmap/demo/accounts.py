"""Demo accounts with known passwords, so a ``make demo`` town can be signed in to.

The demo generator makes the staff accounts ``admin``, ``command`` and ``planner`` (and one
grid lead per grid, workers per community, without passwords); the loader gives the staff
these passwords and adds ``lead``, a grid lead of the first community's first three grids.
They are for demonstrations only: change or disable them on a real server
(``gridmap user password`` / ``gridmap user disable``).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions
from sqlalchemy import Engine, text

from gridmap.access.passwords import hash_password, verify_password

#: The lead account's grids: the first community's first grids, by code.
LEAD_GRIDS = 3


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    display_name: str


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", "gridmap-admin", "admin", "系统管理员"),
    DemoAccount("command", "gridmap-command", "command", "指挥中心值班员"),
    DemoAccount("planner", "gridmap-planner", "planner", "规划分析员"),
    DemoAccount("lead", "gridmap-lead", "grid_lead", "示例网格长"),
)


def add_demo_accounts(cur: psycopg2.extensions.cursor) -> None:
    """Set the demo passwords (adding missing accounts) and the lead's grids, in the
    loader's transaction."""
    for account in DEMO_ACCOUNTS:
        cur.execute(
            "INSERT INTO users (username, display_name, role, password_hash) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (username) "
            "DO UPDATE SET password_hash = EXCLUDED.password_hash, active = true "
            "RETURNING id",
            (account.username, account.display_name, account.role, hash_password(account.password)),
        )
        user_id = cur.fetchone()[0]
        if account.role == "grid_lead":
            cur.execute(
                "INSERT INTO user_grids (user_id, grid_id) "
                "SELECT %s, id FROM grids "
                "WHERE community_id = (SELECT min(community_id) FROM grids) "
                "ORDER BY code LIMIT %s ON CONFLICT DO NOTHING",
                (user_id, LEAD_GRIDS),
            )


def demo_accounts_ready(engine: Engine) -> list[DemoAccount]:
    """The demo accounts that sign in with their documented password in this database."""
    with engine.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM gridmap_meta WHERE key = 'demo_seed'")).first():
            return []
        hashes = dict(
            conn.execute(
                text(
                    "SELECT username, password_hash FROM users WHERE username = ANY(:u) AND active"
                ),
                {"u": [a.username for a in DEMO_ACCOUNTS]},
            ).all()
        )
    return [a for a in DEMO_ACCOUNTS if verify_password(hashes.get(a.username), a.password)]
