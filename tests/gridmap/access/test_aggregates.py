"""Every aggregate a grid lead can ask for is computed from the lead's rows only, with exact
numbers: the city map's case hexagons and their tooltips (not the city-wide rollup), the
KPI tiles, OGC numberMatched and extents, exports, patrol coverage figures, and the
per-process caches (a lead's cached street pieces are never an admin's, nor the reverse).
The derived tables themselves answer the reader role only in scope (migration 0017)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from dash._utils import split_callback_id
from flask import g
from sqlalchemy import text

from gridmap.access import G_USER, Role, User
from gridmap.access.scope import enter_scope, scoped_connection
from gridmap.cases.filters import CaseChoice, CaseFilter, case_timezone
from gridmap.db.engine import connect, get_engine
from gridmap.io.export import ExportError, ExportRequest
from gridmap.io.jobs import submit, write_export
from gridmap.patrols import coverage
from gridmap.patrols.matching import matcher_for
from gridmap.patrols.visits import rebuild_visits
from gridmap.web.services.dashboard import read_tiles
from gridmap.web.services.map import MapView
from layers import LayerContext, get_layer
from layers.base import LayerError
from tests.gridmap.access.conftest import LEAD, LEAD_PASSWORD, Town
from tests.signin import signed_in_session

#: The case filter the tests use: whole local days from START (the demo's last ~5 weeks).
START = date(2026, 11, 1)
OPEN = "gridmap_case_is_open(status)"


def lead(town: Town) -> User:
    return User(town.lead_id, LEAD, LEAD, Role.GRID_LEAD, frozenset(town.own_grid_ids))


ADMIN = User(1, "admin", "admin", Role.ADMIN)


def since() -> datetime:
    return datetime.combine(START, datetime.min.time()).replace(tzinfo=UTC).astimezone(UTC)


def own_cells(town: Town, level: int, time_from: datetime | None) -> dict[tuple, tuple]:
    """{(i, j): (cases, open)} of the lead's located cases per hexagon, counted directly."""
    with get_engine(town.url).connect() as conn:
        rows = conn.execute(
            text(
                f"""
                SELECT k >> 32 AS i, ((k & 4294967295) - 2147483648) AS j, count(*) AS n,
                       count(*) FILTER (WHERE {OPEN}) AS o
                FROM (SELECT gridmap_case_hex_key(geom, :level) AS k, status FROM cases
                      WHERE grid_id = ANY(:g) AND geom IS NOT NULL
                        AND (CAST(:t0 AS timestamptz) IS NULL OR reported_at >= :t0)) x
                GROUP BY k
                """
            ),
            {"level": level, "g": list(town.own_grid_ids), "t0": time_from},
        ).all()
    return {(r.i, r.j): (r.n, r.o) for r in rows}


@pytest.mark.parametrize("level", [9, 12, 14])
@pytest.mark.parametrize("window", ["since", "all"])
def test_lead_hexagons_are_their_own_cases(town: Town, level: int, window: str) -> None:
    engine = get_engine(town.url)
    time_from = since() if window == "since" else None
    layer = get_layer("cases")
    ctx = dict(engine=engine, zoom=level + 0.5, params=(CaseFilter(since=time_from),))
    mine = layer.query(LayerContext(**ctx, user=lead(town)))
    cells = {(int(r.cell_i), int(r.cell_j)): (int(r.cases), int(r.open)) for r in mine.itertuples()}
    assert cells == own_cells(town, level, time_from)
    city = layer.query(LayerContext(**ctx, user=ADMIN))  # (the rollup, for everyone else)
    assert int(city["cases"].sum()) > sum(n for n, _ in cells.values()) > 0
    with scoped_connection(engine, lead(town)) as conn:  # the rollup is not the lead's
        assert conn.execute(text("SELECT count(*) FROM case_heat_days")).scalar_one() == 0


