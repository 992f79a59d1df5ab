"""The patrols page: a shift's track replayed over the patrol coverage layer, in headless
Chromium against a live ``gridmap serve`` on the hand-made patrol world."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from gridmap.db.engine import get_engine
from gridmap.patrols import coverage, shifts
from gridmap.patrols.ingest import ingest_pings, parse_pings
from tests.conftest import make_test_database
from tests.gridmap.patrols.conftest import walk
from tests.gridmap.patrols.world import seed_patrol_world
from tests.gridmap.web.conftest import ARTIFACTS, LiveServer

pytestmark = pytest.mark.browser
GRAPH = "#patrols-graph .js-plotly-plot"
TRACES_JS = f"""
const gd = document.querySelector('{GRAPH}');
if (!gd || !gd.data) return null;
return gd.data.map(t => [t.meta && t.meta.layer, t.meta && (t.meta.class ?? t.meta.index),
                         (t.lon || t.locations || []).length]);
"""


@pytest.fixture(scope="module")
def patrol_server(
    _created: list[str], live_servers: Callable[[str, str], LiveServer]
) -> LiveServer:
    url = make_test_database("web_patrols")
    _created.append(url)
    seed_patrol_world(url)
    engine = get_engine(url)
    coverage.refresh_static(engine)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    pings = walk(device="DEV1", n=24, step=0.0004, t0=start)  # edges 1-4 then into grid 2
    ingest_pings(engine, parse_pings({"pings": pings}))
    shifts.create_shift(
        engine,
        {
            "device_id": "DEV1",
            "kind": "grid_patrol",
            "team": "一网格巡查组",
            "started_at": start,
            "ended_at": start + timedelta(minutes=10),
        },
    )
    return live_servers(url, "patrols")


def traces(driver: WebDriver) -> list[list[Any]]:
    return driver.execute_script(TRACES_JS) or []


def wait_for(driver: WebDriver, condition, timeout: float = 60) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda d: condition(d))


def test_coverage_layer_and_replay(browser: WebDriver, patrol_server: LiveServer) -> None:
    patrol_server.open(browser, "/patrols?lang=en")
    wait_for(browser, lambda d: any(t[0] == "patrol_track" for t in traces(d)))
    drawn = traces(browser)
    layers = [t[0] for t in drawn]
    assert "patrol_coverage" in layers and layers[-2:] == ["patrol_track", "patrol_position"]
    # streets patrolled in the last half hour are green (class 0); grid 2's edge 6 never
    classes = {t[1] for t in drawn if t[0] == "patrol_coverage"}
    assert 0 in classes and 4 in classes
    track = next(t for t in drawn if t[0] == "patrol_track")
    assert track[2] == 24
    # play from the end restarts at the range's start and walks the head forward
    browser.find_element(By.ID, "patrols-play").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "patrols-play").text == "Pause")
    seen: set[int] = set()

    def head(d: WebDriver) -> bool:
        for layer, index, _ in traces(d):
            if layer == "patrol_position":
                seen.add(index)
        return 23 in seen and any(0 < i < 23 for i in seen)

    wait_for(browser, head, timeout=30)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "patrols-page.png"))
    status = browser.find_element(By.ID, "patrols-status").text
    assert status.startswith("DEV1 · ")
    gaps = browser.find_elements(By.CSS_SELECTOR, "#patrols-gaps li")
    assert gaps == []  # no cases in the world
