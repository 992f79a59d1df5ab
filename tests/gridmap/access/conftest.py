"""Access fixtures: a demo town of its own (sign-ins write the audit log), the dashboard on
it over real HTTP (werkzeug, threaded, in-process so tests may change settings), and the
facts the tests aim at: the demo grid lead's own grids and a foreign grid."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from dash import Dash
from sqlalchemy import text
from werkzeug.serving import make_server

from gridmap.db.engine import get_engine
from gridmap.web.app import create_app
from tests.conftest import make_demo_database
from tests.gridmap.web.conftest import browser  # noqa: F401  (the shared headless Chromium)

LEAD, LEAD_PASSWORD = "lead", "gridmap-lead"


@dataclass(frozen=True)
class Town:
    """The demo town's facts the access tests use."""

    url: str
    lead_id: int
    own_grid_ids: tuple[int, ...]
    own_case_count: int
    foreign_grid_id: int
    foreign_grid_code: str
    foreign_grid_name: str
    foreign_bbox: tuple[float, float, float, float]
    foreign_case_ids: tuple[int, ...]
    foreign_case_codes: tuple[str, ...]
    foreign_building_codes: tuple[str, ...]
    foreign_shift_id: int | None
    foreign_device: str | None

    @property
    def markers(self) -> tuple[str, ...]:
        """Strings only the foreign grid's data contain."""
        return (
            self.foreign_grid_code,
            self.foreign_grid_name,
            *self.foreign_case_codes,
            *self.foreign_building_codes,
        )


@pytest.fixture(scope="session")
def town(_created: list[str]) -> Town:
    url = make_demo_database("access")
    _created.append(url)
    with get_engine(url).connect() as conn:
        lead_id, own = conn.execute(
            text(
                "SELECT u.id, array_agg(ug.grid_id ORDER BY ug.grid_id) FROM users u "
                "JOIN user_grids ug ON ug.user_id = u.id WHERE u.username = :u GROUP BY u.id"
            ),
            {"u": LEAD},
        ).one()
        own_cases = conn.execute(
            text("SELECT count(*) FROM cases WHERE grid_id = ANY(:g)"), {"g": own}
        ).scalar_one()
        # The foreign grid: the busiest one of another community.
        gid, code, name, minx, miny, maxx, maxy = conn.execute(
            text(
                """
                SELECT g.id, g.code, g.name, ST_XMin(g.geom), ST_YMin(g.geom),
                       ST_XMax(g.geom), ST_YMax(g.geom)
                FROM grids g JOIN cases c ON c.grid_id = g.id
                WHERE g.community_id <> (SELECT community_id FROM grids WHERE id = :first)
                GROUP BY g.id ORDER BY count(*) DESC, g.id LIMIT 1
                """
            ),
            {"first": own[0]},
        ).one()
        cases = conn.execute(
            text("SELECT id, code FROM cases WHERE grid_id = :g ORDER BY id DESC LIMIT 40"),
            {"g": gid},
        ).all()
        buildings = conn.execute(
            text("SELECT code FROM buildings WHERE grid_id = :g ORDER BY id LIMIT 20"), {"g": gid}
        ).scalars()
        shift = conn.execute(
            text("SELECT id, device_id FROM patrol_shifts WHERE grid_id = :g LIMIT 1"), {"g": gid}
        ).first()
    return Town(
        url=url,
        lead_id=lead_id,
        own_grid_ids=tuple(own),
        own_case_count=own_cases,
        foreign_grid_id=gid,
        foreign_grid_code=code,
        foreign_grid_name=name,
        foreign_bbox=(minx, miny, maxx, maxy),
        foreign_case_ids=tuple(r.id for r in cases),
        foreign_case_codes=tuple(r.code for r in cases),
        foreign_building_codes=tuple(buildings),
        foreign_shift_id=shift.id if shift else None,
        foreign_device=shift.device_id if shift else None,
    )


@pytest.fixture(scope="session")
def access_app(town: Town) -> Dash:
    return create_app(town.url)


@pytest.fixture(scope="session")
def base_url(access_app: Dash) -> Iterator[str]:
    """The dashboard served over HTTP on 127.0.0.1 (free port) in a thread."""
    server = make_server("127.0.0.1", 0, access_app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
