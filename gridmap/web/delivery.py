"""How the app's responses travel: compression (brotli, else gzip) and long-lived cache
headers for fingerprinted assets.

- Compression is flask-compress's, for text responses (JS, CSS, JSON) and vector tiles,
  never for HTML pages (a page may carry a CSRF token next to reflected input: BREACH) nor
  for a response that already has a ``Content-Encoding``. The compressed bytes of
  fingerprinted Dash bundles are kept per process (bounded), so plotly.js (4.8 MB) is
  compressed once, not on every first visit.
- Dash fingerprints its component bundles (``…/dash_renderer.v4_4_1m1796523590.min.js``)
  and gives them a year's ``max-age``; they also get ``public, immutable`` here. Dash loads
  the full plotly.js from an unfingerprinted URL (``window._dashPlotlyJSURL``, revalidated
  on every visit): the page pins it to the fingerprinted URL of plotly.js's "map" partial
  bundle (all the dashboard draws, 40 % lighter), in every configuration. The project's own
  ``assets/`` are linked with ``?m=<mtime>`` (Dash's cache buster): such URLs are immutable
  too; without it they stay ``no-cache`` (revalidated by ETag).
- Static files (bundles, assets, the favicon) no longer carry the session: Flask re-signs a
  permanent session's cookie on every response (a new value each second) and adds
  ``Vary: Cookie``, so a browser could not reuse a cached bundle once the cookie had moved
  (plotly.js was fetched again on every visit).

- Dash sets itself up on a process's first request (it registers the component bundles
  it serves then): the page's first burst of parallel bundle requests to a new worker
  waits until that is done (:func:`set_up_before_serving`), or a thread that came second
  was refused with a 500 ("dash is not a registered library") and the page stayed blank.

Both are settings (``GRIDMAP_COMPRESS``, ``GRIDMAP_CACHE_ASSETS``) so a benchmark can
measure the app without them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import brotli
from cachetools import LRUCache
from dash import Dash
from dash.fingerprint import build_fingerprint, check_fingerprint
from flask import Flask, Request, Response, request
from flask.sessions import SessionInterface
from flask_compress import Compress

from gridmap.access.web import STATIC_ENDPOINTS
from gridmap.settings import Settings

#: Cache-Control of a fingerprinted asset: its URL changes whenever its bytes do.
IMMUTABLE = "public, max-age=31536000, immutable"
F = TypeVar("F", bound=Callable[..., Any])
SUITES = "/_dash-component-suites/"
ASSETS_ENDPOINT = "_dash_assets.static"
MVT_TYPE = "application/vnd.mapbox-vector-tile"
#: What is compressed (no text/html: see the module's docstring).
COMPRESSED_TYPES = [
    "text/css",
    "text/plain",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/geo+json",
    "image/svg+xml",
    "image/x-icon",
    MVT_TYPE,
]
#: Brotli quality of responses compressed as they go (fast: ~0.1 s for plotly.js).
BR_LEVEL = 5
#: Brotli quality the kept bundles are recompressed with in the background: 9 takes 0.2 s
#: for the plotly.js bundle (734 KB); 11 saves another 72 KB but burns 5 s of a core per
#: process just as the first pages load (first paint on / went from ~2.6 s to ~5 s).
BR_KEPT_LEVEL = 9
#: Most bytes of compressed bundles kept per process.
KEPT_BYTES = 32 * 2**20


def fingerprinted(req: Request) -> bool:
    """Whether the request names an asset by a URL that changes with its content."""
    if req.path.startswith(SUITES):
        return check_fingerprint(req.path[len(SUITES) :])[1]
    return req.endpoint == ASSETS_ENDPOINT and bool(req.args.get("m"))


def _kept_key(req: Request) -> str:
    """flask-compress's cache key: the fingerprinted URL, or "" (not kept)."""
    return req.full_path if req.path.startswith(SUITES) and fingerprinted(req) else ""


class KeptBundles:
    """flask-compress's cache of compressed fingerprinted bundles: an LRU bounded in bytes.
    A brotli entry is recompressed once at :data:`BR_KEPT_LEVEL` in a background thread
    (made lazily, so no thread exists before gunicorn forks)."""

    def __init__(self, max_bytes: int = KEPT_BYTES) -> None:
        self.entries: LRUCache[str, bytes] = LRUCache(max_bytes, getsizeof=len)
        self.lock = threading.Lock()
        self.improved: set[str] = set()

    def get(self, key: str) -> bytes | None:
        if key.endswith(";"):
            return None
        with self.lock:
            return self.entries.get(key)

    def set(self, key: str, value: bytes) -> None:
        if key.endswith(";") or len(value) > self.entries.maxsize:
            return
        with self.lock:
            known = self.entries.get(key)
            self.entries[key] = value
            start = key.startswith("br;") and known is None and key not in self.improved
            if start:
                self.improved.add(key)
        if start:
            threading.Thread(
                target=self._improve, args=(key, value), name="gridmap-brotli", daemon=True
            ).start()

    def _improve(self, key: str, value: bytes) -> None:
        better = brotli.compress(brotli.decompress(value), quality=BR_KEPT_LEVEL)
        with self.lock:
            if key in self.entries and len(better) < len(value):
                self.entries[key] = better


