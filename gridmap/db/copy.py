"""Bulk loading with PostgreSQL COPY, in its two formats.

- :func:`copy_frame`: a pandas frame into a table as CSV. One COPY per table, fed by a
  stream that formats the next chunk only when PostgreSQL asks for more, so the Python side
  formatting and the server side parsing overlap and memory stays at one chunk. Geometries
  go as hex EWKB (SRID 4326), timestamps as ISO 8601 UTC.
- :func:`copy_arrays`: numeric numpy columns into a temp table dropped at commit, with one
  binary COPY (PostgreSQL's ``PGCOPY`` format: fixed-width big-endian fields, no text
  formatting or parsing). Nothing outlives the transaction, so the server connection can
  be lent to another client next (pgbouncer in transaction mode, :mod:`gridmap.db.pgbouncer`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import shapely
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

SRID = 4326
#: Hex EWKB of a point: byte order, type with SRID flag, SRID, x, y (25 bytes).
_POINT_EWKB = np.dtype([("bo", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")])


def point_ewkb_hex(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Hex EWKB strings of points (vectorised, no geometry objects)."""
    rec = np.empty(len(lon), dtype=_POINT_EWKB)
    rec["bo"] = 1
    rec["type"] = 0x20000001
    rec["srid"] = SRID
    rec["x"] = lon
    rec["y"] = lat
    hexed = rec.tobytes().hex().upper().encode("ascii")
    return np.frombuffer(hexed, dtype=f"S{2 * _POINT_EWKB.itemsize}").astype("U").astype(object)


def geometry_ewkb_hex(geoms: np.ndarray) -> np.ndarray:
    """Hex EWKB strings of shapely geometries (None stays None)."""
    g = shapely.set_srid(np.asarray(geoms, dtype=object), SRID)
    return shapely.to_wkb(g, hex=True, include_srid=True)


def _timestamps(col: pd.Series) -> np.ndarray:
    """ISO 8601 UTC strings ("2026-11-21T08:00:00Z"); NaT → None."""
    values = col.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
    text = np.datetime_as_string(values, unit="s", timezone="UTC").astype(object)
    nat = np.isnat(values)
    if nat.any():
        text[nat] = None
    return text


def copy_columns(frame: pd.DataFrame) -> list[str]:
    """The table columns a frame fills (``lon``/``lat`` become ``geom``)."""
    cols = [c for c in frame.columns if c not in ("lon", "lat")]
    if "lon" in frame.columns:
        cols.append("geom")
    return cols


def _chunk_csv(part: pd.DataFrame) -> bytes:
    out = {}
    for name in part.columns:
        if name in ("lon", "lat"):
            continue
        col = part[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            out[name] = _timestamps(col)
        elif (
            col.dtype == object
            and len(col)
            and isinstance(col.iloc[0], shapely.Geometry | type(None))
            and name in ("geom", "footprint")
        ):
            out[name] = geometry_ewkb_hex(col.to_numpy())
        else:
            out[name] = col.to_numpy() if col.dtype != "Int16" else col
    if "lon" in part.columns:
        out["geom"] = point_ewkb_hex(part["lon"].to_numpy(), part["lat"].to_numpy())
    buf = io.StringIO()
    pd.DataFrame(out, copy=False).to_csv(buf, header=False, index=False, na_rep="")
    return buf.getvalue().encode("utf-8")


class _ChunkStream(io.RawIOBase):
    """A read-only byte stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._view = memoryview(b"")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._pos >= len(self._view):
            nxt = next(self._chunks, None)
            if nxt is None:
                return b""
            self._view, self._pos = memoryview(nxt), 0
        end = len(self._view) if size < 0 else self._pos + size
        out = self._view[self._pos : end].tobytes()
        self._pos += len(out)
        return out


def copy_frame(
    cur: Cursor,
    table: str,
    frame: pd.DataFrame,
    *,
    chunk_rows: int = 100_000,
    on_rows: Callable[[int], object] | None = None,
) -> int:
    """COPY a generated frame into ``table``; return the number of rows sent."""
    cols = copy_columns(frame)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(frame), chunk_rows):
            part = frame.iloc[start : start + chunk_rows]
            data = _chunk_csv(part)
            if on_rows:
                on_rows(len(part))
            yield data

    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cols))
    )
    cur.copy_expert(stmt.as_string(cur), _ChunkStream(chunks()), size=1 << 20)
    return len(frame)


#: numpy kind + item size → (PostgreSQL type, big-endian numpy type).
_TYPES: dict[tuple[str, int], tuple[str, str]] = {
    ("b", 1): ("boolean", "?"),
    ("i", 4): ("integer", ">i4"),
    ("i", 8): ("bigint", ">i8"),
    ("f", 8): ("double precision", ">f8"),
}
_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)


def _pg_type(values: np.ndarray) -> tuple[str, str]:
    key = (values.dtype.kind, values.dtype.itemsize)
    if key not in _TYPES:
        raise TypeError(f"no binary COPY for numpy dtype {values.dtype}")
    return _TYPES[key]


def copy_arrays(cur: Cursor, table: str, columns: dict[str, np.ndarray]) -> None:
    """Replace the rows of temp table ``table`` (created on first use in the transaction and
    dropped at its commit, columns typed from the arrays: bool, int32, int64, float64; NaN
    stays NaN) with the given equal-length arrays. ``cur`` must be inside a transaction."""
    if cur.connection.autocommit:
        raise ValueError("copy_arrays needs a transaction (the temp table ends with it)")
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    types = {name: _pg_type(values) for name, values in arrays.items()}
    n = len(next(iter(arrays.values())))
    if any(len(v) != n for v in arrays.values()):
        raise ValueError("columns of different lengths")
    spec = ", ".join(f"{name} {pg}" for name, (pg, _) in types.items())
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({spec}) ON COMMIT DROP")
    cur.execute(f"TRUNCATE {table}")
    if n == 0:
        return
    fields = [("count", ">i2")]
    for k, (_, be) in enumerate(types.values()):
        fields += [(f"len{k}", ">i4"), (f"val{k}", be)]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(arrays)
    for k, (name, (_, be)) in enumerate(types.items()):
        rows[f"len{k}"] = np.dtype(be).itemsize
        rows[f"val{k}"] = arrays[name]
    payload = io.BytesIO(_HEADER + rows.tobytes() + _TRAILER)
    cur.copy_expert(f"COPY {table} ({', '.join(arrays)}) FROM STDIN WITH (FORMAT binary)", payload)
