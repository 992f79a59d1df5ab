"""Area-scoped command centres (issue 15, migration 0026): a command account scoped to one
street reads, in PostgreSQL itself, only the rows of that street's grids; aimed at another
street (its grid, cases, households, visits, tiles, OGC items, exports, the wall's outlines)
it gets nothing from any HTTP route or Dash callback, enumerated from the app; its own
street it sees; the whole-city command account sees everything. The city account asks
first, so a cache that handed one scope's answer to another would be caught here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import dash
import mapbox_vector_tile
import pytest
import requests
from dash import Dash
from sqlalchemy import text

from gridmap.access import Role, User
from gridmap.access.accounts import load_user, set_area
from gridmap.access.pages import callback_roles
from gridmap.access.scope import cache_scope, scoped_connection
from gridmap.db.engine import get_engine
from gridmap.io.export import ExportRequest
from gridmap.io.jobs import write_export
from tests.gridmap.access.conftest import Town
from tests.gridmap.access.test_rls import EXPECTED
from tests.gridmap.access.test_routes import (
    _get_routes,
    callback_bodies,
    foreign_query,
    leaked,
    url_for,
)
from tests.signin import ensure_account, signed_in_session

CENTRE = "street_centre"


@dataclass(frozen=True)
class Street:
    """The street the centre is scoped to (it does not hold the town's foreign grid)."""

    user_id: int
    code: str
    grid_ids: tuple[int, ...]
    password: str


@pytest.fixture(scope="module")
def street(town: Town) -> Street:
    engine = get_engine(town.url)
    with engine.connect() as conn:
        # the street with the most cases among those not holding the foreign grid
        code, grid_ids = conn.execute(
            text(
                """
                SELECT s.code, array_agg(DISTINCT g.id ORDER BY g.id)
                FROM streets s JOIN communities c ON c.street_id = s.id
                JOIN grids g ON g.community_id = c.id LEFT JOIN cases k ON k.grid_id = g.id
                WHERE s.id <> (SELECT c2.street_id FROM grids g2
                               JOIN communities c2 ON c2.id = g2.community_id WHERE g2.id = :f)
                GROUP BY s.id ORDER BY count(k.id) DESC, s.id LIMIT 1
                """
            ),
            {"f": town.foreign_grid_id},
        ).one()
    _, password = ensure_account(town.url, "command", username=CENTRE)
    set_area(engine, CENTRE, f"street:{code}")
    user_id = conn_user_id(town.url)
    return Street(user_id, code, tuple(grid_ids), password)


def conn_user_id(url: str) -> int:
    with get_engine(url).connect() as conn:
        return conn.execute(
            text("SELECT id FROM users WHERE username = :u"), {"u": CENTRE}
        ).scalar_one()


def centre(town: Town) -> User:
    with get_engine(town.url).connect() as conn:
        user = load_user(conn, conn_user_id(town.url))
    assert user is not None
    return user


@pytest.fixture(scope="module")
def street_http(base_url: str, street: Street) -> requests.Session:
    return signed_in_session(base_url, CENTRE, street.password)


@pytest.fixture(scope="module")
def city_http(base_url: str, town: Town) -> requests.Session:
    return signed_in_session(base_url, *ensure_account(town.url, "command"))


def test_street_centre_reads_its_streets_rows_only(town: Town, street: Street) -> None:
    engine = get_engine(town.url)
    user = centre(town)
    assert user.role is Role.COMMAND and user.grid_scoped
    assert str(user.area) == f"street:{street.code}"
    assert user.grid_ids == frozenset(street.grid_ids)
    assert town.foreign_grid_id not in street.grid_ids
    with engine.connect() as conn:
        expected = {
            t: conn.execute(text(sql), {"g": list(street.grid_ids)}).scalar_one()
            for t, sql in EXPECTED.items()
        }
        everything = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in EXPECTED
        }
    assert all(expected[t] > 0 for t in ("cases", "households", "visits", "buildings"))
    assert all(expected[t] < everything[t] for t in ("cases", "households", "visits"))
    with scoped_connection(engine, user) as conn:
        seen = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in EXPECTED}
        assert conn.execute(text("SELECT current_user")).scalar_one() == "gridmap_grid_reader"
        foreign = conn.execute(
            text("SELECT count(*) FROM cases WHERE id = ANY(:ids)"),
            {"ids": list(town.foreign_case_ids)},
        ).scalar_one()
        # the account-grids lookup names other accounts' grids: not the reader's to call
        denied = conn.execute(
            text("SELECT has_function_privilege('gridmap_account_grids(integer)', 'EXECUTE')")
        ).scalar_one()
    assert seen == expected and foreign == 0 and denied is False
    city = User(street.user_id + 10_000, "city", "city", Role.COMMAND)
    # caches keep a scoped reader's rows under its id and grids, the city's under None
    assert cache_scope(user) == (user.id, tuple(sorted(street.grid_ids)))
    assert cache_scope(city) is None
    with scoped_connection(engine, city) as conn:  # the city account: unscoped, all rows
        assert {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in EXPECTED
        } == everything


