"""The wall screen in headless Chromium at 1920×1080 and 3840×2160, signed in with a display
token (no keyboard): every tile filled, the heatmap over patrol coverage drawn and fitted to
the screen, hottest grids and ticker present, nothing overflowing; a case inserted into the
database shows at the top of the ticker within seconds without a reload; the pointer hides
when idle; English through the language switch. Runs on the wall world (it adds a case).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import Engine, text

from gridmap.access.accounts import issue_token
from tests.gridmap.web.conftest import ARTIFACTS, LiveServer
from tests.gridmap.web.test_browser import wait_for
from tests.signin import ensure_account, sign_in

pytestmark = pytest.mark.browser

TILES = (
    "new_today", "open", "overdue", "resolution_rate", "patrol_now", "cameras_online",
    "circle_population",
)  # fmt: skip
STATE_JS = """
if (!document.getElementById('wall-notice')) return null;
const gd = document.querySelector('#wall-graph .js-plotly-plot');
const map = gd && gd._fullLayout && gd._fullLayout.map;
const tile = id => document.querySelector('#wall-kpi-' + id + ' .wall-tile-value');
const box = el => { const r = el.getBoundingClientRect();
                    return [r.left, r.top, r.right, r.bottom]; };
return {
  tiles: arguments[0].map(id => tile(id) ? tile(id).textContent : null),
  clipped: arguments[0].filter(id => tile(id) && tile(id).scrollWidth > tile(id).clientWidth),
  zoom: map ? map.zoom : null,
  traces: gd && gd.data ? gd.data.map(t => [t.meta && (t.meta.role || t.meta.layer),
                                            (t.locations || t.lon || []).length]) : [],
  ticker: Array.from(document.querySelectorAll('#wall-ticker .ticker-item')).map(li => li.id),
  hot: document.querySelectorAll('#wall-hot .hot-grid').length,
  notice: [document.getElementById('wall-notice').className,
           document.getElementById('wall-notice').textContent],
  page: [window.innerWidth, window.innerHeight, document.documentElement.scrollWidth,
         document.documentElement.scrollHeight],
  panels: ['.wall-top', '.wall-tiles', '.wall-map', '.wall-side']
            .map(s => box(document.querySelector(s))),
  idle: document.documentElement.classList.contains('wall-idle'),
};
"""


@pytest.fixture(scope="module")
def wall_server(live_servers: Callable[[str, str], LiveServer], wall_url: str) -> LiveServer:
    return live_servers(wall_url, "wall")


@pytest.fixture
def screen(browser: WebDriver) -> Iterator[Callable[[int, int], None]]:
    """Set the viewport to an exact size (restored afterwards)."""

    def size(width: int, height: int) -> None:
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    yield size
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def state(driver: WebDriver) -> dict:
    """What the wall shows (empty before it rendered)."""
    return driver.execute_script(STATE_JS, list(TILES)) or {}


def filled(driver: WebDriver) -> bool:
    s = state(driver)
    if not s:
        return False
    traces = dict(s["traces"])
    return (
        all(v and v != "—" for v in s["tiles"])
        and traces.get("hexagons", 0) > 0
        and traces.get("patrol_coverage", 0) > 0
        and len(s["ticker"]) == 5
        and s["hot"] == 5
        and s["notice"][0] == "wall-notice live"
    )


#: The wall's MapLibre map.
MAP_JS = "document.querySelector('#wall-graph .js-plotly-plot')._fullLayout.map._subplot.map"


#: The city (the grids' extent) on the screen: [map box, city box, the legend's right edge].
CITY_JS = """
const box = document.getElementById('wall-map');
const gd = box.querySelector('.js-plotly-plot');
const map = gd._fullLayout.map._subplot.map;
const e = JSON.parse(box.getAttribute('data-extent'));
const r = box.getBoundingClientRect();
const a = map.project([e[0], e[3]]), b = map.project([e[2], e[1]]);
return [[r.left, r.top, r.right, r.bottom],
        [r.left + a.x, r.top + a.y, r.left + b.x, r.top + b.y],
        box.querySelector('.wall-legend').getBoundingClientRect().right];
