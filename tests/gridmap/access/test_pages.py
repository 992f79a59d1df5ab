"""Every dashboard page and every Dash callback against every role, enumerated from the app:

- the pages' declared roles are the intended matrix, and the header offers exactly those;
- a page a role may not open answers 403 with the sign-in page's "forbidden" text (also
  when asked for through the pages router callback), an allowed one answers the page;
- every server-side callback has roles; an undeclared callback output is refused;
- every callback a role may not call answers 403 with no data and changes nothing (a
  fingerprint of every table the app writes is the same before and after), e.g. a grid
  lead's ``plan-save`` no longer writes a service point (a planner's does);
- a planner gets no single case (id, code, title) from any callback it may call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import dash
import pytest
import requests
from dash import Dash
from sqlalchemy import text

from gridmap.access import Role
from gridmap.access.pages import ROUTER_OUTPUT, callback_roles
from gridmap.db.engine import get_engine
from gridmap.i18n import t
from gridmap.web.shell import nav_links
from tests.gridmap.access.conftest import LEAD, LEAD_PASSWORD, Town
from tests.gridmap.access.test_routes import callback_bodies
from tests.signin import api_token, ensure_account, signed_in_session

ADMIN, COMMAND, LEAD_, WORKER, PLANNER, CLIENT = (
    Role.ADMIN, Role.COMMAND, Role.GRID_LEAD, Role.GRID_WORKER, Role.PLANNER, Role.API_CLIENT,
)  # fmt: skip
#: The intended page x role matrix (issue 12).
PAGES: dict[str, frozenset[Role]] = {
    "/": frozenset({ADMIN, COMMAND, LEAD_, WORKER, PLANNER}),
    "/lead": frozenset({ADMIN, COMMAND, LEAD_, WORKER}),
    "/plan": frozenset({ADMIN, PLANNER}),
    "/patrols": frozenset({ADMIN, COMMAND, LEAD_, WORKER}),
    "/wall": frozenset({ADMIN, COMMAND}),
}
#: The header's mode links per role, in order (the role's home first).
NAV = {
    ADMIN: ["/", "/lead", "/plan", "/patrols", "/wall"],
    COMMAND: ["/", "/lead", "/patrols", "/wall"],
    LEAD_: ["/lead", "/", "/patrols"],
    WORKER: ["/lead", "/", "/patrols"],
    PLANNER: ["/plan", "/"],
    CLIENT: [],
}
#: Tables the app writes (from pages, callbacks, APIs, jobs): their fingerprints must not
#: move while refused callbacks are called.
WRITTEN = (
    "service_points", "cases", "case_events", "export_jobs", "analysis_runs",
    "service_isochrones", "building_access", "case_imports", "buildings", "grids",
    "cameras", "users", "user_grids", "patrol_shifts", "gps_pings",
)  # fmt: skip
URL = "/_dash-update-component"


@pytest.fixture(scope="module")
def sessions(base_url: str, town: Town) -> dict[Role, requests.Session]:
    """One signed-in session per role (api_client: a bearer token)."""
    with get_engine(town.url).connect() as conn:
        codes = conn.execute(
            text("SELECT code FROM grids WHERE id = ANY(:g) ORDER BY id"),
            {"g": list(town.own_grid_ids)},
        ).scalars()
        codes = tuple(codes)
    out = {
        ADMIN: signed_in_session(base_url, *ensure_account(town.url, "admin")),
        COMMAND: signed_in_session(base_url, *ensure_account(town.url, "command")),
        LEAD_: signed_in_session(base_url, LEAD, LEAD_PASSWORD),
        WORKER: signed_in_session(base_url, *ensure_account(town.url, "grid_worker", grids=codes)),
        PLANNER: signed_in_session(base_url, *ensure_account(town.url, "planner")),
    }
    client = requests.Session()
    client.headers["Authorization"] = f"Bearer {api_token(town.url)}"
    out[CLIENT] = client
    out[ADMIN].get(base_url + "/?lang=en", timeout=60)  # (registers Dash's pages router)
    return out


def fingerprint(url: str) -> dict[str, tuple[int, int]]:
    """(rows, order-free hash of the rows) of every written table."""
    with get_engine(url).connect() as conn:
        return {
            table: tuple(
                conn.execute(
                    text(f"SELECT count(*), coalesce(sum(hashtext(t::text)), 0) FROM {table} t")
                ).one()
            )
            for table in WRITTEN
        }


def router_body(path: str) -> dict[str, Any]:
    """A call of Dash's pages router for the layout of ``path``."""
    return {
        "output": ROUTER_OUTPUT,
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": path},
            {"id": "_pages_location", "property": "search", "value": "?lang=en"},
        ],
        "changedPropIds": ["_pages_location.pathname"],
    }


