"""The map page in headless Chromium against a live ``gridmap serve`` on the demo city."""

from __future__ import annotations

import json
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.gridmap.web.conftest import ARTIFACTS, LiveServer

pytestmark = pytest.mark.browser

LAYERS = ["grids", "buildings", "cameras", "service_points", "cases"]
GRAPH = "#map-graph .js-plotly-plot"
#: Per trace: [layer id, detail, number of features].
TRACES_JS = f"""
const gd = document.querySelector('{GRAPH}');
if (!gd || !gd.data) return null;
return gd.data.map(t => [t.meta && t.meta.layer, t.meta && t.meta.detail || null,
                         (t.locations || t.lat || []).length]);
"""


def traces(driver: WebDriver) -> list[list[Any]] | None:
    return driver.execute_script(TRACES_JS)


def layers_drawn(driver: WebDriver) -> list[str]:
    """Layer ids of the traces in drawing order, each once."""
    return list(dict.fromkeys(t[0] for t in traces(driver) or []))


def wait_for(driver: WebDriver, condition, timeout: float = 60, message: str = "") -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(
        lambda d: condition(d), message
    )


def by_dash_id(driver: WebDriver, **dash_id: str) -> WebElement:
    """The element of a pattern-matching Dash id (rendered as sorted compact JSON)."""
    element_id = json.dumps(dict(sorted(dash_id.items())), separators=(",", ":"))
    return driver.execute_script("return document.getElementById(arguments[0])", element_id)


def toggle(driver: WebDriver, layer: str) -> None:
    by_dash_id(driver, type="map-layer-toggle", layer=layer).find_element(
        By.TAG_NAME, "input"
    ).click()


def note(driver: WebDriver, layer: str) -> str:
    return by_dash_id(driver, type="map-layer-note", layer=layer).text


def heat_scale(driver: WebDriver) -> tuple[list[float], list[str], str] | None:
    """The drawn hexagons' breaks, and the texts of the case colour bar (None: hidden)."""
    scale = driver.find_element(By.ID, "map-case-scale")
    if not scale.is_displayed():
        return None
    breaks = driver.execute_script(
        f"const gd = document.querySelector('{GRAPH}');"
        "const hex = gd.data.find(t => t.meta && t.meta.role === 'hexagons');"
        "return hex.meta.breaks;"
    )
    labels = [e.text for e in scale.find_elements(By.CSS_SELECTOR, ".heat-breaks span")]
    return breaks, labels, scale.find_element(By.CSS_SELECTOR, ".heat-unit").text


def bar_labels(breaks: list[float]) -> list[str]:
    """What the colour bar should read for ``breaks`` (JavaScript's number formatting)."""
    shown = [f"{b:g}" for b in breaks]
    return [*shown[:-1], "≥" + shown[-1]]


def bar_drawn(driver: WebDriver) -> tuple[list[float], list[str], str] | None:
    """The colour bar once it reads the hexagons Plotly drew (it may run a frame ahead)."""
    scale = heat_scale(driver)
    return scale if scale and scale[0] and scale[1] == bar_labels(scale[0]) else None


def map_ready(driver: WebDriver) -> bool:
    return driver.execute_script(
        f"const gd = document.querySelector('{GRAPH}');"
        "return !!(gd && gd._fullLayout && gd._fullLayout.map"
        " && gd._fullLayout.map._subplot && gd._fullLayout.map._subplot.map"
        " && gd._fullLayout.map._subplot.map.loaded());"
    )


def test_map_page(browser: WebDriver, demo_server: LiveServer) -> None:
    browser.get_log("browser")  # the session's browser: drop earlier tests' messages
    ARTIFACTS.mkdir(exist_ok=True)
    demo_server.open(browser, "/")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".maplibregl-canvas"))
    wait_for(browser, lambda d: layers_drawn(d) == LAYERS, message=str(traces(browser)))
    wait_for(browser, map_ready, message="map tiles never finished loading")
    drawn = {layer: (detail, n) for layer, detail, n in traces(browser)}
    assert drawn["grids"][1] > 0 and drawn["service_points"][1] > 0
    assert browser.find_element(By.CSS_SELECTOR, ".brand-title").text == "gridmap 网格化管理"
    assert browser.find_element(By.CSS_SELECTOR, "#map-message").is_displayed() is False
    # The case hexagons' colour bar: the drawn trace's breaks, in cases per hexagon.
    breaks, labels, unit = wait_for(browser, bar_drawn, message=str(heat_scale(browser)))
    assert len(breaks) == 5 and breaks[0] == 0 and breaks[-1] >= 1
    assert (labels, unit) == (bar_labels(breaks), "事件数（件/格）")
    browser.save_screenshot(str(ARTIFACTS / "map-zh.png"))

    # A layer toggled off disappears, and comes back; the other layers stay.
    toggle(browser, "cameras")
    wait_for(
        browser, lambda d: layers_drawn(d) == ["grids", "buildings", "service_points", "cases"]
    )
    toggle(browser, "cameras")
    wait_for(browser, lambda d: layers_drawn(d) == LAYERS)

    # Zooming in (as the map reports it) redraws for the new view; toggling keeps it.
    browser.execute_script(
        f"const gd = document.querySelector('{GRAPH}');Plotly.relayout(gd, {{'map.zoom': 16}});"
    )
    wait_for(browser, lambda d: dict((t[0], t[2]) for t in traces(d))["buildings"] > 0)
    assert note(browser, "buildings").startswith(("当前视图", "仅显示"))
    wait_for(browser, lambda d: heat_scale(d) is None, message="single cases keep the bar")
    toggle(browser, "grids")
    wait_for(
        browser, lambda d: layers_drawn(d) == ["buildings", "cameras", "service_points", "cases"]
    )
    zoom = browser.execute_script(f"return document.querySelector('{GRAPH}')._fullLayout.map.zoom")
    assert zoom == 16
    wait_for(browser, map_ready)
    browser.save_screenshot(str(ARTIFACTS / "map-zh-zoomed.png"))

    # The language switch reloads the page in English.
    browser.find_element(By.ID, "lang-en").click()
    wait_for(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, ".brand-title").text == "gridmap grid management",
    )
    wait_for(browser, lambda d: layers_drawn(d) == LAYERS)
    assert browser.find_elements(By.CSS_SELECTOR, ".panel-title")[1].text == "LAYERS"
    labels = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".layer-title")]
    assert labels == [
        "Grids", "Patrol gaps", "Service circles (walking isochrones)", "Patrol coverage",
        "Unwatched streets", "Buildings", "Buildings outside the circle",
        "Overdue visits (buildings)", "Cameras", "Service points", "Case heatmap",
    ]  # fmt: skip
    breaks, labels, unit = wait_for(browser, bar_drawn, message=str(heat_scale(browser)))
    assert (labels, unit) == (bar_labels(breaks), "Cases per hexagon")
    wait_for(browser, map_ready)
    browser.save_screenshot(str(ARTIFACTS / "map-en.png"))

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
