"""Cases: time window and filters, hexagons counted in the database below zoom 15 (the
same cells as PostGIS's ST_HexagonGrid), single cases from it, legend and export — on
hand-made cases in a database of their own."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg2
import pytest
import shapely
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from gridmap.cases.filters import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    STATUSES,
    CaseFilter,
    expand_statuses,
    time_window,
)
from gridmap.db.engine import get_engine
from layers import LayerContext, get_layer
from layers.base import Detail, detail_of
from layers.cases import (
    HEAT_SCALE,
    STATUS_COLORS,
    TRACE_COUNT,
    heat_breaks,
    hex_level,
    hex_size,
    trace_totals,
)
from tests.conftest import make_test_database
from tests.layers.seed import ALL_BBOX, SW_BBOX, seed

CASES = get_layer("cases")
TZ = ZoneInfo("Asia/Shanghai")
#: "Now" of every test: cases are placed relative to it.
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=TZ)

# id, category, status, priority, source, reported_at, lon/lat (None: no position)
ROWS = [
    (1, "disputes", "reported", 2, "hotline_12345", T0 - timedelta(minutes=10), (120.01, 30.01)),
    (2, "disputes", "closed", 3, "grid_worker", T0 - timedelta(hours=2), (120.012, 30.011)),
    (3, "public_security", "in_progress", 1, "resident_app", T0 - timedelta(hours=1),
     (120.03, 30.03)),
    (4, "sanitation", "resolved", 3, "hotline_12345", T0 - timedelta(days=3), (120.08, 30.08)),
    (5, "sanitation", "rejected", 4, "video_patrol", T0 - timedelta(days=29), (120.09, 30.02)),
    (6, "traffic", "dispatched", 3, "hotline_12345", T0 - timedelta(days=30), (120.07, 30.07)),
    (7, "traffic", "returned", 2, "walk_in", T0 - timedelta(days=30, seconds=1), (120.02, 30.02)),
    (8, "disputes", "reported", 3, "hotline_12345", T0 - timedelta(minutes=5), None),
    (9, "municipal", "accepted", 3, "grid_worker", datetime(2026, 3, 10, 0, 0, tzinfo=TZ),
     (120.011, 30.012)),
    (10, "municipal", "closed", 3, "grid_worker", datetime(2026, 3, 9, 23, 59, 59, tzinfo=TZ),
     (120.5, 30.5)),
]  # fmt: skip
LOCATED = [r[0] for r in ROWS if r[6] is not None]
#: The hexagons' colour bar at zoom 12: the 95th percentile of their counts, in quarters.
HEX_COUNTS = [1, 1, 1, 1, 1, 1, 3]
BREAKS = [0.0, 0.6, 1.2, 1.8, 2.4]


@pytest.fixture(scope="module")
def cases_engine(_created: list[str]) -> Iterator[Engine]:
    url = make_test_database("layer_cases")
    _created.append(url)
    seed(url)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        for cid, cat, status, prio, source, at, pos in ROWS:
            geom = f"SRID=4326;POINT({pos[0]} {pos[1]})" if pos else None
            cur.execute(
                "INSERT INTO cases (id, code, title, category, status, priority, source, "
                "reported_at, geom) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (cid, f"GM{cid:09d}", f"事件{cid}", cat, status, prio, source, at, geom),
            )
    conn.close()
    yield get_engine(url)


def ctx(
    engine: Engine, zoom: float | None = 16, window: str | None = None, **filters
) -> LayerContext:
    since, until = time_window(window, T0, "Asia/Shanghai") if window else (None, None)
    cases = CaseFilter(since=since, until=until, **filters)
    return LayerContext(engine, bbox=ALL_BBOX, zoom=zoom, params=(cases,))


def ids(engine: Engine, **kwargs) -> list[int]:
    data = CASES.query(ctx(engine, **kwargs))
    assert detail_of(data) is Detail.FEATURES
    return sorted(data["id"].tolist())


# -- time window -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        # case 3 was reported exactly 1 h before now: the start is inclusive
        ("1h", [1, 3]),
        ("24h", [1, 2, 3, 9, 10]),
        ("7d", [1, 2, 3, 4, 9, 10]),
        # case 6 exactly 30 days before now is in; case 7, one second earlier, is out
        ("30d", [1, 2, 3, 4, 5, 6, 9, 10]),
        (None, LOCATED),
    ],
)
def test_window_boundaries(cases_engine: Engine, window: str | None, expected: list[int]) -> None:
    assert ids(cases_engine, window=window) == expected


def test_custom_window_end_is_exclusive(cases_engine: Engine) -> None:
    # case 9 at 2026-03-10 00:00 is the end of a window ending on 03-09: out; case 10 in
    until_9 = time_window("custom", T0, "Asia/Shanghai", "2026-03-09", "2026-03-09")
    data = CASES.query(LayerContext(cases_engine, zoom=16, params=(CaseFilter(*until_9),)))
    assert data["id"].tolist() == [10]
    on_10 = time_window("custom", T0, "Asia/Shanghai", "2026-03-10", "2026-03-10")
    data = CASES.query(LayerContext(cases_engine, zoom=16, params=(CaseFilter(*on_10),)))
    assert data["id"].tolist() == [1, 3, 2, 9]  # newest first


# -- filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"categories": ["disputes"]}, [1, 2]),
        ({"categories": ["sanitation", "traffic"]}, [4, 5, 6, 7]),
        ({"statuses": expand_statuses("open")}, [1, 3, 6, 7, 9]),
        ({"statuses": expand_statuses("closed")}, [2, 4, 5, 10]),
        ({"statuses": ["rejected"]}, [5]),
        ({"sources": ["hotline_12345"]}, [1, 4, 6]),
        ({"sources": ["grid_worker"], "categories": ["municipal"]}, [9, 10]),
        ({"categories": ["disputes"], "statuses": expand_statuses("closed")}, [2]),
        ({"categories": []}, LOCATED),  # an empty choice does not filter
        ({"categories": ["petitions"]}, []),
    ],
)
def test_filters(cases_engine: Engine, filters: dict, expected: list[int]) -> None:
    assert ids(cases_engine, **filters) == expected


def test_open_statuses_agree_with_the_case_services(cases_engine: Engine) -> None:
    with cases_engine.connect() as conn:
        open_in_sql = conn.execute(
            text("SELECT s FROM unnest(CAST(:s AS text[])) s WHERE gridmap_case_is_open(s)"),
            {"s": list(STATUSES)},
        ).scalars()
        assert tuple(open_in_sql) == OPEN_STATUSES


@pytest.mark.parametrize(
    "filters",
    [
        {"window": "30d", "categories": ["disputes", "traffic"]},
        {"window": "7d", "statuses": list(CLOSED_STATUSES)},
        {"window": "1h", "sources": ["hotline_12345", "resident_app"]},
    ],
)
def test_filters_mean_what_the_case_api_means(cases_engine: Engine, filters: dict) -> None:
    window = filters.pop("window")
    since, until = time_window(window, T0, "Asia/Shanghai")
    layer_ids = ids(cases_engine, window=window, **filters)
    with cases_engine.connect() as conn:
        api_ids = conn.execute(
            text(
                "SELECT id FROM gridmap_cases_select(categories => CAST(:c AS text[]), "
                "statuses => CAST(:s AS text[]), sources => CAST(:o AS text[]), since => :since, "
                "until => :until) WHERE geom IS NOT NULL ORDER BY id"
            ),
            {"c": filters.get("categories"), "s": filters.get("statuses"),
             "o": filters.get("sources"), "since": since, "until": until},
        ).scalars()  # fmt: skip
        assert layer_ids == list(api_ids)


# -- hexagons and the zoom switch -----------------------------------------------------------


@pytest.mark.parametrize(
    ("zoom", "detail"), [(5, Detail.AGGREGATED), (14.9, Detail.AGGREGATED), (15, Detail.FEATURES)]
)
def test_hexagons_below_zoom_15_single_cases_from_it(
    cases_engine: Engine, zoom: float, detail: Detail
) -> None:
    assert detail_of(CASES.query(ctx(cases_engine, zoom=zoom))) is detail


@pytest.mark.parametrize("zoom", [8, 10, 11, 12.5, 13, 14])
@pytest.mark.parametrize(
    "filters", [{}, {"window": "30d"}, {"statuses": list(OPEN_STATUSES)}, {"window": "1h"}]
)
def test_hexagon_counts_sum_to_the_matching_cases(
    cases_engine: Engine, zoom: float, filters: dict
) -> None:
    hexes = CASES.query(ctx(cases_engine, zoom=zoom, **filters))
    assert detail_of(hexes) is Detail.AGGREGATED
    matching = ids(cases_engine, **filters)
    assert int(hexes["cases"].sum()) == len(matching)
    assert hexes["cases"].min() >= 1 if len(hexes) else True
    # The same cells as PostGIS's own hexagon tiling.
    size = hex_size(hex_level(zoom))
    assert hexes.attrs["hex_level"] == hex_level(zoom)
    with cases_engine.connect() as conn:
        truth = conn.execute(
            text(
                "SELECT h.i, h.j, count(*)::int FROM cases c, "
                "LATERAL ST_HexagonGrid(:size, ST_Transform(c.geom, 3857)) h "
                "WHERE c.id = ANY(:ids) AND ST_Intersects(h.geom, ST_Transform(c.geom, 3857)) "
                "GROUP BY h.i, h.j ORDER BY h.i, h.j"
            ),
            {"size": size, "ids": matching},
        ).all()
    assert [tuple(r) for r in hexes[["cell_i", "cell_j", "cases"]].to_numpy().tolist()] == [
        tuple(r) for r in truth
    ]


def test_hexagon_cells_at_zoom_12(cases_engine: Engine) -> None:
    # edge 22 px at zoom 12 = 420.4 m: cases 1, 2, 9 share a cell; the rest are alone
    data = CASES.query(ctx(cases_engine, zoom=12.7))
    assert hex_size(hex_level(12.7)) == pytest.approx(420.4, abs=0.1)
    assert data["cases"].tolist() == [3, 1, 1, 1, 1, 1, 1]
    assert data["open"].tolist() == [2, 1, 1, 1, 0, 0, 0]
    assert int(data["cases"].sum()) == len(LOCATED)
    # each hexagon is a closed ring of 6 corners around its cases
    assert all(len(g.exterior.coords) == 7 for g in data.geometry)


@pytest.mark.parametrize(("zoom", "level"), [(3, 9), (9.99, 9), (12.5, 12), (14.9, 14)])
def test_levels_clamp_to_the_indexed_ones(zoom: float, level: int) -> None:
    assert hex_level(zoom) == level


def test_hexagon_size_agrees_with_the_database(cases_engine: Engine) -> None:
    with cases_engine.connect() as conn:
        sizes = conn.execute(
            text("SELECT gridmap_case_hex_size(l) FROM generate_series(9, 14) l")
        ).scalars()
        assert list(sizes) == pytest.approx([hex_size(level) for level in range(9, 15)])


def test_the_box_picks_points_and_whole_cells(cases_engine: Engine) -> None:
    data = CASES.query(LayerContext(cases_engine, bbox=SW_BBOX, zoom=16))
    assert sorted(data["id"].tolist()) == [1, 2, 3, 7, 9]
    everywhere = CASES.query(LayerContext(cases_engine, zoom=13))
    whole = {(i, j): n for i, j, n in everywhere[["cell_i", "cell_j", "cases"]].to_numpy()}
    hexes = CASES.query(LayerContext(cases_engine, bbox=SW_BBOX, zoom=13))
    seen = {(i, j): n for i, j, n in hexes[["cell_i", "cell_j", "cases"]].to_numpy()}
    # cells meeting the view, with their whole counts; the far-away case 10 is left out
    assert {k: whole[k] for k in seen} == seen
    assert sum(seen.values()) == 5 and len(whole) == len(seen) + 4
    for hexagon in hexes.geometry:
        assert hexagon.intersects(shapely.box(*SW_BBOX).buffer(0.01))


def test_single_cases_newest_first_and_capped(cases_engine: Engine) -> None:
    data = CASES.query(ctx(cases_engine, window="24h"))
    assert data["id"].tolist() == [1, 3, 2, 9, 10]
    assert data["grid_code"].tolist()[:2] == ["G1", "G1"]
    capped = dataclasses.replace(CASES, max_features=2)
    data = capped.query(ctx(cases_engine, window="24h"))
    assert (data["id"].tolist(), data.attrs["capped"]) == ([1, 3], True)
    assert capped.note(data, "en") == "Showing the 2 nearest the view centre"


# -- traces, legend, note, export ------------------------------------------------------------


def test_hexagon_traces(cases_engine: Engine) -> None:
    data = CASES.query(ctx(cases_engine, zoom=12))
    traces = CASES.traces(data, "zh-CN")
    assert len(traces) == TRACE_COUNT
    hexes, halo, points = traces
    assert (hexes.type, halo.type, points.type) == ("choroplethmap", "scattermap", "scattermap")
    assert len(halo.lat) == 0
    assert sorted(hexes.z) == sorted(data["cases"].tolist())
    assert sorted(hexes.z) == HEX_COUNTS  # p95 at rank 5.7: 1 + 0.7 × (3 − 1) = 2.4
    assert len(hexes.geojson["features"]) == len(data) and len(points.lat) == 0
    assert trace_totals(traces) == {"hexagons": len(LOCATED), "points": 0}
    assert hexes.meta == {"layer": "cases", "detail": "aggregated", "role": "hexagons",
                          "total": len(LOCATED), "breaks": BREAKS}  # fmt: skip
    assert (hexes.zmin, round(hexes.zmax, 6)) == (0, BREAKS[-1])
    assert "件事件" in hexes.hovertemplate
    assert CASES.note(data, "zh-CN") == "9 件按六边形汇总，放大到 15 级显示单个事件"


@pytest.mark.parametrize(
    ("top", "breaks"),
    [
        (1.0, [0.0, 0.2, 0.5, 0.8, 1.0]),
        (6.0, [0.0, 1.5, 3.0, 4.5, 6.0]),
        (9.6, [0.0, 2.4, 4.8, 7.2, 9.6]),
    ],
)
def test_heat_breaks_are_quarters_of_the_colour_scale(top: float, breaks: list[float]) -> None:
    assert heat_breaks(top) == breaks


@pytest.mark.parametrize(
    ("lang", "row"),
    [
        ("zh-CN", ["GM000000003", "事件3", "治安隐患", "处置中", "2026-03-10 11:00",
                   "西南网格 (G1)"]),
        ("en", ["GM000000003", "事件3", "Public security", "In progress", "2026-03-10 11:00",
                "西南网格 (G1)"]),
    ],
)  # fmt: skip
def test_point_traces_colour_by_status_with_a_detail_popup(
    cases_engine: Engine, lang: str, row: list[str]
) -> None:
    data = CASES.query(ctx(cases_engine, window="1h"))
    hexes, halo, points = CASES.traces(data, lang)
    assert len(hexes.locations) == 0
    assert list(halo.marker.size) == [18, 21] and halo.hoverinfo == "skip"
    assert list(points.marker.color) == [STATUS_COLORS["reported"], STATUS_COLORS["in_progress"]]
    assert list(points.marker.size) == [13, 16]  # priority 2, priority 1
    assert list(points.customdata[1]) == row
    assert trace_totals([hexes, points]) == {"hexagons": 0, "points": 2}


def test_empty_view_still_draws_both_traces(cases_engine: Engine) -> None:
    for zoom in (10, 16):
        data = CASES.query(ctx(cases_engine, zoom=zoom, categories=["petitions"]))
        traces = CASES.traces(data, "en")
        assert [tr.meta["role"] for tr in traces] == ["hexagons", "halo", "points"]
        assert traces[0].meta["breaks"] == []
        assert trace_totals(traces) == {"hexagons": 0, "points": 0}
    assert [tr.meta["role"] for tr in CASES.empty_traces("en")] == ["hexagons", "halo", "points"]


def test_legend(cases_engine: Engine) -> None:
    legend = CASES.legend("zh-CN")
    assert [(e.label, e.color, e.shape) for e in legend] == [
        ("事件较少", HEAT_SCALE[0][1], "fill"),
        ("事件较多", HEAT_SCALE[2][1], "fill"),
        ("事件密集（热点）", HEAT_SCALE[-1][1], "fill"),
        ("待处理（已上报 / 已退回）", STATUS_COLORS["reported"], "circle"),
        ("办理中", STATUS_COLORS["in_progress"], "circle"),
        ("已办结 / 已结案", STATUS_COLORS["closed"], "circle"),
        ("不予受理", STATUS_COLORS["rejected"], "circle"),
    ]
    assert [e.label for e in CASES.legend("en")][-1] == "Rejected"


def test_export_has_every_matching_case_without_view_limits(cases_engine: Engine) -> None:
    capped = dataclasses.replace(CASES, max_features=1)
    frame = capped.export(ctx(cases_engine, zoom=5, window="30d"))
    assert detail_of(frame) is Detail.FEATURES
    assert sorted(frame["id"].tolist()) == [1, 2, 3, 4, 5, 6, 9, 10]
    assert frame.crs.to_epsg() == 4326
    assert list(frame.columns[:4]) == ["id", "code", "title", "category"]
    everywhere = capped.export(LayerContext(cases_engine))
    assert sorted(everywhere["id"].tolist()) == LOCATED


def test_phone_numbers_in_titles_are_masked_on_the_map_ticker_and_export(
    cases_engine: Engine,
) -> None:
    """A resident's number typed into a title never shows whole (map, ticker, export)."""
    from gridmap.cases.filters import CaseFilter
    from gridmap.web.services.dashboard import read_latest

    with cases_engine.begin() as conn:
        conn.execute(text("UPDATE cases SET title = '楼道漏水 联系13812345678' WHERE id = 1"))
    try:
        context = ctx(cases_engine)
        shown = CASES.query(context).set_index("id")["title"]
        exported = CASES.export(context).set_index("id")["title"]
        ticker = {item.id: item.title for item in read_latest(cases_engine, CaseFilter())}
        for titles in (shown, exported, ticker):
            assert titles[1] == "楼道漏水 联系138****5678"
            assert titles[2] == "事件2"
    finally:
        with cases_engine.begin() as conn:
            conn.execute(text("UPDATE cases SET title = '事件1' WHERE id = 1"))