def test_street_centre_gets_nothing_of_another_street_over_http(
    access_app: Dash,
    base_url: str,
    town: Town,
    street_http: requests.Session,
    city_http: requests.Session,
) -> None:
    city_saw = []
    for rule in _get_routes(access_app):
        path = url_for(access_app, rule, town)
        for params in ({}, foreign_query(town)):
            where = f"GET {path} {params or ''}"
            city = city_http.get(base_url + path, params=params, timeout=60)  # (caches first)
            mine = street_http.get(base_url + path, params=params, timeout=60)
            assert not leaked(mine.text, town, where), (where, leaked(mine.text, town, where))
            if city.status_code < 500:
                assert mine.status_code < 500, (where, mine.status_code, mine.text[:300])
            if leaked(city.text, town, where):
                city_saw.append(where)
    for page in dash.page_registry.values():
        assert not leaked(street_http.get(base_url + page["path"], timeout=60).text, town)
    # The probes reach the foreign street's data for the city account: not vacuous.
    assert any("/api/v1/cases" in w for w in city_saw), city_saw


def test_street_centre_gets_nothing_of_another_street_from_any_callback(
    access_app: Dash,
    base_url: str,
    town: Town,
    street_http: requests.Session,
    city_http: requests.Session,
) -> None:
    url = base_url + "/_dash-update-component"
    city_saw, answered, allowed = [], 0, 0
    for key, body in callback_bodies(access_app, town):
        if Role.COMMAND not in (callback_roles(access_app.server, key) or ()):
            continue  # (refused to every command account: test_pages.py)
        allowed += 1
        sent = json.dumps(body, ensure_ascii=False)
        city = city_http.post(url, json=body, timeout=120)
        mine = street_http.post(url, json=body, timeout=120)
        assert not leaked(mine.text, town, sent), (key, leaked(mine.text, town, sent))
        if city.status_code < 500:
            assert mine.status_code < 500, (key, mine.status_code, mine.text[:300])
        answered += mine.status_code == 200
        if leaked(city.text, town, sent):
            city_saw.append(key)
    assert answered >= allowed // 2, (answered, allowed)
    assert any("map-graph.figure" in key for key in city_saw), city_saw


