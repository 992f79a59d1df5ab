"""Import water, parks and green space, roads (with their names) and building footprints
from an OpenStreetMap extract (``.osm.pbf`` or ``.osm`` XML) into ``basemap_features``.

The file is read with GDAL's OSM driver (through pyogrio) layer by layer, keeping only the
tagged ways and areas the basemap draws; waterway lines become polygons (buffered by a
width per kind). The whole import is one transaction that first deletes the earlier OSM
rows: a file that cannot be read, or holds nothing for the basemap, changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyogrio
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Engine

from gridmap.errors import GridmapError

#: highway=* → the road kinds of the basemap (and of road_edges).
ROAD_KINDS: dict[str, str] = {
    **dict.fromkeys(("motorway", "trunk", "primary", "motorway_link", "trunk_link",
                     "primary_link"), "primary"),
    **dict.fromkeys(("secondary", "tertiary", "secondary_link", "tertiary_link"), "secondary"),
    **dict.fromkeys(("residential", "unclassified", "living_street", "road"), "residential"),
    **dict.fromkeys(("service", "pedestrian", "track"), "alley"),
    **dict.fromkeys(("footway", "path", "cycleway", "steps", "bridleway"), "footway"),
}  # fmt: skip
#: waterway=* lines drawn as water, and their width in metres.
WATERWAY_WIDTHS: dict[str, float] = {"river": 30.0, "canal": 12.0, "stream": 4.0, "drain": 3.0}
#: Areas that are water: natural=water, landuse=reservoir/basin, waterway=riverbank/dock.
WATER_AREAS = {"natural": ("water", "bay"), "landuse": ("reservoir", "basin"),
               "waterway": ("riverbank", "dock")}  # fmt: skip
#: Areas that are parks or green space (leisure=*, landuse=*, natural=*).
PARK_AREAS = {
    "leisure": ("park", "garden", "playground", "nature_reserve", "recreation_ground",
                "pitch", "golf_course", "common"),
    "landuse": ("grass", "forest", "meadow", "recreation_ground", "village_green", "cemetery",
                "orchard"),
    "natural": ("wood", "scrub", "grassland"),
}  # fmt: skip
#: Rows per INSERT (one transaction for them all).
BATCH = 20_000


class OsmImportError(GridmapError):
    """An OpenStreetMap file cannot be imported (nothing was changed)."""

    http_status = 400


@dataclass(frozen=True)
class OsmReport:
    """Rows imported per kind (water, park, road, building)."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _tags(other: object) -> dict[str, str]:
    """GDAL's ``other_tags`` ('"k"=>"v","k2"=>"v2"') as a dict."""
    if not isinstance(other, str) or not other:
        return {}
    out = {}
    for part in other.split('","'):
        key, sep, value = part.strip('"').partition('"=>"')
        if sep:
            out[key] = value
    return out


def _read(path: Path, layer: str, columns: list[str]) -> pd.DataFrame:
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, columns=columns)
    except Exception as exc:  # pyogrio/GDAL raise several families for one bad file
        raise OsmImportError(
            f"{path.name} cannot be read as OpenStreetMap data ({layer}): {exc}",
            hint="give an .osm.pbf or .osm (XML) extract, e.g. from a Geofabrik download",
        ) from exc
    return pd.DataFrame(frame)


def _value(row: pd.Series, key: str, tags: dict[str, str]) -> str | None:
    value = row.get(key)
    if isinstance(value, str) and value:
        return value
    return tags.get(key) or None


