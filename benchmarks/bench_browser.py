"""The dashboard in headless Chromium at city scale: bytes of a first and a repeat visit per
page, time to a drawn map, map updates after filters, toggles and a zoom, and vector tile
times per zoom — for peers side by side (issue 14, point 4).

    .venv/bin/python benchmarks/bench_browser.py [--db bench_browser] [--rounds 2] [--runs 3]
        [--peers after,naive,before] [--before /work/wt/speed-before]
        [--out benchmarks/results/browser_city.json] [--keep] [--webgl llvmpipe]

Copies the shared city database (``gridmap_bench_city``, benchmarks/citydb.py: 10k grids,
500k buildings, 35k cameras, 2 M cases) into ``--db`` (kept when it exists), drops its GPS
fixes later than the clock, computes what the wall shows, adds an admin account, then starts
one ``gridmap serve`` (gunicorn, 2 workers) per peer:

- ``after``: this checkout as it is (compression, immutable fingerprinted assets, the tile
  cache, the wall's kept outlines);
- ``naive``: the same code with ``GRIDMAP_COMPRESS=false GRIDMAP_CACHE_ASSETS=false
  GRIDMAP_TILE_CACHE_MB=0`` (the wall's outlines are still rounded and kept);
- ``before``: another checkout (``--before``, e.g. a worktree of main before this work),
  run with ``PYTHONPATH`` pointing at it.

Each server is warmed up first (every page opened once, not measured: a "first load" is a
browser with an empty cache meeting a running server, not a server's first request). Rounds
interleave the peers (their order rotates), each round in a fresh Chromium profile per peer,
and record the load average (2 cores shared with other work: compare ratios).

Measured per peer:

- **pages** (``/``, ``/wall``, ``/lead``, ``/plan``, ``/patrols`` at 1920×1080): a first
  load with the browser cache emptied, then a repeat visit. Bytes are the response bodies the
  server sent for the load (its access log: every request of the page and of MapLibre's tile
  workers; served from the browser cache = 0 bytes); ``drawn_ms`` is the time from
  navigation start until the map has settled (no callback or tile pending, MapLibre idle,
  nothing new for 2.5 s: :data:`PAGE_QUIET_MS`; the every-second probes are not counted),
  ``first_idle_ms`` the first MapLibre ``idle`` with the page's data traces drawn (traces
  with features, their layers in the map: the first meaningful paint). Beside them the
  limit, ``(bare map)``: a page with no Dash, the same plotly bundle, ``/``'s map layout
  (basemap style, view) and one trace of ten points (what a first paint of a map costs this
  browser before any page work; its repeat visit comes from a page of the peer).
- **updates** on ``/``: a time-window filter (pills), a category filter (dropdown), a
  layer toggle (cameras), a zoom to 16.5 with every layer on: from the click (or the zoom)
  to the map settled again, p50/p95 over rounds × runs. The zoom is a user's (MapLibre's
  camera moved with an ``originalEvent``, as a wheel does: :func:`user_zoom_js`); the same
  zoom through ``Plotly.relayout`` (which first re-plots every trace) is recorded beside
  it as ``zoom_16_5_all_layers_relayout``. Each browser's first zoom is cold (tiles, glyphs,
  overlays and the GPU's buffers new); the later ones go back to the same place. The limit
  beside it, ``zoom_16_5_basemap_only``: the same zoom with every overlay off, at a place not
  drawn yet (the basemap alone: what a first zoom costs this browser before any overlay).
- **tiles**: each tiled layer's tiles around seeded random buildings at zooms 10-16 over
  HTTP (signed-in session): a first pass (cold: nothing cached) and a second (warm), each
  tile asked of every peer in turn, who goes first rotating from tile to tile.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_callbacks import (  # noqa: E402
    compute_wall_inputs,
    free_port,
    signed_in,
    trim_future_pings,
)
from benchmarks.citydb import copy_city, drop_database  # noqa: E402
from gridmap.access.passwords import hash_password  # noqa: E402
from gridmap.db.engine import get_engine  # noqa: E402

PASSWORD = "bench-password-1"
USER = "bench_admin"
PAGES = ("/", "/wall", "/lead", "/plan", "/patrols")
NAIVE_ENV = {
    "GRIDMAP_COMPRESS": "false",
    "GRIDMAP_CACHE_ASSETS": "false",
    "GRIDMAP_TILE_CACHE_MB": "0",
}
TILE_LAYERS = ("basemap", "roads", "buildings", "grids", "cameras")
TILE_ZOOMS = range(10, 17)
CHROME_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--window-size=1920,1080",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: WebGL without a GPU: Chromium's own SwiftShader (what it falls back to on a machine
#: without one), or Mesa's llvmpipe through ANGLE's EGL backend (``--webgl llvmpipe``:
#: multi-threaded, closer to what a GPU does). Recorded with the renderer's own name.
WEBGL_ARGS = {
    "swiftshader": ["--disable-gpu"],
    "llvmpipe": ["--use-gl=angle", "--use-angle=gl-egl", "--ignore-gpu-blocklist"],
}
WEBGL = "swiftshader"  # (--webgl)
RENDERER_JS = """const c = document.createElement('canvas');
const gl = c.getContext('webgl2') || c.getContext('webgl');
const e = gl && gl.getExtension('WEBGL_debug_renderer_info');
return gl ? gl.getParameter(e ? e.UNMASKED_RENDERER_WEBGL : gl.RENDERER) : null;"""
TARGETS = {
    "first_load_bytes": 2_000_000,
    "repeat_visit_bytes": 200_000,
    "tile_p95_ms": 100,
    "wall_first_open_bytes": 500_000,
    "update_p95_ms": 500,
    "first_meaningful_paint_ms": 2000,
}

#: Installed before any page script: counts the page's own requests (not the every-second
#: probes) and the maps' activity, so the benchmark can tell when the map has settled.
INSTRUMENT = r"""
(() => {
  const gm = window.__gm = {pending: 0, last: 0, firstIdle: null, hooked: new WeakSet()};
  const periodic = (body) => {
    try {
      const ids = JSON.parse(body).changedPropIds || [];
      return ids.length > 0 && ids.every(id => id.endsWith('.n_intervals'));
    } catch (e) { return false; }
  };
  const origFetch = window.fetch;
  window.fetch = function (input, init) {
    const counted = !(init && typeof init.body === 'string' && periodic(init.body));
    if (counted) gm.pending++;
    const p = origFetch.apply(this, arguments);
    if (counted) p.finally(() => { gm.pending--; gm.last = performance.now(); });
    return p;
  };
  // plotly reads a trace's GeoJSON given as a URL (the wall's grid outlines) with XHR
  const xhrSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function () {
    gm.pending++;
    this.addEventListener('loadend', () => { gm.pending--; gm.last = performance.now(); });
    return xhrSend.apply(this, arguments);
  };
  const hook = () => {
    for (const gd of document.querySelectorAll('.js-plotly-plot')) {
      if (!gm.hooked.has(gd) && gd.on) {
        gm.hooked.add(gd);
        gd.on('plotly_afterplot', () => { gm.last = performance.now(); });
      }
      const sp = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
      const map = sp && sp.map;
      if (map && !gm.hooked.has(map)) {
        gm.hooked.add(map);
        const idle = () => {
          const now = performance.now();
          gm.last = Math.max(gm.last, now);
          // the page's data drawn: traces with features, and their layers in the map
          const drawn = (gd.data || []).some(t => (t.locations || t.lat || []).length > 0)
            && map.getLayersOrder().some(id => id.startsWith('plotly-trace-layer-'));
          if (gm.firstIdle === null && drawn) gm.firstIdle = now;
        };
        map.on('idle', idle);
        map.on('dataloading', () => { gm.last = performance.now(); });
        if (map.loaded() && map.areTilesLoaded()) idle();
      }
    }
  };
  setInterval(hook, 50);
})();
"""

STATE_JS = r"""
const gm = window.__gm;
if (!gm) return null;
const maps = [];
for (const gd of document.querySelectorAll('.js-plotly-plot')) {
  const sp = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
  if (sp && sp.map) maps.push(sp.map);
}
return {
  pending: gm.pending, last: gm.last, firstIdle: gm.firstIdle, now: performance.now(),
  loading: document.querySelectorAll('[data-dash-is-loading="true"]').length,
  maps: maps.length,
  idle: maps.every(m => m.loaded() && m.areTilesLoaded() && !m.isMoving()),
};
"""


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 1)


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 1),
        "p95": pct(values, 0.95),
        "max": round(max(values), 1),
    }


# -- the database and the servers ------------------------------------------------------------


def prepare(db: str) -> str:
    url = copy_city(db)
    trim_future_pings(url)
    compute_wall_inputs(url)
    with get_engine(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, display_name, role, password_hash) "
                "VALUES (:u, :u, 'admin', :h) ON CONFLICT (username) DO UPDATE "
                "SET password_hash = EXCLUDED.password_hash, active = true"
            ),
            {"u": USER, "h": hash_password(PASSWORD)},
        )
    return url


@dataclass
class Peer:
    name: str
    root: Path
    env: dict[str, str]
    host: str
    port: int = 0
    process: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, url: str, logs: Path) -> None:
        self.port = free_port()
        self.log = logs / f"server-{self.name}.log"
        env = {
            **os.environ,
            **self.env,
            "GRIDMAP_DATABASE_URL": url,
            "PYTHONPATH": str(self.root),
        }
        gridmap = str(Path(sys.executable).parent / "gridmap")
        command = [gridmap, "serve", "--host", self.host, "--port", str(self.port)]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, "--workers", "2"],
                env=env,
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        for _ in range(300):
            try:
                if requests.get(self.base + "/healthz", timeout=5).json().get("ok"):
                    return
            except (requests.ConnectionError, ValueError):
                time.sleep(0.3)
        raise SystemExit(f"{self.name} did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def log_offset(self) -> int:
        assert self.log is not None
        return self.log.stat().st_size

    def sent_since(self, offset: int) -> dict[str, int]:
        """Body bytes and requests the server logged since ``offset`` (gunicorn's access
        log: ``"GET /path HTTP/1.1" status bytes``), the every-second probes left out."""
        assert self.log is not None
        time.sleep(0.3)  # the last lines of the workers
        with self.log.open("rb") as f:
            f.seek(offset)
            lines = f.read().decode("utf-8", "replace").splitlines()
        out = {"bytes": 0, "requests": 0, "tile_bytes": 0, "static_bytes": 0, "data_bytes": 0}
        for line in lines:
            parts = line.split('"')
            if len(parts) < 3 or not parts[1].startswith(("GET ", "POST ")):
                continue
            fields = parts[2].split()
            if len(fields) < 2:
                continue
            size = int(fields[1]) if fields[1].isdigit() else 0
            path = parts[1].split()[1]
            out["bytes"] += size
            out["requests"] += 1
            if path.startswith("/tiles/"):
                out["tile_bytes"] += size
            elif path.startswith(("/_dash-component-suites/", "/assets/", "/_favicon")):
                out["static_bytes"] += size
            else:
                out["data_bytes"] += size
        return out


# -- the browser -----------------------------------------------------------------------------


def browser() -> tuple[Any, str]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="gridmap-bench-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in [*CHROME_ARGS, *WEBGL_ARGS[WEBGL], f"--user-data-dir={profile}"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.set_page_load_timeout(120)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": INSTRUMENT})
    return driver, profile


def settle(driver: Any, since: float, timeout: float = 90.0, quiet_ms: float = 1000) -> dict:
    """Wait until the page's map settled after ``since`` (page ms); its state then."""
    deadline = time.monotonic() + timeout
    state: dict | None = None
    while time.monotonic() < deadline:
        state = driver.execute_script(STATE_JS)
        if (
            state
            and state["maps"] > 0
            and state["pending"] == 0
            and state["loading"] == 0
            and state["idle"]
            and state["last"] >= since
            and state["now"] - state["last"] >= quiet_ms
        ):
            return state
        time.sleep(0.1)
    raise TimeoutError(f"the map did not settle within {timeout} s: {state}")