def test_street_centre_sees_its_households_visits_and_cases_only(
    base_url: str,
    town: Town,
    street: Street,
    street_http: requests.Session,
    city_http: requests.Session,
) -> None:
    own, other = {}, {}
    order = {"households": "id", "visits": "id", "cases": "id", "buildings": "id"}
    with get_engine(town.url).connect() as conn:
        for table, found, where in (
            *((t, own, "grid_id = ANY(:g)") for t in order),
            *((t, other, "NOT grid_id = ANY(:g)") for t in order),
        ):
            found[table] = conn.execute(
                text(f"SELECT id FROM {table} WHERE {where} ORDER BY {order[table]} LIMIT 1"),
                {"g": list(street.grid_ids)},
            ).scalar_one()
        street_cases = conn.execute(
            text("SELECT count(*) FROM cases WHERE grid_id = ANY(:g)"), {"g": list(street.grid_ids)}
        ).scalar_one()
    paths = {
        "households": "/api/v1/households/{}",
        "visits": "/api/v1/visits/{}",
        "cases": "/api/v1/cases/{}",
    }
    for table, path in paths.items():  # (cases are no OGC collection: personal data)
        for ids, street_status in ((own, 200), (other, 404)):
            url = base_url + path.format(ids[table])
            assert street_http.get(url, timeout=30).status_code == street_status, url
            assert city_http.get(url, timeout=30).status_code == 200, url
    history = street_http.get(
        f"{base_url}/api/v1/households/{other['households']}/visits", timeout=30
    )
    assert history.status_code == 404
    overdue = street_http.get(base_url + "/api/v1/visits/overdue?limit=5000", timeout=30).json()
    assert overdue["households"]
    assert {h["grid_id"] for h in overdue["households"]} <= set(street.grid_ids)
    shares = street_http.get(base_url + "/api/v1/visits/shares", timeout=30).json()
    grids = {row["id"] for row in shares["groups"]}
    assert grids and grids <= set(street.grid_ids)
    listed = street_http.get(base_url + "/api/v1/cases", params={"limit": 1}, timeout=30)
    assert listed.status_code == 200 and listed.json()["total"] == street_cases
    ogc = street_http.get(base_url + "/ogc/collections/grids/items", params={"f": "json"})
    assert ogc.json()["numberMatched"] == len(street.grid_ids)
    city_ogc = city_http.get(base_url + "/ogc/collections/grids/items", params={"f": "json"})
    assert city_ogc.json()["numberMatched"] > len(street.grid_ids)
    for building, street_status in ((own["buildings"], 200), (other["buildings"], 404)):
        item = f"{base_url}/ogc/collections/buildings/items/{building}"
        assert street_http.get(item, params={"f": "json"}).status_code == street_status, item
        assert city_http.get(item, params={"f": "json"}).status_code == 200, item
    minx, miny, maxx, maxy = town.foreign_bbox
    in_bbox = {"f": "json", "bbox": f"{minx},{miny},{maxx},{maxy}", "limit": 1}
    city = city_http.get(base_url + "/ogc/collections/buildings/items", params=in_bbox).json()
    foreign = street_http.get(base_url + "/ogc/collections/buildings/items", params=in_bbox).json()
    with get_engine(town.url).connect() as conn:
        mine, total = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE grid_id = ANY(:g)), count(*) FROM buildings "
                "WHERE ST_Intersects(geom, ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"
            ),
            {"g": list(street.grid_ids), "x0": minx, "y0": miny, "x1": maxx, "y1": maxy},
        ).one()
    assert (foreign["numberMatched"], city["numberMatched"]) == (mine, total)
    assert mine < total


def test_tiles_hold_the_streets_features_only(
    base_url: str, town: Town, street_http: requests.Session, city_http: requests.Session
) -> None:
    from gridmap.web.tiles import BASEMAP, ROADS, tilesets
    from tests.gridmap.access.test_routes import tile_of

    minx, miny, maxx, maxy = town.foreign_bbox
    city_saw = {}
    for tileset in tilesets().values():
        if tileset.id in (ROADS.id, BASEMAP.id):
            continue
        for z in (12, 16):
            x, y = tile_of((minx + maxx) / 2, (miny + maxy) / 2, z)
            path = f"{base_url}/tiles/{tileset.id}/{z}/{x}/{y}.pbf"
            city = city_http.get(path, timeout=60)  # (asked first: the tile cache keeps it)
            mine = street_http.get(path, timeout=60)
            assert city.status_code in (200, 204) and mine.status_code in (200, 204), path
            decoded = [
                json.dumps(mapbox_vector_tile.decode(r.content), ensure_ascii=False, default=str)
                if r.content
                else ""
                for r in (city, mine)
            ]
            assert not leaked(decoded[1], town), (path, leaked(decoded[1], town))
            city_saw[path] = leaked(decoded[0], town)
    assert any(city_saw.values()), city_saw


