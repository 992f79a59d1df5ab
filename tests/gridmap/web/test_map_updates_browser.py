"""Map updates that draw once (``assets/map-updates.js``) in headless Chromium on the demo
city: a filter or a toggle hands MapLibre only the layers it changed, every other trace
keeps its MapLibre layers and tiles, and the layers stay in plotly's drawing order."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.gridmap.web.conftest import LiveServer
from tests.gridmap.web.test_browser import GRAPH, LAYERS, layers_drawn, map_ready, toggle, wait_for

pytestmark = pytest.mark.browser

#: Watch the page's map from now on: layers removed, and tiles cut anew per source.
WATCH_JS = f"""
const gd = document.querySelector('{GRAPH}');
const map = gd._fullLayout.map._subplot.map;
const w = window.__watch = {{removed: [], tiles: {{}}}};
if (!map.__watched) {{
  map.__watched = true;
  const removeLayer = map.removeLayer;
  map.removeLayer = function (id) {{
    window.__watch.removed.push(id);
    return removeLayer.apply(this, arguments);
  }};
  map.on('sourcedata', e => {{
    if (e.tile) window.__watch.tiles[e.sourceId] = (window.__watch.tiles[e.sourceId] || 0) + 1;
  }});
}}
"""
WATCHED_JS = "return window.__watch"
#: The plotly trace layers' uids in the map's order (one per run of a trace's layers), and
#: the order plotly draws the traces in (choropleths, then scatters, each in data order).
ORDER_JS = f"""
const gd = document.querySelector('{GRAPH}');
const map = gd._fullLayout.map._subplot.map;
const prefix = 'plotly-trace-layer-';
const runs = [];
for (const layer of map.getStyle().layers) {{
  if (!layer.id.startsWith(prefix)) continue;
  const uid = layer.id.slice(prefix.length, layer.id.lastIndexOf('-'));
  if (runs[runs.length - 1] !== uid) runs.push(uid);
}}
const rank = {{choroplethmap: 0, densitymap: 1, scattermap: 2}};
const wanted = gd._fullData.map((t, i) => [rank[t.type], i, t.uid])
  .sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(x => x[2]);
