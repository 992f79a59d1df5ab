"""The household register of the whole city at city scale, filled by SQL
(``sql/demo/households_city.sql``) once the city's frames are loaded: about
``Scale.household_fill`` households (1.2M at city scale), ten-household units with leads
and 90 days of visits, in the loader's transaction. Python frames of that size would take
minutes to build and COPY through the row triggers; the SQL writes the triggers' columns
itself in about a minute. The compounds come from the generator (one per block of homes).
"""

from __future__ import annotations

import zlib
from datetime import datetime

import psycopg2.extensions

from gridmap.demo.names import GIVEN_CHARS, SURNAMES
from gridmap.settings import get_settings

#: Tables the fill writes (their rows are counted again after it).
TABLES = ("ten_household_units", "households", "visits")


def fill_sql() -> list[str]:
    """The fill's statements, in order."""
    text = (get_settings().sql_dir / "demo" / "households_city.sql").read_text("utf-8")
    return [s for s in text.split(";\n") if s.strip() and not _only_comments(s)]


def _only_comments(statement: str) -> bool:
    lines = statement.splitlines()
    return all(not line.strip() or line.lstrip().startswith("--") for line in lines)


def fill_households(
    cur: psycopg2.extensions.cursor, target: int, *, seed: int, anchor: datetime, tz: str
) -> dict[str, int]:
    """Fill about ``target`` households over the loaded city's homes, with units and 90
    days of visits before ``anchor`` (local days of ``tz``); rows per table written."""
    before = _counts(cur)
    params = {
        "target": int(target),
        # setseed takes -1..1: the seed's CRC spread over it (the same seed, the same city)
        "seed": zlib.crc32(f"households-{seed}".encode()) / 2**32 * 2 - 1,
        "anchor": anchor,
        "tz": tz,
        "surnames": list(SURNAMES),
        "given": list(GIVEN_CHARS),
    }
    for statement in fill_sql():
        cur.execute(statement, params)
    for table in TABLES:
        cur.execute(f"ANALYZE {table}")
    after = _counts(cur)
    return {t: after[t] - before[t] for t in TABLES}


def _counts(cur: psycopg2.extensions.cursor) -> dict[str, int]:
    out = {}
    for table in TABLES:
        cur.execute(f"SELECT count(*) FROM {table}")
        out[table] = int(cur.fetchone()[0])
    return out
