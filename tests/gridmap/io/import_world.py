"""The tiny known city (tests.layers.seed: 120.00–120.10 E, 30.00–30.10 N, communities C1
west and C2 east) as the import target, and helpers to write import files at test time."""

from __future__ import annotations

import geopandas as gpd
import psycopg2
import shapely
from sqlalchemy.engine import make_url

from tests.conftest import make_test_database
from tests.layers.seed import seed

#: Grids to import: two 0.01° squares in the west community, one in the east.
GRID_ROWS = [
    {
        "code": "IG1",
        "name": "导入网格一",
        "lead_name": "赵敏",
        "box": (120.01, 30.01, 120.02, 30.02),
    },
    {"code": "IG2", "name": "导入网格二", "lead_name": None, "box": (120.02, 30.01, 120.03, 30.02)},
    {
        "code": "IG3",
        "name": "导入网格三",
        "lead_name": "钱亮",
        "box": (120.06, 30.06, 120.07, 30.07),
    },
]
#: Where the grids go, by spatial containment.
GRID_COMMUNITIES = {"IG1": "C1", "IG2": "C1", "IG3": "C2"}


def seeded_database(created: list[str], suffix: str) -> str:
    url = make_test_database(suffix)
    created.append(url)
    seed(url)
    return url


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(dsn(url)) as conn, conn.cursor() as cur:
        cur.execute(sql, params or None)
        rows = cur.fetchall()
    conn.close()
    return rows


def grids_frame(prefix: str = "") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": [prefix + r["code"] for r in GRID_ROWS],
            "name": [r["name"] for r in GRID_ROWS],
            "lead_name": [r["lead_name"] for r in GRID_ROWS],
        },
        geometry=[shapely.box(*r["box"]) for r in GRID_ROWS],
        crs=4326,
    )


def buildings_frame(prefix: str, n: int = 4) -> gpd.GeoDataFrame:
    """n building points in a row inside grid G1, with Chinese addresses."""
    return gpd.GeoDataFrame(
        {
            "code": [f"{prefix}{i}" for i in range(n)],
            "address": [f"测试路{i}号" for i in range(n)],
            "kind": ["residential", "商业", "mixed", "office"][:n] + ["residential"] * (n - 4),
            "population": [10 * i for i in range(n)],
            "elderly_alone": [i for i in range(n)],
        },
        geometry=[shapely.Point(120.011 + 0.002 * i, 30.013) for i in range(n)],
        crs=4326,
    )


def stored_grids(url: str, prefix: str) -> dict[str, tuple]:
    rows = query(
        url,
        "SELECT g.code, g.name, g.lead_name, c.code, ST_AsText(g.geom) FROM grids g "
        "JOIN communities c ON c.id = g.community_id WHERE g.code LIKE %s ORDER BY g.code",
        (prefix + "%",),
    )
    return {r[0]: (r[1], r[2], r[3], shapely.from_wkt(r[4])) for r in rows}


def count(url: str, table: str, prefix: str) -> int:
    return query(url, f"SELECT count(*) FROM {table} WHERE code LIKE %s", (prefix + "%",))[0][0]
