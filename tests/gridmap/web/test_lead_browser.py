"""The grid-lead page in headless Chromium against a live ``gridmap serve``: a grid lead
signs in through /login like a person, lands on their grids (and only theirs), draws a box
on the map, and the table lists exactly their cases inside the box; picking a row rings
the case on the map. Screenshot: test-artifacts/lead-zh.png."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import text

from gridmap.db.engine import get_engine
from tests.gridmap.web.conftest import ARTIFACTS, LiveServer
from tests.gridmap.web.services.lead.world import make_lead_city
from tests.signin import ensure_account, sign_in

pytestmark = pytest.mark.browser

GD = "document.querySelector('#lead-graph .js-plotly-plot')"
#: Pixel corners of a lon/lat box on the map (viewport coordinates); starts listening for
#: the selection plotly reports, which is exactly what the page's callback receives.
PROJECT_JS = f"""
const gd = {GD};
const m = gd._fullLayout.map._subplot.map;
const r = m.getCanvas().getBoundingClientRect();
const a = m.project([arguments[0], arguments[3]]), b = m.project([arguments[2], arguments[1]]);
window.__leadSelection = null;
gd.on('plotly_selected', e => {{ window.__leadSelection = e && e.range ? e.range.map : null; }});
return [r.left + a.x, r.top + a.y, r.left + b.x, r.top + b.y];
"""
#: Viewport pixel of a case point; starts listening for the case plotly reports clicked.
CLICK_JS = f"""
const gd = {GD};
const i = gd.data[1].customdata.findIndex(c => c[0] == arguments[0]);
const m = gd._fullLayout.map._subplot.map;
const r = m.getCanvas().getBoundingClientRect();
const p = m.project([gd.data[1].lon[i], gd.data[1].lat[i]]);
window.__leadClick = null;
gd.on('plotly_click', e => {{
  const pt = e.points.find(q => q.curveNumber == 1);
  window.__leadClick = pt ? pt.customdata[0] : null;
}});
return [r.left + p.x, r.top + p.y];
"""
SELECTED_JS = """
const api = window.dash_ag_grid && dash_ag_grid.getApi('lead-table');
return api ? api.getSelectedRows().map(r => Number(r.id)) : null;
"""
OTHER_ROW_JS = """
const api = dash_ag_grid.getApi('lead-table');
for (const el of document.querySelectorAll('#lead-table .ag-center-cols-container .ag-row')) {
  const node = api.getDisplayedRowAtIndex(Number(el.getAttribute('row-index')));
  if (node && node.data && Number(node.data.id) !== arguments[0]) {
    return [el, Number(node.data.id)];
  }
}
return null;
"""
ROW_IDS_JS = """
const api = window.dash_ag_grid && dash_ag_grid.getApi('lead-table');
if (!api) return null;
const ids = []; api.forEachNode(n => n.data && ids.push(Number(n.data.id)));
return ids;
"""


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 60,
             message: str = "") -> Any:  # fmt: skip
    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition, message)


@pytest.fixture(scope="module")
def lead_city(_created: list[str]) -> str:
    url = make_lead_city("leadcity")
    _created.append(url)
    return url


@pytest.fixture(scope="module")
def grids(lead_city: str) -> dict[str, Any]:
    """Grid A, its east neighbour E (not the lead's) and north neighbour N (the lead's)."""
    with get_engine(lead_city).connect() as conn:
        a = conn.execute(
            text(
                "SELECT a.id, ST_XMin(a.geom) x0, ST_YMin(a.geom) y0, ST_XMax(a.geom) x1, "
                "ST_YMax(a.geom) y1, e.id AS east, n.id AS north, a.code, n.code AS ncode "
                "FROM grids a "
                "JOIN grids e ON ST_Touches(a.geom, e.geom) "
                "AND ST_X(ST_Centroid(e.geom)) > ST_XMax(a.geom) - 1e-4 "
                "JOIN grids n ON ST_Touches(a.geom, n.geom) "
                "AND ST_Y(ST_Centroid(n.geom)) > ST_YMax(a.geom) - 1e-4 "
                "WHERE (SELECT count(*) FROM cases c WHERE c.grid_id = a.id) > 50 "
                # the neighbour has cases inside the box drawn below (the demo city
                # changes with its anchor day), a margin within it
                "AND (SELECT count(*) FROM cases c WHERE c.grid_id = e.id "
                "AND ST_X(c.geom) < ST_XMax(a.geom) + 0.25 * (ST_XMax(a.geom) - ST_XMin(a.geom)) "
                "AND ST_Y(c.geom) BETWEEN "
                "ST_YMin(a.geom) + 0.25 * (ST_YMax(a.geom) - ST_YMin(a.geom)) "
                "AND ST_YMax(a.geom) - 0.25 * (ST_YMax(a.geom) - ST_YMin(a.geom))) >= 3 "
                "ORDER BY a.id LIMIT 1"
            )
        ).one()
    return dict(a._mapping)


def test_lead_signs_in_box_selects_and_the_table_follows(
    browser: WebDriver,
    live_servers: Callable[[str, str], LiveServer],
    lead_city: str,
    grids: dict[str, Any],
) -> None:
    server = live_servers(lead_city, "leadcity")
    mine = sorted([grids["id"], grids["north"]])
    user, password = ensure_account(
        lead_city, "grid_lead", username="lead_browser", grids=(grids["code"], grids["ncode"])
    )
    browser.set_window_size(1600, 1000)
    sign_in(browser, server.url, user, password, next_path="/")
    wait_for(browser, lambda d: d.current_url.rstrip("/").endswith("/lead"), 30,
             f"a grid lead lands on /lead, not {browser.current_url}")  # fmt: skip
    message = wait_for(browser, lambda d: d.find_element(By.ID, "lead-message").text or None, 60)
    assert message == "已选 2 个网格"
    drawn = wait_for(browser, lambda d: d.execute_script(f"const g = {GD}; return g && g.data "
                     "&& g.data.length == 7 && g.data[0].locations"), 60)  # fmt: skip
    assert sorted(drawn) == mine, "only the lead's grids are drawn"
    pager = browser.find_element(By.ID, "lead-pager-text")
    with get_engine(lead_city).connect() as conn:
        total = conn.execute(
            text("SELECT count(*) FROM cases WHERE grid_id = ANY (:g)"), {"g": mine}
        ).scalar_one()
    wait_for(browser, lambda d: f"共 {total:,} 件" in pager.text, 30, pager.text)

    # Draw a box over the east half of grid A and into its east neighbour (not the lead's).
    width, height = grids["x1"] - grids["x0"], grids["y1"] - grids["y0"]
    box = (
        grids["x0"] + 0.5 * width,
        grids["y0"] + 0.2 * height,
        grids["x1"] + 0.3 * width,
        grids["y1"] - 0.2 * height,
    )
    browser.find_element(By.CSS_SELECTOR, '#lead-graph .modebar-btn[data-val="select"]').click()
    x0, y0, x1, y1 = browser.execute_script(PROJECT_JS, *box)
    actions = ActionBuilder(browser)
    actions.pointer_action.move_to_location(int(x0), int(y0)).pointer_down()
    actions.pointer_action.move_to_location(int((x0 + x1) / 2), int((y0 + y1) / 2))
    actions.pointer_action.move_to_location(int(x1), int(y1)).pointer_up()
    actions.perform()
    selected = wait_for(browser, lambda d: d.execute_script("return window.__leadSelection"), 20,
                        "plotly reported no box selection")  # fmt: skip
    (lon_a, lat_a), (lon_b, lat_b) = selected
    with get_engine(lead_city).connect() as conn:
        inside = sorted(
            conn.execute(
                text(
                    "SELECT id FROM cases WHERE grid_id = ANY (:g) AND ST_Intersects(geom, "
                    "ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"
                ),
                {
                    "g": mine,
                    "x0": min(lon_a, lon_b),
                    "y0": min(lat_a, lat_b),
                    "x1": max(lon_a, lon_b),
                    "y1": max(lat_a, lat_b),
                },
            ).scalars()
        )
        neighbour = conn.execute(
            text(
                "SELECT count(*) FROM cases WHERE grid_id = :e AND ST_Intersects(geom, "
                "ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"
            ),
            {
                "e": grids["east"],
                "x0": min(lon_a, lon_b),
                "y0": min(lat_a, lat_b),
                "x1": max(lon_a, lon_b),
                "y1": max(lat_a, lat_b),
            },
        ).scalar_one()
    assert 0 < len(inside) <= 100 and neighbour > 0, (len(inside), neighbour)
    wait_for(browser, lambda d: f"共 {len(inside):,} 件" in pager.text, 30,
             f"pager says {pager.text!r}, want {len(inside)} cases")  # fmt: skip
    rows = wait_for(browser, lambda d: (ids := d.execute_script(ROW_IDS_JS)) and
                    len(ids) == len(inside) and ids, 30)  # fmt: skip
    assert sorted(rows) == inside, "rows shown = the lead's cases inside the box"
    points = browser.execute_script(f"return {GD}.data[1].customdata.map(c => c[0])")
    assert sorted(points) == inside, "the map's case points follow the box too"

    # Click a case on the map: the table selects its row.
    x, y = browser.execute_script(CLICK_JS, inside[len(inside) // 2])
    actions = ActionBuilder(browser)
    actions.pointer_action.move_to_location(int(x), int(y)).click()
    actions.perform()
    clicked = wait_for(browser, lambda d: d.execute_script("return window.__leadClick"), 20,
                       "plotly reported no click on a case")  # fmt: skip
    wait_for(browser, lambda d: d.execute_script(SELECTED_JS) == [clicked], 20,
             f"the table should select case {clicked}")  # fmt: skip

    # Pick another row: the case is ringed on the map and the map pans to it.
    row, picked = browser.execute_script(OTHER_ROW_JS, clicked)
    ActionChains(browser).move_to_element(row).click().perform()
    wait_for(browser, lambda d: d.execute_script(SELECTED_JS) == [picked], 20,
             f"the table should select case {picked}")  # fmt: skip
    with get_engine(lead_city).connect() as conn:
        spot = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM cases WHERE id = :i"), {"i": picked}
        ).one()
    ring = wait_for(browser, lambda d: (r := d.execute_script(f"const t = {GD}.data[3]; "
                    "return t.lon && t.lon.length == 1 && [t.lon[0], t.lat[0]]")) and
                    r == pytest.approx([spot[0], spot[1]], abs=1e-6) and r, 20,
                    f"the ring should move to case {picked}")  # fmt: skip
    assert ring == pytest.approx([spot[0], spot[1]], abs=1e-6)
    assert re.search(r"\d", browser.find_element(By.ID, "lead-fig-population").text)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "lead-zh.png"))

    # The language switch reloads the page in English, same grids.
    browser.find_element(By.ID, "lang-en").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "lead-message").text == "2 grid(s) chosen",
             60, "English page")  # fmt: skip
    assert browser.find_element(By.ID, "nav-lead").text == "My grids"