def test_exports_hold_the_streets_cases_only(town: Town, street: Street, tmp_path: Path) -> None:
    engine = get_engine(town.url)
    request = ExportRequest(layers=("cases",), format="csv")
    count = write_export(engine, request, tmp_path / "street.csv", user=centre(town))
    city = User(street.user_id + 10_000, "city", "city", Role.COMMAND)
    everything = write_export(engine, request, tmp_path / "city.csv", user=city)
    with engine.connect() as conn:
        own, total = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE grid_id = ANY(:g)), count(*) FROM cases "
                "WHERE geom IS NOT NULL"
            ),
            {"g": list(street.grid_ids)},
        ).one()
    assert (count, everything) == (own, total)
    body = (tmp_path / "street.csv").read_text(encoding="utf-8-sig")
    assert not leaked(body, town)


def test_wall_view_fits_the_streets_grids(
    access_app: Dash,
    town: Town,
    street: Street,
    street_http: requests.Session,
    city_http: requests.Session,
    base_url: str,
) -> None:
    from flask import g

    from gridmap.access import G_USER
    from gridmap.web.services.wall import wall_view

    with get_engine(town.url).connect() as conn:
        extent = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Extent(geom)::geometry e FROM grids WHERE id = ANY(:g)) x"
            ),
            {"g": list(street.grid_ids)},
        ).one()
        city_extent = conn.execute(text("SELECT * FROM gridmap_grids_extent()")).one()
    engine = get_engine(town.url)
    with access_app.server.test_request_context("/wall"):
        setattr(g, G_USER, centre(town))
        view = wall_view(engine, (0.0, 0.0))  # (a configured city centre is not the area's)
    assert view.extent == pytest.approx(tuple(extent))
    assert view.view.center != (0.0, 0.0)
    with access_app.server.test_request_context("/wall"):
        setattr(g, G_USER, User(street.user_id + 10_000, "city", "city", Role.COMMAND))
        assert wall_view(engine, None).extent == pytest.approx(tuple(city_extent))
    # the wall's outlines over the whole city: the street's grids only
    bbox = ",".join(map(str, city_extent))
    city = city_http.get(  # (asked first: the outlines are kept per process)
        base_url + "/wall/outlines.json", params={"bbox": bbox, "zoom": "11"}, timeout=60
    ).json()
    assert len(city["features"]) > len(street.grid_ids)
    outlines = street_http.get(
        base_url + "/wall/outlines.json", params={"bbox": bbox, "zoom": "11"}, timeout=60
    ).json()
    ids = {f.get("id") for f in outlines["features"]}
    assert ids and ids <= {str(i) for i in street.grid_ids} | set(street.grid_ids)


def _tile(http: requests.Session, url: str) -> dict:
    response = http.get(url, timeout=60)
    assert response.status_code in (200, 204), (url, response.status_code)
    return mapbox_vector_tile.decode(response.content) if response.content else {}


