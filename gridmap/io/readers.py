"""Reading import files into one shape: attribute columns, geometries, row numbers, CRS.

GeoJSON, GeoPackage (a layer by name), Shapefile (a ``.shp`` with its siblings, or a
``.zip`` holding one, read through GDAL's ``/vsizip/``) go through pyogrio; a Shapefile's
``.cpg`` names its attribute encoding (GBK is common in China) and ``encoding`` overrides
it. CSV and Excel (``.xlsx``) go through pandas: geometry from longitude/latitude columns
(names guessed: lon/lng/longitude/经度/x, lat/latitude/纬度/y) or a WKT column.

Row numbers are what a person finds in the file: the spreadsheet row for CSV/Excel (the
header is row 1, so the first record is row 2), the feature number (from 1) otherwise.
"""

from __future__ import annotations

import glob
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from gridmap.errors import GridmapError

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip")
TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
SUFFIXES = VECTOR_SUFFIXES + TABLE_SUFFIXES
LON_NAMES = ("lon", "lng", "long", "longitude", "经度", "x")
LAT_NAMES = ("lat", "latitude", "纬度", "y")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape", "几何", "坐标串")


#: The encoding GDAL reads a Shapefile in when neither a .cpg nor the .dbf names one.
GDAL_FALLBACK = "ISO-8859-1"
#: Encodings tried, in order, for such a Shapefile (as for CSV: UTF-8, then China's GB18030).
SHAPEFILE_ENCODINGS = ("utf-8", "gb18030")


class FileProblem(GridmapError):
    """The file cannot be read as a whole (missing, unknown format, no layer, ...)."""

    http_status = 400


@dataclass
class RowProblem:
    """One rejected row: its row number, the column at fault (or "geometry") and why."""

    row: int
    column: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class Table:
    """A file read for import: attributes, geometries (None where missing), row numbers."""

    name: str
    frame: pd.DataFrame
    geoms: np.ndarray
    rows: np.ndarray
    crs: CRS | None
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)