return [runs, wanted, gd.data.map(t => t.uid || null)];
"""
#: The hexagon trace's features and the checked time window.
HEXAGONS_JS = f"""
const gd = document.querySelector('{GRAPH}');
const hex = gd.data.find(t => t.meta && t.meta.role === 'hexagons');
return hex ? JSON.stringify(hex.locations || []) : null;
"""


def layer_order(driver: WebDriver) -> tuple[list[str], list[str], list[Any]]:
    runs, wanted, uids = driver.execute_script(ORDER_JS)
    return runs, wanted, uids


def settled(driver: WebDriver) -> None:
    """The map drew what it was given (loaded, nothing pending), twice 0.3 s apart."""
    wait_for(driver, map_ready, message="the map never finished loading")
    driver.execute_script("return new Promise(r => setTimeout(r, 300))")
    wait_for(driver, map_ready, message="the map never finished loading")


def in_drawing_order(driver: WebDriver) -> bool:
    runs, wanted, _uids = layer_order(driver)
    return runs == wanted


def test_a_filter_and_a_toggle_touch_only_their_layers(
    browser: WebDriver, demo_server: LiveServer
) -> None:
    browser.get_log("browser")  # the session's browser: drop earlier tests' messages
    demo_server.open(browser, "/")
    wait_for(browser, lambda d: layers_drawn(d) == LAYERS, message=str(layers_drawn(browser)))
    settled(browser)
    runs, wanted, uids = layer_order(browser)
    assert runs == wanted and None not in uids

    # Another time window: the case traces get new data, in place (no layer removed, no
    # other source's tiles cut anew), and keep their uids (plotly updates, not replaces).
    browser.execute_script(WATCH_JS)
    hexagons = browser.execute_script(HEXAGONS_JS)
    browser.execute_script("document.querySelector('#map-case-window input[value=\"7d\"]').click()")
    wait_for(browser, lambda d: d.execute_script(HEXAGONS_JS) != hexagons, message="no redraw")
    settled(browser)
    watched = browser.execute_script(WATCHED_JS)
    assert watched["removed"] == []
    assert {s for s in watched["tiles"] if "cases" not in s} == set(), watched["tiles"]
    runs, wanted, uids = layer_order(browser)
    assert runs == wanted and None not in uids
    # The filter's store is made in the browser: the date range shows for "custom" only.
    dates_hidden = (
        "return document.getElementById('map-case-dates-row').classList.contains('hidden')"
    )
    assert browser.execute_script(dates_hidden)
    browser.execute_script(
        "document.querySelector('#map-case-window input[value=\"custom\"]').click()"
    )
    wait_for(browser, lambda d: not d.execute_script(dates_hidden), message="no date range")
    browser.execute_script("document.querySelector('#map-case-window input[value=\"7d\"]').click()")
    wait_for(browser, lambda d: d.execute_script(dates_hidden), message="date range kept")
    settled(browser)

    # A layer toggled off and on again: only its layers go and come; the order holds.
    browser.execute_script(WATCH_JS)
    toggle(browser, "cameras")
    wait_for(browser, lambda d: "cameras" not in layers_drawn(d))
    settled(browser)
    toggle(browser, "cameras")
    wait_for(browser, lambda d: layers_drawn(d) == LAYERS)
    wait_for(browser, in_drawing_order, message=str(layer_order(browser)))
    settled(browser)
    watched = browser.execute_script(WATCHED_JS)
    assert watched["removed"] and all("cameras" in i for i in watched["removed"])
    assert {s for s in watched["tiles"] if "cameras" not in s} == set(), watched["tiles"]
    assert in_drawing_order(browser)

    # The map still moves and draws: a user's zoom redraws the layers for the new view.
    browser.execute_script(
        f"const gd = document.querySelector('{GRAPH}');"
        "gd._fullLayout.map._subplot.map.jumpTo({zoom: 16},"
        " {originalEvent: new WheelEvent('wheel')});"
    )
    wait_for(
        browser,
        lambda d: (
            _drawn(d).get(("buildings", None), 0) > 0
            and _drawn(d).get(("cases", "hexagons"), 0) == 0
        ),
        message="no buildings (or still hexagons) after zooming in",
    )
    settled(browser)
    assert in_drawing_order(browser)
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


def _drawn(driver: WebDriver) -> dict[tuple[str, str | None], int]:
    """Features drawn per (layer, role) trace."""
    rows = driver.execute_script(
        f"return document.querySelector('{GRAPH}').data.map(t => [t.meta && t.meta.layer,"
        " t.meta && t.meta.role || null, (t.lat || t.locations || []).length])"
    )
    return {(layer, role): n for layer, role, n in rows}


def zoom_in_to_16(driver: WebDriver) -> None:
    """A person's zoom to 16 (a wheel's move end), until its redraw has settled (the case
    hexagons gone: single cases drawn)."""
    driver.execute_script(
        f"document.querySelector('{GRAPH}')._fullLayout.map._subplot.map.jumpTo({{zoom: 16}},"
        " {originalEvent: new WheelEvent('wheel')});"
    )
    wait_for(
        driver,
        lambda d: _drawn(d).get(("cases", "hexagons"), 0) == 0,
        message="still hexagons after zooming in",
    )
    settled(driver)


#: From now on, per frame the map draws: ms since the watch began, the zoom, and the
#: hexagons in the figure's data (the case layer's view at a low zoom).
FRAMES_JS = f"""
const gd = document.querySelector('{GRAPH}');
const map = gd._fullLayout.map._subplot.map;
const frames = window.__frames = [];
const t0 = performance.now();
const painter = map.painter;
const render = painter.render;
painter.render = function () {{
  const hex = gd.data.find(t => t.meta && t.meta.role === 'hexagons');
  frames.push([performance.now() - t0, map.getZoom(), hex ? (hex.locations || []).length : 0]);
  return render.apply(this, arguments);
}};
"""


def test_a_zoom_draws_its_new_overlays_in_its_first_frame(
    browser: WebDriver, demo_server: LiveServer
) -> None:
    """A person's zoom (a wheel's move end) on the map whose view the page follows: frames
    wait for the redraw, so no frame shows the low zoom's hexagons at the new zoom (unless
    the redraw took longer than the hold), and the map draws the new overlays."""
    demo_server.open(browser, "/")
    wait_for(browser, lambda d: layers_drawn(d) == LAYERS, message=str(layers_drawn(browser)))
    settled(browser)
    assert _drawn(browser).get(("cases", "hexagons"), 0) > 0
    browser.execute_script(FRAMES_JS)
    zoom_in_to_16(browser)
    frames = browser.execute_script("return window.__frames")
    zoomed = [f for f in frames if abs(f[1] - 16) < 1e-6]
    assert zoomed, frames
    stale = [f for f in zoomed if f[2] > 0 and f[0] < 1100]  # within the hold (1.2 s)
    assert stale == [], frames
    assert in_drawing_order(browser)


#: From now on: each Plotly.react (ms since the watch began) and each redraw request sent
#: for a move of the map (relayoutData among the changed inputs).
REACTS_JS = """
const w = window.__reacts = {reacts: [], moves: []};
const t0 = performance.now();
if (!Plotly.__watched) {
  Plotly.__watched = true;
  const react = Plotly.react;
  Plotly.react = function () {
    window.__reacts.reacts.push(performance.now() - t0);
    return react.apply(this, arguments);
  };
  const fetch = window.fetch;
  window.fetch = function (input, init) {
    const body = init && typeof init.body === 'string' ? init.body : '';
    if (body.includes('map-graph.relayoutData')) window.__reacts.moves.push(performance.now() - t0);
    return fetch.apply(this, arguments);
  };
}
"""


def test_a_zoom_reaches_the_server_without_a_replot_first(
    browser: WebDriver, demo_server: LiveServer
) -> None:
    """A person's zoom is reported to Dash as relayoutData only: its redraw request goes
    out before any re-plot (dcc.Graph would first re-plot every trace for the new view), the
    redraw's answer is drawn, and the map stays where the person put it (uirevision)."""
    demo_server.open(browser, "/")
    wait_for(browser, lambda d: layers_drawn(d) == LAYERS, message=str(layers_drawn(browser)))
    settled(browser)
    browser.execute_script(REACTS_JS)
    zoom_in_to_16(browser)
    watched = browser.execute_script("return window.__reacts")
    assert len(watched["moves"]) == 1, watched
    assert watched["reacts"], watched  # the answer is drawn
    assert watched["moves"][0] < watched["reacts"][0], watched
    zooms = browser.execute_script(
        f"const gd = document.querySelector('{GRAPH}');"
        "return [gd._fullLayout.map._subplot.map.getZoom(), gd._fullLayout.map.zoom]"
    )
    assert zooms == [16, 16]
    status = browser.find_element("id", "map-status").text
    assert "16.0" in status, status


