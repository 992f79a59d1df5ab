"""Matching fixes to edges: the nearest edge within the match distance, as GEOS measures
it, on bent and multi-part edges; ties go to the lowest edge id."""

from __future__ import annotations

import numpy as np
import shapely

from gridmap.patrols.matching import EdgeMatcher

EDGES = {
    7: shapely.LineString([(120.000, 30.000), (120.002, 30.000), (120.002, 30.002)]),  # bent
    3: shapely.MultiLineString(
        [[(120.003, 30.000), (120.004, 30.000)], [(120.003, 30.001), (120.004, 30.0012)]]
    ),
    5: shapely.LineString([(120.004, 30.000), (120.005, 30.000)]),  # meets 3 at 120.004
}


def matcher() -> EdgeMatcher:
    return EdgeMatcher.from_geometries(np.array(list(EDGES)), np.array(list(EDGES.values())))


def test_nearest_edge_agrees_with_geos_distances() -> None:
    m = matcher()
    rng = np.random.default_rng(3)
    lon = rng.uniform(119.9995, 120.0055, 4000)
    lat = rng.uniform(29.9995, 30.0025, 4000)
    got = m.match(lon, lat, 25.0)
    x, y = m.transformer.transform(lon, lat)
    points = shapely.points(x, y)
    metric = {
        k: shapely.transform(g, lambda c: np.c_[m.transformer.transform(c[:, 0], c[:, 1])])
        for k, g in EDGES.items()
    }
    ids = sorted(metric)
    dist = np.array([shapely.distance(points, metric[k]) for k in ids])
    best = np.array(ids)[dist.argmin(axis=0)]
    want = np.where(dist.min(axis=0) <= 25.0, best, -1)
    close = np.sort(dist, axis=0)
    clear = close[1] - close[0] > 1e-6  # leave exact ties to the next test
    assert (got[clear] == want[clear]).all()
    assert (got >= 0).sum() > 500 and (got == -1).sum() > 500
    assert set(got[got >= 0]) == {3, 5, 7}


def test_a_fix_on_a_shared_end_goes_to_the_lower_id() -> None:
    assert matcher().match(np.array([120.004]), np.array([30.0001]), 25.0).tolist() == [3]


def test_nothing_within_reach_is_minus_one() -> None:
    assert matcher().match(np.array([120.1]), np.array([30.1]), 25.0).tolist() == [-1]
