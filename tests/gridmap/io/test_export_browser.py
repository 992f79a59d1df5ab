"""A planner signs in, opens /plan in headless Chromium, starts a print-map export from the
export panel, watches the progress and fetches the file from the download link."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import text

from tests.gridmap.io.export_world import (
    export_engine,
    export_folder,
    exports_server,
    exports_url,
)
from tests.gridmap.web.conftest import ARTIFACTS, LiveServer, browser, live_servers

__all__ = [
    "browser", "export_engine", "export_folder", "exports_server", "exports_url", "live_servers",
]  # fmt: skip

pytestmark = pytest.mark.browser

#: Fetch the download link with the page's session; byte count and first bytes.
FETCH_JS = """
const done = arguments[arguments.length - 1];
const link = document.getElementById('plan-export-link');
fetch(link.href, {credentials: 'same-origin'})
  .then(r => r.arrayBuffer().then(b => done([r.status, r.headers.get('content-type'),
        b.byteLength, String.fromCharCode(...new Uint8Array(b.slice(0, 5)))])))
  .catch(e => done(['error', String(e)]));
"""


def test_planner_exports_a_print_map_from_the_plan_page(
    browser: WebDriver, exports_server: LiveServer, export_engine
) -> None:
    exports_server.open(browser, "/plan", role="planner")
    wait = WebDriverWait(browser, 90, poll_frequency=0.1)
    start = wait.until(lambda d: d.find_element(By.ID, "plan-export-start"))
    assert start.text == "开始导出"
    # the page fills its side bar after the first paint; click once it has stopped moving
    # (a click during the shift landed on the neighbouring layer under CI load)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#plan-communities li"))
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-dash-is-loading='true']"))
    # layers: grids and service points are ticked; add cameras; A3 portrait PDF
    cameras = browser.find_element(By.CSS_SELECTOR, "#plan-export-layers input[value='cameras']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", cameras)
    cameras.click()
    wait.until(lambda d: cameras.is_selected(), "the cameras box did not tick")
    ticked = browser.find_elements(By.CSS_SELECTOR, "#plan-export-layers input:checked")
    assert {box.get_attribute("value") for box in ticked} == {"grids", "service_points", "cameras"}
    browser.find_element(By.CSS_SELECTOR, "#plan-export-paper input[value='A3']").click()
    browser.find_element(
        By.CSS_SELECTOR, "#plan-export-orientation input[value='portrait']"
    ).click()
    title = browser.find_element(By.ID, "plan-export-title")
    title.send_keys("双塘街道服务站点覆盖图")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", start)
    start.click()
    status = browser.find_element(By.ID, "plan-export-status")
    wait.until(lambda d: status.text.startswith(("排队中", "导出中", "已完成")), status.text)
    link = wait.until(
        lambda d: (el := d.find_element(By.ID, "plan-export-link")).is_displayed() and el,
        "no download link",
    )
    assert status.text.startswith("已完成"), status.text
    assert link.text.startswith("下载 gridmap_grids+service_points+cameras_")
    assert link.text.endswith(".pdf")
    progress = browser.find_element(By.ID, "plan-export-progress").get_attribute("value")
    assert float(progress) == 1.0
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", link)
    browser.save_screenshot(str(ARTIFACTS / "plan-export.png"))
    browser.set_script_timeout(60)
    code, media_type, size, head = browser.execute_async_script(FETCH_JS)
    assert (code, media_type, head) == (200, "application/pdf", "%PDF-")
    assert size > 50_000
    planner = exports_server.account("planner")[0]
    with export_engine.connect() as conn:
        options = conn.execute(
            text("SELECT options FROM export_jobs WHERE username = :u ORDER BY created_at DESC "
                 "LIMIT 1"), {"u": planner},
        ).scalar_one()  # fmt: skip
    assert options["paper"] == "A3" and options["orientation"] == "portrait"
    assert options["title"] == "双塘街道服务站点覆盖图"
    assert options["filters"]["circle_kind"]  # the page's service kind went along
