"""SQL-injection and script payloads come back inert: in every query parameter of every
GET route (enumerated), in the sign-in form, and in case titles, descriptions and
addresses — escaped in HTML and XML, plain strings in JSON, never a 500, tables intact."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from dash import Dash
from markupsafe import escape
from sqlalchemy import text

from gridmap.db.engine import get_engine
from tests.gridmap.access.conftest import Town
from tests.gridmap.access.test_routes import STATIC_ENDPOINTS, rules, url_for
from tests.signin import ensure_account, signed_in_session

PAYLOADS = [
    "'; DROP TABLE cases;--",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
]
#: Query parameters the routes take (filters, ids, windows, paging, language, formats).
PARAMS = ("q", "status", "category", "subcategory", "source", "grid_id", "bbox", "since",
          "until", "service_code", "service_request_id", "start_date", "end_date",
          "device_id", "shift_id", "window", "end", "limit", "offset", "lang", "next", "f",
          "filter", "datetime", "kind", "code", "name", "layers", "format")  # fmt: skip
TABLES = ("cases", "case_events", "buildings", "grids", "users", "audit_log")


def counts(town: Town) -> dict[str, int]:
    with get_engine(town.url).connect() as conn:
        return {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in TABLES
            if t != "audit_log"
        }


def assert_inert(response: requests.Response, payload: str, where: str) -> None:
    assert response.status_code < 500, (where, response.status_code, response.text[:300])
    kind = response.headers.get("Content-Type", "")
    if "html" in kind or "xml" in kind:
        assert payload not in response.text or "<" not in payload, (where, "unescaped")


@pytest.fixture(scope="module")
def admin_http(base_url: str, town: Town) -> requests.Session:
    return signed_in_session(base_url, *ensure_account(town.url, "admin"))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_in_every_query_parameter(
    access_app: Dash, base_url: str, town: Town, admin_http: requests.Session, payload: str
) -> None:
    before = counts(town)
    checked = 0
    for rule in rules(access_app):
        if rule.endpoint in STATIC_ENDPOINTS or rule.endpoint == "access.logout":
            continue
        if "GET" not in rule.methods:
            continue
        path = url_for(access_app, rule, town)
        response = admin_http.get(base_url + path, params={p: payload for p in PARAMS}, timeout=60)
        assert_inert(response, payload, path)
        checked += 1
    for name in ("status", "category", "grid_id", "bbox", "since"):  # one at a time too
        response = admin_http.get(base_url + "/api/v1/cases", params={name: payload}, timeout=30)
        assert response.status_code == 400, (name, response.text[:200])
        assert response.json()["error"]["problems"][0]["field"] == name
    assert checked >= 20
    assert counts(town) == before


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_as_username_is_escaped(base_url: str, payload: str) -> None:
    http = requests.Session()
    page = http.get(base_url + "/login", params={"next": payload, "lang": payload}, timeout=10)
    assert page.status_code == 200 and payload not in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    refused = http.post(
        base_url + "/login",
        data={"username": payload, "password": payload, "csrf_token": token, "next": payload},
        timeout=10,
    )
    assert refused.status_code == 401
    assert payload not in refused.text and str(escape(payload)) in refused.text


def test_payloads_in_case_text_come_back_as_text(
    base_url: str, town: Town, admin_http: requests.Session
) -> None:
    before = counts(town)
    ids = []
    for payload in PAYLOADS:
        body = {"title": payload, "description": payload, "address": payload,
                "category": "municipal", "lon": 118.775, "lat": 32.045}  # fmt: skip
        created = admin_http.post(base_url + "/api/v1/cases", json=body, timeout=30)
        assert created.status_code == 201, created.text
        case = created.json()
        assert (case["title"], case["description"], case["address"]) == (payload,) * 3
        assert created.headers["Content-Type"].startswith("application/json")
        ids.append(case["id"])
        again = admin_http.get(f"{base_url}/api/v1/cases/{case['id']}", timeout=30).json()
        assert again["description"] == payload
        xml = admin_http.get(f"{base_url}/open311/v2/requests/{case['code']}.xml", timeout=30)
        assert xml.status_code == 200 and "<script>" not in xml.text
        parsed = ET.fromstring(xml.content)  # well-formed: the payload is escaped text
        assert parsed.find(".//description").text == payload
    after = counts(town)
    assert after["cases"] == before["cases"] + len(PAYLOADS)
    assert {k: v for k, v in after.items() if k not in ("cases", "case_events")} == {
        k: v for k, v in before.items() if k not in ("cases", "case_events")
    }
    with get_engine(town.url).connect() as conn:
        stored = conn.execute(
            text("SELECT description FROM cases WHERE id = ANY(:ids) ORDER BY id"), {"ids": ids}
        ).scalars()
        assert list(stored) == PAYLOADS
