"""The OpenAPI document: valid OpenAPI 3.0, listing every API route the app registers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openapi_spec_validator import validate

from gridmap.catchall import is_catch_all
from gridmap.openapi.document import API_PREFIXES, build_document, openapi_path
from gridmap.web.app import create_app
from tests.gridmap.ogc.live import Live, serve


@pytest.fixture(scope="module")
def app_server(db_url: str):
    """The whole app's Flask server (every blueprint registered, as `gridmap serve` runs it)."""
    return create_app(db_url).server


@pytest.fixture(scope="module")
def live(db_url: str) -> Iterator[Live]:
    with serve(db_url) as server:
        yield server


def test_document_is_valid_and_lists_every_api_route(app_server) -> None:
    doc = build_document(app_server, "http://127.0.0.1:8050/")
    validate(doc)
    rules = [
        r
        for r in app_server.url_map.iter_rules()
        if r.rule.startswith(API_PREFIXES)
        and not is_catch_all(app_server.view_functions[r.endpoint])
    ]
    assert any(r.rule.startswith("/api/v1/cases") for r in rules)
    assert any(r.rule.startswith("/ogc/collections") for r in rules)
    missing = []
    for rule in rules:
        path, params = openapi_path(rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            operation = doc["paths"].get(path, {}).get(method.lower())
            if operation is None:
                missing.append(f"{method} {rule.rule}")
                continue
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == {p["name"] for p in params}, rule.rule
            assert operation["summary"], rule.rule
    assert not missing, f"routes missing from the OpenAPI document: {missing}"
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_ogc_operations_carry_their_parameters(app_server) -> None:
    doc = build_document(app_server)
    items = doc["paths"]["/ogc/collections/{collection_id}/items"]["get"]
    names = {p["name"] for p in items["parameters"]}
    assert {"collection_id", "bbox", "limit", "offset", "datetime", "f"} <= names
    content = items["responses"]["200"]["content"]
    assert {"application/geo+json", "text/html"} <= set(content)
    assert set(items["responses"]) >= {"200", "400", "404"}
    cases = doc["paths"]["/api/v1/cases/{case_id}"]["get"]
    assert cases["parameters"][0]["schema"]["type"] == "integer"
    open311 = doc["paths"]["/open311/v2/services.{fmt}"]["get"]
    assert open311["parameters"][0]["schema"]["enum"] == ["json", "xml"]


def test_document_and_docs_over_http(live: Live) -> None:
    response = live.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.oai.openapi+json")
    doc = response.json()
    validate(doc)
    assert doc["servers"] == [{"url": live.url + "/"}]
    page = live.get("/api/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert "http" not in page.text.split("<body>")[1].split("openapi.json")[0]  # no CDN
    script = live.get("/api/docs/static/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


def test_case_and_open311_operations_declare_their_contract(app_server) -> None:
    """Every case API and Open311 operation states its parameters, its body (POST) and
    every status it can answer; the body schemas are the doors' pydantic models."""
    doc = build_document(app_server)
    operations = [
        (path, method, op)
        for path, ops in doc["paths"].items()
        if path.startswith(("/api/v1/cases", "/api/v1/taxonomy", "/open311/"))
        for method, op in ops.items()
    ]
    assert len(operations) == 16
    for path, method, op in operations:
        codes = set(op["responses"])
        assert "200" in codes or "201" in codes, (path, method)
        assert "503" in codes, (path, method)
        if "discovery" not in path and "services" not in path:
            assert {"401", "403"} <= codes, (path, method)
        if method == "post":
            assert {"400", "413", "415"} <= codes, (path, method)
            assert "application/json" in op["requestBody"]["content"], (path, method)
    listing = doc["paths"]["/api/v1/cases"]["get"]
    status = next(p for p in listing["parameters"] if p["name"] == "status")
    assert (status["style"], status["explode"], status["schema"]["type"]) == (
        "form",
        False,
        "array",
    )
    post = doc["paths"]["/open311/v2/requests.{fmt}"]["post"]["requestBody"]["content"]
    assert set(post) == {"application/json", "application/x-www-form-urlencoded"}
    schemas = doc["components"]["schemas"]
    assert schemas["CaseIn"]["properties"]["title"]["maxLength"] == 200
    assert schemas["CaseIn"]["additionalProperties"] is False
