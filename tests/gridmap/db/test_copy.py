"""Numpy columns into a temp table with one binary COPY: values come back exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlalchemy import Engine

from gridmap.db.copy import copy_arrays

pytestmark = pytest.mark.pooled  # a database access path (make test-pooled)


def test_columns_round_trip_exactly(engine: Engine) -> None:
    columns = {
        "i": np.array([0, -1, 2**31 - 1], dtype=np.int32),
        "t": np.array([-(2**62), 0, 1_763_798_400_123_456], dtype=np.int64),
        "x": np.array([120.123456789012345, math.nan, -math.inf]),
        "ok": np.array([True, False, True]),
    }
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            copy_arrays(cur, "bc_test", columns)
            copy_arrays(cur, "bc_test", columns)  # replaces the rows
            cur.execute("SELECT i, t, x, ok FROM bc_test ORDER BY i")
            rows = cur.fetchall()
            cur.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'bc_test'::regclass AND attnum > 0 ORDER BY attnum"
            )
            types = [r[0] for r in cur.fetchall()]
            copy_arrays(cur, "bc_test", {k: v[:0] for k, v in columns.items()})
            cur.execute("SELECT count(*) FROM bc_test")
            assert cur.fetchone()[0] == 0
    finally:
        raw.rollback()
        raw.close()
    assert types == ["integer", "bigint", "double precision", "boolean"]
    assert rows[0] == (-1, 0, rows[0][2], False) and math.isnan(rows[0][2])
    assert rows[1] == (0, -(2**62), 120.123456789012345, True)
    assert rows[2] == (2**31 - 1, 1_763_798_400_123_456, -math.inf, True)


def test_unsupported_types_and_ragged_columns_are_refused(engine: Engine) -> None:
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            with pytest.raises(TypeError, match="float32"):
                copy_arrays(cur, "bc_bad", {"x": np.zeros(2, dtype=np.float32)})
            with pytest.raises(ValueError, match="lengths"):
                copy_arrays(cur, "bc_bad", {"a": np.zeros(2), "b": np.zeros(3)})
    finally:
        raw.rollback()
        raw.close()


def test_the_table_ends_with_the_transaction(engine: Engine) -> None:
    """Nothing outlives the transaction on the server connection (pgbouncer may lend it to
    another client next); an autocommit cursor is refused."""
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            copy_arrays(cur, "bc_ends", {"i": np.arange(3, dtype=np.int32)})
            raw.commit()
            cur.execute("SELECT to_regclass('pg_temp.bc_ends')")
            assert cur.fetchone() == (None,)
        raw.rollback()
        raw.driver_connection.autocommit = True
        with raw.cursor() as cur, pytest.raises(ValueError, match="needs a transaction"):
            copy_arrays(cur, "bc_ends", {"i": np.arange(3, dtype=np.int32)})
    finally:
        raw.driver_connection.autocommit = False
        raw.close()