def test_lead_map_hexagons_and_tooltips_over_http(access_app, base_url: str, town: Town) -> None:
    http = signed_in_session(base_url, LEAD, LEAD_PASSWORD)
    key = next(k for k in access_app.callback_map if k.startswith("..map-graph.figure...{"))
    spec = access_app.callback_map[key]
    view = MapView.around((118.78, 32.04), 11.0).to_store()
    view["bbox"] = [-180, -85, 180, 85]
    choice = CaseChoice(window="custom", start=START.isoformat()).to_store()
    values = {
        "map-graph.relayoutData": None,
        "map-view.data": view,
        "map-lang.data": "en",
        "map-start-message.data": ["", ""],
        "map-case-filter.data": choice,
        "map-circle-kind.value": "party_service_center",
        "map-drawn.data": None,
    }

    def entry(item: dict[str, Any], with_value: bool = True) -> Any:
        cid, prop = item["id"], item["property"].split("@")[0]
        if cid.startswith("{"):  # the layer toggles and notes: the case layer's only
            kind = "map-layer-toggle" if "toggle" in cid else "map-layer-note"
            concrete = {"type": kind, "layer": "cases"}
            value = concrete if prop == "id" else ["on"]
            return [{"id": concrete, "property": prop} | ({"value": value} if with_value else {})]
        return {"id": cid, "property": prop} | (
            {"value": values[f"{cid}.{prop}"]} if with_value else {}
        )

    outputs = [
        entry({"id": json.dumps(o["id"], sort_keys=True, separators=(",", ":"))
               if isinstance(o["id"], dict) else o["id"], "property": o["property"]}, False)
        for o in split_callback_id(key)
    ]  # fmt: skip
    body = {
        "output": key,
        "outputs": outputs,
        "inputs": [entry(i) for i in spec["inputs"]],
        "state": [entry(s) for s in spec["state"]],
        # (a full redraw: the figure's layers are not known, "map-drawn" is empty)
        "changedPropIds": ["map-circle-kind.value"],
    }
    response = http.post(base_url + "/_dash-update-component", json=body, timeout=60)
    assert response.status_code == 200, response.text[:300]
    figure = response.json()["response"]["map-graph"]["figure"]
    hexes = next(tr for tr in figure["data"] if (tr.get("meta") or {}).get("role") == "hexagons")
    tz_start = datetime.combine(START, datetime.min.time()).replace(
        tzinfo=ZoneInfo(case_timezone())
    )
    expected = own_cells(town, 11, tz_start)
    assert hexes["meta"]["total"] == sum(n for n, _ in expected.values())
    assert sorted(map(tuple, hexes["customdata"])) == sorted(expected.values())
    answer = response.json()["response"]
    note = next(v["children"] for k, v in answer.items() if "map-layer-note" in k)
    assert f"{hexes['meta']['total']:,}" in note


def test_lead_kpi_tiles_count_their_cases(access_app, town: Town) -> None:
    at = datetime.now(UTC)
    day_start = at - timedelta(days=1)
    with access_app.server.test_request_context("/"):
        setattr(g, G_USER, lead(town))
        tiles = read_tiles(get_engine(town.url), CaseFilter(since=since()), at, day_start)
    with get_engine(town.url).connect() as conn:
        row = conn.execute(
            text(
                f"""
                SELECT count(*) FILTER (WHERE reported_at >= :t0) AS total,
                       count(*) FILTER (WHERE reported_at >= :t0 AND {OPEN}) AS open,
                       count(*) FILTER (WHERE reported_at >= :t0 AND {OPEN} AND due_at < :at)
                           AS overdue,
                       count(*) FILTER (WHERE reported_at >= :day) AS new_today
                FROM cases WHERE grid_id = ANY(:g)
                """
            ),
            {"t0": since(), "at": at, "day": day_start, "g": list(town.own_grid_ids)},
        ).one()
    assert (tiles.total, tiles.open, tiles.overdue, tiles.new_today) == tuple(row)
    assert tiles.total < 20000