def test_camera_and_community_tiles_hold_the_streets_only(
    base_url: str,
    town: Town,
    street: Street,
    street_http: requests.Session,
    city_http: requests.Session,
) -> None:
    from tests.gridmap.access.test_routes import tile_of

    with get_engine(town.url).connect() as conn:
        x0, y0, x1, y1, total, own = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), n, mine FROM ("
                "SELECT ST_Extent(geom)::geometry e, count(*) n, "
                "count(*) FILTER (WHERE grid_id = ANY(:g)) mine FROM cameras) c"
            ),
            {"g": list(street.grid_ids)},
        ).one()
        communities = conn.execute(
            text(
                "SELECT c.id, s.code = :s FROM communities c JOIN streets s ON s.id = c.street_id"
            ),
            {"s": street.code},
        ).all()
        lon, lat, foreign_camera = conn.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom), id FROM cameras "
                "WHERE NOT grid_id = ANY(:g) ORDER BY id LIMIT 1"
            ),
            {"g": list(street.grid_ids)},
        ).one()
    # the largest zoom (8-11: counts per cell, community outlines) holding every camera
    z = max(z for z in range(8, 12) if tile_of(x0, y1, z) == tile_of(x1, y0, z))
    x, y = tile_of(x0, y1, z)
    cells, outlines = (f"{base_url}/tiles/{t}/{z}/{x}/{y}.pbf" for t in ("cameras", "grids"))
    city = _tile(city_http, cells)  # (asked first: the tile cache keeps it)
    mine = _tile(street_http, cells)
    counted = [
        sum(f["properties"]["cameras"] for f in t["camera_cells"]["features"]) for t in (city, mine)
    ]
    assert counted == [total, own] and 0 < own < total
    assert _tile(city_http, cells) == city  # the city is not handed the street's tile
    city_outlines = _tile(city_http, outlines)
    mine_outlines = _tile(street_http, outlines)
    ids = [{f["id"] for f in t["communities"]["features"]} for t in (city_outlines, mine_outlines)]
    assert ids == [{c for c, _ in communities}, {c for c, here in communities if here}]
    # single cameras (zoom 16) around a camera of another street: the city's only
    x, y = tile_of(lon, lat, 16)
    detail = f"{base_url}/tiles/cameras/16/{x}/{y}.pbf"
    city_ids = {f["id"] for f in _tile(city_http, detail)["cameras"]["features"]}
    mine_tile = _tile(street_http, detail)
    mine_ids = {f["id"] for f in mine_tile.get("cameras", {"features": []})["features"]}
    assert foreign_camera in city_ids and foreign_camera not in mine_ids
    with get_engine(town.url).connect() as conn:
        own_here = set(
            conn.execute(
                text("SELECT id FROM cameras WHERE id = ANY(:ids) AND grid_id = ANY(:g)"),
                {"ids": list(city_ids), "g": list(street.grid_ids)},
            ).scalars()
        )
    assert mine_ids == own_here


def test_case_hexes_read_the_grid_set_once(town: Town, street: Street) -> None:
    """case_layer.sql's scoped branch compares with ``(SELECT gridmap_user_grids())``: an
    InitPlan, never a call per case row; the counts are the street's cases."""
    engine = get_engine(town.url)
    hexes = (
        "gridmap_layer_case_hexes(NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        "CAST(:statuses AS text[]), NULL, 8)"
    )
    with engine.connect() as conn:
        expected = [
            conn.execute(
                text(
                    "SELECT count(*) FROM cases WHERE grid_id = ANY(:g) AND geom IS NOT NULL "
                    "AND (CAST(:statuses AS text[]) IS NULL OR status = ANY(:statuses))"
                ),
                {"g": list(street.grid_ids), "statuses": statuses},
            ).scalar_one()
            for statuses in (None, ["closed"])
        ]
    with scoped_connection(engine, centre(town)) as conn:
        conn.execute(text("SET LOCAL enable_indexscan = off"))  # (where a per-row call showed)
        plan = (
            conn.execute(text(f"EXPLAIN (VERBOSE) SELECT * FROM {hexes}"), {"statuses": None})
            .scalars()
            .all()
        )
        counted = [
            conn.execute(
                text(f"SELECT coalesce(sum(cases), 0) FROM {hexes}"), {"statuses": statuses}
            ).scalar_one()
            for statuses in (None, ["closed"])
        ]
    assert counted == expected and expected[0] > expected[1] > 0
    assert any("InitPlan" in line for line in plan)
    compared = [line for line in plan if "Filter:" in line or "Cond:" in line]
    assert not [line for line in compared if "gridmap_user_grids(" in line], plan


