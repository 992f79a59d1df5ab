"""A grid lead records a visit on /lead in headless Chromium against a live ``gridmap
serve`` (the hand-made household world: G1's building B-G1 with H1-H4, plus B-G1b with H5
300 m along a street): the household panel lists H1 overdue and the map's overdue-visits
trace counts it; after the visit (sent with a double click) one visit is stored, the panel
and the trace count one fewer; then the day route is drawn as two numbered stops, listed,
with its PDF link. Screenshots: test-artifacts/lead-visits-zh.png, lead-route-zh.png."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import text

from gridmap.db.engine import get_engine
from tests.conftest import make_test_database
from tests.gridmap.households.world import add_route_street, seed_households
from tests.gridmap.web.conftest import ARTIFACTS, LiveServer
from tests.signin import ensure_account, sign_in

pytestmark = pytest.mark.browser

#: The overdue-visits trace's building row: [address, tracked, overdue, vulnerable, days].
OVERDUE_JS = """
const g = document.querySelector('#lead-graph .js-plotly-plot');
const t = g && g.data && g.data[4];
return t && t.customdata && t.customdata.length ? t.customdata[0] : null;
"""
#: The day route's stop numbers as drawn (trace 6 of the lead map).
ROUTE_JS = """
const g = document.querySelector('#lead-graph .js-plotly-plot');
const t = g && g.data && g.data[6];
return t && t.text && t.text[0] ? t.text : null;
"""


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 60,
             message: str = "") -> Any:  # fmt: skip
    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition, message)


@pytest.fixture(scope="module")
def world(_created: list[str]) -> tuple[str, dict[str, int]]:
    url = make_test_database("lead_visits_browser")
    _created.append(url)
    ids = seed_households(url)
    with get_engine(url).begin() as conn:
        add_route_street(conn)
    return url, ids


def test_lead_records_a_visit_and_the_overdue_layer_changes(
    browser: WebDriver,
    live_servers: Callable[[str, str], LiveServer],
    world: tuple[str, dict[str, int]],
) -> None:
    url, ids = world
    server = live_servers(url, "lead-visits")
    user, password = ensure_account(url, "grid_lead", username="visits_browser", grids=("G1",))
    browser.set_window_size(1600, 1000)
    sign_in(browser, server.url, user, password, next_path="/lead")
    summary = wait_for(browser, lambda d: d.find_elements(By.ID, "lead-household-summary"), 60,
                       "no household panel on /lead")[0]  # fmt: skip
    wait_for(browser, lambda d: "逾期 5 户" in summary.text, 60, summary.text)
    assert summary.text == "周期内已走访 0/5 户（0.0%）· 逾期 5 户 · 困难群体逾期 3 户"
    before = wait_for(browser, lambda d: d.execute_script(OVERDUE_JS), 30, "no overdue trace")
    assert before[:4] == ["B-G1", 4, 4, 3]

    # Choose H1 (living alone) like a person: open the dropdown, type, Enter.
    browser.find_element(By.CSS_SELECTOR, "#lead-visit-household").click()
    ActionChains(browser).send_keys("H1 ").pause(0.3).send_keys(Keys.ENTER).perform()
    note = browser.find_element(By.ID, "lead-visit-note")
    note.send_keys("老人身体良好")
    button = browser.find_element(By.ID, "lead-visit-submit")
    ActionChains(browser).double_click(button).perform()
    message = browser.find_element(By.ID, "lead-visit-message")
    wait_for(browser, lambda d: message.text.startswith("已记录走访"), 30, message.text)
    # (not "逾期 3 户": the summary before the visit holds it too, as "困难群体逾期 3 户")
    wait_for(browser, lambda d: "已走访 1/5 户" in summary.text, 30, summary.text)
    assert summary.text == "周期内已走访 1/5 户（20.0%）· 逾期 4 户 · 困难群体逾期 2 户"
    after = wait_for(browser, lambda d: (r := d.execute_script(OVERDUE_JS)) and r[2] == 3 and r,
                     30, "the overdue trace should count one fewer")  # fmt: skip
    assert after[:4] == ["B-G1", 4, 3, 2]
    items = browser.find_element(By.ID, "lead-household-list").text
    assert "H1 ·" not in items and "H4 ·" in items
    with get_engine(url).connect() as conn:
        stored = conn.execute(
            text("SELECT kind, outcome, note FROM visits WHERE household_id = :h"),
            {"h": ids["H1"]},
        ).all()
    assert [tuple(r) for r in stored] == [("care", "met", "老人身体良好")], "one visit"
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "lead-visits-zh.png"))

    # Today's route: B-G1 (H2-H4) and B-G1b (H5), 300 m apart on the street, numbered.
    browser.find_element(By.ID, "lead-route-show").click()
    drawn = wait_for(browser, lambda d: d.execute_script(ROUTE_JS), 30, "no route drawn")
    assert drawn == ["1", "2"]
    route = browser.find_element(By.ID, "lead-route-summary")
    assert route.text == "今日走访路线：2 站、4 户，步行全程 300 米。"
    stops = browser.find_elements(By.CSS_SELECTOR, "#lead-route-stops li")
    assert sorted(int(s.get_attribute("data-building")) for s in stops) == g1_buildings(url)
    assert "幸福路8号" in browser.find_element(By.ID, "lead-route-stops").text
    pdf = browser.find_element(By.ID, "lead-route-pdf").get_attribute("href")
    assert pdf == server.url.rstrip("/") + "/api/v1/day-plan.pdf?grid_id=1"
    printed = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => done([r.status, r.headers.get('content-type')]))",
        pdf,
    )
    assert printed == [200, "application/pdf"], "the lead's session prints its route"
    browser.execute_script("document.getElementById('lead-route-stops').scrollIntoView()")
    browser.save_screenshot(str(ARTIFACTS / "lead-route-zh.png"))


def g1_buildings(url: str) -> list[int]:
    """The ids of G1's buildings with households (B-G1, B-G1b), in order."""
    with get_engine(url).connect() as conn:
        return list(
            conn.execute(
                text("SELECT id FROM buildings WHERE code IN ('B-G1', 'B-G1b') ORDER BY id")
            ).scalars()
        )
