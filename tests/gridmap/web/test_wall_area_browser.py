"""A street command centre's wall in headless Chromium (issue 15): signed in with a display
token of a command account scoped to one street, the wall is fitted to that street and
shows only it: the patrol outlines are the street's grids, the ticker and the hottest
grids its cases and grids. Screenshot: test-artifacts/wall-street.png."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import text

from gridmap.access.accounts import issue_token, set_area
from gridmap.db.engine import get_engine
from tests.gridmap.web.conftest import ARTIFACTS, LiveServer
from tests.gridmap.web.test_browser import wait_for
from tests.signin import ensure_account

pytestmark = pytest.mark.browser

STATE_JS = """
const box = document.getElementById('wall-map');
const gd = document.querySelector('#wall-graph .js-plotly-plot');
if (!box || !gd || !gd.data) return null;
const patrol = gd.data.find(t => t.meta && (t.meta.role || t.meta.layer) === 'patrol_coverage');
return {
  extent: box.getAttribute('data-extent'),
  grids: patrol ? Array.from(patrol.locations || []).map(String) : [],
  ticker: Array.from(document.querySelectorAll('#wall-ticker .ticker-item')).map(li => li.id),
  hot: Array.from(document.querySelectorAll('#wall-hot .hot-grid')).map(e => e.textContent),
  notice: document.getElementById('wall-notice').className,
  title: document.querySelector('.wall-title').textContent,
};
"""


@pytest.fixture(scope="module")
def wall_server(live_servers: Callable[[str, str], LiveServer], wall_url: str) -> LiveServer:
    return live_servers(wall_url, "wall")


def test_street_centre_wall_shows_only_its_street(
    browser: WebDriver, wall_server: LiveServer, wall_url: str
) -> None:
    engine = get_engine(wall_url)
    with engine.connect() as conn:
        # the smallest street that has grids and cases: most of the city lies outside it
        code, street_name, grid_ids = conn.execute(
            text(
                """
                SELECT s.code, s.name, array_agg(DISTINCT g.id)
                FROM streets s JOIN communities c ON c.street_id = s.id
                JOIN grids g ON g.community_id = c.id
                WHERE EXISTS (SELECT 1 FROM cases k WHERE k.grid_id = g.id)
                GROUP BY s.id ORDER BY count(DISTINCT g.id), s.id LIMIT 1
                """
            )
        ).one()
        all_grids = conn.execute(text("SELECT count(*) FROM grids")).scalar_one()
        extent = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Extent(geom)::geometry e FROM grids WHERE id = ANY(:g)) x"
            ),
            {"g": grid_ids},
        ).one()
        names = set(
            conn.execute(text("SELECT name FROM grids WHERE id = ANY(:g)"), {"g": grid_ids})
            .scalars()
            .all()
        )
    assert 0 < len(grid_ids) < all_grids
    user, _ = ensure_account(wall_url, "command", username="street_wall")
    set_area(engine, user, f"street:{code}")
    token = issue_token(engine, user, "display", "street wall test")

    browser.get(f"{wall_server.url}/login?token={token}&next=/wall")
    wait_for(browser, lambda d: d.current_url.endswith("/wall"), 30, "display sign-in failed")

    def drawn(driver: WebDriver) -> bool:
        s = driver.execute_script(STATE_JS)
        return bool(s and s["grids"] and s["ticker"] and s["notice"] == "wall-notice live")

    wait_for(browser, drawn, 60, message=str(browser.execute_script(STATE_JS)))
    s = browser.execute_script(STATE_JS)
    assert json.loads(s["extent"]) == pytest.approx(list(extent))
    assert s["title"] == f"指挥中心大屏 · {street_name}"
    assert set(s["grids"]) == {str(i) for i in grid_ids}
    with engine.connect() as conn:
        ticker = [int(i.removeprefix("ticker-case-")) for i in s["ticker"]]
        outside = conn.execute(
            text("SELECT count(*) FROM cases WHERE id = ANY(:c) AND NOT grid_id = ANY(:g)"),
            {"c": ticker, "g": grid_ids},
        ).scalar_one()
    assert ticker and outside == 0
    assert s["hot"] and all(any(n in h for n in names) for h in s["hot"]), s["hot"]
    ARTIFACTS.mkdir(exist_ok=True)
    settled = (
        "const m = document.querySelector('#wall-graph .js-plotly-plot')._fullLayout.map._subplot"
        ".map; return m.loaded() && m.areTilesLoaded()"
    )
    wait_for(browser, lambda d: d.execute_script(settled), 30, "the street's map never drew")
    time.sleep(1)  # the frame after the last tile
    browser.save_screenshot(str(ARTIFACTS / "wall-street.png"))
