"""Live case data: the change counter and probe, the refresh it gates (case traces, KPI
tiles, ticker), stale data while the database is unreachable, and the map page's tick."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dash import Patch, no_update
from sqlalchemy import Engine, create_engine, text

from gridmap.access import Role, User
from gridmap.cases.filters import CaseChoice
from gridmap.db.engine import get_engine
from gridmap.web.app import create_app
from gridmap.web.components.kpis import kpi_tiles
from gridmap.web.components.ticker import ticker_items
from gridmap.web.pages import map as map_page
from gridmap.web.services import live
from gridmap.web.services.dashboard import CaseTiles, read_latest, read_tiles
from gridmap.web.services.map import MapView, case_traces_patch
from layers import LAYERS, layer_ids
from layers.cases import trace_totals
from tests.conftest import make_test_database
from tests.layers.seed import ALL_BBOX, seed

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=TZ)
DEAD_URL = "postgresql+psycopg2://nobody@127.0.0.1:1/none"

# title, category, status, source, reported, due, resolved, closed (offsets from T0), lon/lat
ROWS = [
    ("a", "disputes", "reported", "hotline_12345", -1, -1 / 6, None, None, (120.01, 30.01)),
    ("b", "disputes", "in_progress", "grid_worker", -2, 24, None, None, (120.02, 30.02)),
    ("c", "sanitation", "closed", "hotline_12345", -48, None, -45, -43, (120.08, 30.08)),
    ("d", "traffic", "resolved", "resident_app", -72, -60, -62, None, (120.07, 30.07)),
    ("e", "disputes", "reported", "hotline_12345", -40 * 24, -39 * 24, None, None, (120.03, 30.03)),
    ("f", "sanitation", "rejected", "walk_in", -5 * 24, None, None, None, None),
]  # fmt: skip


def hours(offset: float | None) -> datetime | None:
    return None if offset is None else T0 + timedelta(hours=offset)


def add_case(engine: Engine, title: str, category: str = "disputes", status: str = "reported",
             source: str = "hotline_12345", reported: float = -0.5, due: float | None = None,
             resolved: float | None = None, closed: float | None = None,
             pos: tuple[float, float] | None = (120.015, 30.015)) -> int:  # fmt: skip
    with engine.begin() as conn:
        return conn.execute(
            text(
                "INSERT INTO cases (title, category, status, source, reported_at, due_at, "
                "resolved_at, closed_at, geom) VALUES (:title, :category, :status, :source, "
                ":reported, :due, :resolved, :closed, "
                "CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL "
                "ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END) RETURNING id"
            ),
            {"title": title, "category": category, "status": status, "source": source,
             "reported": hours(reported), "due": hours(due), "resolved": hours(resolved),
             "closed": hours(closed), "lon": pos[0] if pos else None,
             "lat": pos[1] if pos else None},
        ).scalar_one()  # fmt: skip


@pytest.fixture(scope="module")
def live_engine(_created: list[str]) -> Iterator[Engine]:
    url = make_test_database("web_live")
    _created.append(url)
    seed(url)
    engine = get_engine(url)
    for title, cat, status, source, rep, due, res, clo, pos in ROWS:
        add_case(engine, title, cat, status, source, rep, due, res, clo, pos)
    yield engine


def refresh(engine: Engine, state: live.LiveState, now: datetime = T0, **kwargs) -> live.LiveUpdate:
    kwargs.setdefault("bbox", ALL_BBOX)
    kwargs.setdefault("zoom", 12.0)
    choice = kwargs.pop("choice", CaseChoice())
    return live.refresh(engine, state, choice, lang="zh-CN", now=now, **kwargs)


def titles(update: live.LiveUpdate) -> list[str]:
    return [item.title for item in update.ticker or []]


# -- the change counter ---------------------------------------------------------------------


def test_version_moves_on_new_and_changed_cases_only(live_engine: Engine) -> None:
    start = live.probe(live_engine).version
    assert live.probe(live_engine).version == start  # nothing changed: same version
    case_id = add_case(live_engine, "new")
    assert live.probe(live_engine).version == start + 1
    with live_engine.begin() as conn:
        conn.execute(text("UPDATE cases SET status = 'dispatched' WHERE id = :i"), {"i": case_id})
        assert live.probe(live_engine).version == start + 1  # not committed yet: unseen
    after_update = live.probe(live_engine)
    assert after_update.version == start + 2
    assert after_update.changed_at is not None
    with live_engine.begin() as conn:  # a statement changing no case is not a change
        conn.execute(text("UPDATE cases SET status = 'closed' WHERE id = -1"))
    assert live.probe(live_engine).version == start + 2
    with live_engine.begin() as conn:
        conn.execute(text("DELETE FROM cases WHERE id = :i"), {"i": case_id})
    assert live.probe(live_engine).version == start + 3


def test_probe_of_an_unreachable_database_is_a_live_error() -> None:
    dead = create_engine(DEAD_URL, connect_args={"connect_timeout": 2})
    with pytest.raises(live.LiveError, match="could not be checked"):
        live.probe(dead)


# -- refresh ---------------------------------------------------------------------------------


def test_refresh_reads_once_then_only_on_change(live_engine: Engine) -> None:
    first = refresh(live_engine, live.LiveState())
    assert first.changed and first.traces is not None and first.tiles is not None
    assert titles(first) == ["a", "b", "c", "d", "f"]  # newest first; e is 40 days old
    assert first.fresh == set()  # nothing is "new" on the first read
    assert trace_totals(first.traces) == {"hexagons": 4, "points": 0}  # f has no position
    assert first.notice_class == "live-notice live" and first.notice == "实时 · 更新于 12:00:00"

    # Nothing changed: no update of the traces, tiles or ticker.
    quiet = refresh(live_engine, first.state, T0 + timedelta(seconds=1))
    assert (quiet.changed, quiet.traces, quiet.tiles, quiet.ticker) == (False, None, None, None)
    assert quiet.state == first.state
    assert quiet.notice == "实时 · 更新于 12:00:01"

    # A new case: everything is re-read and the new case is marked fresh.
    new_id = add_case(live_engine, "g", reported=-0.25)
    seen = refresh(live_engine, first.state, T0 + timedelta(seconds=2))
    assert seen.changed and titles(seen)[:2] == ["g", "a"]
    assert seen.fresh == {new_id}
    assert trace_totals(seen.traces) == {"hexagons": 5, "points": 0}
    assert seen.tiles.new_today == first.tiles.new_today + 1

    # A status change: seen too (open count drops), nothing is fresh.
    with live_engine.begin() as conn:
        conn.execute(
            text("UPDATE cases SET status = 'resolved', resolved_at = :t WHERE id = :i"),
            {"t": T0, "i": new_id},
        )
    changed = refresh(live_engine, seen.state, T0 + timedelta(seconds=3))
    assert changed.changed and changed.fresh == set()
    assert changed.tiles.open == seen.tiles.open - 1
    assert changed.state.version == seen.state.version + 1
    with live_engine.begin() as conn:
        conn.execute(text("DELETE FROM cases WHERE id = :i"), {"i": new_id})


def test_filter_change_and_age_force_a_refresh(live_engine: Engine) -> None:
    first = refresh(live_engine, live.LiveState())
    forced = refresh(
        live_engine, first.state, choice=CaseChoice(categories=("sanitation",)), forced=True
    )
    assert titles(forced) == ["c", "f"] and forced.fresh == set()
    old = refresh(live_engine, first.state, T0 + live.MAX_AGE + timedelta(seconds=1))
    assert old.changed and old.tiles is not None


def test_a_read_for_another_filter_than_the_state_drew_is_forced(live_engine: Engine) -> None:
    """A tick whose filter (or view) is not the one the state's data was read for reads it,
    though the cases did not change and nothing says it was forced: in the browser such a
    tick supersedes the filter's own call."""
    first = refresh(live_engine, live.LiveState(), drawn_for="all")
    assert first.state.drawn_for == "all"
    assert refresh(live_engine, first.state, drawn_for="all").tiles is None  # nothing new
    other = refresh(
        live_engine, first.state, choice=CaseChoice(categories=("sanitation",)),
        drawn_for="sanitation",
    )  # fmt: skip
    assert titles(other) == ["c", "f"] and other.fresh == set()
    assert other.state.drawn_for == "sanitation"