def test_lead_ogc_counts_and_extents(base_url: str, town: Town) -> None:
    http = signed_in_session(base_url, LEAD, LEAD_PASSWORD)
    with get_engine(town.url).connect() as conn:
        groups, first, last = conn.execute(
            text(
                "SELECT count(DISTINCT (grid_id, (reported_at AT TIME ZONE :tz)::date)), "
                "min((reported_at AT TIME ZONE :tz)::date), "
                "max((reported_at AT TIME ZONE :tz)::date) "
                "FROM cases WHERE grid_id = ANY(:g) AND geom IS NOT NULL"
            ),
            {"tz": case_timezone(), "g": list(town.own_grid_ids)},
        ).one()
        extent = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Extent(geom)::geometry e FROM grids WHERE id = ANY(:g)) x"
            ),
            {"g": list(town.own_grid_ids)},
        ).one()
    items = http.get(
        base_url + "/ogc/collections/case_aggregates/items", params={"limit": 1, "f": "json"}
    ).json()
    assert items["numberMatched"] == groups
    meta = http.get(base_url + "/ogc/collections/case_aggregates", params={"f": "json"}).json()
    assert meta["extent"]["spatial"]["bbox"][0] == [round(v, 7) for v in extent]
    interval = meta["extent"]["temporal"]["interval"][0]
    assert [v[:10] for v in interval] == [first.isoformat(), last.isoformat()]
    grids = http.get(base_url + "/ogc/collections/grids/items", params={"f": "json"}).json()
    assert grids["numberMatched"] == len(town.own_grid_ids)


def test_exports_hold_the_leads_cases_and_no_planner_cases(town: Town, tmp_path: Path) -> None:
    engine = get_engine(town.url)
    request = ExportRequest(layers=("cases",), format="csv", time_from=since())
    count = write_export(engine, request, tmp_path / "lead.csv", user=lead(town))
    with engine.connect() as conn:
        own = conn.execute(
            text(
                "SELECT count(*) FROM cases WHERE grid_id = ANY(:g) AND geom IS NOT NULL "
                "AND reported_at >= :t0"
            ),
            {"g": list(town.own_grid_ids), "t0": since()},
        ).scalar_one()
    assert count == own
    planner = User(2, "planner", "planner", Role.PLANNER)
    with pytest.raises(LayerError, match="case counts only"):
        write_export(engine, request, tmp_path / "planner.csv", user=planner)
    with pytest.raises(ExportError, match="case counts only"):  # refused before it queues
        submit(engine, request, planner)


@pytest.fixture(scope="module")
def patrolled(town: Town) -> tuple[datetime, datetime]:
    """Street pieces per grid and the visits of the demo's pings; the window of the pings."""
    engine = get_engine(town.url)
    coverage.refresh_static(engine)
    conn = connect(town.url)
    try:
        with conn:
            rebuild_visits(conn, matcher_for(engine), max_accuracy_m=50.0, match_m=25.0)
    finally:
        conn.close()
    with engine.connect() as conn:
        t0, t1 = conn.execute(text("SELECT min(at), max(at) FROM gps_pings")).one()
    return t0, t1


def test_lead_patrol_figures_are_their_grids(
    access_app, town: Town, patrolled: tuple[datetime, datetime]
) -> None:
    engine = get_engine(town.url)
    window = coverage.Window(*patrolled)
    everything = {r["grid_id"]: r for r in coverage.grid_coverage(engine, window)}
    own_with_streets = [gid for gid in town.own_grid_ids if gid in everything]
    assert own_with_streets and len(everything) > len(own_with_streets)
    assert any(r["patrolled_m"] > 0 for r in everything.values())
    with access_app.server.test_request_context("/"):
        setattr(g, G_USER, lead(town))
        mine = {r["grid_id"]: r for r in coverage.grid_coverage(engine, window)}
        asked = [*own_with_streets, town.foreign_grid_id]
        shares = coverage.grid_shares(engine, asked, *patrolled).set_index("id")
        with engine.connect() as conn:
            visited = set(
                conn.execute(
                    text("SELECT edge_id FROM gridmap_patrol_visited(:t0, :t1)"), window.params()
                ).scalars()
            )
            own_edges = set(conn.execute(text("SELECT edge_id FROM edge_grid")).scalars())
    assert sorted(mine) == sorted(own_with_streets)
    for gid, row in mine.items():
        assert row == pytest.approx(everything[gid]), gid
    assert visited <= own_edges
    for gid in own_with_streets:  # the same figures as the SQL, from the lead's cached pieces
        assert shares.loc[gid, "street_m"] == pytest.approx(everything[gid]["street_m"])
        assert shares.loc[gid, "patrolled_share"] == pytest.approx(
            everything[gid]["patrolled_share"]
        )
    assert shares.loc[town.foreign_grid_id, "street_m"] == 0  # not the lead's
    with access_app.server.test_request_context("/"):  # an admin's cache is not the lead's
        setattr(g, G_USER, ADMIN)
        city = coverage.grid_shares(engine, [town.foreign_grid_id], *patrolled).set_index("id")
    assert city.loc[town.foreign_grid_id, "street_m"] == pytest.approx(
        everything[town.foreign_grid_id]["street_m"]
    )


