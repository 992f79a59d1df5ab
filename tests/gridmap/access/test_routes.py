"""Every route and every Dash callback, enumerated from the app (not listed by hand):

- each Flask endpoint is classified in gridmap.access.policy (a new one fails here until
  its author classifies it);
- anonymous callers get the sign-in page (pages) or 401 (everything else), except the
  public routes;
- a grid lead aiming at another grid (its ids, codes, bounding box, cases, shifts) gets
  nothing of it from any HTTP route or Dash callback: no response holds a code or name
  of the foreign grid's data, and nothing fails for the lead that works for an admin.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import dash
import plotly.io
import pytest
import requests
from dash import Dash
from dash._utils import split_callback_id
from plotly import graph_objects as go
from plotly.io.json import to_json_plotly
from werkzeug.routing import Rule

from gridmap.access import Role
from gridmap.access.pages import callback_roles
from gridmap.access.policy import Access, classified
from layers import LAYERS
from tests.gridmap.access.conftest import LEAD, LEAD_PASSWORD, Town
from tests.signin import ensure_account, signed_in_session

PAGE_ENDPOINTS = {"/", "/<path:path>"}
STATIC_ENDPOINTS = {
    "static",
    "_dash_assets.static",
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
    "/_favicon.ico",
}
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def rules(app: Dash) -> list[Rule]:
    return sorted(app.server.url_map.iter_rules(), key=lambda r: r.rule)


def methods(rule: Rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def path_values(rule: Rule, town: Town) -> dict[str, Any]:
    """Values of the rule's arguments aimed at the foreign grid."""
    minx, miny, maxx, maxy = town.foreign_bbox
    x, y = tile_of((minx + maxx) / 2, (miny + maxy) / 2, 16)
    known = {
        "case_id": town.foreign_case_ids[0],
        "shift_id": town.foreign_shift_id or 1,
        "grid_id": town.foreign_grid_id,
        "request_id": town.foreign_case_codes[0],
        "token": town.foreign_case_codes[0],
        "fmt": "json",
        "format": "json",
        "code": "street_light",
        "z": 16,
        "x": x,
        "y": y,
        "path": "plan",
        "filename": "gridmap.css",
        "collection_id": "cases",
        "collectionId": "cases",
        "featureId": town.foreign_case_ids[0],
        "feature_id": town.foreign_case_ids[0],
        "item_id": town.foreign_case_ids[0],
        "layer": "cases",
        "layer_id": "cases",
        "job_id": "x",
    }
    return {arg: known.get(arg, "1") for arg in rule.arguments}


def url_for(app: Dash, rule: Rule, town: Town) -> str:
    adapter = app.server.url_map.bind("localhost")
    return adapter.build(rule.endpoint, path_values(rule, town), method=methods(rule)[0])


def foreign_query(town: Town) -> dict[str, str]:
    minx, miny, maxx, maxy = town.foreign_bbox
    return {
        "grid_id": str(town.foreign_grid_id),
        "bbox": f"{minx},{miny},{maxx},{maxy}",
    }


def leaked(body: str, town: Town, sent: str = "") -> list[str]:
    """The foreign grid's codes and names found in a response body (those the request
    itself carried, e.g. echoed in a "not found" message, do not count)."""
    found = []
    for marker in town.markers:
        if marker in sent:
            continue
        if re.search(rf"(?<![0-9A-Za-z]){re.escape(marker)}(?![0-9])", body):
            found.append(marker)
    return found


@pytest.fixture(scope="module")
def lead_http(base_url: str) -> requests.Session:
    return signed_in_session(base_url, LEAD, LEAD_PASSWORD)


@pytest.fixture(scope="module")
def admin_http(base_url: str, town: Town) -> requests.Session:
    return signed_in_session(base_url, *ensure_account(town.url, "admin"))


def test_every_route_is_classified(access_app: Dash) -> None:
    missing = [
        f"{rule.rule} (endpoint {rule.endpoint!r}, {', '.join(methods(rule))})"
        for rule in rules(access_app)
        if classified(rule.endpoint, access_app.server.view_functions.get(rule.endpoint)) is None
    ]
    assert not missing, (
        "routes without an access level: " + "; ".join(missing) + ". Decorate each view with "
        "@gridmap.access.policy.allow(Access.<LEVEL>) below its route decorator (or, for a "
        "library's endpoint, add it to gridmap.access.policy.ENDPOINTS); see "
        "/work/notes/access-howto.md"
    )