#: Quiet (ms) that ends a page load: longer than a page's delayed start work (the wall's
#: first slow tick, 2 s after it opened), which belongs to the load. A first visit left
#: before it left its answers (the wall's grid outlines, ~170 KB) to the repeat visit.
PAGE_QUIET_MS = 2500


def page_load(driver: Any, peer: Peer, path: str) -> dict[str, Any]:
    return load_of(driver, peer, peer.base + path)


def load_of(driver: Any, peer: Peer, url: str) -> dict[str, Any]:
    """What opening ``url`` cost: bytes the peer sent for it, ms until drawn."""
    offset = peer.log_offset()
    driver.get(url)
    state = settle(driver, 0, quiet_ms=PAGE_QUIET_MS)
    return {
        **peer.sent_since(offset),
        "drawn_ms": round(state["last"]),
        "first_idle_ms": round(state["firstIdle"]) if state["firstIdle"] else None,
    }


#: The limit of a first paint in this browser, beside the pages: a bare page (no Dash) with
#: the same plotly bundle, ``/``'s map layout (its basemap style and view) and one trace of
#: ten points, opened as a blob: URL of the peer's origin (its tiles and cookies).
BARE_MAP = "(bare map)"

BARE_MAP_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>bare map</title>
<style>html,body{margin:0;height:100%}#g{position:absolute;left:300px;top:56px;right:0;bottom:0}
</style></head><body><div id="g"></div><script src="__PLOTLY__"></script><script>
const layout = __LAYOUT__;
const c = layout.map.center, lon = [], lat = [];
for (let i = 0; i < 10; i++) { lon.push(c.lon + (i - 5) * 0.01); lat.push(c.lat); }
Plotly.newPlot("g", [{type: "scattermap", lon, lat, mode: "markers", marker: {size: 10}}], layout);
</script></body></html>"""


def bare_map_html(driver: Any) -> str:
    """The bare map page for the peer whose ``/`` is open and settled."""
    found = driver.execute_script(
        "const gd = document.querySelector('#map-graph .js-plotly-plot');"
        "return [JSON.stringify(gd.layout),"
        " [...document.scripts].map(s => s.src).find(s => s.includes('plotly-map'))];"
    )
    layout, plotly = found
    layout = layout.replace("</", "<\\/")  # no "</script>" inside the script
    return BARE_MAP_HTML.replace("__PLOTLY__", plotly).replace("__LAYOUT__", layout)


def bare_map_load(driver: Any, peer: Peer, html: str, *, first: bool) -> dict[str, Any]:
    """A load of the bare map page: first with the browser cache emptied, else a repeat
    visit (from a page of the peer: a blob: URL is made by a page of its origin)."""
    if first:
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    else:
        driver.get(peer.base + "/healthz")
    url = driver.execute_script(
        "return URL.createObjectURL(new Blob([arguments[0]], {type: 'text/html'}))", html
    )
    return load_of(driver, peer, url)


def timed(driver: Any, action_js: str, *args: Any) -> float:
    """ms from running ``action_js`` (after noting the time) until the map settled."""
    t0 = driver.execute_script(
        "const t0 = performance.now(); window.__gm.last = t0;" + action_js + "; return t0;", *args
    )
    state = settle(driver, t0 + 0.001, quiet_ms=800)
    return state["last"] - t0


def click_js(selector: str) -> str:
    return f"document.querySelector({json.dumps(selector)}).click()"


def toggle_selector(layer: str) -> str:
    element_id = json.dumps({"layer": layer, "type": "map-layer-toggle"}, separators=(",", ":"))
    return f"[id={json.dumps(element_id)}] input"


#: The case layer's hexagons: their count of cases (``meta.total``) in the open map.
CASE_TOTAL_JS = """
const gd = document.querySelector('#map-graph .js-plotly-plot');
const hexagons = (gd.data || []).find(t => t.meta && t.meta.role === 'hexagons');
return hexagons ? hexagons.meta.total : null;
"""


def updates(driver: Any, peer: Peer, runs: int) -> dict[str, list[float]]:
    """Map updates on ``/`` (already open and settled). The time windows alternate between
    7 and 30 days (both hold cases: each click redraws the hexagons); a click after which
    the hexagons still count the old window's cases is counted in ``time_window_missed``
    (the map did not follow the filter)."""
    out: dict[str, list[float]] = {"time_window": [], "category": [], "layer_toggle": []}
    windows = ["7d", "30d"]
    missed = 0
    for run in range(runs):
        selector = f'#map-case-window input[value="{windows[run % 2]}"]'
        before = driver.execute_script(CASE_TOTAL_JS)
        out["time_window"].append(timed(driver, click_js(selector)))
        missed += driver.execute_script(CASE_TOTAL_JS) == before
    out["time_window_missed"] = [missed]
    from selenium.webdriver.common.keys import Keys

    option = '.dash-dropdown-options [data-option-index="1"]'
    for _run in range(runs):  # one category on, then off again
        driver.execute_script(click_js("#map-case-categories"))
        time.sleep(0.5)
        out["category"].append(timed(driver, click_js(option)))
        driver.switch_to.active_element.send_keys(Keys.ESCAPE)
        time.sleep(0.3)
    for _run in range(runs):
        out["layer_toggle"].append(timed(driver, click_js(toggle_selector("cameras"))))
    return out


def switch_all_layers(driver: Any, *, on: bool) -> None:
    """Every layer toggle of ``/`` switched on (or off), each click waited for."""
    layers = driver.execute_script(
        "return [...document.querySelectorAll('[id*=\"map-layer-toggle\"]')].map(e => e.id)"
    )
    for element_id in layers:
        checked = driver.execute_script(
            "return document.getElementById(arguments[0]).querySelector('input').checked",
            element_id,
        )
        if checked != on:
            timed(
                driver,
                "document.getElementById(arguments[0]).querySelector('input').click()",
                element_id,
            )


def zoom_all_layers(driver: Any, runs: int) -> list[float]:
    """Every layer on, then zoom 16.5 at the map's centre and back."""
    switch_all_layers(driver, on=True)
    graph = "document.querySelector('#map-graph .js-plotly-plot')"
    start = driver.execute_script(f"return {graph}._fullLayout.map.zoom")
    times = []
    for _run in range(runs):
        times.append(timed(driver, user_zoom_js(16.5)))
        timed(driver, user_zoom_js(start))
    return times


