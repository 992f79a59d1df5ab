"""Open311 GeoReport v2 over HTTP: discovery, services, service definitions, requests
(GET/POST), one request and tokens, in JSON and XML with the spec's field names; statuses
mapped onto open/closed; errors as [{code, description}] / <errors><error>."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from gridmap.cases.taxonomy import get_taxonomy
from gridmap.settings import get_settings
from tests.gridmap.cases.world import BORDER_1_2, Api

SERVICE_FIELDS = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
#: The service codes an unknown one is told about.
CODES = ", ".join([*get_taxonomy().subcategories, *get_taxonomy().by_slug]) + ")"
POSTED_FIELDS = ["service_request_id", "token", "service_notice", "account_id"]
FORM = {
    "service_code": "garbage",
    "lat": "30.005",
    "long": "120.015",
    "description": "小区门口垃圾堆积\n已三天",
    "first_name": "王",
    "last_name": "五",
    "phone": "13900001111",
    "address_string": "幸福路1号",
}


def xml(r) -> ET.Element:
    assert r.headers["Content-Type"] == "text/xml; charset=utf-8"
    return ET.fromstring(r.content)


def children(el: ET.Element) -> list[str]:
    return [c.tag for c in el]


def post(api: Api, fmt: str = "json", **form) -> dict:
    r = api.post(f"/open311/v2/requests.{fmt}", data=FORM | form)
    assert r.status_code == 200, r.text
    return r.json()[0] if fmt == "json" else {c.tag: c.text for c in xml(r)[0]}


def test_discovery(api: Api) -> None:
    j = api.get("/open311/v2/discovery.json").json()
    assert list(j) == ["changeset", "contact", "key_service", "endpoints"]
    endpoint = j["endpoints"][0]
    assert endpoint == {
        "specification": "http://wiki.open311.org/GeoReport_v2",
        "url": api.base + "/open311/v2",
        "changeset": j["changeset"],
        "type": "production",
        "formats": ["text/xml", "application/json"],
    }
    root = xml(api.get("/open311/v2/discovery.xml"))
    assert root.tag == "discovery"
    assert children(root) == ["changeset", "contact", "key_service", "endpoints"]
    ep = root.find("endpoints/endpoint")
    assert children(ep) == ["specification", "url", "changeset", "type", "formats"]
    assert [f.text for f in ep.findall("formats/format")] == ["text/xml", "application/json"]


def test_services_json_and_xml(api: Api) -> None:
    tax = get_taxonomy()
    services = api.get("/open311/v2/services.json").json()
    assert len(services) == len(tax.subcategories) == 33
    assert all(list(s) == SERVICE_FIELDS for s in services)
    garbage = next(s for s in services if s["service_code"] == "garbage")
    assert garbage == {
        "service_code": "garbage",
        "service_name": "垃圾堆放",
        "description": "垃圾堆放 / Garbage pile: 受理自办类 (Accept and handle); "
        "time limit 48 h; priority 3",
        "metadata": False,
        "type": "realtime",
        "keywords": "垃圾堆放, Garbage pile, 环境卫生, Environment & sanitation",
        "group": "环境卫生",
    }
    root = xml(api.get("/open311/v2/services.xml"))
    assert root.tag == "services"
    assert len(root) == 33 and {e.tag for e in root} == {"service"}
    first = root[0]
    assert children(first) == SERVICE_FIELDS
    assert (first.findtext("service_code"), first.findtext("metadata"), first.findtext("type")) == (
        "neighbour_dispute",
        "false",
        "realtime",
    )


def test_service_definition(api: Api) -> None:
    assert api.get("/open311/v2/services/garbage.json").json() == {
        "service_code": "garbage",
        "attributes": [],
    }
    root = xml(api.get("/open311/v2/services/garbage.xml"))
    assert (root.tag, children(root)) == ("service_definition", ["service_code", "attributes"])
    r = api.get("/open311/v2/services/nothing.json")
    assert (r.status_code, r.json()) == (
        404,
        [{"code": 404, "description": "service_code 'nothing' not found"}],
    )


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_then_get_request(api: Api, fmt: str) -> None:
    posted = post(api, fmt)
    assert list(posted) == POSTED_FIELDS
    assert posted["service_request_id"].startswith("GM")
    assert posted["token"].startswith("o311-")
    assert posted["service_notice"] == "time limit 48 h (处置时限 48 小时)"
    assert posted["account_id"] is None
    rid = posted["service_request_id"]
    row = api.rows(
        "SELECT title, description, source, reporter_name, reporter_phone, address, "
        "grid_id, category, subcategory FROM cases WHERE code = :c",
        c=rid,
    )[0]
    assert tuple(row) == (
        "小区门口垃圾堆积",
        "小区门口垃圾堆积\n已三天",
        "open311",
        "王 五",
        "13900001111",
        "幸福路1号",
        2,
        "sanitation",
        "garbage",
    )
    got = api.get(f"/open311/v2/requests/{rid}.json").json()
    assert len(got) == 1 and list(got[0]) == REQUEST_FIELDS
    req = got[0]
    assert (
        req["service_request_id"],
        req["status"],
        req["service_code"],
        req["service_name"],
        req["lat"],
        req["long"],
        req["address"],
        req["agency_responsible"],
    ) == (rid, "open", "garbage", "垃圾堆放", 30.005, 120.015, "幸福路1号", "第2网格 (G2)")
    assert req["status_notes"] == "已上报 (reported): reported via open311"
    requested = datetime.fromisoformat(req["requested_datetime"])
    assert datetime.fromisoformat(req["expected_datetime"]) - requested == timedelta(hours=48)
    root = xml(api.get(f"/open311/v2/requests/{rid}.xml"))
    assert root.tag == "service_requests" and children(root) == ["request"]
    assert children(root[0]) == REQUEST_FIELDS
    assert root[0].findtext("service_request_id") == rid
    assert root[0].findtext("long") == "120.015"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_token_resolves_to_request(api: Api, fmt: str) -> None:
    posted = post(api)
    r = api.get(f"/open311/v2/tokens/{posted['token']}.{fmt}")
    if fmt == "json":
        assert r.json() == [
            {"service_request_id": posted["service_request_id"], "token": posted["token"]}
        ]
    else:
        root = xml(r)
        assert (root.tag, children(root[0])) == (
            "service_requests",
            ["service_request_id", "token"],
        )
    r = api.get(f"/open311/v2/tokens/nope.{fmt}")
    assert r.status_code == 404


def test_post_with_idempotency_key_uses_it_as_token(api: Api) -> None:
    headers = {"Idempotency-Key": "o311-client-7"}
    first = api.post("/open311/v2/requests.json", data=FORM, headers=headers).json()[0]
    second = api.post("/open311/v2/requests.json", data=FORM, headers=headers).json()[0]
    assert first == second
    assert first["token"] == "o311-client-7"
    assert api.scalar("SELECT count(*) FROM cases WHERE idempotency_key = 'o311-client-7'") == 1


def test_status_maps_onto_open_and_closed(api: Api) -> None:
    rid = post(api, description="路灯坏了", service_code="street_light")["service_request_id"]
    case_id = api.scalar("SELECT id FROM cases WHERE code = :c", c=rid)
    for step in ({"action": "dispatch", "grid_id": 1}, {"action": "accept"}):
        api.post(f"/api/v1/cases/{case_id}/actions", json={"actor": "甲"} | step)
    req = api.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert (req["status"], req["status_notes"]) == ("open", "已接单 (accepted)")
    for step in ({"action": "resolve", "note": "已更换灯泡"},):
        api.post(f"/api/v1/cases/{case_id}/actions", json={"actor": "甲"} | step)
    req = api.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert (req["status"], req["status_notes"]) == ("closed", "已办结 (resolved): 已更换灯泡")
    api.post(
        f"/api/v1/cases/{case_id}/actions",
        json={"actor": "甲", "action": "close", "satisfaction": 5},
    )
    req = api.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert req["status_notes"].startswith("已结案 (closed)")  # the label is i18n's
    closed = api.get("/open311/v2/requests.json?status=closed&service_code=street_light").json()
    assert rid in [r["service_request_id"] for r in closed]
    opened = api.get("/open311/v2/requests.json?status=open").json()
    assert rid not in [r["service_request_id"] for r in opened]
    assert all(r["status"] == "open" for r in opened)


def test_get_requests_by_ids_and_window(api: Api) -> None:
    a = post(api, description="路灯不亮 A")["service_request_id"]
    b = post(api, description="路灯不亮 B")["service_request_id"]  # not a repeat of a
    got = api.get(f"/open311/v2/requests.json?service_request_id={a},{b}").json()
    assert sorted(r["service_request_id"] for r in got) == sorted([a, b])
    root = xml(api.get(f"/open311/v2/requests.xml?service_request_id={a}"))
    assert [r.findtext("service_request_id") for r in root] == [a]
    old = (datetime.now(UTC) - timedelta(days=200)).isoformat()
    older = (datetime.now(UTC) - timedelta(days=150)).isoformat()
    assert (
        api.get("/open311/v2/requests.json", params={"start_date": old, "end_date": older}).json()
        == []
    )


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        ({"service_code": "ufo"}, ["service_code: unknown service_code 'ufo' (known: " + CODES]),
        ({"service_code": ""}, ["service_code: is required"]),
        (
            {"lat": "", "long": "", "address_string": ""},
            ["long: a location is required: lat and long, address_string or address_id"],
        ),
        ({"lat": "95"}, ["lat: must be between -90 and 90 (got '95')"]),
        ({"long": "abc"}, ["long: must be a number (got 'abc')"]),
        ({"description": "x" * 5001}, ["description: is too long (5001 characters; at most 5000)"]),
    ],
)
def test_post_errors_json_and_xml(api: Api, form: dict, errors: list[str]) -> None:
    before = api.scalar("SELECT count(*) FROM cases")
    r = api.post("/open311/v2/requests.json", data=FORM | form)
    assert r.status_code == 400
    assert r.json() == [{"code": 400, "description": e} for e in errors]
    r = api.post("/open311/v2/requests.xml", data=FORM | form)
    root = xml(r)
    assert (r.status_code, root.tag) == (400, "errors")
    assert [(e.findtext("code"), e.findtext("description")) for e in root] == [
        ("400", e) for e in errors
    ]
    assert all(children(e) == ["code", "description"] for e in root)
    assert api.scalar("SELECT count(*) FROM cases") == before


@pytest.mark.parametrize(
    ("query", "description"),
    [
        ("status=pending", "status: unknown status 'pending' (known: open, closed)"),
        ("service_code=ufo", "service_code: unknown service_code 'ufo' (known: " + CODES),
        (
            "start_date=2024-01-01T00:00:00Z&end_date=2024-06-01T00:00:00Z",
            "start_date: the window may span at most 90 days",
        ),
        ("start_date=last-week", "start_date: must be an ISO 8601 date-time (got 'last-week')"),
        ("end_date=0001-01-01", "end_date: must lie between 2000-01-01 and 2100-01-01"),
    ],
)
def test_get_requests_errors(api: Api, query: str, description: str) -> None:
    r = api.get(f"/open311/v2/requests.json?{query}")
    assert (r.status_code, r.json()) == (400, [{"code": 400, "description": description}])


def test_unknown_request_and_format(api: Api) -> None:
    r = api.get("/open311/v2/requests/GM999999999.xml")
    root = xml(r)
    assert (r.status_code, root.findtext("error/description")) == (
        404,
        "service_request_id 'GM999999999' not found",
    )
    assert api.get("/open311/v2/services.csv").status_code == 404


def test_border_point_goes_to_smallest_grid(api: Api) -> None:
    rid = post(api, lat=str(BORDER_1_2[1]), long=str(BORDER_1_2[0]))["service_request_id"]
    assert api.scalar("SELECT grid_id FROM cases WHERE code = :c", c=rid) == 1


def test_jurisdiction(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDMAP_OPEN311_JURISDICTION_ID", "city.example")
    get_settings.cache_clear()
    try:
        ok = api.get("/open311/v2/services.json?jurisdiction_id=city.example")
        bad = api.get("/open311/v2/services.json?jurisdiction_id=elsewhere")
    finally:
        get_settings.cache_clear()
    assert ok.status_code == 200
    assert (bad.status_code, bad.json()) == (
        404,
        [{"code": 404, "description": "jurisdiction_id 'elsewhere' not found"}],
    )
