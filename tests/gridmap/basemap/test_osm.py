"""Importing an OpenStreetMap extract into the offline basemap: a tiny .osm file written
here (no network), all or nothing, and what the basemap tiles then hold."""

from __future__ import annotations

from pathlib import Path

import mapbox_vector_tile
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from gridmap.basemap.osm import OsmImportError, import_osm, read_osm
from gridmap.cli import main
from gridmap.db.engine import get_engine

#: Nodes on a 0.002° lattice around (120.00 E, 30.00 N): id → (lon, lat).
NODES = {
    1: (120.000, 30.000), 2: (120.004, 30.000), 3: (120.004, 30.004), 4: (120.000, 30.004),
    5: (120.001, 30.001), 6: (120.003, 30.001), 7: (120.003, 30.003), 8: (120.001, 30.003),
    9: (119.990, 29.998), 10: (120.010, 29.998),
    11: (120.0032, 30.0002), 12: (120.0034, 30.0002), 13: (120.0034, 30.0004),
    14: (120.0032, 30.0004), 15: (119.990, 30.002), 16: (120.010, 30.002),
}  # fmt: skip


def way(way_id: int, refs: list[int], **tags: str) -> str:
    nds = "".join(f'<nd ref="{r}"/>' for r in refs)
    kvs = "".join(f'<tag k="{k.replace("__", ":")}" v="{v}"/>' for k, v in tags.items())
    return f'<way id="{way_id}" version="1">{nds}{kvs}</way>'


def osm_xml() -> str:
    nodes = "".join(
        f'<node id="{i}" version="1" lat="{lat}" lon="{lon}"/>' for i, (lon, lat) in NODES.items()
    )
    ways = [
        way(100, [1, 2, 3, 4, 1], leisure="park", name="人民公园"),
        way(101, [5, 6, 7, 8, 5], natural="water", water="lake", name="镜湖"),
        way(102, [9, 10], waterway="river", name="秦淮河"),
        way(103, [15, 16], highway="primary", name="中山路"),
        way(104, [1, 3], highway="residential", name="文昌巷"),
        way(105, [11, 12, 13, 14, 11], building="yes"),
        way(106, [2, 4], highway="bus_stop"),  # not a road the basemap draws
    ]
    return f'<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">{nodes}{"".join(ways)}</osm>'


@pytest.fixture
def osm_file(tmp_path: Path) -> Path:
    path = tmp_path / "town.osm"
    path.write_text(osm_xml(), encoding="utf-8")
    return path


def rows(url: str) -> list[tuple[str, str, str | None, str]]:
    with get_engine(url).connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT kind, class, name, GeometryType(geom) FROM basemap_features "
                    "WHERE source = 'osm' ORDER BY kind, class"
                )
            )
        ]


EXPECTED = [
    ("building", "yes", None, "MULTIPOLYGON"),
    ("park", "park", "人民公园", "MULTIPOLYGON"),
    ("road", "primary", "中山路", "LINESTRING"),
    ("road", "residential", "文昌巷", "LINESTRING"),
    ("water", "lake", "镜湖", "MULTIPOLYGON"),
    ("water", "river", "秦淮河", "POLYGON"),
]


def test_read_osm_classifies_the_ways(osm_file: Path) -> None:
    frame = read_osm(osm_file)
    got = sorted(zip(frame["kind"], frame["class"], frame["name"].fillna(""), strict=True))
    assert got == [
        ("building", "yes", ""), ("park", "park", "人民公园"), ("road", "primary", "中山路"),
        ("road", "residential", "文昌巷"), ("water", "lake", "镜湖"), ("water", "river", "秦淮河"),
    ]  # fmt: skip
    assert frame.loc[frame["name"] == "秦淮河", "width"].tolist() == [30.0]


def test_import_then_a_malformed_file_changes_nothing(
    fresh_url: str, osm_file: Path, tmp_path: Path
) -> None:
    report = import_osm(get_engine(fresh_url), osm_file)
    assert report.counts == {"building": 1, "park": 1, "road": 2, "water": 2}
    assert rows(fresh_url) == EXPECTED
    # A river of 30 m: the buffered line is about 30 m wide over its 1.9 km.
    with get_engine(fresh_url).connect() as conn:
        area = conn.execute(
            text("SELECT ST_Area(geom::geography) FROM basemap_features WHERE name = '秦淮河'")
        ).scalar_one()
    assert 1.9e3 * 30 * 0.95 < area < 1.95e3 * 30 * 1.05
    # A truncated file: an error naming it, and the earlier import stays whole.
    broken = tmp_path / "broken.osm"
    broken.write_text(osm_xml()[:700], encoding="utf-8")
    with pytest.raises(OsmImportError, match=r"broken\.osm cannot be read"):
        import_osm(get_engine(fresh_url), broken)
    assert rows(fresh_url) == EXPECTED
    # A file with nothing the basemap draws.
    empty = tmp_path / "empty.osm"
    empty.write_text('<?xml version="1.0"?><osm version="0.6"></osm>', encoding="utf-8")
    with pytest.raises(OsmImportError, match="holds no water, parks, roads or buildings"):
        import_osm(get_engine(fresh_url), empty)
    assert rows(fresh_url) == EXPECTED
    # Importing again replaces the OSM rows (no duplicates).
    import_osm(get_engine(fresh_url), osm_file)
    assert rows(fresh_url) == EXPECTED


def test_imported_features_are_in_the_basemap_tiles(fresh_url: str, osm_file: Path) -> None:
    import_osm(get_engine(fresh_url), osm_file)
    with get_engine(fresh_url).connect() as conn:
        z16 = conn.execute(text("SELECT gridmap_tile_basemap(16, 54613, 27038)")).scalar_one()
        z11 = conn.execute(text("SELECT gridmap_tile_basemap(11, 1706, 844)")).scalar_one()
    tile = mapbox_vector_tile.decode(bytes(z16))
    assert sorted(tile) == ["buildings", "parks", "roads", "water"]
    assert sorted(f["properties"]["name"] for f in tile["roads"]["features"]) == [
        "中山路",
        "文昌巷",
    ]
    assert sorted(f["properties"]["name"] for f in tile["water"]["features"]) == ["秦淮河", "镜湖"]
    assert len(tile["buildings"]["features"]) == 1
    # At zoom 11: no buildings (from 15), no residential roads (from 13), no road names
    # (from 13); parks from 11.
    tile = mapbox_vector_tile.decode(bytes(z11))
    assert sorted(tile) == ["parks", "roads", "water"]
    assert [f["properties"] for f in tile["roads"]["features"]] == [{"kind": "primary"}]


def test_cli(fresh_url: str, osm_file: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", fresh_url)
    from gridmap.settings import get_settings

    get_settings.cache_clear()
    try:
        ok = CliRunner().invoke(main, ["basemap", "import-osm", str(osm_file)])
        assert ok.exit_code == 0, ok.output
        assert ok.output.splitlines()[-1] == (
            "imported 6 basemap features: building 1, park 1, road 2, water 2"
        )
        bad = tmp_path / "notes.txt"
        bad.write_text("hello", encoding="utf-8")
        failed = CliRunner().invoke(main, ["basemap", "import-osm", str(bad)])
        assert failed.exit_code != 0
        assert "notes.txt is not an OpenStreetMap file" in failed.output
        assert "Traceback" not in failed.output
    finally:
        get_settings.cache_clear()