def read_osm(path: Path) -> pd.DataFrame:
    """The basemap features of an OSM file: kind, class, name, width (m, for waterway
    lines; 0 otherwise) and geometry (lon/lat)."""
    if not path.is_file():
        raise OsmImportError(f"No such file: {path}")
    if not (path.name.endswith((".osm.pbf", ".pbf", ".osm", ".osm.xml"))):
        raise OsmImportError(
            f"{path.name} is not an OpenStreetMap file",
            hint="the file name ends in .osm.pbf or .osm",
        )
    rows: list[tuple[str, str, str | None, float, shapely.Geometry]] = []
    lines = _read(path, "lines", ["name", "highway", "waterway", "other_tags"])
    for _, row in lines.iterrows():
        highway, waterway = row.get("highway"), row.get("waterway")
        if highway in ROAD_KINDS:
            rows.append(("road", ROAD_KINDS[highway], row["name"], 0.0, row["geometry"]))
        elif waterway in WATERWAY_WIDTHS:
            width = WATERWAY_WIDTHS[waterway]
            rows.append(("water", waterway, row["name"], width, row["geometry"]))
    keys = ["name", "building", "landuse", "leisure", "natural", "other_tags"]
    areas = _read(path, "multipolygons", keys)
    for _, row in areas.iterrows():
        tags = _tags(row.get("other_tags"))
        kind = cls = None
        for key, values in WATER_AREAS.items():
            if _value(row, key, tags) in values:
                kind, cls = "water", tags.get("water") or _value(row, key, tags)
        if kind is None:
            for key, values in PARK_AREAS.items():
                if _value(row, key, tags) in values:
                    kind, cls = "park", _value(row, key, tags)
                    break
        if kind is None and _value(row, "building", tags) not in (None, "no"):
            kind, cls = "building", _value(row, "building", tags)
        if kind is not None:
            rows.append((kind, cls or "", row["name"], 0.0, row["geometry"]))
    rows = [r for r in rows if r[4] is not None and not r[4].is_empty]
    if not rows:
        raise OsmImportError(
            f"{path.name} holds no water, parks, roads or buildings: nothing imported"
        )
    frame = pd.DataFrame(rows, columns=["kind", "class", "name", "width", "geometry"])
    frame["name"] = pd.Series(
        [v if isinstance(v, str) and v else None for v in frame["name"]], dtype=object
    )
    return frame


INSERT = text("""
    INSERT INTO basemap_features (kind, class, name, source, geom)
    SELECT t.kind, t.class, nullif(t.name, ''), 'osm', g.geom
    FROM unnest(CAST(:kinds AS text[]), CAST(:classes AS text[]), CAST(:names AS text[]),
                CAST(:widths AS float8[]), CAST(:wkbs AS text[]))
         AS t(kind, class, name, width, wkb),
    LATERAL (SELECT ST_GeomFromWKB(decode(t.wkb, 'hex'), 4326) AS raw) r,
    LATERAL (
        SELECT CASE
            WHEN t.kind = 'road' THEN ST_CollectionExtract(ST_MakeValid(r.raw), 2)
            WHEN t.width > 0 THEN ST_Buffer(r.raw::geography, t.width / 2, 'quad_segs=2')::geometry
            ELSE ST_CollectionExtract(ST_MakeValid(r.raw), 3)
        END AS geom
    ) g
    WHERE NOT ST_IsEmpty(g.geom) AND gridmap_in_lonlat(g.geom)
""")


def import_osm(
    engine: Engine, path: Path, progress: Callable[[int, int], None] | None = None
) -> OsmReport:
    """Replace the OSM rows of ``basemap_features`` with the features of ``path``, all or
    nothing."""
    return write_features(engine, read_osm(path), progress)


def write_features(
    engine: Engine, frame: pd.DataFrame, progress: Callable[[int, int], None] | None = None
) -> OsmReport:
    """Replace the OSM rows of ``basemap_features`` with ``frame`` (from :func:`read_osm`)
    in one transaction. ``progress(done, total)`` is called after each batch of rows."""
    wkb = shapely.to_wkb(frame["geometry"].to_numpy(), hex=True)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM basemap_features WHERE source = 'osm'"))
        for start in range(0, len(frame), BATCH):
            part = frame.iloc[start : start + BATCH]
            conn.execute(
                INSERT,
                {
                    "kinds": part["kind"].tolist(),
                    "classes": part["class"].tolist(),
                    "names": part["name"].tolist(),
                    "widths": part["width"].tolist(),
                    "wkbs": wkb[start : start + BATCH].tolist(),
                },
            )
            if progress:
                progress(min(start + BATCH, len(frame)), len(frame))
        counts = dict(
            conn.execute(
                text(
                    "SELECT kind, count(*) FROM basemap_features WHERE source = 'osm' "
                    "GROUP BY kind ORDER BY kind"
                )
            ).all()
        )
    return OsmReport({k: int(v) for k, v in counts.items()})