def save_body(app: Dash, point: tuple[float, float]) -> tuple[str, dict[str, Any]]:
    """The planning page's save callback with one new service point at ``point``."""
    key = next(k for k in app.callback_map if k.startswith("..plan-edits.data@"))
    edit = {"op": "add", "kind": "party_service_center", "lon": point[0], "lat": point[1]}
    return key, {
        "output": key,
        "outputs": [
            {"id": i, "property": p.split("@")[0]}
            for i, p in (part.rsplit(".", 1) for part in key[2:-2].split("..."))
        ],
        "inputs": [{"id": "plan-save", "property": "n_clicks", "value": 1}],
        "state": [
            {"id": "plan-edits", "property": "data", "value": [edit]},
            {"id": "plan-data-version", "property": "data", "value": 0},
            {"id": "plan-lang", "property": "data", "value": "en"},
        ],
        "changedPropIds": ["plan-save.n_clicks"],
    }


def test_pages_declare_the_intended_roles_and_the_header_follows(access_app: Dash) -> None:
    declared = {p["path"]: frozenset(p["roles"]) for p in dash.page_registry.values()}
    assert declared == PAGES
    assert {role: [path for path, _ in nav_links(role)] for role in Role} == NAV


def test_pages_open_for_their_roles_only(
    base_url: str, sessions: dict[Role, requests.Session]
) -> None:
    forbidden = t("login.forbidden", "zh-CN")
    for path, roles in PAGES.items():
        for role, http in sessions.items():
            where = (path, role.value)
            page = http.get(f"{base_url}{path}?lang=zh-CN", timeout=60, allow_redirects=False)
            routed = http.post(base_url + URL, json=router_body(path), timeout=60)
            if role in roles:
                assert page.status_code == 200 and "_dash-config" in page.text, where
                assert routed.status_code == 200, (where, routed.text[:200])
                assert "_pages_content" in routed.json()["response"], where
            else:
                assert page.status_code == 403, (where, page.status_code)
                assert forbidden in page.text and "_dash-config" not in page.text, where
                assert routed.status_code == 403 and "response" not in routed.text, where


def test_every_callback_declares_its_roles(
    access_app: Dash, base_url: str, sessions: dict[Role, requests.Session]
) -> None:
    server_side = [k for k, v in access_app.callback_map.items() if "callback" in v]
    assert ROUTER_OUTPUT in server_side  # (registered by the first page request)
    missing = [k for k in server_side if k != ROUTER_OUTPUT and not callback_roles(
        access_app.server, k)]  # fmt: skip
    assert not missing, f"callbacks registered outside a page's roles: {missing}"
    # Deny by default: an output no page declared, a clientside callback, a bad body.
    clientside = next(k for k, v in access_app.callback_map.items() if "callback" not in v)
    admin = sessions[ADMIN]
    for body in ({"output": "..nothing.children..", "inputs": []}, {"output": clientside},
                 {"inputs": []}, ["x"]):  # fmt: skip
        refused = admin.post(base_url + URL, json=body, timeout=30)
        assert refused.status_code == 403, body
        assert set(refused.json()) == {"error"}


def _pairs(app: Dash, sessions: dict[Role, requests.Session]) -> Iterator[tuple[str, Role]]:
    for key, spec in app.callback_map.items():
        if "callback" in spec and key != ROUTER_OUTPUT:
            for role in sessions:
                yield key, role


def test_refused_callbacks_answer_nothing_and_change_nothing(
    access_app: Dash, base_url: str, town: Town, sessions: dict[Role, requests.Session]
) -> None:
    minx, miny, maxx, maxy = town.foreign_bbox
    point = ((minx + maxx) / 2, (miny + maxy) / 2)
    save_key, save = save_body(access_app, point)
    bodies = dict(callback_bodies(access_app, town)) | {save_key: save}
    before = fingerprint(town.url)
    refused: list[tuple[str, Role]] = []
    for key, role in _pairs(access_app, sessions):
        if role in (callback_roles(access_app.server, key) or ()):
            continue
        response = sessions[role].post(base_url + URL, json=bodies[key], timeout=60)
        assert response.status_code == 403, (key, role, response.status_code)
        assert set(response.json()) == {"error"}, (key, role, response.text[:200])
        assert "may not" in response.json()["error"]["message"]
        refused.append((key, role))
    assert fingerprint(town.url) == before
    assert (save_key, LEAD_) in refused and (save_key, COMMAND) in refused
    # Every page's callbacks refused to someone; api_client to every callback.
    server_side = {k for k, _ in _pairs(access_app, sessions)}
    assert len([k for k, r in refused if r is CLIENT]) == len(server_side) == 29
    # map 2 x api_client, patrols 4 x 2, plan 11 x 4, lead 7 x 2, wall 4 x 4
    assert len(refused) == 2 + 8 + 48 + 14 + 16
    # The same save as a planner does write (the refusals above were not vacuous).
    saved = sessions[PLANNER].post(base_url + URL, json=save, timeout=120)
    assert saved.status_code == 200, saved.text[:300]
    assert "1" in saved.json()["response"]["plan-message"]["children"], saved.text[:300]
    with get_engine(town.url).begin() as conn:
        added = conn.execute(
            text("DELETE FROM service_points WHERE code LIKE 'PLAN-%' RETURNING id")
        ).all()
    assert len(added) == 1