def user_zoom_js(zoom: float, center: tuple[float, float] | None = None) -> str:
    """Zoom the map (and move it to ``center``) as a wheel or keyboard zoom does: MapLibre
    moves the camera and its ``moveend`` carries an ``originalEvent``, on which plotly
    reports the new view to Dash (``relayoutData``) without re-plotting any trace (a
    ``Plotly.relayout`` call instead re-plots every trace first: what a program does, not a
    person)."""
    graph = "document.querySelector('#map-graph .js-plotly-plot')"
    camera = {"zoom": zoom} | ({"center": list(center)} if center else {})
    return (
        f"{graph}._fullLayout.map._subplot.map.jumpTo({json.dumps(camera)}, "
        "{originalEvent: new WheelEvent('wheel')})"
    )


#: Where the basemap-only zoom goes (degrees from the map's centre): a place the all-layers
#: zooms did not draw at 16.5, so its first zoom is as cold as theirs.
ELSEWHERE = (0.02, 0.015)


def zoom_basemap_only(driver: Any, runs: int) -> list[float]:
    """The limit of that zoom in this browser: every overlay off (the basemap alone, no
    overlay to read, send or draw), zoom 16.5 at a place not drawn yet and back."""
    switch_all_layers(driver, on=False)
    graph = "document.querySelector('#map-graph .js-plotly-plot')"
    view = driver.execute_script(
        f"const m = {graph}._fullLayout.map; return [m.zoom, m.center.lon, m.center.lat]"
    )
    start, home = view[0], (view[1], view[2])
    away = (home[0] + ELSEWHERE[0], home[1] + ELSEWHERE[1])
    times = []
    for _run in range(runs):
        times.append(timed(driver, user_zoom_js(16.5, away)))
        timed(driver, user_zoom_js(start, home))
    return times


