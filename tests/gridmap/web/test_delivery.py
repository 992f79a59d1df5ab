"""Compression and cache headers of the app's responses (gridmap.web.delivery), over the
Flask test client."""

from __future__ import annotations

import gzip
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest
from dash import Dash
from flask import Response
from flask.testing import FlaskClient

from gridmap.access.policy import Access, allow
from gridmap.settings import ASSETS_DIR, get_settings
from gridmap.web.app import create_app
from gridmap.web.delivery import IMMUTABLE, plotly_url

BR = {"Accept-Encoding": "gzip, deflate, br"}
#: A fingerprinted Dash bundle linked from every page.
RENDERER = re.compile(r'src="(/_dash-component-suites/dash/dash-renderer/[^"]+)"')
ROAD_TILE = "/tiles/roads/14/13655/6758.pbf"
PLOTLY = Path(__import__("gridmap").__file__).parent / "web" / "vendor" / "plotly-map.min.js"


def page(client: FlaskClient) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_fingerprinted_bundle_is_compressed_and_immutable(client: FlaskClient) -> None:
    url = RENDERER.search(page(client)).group(1)
    plain = client.get(url)
    assert "Content-Encoding" not in plain.headers
    response = client.get(url, headers=BR)
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "br"
    assert response.headers["Cache-Control"] == IMMUTABLE
    # no session on static files: a re-signed cookie would defeat the browser's cache
    assert response.headers["Vary"] == "Accept-Encoding"
    assert "Set-Cookie" not in response.headers
    assert brotli.decompress(response.data) == plain.data
    assert len(response.data) < len(plain.data) / 3
    only_gzip = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert only_gzip.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(only_gzip.data) == plain.data


def test_plotly_is_loaded_from_its_fingerprinted_url(app: Dash, client: FlaskClient) -> None:
    url = plotly_url(app)
    assert re.fullmatch(
        r"/_dash-component-suites/gridmap/web/vendor/plotly-map\.v[\w]+m\d+\.min\.js", url
    )
    # the renderer's unfingerprinted _dashPlotlyJSURL is pinned to it
    assert f'get:function(){{return "{url}"}}' in page(client)
    response = client.get(url, headers=BR)
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert brotli.decompress(response.data) == PLOTLY.read_bytes()
    assert len(response.data) < 800_000  # 2.9 MB plain (the full bundle: 4.8 MB, 1.1 MB br)


def test_the_map_bundle_is_the_plotly_packages_version() -> None:
    """Upgrading the plotly package needs ``make vendor-plotly`` (the same plotly.js)."""
    import plotly

    full = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    version = re.compile(rb"plotly\.js (?:\(map - minified\) )?(v[\d.]+)")
    assert version.search(PLOTLY.read_bytes()[:200]).group(1) == (
        version.search(full.read_bytes()[:200]).group(1)
    )


def test_own_assets_are_immutable_with_their_mtime_and_revalidated_without(
    client: FlaskClient,
) -> None:
    mtime = (ASSETS_DIR / "gridmap.css").stat().st_mtime
    assert f'href="/assets/gridmap.css?m={mtime}"' in page(client)  # Dash's cache buster
    fingerprinted = client.get(f"/assets/gridmap.css?m={mtime}", headers=BR)
    assert fingerprinted.headers["Cache-Control"] == IMMUTABLE
    assert fingerprinted.headers["Content-Encoding"] == "br"
    assert brotli.decompress(fingerprinted.data) == (ASSETS_DIR / "gridmap.css").read_bytes()
    plain = client.get("/assets/gridmap.css")
    assert plain.headers["Cache-Control"] == "no-cache"
    again = client.get("/assets/gridmap.css", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304  # a repeat visit only revalidates


def test_pages_are_not_compressed(client: FlaskClient) -> None:
    response = client.get("/", headers=BR)
    assert response.mimetype == "text/html"
    assert "Content-Encoding" not in response.headers


def test_tiles_are_compressed_and_still_revalidated(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the seeded city's tiles are tiny (73 bytes): lift the 500-byte floor for them
    monkeypatch.setitem(client.application.config, "COMPRESS_MIN_SIZE", 0)
    plain = client.get(ROAD_TILE)
    response = client.get(ROAD_TILE, headers=BR)
    assert response.headers["Content-Encoding"] == "br"
    assert brotli.decompress(response.data) == plain.data
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    etag = response.headers["ETag"]
    assert etag.endswith(':br"')
    again = client.get(ROAD_TILE, headers={**BR, "If-None-Match": etag})
    assert again.status_code == 304


def test_an_encoded_response_is_not_compressed_again(seeded_url: str) -> None:
    app = create_app(seeded_url)
    body = gzip.compress(b"x" * 10_000)

    @app.server.get("/pre-gzipped")
    @allow(Access.PUBLIC)
    def pre_gzipped() -> Response:
        response = Response(body, mimetype="application/json")
        response.headers["Content-Encoding"] = "gzip"
        return response

    response = app.server.test_client().get("/pre-gzipped", headers=BR)
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.data == body


@pytest.fixture
def naive_app(seeded_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dash]:
    monkeypatch.setenv("GRIDMAP_COMPRESS", "false")
    monkeypatch.setenv("GRIDMAP_CACHE_ASSETS", "false")
    get_settings.cache_clear()
    try:
        yield create_app(seeded_url)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_settings_turn_both_off(naive_app: Dash) -> None:
    client = naive_app.server.test_client()
    response = client.get(plotly_url(naive_app), headers=BR)
    assert "Content-Encoding" not in response.headers
    assert response.headers["Cache-Control"] == "max-age=31536000"  # Dash's own
    assert "_dashPlotlyJSURL" in naive_app.index_string  # the lighter bundle either way


def test_a_view_kept_by_browsers_answers_without_the_session(client: FlaskClient) -> None:
    """The wall's outlines (a signed-in URL naming its data's version) carry no re-signed
    session cookie, which would make the browser fetch them again on every visit; a page
    still refreshes the session."""
    url = "/wall/outlines.json?bbox=120.0,30.0,120.1,30.1&zoom=12&v=0"
    response = client.get(url, headers=BR)
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "br"
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert "Set-Cookie" in client.get("/").headers


@pytest.mark.parametrize("cache_assets", ["true", "false"])
def test_a_new_workers_first_burst_of_bundles_all_answer(
    seeded_url: str, monkeypatch: pytest.MonkeyPatch, cache_assets: str
) -> None:
    """A page's parallel bundle requests reaching a process first all get their bundle: Dash
    registers what it serves on the first request, and a second thread did not wait for it
    (500 "dash is not a registered library": a blank page in the browser benchmark)."""
    monkeypatch.setenv("GRIDMAP_CACHE_ASSETS", cache_assets)
    get_settings.cache_clear()
    try:
        fresh = create_app(seeded_url)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    walk = fresh._walk_assets_directory

    def slow_walk() -> None:  # the setup takes a while, as in a loaded worker
        time.sleep(0.5)
        walk()

    monkeypatch.setattr(fresh, "_walk_assets_directory", slow_walk)
    bundles = [f"/_dash-component-suites/dash/deps/{name}" for name in (
        "polyfill@7.12.1.min.js", "react@18.3.1.min.js", "react-dom@18.3.1.min.js",
        "prop-types@15.8.1.min.js",
    )]  # fmt: skip
    statuses: list[int] = []

    def get(url: str) -> None:
        statuses.append(fresh.server.test_client().get(url).status_code)

    threads = [threading.Thread(target=get, args=(url,)) for url in bundles]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * len(bundles)