"""


#: The hexagons' ``below``, their opacity, and whether MapLibre draws them under the outlines.
HEAT_UNDER_OUTLINES_JS = """
const gd = document.querySelector('#wall-graph .js-plotly-plot');
const hex = gd._fullData.find(t => t.meta && t.meta.role === 'hexagons');
const ids = gd._fullLayout.map._subplot.map.getStyle().layers.map(l => l.id);
const at = id => ids.indexOf('plotly-trace-layer-' + id + '-fill');
const under = 0 <= at(hex.uid) && at(hex.uid) < at('patrol_coverage-grids');
return [hex.below, hex.marker.opacity, under];
"""


def empty_band(driver: WebDriver) -> tuple[float, float]:
    """The share of the map's width (beside the legend's strip at its left) and of its
    height the city leaves empty; the city never under the legend."""
    (left, top, right, bottom), (x0, y0, x1, y1), legend = driver.execute_script(CITY_JS)
    assert x0 >= legend - 1, (x0, legend)
    return 1 - (x1 - x0 + legend - left) / (right - left), 1 - (y1 - y0) / (bottom - top)


def legend_rows(driver: WebDriver) -> list[tuple[str, float]]:
    """The wall legend's lines and their font size (px)."""
    return [
        (row.text, float(row.value_of_css_property("font-size").removesuffix("px")))
        for row in driver.find_elements(By.CSS_SELECTOR, ".wall-legend-row")
    ]


def check_layout(s: dict, width: int, height: int) -> None:
    assert s["page"] == [width, height, width, height], "the page scrolls"
    assert s["clipped"] == [], "tile values cut off"
    for left, top, right, bottom in s["panels"]:
        assert 0 <= left < right <= width and 0 <= top < bottom <= height


def add_case(engine: Engine, title: str) -> int:
    """A case reported now at the centre of the first grid (a grid trigger assigns it)."""
    with engine.begin() as conn:
        return conn.execute(
            text(
                "INSERT INTO cases (title, category, status, source, reported_at, geom) "
                "SELECT :t, 'municipal', 'reported', 'hotline_12345', now(), "
                "ST_PointOnSurface(geom) FROM grids ORDER BY id LIMIT 1 RETURNING id"
            ),
            {"t": title},
        ).scalar_one()


def test_wall_screen(browser: WebDriver, wall_server: LiveServer, wall_url: str, screen) -> None:
    from gridmap.db.engine import get_engine

    browser.get_log("browser")  # the session's browser: drop earlier tests' messages

    ARTIFACTS.mkdir(exist_ok=True)
    engine = get_engine(wall_url)
    user, _ = ensure_account(wall_url, "command", username="wall_screen")
    token = issue_token(engine, user, "display", "wall test")
    screen(1920, 1080)
    browser.get(f"{wall_server.url}/login?token={token}&next=/wall")
    wait_for(browser, lambda d: d.current_url.endswith("/wall"), 30, "display sign-in failed")
    wait_for(browser, filled, 60, message=str(state(browser)))
    s = state(browser)
    check_layout(s, 1920, 1080)
    assert s["notice"][1].startswith("实时 · ")
    assert browser.find_element(By.CSS_SELECTOR, ".wall-title").text == "指挥中心大屏"
    zoom_1920 = s["zoom"]

    # A case inserted into the database reaches the top of the ticker without a reload.
    browser.execute_script("window.__wallMarker = 'still-here'")
    new_before = int(state(browser)["tiles"][0].replace(",", ""))
    case_id = add_case(engine, "墙屏测试：井盖缺失")
    inserted = time.monotonic()
    wait_for(
        browser,
        lambda d: state(d).get("ticker", [])[:1] == [f"ticker-case-{case_id}"],
        10,
        f"case {case_id} never reached the ticker: {state(browser).get('ticker')}",
    )
    latency = time.monotonic() - inserted
    assert latency < 5, latency
    assert browser.find_element(By.ID, f"ticker-case-{case_id}").get_attribute("class") == (
        "ticker-item fresh"
    )
    wait_for(browser, lambda d: state(d)["tiles"][0] == f"{new_before + 1:,}", 5)
    assert browser.execute_script("return window.__wallMarker") == "still-here"
    print(f"wall ticker latency {latency:.2f} s")

    # No mouse needed: the pointer hides after a few idle seconds.
    wait_for(browser, lambda d: state(d).get("idle"), 6, "the pointer never hid")
    browser.save_screenshot(str(ARTIFACTS / "wall-1920.png"))

    # 4K: the same layout scaled, the city fitted again (about one zoom level closer).
    screen(3840, 2160)
    wait_for(
        browser, lambda d: (state(d).get("zoom") or 0) > zoom_1920 + 0.7, 20, str(state(browser))
    )
    wait_for(browser, filled, 30, message=str(state(browser)))
    check_layout(state(browser), 3840, 2160)
    # The map column is as wide as the legend's strip and the city at the map's height: no
    # dark band beside it (before: a third of the map's width empty), no key over the city.
    wait_for(browser, lambda d: min(empty_band(d)) < 0.15, 20, str(empty_band(browser)))
    assert all(0 <= band < 0.3 for band in empty_band(browser)), empty_band(browser)
    # The legend on the map, readable from 5 m: the heat ramp and the three outline classes
    # in 38 px type; the attribution scaled too.
    assert legend_rows(browser) == [
        ("事件热力（少 → 多）", 38.4), ("巡查覆盖不足 50%", 38.4), ("巡查覆盖 50–80%", 38.4),
        ("巡查覆盖 80% 以上", 38.4),
    ]  # fmt: skip
    # The basemap's names and roads scaled with the screen (MapLibre sizes them in CSS px).
    district = f"return {MAP_JS}.getLayoutProperty('place-district', 'text-size')"
    wait_for(browser, lambda d: d.execute_script(district)[-1] == 48, 10, "names not scaled")
    assert browser.execute_script(district) == ["interpolate", ["exponential", 1], ["zoom"],
                                                8, 30, 12, 48]  # fmt: skip
    attribution = browser.find_element(By.CSS_SELECTOR, ".wall .maplibregl-ctrl-attrib")
    assert float(attribution.value_of_css_property("font-size").removesuffix("px")) > 25
    # The heat, near opaque (yellow → red, no browns), lies under the patrol outlines.
    assert browser.execute_script(HEAT_UNDER_OUTLINES_JS) == [
        "plotly-trace-layer-patrol_coverage-grids-fill", 0.88, True,
    ]  # fmt: skip
    time.sleep(1.5)  # let the basemap tiles of the new zoom arrive
    browser.save_screenshot(str(ARTIFACTS / "wall-3840.png"))
    browser.save_screenshot(str(ARTIFACTS / "encoding-wall-4k.png"))

    # English through the language switch, back at 1080p: the names at their own size.
    screen(1920, 1080)
    wait_for(browser, lambda d: d.execute_script(district)[-1] == 24, 10, "names not unscaled")
    browser.find_element(By.ID, "lang-en").click()
    wait_for(browser, lambda d: d.current_url.endswith("/wall?lang=en"), 20)
    wait_for(browser, filled, 60, message=str(state(browser)))
    assert browser.find_element(By.CSS_SELECTOR, ".wall-title").text == "Command centre wall"
    assert state(browser)["notice"][1].startswith("Live · ")
    check_layout(state(browser), 1920, 1080)
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


