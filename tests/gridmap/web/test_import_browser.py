"""The import panel of /plan in headless Chromium, signed in as a planner: upload a
GeoJSON with one self-intersecting grid, the dry run shows the per-row report and writes
nothing; with "repair" ticked the import writes all three grids and is audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.gridmap.io.import_world import count, grids_frame, query, seeded_database
from tests.gridmap.io.test_import_validation import BOW_TIE
from tests.gridmap.web.conftest import ARTIFACTS, LiveServer
from tests.signin import ensure_account, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def import_db(_created: list[str]) -> str:
    return seeded_database(_created, "importweb")


@pytest.fixture(scope="module")
def import_server(import_db: str, live_servers: Callable[[str, str], LiveServer]) -> LiveServer:
    return live_servers(import_db, "import")


def wait_text(driver: WebDriver, element_id: str, needle: str, timeout: float = 60) -> str:
    def found(d: WebDriver) -> str | bool:
        els = d.find_elements(By.ID, element_id)
        return els[0].text if els and needle in els[0].text else False

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(found, needle)


def test_upload_dry_run_report_then_import(
    browser: WebDriver, import_server: LiveServer, import_db: str, tmp_path: Path
) -> None:
    frame = grids_frame("WEB")
    frame.loc[1, "geometry"] = BOW_TIE
    path = tmp_path / "网格.geojson"
    frame.to_file(path)
    user, password = ensure_account(import_db, "planner")
    sign_in(browser, import_server.url, user, password, "/plan?lang=en")
    upload = WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#plan-import-upload input[type=file]")
    )
    upload[0].send_keys(str(path))
    wait_text(browser, "plan-import-file", "Uploaded 网格.geojson")
    browser.find_element(By.ID, "plan-import-check").click()
    summary = wait_text(browser, "plan-import-summary", "nothing was written")
    assert summary == "网格.geojson: 1 of 3 rows have errors; nothing was written"
    rows = browser.find_elements(By.CSS_SELECTOR, "#plan-import-problems tbody tr")
    assert [r.text for r in rows] == [
        "2 geometry invalid polygon: Self-intersection[120.015 30.015]"
    ]
    browser.execute_script("document.getElementById('plan-import').scrollIntoView({block: 'end'})")
    browser.save_screenshot(str(ARTIFACTS / "plan-import-report.png"))
    assert count(import_db, "grids", "WEB") == 0

    browser.find_element(By.CSS_SELECTOR, "#plan-import-options input[value='repair']").click()
    browser.find_element(By.ID, "plan-import-check").click()
    wait_text(browser, "plan-import-summary", "Checked 网格.geojson: 3 rows; would add 3")
    assert count(import_db, "grids", "WEB") == 0
    browser.find_element(By.ID, "plan-import-run").click()
    wait_text(browser, "plan-import-summary", "Imported 网格.geojson: 3 rows; added 3")
    browser.save_screenshot(str(ARTIFACTS / "plan-import-done.png"))
    assert count(import_db, "grids", "WEB") == 3
    assert query(
        import_db,
        "SELECT username, target, detail->>'inserted' FROM audit_log WHERE action = 'import'",
    ) == [(user, "grids", "3")]