def relayout_zoom(driver: Any, runs: int) -> list[float]:
    """The same zoom through ``Plotly.relayout`` (every layer already on)."""
    graph = "document.querySelector('#map-graph .js-plotly-plot')"
    start = driver.execute_script(f"return {graph}._fullLayout.map.zoom")
    times = []
    for _run in range(runs):
        times.append(timed(driver, f"Plotly.relayout({graph}, {{'map.zoom': 16.5}})"))
        timed(driver, f"Plotly.relayout({graph}, {{'map.zoom': {start}}})")
    return times


#: Seconds of quiet between the warm-ups and the first round.
QUIET_S = 30


def warm_up(peer: Peer) -> None:
    """Each page opened once (not measured): a first visit then finds the server's workers
    and the database warm, as a browser with an empty cache meets a running server. A page
    that does not draw is opened once more: a new worker of the code before 5976b32 may
    answer its first burst of bundle requests with 500s (a blank page)."""
    from tests.signin import sign_in

    driver, profile = browser()
    try:
        sign_in(driver, peer.base, USER, PASSWORD, next_path="/healthz")
        for path in PAGES:
            driver.get(peer.base + path)
            try:
                settle(driver, 0, timeout=45)
            except TimeoutError as exc:
                print(f"warm-up: {peer.name} {path} again ({exc})", flush=True)
                driver.get(peer.base + path)
                settle(driver, 0)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def browser_round(peer: Peer, runs: int) -> dict[str, Any]:
    from tests.signin import sign_in

    driver, profile = browser()
    try:
        sign_in(driver, peer.base, USER, PASSWORD, next_path="/healthz")
        pages: dict[str, Any] = {}
        for path in PAGES:
            driver.execute_cdp_cmd("Network.clearBrowserCache", {})
            first = page_load(driver, peer, path)
            driver.get("about:blank")
            repeat = page_load(driver, peer, path)
            pages[path] = {"first": first, "repeat": repeat}
        driver.get(peer.base + "/")
        settle(driver, 0)
        html = bare_map_html(driver)
        pages[BARE_MAP] = {
            "first": bare_map_load(driver, peer, html, first=True),
            "repeat": bare_map_load(driver, peer, html, first=False),
        }
        driver.get(peer.base + "/")
        settle(driver, 0)
        interactions = updates(driver, peer, runs)
        interactions["zoom_16_5_all_layers"] = zoom_all_layers(driver, runs)
        interactions["zoom_16_5_all_layers_relayout"] = relayout_zoom(driver, runs)
        interactions["zoom_16_5_basemap_only"] = zoom_basemap_only(driver, runs)
        return {"pages": pages, "updates": interactions}
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# -- tiles -----------------------------------------------------------------------------------


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_sample(url: str, per_zoom: int, seed: int = 7) -> list[tuple[str, int, int, int]]:
    with get_engine(url).connect() as conn:
        points = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM buildings ORDER BY id")
        ).all()
    rng = random.Random(seed)
    chosen = rng.sample(points, per_zoom)
    tiles = []
    for layer in TILE_LAYERS:
        for z in TILE_ZOOMS:
            for lon, lat in chosen:
                tiles.append((layer, z, *tile_of(lon, lat, z)))
    return list(dict.fromkeys(tiles))