def _cache_headers(response: Response) -> Response:
    """``after_request``: fingerprinted assets are immutable for a year."""
    if response.status_code == 200 and fingerprinted(request):
        response.headers["Cache-Control"] = IMMUTABLE
    return response


#: plotly.js as the dashboard needs it: the official "map" partial bundle (scatter, the
#: MapLibre traces scattermap/choroplethmap/densitymap), 2.9 MB instead of the full 4.8 MB
#: (0.66 MB instead of 1.1 MB over brotli). Same version as the plotly package's full
#: bundle (a test checks); ``make vendor-plotly`` fetches it from npm.
PLOTLY_BUNDLE = ("gridmap", "web/vendor/plotly-map.min.js")


def register_plotly(app: Dash) -> None:
    """Let Dash serve :data:`PLOTLY_BUNDLE` as a component-suite file (fingerprinted, kept
    compressed) without a ``<script>`` tag: the graphs load it on demand."""
    namespace, path = PLOTLY_BUNDLE
    app.scripts.append_script(
        {"relative_package_path": path, "namespace": namespace, "dynamic": True}
    )


def plotly_url(app: Dash) -> str:
    """The fingerprinted URL of the plotly.js the graphs load (as Dash builds it)."""
    import gridmap

    namespace, path = PLOTLY_BUNDLE
    mtime = (Path(gridmap.__file__).parent / path).stat().st_mtime
    fingerprint = build_fingerprint(path, gridmap.__version__, int(mtime))
    prefix = app.config.requests_pathname_prefix
    return f"{prefix}_dash-component-suites/{namespace}/{fingerprint}"


def pinned_plotly_script(app: Dash) -> str:
    """A ``<script>`` making ``window._dashPlotlyJSURL`` (set by the Dash renderer to the
    full bundle's unfingerprinted URL) always read :func:`plotly_url`."""
    url = json.dumps(plotly_url(app))
    return (
        "<script>Object.defineProperty(window,'_dashPlotlyJSURL',"
        f"{{configurable:true,get:function(){{return {url}}},set:function(){{}}}});</script>"
    )


#: The mark of a view whose answers browsers may keep (:func:`kept_by_browsers`).
_KEPT = "gridmap_kept_by_browsers"


def kept_by_browsers(view: F) -> F:
    """Mark a signed-in view whose answers browsers keep (its URL names the version of its
    data): like static files, its responses carry no session cookie, whose every-second new
    value (and ``Vary: Cookie``) would void the kept copy."""
    setattr(view, _KEPT, True)
    return view


def without_session_on_static(interface: SessionInterface) -> SessionInterface:
    """``interface`` saving no session (no ``Set-Cookie``, no ``Vary: Cookie``) on the
    responses of static endpoints and of views :func:`kept_by_browsers`."""
    base = type(interface)

    class StaticWithoutSession(base):  # type: ignore[valid-type, misc]
        def save_session(self, app: Flask, session: Any, response: Response) -> None:
            view = app.view_functions.get(request.endpoint or "")
            if request.endpoint in STATIC_ENDPOINTS or getattr(view, _KEPT, False):
                return
            super().save_session(app, session, response)

    quiet = StaticWithoutSession.__new__(StaticWithoutSession)
    quiet.__dict__.update(interface.__dict__)
    return quiet


def set_up_before_serving(app: Dash) -> None:
    """Every request waits until Dash's own first-request setup has finished.

    Dash's ``_setup_server`` (a ``before_request`` hook) marks itself done as it starts,
    then registers the bundles it may serve; a second thread's request meanwhile skips it
    and asks for a bundle not yet registered (500). Here a hook just ahead of Dash's runs that
    setup once under a lock and lets requests through only once it has returned (Dash's
    hook then returns at once)."""
    lock = threading.Lock()
    done = threading.Event()

    def setup_once() -> None:
        if done.is_set():
            return
        with lock:
            if not done.is_set():
                app._setup_server()
                done.set()

    hooks = app.server.before_request_funcs.setdefault(None, [])
    at = hooks.index(app._setup_server) if app._setup_server in hooks else 0
    hooks.insert(at, setup_once)  # in Dash's place: after the sign-in guard, as Dash's was


def install(app: Dash, settings: Settings) -> None:
    """Compression and asset cache headers on ``app``'s server, as ``settings`` say."""
    server: Flask = app.server
    set_up_before_serving(app)
    if settings.compress:
        server.config.update(
            COMPRESS_MIMETYPES=COMPRESSED_TYPES,
            COMPRESS_ALGORITHM=["br", "gzip"],
            COMPRESS_ALGORITHM_STREAMING=["br", "deflate"],
            COMPRESS_BR_LEVEL=BR_LEVEL,
            COMPRESS_CACHE_KEY=_kept_key,
            COMPRESS_CACHE_BACKEND=KeptBundles,
        )
        Compress(server)
    register_plotly(app)
    app.index_string = app.index_string.replace("</head>", pinned_plotly_script(app) + "\n</head>")
    if settings.cache_assets:
        server.session_interface = without_session_on_static(server.session_interface)
        server.after_request(_cache_headers)
