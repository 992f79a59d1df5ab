"""One encoding per layer, in headless Chromium at 1920×1080 on the wall world (cases, patrol
visits, service coverage and isochrones computed): on ``/`` the service circles show one
kind at a time (chosen beside the toggle), patrol coverage draws grid outlines (no fill to
blend with the case heat), every layer is drawn by MapLibre after the toggles, and the
legend floats on the map, visible without scrolling; on ``/plan`` the chosen kind's colour
and the buildings outside its circle differ. Screenshots in test-artifacts/.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from layers.patrol_coverage import SHARE_CLASSES
from layers.service_points import KIND_COLORS
from layers.uncovered_buildings import COLOR as UNCOVERED_COLOR
from tests.gridmap.web.conftest import ARTIFACTS, LiveServer
from tests.gridmap.web.test_browser import GRAPH, map_ready, toggle, wait_for

pytestmark = pytest.mark.browser

#: Per trace of the map: [layer, kind (service circles), whether MapLibre draws its layers,
#: line colours (outlines)].
TRACES_JS = f"""
const gd = document.querySelector('{GRAPH}');
if (!gd || !gd.data || !gd._fullData) return [];
const map = gd._fullLayout.map._subplot.map;
return gd._fullData.map(t => [t.meta && t.meta.layer, (t.meta && t.meta.kind) || null,
                         !!map.getLayer('plotly-trace-layer-' + t.uid + '-fill'),
                         t.marker && t.marker.line && Array.isArray(t.marker.line.color)
                           ? Array.from(new Set(t.marker.line.color)).sort() : null]);
"""
#: Rects of the floating legend and of its case colour bar, and the page's scroll position.
LEGEND_JS = """
const box = el => { if (!el) return null; const r = el.getBoundingClientRect();
                    return [r.left, r.top, r.right, r.bottom, r.width > 0 && r.height > 0]; };
return [box(document.getElementById('map-legend')), box(document.getElementById('map-case-scale')),
        box(document.querySelector('.map-area')), window.scrollY];
"""

PLAN_DRAWN_JS = """
const gd = document.querySelector('#plan-graph .js-plotly-plot');
return !!(gd && gd.data && gd.data.some(t => t.meta && t.meta.layer === 'service_circles'));
"""


@pytest.fixture(scope="module")
def world_server(live_servers: Callable[[str, str], LiveServer], wall_url: str) -> LiveServer:
    return live_servers(wall_url, "wall")


def traces(driver: WebDriver) -> list[list]:
    return driver.execute_script(TRACES_JS)


def circle_kinds(driver: WebDriver) -> set[str]:
    return {kind for layer, kind, *_ in traces(driver) if layer == "service_circles" and kind}


def legend_sections(driver: WebDriver) -> list[str]:
    """The titles of the legend's shown sections (read at once: a redraw replaces them)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#map-legend .map-legend-section'))"
        ".filter(e => e.offsetParent !== null)"
        ".map(e => e.querySelector('.map-legend-title').innerText);"
    )


def choose_kind(driver: WebDriver, kind: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f"#map-circle-kind input[value='{kind}']").click()


def test_map_layers_apart_and_the_legend_on_the_map(
    browser: WebDriver, world_server: LiveServer, full_hd: None
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    browser.get_log("browser")  # the session's browser: drop earlier tests' messages
    world_server.open(browser, "/")
    wait_for(browser, lambda d: any(t[0] == "cases" for t in traces(d)))
    wait_for(browser, map_ready, message="map tiles never finished loading")

    # The legend floats over the map, whole in the 1920×1080 window, the colour bar in it.
    def legend_in_view(d: WebDriver) -> list | None:
        legend, bar, area, scrolled = d.execute_script(LEGEND_JS)
        inside = (
            legend and bar and legend[4] and bar[4] and scrolled == 0
            and area[0] <= legend[0] and legend[2] <= area[2]
            and legend[1] >= 0 and legend[3] <= 1080
            and legend[1] <= bar[1] and bar[3] <= legend[3]
        )  # fmt: skip
        return [legend, bar] if inside else None

    wait_for(browser, legend_in_view, 30, str(browser.execute_script(LEGEND_JS)))
    sections = ["服务站点", "视频监控", "网格", "事件热力"]  # (buildings show from zoom 15)
    wait_for(browser, lambda d: legend_sections(d) == sections, 30, str(legend_sections(browser)))

    # Service circles: one kind at a time, the party centres first, then the chosen kind.
    toggle(browser, "service_circles")
    wait_for(browser, lambda d: circle_kinds(d) == {"party_service_center"}, 30)
    section = browser.find_element(By.ID, "map-legend-service_circles")
    assert section.find_element(By.CSS_SELECTOR, "li").text == "党群服务中心服务圈 · 步行 15 分钟"
    choose_kind(browser, "police_office")
    wait_for(browser, lambda d: circle_kinds(d) == {"police_office"}, 30)
    wait_for(
        browser,
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "#map-legend-service_circles li").text
            == "警务室服务圈 · 步行 15 分钟"
        ),
        10,
    )
    swatch = browser.find_element(By.CSS_SELECTOR, "#map-legend-service_circles .swatch")
    assert swatch.get_attribute("style") == f"--c: {KIND_COLORS['police_office']};"

    # Patrol coverage: grid outlines (no fill to blend with the case heat).
    toggle(browser, "patrol_coverage")

    def outlines(d: WebDriver) -> list | None:
        return next((t for t in traces(d) if t[0] == "patrol_coverage" and t[3]), None)

    patrol = wait_for(browser, outlines, 30, str(traces(browser)))
    assert set(patrol[3]) <= {c for _, c, _ in SHARE_CLASSES}
    # Every layer drawn by MapLibre too: toggling never recycles another type's layers
    # (plotly's "Cannot remove non-existing layer", which left a layer undrawn).
    wait_for(browser, lambda d: all(t[2] for t in traces(d)), 10, str(traces(browser)))
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not [m for m in severe if "Map error" in m], severe
    wait_for(browser, lambda d: "巡查覆盖" in legend_sections(d), 10)
    wait_for(browser, legend_in_view, 10, str(browser.execute_script(LEGEND_JS)))
    entries = [
        e.text for e in browser.find_elements(By.CSS_SELECTOR, "#map-legend-patrol_coverage li")
    ]
    assert entries == ["巡查覆盖不足 50%", "巡查覆盖 50–80%", "巡查覆盖 80% 以上"]
    wait_for(browser, map_ready)
    browser.save_screenshot(str(ARTIFACTS / "encoding-map-1080.png"))


def test_plan_kind_and_outside_the_circle_apart(
    browser: WebDriver, world_server: LiveServer, full_hd: None
) -> None:
    world_server.open(browser, "/plan?kind=party_service_center", role="planner")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#plan-key li"), 30)

    def key(d: WebDriver) -> list[tuple[str, str]]:
        return [
            (
                li.text,
                li.find_element(By.CSS_SELECTOR, ".swatch").get_attribute("style"),
            )
            for li in d.find_elements(By.CSS_SELECTOR, "#plan-key li")
        ]

    rows = dict(wait_for(browser, key, 30))
    party = f"--c: {KIND_COLORS['party_service_center']};"
    assert rows["党群服务中心"] == party
    assert rows["服务圈外楼栋"] == f"--c: {UNCOVERED_COLOR};" != party
    wait_for(browser, lambda d: d.execute_script(PLAN_DRAWN_JS), 30)
    time.sleep(1.0)  # let the basemap tiles arrive
    browser.save_screenshot(str(ARTIFACTS / "encoding-plan-1080.png"))