def rotated(peers: list[Peer], k: int) -> list[Peer]:
    """The peers in turn, the ``k``-th first (who goes first rotates)."""
    k %= len(peers)
    return peers[k:] + peers[:k]


def tile_times(peers: list[Peer], tiles: list[tuple[str, int, int, int]]) -> dict[str, Any]:
    """Each tile of ``tiles`` asked of every peer, a first pass (cold) then a second (warm):
    per peer, p50/p95 ms per layer and zoom. The peers share one database, so the first to
    ask for a tile also reads its rows into the database's cache: who goes first rotates
    from tile to tile, as the rounds rotate."""
    sessions = {}
    for peer in peers:
        sessions[peer.name] = signed_in(peer.base, USER)
        sessions[peer.name].headers["Accept-Encoding"] = "br, gzip"
    out: dict[str, Any] = {peer.name: {} for peer in peers}
    for name in ("cold", "warm"):
        per: dict[str, dict[str, dict[int, list[float]]]] = {peer.name: {} for peer in peers}
        for k, (layer, z, x, y) in enumerate(tiles):
            for peer in rotated(peers, k):
                t0 = time.perf_counter()
                r = sessions[peer.name].get(
                    f"{peer.base}/tiles/{layer}/{z}/{x}/{y}.pbf", timeout=120
                )
                ms = (time.perf_counter() - t0) * 1000
                assert r.status_code in (200, 204), r.status_code
                per[peer.name].setdefault(layer, {}).setdefault(z, []).append(ms)
        for peer in peers:
            out[peer.name][name] = {
                layer: {str(z): summary(v) for z, v in zs.items()}
                for layer, zs in per[peer.name].items()
            }
    return out