#: The point (circle) shader programs MapLibre has compiled, and whether any warm-up layer
#: or source (assets/map-updates.js) is still on the map.
PROGRAMS_JS = f"""
const map = document.querySelector('{GRAPH}')._fullLayout.map._subplot.map;
const style = map.getStyle();
const left = style.layers.map(l => l.id).concat(Object.keys(style.sources))
  .filter(id => id.startsWith('gridmap-warm-programs'));
return [Object.keys(map.painter.cache || {{}}).filter(k => k.startsWith('circle/')).sort(), left];
"""


def test_a_first_zoom_in_compiles_no_point_program(
    browser: WebDriver, demo_server: LiveServer
) -> None:
    """The points' shader programs are compiled once the page's map is first idle (by
    layers drawn once and removed): the first zoom in, where the overlays' points show,
    compiles none in its frames."""
    demo_server.open(browser, "/")
    wait_for(browser, lambda d: layers_drawn(d) == LAYERS, message=str(layers_drawn(browser)))
    wait_for(browser, lambda d: d.execute_script(PROGRAMS_JS)[1] == [], message="warm-up left")
    settled(browser)
    before, left = browser.execute_script(PROGRAMS_JS)
    assert left == []
    assert len(before) >= 3, before
    zoom_in_to_16(browser)
    assert _drawn(browser).get(("cases", "points"), 0) > 0, _drawn(browser)
    after, _left = browser.execute_script(PROGRAMS_JS)
    assert after == before


#: Per GeoJSON source of the map: its id, its maxzoom; the figure's case points, and those
#: of them MapLibre drew none of within ~1 m (the tiles' units over-zoomed).
GEOJSON_JS = f"""
const gd = document.querySelector('{GRAPH}');
const map = gd._fullLayout.map._subplot.map;
const sources = Object.entries(map.getStyle().sources).filter(([, s]) => s.type === 'geojson');
const points = map.getStyle().layers
  .filter(l => l.type === 'circle' && l.id.includes('cases') && l.layout.visibility !== 'none')
  .map(l => l.id);
const drawn = map.queryRenderedFeatures({{layers: points}}).map(f => f.geometry.coordinates);
const trace = gd.data.find(t => t.meta && t.meta.layer === 'cases' && t.meta.role === 'points');
const wanted = trace.lon.map((lon, i) => [lon, trace.lat[i]]);
const near = (a, b) => Math.abs(a[0] - b[0]) < 1e-5 && Math.abs(a[1] - b[1]) < 1e-5;
return [sources.map(([id]) => [id, map.getSource(id).maxzoom]), wanted.length,
        wanted.filter(w => !drawn.some(d => near(d, w))).length];
"""


def test_the_overlays_are_cut_to_zoom_14_and_drawn_over_zoomed(
    browser: WebDriver, demo_server: LiveServer
) -> None:
    """Every GeoJSON source (plotly's traces) is cut into tiles up to zoom 14: a zoom in
    cuts a few z14 tiles per source, not a dozen z16 ones; at 16 every case point of the
    figure is drawn where it is (over-zoomed, none lost or moved)."""
    demo_server.open(browser, "/")
    wait_for(browser, lambda d: layers_drawn(d) == LAYERS, message=str(layers_drawn(browser)))
    settled(browser)
    zoom_in_to_16(browser)
    sources, cases, missing = browser.execute_script(GEOJSON_JS)
    assert len(sources) > 5 and {z for _id, z in sources} == {14}, sources
    assert cases > 0 and missing == 0, (cases, missing)
