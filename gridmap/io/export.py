"""Layer exports: any registered layer to GeoPackage, GeoJSON, Shapefile (zipped) or CSV.

Every file is written from the layer's ``export(ctx)`` frame, so the current filters (bbox,
time window, ``filters``) and the user's access rules (``ctx.user``, row-level security in
:func:`layers.base.read_frame`) mean what they mean on the map. One GeoPackage holds one
table per layer; GeoJSON and CSV of several layers, and every Shapefile, come as a zip with
one file (set) per layer. Print maps (PNG, PDF) are :mod:`gridmap.io.printmap`'s.

An export may name an area (``area``: ids of districts, streets, communities, compounds or
grids). It is resolved once (:func:`resolve_area`) into an :class:`~layers.params.AreaFilter`
handed through the layer context, and every layer's frame is cut by the same rule
(:func:`in_area`): by its ``grid_id`` where it has one, by its ``compound_id`` for a compound,
else by where it lies. A grid-scoped reader's exports are cut to its own grids the same way,
so tables without row-level security (cameras, service points) are limited too. Point
features carry the compound (小区) they lie in (:func:`with_compounds`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import Engine, text

from gridmap.access.scope import unscoped
from gridmap.cases.filters import case_timezone
from gridmap.db.frames import read_geoframe
from gridmap.errors import GridmapError
from layers import LayerContext, get_layer
from layers.base import BBox
from layers.params import AreaFilter, AreaPart, from_filters

#: File formats of layer data, and of print maps.
DATA_FORMATS = ("gpkg", "geojson", "shp", "csv")
PRINT_FORMATS = ("png", "pdf")
FORMATS = DATA_FORMATS + PRINT_FORMATS
PAPERS = ("A4", "A3")
ORIENTATIONS = ("landscape", "portrait")
CSV_GEOMETRY = ("auto", "wkt", "lonlat")
#: Filters whose value is a list of slugs (``--filter statuses=reported,accepted``).
LIST_FILTERS = frozenset({"categories", "statuses", "sources"})
#: Rows written per chunk (progress is reported between chunks).
CHUNK_ROWS = 50_000

DRIVERS = {"gpkg": "GPKG", "geojson": "GeoJSON", "shp": "ESRI Shapefile"}
MEDIA_TYPES = {
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "csv": "text/csv",
    "zip": "application/zip",
    "png": "image/png",
    "pdf": "application/pdf",
}

#: ``progress(fraction 0..1, what is happening)``.
Progress = Callable[[float, str], None]


class ExportError(GridmapError):
    """An export was asked for with bad options, or could not be written."""

    http_status = 400


def _quiet(_fraction: float, _message: str) -> None:
    return None


def local_stamp(stamp: datetime | None = None) -> datetime:
    """``stamp`` (None: now; naive: UTC) in the case time zone, as files and prints show it."""
    stamp = stamp or datetime.now(UTC)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(ZoneInfo(case_timezone()))


@dataclass(frozen=True)
class ExportRequest:
    """What to export: layers, format, the view's filters and (print maps) the paper."""

    layers: tuple[str, ...]
    format: str
    bbox: BBox | None = None
    filters: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    time_from: datetime | None = None
    time_to: datetime | None = None
    language: str = "zh-CN"
    paper: str = "A4"
    orientation: str = "landscape"
    title: str | None = None
    csv_geometry: Literal["auto", "wkt", "lonlat"] = "auto"
    #: Only the features inside these areas: level (``districts``, ``streets``,
    #: ``communities``, ``compounds``, ``grids``) → ids; empty: everywhere.
    area: Mapping[str, tuple[int, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        """Check every option through the API's model (one checker for every door) and
        keep the values as it normalises them (repeated layers once, naive times in the
        case time zone, empty filters dropped)."""
        from gridmap.api.export_schemas import ExportIn

        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["layers"] = list(self.layers) if isinstance(self.layers, tuple) else self.layers
        data["bbox"] = list(self.bbox) if isinstance(self.bbox, tuple) else self.bbox
        data["filters"] = dict(self.filters or {}) or None
        area = dict(self.area or {}) if isinstance(self.area, Mapping) else self.area
        if isinstance(area, dict):  # (tuples as the model's lists; anything else it refuses)
            area = {k: list(v) if isinstance(v, tuple) else v for k, v in area.items()}
        data["area"] = area or None
        checked = _checked(ExportIn, data)
        for name in self.__dataclass_fields__:
            value = getattr(checked, name)
            if name == "layers" or (name == "bbox" and value is not None):
                value = tuple(value)
            elif name == "filters":
                value = MappingProxyType(value.model_dump(exclude_none=True) if value else {})
            elif name == "area":
                found = value.model_dump(exclude_none=True) if value else {}
                value = MappingProxyType({k: tuple(v) for k, v in found.items() if v})
            object.__setattr__(self, name, value)

    @property
    def is_print(self) -> bool:
        return self.format in PRINT_FORMATS

    @property
    def suffix(self) -> str:
        """File suffix of the result (``zip`` for Shapefiles and multi-layer GeoJSON/CSV)."""
        if self.format == "shp" or (self.format in ("geojson", "csv") and len(self.layers) > 1):
            return "zip"
        return self.format

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.suffix]

    def file_name(self, stamp: datetime | None = None) -> str:
        """A download name like ``gridmap_grids_20261122-0930.gpkg``, stamped in the case
        time zone (a naive ``stamp`` is taken as UTC; None: now)."""
        when = local_stamp(stamp).strftime("%Y%m%d-%H%M")
        return f"gridmap_{'+'.join(self.layers)}_{when}.{self.suffix}"

    def context(self, engine: Engine, user: Any = None) -> LayerContext:
        """The layer context these options mean, read on behalf of ``user`` (the flat
        filters and time window as the layers' typed parameters, the area resolved once
        into an :class:`~layers.params.AreaFilter`; the bbox narrowed to the area's box,
        so the layers read no more than it). Unknown area ids raise ExportError."""
        area = resolve_area(engine, self.area, user)
        return LayerContext(
            engine=engine,
            bbox=narrowed(self.bbox, area),
            params=(*from_filters(self.filters, self.time_from, self.time_to), area),
            user=user,
            language=self.language,
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-safe options (stored with a background job)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["layers"] = list(self.layers)
        data["filters"] = dict(self.filters)
        data["area"] = {k: list(v) for k, v in self.area.items()}
        data["bbox"] = list(self.bbox) if self.bbox else None
        for key in ("time_from", "time_to"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_json(cls, data: Any) -> ExportRequest:
        """Options from JSON (an API body, a stored job); bad values raise ExportError."""
        from gridmap.api.export_schemas import ExportIn

        if not isinstance(data, Mapping):
            raise ExportError("Export options must be a JSON object.")
        checked = _checked(ExportIn, dict(data))
        return cls(**{name: getattr(checked, name) for name in cls.__dataclass_fields__})


def _checked(model: Any, data: dict[str, Any]) -> Any:
    """``data`` as ``model``, or an ExportError naming every problem."""
    from gridmap.api.contract import check

    found, problems = check(model, data)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ExportError(f"{first.field}: {first.message}{more}")
    return found


def parse_filters(pairs: Sequence[str]) -> dict[str, Any]:
    """``k=v`` pairs (CLI ``--filter``) as layer filters: lists for list filters or values
    with commas, numbers where they parse, text otherwise."""
    filters: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ExportError(f"Filter {pair!r} is not name=value.")
        if value.strip().lower() in ("true", "false"):
            filters[key] = value.strip().lower() == "true"
            continue
        if key in LIST_FILTERS or "," in value:
            filters[key] = [v.strip() for v in value.split(",") if v.strip()]
            continue
        try:
            filters[key] = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            filters[key] = value
    return filters


def parse_area(pairs: Sequence[str]) -> dict[str, list[int]]:
    """``level:id,id`` pairs (CLI ``--area street:3``) as an export's area: level (singular
    or plural) → ids."""
    nouns = {noun: level for level, (_, noun) in AREA_TABLES.items()}
    area: dict[str, list[int]] = {}
    for pair in pairs:
        noun, sep, ids = pair.partition(":")
        noun = noun.strip().lower()
        level = noun if noun in AREA_TABLES else nouns.get(noun)
        if not sep or level is None:
            raise ExportError(
                f"Area {pair!r} is not level:ids (levels: {', '.join(nouns)}), e.g. street:3."
            )
        try:
            found = [int(i) for i in ids.split(",") if i.strip()]
        except ValueError:
            raise ExportError(f"Area {pair!r}: ids are whole numbers, e.g. street:3,4.") from None
        if not found:
            raise ExportError(f"Area {pair!r} names no ids, e.g. street:3.")
        area.setdefault(level, []).extend(found)
    return area


def parse_bbox(text: str | None) -> BBox | None:
    """``minlon,minlat,maxlon,maxlat`` as a bbox (None for None or empty)."""
    if not text:
        return None
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ExportError(f"Bounding box {text!r} is not four numbers.") from None
    if len(values) != 4:
        raise ExportError(f"Bounding box {text!r} needs four numbers: minlon,minlat,maxlon,maxlat.")
    return values  # type: ignore[return-value]


# -- areas -----------------------------------------------------------------------------------

#: Per area level: its table and its name in messages.
AREA_TABLES = {
    "districts": ("districts", "district"),
    "streets": ("streets", "street"),
    "communities": ("communities", "community"),
    "compounds": ("compounds", "compound"),
    "grids": ("grids", "grid"),
}
_AREA_GRIDS_SQL = text(
    """
    SELECT coalesce(array_agg(g.id ORDER BY g.id), '{}'::integer[]),
           ST_AsBinary(ST_Union(g.geom))
    FROM grids g JOIN communities c ON c.id = g.community_id
    JOIN streets s ON s.id = c.street_id
    WHERE g.id = ANY(:grids) OR c.id = ANY(:communities) OR s.id = ANY(:streets)
       OR s.district_id = ANY(:districts)
    """
)
_GRID_SHAPE_SQL = text("SELECT ST_AsBinary(ST_Union(geom)) FROM grids WHERE id = ANY(:ids)")
_COMPOUND_SHAPE_SQL = text("SELECT ST_AsBinary(ST_Union(geom)) FROM compounds WHERE id = ANY(:ids)")
_COMPOUNDS_SQL = text(
    "SELECT id AS compound_id, name AS compound, geom FROM compounds "
    "WHERE geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)"
)


def _shape(wkb: bytes | None) -> Any:
    geometry = shapely.from_wkb(bytes(wkb)) if wkb is not None else shapely.Polygon()
    shapely.prepare(geometry)
    return geometry


def resolve_area(engine: Engine, area: Mapping[str, Sequence[int]], user: Any = None) -> AreaFilter:
    """The :class:`AreaFilter` of an export by ``user``: the area asked for (levels →
    ids; each id must exist, else ExportError naming the unknown ones) as grid ids and
    shapes, and, for a grid-scoped reader (grid lead, area-scoped command centre), its
    own grids as a second condition: tables without row-level security (cameras,
    service points) are limited to them too, and another area's ids give nothing.
    Read with the app's own login (existence is not a secret; what is written is)."""
    parts: list[AreaPart] = []
    asked = {level: list(area.get(level) or ()) for level in AREA_TABLES}
    with unscoped(), engine.connect() as conn:
        if any(asked.values()):
            missing = []
            for level, (table, noun) in AREA_TABLES.items():
                if not asked[level]:
                    continue
                known = set(
                    conn.execute(
                        text(f"SELECT id FROM {table} WHERE id = ANY(:ids)"), {"ids": asked[level]}
                    ).scalars()
                )
                unknown = [i for i in asked[level] if i not in known]
                if unknown:
                    missing.append(f"{noun} {', '.join(map(str, unknown))}")
            if missing:
                raise ExportError(f"area: no such {'; no such '.join(missing)}.")
            grid_ids, grid_wkb = None, None
            if any(asked[level] for level in ("districts", "streets", "communities", "grids")):
                ids, grid_wkb = conn.execute(_AREA_GRIDS_SQL, asked).one()
                grid_ids = frozenset(ids)
            compound_ids, compound_wkb = None, None
            if asked["compounds"]:
                compound_ids = frozenset(asked["compounds"])
                compound_wkb = conn.execute(
                    _COMPOUND_SHAPE_SQL, {"ids": asked["compounds"]}
                ).scalar_one()
            parts.append(
                AreaPart(
                    grid_ids=grid_ids,
                    compound_ids=compound_ids,
                    grid_shape=None if grid_ids is None else _shape(grid_wkb),
                    compound_shape=None if compound_ids is None else _shape(compound_wkb),
                )
            )
        if user is not None and getattr(user, "grid_scoped", False):
            own = sorted(user.grid_ids)
            wkb = conn.execute(_GRID_SHAPE_SQL, {"ids": own}).scalar_one()
            parts.append(AreaPart(grid_ids=frozenset(own), grid_shape=_shape(wkb)))
    return AreaFilter(tuple(parts))


def narrowed(bbox: BBox | None, area: AreaFilter) -> BBox | None:
    """``bbox`` cut to the box around every part of ``area`` (a degenerate box far from any
    data when they do not meet: the layers then read nothing)."""
    boxes = [b for b in (part.bounds for part in area.parts)]
    if not area.parts:
        return bbox
    if bbox is not None:
        boxes.append(bbox)
    if any(b is None for b in boxes):
        return (0.0, 0.0, 0.0, 0.0)
    minx, miny = max(b[0] for b in boxes), max(b[1] for b in boxes)
    maxx, maxy = min(b[2] for b in boxes), min(b[3] for b in boxes)
    if minx > maxx or miny > maxy:
        return (0.0, 0.0, 0.0, 0.0)
    return (minx, miny, maxx, maxy)


def _inside(frame: gpd.GeoDataFrame, ids: frozenset[int], column: str, shape: Any) -> np.ndarray:
    """Rows of ``frame`` in ``ids`` (by ``column``), else by geometry: a point in ``shape``
    (its edge included), any other geometry sharing some of its inside."""
    if column in frame.columns:
        return frame[column].isin(list(ids)).fillna(False).to_numpy(dtype=bool)
    geoms = frame.geometry.values
    points = shapely.get_type_id(geoms) == 0
    meets = shapely.intersects(geoms, shape)
    return meets & (points | ~shapely.touches(geoms, shape))


def in_area(frame: gpd.GeoDataFrame, area: AreaFilter) -> gpd.GeoDataFrame:
    """The rows of ``frame`` inside every part of ``area``: by grid (``grid_id``), by
    compound (``compound_id``), else by where they lie."""
    if not area.parts or frame.empty:
        return frame
    keep = np.ones(len(frame), dtype=bool)
    for part in area.parts:
        here = np.zeros(len(frame), dtype=bool)
        if part.grid_ids is not None:
            here |= _inside(frame, part.grid_ids, "grid_id", part.grid_shape)
        if part.compound_ids is not None:
            here |= _inside(frame, part.compound_ids, "compound_id", part.compound_shape)
        keep &= here
    out = frame[keep].copy()
    out.attrs = dict(frame.attrs)
    return out


def with_compounds(ctx: LayerContext, frame: gpd.GeoDataFrame, layer_id: str) -> gpd.GeoDataFrame:
    """A point layer's frame (buildings, the overdue-visits buildings, cameras …) with the
    compound (小区) each feature lies in: ``compound_id`` and its name ``compound`` (empty
    outside any). Other layers, and frames that have them, as they are."""
    if "compound_id" in frame.columns or _geometry_type(frame, layer_id) not in (
        "Point",
        "MultiPoint",
    ):
        return frame
    out = frame.copy()
    out["compound_id"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    out["compound"] = pd.Series(pd.NA, index=out.index, dtype="string")
    if not out.empty:
        box = (float(v) for v in out.total_bounds)
        bounds = dict(zip(("minx", "miny", "maxx", "maxy"), box, strict=True))
        with unscoped(), ctx.engine.connect() as conn:
            compounds = read_geoframe(conn, _COMPOUNDS_SQL, bounds)
        if not compounds.empty:
            where, which = compounds.sindex.query(out.geometry.values, predicate="intersects")
            first = pd.Series(which, index=where).groupby(level=0).min()  # (one per feature)
            rows = out.index[first.index.to_numpy()]
            out.loc[rows, "compound_id"] = compounds["compound_id"].to_numpy()[first.to_numpy()]
            out.loc[rows, "compound"] = compounds["compound"].to_numpy()[first.to_numpy()]
    out.attrs = dict(frame.attrs)
    return out


# -- frames ----------------------------------------------------------------------------------


def layer_frame(ctx: LayerContext, layer_id: str) -> gpd.GeoDataFrame:
    """The layer's export frame in ``ctx`` (EPSG:4326, geometry column ``geom``): point
    layers with the compound of each feature, only the features inside ``ctx``'s
    :class:`AreaFilter` (the same rule for every layer: by grid, by compound, by place)."""
    frame = get_layer(layer_id).export(ctx)
    if frame.crs is None:
        frame = frame.set_crs(4326)
    frame = with_compounds(ctx, frame, layer_id)
    return in_area(frame, ctx.param(AreaFilter))


def _text(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def file_frame(frame: gpd.GeoDataFrame, fmt: str) -> gpd.GeoDataFrame:
    """The frame as the format stores it: mixed or JSON columns as text; for Shapefiles,
    date-times as ISO text and names cut to 10 characters (see :func:`shapefile_names`)."""
    out = frame.copy()
    geometry = out.geometry.name
    for column in out.columns:
        if column == geometry:
            continue
        series = out[column]
        if series.dtype == object:
            inferred = series.infer_objects()
            out[column] = (
                inferred if inferred.dtype != object else series.map(_text).astype("string")
            )
        elif fmt == "shp" and isinstance(
            series.dtype, pd.DatetimeTZDtype | np.dtypes.DateTime64DType
        ):
            out[column] = series.map(lambda v: None if pd.isna(v) else v.isoformat()).astype(
                "string"
            )
    if fmt == "shp":
        out = out.rename(columns=shapefile_names([c for c in out.columns if c != geometry]))
    out.attrs = {}
    return out


def shapefile_names(columns: Sequence[str]) -> dict[str, str]:
    """Column names cut to the Shapefile limit of 10 characters, kept unique (``name_1``)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        name = column[:10]
        n = 1
        while name.lower() in taken:
            tail = f"_{n}"
            name, n = column[: 10 - len(tail)] + tail, n + 1
        taken.add(name.lower())
        names[column] = name
    return names


def _geometry_type(frame: gpd.GeoDataFrame, layer_id: str) -> str:
    """The single geometry type of a layer's file (from its legend when the frame is empty)."""
    types = set(frame.geometry.dropna().geom_type)
    if len(types) == 1:
        return types.pop()
    if types <= {"Polygon", "MultiPolygon"} and types:
        return "MultiPolygon"
    if types <= {"LineString", "MultiLineString"} and types:
        return "MultiLineString"
    if types <= {"Point", "MultiPoint"} and types:
        return "MultiPoint"
    if types:
        return "Unknown"
    legend = get_layer(layer_id).legend("en")
    if any(entry.shape == "circle" for entry in legend):  # point layers (aggregated: fills)
        return "Point"
    # the first entry is what the features draw (patrol coverage: streets, then grid fills)
    return "MultiPolygon" if legend and legend[0].shape == "fill" else "MultiLineString"


def csv_frame(frame: gpd.GeoDataFrame, geometry: str = "auto") -> pd.DataFrame:
    """A plain table for CSV: ``lon``/``lat`` columns for points (``auto`` or ``lonlat``),
    else a ``wkt`` column at full precision; date-times as ISO text."""
    geom = frame.geometry
    types = set(geom.dropna().geom_type)
    points = types <= {"Point"}
    if geometry == "lonlat" and not points:
        raise ExportError("Only point layers can be written with lon/lat columns; use WKT.")
    table = pd.DataFrame(file_frame(frame, "csv").drop(columns=geom.name))
    for column in table.columns:
        if isinstance(table[column].dtype, pd.DatetimeTZDtype | np.dtypes.DateTime64DType):
            table[column] = table[column].map(lambda v: None if pd.isna(v) else v.isoformat())
    if points and geometry in ("auto", "lonlat"):
        table["lon"] = shapely.get_x(geom.values)
        table["lat"] = shapely.get_y(geom.values)
    else:
        table["wkt"] = shapely.to_wkt(geom.values, rounding_precision=-1)
    return table


# -- writing ---------------------------------------------------------------------------------


def _chunks(length: int) -> list[slice]:
    return [slice(i, min(i + CHUNK_ROWS, length)) for i in range(0, max(length, 1), CHUNK_ROWS)]


def write_vector(
    frame: gpd.GeoDataFrame,
    path: Path,
    layer_id: str,
    fmt: str,
    progress: Progress = _quiet,
) -> None:
    """Write one layer's frame to ``path`` (a GPKG, GeoJSON or .shp; a GPKG gains a table).

    One write through Arrow: appending in chunks (for a finer progress bar) made GDAL
    maintain the GeoPackage's spatial index row by row, 2-4x slower (benchmarks/bench_export.py).
    """
    out = file_frame(frame, fmt)
    options: dict[str, Any] = {
        "driver": DRIVERS[fmt],
        "geometry_type": _geometry_type(out, layer_id),
        "use_arrow": True,
    }
    if fmt == "shp":
        options["encoding"] = "UTF-8"  # GDAL writes the .cpg file saying so
    if fmt == "gpkg":
        options["layer"] = layer_id
        if not path.exists():  # 1.3: readable by older GDAL/QGIS too
            options["dataset_options"] = {"VERSION": "1.3"}
    progress(0.1, f"{layer_id}: writing {len(out):,}")
    pyogrio.write_dataframe(out, path, **options)
    progress(1.0, f"{layer_id}: {len(out):,}")


def write_csv(
    frame: gpd.GeoDataFrame, path: Path, geometry: str = "auto", progress: Progress = _quiet
) -> None:
    """Write one layer as UTF-8 CSV with a byte-order mark (opens in Excel with CJK intact)."""
    table = csv_frame(frame, geometry)
    chunks = _chunks(len(table))
    for i, part in enumerate(chunks):
        table.iloc[part].to_csv(
            path,
            mode="w" if i == 0 else "a",
            header=i == 0,
            index=False,
            encoding="utf-8-sig" if i == 0 else "utf-8",
        )
        progress((i + 1) / len(chunks), f"{part.stop:,} / {len(table):,}")


def export_data(
    engine: Engine,
    request: ExportRequest,
    target: Path,
    *,
    user: Any = None,
    progress: Progress = _quiet,
) -> dict[str, int]:
    """Write the request's layers to ``target`` (a file of ``request.suffix``); return the
    feature count per layer. Written under a temporary name and moved into place, so a
    failed export leaves no partial file."""
    if request.is_print:
        raise ExportError("Print maps are written by gridmap.io.printmap.")
    ctx = request.context(engine, user)
    counts: dict[str, int] = {}
    n = len(request.layers)
    with tempfile.TemporaryDirectory(prefix="gridmap-export-", dir=target.parent) as tmp:
        work = Path(tmp)
        files: list[Path] = []
        for i, layer_id in enumerate(request.layers):
            progress(i / n, f"{layer_id}: reading")
            frame = layer_frame(ctx, layer_id)
            counts[layer_id] = len(frame)
            base = i / n + 0.3 / n

            def step(fraction: float, message: str, base: float = base) -> None:
                progress(base + 0.7 / n * fraction, message)

            if request.format == "gpkg":
                path = work / "export.gpkg"
                write_vector(frame, path, layer_id, "gpkg", step)
                files = [path]
            elif request.format == "csv":
                path = work / f"{layer_id}.csv"
                write_csv(frame, path, request.csv_geometry, step)
                files.append(path)
            else:
                folder = work / layer_id if request.format == "shp" else work
                folder.mkdir(exist_ok=True)
                path = folder / f"{layer_id}.{request.format}"
                write_vector(frame, path, layer_id, request.format, step)
                files += sorted(folder.glob(f"{layer_id}.*")) if request.format == "shp" else [path]
        result = work / f"result.{request.suffix}"
        if request.suffix == "zip":
            with zipfile.ZipFile(result, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in files:
                    archive.write(path, path.relative_to(work).as_posix())
        else:
            shutil.move(files[0], result)
        shutil.move(result, target)
    progress(1.0, "done")
    return counts