def test_anonymous_gets_the_sign_in_page_or_401(access_app: Dash, base_url: str, town: Town):
    checked = 0
    for rule in rules(access_app):
        view = access_app.server.view_functions.get(rule.endpoint)
        level = classified(rule.endpoint, view)
        if rule.endpoint in STATIC_ENDPOINTS:
            continue
        for method in methods(rule):
            url = base_url + url_for(access_app, rule, town)
            response = requests.request(method, url, timeout=30, allow_redirects=False)
            where = f"{method} {rule.rule}"
            checked += 1
            if level is Access.PUBLIC:
                assert response.status_code not in (401, 403), where
                assert not response.headers.get("Location", "").startswith("/login?next"), where
            elif rule.endpoint in PAGE_ENDPOINTS and method == "GET":
                assert response.status_code == 302, where
                assert response.headers["Location"].startswith("/login?next="), where
            else:
                assert response.status_code == 401, (where, response.status_code)
                assert response.headers["WWW-Authenticate"].startswith("Bearer"), where
    for page in dash.page_registry.values():  # every page, also by its own path
        response = requests.get(base_url + page["path"], timeout=30, allow_redirects=False)
        assert response.status_code == 302, page["path"]
        assert response.headers["Location"].startswith("/login?next="), page["path"]
        html = requests.get(base_url + page["path"], timeout=30).text
        assert 'id="login-form"' in html, page["path"]
    assert checked >= 30


def _get_routes(app: Dash) -> Iterator[Rule]:
    for rule in rules(app):
        if rule.endpoint in STATIC_ENDPOINTS or rule.endpoint == "access.logout":
            continue  # (signing out would end the test's session)
        if "GET" in rule.methods:
            yield rule


def test_lead_gets_nothing_of_another_grid_over_http(
    access_app: Dash,
    base_url: str,
    town: Town,
    lead_http: requests.Session,
    admin_http: requests.Session,
) -> None:
    admin_saw = []
    for rule in _get_routes(access_app):
        path = url_for(access_app, rule, town)
        for params in ({}, foreign_query(town)):
            lead = lead_http.get(base_url + path, params=params, timeout=60)
            where = f"GET {path} {params or ''}"
            assert not leaked(lead.text, town, where), (where, leaked(lead.text, town, where))
            admin = admin_http.get(base_url + path, params=params, timeout=60)
            if admin.status_code < 500:
                assert lead.status_code < 500, (where, lead.status_code, lead.text[:300])
            if leaked(admin.text, town, where):
                admin_saw.append(where)
    pages = [p["path"] for p in dash.page_registry.values()]
    for path in pages:
        assert not leaked(lead_http.get(base_url + path, timeout=60).text, town), path
    # The probes reach the foreign grid's data (for an admin), so the check is not vacuous.
    assert any("/api/v1/cases" in w for w in admin_saw), admin_saw


def test_lead_cannot_act_on_another_grids_records(
    base_url: str, town: Town, lead_http: requests.Session
) -> None:
    case_id = town.foreign_case_ids[0]
    act = lead_http.post(
        f"{base_url}/api/v1/cases/{case_id}/actions",
        json={"action": "close", "actor": LEAD, "note": "x"},
        timeout=30,
    )
    assert act.status_code == 404 and not leaked(act.text, town, str(case_id))
    if town.foreign_shift_id:
        end = lead_http.post(
            f"{base_url}/api/v1/patrols/shifts/{town.foreign_shift_id}/end", json={}, timeout=30
        )
        assert end.status_code == 404


# -- Dash callbacks ----------------------------------------------------------------------------