def test_a_refused_wall_offers_a_way_back_or_out(
    browser: WebDriver, wall_server: LiveServer, wall_url: str
) -> None:
    """A grid lead opening the wall gets the refusal with links back, home and out, and a
    form to sign in as someone else that returns to the wall."""
    user, password = ensure_account(wall_url, "grid_lead", username="wall_refused")
    browser.delete_all_cookies()
    sign_in(browser, wall_server.url, user, password, next_path="/")
    browser.get(f"{wall_server.url}/wall")
    wait_for(browser, lambda d: d.find_elements(By.ID, "login-ways"), 30, "no refusal links")
    links = [
        (a.get_attribute("id"), a.text, a.get_attribute("href").removeprefix(wall_server.url))
        for a in browser.find_elements(By.CSS_SELECTOR, "#login-ways a")
    ]
    assert links == [
        ("login-back", "← 返回上一页", "/"), ("login-home", "回到首页", "/"),
        ("login-signout", "退出", "/logout"),
    ]  # fmt: skip
    assert browser.find_element(By.ID, "login-error").text == "您的账号无权访问此页面。"
    assert browser.find_element(By.ID, "login-switch").text == "以其他账号登录"
    assert browser.find_element(By.NAME, "next").get_attribute("value") == "/wall"
    browser.save_screenshot(str(ARTIFACTS / "encoding-wall-refused.png"))
    # Another account (a command-centre one) signs in there and lands on the wall.
    other, other_password = ensure_account(wall_url, "command", username="wall_other")
    browser.find_element(By.ID, "login-username").send_keys(other)
    browser.find_element(By.ID, "login-password").send_keys(other_password)
    browser.find_element(By.ID, "login-submit").click()
    wait_for(browser, lambda d: d.current_url == f"{wall_server.url}/wall", 30, "not on /wall")
    wait_for(browser, lambda d: d.find_elements(By.ID, "wall-notice"), 30, "no wall")
    # Sign out from the refusal leaves the session.
    browser.get(f"{wall_server.url}/logout")
    wait_for(browser, lambda d: "/login" in d.current_url, 30, "not signed out")