def test_layer_switched_off_is_not_read(live_engine: Engine) -> None:
    update = refresh(live_engine, live.LiveState(), draw_layer=False)
    assert update.traces is None and update.tiles is not None and update.ticker is not None


def test_stale_while_the_database_is_down_and_back_by_itself(live_engine: Engine) -> None:
    first = refresh(live_engine, live.LiveState())
    dead = create_engine(DEAD_URL, connect_args={"connect_timeout": 2})
    down = refresh(dead, first.state, T0 + timedelta(seconds=5))
    assert (down.traces, down.tiles, down.ticker) == (None, None, None)
    assert down.state.stale and down.state.version == first.state.version
    assert down.notice == "数据更新于 12:00:00 · 数据库连接中断，正在自动重试"
    assert down.notice_class == "live-notice stale"
    still_down = refresh(dead, down.state, T0 + timedelta(seconds=6))
    assert still_down.notice == down.notice  # the last good time, not the time of the try
    # Back, nothing changed meanwhile: live again without re-reading.
    back = refresh(live_engine, still_down.state, T0 + timedelta(seconds=7))
    assert back.changed and not back.state.stale and back.traces is None
    assert back.notice_class == "live-notice live"
    # Back after a change: re-read.
    case_id = add_case(live_engine, "h")
    down = refresh(dead, back.state, T0 + timedelta(seconds=8))
    back = refresh(live_engine, down.state, T0 + timedelta(seconds=9))
    assert titles(back)[0] == "h" and not back.state.stale
    with live_engine.begin() as conn:
        conn.execute(text("DELETE FROM cases WHERE id = :i"), {"i": case_id})


