"""The offline basemap in headless Chromium: labelled, local, light on ``/``, dark on the wall."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.gridmap.web.conftest import ARTIFACTS, LiveServer

pytestmark = pytest.mark.browser

#: Style layers whose drawn features' names are read: the labels, and the water itself.
LABELS = ["place-district", "place-street", "place-community", "road-label-major",
          "road-label-minor", "water-label", "river-label", "park-label", "poi-label",
          "water"]  # fmt: skip
MAP_JS = """
const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => g._fullLayout && g._fullLayout.map && g._fullLayout.map._subplot);
const map = gd && gd._fullLayout.map._subplot.map;
"""
#: Per label layer: the names MapLibre drew, and the style's sources, glyphs and sprite.
RENDERED_JS = (
    MAP_JS
    + """
if (!map || !map.loaded() || !map.isStyleLoaded()) return null;
const style = map.getStyle();
const drawn = {};
for (const id of arguments[0]) {
    if (!map.getLayer(id)) continue;
    drawn[id] = [...new Set(map.queryRenderedFeatures({layers: [id]})
        .map(f => f.properties.name))].sort();
}
return {drawn, zoom: map.getZoom(), glyphs: style.glyphs || null, sprite: style.sprite || null,
        tiles: Object.values(style.sources).flatMap(s => s.tiles || (s.url ? [s.url] : [])),
        background: map.getPaintProperty('background', 'background-color'),
        resources: performance.getEntriesByType('resource').map(e => e.name)};
"""
)


def rendered(driver: WebDriver) -> dict[str, Any] | None:
    return driver.execute_script(RENDERED_JS, LABELS)


def wait_labels(driver: WebDriver, wanted: set[str], timeout: float = 90) -> dict[str, Any]:
    def ready(d: WebDriver) -> dict[str, Any] | None:
        state = rendered(d)
        return state if state and wanted <= {k for k, v in state["drawn"].items() if v} else None

    return WebDriverWait(driver, timeout, poll_frequency=0.5).until(ready, str(rendered(driver)))


def zoom_to(driver: WebDriver, zoom: float) -> None:
    driver.execute_script(MAP_JS + "map.jumpTo({zoom: arguments[0]});", zoom)


def assert_local(state: dict[str, Any], origin: str) -> None:
    """Nothing named by the style or fetched by the page lies outside the server."""
    assert state["glyphs"] is None and state["sprite"] is None
    assert state["tiles"] and all(u.startswith(origin + "/tiles/") for u in state["tiles"])
    outside = [u for u in state["resources"] if not u.startswith((origin, "data:", "blob:"))]
    assert outside == []


def is_chinese(name: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in name)


def test_light_basemap_on_the_map_page(browser: WebDriver, demo_server: LiveServer) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    browser.set_window_size(1920, 1080)
    browser.get_log("browser")
    demo_server.open(browser, "/")
    WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".maplibregl-canvas")
    )
    # The whole town: street (街道) and community (社区) names, major roads, the river.
    # (Water and park names may lose their place to other labels, depending on the map's
    # exact size: they are checked when drawn, not waited for.)
    state = wait_labels(browser, {"place-street", "place-community", "road-label-major"})
    browser.save_screenshot(str(ARTIFACTS / "basemap-light.png"))
    drawn = state["drawn"]
    assert all(n.endswith("街道") for n in drawn["place-street"])
    assert all(n.endswith("社区") for n in drawn["place-community"])
    assert drawn["water"] == ["月牙河", "翠湖"]  # the river and the lake are drawn
    assert set(drawn["water-label"]) <= {"翠湖"} and set(drawn["river-label"]) <= {"月牙河"}
    assert drawn["road-label-minor"] == [] and drawn["park-label"] == []
    assert_local(state, demo_server.url.rstrip("/"))
    # Closer in: every street's name along it, the parks' names, no more 街道.
    zoom_to(browser, 15.5)
    state = wait_labels(browser, {"place-community", "road-label-minor"})
    browser.save_screenshot(str(ARTIFACTS / "basemap-light-z15.png"))
    drawn = state["drawn"]
    assert drawn["place-street"] == []
    assert all(n.endswith(("公园", "绿地", "游园", "广场")) for n in drawn["park-label"])
    assert all(n.endswith(("巷", "路", "街", "大道")) for n in drawn["road-label-minor"])
    assert all(is_chinese(n) for names in drawn.values() for n in names)
    assert_local(state, demo_server.url.rstrip("/"))
    # The basemap alone (the overlays hidden), for a look at it.
    browser.execute_script(MAP_JS + "Plotly.restyle(gd, {visible: false});")
    zoom_to(browser, 15.5)  # plotly's redraw went back to the figure's zoom
    wait_labels(browser, {"place-community", "road-label-minor"})
    browser.save_screenshot(str(ARTIFACTS / "basemap-light-z15-plain.png"))
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


def test_dark_basemap_on_the_wall(browser: WebDriver, demo_server: LiveServer) -> None:
    browser.set_window_size(1920, 1080)
    demo_server.open(browser, "/wall", role="command")
    WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".maplibregl-canvas")
    )
    state = wait_labels(browser, {"place-street", "place-community", "road-label-major"})
    browser.save_screenshot(str(ARTIFACTS / "basemap-dark-wall.png"))
    assert state["background"] == "#0b1220"
    assert all(is_chinese(n) for names in state["drawn"].values() for n in names)
    assert_local(state, demo_server.url.rstrip("/"))
