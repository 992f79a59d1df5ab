"""The grid detail panel's figures on the demo city (seed 7), checked against figures
computed independently in SQL (and the patrols module's own coverage function)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from gridmap.access import Role, User
from gridmap.patrols.coverage import parse_window
from gridmap.settings import get_settings
from gridmap.web.services.lead.figures import grid_figures
from tests.gridmap.web.services.lead.world import account

EXPECTED_SQL = """
SELECT g.id,
       (SELECT coalesce(sum(population), 0) FROM buildings WHERE grid_id = g.id) AS population,
       (SELECT coalesce(sum(households), 0) FROM buildings WHERE grid_id = g.id) AS households,
       (SELECT coalesce(sum(elderly_alone), 0) FROM buildings WHERE grid_id = g.id) AS elderly,
       (SELECT coalesce(sum(disabled), 0) FROM buildings WHERE grid_id = g.id) AS disabled,
       (SELECT coalesce(sum(low_income), 0) FROM buildings WHERE grid_id = g.id) AS low_income,
       (SELECT count(*) FROM buildings WHERE grid_id = g.id) AS buildings,
       (SELECT count(*) FROM cameras WHERE grid_id = g.id AND status = 'online') AS online,
       (SELECT count(*) FROM cameras WHERE grid_id = g.id) AS cameras,
       (SELECT count(*) FROM cases WHERE grid_id = g.id
          AND gridmap_case_is_open(status)) AS open,
       (SELECT count(*) FROM cases WHERE grid_id = g.id AND due_at < :at
          AND gridmap_case_is_open(status)) AS overdue
FROM grids g WHERE g.id = ANY (:ids) ORDER BY g.id
"""


@pytest.fixture(scope="module")
def moment(lead_engine: Engine) -> datetime:
    """Three hours into the demo's patrol day: some streets patrolled, some not."""
    with lead_engine.connect() as conn:
        first = conn.execute(text("SELECT min(at) FROM gps_pings")).scalar_one()
    return first + timedelta(hours=3)


@pytest.fixture(scope="module")
def sample(lead_engine: Engine) -> list[int]:
    """Grids with open cases, overdue cases and partial patrol coverage, plus the first."""
    with lead_engine.connect() as conn:
        busy = conn.execute(
            text(
                "SELECT grid_id FROM cases WHERE status NOT IN ('resolved','closed','rejected') "
                "AND grid_id IS NOT NULL GROUP BY grid_id ORDER BY count(*) DESC, grid_id LIMIT 4"
            )
        ).scalars()
        return sorted({1, *busy})


def _service_expected(engine: Engine, ids: list[int]) -> dict[int, int]:
    settings = get_settings()
    with engine.connect() as conn:
        run = conn.execute(
            text("SELECT id, params FROM analysis_runs WHERE job = 'coverage'")
        ).one()
        k = run.params["kinds"].index(settings.lead_service_kind) + 1
        reach = run.params["speed_kmh"] * 1000 / 60 * settings.lead_service_minutes
        rows = conn.execute(
            text(
                "SELECT b.grid_id, sum(b.population) FILTER (WHERE ba.walk_m[:k] <= :reach) "
                "FROM buildings b LEFT JOIN building_access ba "
                "ON ba.building_id = b.id AND ba.run_id = :run "
                "WHERE b.grid_id = ANY (:ids) GROUP BY b.grid_id"
            ),
            {"k": k, "reach": reach + 1e-3, "run": run.id, "ids": ids},
        )
        return {g: int(p or 0) for g, p in rows}


def test_figures_match_independent_sql(
    lead_engine: Engine, sample: list[int], moment: datetime
) -> None:
    admin = User(1, "admin", "admin", Role.ADMIN)
    got = grid_figures(lead_engine, admin, sample, at=moment)
    assert sorted(got) == sample
    window = parse_window(get_settings().lead_patrol_window)
    with lead_engine.connect() as conn:
        expected = conn.execute(text(EXPECTED_SQL), {"ids": sample, "at": moment}).all()
        patrol = {
            r.grid_id: r
            for r in conn.execute(
                text("SELECT * FROM gridmap_patrol_coverage(:t0, :t1)"),
                {"t0": moment - window, "t1": moment},
            )
        }
    service = _service_expected(lead_engine, sample)
    for row in expected:
        fig = got[row.id]
        assert (
            fig.population, fig.households, fig.elderly_alone, fig.disabled, fig.low_income,
            fig.buildings, fig.cameras_online, fig.cameras_total, fig.cases_open,
            fig.cases_overdue,
        ) == tuple(row[1:])  # fmt: skip
        assert fig.street_m == pytest.approx(patrol[row.id].street_m)
        assert fig.patrolled_m == pytest.approx(patrol[row.id].patrolled_m)
        assert fig.patrol_share == pytest.approx(patrol[row.id].patrolled_share)
        assert fig.service_population == service[row.id]
        assert fig.service_share == pytest.approx(service[row.id] / row.population)
    shares = [got[g].patrol_share for g in sample]
    assert any(0 < s < 1 for s in shares), f"want a partly patrolled grid, got {shares}"
    assert any(got[g].cases_overdue > 0 for g in sample)


def test_grid_lead_sees_only_their_grids(
    lead_url: str, lead_engine: Engine, moment: datetime
) -> None:
    lead = account(lead_url, "lead_figures", {3, 4})
    assert sorted(grid_figures(lead_engine, lead, None, at=moment)) == [3, 4]
    assert sorted(grid_figures(lead_engine, lead, [4, 5, 6], at=moment)) == [4]
    assert grid_figures(lead_engine, None, None, at=moment) == {}
    nobody = account(lead_url, "lead_nothing", set())
    assert grid_figures(lead_engine, nobody, [1, 2], at=moment) == {}


def test_missing_coverage_and_patrols_read_as_unknown(demo_engine: Engine) -> None:
    """The shared demo database has neither patrol street pieces nor a coverage run."""
    admin = User(1, "admin", "admin", Role.ADMIN)
    fig = grid_figures(demo_engine, admin, [1], at=datetime.now().astimezone())[1]
    assert fig.patrol_share is None and fig.service_share is None and fig.population > 0