# -- KPI tiles and the ticker ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "tiles"),
    [
        (CaseChoice(), CaseTiles(2, 5, 2, 1, 2, 7.5)),
        (CaseChoice(window="24h"), CaseTiles(2, 2, 2, 1, 0, None)),
        (CaseChoice(categories=("disputes",)), CaseTiles(2, 2, 2, 1, 0, None)),
        (CaseChoice(group="closed"), CaseTiles(0, 3, 0, 0, 2, 7.5)),
        (CaseChoice(sources=("hotline_12345",)), CaseTiles(1, 2, 1, 1, 1, 5.0)),
        (CaseChoice(window="custom", start="2026-01-01", end="2026-02-01"),
         CaseTiles(2, 1, 1, 1, 0, None)),
    ],
)  # fmt: skip
def test_tiles(live_engine: Engine, choice: CaseChoice, tiles: CaseTiles) -> None:
    assert read_tiles(live_engine, choice.resolve(T0), T0, choice.day_start(T0)) == tiles


def test_tiles_render(live_engine: Engine) -> None:
    tiles = read_tiles(live_engine, CaseChoice().resolve(T0), T0, CaseChoice().day_start(T0))
    assert tiles.resolution_rate == 0.4
    rendered = kpi_tiles(tiles, "zh-CN")
    values = [(tile.children[0].children, tile.children[1].children) for tile in rendered]
    assert values == [("今日新增", "2"), ("未办结", "2"), ("已超期", "1"), ("办结率", "40.0%"),
                      ("平均办结时长", "7.5 小时")]  # fmt: skip
    assert rendered[2].className == "kpi-tile tone-alert"
    english = [tile.children[1].children for tile in kpi_tiles(tiles, "en")]
    assert english[-1] == "7.5 h"
    assert [tile.children[1].children for tile in kpi_tiles(None, "en")] == ["—"] * 5


