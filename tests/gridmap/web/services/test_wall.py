"""The wall screen's data: the heavier tiles (cameras online, patrol coverage now, people
inside the service circles), the hottest grids, the live tick with its stale notice, the
slow tick's patrol patch, and the tiles' text — exact figures on the demo city (seed 7)
with its patrol visits and coverage computed, cross-checked against independent reads."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import shapely
from dash import Dash
from plotly.io.json import to_json_plotly
from sqlalchemy import Engine, create_engine, text

from gridmap.cases.filters import CLOSED_STATUSES, CaseFilter
from gridmap.db.engine import get_engine
from gridmap.patrols.coverage import Window, grid_coverage
from gridmap.settings import get_settings
from gridmap.web.components.hot_grids import hot_grid_items
from gridmap.web.components.wall_tiles import case_tiles, extra_tiles
from gridmap.web.services import live, wall
from gridmap.web.services.dashboard import read_extras, read_hot_grids, read_tiles
from layers.base import coordinate_decimals
from layers.patrol_coverage import GRIDS_UID, share_outline

DEAD_URL = "postgresql+psycopg2://nobody@127.0.0.1:1/none"
#: The demo city (seed 7): cameras and online cameras.
CAMERAS, ONLINE = 289, 264


@pytest.fixture(scope="module")
def wall_engine(wall_url: str) -> Engine:
    return get_engine(wall_url)


@pytest.fixture(scope="module")
def noon(wall_engine: Engine) -> datetime:
    """Noon of the demo day (its anchor is that day's midnight): patrols ran since 08:00."""
    with wall_engine.connect() as conn:
        anchor = conn.execute(
            text("SELECT (value #>> '{}')::timestamptz FROM gridmap_meta WHERE key = 'demo_anchor'")
        ).scalar_one()
    return anchor + timedelta(hours=12)


def texts(node) -> list[str]:
    """Every string in a rendered Dash tree."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list | tuple):
        return [s for child in node for s in texts(child)]
    children = getattr(node, "children", None)
    return texts(children) if children is not None else []


def test_extras_on_the_demo_city(wall_engine: Engine, noon: datetime) -> None:
    extras = read_extras(
        wall_engine, noon, patrol_hours=8, circle_minutes=15, circle_kinds=("convenience_station",)
    )
    assert (extras.cameras, extras.cameras_online) == (CAMERAS, ONLINE)
    with wall_engine.connect() as conn:
        online = conn.execute(text("SELECT count(*) FROM cameras WHERE status = 'online'"))
        assert online.scalar_one() == ONLINE
        summary = conn.execute(
            text("SELECT summary FROM analysis_runs WHERE job = 'coverage'")
        ).scalar_one()
    assert extras.camera_rate == pytest.approx(ONLINE / CAMERAS)

    # Patrol coverage now = the per-grid coverage summed over the city.
    per_grid = grid_coverage(wall_engine, Window(noon - timedelta(hours=8), noon))
    street = sum(r["street_m"] for r in per_grid)
    patrolled = sum(r["patrolled_m"] for r in per_grid)
    assert extras.street_m == pytest.approx(street)
    assert extras.patrolled_m == pytest.approx(patrolled)
    assert 0 < extras.patrol_rate < 1

    # People inside 15-minute circles of convenience stations = the run's own summary.
    fifteen = next(s for s in summary["convenience_station"] if s["minutes"] == 15)
    assert extras.population == fifteen["population"]
    assert extras.population_covered == fifteen["population_covered"]
    assert round(100 * extras.circle_rate, 2) == pytest.approx(fifteen["population_pct"])


def test_circle_population_of_several_kinds_is_the_union(wall_engine: Engine, noon) -> None:
    kinds = ("convenience_station", "police_office")
    extras = read_extras(wall_engine, noon, patrol_hours=8, circle_minutes=10, circle_kinds=kinds)
    with wall_engine.connect() as conn:
        run = conn.execute(text("SELECT id, params FROM gridmap_latest_run('coverage')")).one()
        rows = conn.execute(
            text(
                "SELECT b.population, a.walk_m FROM building_access a "
                "JOIN buildings b ON b.id = a.building_id WHERE a.run_id = :r"
            ),
            {"r": run.id},
        ).all()
    order = run.params["kinds"]
    reach = 10 * run.params["speed_kmh"] * 1000 / 60 + 0.05
    people = np.array([r.population for r in rows])
    walks = np.array(
        [
            [np.inf if w[order.index(k)] is None else w[order.index(k)] for k in kinds]
            for _, w in rows
        ]
    )
    covered = int(people[(walks <= reach).any(axis=1)].sum())
    assert (extras.population, extras.population_covered) == (int(people.sum()), covered)
    single = read_extras(
        wall_engine, noon, patrol_hours=8, circle_minutes=10, circle_kinds=kinds[:1]
    )
    assert single.population_covered < covered
    # every kind (none chosen, or all of them): any walk within reach (the fast path)
    every = np.array([[np.inf if v is None else v for v in w] for _, w in rows], dtype=float)
    all_covered = int(people[(every <= reach).any(axis=1)].sum())
    for chosen in ((), tuple(order)):
        extras = read_extras(
            wall_engine, noon, patrol_hours=8, circle_minutes=10, circle_kinds=chosen
        )
        assert extras.population_covered == all_covered > covered


def test_circles_beyond_the_run_are_not_guessed(wall_engine: Engine, noon: datetime) -> None:
    extras = read_extras(wall_engine, noon, patrol_hours=8, circle_minutes=20)
    assert extras.population is None and extras.circle_rate is None
    tile = extra_tiles(extras, "zh-CN")[2]
    assert texts(tile) == ["20分钟服务圈内人口", "—", "尚未计算"]


def test_nothing_computed_yet(engine: Engine) -> None:
    """An empty database: no cameras, no street pieces, no coverage run."""
    extras = read_extras(engine, datetime.now().astimezone(), patrol_hours=8, circle_minutes=15)
    assert (extras.cameras, extras.street_m, extras.population) == (0, None, None)
    assert [texts(tile)[1] for tile in extra_tiles(extras, "en")] == ["—", "—", "—"]


def test_hot_grids_rank_open_cases(wall_engine: Engine, noon: datetime) -> None:
    since, day_start = noon - timedelta(days=30), noon - timedelta(hours=12)
    hot = read_hot_grids(wall_engine, CaseFilter(since=since), day_start, 5)
    with wall_engine.connect() as conn:
        frame = pd.read_sql(
            text(
                "SELECT c.grid_id, g.name, c.status, c.reported_at FROM cases c "
                "JOIN grids g ON g.id = c.grid_id WHERE c.reported_at >= :s"
            ),
            conn,
            params={"s": min(since, day_start)},
        )
    open_ = frame[(frame.reported_at >= since) & ~frame.status.isin(CLOSED_STATUSES)]
    counts = open_.groupby("grid_id").size().rename("open").reset_index()
    today = frame[frame.reported_at >= day_start].groupby("grid_id").size()
    counts["new_today"] = counts.grid_id.map(today).fillna(0).astype(int)
    counts = counts.sort_values(["open", "new_today", "grid_id"], ascending=[False, False, True])
    expected = list(counts.head(5).itertuples(index=False, name=None))
    assert [(h.grid_id, h.open, h.new_today) for h in hot] == expected
    assert hot[0].open >= hot[-1].open > 0
    assert all(h.name.startswith(h.community) for h in hot)  # demo grids: 社区第N网格
    lines = hot_grid_items(hot, "zh-CN")
    assert texts(lines[0])[:2] == ["1", hot[0].name]
    assert f"未办结 {hot[0].open}" in texts(lines[0])


def test_live_tick_reads_everything_once_then_only_probes(wall_engine: Engine, noon) -> None:
    start = wall.wall_view(wall_engine, None)
    assert start.extent is not None and start.view.bbox == start.extent
    first = wall.live_tick(wall_engine, live.LiveState(), start.view, "zh-CN", noon)
    result = first.live
    assert not first.stale and first.notice_class == "wall-notice live"
    assert first.notice == f"实时 · {live.clock(noon)}"
    assert len(result.traces) == 3 and result.traces[0].meta["role"] == "hexagons"
    assert first.hot is not None and len(first.hot) == get_settings().wall_hot_grids
    # The case tiles are the map page's, for the wall's window.
    choice = wall.wall_choice()
    assert result.tiles == read_tiles(
        wall_engine, choice.resolve(noon), noon, choice.day_start(noon)
    )
    patch = wall.case_patch(first)
    assert patch is not None
    assert result.traces[0].marker.opacity == wall.HEX_OPACITY

    again = wall.live_tick(
        wall_engine, result.state, start.view, "zh-CN", noon + timedelta(seconds=1)
    )
    assert again.hot is None and again.live.traces is None and wall.case_patch(again) is None
    assert not again.stale


def test_a_forced_tick_still_marks_new_ticker_lines(wall_engine: Engine, noon) -> None:
    view = wall.wall_view(wall_engine, None).view
    drawn = wall.live_tick(wall_engine, live.LiveState(), view, "zh-CN", noon).live.state
    assert drawn.ticker
    # The view moved (a forced re-read) just as a new case came in: it is still fresh.
    before = live.LiveState(drawn.version - 1, drawn.refreshed_at, drawn.ticker[1:])
    moved = wall.live_tick(wall_engine, before, view, "zh-CN", noon, forced=True)
    assert moved.fresh == {drawn.ticker[0]}


def test_live_tick_without_database_is_stale_with_the_time_of_the_data(
    wall_engine: Engine, noon: datetime
) -> None:
    view = wall.wall_view(wall_engine, None).view
    good = wall.live_tick(wall_engine, live.LiveState(), view, "zh-CN", noon).live.state
    dead = create_engine(DEAD_URL, connect_args={"connect_timeout": 2})
    later = noon + timedelta(seconds=30)
    down = wall.live_tick(dead, good, view, "zh-CN", later)
    assert down.stale and down.notice_class == "wall-notice stale"
    assert down.notice == f"数据截至 {live.clock(noon)} · 数据库连接中断，正在自动重试"
    assert down.live.tiles is None and down.hot is None
    en = wall.live_tick(dead, good, view, "en", later)
    assert en.notice.startswith(f"Data as of {live.clock(noon)}")
    # Back by itself: the next answer clears the notice.
    back = wall.live_tick(wall_engine, down.live.state, view, "zh-CN", later)
    assert not back.stale and back.notice_class == "wall-notice live"
    # The view of a database that does not answer: a fallback, marked.
    assert wall.wall_view(dead, None).error


def test_probe_asks_for_a_re_read_once_per_change(wall_engine: Engine, noon: datetime) -> None:
    view = wall.wall_view(wall_engine, None).view
    drawn = wall.live_tick(wall_engine, live.LiveState(), view, "zh-CN", noon).live.state
    quiet = wall.probe_tick(wall_engine, drawn, None, "zh-CN", noon)
    assert (quiet.request, quiet.state, quiet.notice_class) == (None, None, "wall-notice live")
    # The cases moved on since the wall drew them: one request, not one per second.
    behind = live.LiveState(drawn.version - 1, drawn.refreshed_at, drawn.ticker)
    asked = wall.probe_tick(wall_engine, behind, None, "zh-CN", noon).request
    assert asked == {"version": drawn.version, "at": noon.isoformat()}
    soon = noon + timedelta(seconds=3)
    assert wall.probe_tick(wall_engine, behind, asked, "zh-CN", soon).request is None
    late = noon + wall.REFRESH_RETRY + timedelta(seconds=1)
    assert wall.probe_tick(wall_engine, behind, asked, "zh-CN", late).request is not None
    # Older than live.MAX_AGE: re-read (relative windows slide).
    old = noon + live.MAX_AGE + timedelta(seconds=1)
    assert wall.probe_tick(wall_engine, drawn, None, "zh-CN", old).request is not None
    # Database gone: stale (once), no request; back: live again.
    dead = create_engine(DEAD_URL, connect_args={"connect_timeout": 2})
    down = wall.probe_tick(dead, drawn, None, "en", soon)
    assert down.request is None and down.state.stale and down.notice_class == "wall-notice stale"
    assert down.notice.startswith(f"Data as of {live.clock(noon)}")
    assert wall.probe_tick(dead, down.state, None, "en", soon).state is None
    back = wall.probe_tick(wall_engine, down.state, None, "en", soon)
    assert back.state is not None and not back.state.stale and back.request is None


def test_slow_tick_sends_outlines_once_then_only_shares(wall_engine: Engine, noon) -> None:
    view = wall.wall_view(wall_engine, None).view
    first = wall.slow_tick(wall_engine, view, "zh-CN", noon, None)
    assert first.full
    trace = first.patch.to_plotly_json()["operations"][0]["params"]["value"]
    # The outlines come from their own URL, named by the grids' change counter.
    version = wall._grids_version(wall_engine)
    assert trace["type"] == "choroplethmap"
    assert trace["geojson"] == wall.outlines_url(view, version)
    features = wall.outlines(wall_engine, view, noon)["features"]
    assert len(features) > 100 and [f["id"] for f in features] == trace["locations"]
    second = wall.slow_tick(wall_engine, view, "zh-CN", noon, first.patrol_key)
    assert not second.full and second.patrol_key == first.patrol_key
    ops = second.patch.to_plotly_json()["operations"]
    # The shares, and the outlines that encode them (colour and width per grid, on the dark
    # wall the less patrolled the brighter; the fill stays clear).
    assert [op["location"] for op in ops] == [["data", 0, "z"], ["data", 0, "marker", "line"]]
    shares = ops[0]["params"]["value"]
    assert trace["z"] == shares and "customdata" not in trace
    assert ops[1]["params"]["value"] == share_outline(shares, dark=True)
    assert trace["marker"]["line"] == share_outline(shares, dark=True)
    assert trace["uid"] == GRIDS_UID  # the case heat goes under its layers (case_patch)
    assert len(shares) == len(trace["locations"])
    per_grid = {
        r["grid_id"]: r["patrolled_share"]
        for r in grid_coverage(wall_engine, Window(noon - timedelta(hours=8), noon))
    }
    assert shares == [round(per_grid.get(gid, 0.0), 4) for gid in trace["locations"]]
    assert first.extras == second.extras
    # The city totals come from the per-grid figures: the same as the direct read.
    direct = read_extras(wall_engine, noon, patrol_hours=8, circle_minutes=15,
                         circle_kinds=("convenience_station",))  # fmt: skip
    assert first.extras.street_m == pytest.approx(direct.street_m)
    assert first.extras.patrolled_m == pytest.approx(direct.patrolled_m)
    assert first.extras.population_covered == direct.population_covered
    later = str(second.patch.to_plotly_json())
    assert "geojson" not in later and "locations" not in later  # the shares only


def test_tiles_text_in_both_languages(wall_engine: Engine, noon: datetime) -> None:
    choice = wall.wall_choice()
    tiles = read_tiles(wall_engine, choice.resolve(noon), noon, choice.day_start(noon))
    extras = read_extras(
        wall_engine, noon, patrol_hours=8, circle_minutes=15, circle_kinds=("convenience_station",)
    )
    zh = [texts(tile) for tile in case_tiles(tiles, "zh-CN", "30d") + extra_tiles(extras, "zh-CN")]
    assert [t[0] for t in zh] == [
        "今日新增", "未办结", "已超期", "办结率", "巡查覆盖率", "视频在线率", "15分钟服务圈内人口",
        "周期内走访率",  # the small demo city has households
    ]  # fmt: skip
    assert all(t[1] != "—" for t in zh)
    assert zh[1][1:] == [f"{tiles.open:,}", f"近 30 天共 {tiles.total:,} 件"]
    assert zh[5][1:] == [f"{ONLINE / CAMERAS:.1%}", f"在线 {ONLINE} / {CAMERAS} 路"]
    assert zh[6][2].endswith("便民服务站")
    en = [texts(tile) for tile in case_tiles(tiles, "en", "30d") + extra_tiles(extras, "en")]
    assert [t[0] for t in en][4:] == [
        "Patrol coverage now", "Cameras online", "In 15-min circles", "Visited within cadence",
    ]  # fmt: skip
    empty = [texts(tile)[1] for tile in case_tiles(None, "en", "30d") + extra_tiles(None, "en")]
    assert empty == ["—"] * 7


def test_dark_basemap_and_fitted_view() -> None:
    style = {
        "layers": [
            {"id": "background", "type": "background", "paint": {"background-color": "#fff"}},
            {"id": "roads-minor", "type": "line", "paint": {"line-color": "#fff", "line-width": 1}},
            {"id": "raster-basemap", "type": "raster"},
        ]
    }
    dark = wall.dark_style(style)
    assert dark["layers"][0]["paint"] == {"background-color": wall.BACKGROUND}
    assert dark["layers"][1]["paint"] == {"line-color": "#fff", "line-width": 1}  # its own
    assert dark["layers"][2]["paint"] == {"raster-brightness-max": 0.35}
    assert style["layers"][0]["paint"] == {"background-color": "#fff"}, "input untouched"
    view = wall.MapView((120.0, 30.0), 12.0, (119.9, 29.9, 120.1, 30.1))
    assert wall.zoomed(view, 12.0) is view
    moved = wall.zoomed(view, 13.2, (120.01, 30.0))
    assert (moved.zoom, moved.center, moved.bbox) == (13.2, (120.01, 30.0), view.bbox)
    ops = wall.view_patch(moved).to_plotly_json()["operations"]
    assert [op["location"] for op in ops] == [
        ["layout", "map", "zoom"],
        ["layout", "map", "center"],
    ]


def hot_grids_request(app: Dash, engine: Engine) -> dict:
    """The body of a call of the wall's hottest-grids callback (English), for ``app``."""
    output = next(key for key in app.callback_map if "wall-hot.children" in key)
    view = wall.wall_view(engine, None).view.to_store()
    return {
        "output": output,
        "outputs": [{"id": i, "property": p} for i, p in
                    (part.rsplit(".", 1) for part in output[2:-2].split("..."))],
        "inputs": [{"id": "wall-refresh", "property": "data", "value": None},
                   {"id": "wall-view", "property": "data", "value": view}],
        "state": [{"id": "wall-live", "property": "data", "value": {}},
                  {"id": "wall-lang", "property": "data", "value": "en"}],
        "changedPropIds": ["wall-view.data"],
    }  # fmt: skip


def test_only_command_and_admin_watch_the_wall(wall_url: str, wall_engine: Engine) -> None:
    """The wall shows the whole city: other roles get 403 and no data, for the page and
    when they call its callbacks directly (gridmap.access.pages)."""
    from gridmap.web.app import create_app
    from tests.signin import client_sign_in, ensure_account

    app = create_app(wall_url)
    body = hot_grids_request(app, wall_engine)
    seen, pages = {}, {}
    for role, grids in (("command", ()), ("admin", ()), ("grid_lead", ("990101001001001",)),
                        ("planner", ())):  # fmt: skip
        client = app.server.test_client()
        client_sign_in(client, *ensure_account(wall_url, role, grids=grids))
        response = client.post("/_dash-update-component", json=body)
        seen[role] = response.status_code
        pages[role] = client.get("/wall?lang=en").status_code
        if response.status_code == 200:
            hot = response.get_json()["response"]["wall-hot"]["children"]
            assert len(hot) == get_settings().wall_hot_grids
        else:
            assert set(response.get_json()) == {"error"}
    assert seen == {"command": 200, "admin": 200, "grid_lead": 403, "planner": 403}
    assert pages == seen


def test_the_walls_outlines_url_answers_its_roles_and_may_be_kept(
    wall_url: str, wall_engine: Engine, noon: datetime
) -> None:
    """The browser fetches the outlines once and keeps them (the URL changes with the
    grids); other roles get 403 and no outline; a malformed view gets 400."""
    from gridmap.web.app import create_app
    from tests.signin import client_sign_in, ensure_account

    app = create_app(wall_url)
    view = wall.wall_view(wall_engine, None).view
    url = wall.outlines_url(view, wall._grids_version(wall_engine))
    seen = {}
    for role, grids in (("command", ()), ("admin", ()), ("grid_lead", ("990101001001001",)),
                        ("planner", ())):  # fmt: skip
        client = app.server.test_client()
        client_sign_in(client, *ensure_account(wall_url, role, grids=grids))
        response = client.get(url)
        seen[role] = response.status_code
        if response.status_code == 200:
            assert response.mimetype == "application/geo+json"
            assert response.headers["Cache-Control"] == "private, max-age=31536000, immutable"
            body = response.get_json(force=True)
            drawn = wall.outlines_view(view)
            assert body == json.loads(to_json_plotly(wall.outlines(wall_engine, drawn, noon)))
        else:
            assert "features" not in response.get_data(as_text=True)
    assert seen == {"command": 200, "admin": 200, "grid_lead": 403, "planner": 403}
    client = app.server.test_client()
    client_sign_in(client, *ensure_account(wall_url, "command"))
    bad = client.get(wall.OUTLINES_PATH + "?bbox=1,2,3&zoom=10")
    assert (
        bad.status_code == 400 and "bbox=minx,miny,maxx,maxy" in bad.get_json()["error"]["message"]
    )
    anonymous = app.server.test_client().get(url)
    assert anonymous.status_code == 401


def test_first_slow_tick_outlines_are_rounded_and_kept_until_grids_change(
    wall_engine: Engine, noon: datetime
) -> None:
    assert coordinate_decimals(0.00045) == 4  # zoom ~10.6, the demo and city walls
    assert coordinate_decimals(0.0000027) == 6
    wall._OUTLINES.clear()
    view = wall.wall_view(wall_engine, None).view
    first = wall.slow_tick(wall_engine, view, "zh-CN", noon, None)
    features = wall.outlines(wall_engine, view, noon)["features"]
    coords = shapely.get_coordinates([shapely.geometry.shape(f["geometry"]) for f in features])
    decimals = coordinate_decimals(360 / 512 / 2**view.zoom)
    assert np.array_equal(coords, np.round(coords, decimals))
    assert len(wall._OUTLINES) == 1
    again = wall.slow_tick(wall_engine, view, "zh-CN", noon, None)
    assert again.patch.to_plotly_json() == first.patch.to_plotly_json()
    assert len(wall._OUTLINES) == 1  # kept: no second read of the outlines
    with wall_engine.begin() as conn:
        conn.execute(text("UPDATE grids SET name = name WHERE id = (SELECT min(id) FROM grids)"))
    wall.slow_tick(wall_engine, view, "zh-CN", noon, None)
    assert len(wall._OUTLINES) == 2  # the grids' counter moved: read anew


def test_the_outlines_url_holds_for_a_view_a_pixel_apart(wall_engine: Engine) -> None:
    """Two walls whose maps came out a pixel apart (zoom 10.46 / 10.47, the box a little
    wider) ask for one outlines URL, drawn for a box covering both views."""
    view = wall.wall_view(wall_engine, None).view
    minx, miny, maxx, maxy = view.bbox
    near = wall.MapView(view.center, view.zoom + 0.01, (minx + 1e-4, miny, maxx - 1e-4, maxy))
    assert wall.outlines_url(view, 3) == wall.outlines_url(near, 3)
    assert wall.outlines_url(view, 3) != wall.outlines_url(view, 4)
    drawn = wall.outlines_view(view)
    dminx, dminy, dmaxx, dmaxy = drawn.bbox
    assert dminx <= minx and dminy <= miny and maxx <= dmaxx and maxy <= dmaxy
    assert drawn.zoom <= view.zoom and view.zoom - drawn.zoom < wall.OUTLINES_ZOOM_STEP
