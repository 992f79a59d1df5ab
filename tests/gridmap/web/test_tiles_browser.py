"""The map page draws buildings from the app's vector tiles below zoom 15 (headless Chromium
against ``gridmap serve`` on the demo city): MapLibre fetches /tiles/buildings/… and renders
the per-cell counts at zoom 12–13 and the dots at zoom 14."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.gridmap.web.conftest import ARTIFACTS, LiveServer
from tests.gridmap.web.test_browser import GRAPH, map_ready, wait_for

pytestmark = pytest.mark.browser

#: The demo city's centre (seed 7).
CENTER = {"lon": 118.78, "lat": 32.04}

RENDERED_JS = f"""
const gd = document.querySelector('{GRAPH}');
const map = gd._fullLayout.map._subplot.map;
if (!map.getLayer(arguments[0])) return -1;
return map.queryRenderedFeatures({{layers: [arguments[0]]}}).length;
"""
SOURCE_JS = f"""
const map = document.querySelector('{GRAPH}')._fullLayout.map._subplot.map;
const source = map.getSource('gridmap-buildings');
return source ? [source.type, source.tiles[0]] : null;
"""


def zoom_to(driver: WebDriver, zoom: float) -> None:
    driver.execute_script(
        f"Plotly.relayout(document.querySelector('{GRAPH}'),"
        " {'map.zoom': arguments[0], 'map.center': arguments[1]});",
        zoom,
        CENTER,
    )


def rendered(driver: WebDriver, layer: str) -> int:
    return driver.execute_script(RENDERED_JS, layer)


def test_buildings_from_vector_tiles(browser: WebDriver, demo_server: LiveServer) -> None:
    demo_server.open(browser, "/")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".maplibregl-canvas"))
    wait_for(browser, map_ready, message="map never loaded")
    zoom_to(browser, 12.5)
    wait_for(
        browser,
        lambda d: map_ready(d) and rendered(d, "tiles-building-cells") > 0,
        message="no building cells rendered from the tiles at zoom 12.5",
    )
    # MapLibre fetched them from the app itself (in a web worker, so not in `performance`).
    assert browser.execute_script(SOURCE_JS) == [
        "vector",
        f"{demo_server.url}/tiles/buildings/{{z}}/{{x}}/{{y}}.pbf",
    ]
    assert rendered(browser, "tiles-buildings") == 0  # single dots only from zoom 14
    browser.save_screenshot(str(ARTIFACTS / "map-building-tiles-z12.png"))
    zoom_to(browser, 14.4)
    wait_for(
        browser,
        lambda d: map_ready(d) and rendered(d, "tiles-buildings") > 100,
        message="no building dots rendered from the tiles at zoom 14.4",
    )
    browser.save_screenshot(str(ARTIFACTS / "map-building-tiles-z14.png"))
