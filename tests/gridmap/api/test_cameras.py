"""Nearest online cameras of a case over HTTP: offline/fault cameras skipped, radius and
limit honoured, nearest first, distances in metres on the WGS84 spheroid."""

from __future__ import annotations

import pytest

from tests.gridmap.cases.world import CAMERAS, GEOD, INSIDE, Api, camera_position, insert_case


def expected(codes: list[str]) -> list[tuple[str, float]]:
    out = []
    for code, dist, az, _ in CAMERAS:
        if code in codes:
            lon, lat = camera_position(dist, az)
            _, _, metres = GEOD.inv(*INSIDE[1], lon, lat)
            out.append((code, metres))
    return out


@pytest.fixture(scope="module")
def case_id(api: Api) -> int:
    return insert_case(api.url, "reported", point=INSIDE[1])


def test_detail_lists_online_cameras_within_300_m(api: Api, case_id: int) -> None:
    cams = api.get(f"/api/v1/cases/{case_id}").json()["cameras"]
    assert [c["code"] for c in cams] == ["CAM-050", "CAM-200", "CAM-299"]
    for cam, (code, metres) in zip(cams, expected(["CAM-050", "CAM-200", "CAM-299"]), strict=True):
        assert cam["code"] == code
        assert cam["distance_m"] == pytest.approx(metres, abs=0.06)
        assert cam["status"] == "online"
    assert [round(c["distance_m"]) for c in cams] == [50, 200, 299]


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ("", ["CAM-050", "CAM-200", "CAM-299"]),
        ("?limit=2", ["CAM-050", "CAM-200"]),
        ("?radius_m=100", ["CAM-050"]),
        ("?radius_m=1000", ["CAM-050", "CAM-200", "CAM-299", "CAM-301", "CAM-600"]),
        ("?radius_m=1000&limit=4", ["CAM-050", "CAM-200", "CAM-299", "CAM-301"]),
        ("?radius_m=10", []),
    ],
)
def test_radius_and_limit(api: Api, case_id: int, query: str, codes: list[str]) -> None:
    r = api.get(f"/api/v1/cases/{case_id}/cameras{query}")
    assert r.status_code == 200
    assert [c["code"] for c in r.json()] == codes
    distances = [c["distance_m"] for c in r.json()]
    assert distances == sorted(distances)


def test_case_without_location_has_no_cameras(api: Api) -> None:
    r = api.post("/api/v1/cases", json={"title": "电话咨询", "subcategory": "policy_inquiry"})
    assert r.json()["cameras"] == []


@pytest.mark.parametrize("query", ["?radius_m=0", "?radius_m=x", "?limit=51"])
def test_bad_camera_parameters(api: Api, case_id: int, query: str) -> None:
    r = api.get(f"/api/v1/cases/{case_id}/cameras{query}")
    assert r.status_code == 400
