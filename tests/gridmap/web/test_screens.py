"""Every page as every role that may open it, in headless Chromium at 1920×1080 (the wall
also at 3840×2160), on the demo city: the basemap is drawn with its names, every map shows
a legend inside the screen, the page speaks Chinese, and no request leaves the server.
One screenshot per page × role in ``test-artifacts/screen-*.png``, for people to look at.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import text

from gridmap.db.engine import get_engine
from gridmap.web.pages import lead, patrols, planning, wall
from gridmap.web.pages import map as map_page
from tests.gridmap.web.conftest import ARTIFACTS, LiveServer, set_viewport
from tests.gridmap.web.test_browser import wait_for
from tests.signin import sign_in

pytestmark = pytest.mark.browser

FULL_HD, UHD = (1920, 1080), (3840, 2160)


@dataclass(frozen=True)
class Screen:
    """A page to look at: its path, the roles that may open it, its map's element id and
    the CSS selector of the legend that must be visible beside or on its map."""

    path: str
    roles: frozenset[str]
    graph: str
    legend: str


SCREENS = [
    Screen(map_page.PATH, map_page.ROLES, "map-graph", "#map-legend .legend li"),
    Screen(lead.PATH, lead.ROLES, "lead-graph", "#lead-legend .legend li"),
    Screen(planning.PATH, planning.ROLES, "plan-graph", "#plan-key .legend li"),
    Screen(patrols.PATH, patrols.ROLES, "patrols-graph", ".patrols-legend li"),
    Screen(wall.PATH, wall.ROLES, "wall-graph", ".wall-legend-row"),
]

#: What the page shows: request origins, the map's style URLs, the basemap's drawn features
#: by MapLibre layer type (with the Chinese names of its labels), visible legend entries.
LOOK_JS = """
const [graphId, legendSelector] = arguments;
const gd = document.querySelector('#' + graphId + ' .js-plotly-plot');
const map = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot
            && gd._fullLayout.map._subplot.map;
if (!map || !map.loaded() || !map.isStyleLoaded()) return null;
const style = map.getStyle();
const urls = [style.glyphs, style.sprite].filter(Boolean);
for (const s of Object.values(style.sources)) {
  urls.push(...(s.tiles || []));
  if (typeof s.url === 'string') urls.push(s.url);
}
const basemap = {};
const names = [];
for (const f of map.queryRenderedFeatures()) {
  if (!String(f.source).startsWith('gridmap-basemap')) continue;
  basemap[f.layer.type] = (basemap[f.layer.type] || 0) + 1;
  if (f.layer.type === 'symbol' && f.properties.name) names.push(f.properties.name);
}
const inside = el => { const r = el.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0
         && r.bottom <= window.innerHeight && r.right <= window.innerWidth; };
return {
  requests: performance.getEntriesByType('resource').map(e => e.name),
  styleUrls: urls,
  basemap: basemap,
  names: names.slice(0, 50),
  legend: Array.from(document.querySelectorAll(legendSelector)).filter(inside)
                .map(li => li.textContent.trim()),
  lang: document.documentElement.lang,
};
"""


def look(driver: WebDriver, screen: Screen) -> dict[str, Any] | None:
    """What the page shows once its map has loaded and drawn (None: not yet)."""
    seen = driver.execute_script(LOOK_JS, screen.graph, screen.legend)
    return seen if seen and seen["legend"] and seen["basemap"] else None


def local_only(urls: list[str], origin: str) -> list[str]:
    """The URLs that would leave the server (none may)."""
    return [u for u in urls if not u.startswith((origin, "data:", "blob:"))]


def account(server: LiveServer, role: str) -> tuple[str, str]:
    """The demo account of ``role``; a grid worker (the demo has none) gets the demo grid
    lead's grids, so the page shows what a worker of those grids sees."""
    if role != "grid_worker":
        return server.account(role)
    with get_engine(server.database_url).connect() as conn:
        codes = conn.execute(
            text(
                "SELECT g.code FROM user_grids ug JOIN users u ON u.id = ug.user_id "
                "JOIN grids g ON g.id = ug.grid_id WHERE u.role = 'grid_lead' "
                "ORDER BY u.username, g.code"
            )
        ).scalars().all()  # fmt: skip
    return server.account(role, grids=tuple(codes[:3]))


def shoot(driver: WebDriver, server: LiveServer, screen: Screen, role: str, size) -> None:
    """Open ``screen`` as ``role`` in a ``size`` viewport, save its picture, check it."""
    width, height = size
    set_viewport(driver, width, height)
    sign_in(driver, server.url, *account(server, role), next_path=screen.path)
    if urlsplit(driver.current_url).path != screen.path:  # sign-in lands on the role's home
        driver.get(server.url.rstrip("/") + screen.path)
    seen = wait_for(driver, lambda d: look(d, screen), 90, f"{screen.path} as {role}")
    time.sleep(1)  # the labels' fade-in
    name = screen.path.strip("/") or "map"
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"screen-{name}-{role}-{height}p.png"))
    origin = server.url.rstrip("/")
    assert local_only(seen["requests"] + seen["styleUrls"], origin) == []
    assert seen["lang"] == "zh-CN"
    assert seen["basemap"].get("line", 0) > 0, seen["basemap"]  # the roads
    assert seen["names"] and all(any("\u4e00" <= c <= "\u9fff" for c in n) for n in seen["names"])
    assert all(seen["legend"]), seen["legend"]


@pytest.mark.parametrize("screen", SCREENS, ids=[s.path for s in SCREENS])
def test_every_role_sees_a_readable_page(
    browser: WebDriver, demo_server: LiveServer, screen: Screen
) -> None:
    try:
        for role in sorted(screen.roles):
            shoot(browser, demo_server, screen, role, FULL_HD)
        if screen.path == wall.PATH:
            shoot(browser, demo_server, screen, "command", UHD)
    finally:
        set_viewport(browser)