def _pick(columns: list[str], names: tuple[str, ...], given: str | None) -> str | None:
    if given:
        if given not in columns:
            raise FileProblem(
                f"Column {given!r} is not in the file",
                hint="columns: " + ", ".join(map(str, columns))[:400],
            )
        return given
    lowered = {str(c).strip().lower(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def _shapefile_in_zip(path: Path, layer: str | None) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            shps = [n for n in zf.namelist() if n.lower().endswith(".shp")]
    except zipfile.BadZipFile as exc:
        raise FileProblem(f"{path.name} is not a readable .zip file") from exc
    if layer:
        shps = [n for n in shps if Path(n).stem == layer or n == layer]
    if len(shps) != 1:
        raise FileProblem(
            f"{path.name} must hold exactly one Shapefile"
            + (f" named {layer!r}" if layer else "")
            + f" (found {len(shps)})",
            hint="zip one .shp with its .shx/.dbf/.prj/.cpg, or pick one with --layer NAME",
        )
    return f"/vsizip/{path.resolve()}/{shps[0]}"


def _read_vector(path: Path, layer: str | None, encoding: str | None) -> Table:
    source = _shapefile_in_zip(path, layer) if path.suffix.lower() == ".zip" else str(path)
    read_layer = None
    if path.suffix.lower() == ".gpkg":
        try:
            layers = [str(n) for n, _ in pyogrio.list_layers(source)]
        except Exception as exc:
            raise FileProblem(f"Cannot read {path.name}: {exc}") from exc
        if layer:
            if layer not in layers:
                raise FileProblem(
                    f"{path.name} has no layer {layer!r}", hint="layers: " + ", ".join(layers)
                )
            read_layer = layer
        elif len(layers) != 1:
            raise FileProblem(
                f"{path.name} holds {len(layers)} layers: choose one with --layer",
                hint="layers: " + ", ".join(layers),
            )
    try:
        gdf = pyogrio.read_dataframe(source, layer=read_layer, encoding=encoding)
        guessed = None if encoding else pyogrio.read_info(source, layer=read_layer)["encoding"]
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, ...
        raise FileProblem(f"Cannot read {path.name}: {exc}") from exc
    notes: list[str] = []
    if guessed == GDAL_FALLBACK and path.suffix.lower() in (".shp", ".zip") and not _has_cpg(path):
        gdf = _recode_shapefile(gdf, path.name, notes)
    crs = CRS.from_user_input(gdf.crs) if gdf.crs is not None else None
    if path.suffix.lower() in (".geojson", ".json") and crs is None:
        crs = CRS.from_epsg(4326)  # RFC 7946: GeoJSON is WGS84 lon/lat
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    frame.columns = [str(c) for c in frame.columns]
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    rows = np.arange(1, len(gdf) + 1)
    return Table(path.name, frame.reset_index(drop=True), geoms, rows, crs, notes=notes)


def _has_cpg(path: Path) -> bool:
    """Whether a Shapefile (or the one in a zip) comes with a .cpg naming its encoding."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            return any(n.lower().endswith(".cpg") for n in zf.namelist())
    return any(p.suffix.lower() == ".cpg" for p in path.parent.glob(glob.escape(path.stem) + ".*"))


def _recode_shapefile(gdf: pd.DataFrame, name: str, notes: list[str]) -> pd.DataFrame:
    """A Shapefile whose encoding GDAL could not learn (no .cpg, no code page in the .dbf)
    is read as ISO-8859-1, so GBK or UTF-8 text comes out garbled. Those characters are
    the file's bytes one to one: decode them as the CSV reader does (UTF-8, else GB18030),
    say so in a note, and refuse a file that is neither."""
    columns = [
        c
        for c in gdf.columns
        if c != gdf.geometry.name
        and (gdf[c].dtype == object or pd.api.types.is_string_dtype(gdf[c].dtype))
    ]
    texts = {str(c) for c in gdf.columns if c != gdf.geometry.name}
    for c in columns:
        texts.update(v for v in gdf[c] if isinstance(v, str))
    try:
        raw = {t: t.encode("latin-1") for t in texts}
    except UnicodeEncodeError:  # not GDAL's one-to-one reading after all
        return gdf
    if all(b.isascii() for b in raw.values()):
        return gdf
    for enc in SHAPEFILE_ENCODINGS:
        try:
            decoded = {t: b.decode(enc) for t, b in raw.items()}
        except UnicodeDecodeError:
            continue
        recode = {t: d for t, d in decoded.items() if t != d}
        gdf = gdf.rename(columns={c: recode.get(str(c), c) for c in gdf.columns})
        for c in columns:
            name_now = recode.get(str(c), c)
            gdf[name_now] = gdf[name_now].map(recode, na_action="ignore").fillna(gdf[name_now])
        notes.append(f"{name} names no encoding (no .cpg file); its text was read as {enc}")
        return gdf
    raise FileProblem(
        f"{name} names no encoding (no .cpg file) and its text is not "
        f"{' or '.join(SHAPEFILE_ENCODINGS)}",
        hint="pass the file's encoding, e.g. --encoding big5, or add a .cpg file naming it",
    )


def _read_csv(path: Path, encoding: str | None, notes: list[str]) -> pd.DataFrame:
    tried = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    for enc in tried:
        try:
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, encoding=enc, sep=None, engine="python"
            )
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise FileProblem(f"Cannot read {path.name} as CSV: {exc}") from exc
        except LookupError as exc:
            raise FileProblem(f"Unknown encoding {enc!r}") from exc
        if enc != tried[0]:
            notes.append(f"{path.name} is not UTF-8; read as {enc}")
        return frame
    raise FileProblem(
        f"{path.name} is not {' or '.join(tried)} text",
        hint="pass the file's encoding, e.g. --encoding gbk",
    )


def _read_excel(path: Path, sheet: str | None) -> pd.DataFrame:
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises several kinds for a bad file
        raise FileProblem(f"Cannot read {path.name} as an Excel workbook: {exc}") from exc
    if sheet is not None and sheet not in book.sheet_names:
        raise FileProblem(
            f"{path.name} has no sheet {sheet!r}", hint="sheets: " + ", ".join(book.sheet_names)
        )
    frame = pd.read_excel(book, sheet_name=sheet if sheet is not None else 0, dtype=object)
    return frame.astype(object).where(frame.notna(), None)


def _table_geometry(
    name: str, frame: pd.DataFrame, columns: dict[str, str], geometry: bool = True
) -> tuple[np.ndarray, list[RowProblem], list[str]]:
    """Geometries of a CSV/Excel table, from a WKT column or lon/lat columns (none at all
    when ``geometry`` is false: a table of records without a place, e.g. households)."""
    cols = list(frame.columns)
    rows = np.arange(2, len(frame) + 2)
    problems: list[RowProblem] = []
    if not geometry:
        return np.full(len(frame), None, dtype=object), problems, []
    wkt = _pick(cols, WKT_NAMES, columns.get("wkt"))
    lon = _pick(cols, LON_NAMES, columns.get("lon"))
    lat = _pick(cols, LAT_NAMES, columns.get("lat"))
    if wkt and not (columns.get("lon") or columns.get("lat")):
        text = frame[wkt].map(lambda v: None if v is None or str(v).strip() == "" else str(v))
        geoms = shapely.from_wkt(text.to_numpy(dtype=object), on_invalid="ignore")
        for i in np.nonzero(pd.isna(geoms) & text.notna().to_numpy())[0]:
            problems.append(RowProblem(int(rows[i]), wkt, "is not readable WKT"))
        return np.asarray(geoms, dtype=object), problems, [wkt]
    if not (lon and lat):
        raise FileProblem(
            f"{name} has no longitude/latitude columns and no WKT column",
            hint="name them lon/lat (经度/纬度) or wkt, or map them: --map lon=COL --map lat=COL",
        )
    x = pd.to_numeric(frame[lon].map(_number_text), errors="coerce").to_numpy(float)
    y = pd.to_numeric(frame[lat].map(_number_text), errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    blank = frame[lon].map(_blank).to_numpy(bool) & frame[lat].map(_blank).to_numpy(bool)
    for i in np.nonzero(bad & ~blank)[0]:
        problems.append(RowProblem(int(rows[i]), f"{lon}/{lat}", "is not a number"))
    geoms = np.asarray(shapely.points(np.where(bad, np.nan, x), np.where(bad, np.nan, y)), object)
    geoms[bad] = None
    return geoms, problems, [lon, lat]


def _blank(value: object) -> bool:
    return (
        value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == ""
    )


def _number_text(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def read_table(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    columns: dict[str, str] | None = None,
    geometry: bool = True,
) -> Table:
    """Read an import file. ``layer``: GeoPackage layer, Excel sheet or Shapefile in a zip;
    ``columns``: explicit ``lon``/``lat``/``wkt`` source columns for CSV/Excel;
    ``geometry``: false for a CSV/Excel table of records without geometry."""
    path = Path(path)
    if not path.is_file():
        raise FileProblem(f"File {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise FileProblem(
            f"Cannot import {path.name}: unknown file type {suffix or '(none)'}",
            hint="use GeoJSON, GeoPackage, Shapefile (.shp or .zip), CSV or Excel (.xlsx)",
        )
    if suffix in VECTOR_SUFFIXES:
        return _read_vector(path, layer, encoding)
    notes: list[str] = []
    if suffix in (".xlsx", ".xlsm"):
        frame = _read_excel(path, layer)
    else:
        frame = _read_csv(path, encoding, notes)
    frame.columns = [str(c).strip() for c in frame.columns]
    geoms, problems, used = _table_geometry(path.name, frame, columns or {}, geometry)
    attrs = frame.drop(columns=used).reset_index(drop=True)
    table = Table(path.name, attrs, geoms, np.arange(2, len(frame) + 2), None, problems, notes)
    return table
