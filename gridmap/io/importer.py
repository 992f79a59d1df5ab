"""Importing grids, buildings, cameras and service points from files.

One pass: read (:mod:`gridmap.io.readers`), map columns, convert coordinates to WGS84
(:mod:`gridmap.io.crs`), validate every row (required attributes, values, geometry type,
validity, duplicates in the file, the city's extent), then in ONE transaction: COPY the
valid rows into a staging table, resolve grid communities, compare with the rows already
stored (key: ``code``), insert the new ones and — with ``update`` — update the changed ones
(``sql/functions/imports.sql``). Any rejected row means nothing is written unless
``skip_invalid``; a dry run does everything and rolls back. Re-importing the same file
changes nothing (rows equal to the stored ones are counted as unchanged).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg2
import shapely
from pyproj import CRS
from sqlalchemy.engine import make_url

from gridmap.analytics.params import SERVICE_KINDS
from gridmap.bounds import MAX_NAME
from gridmap.db.copy import copy_frame
from gridmap.db.engine import connect
from gridmap.errors import GridmapError
from gridmap.i18n import MESSAGES
from gridmap.io import crs as crsmod
from gridmap.io.readers import RowProblem, Table, read_table
from gridmap.io.tabular import write_report

#: Largest number of problems kept in a report (the count is always exact).
MAX_PROBLEMS = 10_000
#: Longest code and phone number (characters); other texts: MAX_NAME.
MAX_CODE = 64
MAX_PHONE = 40
#: Characters no stored text may hold (C0 and C1 controls: a NUL cannot be stored at all).
CONTROL = r"[\x00-\x1f\x7f-\x9f]"
#: Tolerance (degrees, ~10 m) of the extent check: a grid on the city's border may come
#: out of a projection a hair outside it. Far below the GCJ-02 offset (300-700 m).
EXTENT_MARGIN_DEG = 1e-4


class ImportProblem(GridmapError):
    """The import cannot start (bad mapping, options, unknown target)."""


class ImportRejected(GridmapError):
    """Rows were rejected, so nothing was written; ``report`` lists them."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(
            f"{report.rejected:,} of {report.rows:,} rows rejected; nothing was written",
            hint="fix the rows listed (see --report FILE.csv), or import the valid rows "
            "only with --skip-invalid",
        )
        self.report = report


@dataclass(frozen=True)
class Field:
    """A target column filled from the file."""

    name: str
    kind: str = "text"  # text | int | float | choice | bool | tags
    required: bool = False
    choices: tuple[str, ...] = ()
    label_prefix: str = ""  # i18n key prefix of the choices' labels (zh-CN and en accepted)
    low: float | None = None
    high: float | None = None
    aliases: tuple[str, ...] = ()
    default: Any = None  # the table's default, used for blank cells
    max_len: int = MAX_NAME  # longest text (characters)


@dataclass(frozen=True)
class Target:
    """What an import target needs: table, fields, geometry shape."""

    name: str
    table: str
    fields: tuple[Field, ...]
    geometry: str  # point | polygon | point_or_polygon | none (CSV/Excel records)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


CODE = Field("code", required=True, aliases=("编码", "编号", "代码", "id_code"), max_len=MAX_CODE)
NAME = Field("name", required=True, aliases=("名称", "名字"))


#: Building kinds (as in the core schema's check).
BUILDING_KINDS = (
    "residential",
    "commercial",
    "mixed",
    "office",
    "industrial",
    "school",
    "hospital",
    "public",
)


def _count(name: str, *aliases: str) -> Field:
    return Field(name, "int", low=0, high=2_000_000_000, aliases=aliases, default=0)


def _kind(choices: tuple[str, ...], label_prefix: str) -> Field:
    """The required ``kind`` column, one of ``choices`` (labels under ``label_prefix``)."""
    return Field(
        "kind",
        "choice",
        required=True,
        choices=choices,
        label_prefix=label_prefix,
        aliases=("类型", "type"),
    )