def _case_markers(town: Town) -> tuple[set[str], set[str]]:
    """Codes and titles of the cases a probe at the foreign grid (zoom 16) or a ticker
    (the newest cases) would show."""
    minx, miny, maxx, maxy = town.foreign_bbox
    with get_engine(town.url).connect() as conn:
        rows = conn.execute(
            text(
                "(SELECT code, title FROM cases WHERE geom && "
                "ST_MakeEnvelope(:a, :b, :c, :d, 4326)) UNION "
                "(SELECT code, title FROM cases ORDER BY reported_at DESC, id DESC LIMIT 20)"
            ),
            {"a": minx, "b": miny, "c": maxx, "d": maxy},
        ).all()
    return {r.code for r in rows}, {r.title for r in rows if len(r.title) >= 6}


def test_a_planner_gets_no_single_case_from_any_callback(
    access_app: Dash, base_url: str, town: Town, sessions: dict[Role, requests.Session]
) -> None:
    codes, titles = _case_markers(town)
    allowed = [k for k, r in _pairs(access_app, sessions) if r is PLANNER and PLANNER in (
        callback_roles(access_app.server, k) or ())]  # fmt: skip
    assert len(allowed) == 14
    admin_saw = set()
    for key, body in callback_bodies(access_app, town):
        if key not in allowed or key.startswith(("..plan-recompute-message", "..plan-export-job")):
            continue  # (these start background work and answer a message: not run here)
        for state in body["state"]:
            if isinstance(state, dict) and state["id"] == "map-start-message":
                state["value"] = ["", "map-message hidden"]
        response = sessions[PLANNER].post(base_url + URL, json=body, timeout=120)
        assert response.status_code in (200, 204), (key, response.status_code)
        seen = json.loads(response.text or "{}")
        flat = json.dumps(seen, ensure_ascii=False)
        assert not [c for c in codes if c in flat], key
        assert not [x for x in titles if x in flat], key
        admin = sessions[ADMIN].post(base_url + URL, json=body, timeout=120).text
        if any(c in admin for c in codes):
            admin_saw.add(key)
    # An admin gets single cases from the same calls (the map and its live update).
    assert any(k.startswith("..map-graph.figure") for k in admin_saw), admin_saw


def test_a_narrower_block_limits_its_callbacks_only() -> None:
    from dash import Input, Output

    from gridmap.access.pages import narrower, page

    app = Dash("narrow", use_pages=True, pages_folder="")
    module = "tests.gridmap.access.narrow_page"
    try:
        with page(app, module, path="/narrow-test", roles={ADMIN, PLANNER}, layout="x"):
            app.callback(Output("a", "children"), Input("b", "value"))(lambda v: v)
            with narrower(app, {ADMIN}):
                app.callback(Output("c", "children"), Input("d", "value"))(lambda v: v)
        app.clientside_callback("x => x", Output("e", "children"), Input("f", "value"))
    finally:
        dash.page_registry.pop(module, None)
    assert callback_roles(app.server, "a.children") == {ADMIN, PLANNER}
    assert callback_roles(app.server, "c.children") == {ADMIN}
    assert callback_roles(app.server, "e.children") is None  # clientside: never served


def test_every_header_link_opens_without_a_bounce(
    base_url: str, sessions: dict[Role, requests.Session]
) -> None:
    """Each page the header offers a role opens for it as it is, bare or with ``?lang=``:
    no redirect elsewhere (a planner clicking 城市地图 once bounced back to /plan)."""
    for role, http in sessions.items():
        for path, _ in nav_links(role):
            for query in ("", "?lang=zh-CN", "?lang=en"):
                page = http.get(f"{base_url}{path}{query}", timeout=60, allow_redirects=False)
                assert page.status_code == 200, (role.value, path + query, page.status_code)
