"""The batch jobs on Dask, cut into tiles through the dense middle of the demo city, give
exactly the single-process results (and would not without their overlap)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import shapely
from sqlalchemy import Engine, text

from gridmap import distributed
from gridmap.analytics.coverage import CoverageModel
from gridmap.analytics.isochrones import compute_isochrones
from gridmap.analytics.params import CircleParams
from gridmap.db.engine import get_engine
from gridmap.patrols.matching import matcher_for
from gridmap.patrols.visits import bucket_rows, read_pings, rebuild_visits
from gridmap.settings import get_settings

#: Tiles per job: 3 × 3, so the cuts cross the city's dense centre both ways.
TILES = 9


@pytest.fixture(scope="module")
def client() -> Iterator:
    """One local cluster of two worker processes for the module."""
    with distributed.dask_client(workers=2) as c:
        yield c


@pytest.fixture(scope="module")
def model(demo_url: str) -> CoverageModel:
    return CoverageModel.load(demo_url, CircleParams.from_settings())


@pytest.fixture(scope="module")
def single_rows(demo_engine: Engine) -> dict[str, np.ndarray]:
    """The demo's visit rows matched in this process."""
    s = get_settings()
    engine = demo_engine
    raw = engine.raw_connection()
    try:
        pings = read_pings(raw, s.patrol_max_accuracy_m)
    finally:
        raw.close()
    lon, lat = pings["lon"].to_numpy(), pings["lat"].to_numpy()
    edge = matcher_for(engine).match(lon, lat, s.patrol_match_m)
    return bucket_rows(pings["at"].to_numpy(), edge)


def _visit_rows(client, url: str, engine: Engine, overlap_m: float | None = None):
    s = get_settings()
    return distributed.visit_rows(
        client, url, matcher_for(engine), max_accuracy_m=s.patrol_max_accuracy_m,
        match_m=s.patrol_match_m, tiles=TILES, overlap_m=overlap_m,
    )  # fmt: skip


def _equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_tiles_cover_the_plane_once() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=500), rng.normal(size=500)
    tiles = distributed.cut_tiles(x, y, TILES)
    owners = np.sum([t.holds(x, y) for t in tiles], axis=0)
    assert len(tiles) == TILES
    assert owners.tolist() == [1] * 500
    assert sorted(int(t.holds(x, y).sum()) for t in tiles)[0] >= 500 // TILES - 2


def test_patrol_visit_rows_equal_single_process(client, demo_url, demo_engine, single_rows) -> None:
    single = single_rows
    rows, counts = _visit_rows(client, demo_url, demo_engine)
    assert len(single["edge_id"]) > 1000
    assert counts["tiles"] == TILES
    assert _equal(rows, single)


def test_patrol_visits_without_overlap_differ(client, demo_url, demo_engine, single_rows) -> None:
    rows, _ = _visit_rows(client, demo_url, demo_engine, overlap_m=0.0)
    assert not _equal(rows, single_rows)


def test_patrol_rebuild_writes_the_single_process_tables(client, demo_url, demo_engine) -> None:
    """Both rebuilds write in a transaction that is rolled back (the demo stays as it is)."""
    s = get_settings()
    read = (
        "SELECT edge_id, bucket, first_at, last_at FROM edge_visits ORDER BY 1, 2",
        "SELECT edge_id, last_at FROM edge_last_visit ORDER BY 1",
    )
    tables = []
    for dask in (False, True):
        raw = demo_engine.raw_connection()
        try:
            if dask:
                stats = distributed.rebuild_visits(
                    client, demo_url, matcher_for(demo_engine), conn=raw, tiles=TILES,
                    max_accuracy_m=s.patrol_max_accuracy_m, match_m=s.patrol_match_m,
                )  # fmt: skip
            else:
                stats = rebuild_visits(
                    raw, matcher_for(demo_engine), max_accuracy_m=s.patrol_max_accuracy_m,
                    match_m=s.patrol_match_m,
                )  # fmt: skip
            with raw.cursor() as cur:
                got = []
                for sql in read:
                    cur.execute(sql)
                    got.append(cur.fetchall())
            counts = {k: stats[k] for k in ("pings", "matched", "visits", "edges")}
            tables.append((counts, got))
        finally:
            raw.rollback()
            raw.close()
    assert tables[0][0]["visits"] > 1000
    assert tables[1] == tables[0]


def test_coverage_walks_equal_single_process(client, model: CoverageModel) -> None:
    single = model.walks()
    walks = distributed.coverage_walks(client, model, tiles=TILES)
    assert all(np.isfinite(w).sum() > 100 for w in single.values())
    assert walks.keys() == single.keys()
    for kind in single:
        assert np.array_equal(walks[kind], single[kind]), kind


def test_coverage_with_a_short_overlap_differs(client, model: CoverageModel) -> None:
    short = model.params.max_reach_m / 4
    walks = distributed.coverage_walks(client, model, tiles=TILES, radius=short)
    assert any(not np.array_equal(walks[k], w) for k, w in model.walks().items())


def test_isochrones_equal_single_process(client, model: CoverageModel) -> None:
    single = compute_isochrones(model)
    got = distributed.isochrones(client, model, tiles=TILES)
    assert len(single) > 10
    assert [(i.point_id, i.kind, i.minutes, i.reach_m) for i in got] == [
        (i.point_id, i.kind, i.minutes, i.reach_m) for i in single
    ]
    assert all(shapely.equals_exact(a.geom, b.geom, 0) for a, b in zip(got, single, strict=True))


def test_compute_all_on_dask_stores_the_single_process_circles(client, _created) -> None:
    from gridmap.derived import compute_all
    from tests.conftest import make_test_database
    from tests.gridmap.analytics.toy import seed_toy

    url = make_test_database("dask_toy")
    _created.append(url)
    seed_toy(url)
    stored = (
        "SELECT building_id, snap_m, walk_m FROM building_access ORDER BY 1",
        "SELECT service_point_id, kind, minutes, reach_m, ST_AsBinary(geom) "
        "FROM service_isochrones ORDER BY 1, 3",
    )
    runs = []
    for on in (client, None):
        compute_all(url, steps=("coverage", "isochrones"), params=CircleParams(), client=on)
        with get_engine(url).connect() as conn:
            runs.append([conn.execute(text(sql)).all() for sql in stored])
    assert len(runs[0][0]) == 7 and len(runs[0][1]) == 3
    assert runs[0] == runs[1]