TARGETS: dict[str, Target] = {
    "grids": Target(
        "grids",
        "grids",
        (
            CODE,
            NAME,
            Field("community", aliases=("community_code", "社区", "社区编码", "所属社区")),
            Field("lead_name", aliases=("网格长", "lead")),
            Field("lead_phone", aliases=("网格长电话", "电话", "phone"), max_len=MAX_PHONE),
        ),
        "polygon",
    ),
    "buildings": Target(
        "buildings",
        "buildings",
        (
            CODE,
            Field("address", required=True, aliases=("地址",)),
            _kind(BUILDING_KINDS, "building."),
            Field("floors", "int", low=0, high=200, aliases=("层数",), default=1),
            _count("households", "户数"),
            _count("population", "人口"),
            _count("elderly_alone", "独居老人"),
            _count("disabled", "残疾人"),
            _count("low_income", "低收入"),
        ),
        "point_or_polygon",
    ),
    "cameras": Target(
        "cameras",
        "cameras",
        (
            CODE,
            NAME,
            _kind(("dome", "bullet", "face", "vehicle", "thermal"), "camera."),
            Field(
                "status",
                "choice",
                choices=("online", "offline", "fault"),
                label_prefix="camera.",
                aliases=("状态",),
                default="online",
            ),
            Field("heading", "float", low=0, high=359.999, aliases=("朝向", "方向"), default=0.0),
            Field("fov", "float", low=0.001, high=360, aliases=("视场角",), default=90.0),
            Field("range_m", "float", low=0.1, high=1000, aliases=("可视距离",), default=50.0),
        ),
        "point",
    ),
    "service-points": Target(
        "service-points",
        "service_points",
        (
            CODE,
            NAME,
            _kind(SERVICE_KINDS, "service."),
            Field("opening_hours", aliases=("开放时间", "hours")),
            Field("address", aliases=("地址",)),
            Field("phone", aliases=("电话",), max_len=MAX_PHONE),
        ),
        "point",
    ),
}


#: Fields naming another row by its code: field -> (staging column, target table column).
REFERENCES = {
    "community": ("community_code", "community_id"),
    "building": ("building_code", "building_id"),
    "ten_unit": ("ten_unit_code", "ten_household_unit_id"),
    "grid": ("grid_code", "grid_id"),
}
#: Yes/no cells (是/否, 有/无, yes/no, true/false, 1/0, y/n, √/×), lower-cased.
BOOLEANS = {
    **dict.fromkeys(("是", "有", "yes", "y", "true", "t", "1", "√", "已成立", "已建立"), True),
    **dict.fromkeys(("否", "无", "没有", "no", "n", "false", "f", "0", "×", "未成立"), False),
}
#: Separators between the tags of a cell ("独居老人、低保", "disabled, watch").
TAG_SEPARATORS = r"[、,，;；/|\s]+"
#: Longest household head / unit lead name, and room text.
MAX_ROOM = 32

TARGETS.update(
    {
        "compounds": Target(
            "compounds",
            "compounds",
            (
                CODE,
                Field("name", required=True, aliases=("小区名称", "小区", "名称", "名字")),
                Field("community", aliases=("community_code", "社区", "社区编码", "所属社区")),
                Field("property_manager", aliases=("物业", "物业公司", "物业服务企业")),
                Field("owners_committee", "bool", aliases=("业委会", "业主委员会"), default=False),
                Field("party_branch", "bool", aliases=("党支部", "小区党支部"), default=False),
            ),
            "polygon",
        ),
        "ten-household-units": Target(
            "ten-household-units",
            "ten_household_units",
            (
                Field("code", required=True, aliases=("联户单元编码", "单元编码", "编码", "编号"),
                      max_len=MAX_CODE),
                Field("name", required=True, aliases=("联户单元名称", "联户单元", "名称")),
                Field("grid", required=True, aliases=("网格编码", "所属网格", "网格")),
                Field("lead_name", aliases=("联户长", "联户长姓名")),
                Field("lead_phone", aliases=("联户长电话", "联系电话", "电话"), max_len=MAX_PHONE),
            ),
            "none",
        ),
        "households": Target(
            "households",
            "households",
            (
                Field("code", aliases=("户编码", "户号", "编码"), max_len=MAX_CODE),
                Field("building", required=True,
                      aliases=("楼栋编码", "楼栋", "所属楼栋", "building_code")),
                Field("unit", aliases=("单元", "单元号"), max_len=MAX_ROOM),
                Field("floor", "int", low=-10, high=200, aliases=("楼层", "层")),
                Field("room", aliases=("房号", "门牌号", "室", "房间号"), max_len=MAX_ROOM),
                Field("head_name", aliases=("户主", "户主姓名", "姓名")),
                Field("head_phone", aliases=("户主电话", "联系电话", "电话", "手机"),
                      max_len=MAX_PHONE),
                Field("members", "int", low=0, high=100, aliases=("家庭人数", "人口数", "人数"),
                      default=1),
                Field("tags", "tags", aliases=("标签", "人员类别", "重点人群")),
                Field("ten_unit", aliases=("联户单元编码", "联户单元")),
            ),
            "none",
        ),
    }
)  # fmt: skip