# -- the run ---------------------------------------------------------------------------------


def aggregate(per_peer: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, rounds in per_peer.items():
        pages: dict[str, Any] = {}
        for path in (*PAGES, BARE_MAP):
            loads = {"first": [], "repeat": []}
            for r in rounds:
                for kind in loads:
                    loads[kind].append(r["pages"][path][kind])

            def med(kind: str, key: str, loads=loads) -> float | None:
                values = [v[key] for v in loads[kind] if v.get(key) is not None]
                return round(statistics.median(values)) if values else None

            pages[path] = {
                kind: {
                    key: med(kind, key)
                    for key in (
                        "bytes",
                        "static_bytes",
                        "data_bytes",
                        "tile_bytes",
                        "requests",
                        "drawn_ms",
                        "first_idle_ms",
                    )
                }
                for kind in loads
            }
        updates: dict[str, Any] = {}
        for key in rounds[0]["updates"]:
            values = [v for r in rounds for v in r["updates"][key]]
            updates[key] = sum(values) if key.endswith("_missed") else summary(values)
        out[name] = {"pages": pages, "updates": updates}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="bench_browser")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tiles-per-zoom", type=int, default=8)
    parser.add_argument("--peers", default="after,naive,before")
    parser.add_argument("--before", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/browser_city.json")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--webgl", choices=sorted(WEBGL_ARGS), default="swiftshader")
    args = parser.parse_args()
    global WEBGL
    WEBGL = args.webgl
    driver, profile = browser()
    try:
        renderer = driver.execute_script(RENDERER_JS)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)

    url = prepare(args.db)
    logs = Path(tempfile.mkdtemp(prefix="gridmap-bench-browser-"))
    roots = {"after": ROOT, "naive": ROOT, "before": args.before}
    envs = {"after": {}, "naive": NAIVE_ENV, "before": {}}
    names = args.peers.split(",")
    if "before" in names and args.before is None:
        raise SystemExit("--before names the checkout of the 'before' peer")
    peers = [Peer(n, roots[n], envs[n], f"127.0.0.{10 + i}") for i, n in enumerate(names)]
    load_before = load()
    per_peer: dict[str, list[dict[str, Any]]] = {p.name: [] for p in peers}
    tiles_out: dict[str, Any] = {}
    round_loads = []
    try:
        for peer in peers:
            peer.start(url, logs)
        for peer in peers:
            print(f"warm-up: {peer.name}", flush=True)
            warm_up(peer)
        # the warm-ups' background work (slow ticks, caches) settles before the first round
        time.sleep(QUIET_S)
        for number in range(args.rounds):
            order = rotated(peers, number)
            for peer in order:
                before = load()
                print(f"round {number + 1}: {peer.name} (load {before})", flush=True)
                result = browser_round(peer, args.runs)
                per_peer[peer.name].append(result)
                round_loads.append(
                    {
                        "round": number + 1,
                        "peer": peer.name,
                        "load_before": before,
                        "load_after": load(),
                    }
                )
        sample = tile_sample(url, args.tiles_per_zoom)
        print("tiles", flush=True)
        tiles_out = tile_times(peers, sample)
    finally:
        for peer in peers:
            peer.stop()
        if not args.keep:
            drop_database(args.db)
    results = {
        "benchmark": "the dashboard in headless Chromium at city scale (issue 14, point 4)",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": f"{args.db} (a copy of gridmap_bench_city)",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": load_before,
            "load_after": load(),
            "rounds": round_loads,
        },
        "settings": {
            "rounds": args.rounds,
            "runs": args.runs,
            "window": "1920x1080",
            "webgl": {"backend": args.webgl, "renderer": renderer},
            "server": "gridmap serve, gunicorn asgi, 2 workers",
            "peers": {p.name: {"root": str(p.root), "env": p.env} for p in peers},
        },
        "targets": TARGETS,
        "results": aggregate(per_peer),
        "tiles": tiles_out,
        "raw": per_peer,
    }
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results["results"], indent=1))


if __name__ == "__main__":
    main()