def test_derived_tables_answer_the_reader_in_scope(
    town: Town, patrolled: tuple[datetime, datetime]
) -> None:
    engine = get_engine(town.url)
    with engine.connect() as conn:
        own_edges = set(
            conn.execute(
                text("SELECT edge_id FROM edge_grid WHERE grid_id = ANY(:g)"),
                {"g": list(town.own_grid_ids)},
            ).scalars()
        )
        city = conn.execute(text("SELECT count(*) FROM edge_last_visit")).scalar_one()
    with scoped_connection(engine, lead(town)) as conn:
        seen = set(conn.execute(text("SELECT edge_id FROM edge_visits")).scalars())
        last = conn.execute(text("SELECT count(*) FROM edge_last_visit")).scalar_one()
        hidden = [
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("case_heat_days", "case_heat_stale", "case_imports")
        ]
        meta = list(conn.execute(text("SELECT key FROM gridmap_meta")).scalars())
        version = conn.execute(text("SELECT version FROM gridmap_case_version()")).scalar_one()
    assert seen <= own_edges and 0 < last < city
    assert hidden == [0, 0, 0]  # (no import run brought the lead's cases in)
    assert meta == ["case_version"] and version > 0  # the live probe still works


def test_tiles_are_kept_per_session(base_url: str) -> None:
    response = requests.get(base_url + "/tiles/grids/0/0/0.pbf", timeout=30)
    assert response.status_code == 401  # (signed in: see test_routes)
    http = signed_in_session(base_url, LEAD, LEAD_PASSWORD)
    tile = http.get(base_url + "/tiles/grids/12/3421/1667.pbf", timeout=30)
    assert "private" in tile.headers["Cache-Control"]
    assert tile.headers["Vary"] == "Cookie, Authorization, Accept-Encoding"


def test_import_runs_are_seen_through_the_readers_cases(town: Town) -> None:
    """A lead sees the import run of their own case (its history opens with it), not the
    runs that brought in only other grids' cases."""
    with get_engine(town.url).connect() as conn, conn.begin() as tx:
        mine = conn.execute(
            text("SELECT id FROM cases WHERE grid_id = ANY(:g) ORDER BY id LIMIT 1"),
            {"g": list(town.own_grid_ids)},
        ).scalar_one()
        runs = conn.execute(
            text(
                "INSERT INTO case_imports (actor, source, file_name) VALUES "
                "('admin', 'hotline', 'mine.csv'), ('admin', 'hotline', 'theirs.csv') "
                "RETURNING id"
            )
        ).scalars()
        own_run, other_run = list(runs)
        for case_id, run in ((mine, own_run), (town.foreign_case_ids[0], other_run)):
            conn.execute(
                text("UPDATE cases SET import_id = :r WHERE id = :c"), {"r": run, "c": case_id}
            )
        enter_scope(conn, lead(town))
        seen = set(conn.execute(text("SELECT id FROM case_imports")).scalars())
        history = conn.execute(
            text("SELECT action, note FROM gridmap_case_history(:c)"), {"c": mine}
        ).first()
        tx.rollback()
    assert seen == {own_run}
    assert tuple(history) == ("import", "imported from mine.csv")