@dataclass
class ImportOptions:
    """How to import a file (the CLI's and the upload panel's options)."""

    target: str
    layer: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    crs: str | None = None
    offset: str | None = None  # "gcj02" | "bd09"
    encoding: str | None = None
    repair: bool = False
    update: bool = False
    skip_invalid: bool = False
    dry_run: bool = False


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do)."""

    target: str
    file: str
    rows: int = 0
    valid: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: int = 0
    unassigned: int = 0
    rejected: int = 0
    dry_run: bool = False
    written: bool = False
    crs: str = ""
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "problems"}
        out["problems"] = [p.as_dict() for p in self.problems]
        return out

    def summary(self) -> dict[str, Any]:
        """Counts, file and coordinates without the rows (the audit log's detail)."""
        return {k: v for k, v in self.as_dict().items() if k != "problems"}

    def write_csv(self, path: str | Path) -> None:
        """The rejected rows as CSV (row, column, reason), UTF-8 with BOM for Excel."""
        write_report(path, ((p.row, p.column, p.reason) for p in self.problems))


# -- validation ------------------------------------------------------------------------------


class _Problems:
    """Collects row problems from boolean masks (vectorised)."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        self.bad = np.zeros(len(rows), bool)
        self.items: list[tuple[int, RowProblem]] = []

    def add(self, mask: np.ndarray, column: str, reason: str | Callable[[int], str]) -> None:
        for i in np.nonzero(mask)[0]:
            text = reason(int(i)) if callable(reason) else reason
            self.items.append((int(i), RowProblem(int(self.rows[i]), column, text)))
        self.bad |= mask

    def sorted(self) -> list[RowProblem]:
        return [p for _, p in sorted(self.items, key=lambda item: (item[1].row, item[0]))]


def _clean_cell(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)  # an Excel number used as a code: 1001.0 → "1001"
    text = str(v).strip()
    return text or None


def _text(col: pd.Series) -> pd.Series:
    """Stripped text of a column (None where blank); vectorised for the common dtypes."""
    if pd.api.types.is_float_dtype(col):
        values = col.to_numpy(float, na_value=np.nan)
        whole = np.isfinite(values) & (np.mod(np.nan_to_num(values), 1) == 0)
        text = col.astype(str).astype(object)
        text[whole] = col[whole].astype("int64").astype(str)
        text[~np.isfinite(values)] = None
        return text
    if pd.api.types.is_integer_dtype(col) or pd.api.types.infer_dtype(col) in ("string", "empty"):
        text = col.astype("string").str.strip()
        return text.where(text.notna() & (text != ""), None).astype(object)
    return col.map(_clean_cell).astype(object)


def _choice_lookup(f: Field) -> dict[str, str]:
    lookup = {c: c for c in f.choices}
    for messages in MESSAGES.values():
        for c in f.choices:
            label = messages.get(f.label_prefix + c)
            if label:
                lookup[label] = c
                lookup[label.lower()] = c
    return lookup


def _resolve_columns(target: Target, columns: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Target field → file column, from the mapping, else the field's name or aliases."""
    known = {f.name for f in target.fields} | {"lon", "lat", "wkt"}
    unknown = [k for k in mapping if k not in known]
    if unknown:
        raise ImportProblem(
            f"--map names unknown field {unknown[0]!r} for {target.name}",
            hint="fields: " + ", ".join(f.name for f in target.fields) + ", lon, lat, wkt",
        )
    out: dict[str, str] = {}
    lowered = {c.strip().lower(): c for c in columns}
    for f in target.fields:
        if f.name in mapping:
            if mapping[f.name] not in columns:
                raise ImportProblem(
                    f"Column {mapping[f.name]!r} (for {f.name}) is not in the file",
                    hint="columns: " + ", ".join(columns)[:400],
                )
            out[f.name] = mapping[f.name]
            continue
        for name in (f.name, *f.aliases):
            if name.lower() in lowered:
                out[f.name] = lowered[name.lower()]
                break
    missing = [f.name for f in target.fields if f.required and f.name not in out]
    if missing:
        raise ImportProblem(
            f"The file has no column for {', '.join(missing)} (required for {target.name})",
            hint="map one: --map " + " --map ".join(f"{m}=COLUMN" for m in missing)
            + "; columns: " + ", ".join(columns)[:300],
        )  # fmt: skip
    return out


def _tag_cells(
    text: pd.Series, lookup: dict[str, str], column: str, problems: _Problems
) -> pd.Series:
    """Cells of tags ("独居老人、低保") as PostgreSQL text[] literals of tag slugs; unknown
    tags recorded as problems naming the known ones."""
    out = []
    bad = np.zeros(len(text), bool)
    reasons: dict[int, str] = {}
    for i, cell in enumerate(text):
        slugs = []
        for name in re.split(TAG_SEPARATORS, cell if isinstance(cell, str) else ""):
            if not name:
                continue
            slug = lookup.get(name) or lookup.get(name.lower())
            if slug is None:
                bad[i] = True
                known = [k for k in lookup if not k.isascii()] or list(lookup)
                reasons[i] = f"unknown tag {name[:40]!r} (known: {', '.join(known)})"
                continue
            if slug not in slugs:
                slugs.append(slug)
        out.append("{" + ",".join(sorted(slugs)) + "}")
    problems.add(bad, column, lambda i: reasons[i])
    return pd.Series(out, dtype=object)


def _attributes(
    target: Target,
    table: Table,
    columns: dict[str, str],
    problems: _Problems,
    tags: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Typed attribute columns (named as the table's), problems recorded. ``tags``: tag
    names and slugs -> slug (for a ``tags`` field)."""
    n = len(table)
    out: dict[str, Any] = {}
    for f in target.fields:
        src = columns.get(f.name)
        col = table.frame[src] if src else pd.Series([None] * n, dtype=object)
        text = _text(col)
        blank = text.isna().to_numpy()
        if f.required:
            problems.add(blank, src or f.name, "is required")
        if f.kind == "text":
            filled = text.notna().to_numpy()
            lengths = np.zeros(n, int)
            lengths[filled] = text[filled].str.len().to_numpy(int)
            problems.add(
                lengths > f.max_len,
                src or f.name,
                lambda i, n=lengths, f=f: f"is {n[i]:,} characters long; at most {f.max_len:,}",
            )
            control = np.zeros(n, bool)
            control[filled] = text[filled].str.contains(CONTROL, regex=True).to_numpy(bool)
            problems.add(control, src or f.name, "must not contain control characters")
            out[f.name] = text
        elif f.kind == "tags":
            out[f.name] = _tag_cells(text, tags or {}, src or f.name, problems)
        elif f.kind == "bool":
            value = text.str.lower().map(BOOLEANS) if text.notna().any() else text
            bad = value.isna().to_numpy() & ~blank
            problems.add(
                bad,
                src or f.name,
                lambda i, text=text: f"{text.iloc[i][:40]!r} is not yes/no (是/否, 有/无)",
            )
            out[f.name] = value.astype(object).where(value.notna(), f.default)
        elif f.kind == "choice":
            lookup = _choice_lookup(f)
            value = text.map(lookup)
            unknown = value.isna() & text.notna()
            if unknown.any():  # labels in another case ("Dome")
                value[unknown] = text[unknown].str.lower().map(lookup)
            bad = value.isna().to_numpy() & ~blank
            problems.add(
                bad,
                src or f.name,
                lambda i, text=text, f=f: (
                    f"{text.iloc[i][:40]!r} is not one of " + ", ".join(f.choices)
                ),
            )
            out[f.name] = value.astype(object).where(value.notna(), f.default)
        else:
            num = pd.to_numeric(col if pd.api.types.is_numeric_dtype(col) else text,
                                errors="coerce")  # fmt: skip
            bad = num.isna().to_numpy() & ~blank
            problems.add(bad, src or f.name, "is not a number")
            ok = num.notna().to_numpy()
            values = num.to_numpy(float, na_value=np.nan)
            if f.kind == "int":
                frac = ok & (np.mod(np.where(ok, values, 0), 1) != 0)
                problems.add(frac, src or f.name, "is not a whole number")
            lo = -np.inf if f.low is None else f.low
            hi = np.inf if f.high is None else f.high
            outside = ok & ((values < lo) | (values > hi))
            problems.add(
                outside,
                src or f.name,
                lambda i, v=values, lo=lo, hi=hi: f"{v[i]:g} is outside {lo:g}..{hi:g}",
            )
            series = pd.Series(np.where(ok & ~outside, values, np.nan))
            if f.default is not None:
                series = series.fillna(f.default)
            out[f.name] = series.round().astype("Int64") if f.kind == "int" else series
    frame = pd.DataFrame(out)
    if target.name == "buildings":
        vulnerable = sum(frame[c].fillna(0) for c in ("elderly_alone", "disabled", "low_income"))
        if columns.get("population") or columns.get("elderly_alone"):
            over = (vulnerable > frame["population"].fillna(0)).to_numpy(bool)
            problems.add(
                over,
                columns.get("population", "population"),
                "is less than elderly_alone + disabled + low_income",
            )
    if target.name == "households":
        _household_codes(frame, columns, problems)
    # duplicates of the key within the file
    codes = frame["code"]
    dup = codes.notna() & codes.duplicated(keep="first")
    if dup.any():
        first = {}
        for i, c in enumerate(codes):
            if c is not None:
                first.setdefault(c, i)
        rows = table.rows
        problems.add(
            dup.to_numpy(bool),
            columns["code"],
            lambda i: f"code {codes.iloc[i]} repeats row {rows[first[codes.iloc[i]]]}",
        )
    return frame


def _household_codes(frame: pd.DataFrame, columns: dict[str, str], problems: _Problems) -> None:
    """A household without a code gets one from its door: building-unit-room (B12-2-301),
    so the same sheet imported again names the same households."""
    blank = frame["code"].isna()
    if not blank.any():
        return
    no_room = (blank & frame["room"].isna()).to_numpy(bool)
    problems.add(no_room, columns.get("room", "room"), "is required when no code is given")
    parts = [frame["building"], frame["unit"], frame["room"]]
    derived = [
        "-".join(str(p) for p in door if p is not None and p == p)
        for door in zip(*parts, strict=True)
    ]
    frame.loc[blank, "code"] = pd.Series(derived, index=frame.index)[blank]
    frame.loc[no_room, "code"] = None


def _polygon_reason(g: Any) -> str:
    return f"invalid polygon: {shapely.is_valid_reason(g)}"


def _geometry(
    target: Target, table: Table, source: CRS, opts: ImportOptions, extent: crsmod.Extent,
    problems: _Problems, report: ImportReport,
) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
    """(geom, footprint) columns in WGS84 for the target; problems recorded."""
    if target.geometry == "none":
        return np.full(len(table), None, dtype=object), None
    raw = np.asarray(table.geoms, dtype=object)
    missing = np.array([g is None for g in raw], bool)
    missing[~missing] = shapely.is_empty(raw[~missing])
    unread = np.zeros(len(raw), bool)
    for p in table.problems:  # rows whose geometry could not be read are reported already
        unread[np.searchsorted(table.rows, p.row)] = True
    problems.add(missing & ~unread, "geometry", "has no geometry")
    present = ~missing
    types = np.full(len(raw), -1)
    types[present] = shapely.get_type_id(raw[present])
    # a one-part multi geometry counts as its part
    multi = present & np.isin(types, (4, 6)) & (shapely.get_num_geometries(raw) == 1)
    raw = raw.copy()
    raw[multi] = shapely.get_geometry(raw[multi], 0)
    types[multi] = shapely.get_type_id(raw[multi])
    is_point, is_poly = types == 0, types == 3
    allowed = {"point": is_point, "polygon": is_poly | (types == 6),
               "point_or_polygon": is_point | is_poly}[target.geometry]  # fmt: skip
    wanted = {"point": "a point", "polygon": "a polygon",
              "point_or_polygon": "a point or one footprint polygon"}[target.geometry]  # fmt: skip
    wrong = present & ~allowed
    problems.add(
        wrong,
        "geometry",
        lambda i: f"is a {raw[i].geom_type}; {target.name} need {wanted}",
    )
    polys = present & allowed & ~is_point
    invalid = np.zeros(len(raw), bool)
    invalid[polys] = ~shapely.is_valid(raw[polys])
    if opts.repair and invalid.any():
        fixed = shapely.make_valid(raw[invalid])
        fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
        ok = np.array([g is not None and (target.geometry == "polygon" or
                       shapely.get_num_geometries(g) == 1) for g in fixed])  # fmt: skip
        idx = np.nonzero(invalid)[0]
        raw[idx[ok]] = [g if target.geometry == "polygon" else shapely.get_geometry(g, 0)
                        for g in fixed[ok]]  # fmt: skip
        report.repaired = int(ok.sum())
        still = np.zeros(len(raw), bool)
        still[idx[~ok]] = True
        problems.add(still, "geometry", lambda i: _polygon_reason(table.geoms[i])
                     + " (cannot be repaired into one polygon)")  # fmt: skip
    else:
        problems.add(invalid, "geometry", lambda i: _polygon_reason(raw[i]))
    usable = present & allowed & ~problems.bad
    geoms = np.full(len(raw), None, dtype=object)
    try:
        # the tables are 2-D: a PointZ / PolygonZ keeps its x, y
        geoms[usable] = shapely.force_2d(crsmod.to_wgs84(raw[usable], source, opts.offset))
    except crsmod.CRSProblem:
        raise
    except Exception as exc:  # pyproj cannot transform (e.g. non-finite numbers)
        raise ImportProblem(
            f"Cannot convert coordinates from {crsmod.describe(source)}: {exc}"
        ) from exc
    # the city's extent (lon/lat sanity when there are no districts)
    bounds = np.full((len(raw), 4), np.nan)
    bounds[usable] = shapely.bounds(geoms[usable])
    margin = EXTENT_MARGIN_DEG if extent != crsmod.LONLAT else 0.0
    inside = extent.contains(bounds[:, 0], bounds[:, 1], margin) & extent.contains(
        bounds[:, 2], bounds[:, 3], margin
    )
    outside = usable & ~inside
    if outside.any():
        centres = shapely.get_coordinates(shapely.centroid(raw[outside]))
        looks = crsmod.guess_system(centres[:, 0], centres[:, 1], source, extent)
        where = "the city's extent" if extent != crsmod.LONLAT else "longitude/latitude range"
        box = f"{extent.xmin:.4f},{extent.ymin:.4f} – {extent.xmax:.4f},{extent.ymax:.4f}"
        hint = (
            f"; this usually means a wrong coordinate system: the file looks like {looks}"
            if looks
            else "; this usually means a wrong coordinate system (try --crs, --from-gcj02 "
            "or --from-bd09)"
        )
        problems.add(
            outside,
            "geometry",
            lambda i: (
                f"lies outside {where} ({box}) at {bounds[i, 0]:.5f},{bounds[i, 1]:.5f}{hint}"
            ),
        )
    geoms[problems.bad] = None
    if target.geometry == "polygon":
        return _multi(geoms), None
    if target.geometry == "point_or_polygon":
        footprint = np.full(len(raw), None, dtype=object)
        poly = np.array([g is not None and g.geom_type == "Polygon" for g in geoms])
        footprint[poly] = geoms[poly]
        points = geoms.copy()
        points[poly] = shapely.point_on_surface(geoms[poly])
        return points, footprint
    return geoms, None


def _multi(geoms: np.ndarray) -> np.ndarray:
    out = np.full(len(geoms), None, dtype=object)
    for i, g in enumerate(geoms):
        if g is not None:
            out[i] = g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g])
    return out


def _polygonal(g: Any) -> Any:
    """The polygonal part of a repaired geometry (lines/points from make_valid dropped)."""
    if g is None or g.is_empty:
        return None
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in getattr(g, "geoms", []) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    return shapely.union_all(parts)


# -- the database side -----------------------------------------------------------------------


def _tag_lookup(cur: Any) -> dict[str, str]:
    """Household tag slugs and names (Chinese, English, English lower-cased) -> slug, in
    the tags' order."""
    cur.execute("SELECT slug, name_zh, name_en FROM household_tags ORDER BY sort, slug")
    lookup: dict[str, str] = {}
    for slug, zh, en in cur.fetchall():
        lookup.update({slug: slug, zh: slug, en: slug, en.lower(): slug})
    return lookup


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def city_extent(cur: Any) -> crsmod.Extent:
    """The districts' union bounding box, or lon/lat sanity when there are no districts."""
    cur.execute(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
        "FROM (SELECT ST_Extent(geom) AS e FROM districts) x"
    )
    row = cur.fetchone()
    if row is None or row[0] is None:
        return crsmod.LONLAT
    return crsmod.Extent(*map(float, row))


def import_file(
    url: str,
    path: str | Path,
    opts: ImportOptions,
    *,
    progress: Callable[[str, int, int], object] | None = None,
    audit: Callable[[ImportReport], object] | None = None,
) -> ImportReport:
    """Import ``path`` into the database at ``url``; see the module docstring.

    ``progress(stage, done, total)`` is called as the stages advance; ``audit(report)``
    after a commit (not for dry runs). Raises ImportRejected (with the report) when rows
    are rejected and ``opts.skip_invalid`` is false.
    """
    started = time.perf_counter()
    if opts.target not in TARGETS:
        raise ImportProblem(
            f"Unknown import target {opts.target!r}", hint="targets: " + ", ".join(TARGETS)
        )
    if opts.offset not in (None, *crsmod.OFFSET_SYSTEMS):
        raise ImportProblem(f"Unknown offset system {opts.offset!r}", hint="gcj02 or bd09")
    target = TARGETS[opts.target]
    path = Path(path)
    started_at: dict[str, float] = {}
    stage_seconds: dict[str, float] = {}

    def step(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        started_at.setdefault(stage, now)
        if done >= total:
            stage_seconds[stage] = round(now - started_at[stage], 3)
        if progress:
            progress(stage, done, total)

    step("read", 0, 1)
    mapping = dict(opts.mapping)
    geometry_columns = {k: mapping.pop(k) for k in ("lon", "lat", "wkt") if k in mapping}
    table = read_table(
        path,
        layer=opts.layer,
        encoding=opts.encoding,
        columns=geometry_columns,
        geometry=target.geometry != "none",
    )
    report = ImportReport(target.name, path.name, rows=len(table), dry_run=opts.dry_run)
    report.stage_seconds = stage_seconds
    report.notes += table.notes
    if target.geometry == "none":
        source = crsmod.WGS84  # records without a place: no coordinates to convert
    elif opts.crs:
        source = crsmod.parse_crs(opts.crs)
        if table.crs is not None and not table.crs.equals(source):
            report.notes.append(
                f"the file declares {crsmod.describe(table.crs)}; --crs "
                f"{crsmod.describe(source)} used instead"
            )
    elif table.crs is not None:
        source = table.crs
    else:
        source = crsmod.WGS84
        report.notes.append("the file names no coordinate system; EPSG:4326 (WGS84) assumed")
    report.crs = crsmod.describe(source) + (f" + {opts.offset.upper()}" if opts.offset else "")
    if target.geometry == "none":
        report.crs = ""
    columns = _resolve_columns(target, list(table.frame.columns), mapping)
    step("read", 1, 1)

    conn = connect(_dsn(url))
    try:
        with conn.cursor() as cur:
            extent = city_extent(cur)
            problems = _Problems(table.rows)
            for p in table.problems:
                problems.items.append((int(np.searchsorted(table.rows, p.row)), p))
                problems.bad[np.searchsorted(table.rows, p.row)] = True
            step("validate", 0, len(table))
            tags = _tag_lookup(cur) if any(f.kind == "tags" for f in target.fields) else None
            frame = _attributes(target, table, columns, problems, tags)
            geom, footprint = _geometry(target, table, source, opts, extent, problems, report)
            step("validate", len(table), len(table))
            refs = [f.name for f in target.fields if f.name in REFERENCES]
            cols = [f.name for f in target.fields if f.name not in REFERENCES]
            cols += [REFERENCES[r][1] for r in refs]
            if target.geometry != "none":
                cols.append("geom")
            if footprint is not None:
                cols.append("footprint")
            stage = frame.loc[:, [c for c in cols if c in frame.columns]].copy()
            if target.geometry != "none":
                stage["geom"] = geom
            if footprint is not None:
                stage["footprint"] = footprint
            stage["row_no"] = table.rows
            for r in refs:
                stage[REFERENCES[r][0]] = frame[r]
            keep = ~problems.bad
            stage = stage.loc[keep].reset_index(drop=True)
            cur.execute("SELECT gridmap_import_stage(%s::regclass, %s)", (target.table, cols))
            copied = [0]

            def on_rows(n: int) -> None:
                copied[0] += n
                step("copy", copied[0], len(stage))

            step("copy", 0, len(stage))
            copy_frame(cur, "import_stage", stage, chunk_rows=50_000, on_rows=on_rows)
            step("compare", 0, 1)
            late: list[RowProblem] = []
            if "community" in refs:
                cur.execute("SELECT row_no, reason FROM gridmap_import_grid_communities()")
                late += [RowProblem(r, columns.get("community", "geometry"), why)
                         for r, why in cur.fetchall()]  # fmt: skip
            if set(refs) - {"community"}:
                cur.execute("SELECT row_no, field, reason FROM gridmap_import_references()")
                late += [RowProblem(r, columns.get(f, f), why)
                         for r, f, why in cur.fetchall()]  # fmt: skip
            cur.execute(
                "SELECT row_no, code, status FROM gridmap_import_existing(%s::regclass, %s)",
                (target.table, cols),
            )
            existing = cur.fetchall()
            report.unchanged = sum(1 for *_, s in existing if s == "same")
            changed = [(r, c) for r, c, s in existing if s == "changed"]
            if not opts.update:
                late += [
                    RowProblem(r, columns["code"], f"code {c} already exists with other values "
                               "(use --update to update it)")
                    for r, c in changed
                ]  # fmt: skip
            if late:
                cur.execute(
                    "DELETE FROM pg_temp.import_stage WHERE row_no = ANY(%s)",
                    ([p.row for p in late],),
                )
            step("compare", 1, 1)
            all_problems = sorted(problems.sorted() + late, key=lambda p: p.row)
            report.rejected = len({p.row for p in all_problems})
            report.problems = all_problems[:MAX_PROBLEMS]
            report.valid = report.rows - report.rejected
            if report.rejected and not opts.skip_invalid:
                conn.rollback()
                report.seconds = time.perf_counter() - started
                raise ImportRejected(report)
            step("write", 0, 1)
            cur.execute(
                "SELECT inserted, updated, unassigned FROM gridmap_import_apply("
                "%s::regclass, %s, %s)",
                (target.table, cols, opts.update),
            )
            inserted, updated, unassigned = cur.fetchone()
            report.inserted, report.updated = int(inserted), int(updated)
            report.unassigned = int(unassigned)
            if target.name == "compounds":
                cur.execute("SELECT gridmap_assign_compounds()")
                report.notes.append(f"{cur.fetchone()[0]:,} buildings gained their compound")
            step("write", 1, 1)
            if opts.dry_run:
                conn.rollback()
            else:
                conn.commit()
                report.written = True
    except psycopg2.Error as exc:
        conn.rollback()
        message = (exc.diag.message_primary if exc.diag else None) or str(exc).strip()
        raise ImportProblem(
            f"The database refused the import: {message}; nothing was written",
            hint=(exc.diag.message_hint if exc.diag else None),
        ) from exc
    finally:
        conn.close()
    report.seconds = time.perf_counter() - started
    if audit and report.written:
        audit(report)
    return report
