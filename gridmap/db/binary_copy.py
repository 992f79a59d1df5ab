"""Numeric numpy columns into a session temp table with one binary COPY (PostgreSQL's
``PGCOPY`` format: fixed-width big-endian fields, no text formatting or parsing)."""

from __future__ import annotations

import io

import numpy as np

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


def copy_arrays(cur, table: str, columns: dict[str, np.ndarray]) -> None:
    """Replace the rows of temp table ``table`` (created on first use, columns typed from the
    arrays: bool, int32, int64, float64; NaN stays NaN) with the given equal-length arrays."""
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    types = {name: _pg_type(values) for name, values in arrays.items()}
    n = len(next(iter(arrays.values())))
    if any(len(v) != n for v in arrays.values()):
        raise ValueError("columns of different lengths")
    spec = ", ".join(f"{name} {pg}" for name, (pg, _) in types.items())
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({spec})")
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
