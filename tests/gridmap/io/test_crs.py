"""GCJ-02 and BD-09 → WGS84 against published reference pairs (independent of gridmap's
code), and the "wrong coordinate system" guess."""

from __future__ import annotations

import numpy as np
from pyproj import Geod, Transformer

from gridmap.io import crs

GEOD = Geod(ellps="WGS84")

#: (WGS84 lat, lon, GCJ-02 lat, lon): the reference table TESTS of the eviltransform
#: project's Python tests (googollee/eviltransform, python/test.py): Shanghai, Shenzhen,
#: Beijing.
EVILTRANSFORM_GCJ = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
]
#: WGS84 (116.404, 39.915) → BD-09 (116.41662724378733, 39.922699552216216): the
#: wgs84_to_bd09 test of coordtransform-rs, the Rust port of qichengzx/coordtransform
#: (the wandergis/coordtransform algorithm; its README pairs for the same point:
#: wgs84togcj02 → [116.41024449916938, 39.91640428150164]).
COORDTRANSFORM_BD = [((116.404, 39.915), (116.41662724378733, 39.922699552216216))]
COORDTRANSFORM_GCJ = [((116.404, 39.915), (116.41024449916938, 39.91640428150164))]


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def test_gcj02_to_wgs84_within_1m_of_reference_points() -> None:
    wgs_lat, wgs_lon, gcj_lat, gcj_lon = map(np.array, zip(*EVILTRANSFORM_GCJ, strict=True))
    extra = np.array(COORDTRANSFORM_GCJ)
    wgs_lon = np.append(wgs_lon, extra[:, 0, 0])
    wgs_lat = np.append(wgs_lat, extra[:, 0, 1])
    gcj_lon = np.append(gcj_lon, extra[:, 1, 0])
    gcj_lat = np.append(gcj_lat, extra[:, 1, 1])
    lon, lat = crs.gcj02_to_wgs84(gcj_lon, gcj_lat)
    error = metres(lon, lat, wgs_lon, wgs_lat)
    assert error.max() < 1.0, error
    # the offset itself is hundreds of metres, so the test is not trivially passed
    assert metres(gcj_lon, gcj_lat, wgs_lon, wgs_lat).min() > 100


def test_bd09_to_wgs84_within_1m_of_reference_point() -> None:
    (wgs, bd), = COORDTRANSFORM_BD  # fmt: skip
    lon, lat = crs.bd09_to_wgs84(np.array([bd[0]]), np.array([bd[1]]))
    assert metres(lon, lat, [wgs[0]], [wgs[1]])[0] < 1.0
    assert metres([bd[0]], [bd[1]], [wgs[0]], [wgs[1]])[0] > 500


def test_round_trip_is_sub_millimetre_over_a_city() -> None:
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(113.5, 114.5, 10_000), rng.uniform(22.3, 23.0, 10_000)
    back = crs.bd09_to_wgs84(*crs.wgs84_to_bd09(lon, lat))
    assert metres(back[0], back[1], lon, lat).max() < 0.001


def test_guess_names_the_likely_system() -> None:
    city = crs.Extent(120.0, 30.0, 120.1, 30.1)
    x, y = Transformer.from_crs(4326, 4549, always_xy=True).transform([120.05], [30.05])
    assert crs.guess_system(x, y, crs.WGS84, city).startswith("EPSG:4549")
    x, y = Transformer.from_crs(4326, 4528, always_xy=True).transform([120.05], [30.05])
    assert crs.guess_system(x, y, crs.WGS84, city).startswith("EPSG:4528")  # zone 40 prefix
    gx, gy = crs.wgs84_to_gcj02(np.array([120.099]), np.array([30.099]))
    assert crs.guess_system(gx, gy, crs.WGS84, city) == "GCJ-02 (Amap/Tencent)"
    assert crs.guess_system([30.05], [120.05], crs.WGS84, city) == "latitude/longitude swapped"
    assert crs.guess_system([0.0], [0.0], crs.WGS84, city) is None