def _layout_props(app: Dash) -> dict[str, dict[str, Any]]:
    """Props of every component with a string id in every page's layout (as the admin)."""
    from flask import g

    from gridmap.access import G_USER, Role, User

    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, list | tuple):
            for child in node:
                walk(child)
            return
        if not hasattr(node, "to_plotly_json"):
            return
        props = node.to_plotly_json()["props"]
        if isinstance(props.get("id"), str):  # as the browser has them (JSON)
            found[props["id"]] = json.loads(to_json_plotly(props))
        for value in props.values():
            if hasattr(value, "to_plotly_json") or isinstance(value, list | tuple):
                walk(value)

    admin = User(1, "admin", "admin", Role.ADMIN)
    for page in dash.page_registry.values():
        with app.server.test_request_context(page["path"]):
            setattr(g, G_USER, admin)
            layout = page["layout"]
            try:
                walk(layout() if callable(layout) else layout)
            except Exception:  # a page that cannot lay out without data: its defaults stay
                continue
    return found


def _probe(cid: str, prop: str, defaults: dict[str, dict[str, Any]], town: Town) -> Any:
    """A value for one callback input aimed at the foreign grid (else the page default)."""
    minx, miny, maxx, maxy = town.foreign_bbox
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    view = {"center": [cx, cy], "zoom": 16.0, "bbox": [minx, miny, maxx, maxy]}
    point = {
        "lon": cx,
        "lat": cy,
        "id": town.foreign_case_ids[0],
        "customdata": [town.foreign_case_ids[0], town.foreign_grid_id],
        "pointIndex": 0,
        "curveNumber": 0,
    }
    name = cid.lower()
    if prop == "relayoutData":
        corners = [[minx, maxy], [maxx, maxy], [maxx, miny], [minx, miny]]
        return {"map.center": {"lon": cx, "lat": cy}, "map.zoom": 16.0,
                "map._derived": {"coordinates": corners}}  # fmt: skip
    if prop == "clickData":
        return {"points": [point]}
    if prop == "selectedData":
        return {"points": [point], "range": {"map": [[minx, maxy], [maxx, miny]]}}
    if prop == "selectedRows":
        return [{"id": town.foreign_case_ids[0], "code": town.foreign_case_codes[0]}]
    if prop in ("n_intervals", "n_clicks"):
        return 1
    if prop == "data" and name.endswith("-view"):
        # the view drawn before the probe's move: two zooms further out, so the move is one (a
        # move inside what is drawn at the same zoom redraws nothing: no read to probe)
        return {**view, "zoom": view["zoom"] - 2}
    if prop == "data" and name.endswith("-lang"):
        return "zh-CN"
    if "grid" in name and prop in ("value", "data"):
        return town.foreign_grid_id
    if "shift" in name and prop == "value" and town.foreign_shift_id:
        return town.foreign_shift_id
    value = defaults.get(cid, {}).get(prop)
    # a figure in the layout goes out as the browser sends it: plain JSON
    return json.loads(plotly.io.to_json(value)) if isinstance(value, go.Figure) else value


def _expand(spec: dict[str, str], town: Town, defaults, with_value: bool) -> Any:
    """One request entry for an input/state/output spec (pattern ids over the layers)."""
    cid, prop = spec["id"], spec["property"].split("@")[0]
    if cid.startswith("{"):
        pattern = json.loads(cid)
        key = next(k for k, v in pattern.items() if v == ["ALL"])
        entries = []
        for layer in LAYERS:
            concrete = {**pattern, key: layer.id}
            entry: dict[str, Any] = {"id": concrete, "property": prop}
            if with_value:
                entry["value"] = concrete if prop == "id" else ["on"]
            entries.append(entry)
        return entries
    entry = {"id": cid, "property": prop}
    if with_value:
        entry["value"] = _probe(cid, prop, defaults, town)
    return entry


def callback_bodies(app: Dash, town: Town) -> Iterator[tuple[str, dict[str, Any]]]:
    defaults = _layout_props(app)
    for key, callback in app.callback_map.items():
        outputs = split_callback_id(key)
        outs = [outputs] if isinstance(outputs, dict) else outputs
        out_entries = [_expand(o, town, defaults, False) for o in outs]
        inputs = [_expand(i, town, defaults, True) for i in callback["inputs"]]
        state = [_expand(s, town, defaults, True) for s in callback.get("state", [])]
        changed = [f"{i['id']}.{i['property']}" for i in inputs if isinstance(i, dict)][:1]
        yield (
            key,
            {
                "output": key,
                "outputs": out_entries if isinstance(outputs, list) else out_entries[0],
                "inputs": inputs,
                "state": state,
                "changedPropIds": changed,
            },
        )


