"""The offline basemap style and the gunicorn options."""

from __future__ import annotations

import pytest

from gridmap.settings import get_settings
from gridmap.web.basemap import RASTER_SOURCE, basemap_style
from gridmap.web.server import GridmapServer, options


def test_style_is_offline_with_absolute_tile_urls() -> None:
    style = basemap_style("http://10.0.0.5:8050/")
    assert style["id"] == "gridmap-basemap"
    assert list(style["sources"]) == ["gridmap-roads"]
    assert style["sources"]["gridmap-roads"]["tiles"] == [
        "http://10.0.0.5:8050/tiles/roads/{z}/{x}/{y}.pbf"
    ]
    assert [layer["id"] for layer in style["layers"]] == [
        "background",
        "roads-minor",
        "roads-footway",
        "roads-major-casing",
        "roads-major",
    ]
    # Nothing that MapLibre would fetch from elsewhere: no glyphs, no sprites.
    assert "glyphs" not in style and "sprite" not in style
    assert "symbol" not in {layer["type"] for layer in style["layers"]}


def test_raster_tiles_go_under_the_roads() -> None:
    url = "http://tiles.intranet/{z}/{x}/{y}.png"
    style = basemap_style("http://h", url)
    assert style["sources"][RASTER_SOURCE] == {"type": "raster", "tiles": [url], "tileSize": 256}
    assert [layer["id"] for layer in style["layers"]][:3] == [
        "background",
        "raster-basemap",
        "roads-minor",
    ]
    assert style["id"] == "gridmap-basemap-raster"
    assert "raster-basemap" not in [layer["id"] for layer in basemap_style("http://h")["layers"]]


def test_gunicorn_options() -> None:
    opts = options("0.0.0.0", 9000, 0)
    assert opts["bind"] == "0.0.0.0:9000"
    assert opts["workers"] == 1
    assert (opts["worker_class"], opts["accesslog"], opts["timeout"]) == ("gthread", "-", 60)
    server = GridmapServer(opts)
    assert server.cfg.bind == ["0.0.0.0:9000"]
    assert server.cfg.threads == 4


def test_a_worker_freezes_the_loaded_app_out_of_the_collector(
    monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """After loading the app a worker calls gc.freeze (full collections no longer walk the
    app's long-lived objects mid-request)."""
    import gc

    monkeypatch.setenv("GRIDMAP_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        wsgi = GridmapServer(options("127.0.0.1", 9000, 1)).load()
        assert callable(wsgi) and gc.get_freeze_count() > 100_000
    finally:
        gc.unfreeze()
        get_settings.cache_clear()
