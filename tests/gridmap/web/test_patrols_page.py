"""The patrols page: a shift's track replayed over the patrol coverage layer, in headless
Chromium against a live ``gridmap serve`` on the hand-made patrol world."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import text

from gridmap.db.engine import get_engine
from gridmap.patrols import coverage, shifts
from gridmap.patrols.ingest import ingest_pings, parse_pings
from gridmap.web.services import patrols as service
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
    with engine.begin() as conn:  # 3 cases in grid 2, 5 h before: in the 8 h window, not 2 h
        for _ in range(3):
            conn.execute(
                text(
                    "INSERT INTO cases (code, title, category, source, reported_at, geom) "
                    "VALUES (gen_random_uuid()::text, 't', 'municipal', 'grid_worker', :at, "
                    "ST_SetSRID(ST_MakePoint(120.015, 30.005), 4326))"
                ),
                {"at": start - timedelta(hours=5)},
            )
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
    server = live_servers(url, "patrols")
    server.start = start  # type: ignore[attr-defined]
    return server


def traces(driver: WebDriver) -> list[list[Any]]:
    return driver.execute_script(TRACES_JS) or []


def wait_for(driver: WebDriver, condition, timeout: float = 60) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda d: condition(d))


def slider_marks(driver: WebDriver) -> list[str]:
    return [
        e.text for e in driver.find_elements(By.CSS_SELECTOR, "#patrols-range .dash-slider-mark")
    ]


def expected(server: LiveServer) -> tuple[str, list[str]]:
    """The shift's label and the slider's marks as the case time zone reads them."""
    start = server.start  # type: ignore[attr-defined]
    tz = "Asia/Shanghai"
    label = f"DEV1 · 一网格巡查组 · {service.span_label(start, start + timedelta(minutes=10), tz)}"
    times = [(start + timedelta(seconds=10 * k)).isoformat() for k in range(24)]
    return label, list(service.slider_marks(service.day_seconds(times, tz)).values())


def open_page(driver: WebDriver, server: LiveServer, lang: str) -> None:
    server.open(driver, f"/patrols?lang={lang}")
    wait_for(driver, lambda d: any(t[0] == "patrol_track" for t in traces(d)))
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#patrols-gaps li"))


def legend(driver: WebDriver) -> list[str]:
    """The lines of the key beside the map."""
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".patrols-legend li")]


def head_indices(driver: WebDriver, seen: set[int]) -> set[int]:
    for layer, index, _ in traces(driver):
        if layer == "patrol_position":
            seen.add(index)
    return seen


def test_coverage_layer_and_replay(browser: WebDriver, patrol_server: LiveServer) -> None:
    open_page(browser, patrol_server, "en")
    drawn = traces(browser)
    layers = [t[0] for t in drawn]
    assert "patrol_coverage" in layers and layers[-2:] == ["patrol_track", "patrol_position"]
    # streets patrolled in the last half hour are green (class 0); grid 2's edge 6 never
    classes = {t[1] for t in drawn if t[0] == "patrol_coverage"}
    assert 0 in classes and 4 in classes
    track = next(t for t in drawn if t[0] == "patrol_track")
    assert track[2] == 24
    # local times: the shift, the slider's marks, the status; no UTC anywhere
    label, marks = expected(patrol_server)
    shift = browser.find_element(By.CSS_SELECTOR, "#patrols-shift").text
    assert shift == label and "Z" not in shift
    assert slider_marks(browser) == marks and all(len(m) == 5 and m[2] == ":" for m in marks)
    start = patrol_server.start  # type: ignore[attr-defined]
    local = service.clock(start, "Asia/Shanghai", "%H:%M:%S")
    status = browser.find_element(By.ID, "patrols-status").text
    assert status.startswith(f"DEV1 · {local} – ")
    thumb = browser.find_element(By.CSS_SELECTOR, "#patrols-range .dash-slider-thumb")
    ActionChains(browser).move_to_element(thumb).perform()  # the tooltip: the thumb's clock
    tip = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".dash-slider-tooltip"))
    assert tip[0].text == local
    # the list is filled on open: grid 2's cases against its unpatrolled streets
    gaps = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#patrols-gaps li")]
    assert gaps == ["二网格 (G2) · Cases 3 · Patrolled 0 %"]
    assert legend(browser) == [
        "within 2 h", "2–8 h", "8–24 h", "1–7 days", "over 7 days or never",
        "Patrolled under 50%", "Patrolled 50–80%", "Patrolled 80% or more",
        "Track",
    ]  # fmt: skip
    # play from the end restarts at the range's start and walks the head to the end, then
    # the button reads Play again and a second press replays from the start
    browser.find_element(By.CSS_SELECTOR, "#patrols-speed input[value='15']").click()
    for _ in range(2):
        browser.find_element(By.ID, "patrols-play").click()
        wait_for(browser, lambda d: d.find_element(By.ID, "patrols-play").text == "Pause")
        seen: set[int] = set()
        wait_for(browser, lambda d, seen=seen: any(i < 12 for i in head_indices(d, seen)))
        seen.clear()  # then the head walks on to the last fix
        wait_for(browser, lambda d, seen=seen: 23 in head_indices(d, seen), timeout=40)
        assert len(seen) > 3
        wait_for(browser, lambda d: d.find_element(By.ID, "patrols-play").text == "Play")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "patrols-en-1600.png"))


def test_chinese_page_local_times_and_empty_state(
    browser: WebDriver, patrol_server: LiveServer
) -> None:
    browser.set_window_size(1920, 1080)
    try:
        open_page(browser, patrol_server, "zh-CN")
        label, marks = expected(patrol_server)
        assert browser.find_element(By.CSS_SELECTOR, "#patrols-shift").text == label
        assert slider_marks(browser) == marks
        assert browser.find_element(By.ID, "patrols-play").text == "回放"
        gaps = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#patrols-gaps li")]
        assert gaps == ["二网格 (G2) · 事件数 3 · 巡查覆盖率 0 %"]
        assert legend(browser) == [
            "2小时内", "2–8小时", "8–24小时", "1–7天", "7天以上或从未",
            "巡查覆盖不足 50%", "巡查覆盖 50–80%", "巡查覆盖 80% 以上", "轨迹",
        ]  # fmt: skip
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "patrols-zh-1920.png"))
        # the 2 h window holds no case: the list says so instead of a bare heading
        browser.find_element(By.CSS_SELECTOR, "#patrols-window input[value='2h']").click()
        empty = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".patrols-empty"))
        assert empty[0].text.endswith("期间没有上报事件，暂无需要优先巡查的网格。")
        assert browser.find_elements(By.CSS_SELECTOR, "#patrols-gaps li") == []
        page = browser.find_element(By.TAG_NAME, "body").text
        assert not re.search(r"\d\d:\d\d(:\d\d)?Z|UTC", page)
        # the shift dropdown's own words are Chinese too (Dash's are English)
        browser.find_element(By.CSS_SELECTOR, "#patrols-shift").click()
        search = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "input[placeholder]"))
        assert "搜索" in [box.get_attribute("placeholder") for box in search]
    finally:
        browser.set_window_size(1600, 1000)