def test_exports_of_another_streets_area_hold_nothing(
    town: Town, street: Street, tmp_path: Path
) -> None:
    """Named by id, another street's area exports nothing for the street centre (every
    layer, cameras and service points too); the city account gets it. Without an area the
    street centre's cameras are its street's."""
    from layers import layer_ids

    engine = get_engine(town.url)
    with engine.connect() as conn:
        other = conn.execute(
            text(
                "SELECT c.street_id FROM grids g JOIN communities c ON c.id = g.community_id "
                "WHERE g.id = :g"
            ),
            {"g": town.foreign_grid_id},
        ).scalar_one()
        own_cameras = conn.execute(
            text("SELECT count(*) FROM cameras WHERE grid_id = ANY(:g)"),
            {"g": list(street.grid_ids)},
        ).scalar_one()
    layers = tuple(layer_ids())
    request = ExportRequest(layers=layers, format="gpkg", area={"streets": [other]})
    city = User(street.user_id + 10_000, "city", "city", Role.COMMAND)
    from gridmap.io.export import export_data

    mine = export_data(engine, request, tmp_path / "mine.gpkg", user=centre(town))
    theirs = export_data(engine, request, tmp_path / "city.gpkg", user=city)
    assert mine == dict.fromkeys(layers, 0)
    assert theirs["cases"] > 0 and theirs["grids"] > 0 and theirs["cameras"] > 0
    cameras = ExportRequest(layers=("cameras",), format="csv")
    assert write_export(engine, cameras, tmp_path / "c.csv", user=centre(town)) == own_cameras


def test_cameras_and_service_points_and_circles_of_the_streets_grids_only(
    town: Town, street: Street
) -> None:
    """The map layers' readers (the `/` map, OGC items) of cameras, camera cells, service
    points and service circles, and the wall's camera tile: a street centre's hold its
    grids' only; the city's all."""
    engine = get_engine(town.url)
    readers = {
        "cameras": "SELECT grid_id FROM gridmap_layer_cameras(NULL, NULL, NULL, NULL)",
        "service_points": "SELECT grid_id FROM gridmap_layer_service_points("
        "NULL, NULL, NULL, NULL)",
        "service_circles": "SELECT p.grid_id FROM gridmap_layer_service_circles(NULL, NULL, "
        "NULL, NULL, NULL, NULL, 0) s JOIN service_points p ON p.id = s.service_point_id",
        "camera_cells": "SELECT sum(cameras) FROM gridmap_layer_camera_clusters("
        "NULL, NULL, NULL, NULL, 0.01)",
        "wall_cameras": "SELECT cameras FROM gridmap_wall_cameras()",
    }
    city = User(street.user_id + 10_000, "city", "city", Role.COMMAND)
    seen: dict[str, dict[str, list]] = {}
    with engine.begin() as conn:  # a service circle (100 m) round every point, removed after
        run = conn.execute(
            text(
                "INSERT INTO analysis_runs (job, params, params_hash, data_print) "
                "VALUES ('isochrones', '{}', 'test', 'test') RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO service_isochrones (run_id, service_point_id, kind, minutes, "
                "speed_kmh, reach_m, geom) SELECT :r, p.id, p.kind, 15, 4, 100, "
                "ST_Multi(ST_Buffer(p.geom::geography, 100)::geometry) FROM service_points p"
            ),
            {"r": run},
        )
    try:
        for who, user in (("city", city), ("street", centre(town))):
            with scoped_connection(engine, user) as conn:
                seen[who] = {
                    k: list(conn.execute(text(sql)).scalars()) for k, sql in readers.items()
                }
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM analysis_runs WHERE id = :r"), {"r": run})
    with engine.connect() as conn:
        own_cameras = conn.execute(
            text("SELECT count(*) FROM cameras WHERE grid_id = ANY(:g)"),
            {"g": list(street.grid_ids)},
        ).scalar_one()
        all_cameras = conn.execute(text("SELECT count(*) FROM cameras")).scalar_one()
    for kind in ("cameras", "service_points", "service_circles"):
        assert seen["street"][kind], kind
        assert set(seen["street"][kind]) <= set(street.grid_ids), kind
        assert len(seen["city"][kind]) > len(seen["street"][kind]), kind
    assert (
        len(seen["street"]["cameras"]) == own_cameras < all_cameras == len(seen["city"]["cameras"])
    )
    assert seen["street"]["camera_cells"] == seen["street"]["wall_cameras"] == [own_cameras]
    assert seen["city"]["wall_cameras"] == [all_cameras]
    assert seen["city"]["camera_cells"] == [all_cameras]