def test_lead_gets_nothing_of_another_grid_from_any_callback(
    access_app: Dash,
    base_url: str,
    town: Town,
    lead_http: requests.Session,
    admin_http: requests.Session,
) -> None:
    url = base_url + "/_dash-update-component"
    admin_saw, answered, allowed = [], 0, 0
    for key, body in callback_bodies(access_app, town):
        lead = lead_http.post(url, json=body, timeout=120)
        sent = json.dumps(body, ensure_ascii=False)
        if Role.GRID_LEAD not in (callback_roles(access_app.server, key) or ()):
            assert lead.status_code == 403, key  # (see test_pages.py)
            continue
        allowed += 1
        assert lead.status_code != 403, (key, lead.text[:200])  # the lead may call these
        assert not leaked(lead.text, town, sent), (key, leaked(lead.text, town, sent))
        admin = admin_http.post(url, json=body, timeout=120)
        if admin.status_code < 500:
            assert lead.status_code < 500, (key, lead.status_code, lead.text[:300])
        answered += lead.status_code == 200
        if leaked(admin.text, town, sent):
            admin_saw.append(key)
    assert answered >= allowed // 2, (answered, allowed)
    # The map's own callback shows the foreign grid to an admin: the probes reach it.
    assert any("map-graph.figure" in key for key in admin_saw), admin_saw


def test_lead_gets_no_household_or_visit_of_another_grid(
    base_url: str, town: Town, lead_http: requests.Session, admin_http: requests.Session
) -> None:
    """The household register (issue 15): a household and a visit outside the lead's grids
    are not there for the lead (404 on every route naming them, nothing recorded), while
    the admin reads them."""
    from sqlalchemy import text

    from gridmap.db.engine import get_engine

    with get_engine(town.url).connect() as conn:
        household, name = conn.execute(
            text(
                "SELECT id, head_name FROM households WHERE NOT grid_id = ANY(:g) ORDER BY id "
                "LIMIT 1"
            ),
            {"g": list(town.own_grid_ids)},
        ).one()
        visit = conn.execute(
            text("SELECT id FROM visits WHERE NOT grid_id = ANY(:g) ORDER BY id LIMIT 1"),
            {"g": list(town.own_grid_ids)},
        ).scalar_one()
        visits_before = conn.execute(text("SELECT count(*) FROM visits")).scalar_one()
    for path in (
        f"/api/v1/households/{household}",
        f"/api/v1/households/{household}/visits",
        f"/api/v1/visits/{visit}",
    ):
        assert admin_http.get(base_url + path, timeout=30).status_code == 200, path
        lead = lead_http.get(base_url + path, timeout=30)
        assert lead.status_code == 404 and name not in lead.text, path
    posted = lead_http.post(
        base_url + "/api/v1/visits",
        json={"household_id": household, "kind": "care", "outcome": "met"},
        timeout=30,
    )
    assert posted.status_code == 404
    overdue = lead_http.get(base_url + "/api/v1/visits/overdue?limit=5000", timeout=30).json()
    assert overdue["households"]  # the lead's own grids hold overdue households
    assert {h["grid_id"] for h in overdue["households"]} <= set(town.own_grid_ids)
    plan = lead_http.get(base_url + "/api/v1/day-plan", timeout=60)
    assert plan.status_code == 200 and name not in plan.text
    planned = [h for s in plan.json()["stops"] for h in s["households"]]
    assert planned and {h["grid_id"] for h in planned} <= set(town.own_grid_ids)
    foreign_plan = lead_http.get(
        base_url + f"/api/v1/day-plan?grid_id={town.foreign_grid_id}", timeout=60
    )
    assert foreign_plan.status_code == 200 and foreign_plan.json()["stops"] == []
    with get_engine(town.url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM visits")).scalar_one() == visits_before