def test_ticker(live_engine: Engine) -> None:
    items = read_latest(live_engine, CaseChoice(window="7d").resolve(T0), limit=3)
    assert [i.title for i in items] == ["a", "b", "c"]
    lines = ticker_items(items, "en", fresh={items[0].id})
    assert [line.className for line in lines] == ["ticker-item fresh", "ticker-item", "ticker-item"]
    first = lines[0].children
    assert [span.children for span in first[1].children[1].children] == ["Disputes", "西南网格"]
    assert [part.children for part in first[2].children] == ["11:00", items[0].code]
    assert ticker_items([], "zh-CN").children == "当前筛选下暂无事件"


def test_ticker_is_empty_for_an_account_that_sees_counts_only(live_engine: Engine) -> None:
    cases = CaseChoice(window="7d").resolve(T0)
    planner = User(2, "planner", "planner", Role.PLANNER)
    command = User(3, "command", "command", Role.COMMAND)
    assert read_latest(live_engine, cases, planner) == []
    assert [i.title for i in read_latest(live_engine, cases, command, limit=3)] == ["a", "b", "c"]


# -- the map page's tick ---------------------------------------------------------------------


def test_tick_patches_only_the_case_traces(live_engine: Engine) -> None:
    app = create_app(live_engine.url.render_as_string(hide_password=False))
    view = MapView((120.05, 30.05), 12.0, ALL_BBOX).to_store()
    toggles = [["on"] if layer.default_visible else [] for layer in LAYERS]
    toggle_ids = [{"type": map_page.TOGGLE, "layer": i} for i in layer_ids()]
    choice = CaseChoice(window="custom", start="2026-01-01", end="2026-03-10").to_store()
    with app.server.test_request_context("/"):
        # The page's first call: tiles and ticker only (the map's first draw has the cases),
        # and the ticking starts.
        first = map_page.live_update(None, choice, live.LiveState().to_store(), view, "en",
                                     toggles, toggle_ids)  # fmt: skip
        assert first[0] is no_update and len(first[1]) == 5 and len(first[2]) == 6
        assert first[6] is False and first[5]["version"] is not None
        # A later read (here: the data moved on since) patches the case traces.
        moved = {**first[5], "version": first[5]["version"] - 1}
        figure, tiles, ticker, _notice, css, state, ticking = map_page.live_update(
            1, choice, moved, view, "en", toggles, toggle_ids
        )
        assert isinstance(figure, Patch) and ticking is False
        operations = figure.to_plotly_json()["operations"]
        assert [op["location"] for op in operations] == [["data", -3], ["data", -2], ["data", -1]]
        assert operations[0]["params"]["value"]["type"] == "choroplethmap"
        assert operations[0]["params"]["value"]["meta"]["total"] == 5  # a–e
        assert len(tiles) == 5 and len(ticker) == 6 and css == "live-notice live"
        # The next tick with nothing changed updates nothing but the notice.
        again = map_page.live_update(2, choice, state, view, "en", toggles, toggle_ids)
        assert again[:3] == (no_update, no_update, no_update) and again[5] is no_update
        # Cases switched off: tiles and ticker still update, the traces are left alone.
        off = map_page.live_update(3, None, moved, view, "en",
                                   [*toggles[:-1], []], toggle_ids)  # fmt: skip
        assert off[0] is no_update and len(off[1]) == 5


def test_tick_without_database_shows_stale_data() -> None:
    app = create_app(DEAD_URL)
    state = live.LiveState(version=3, refreshed_at=T0.isoformat(), ticker=(1,)).to_store()
    toggle_ids = [{"type": map_page.TOGGLE, "layer": i} for i in layer_ids()]
    with app.server.test_request_context("/"):
        out = map_page.live_update(
            4, None, state, MapView((120.05, 30.05), 12.0, ALL_BBOX).to_store(), "en",
            [["on"] if layer.default_visible else [] for layer in LAYERS], toggle_ids,
        )  # fmt: skip
    assert out[:3] == (no_update, no_update, no_update)
    assert out[3:5] == ("Data as of 12:00:00 · Database unreachable, retrying", "live-notice stale")
    assert out[5]["stale"] is True and out[5]["version"] == 3


def test_case_traces_patch_needs_both_traces() -> None:
    with pytest.raises(ValueError, match="draws 3 traces"):
        case_traces_patch([])
