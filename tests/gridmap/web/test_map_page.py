"""The map page: its layout per language and database state, and its redraw service."""

from __future__ import annotations

from typing import Any

import pytest
from dash import Dash, no_update
from dash.development.base_component import Component
from plotly import graph_objects as go

from gridmap.cases.filters import CaseChoice
from gridmap.i18n import MESSAGES, normalize_language, t
from gridmap.web.app import create_app
from gridmap.web.pages import map as map_page
from gridmap.web.services import map as overlays
from gridmap.web.services.map import MapView
from layers import LAYERS, layer_ids
from layers.cases import HEAT_SCALE
from layers.service_points import KIND_COLORS

#: The toggles as the page starts: the layers visible by default switched on.
DEFAULT_ON = [["on"] if layer.default_visible else [] for layer in LAYERS]
TOGGLE_IDS = [{"type": map_page.TOGGLE, "layer": i} for i in layer_ids()]
NOTE_IDS = [{"type": map_page.NOTE, "layer": i} for i in layer_ids()]


def texts(component: Component) -> list[str]:
    """Every string child in a component tree."""
    found = [component.children] if isinstance(component.children, str) else []
    for child in component._traverse():
        if isinstance(getattr(child, "children", None), str):
            found.append(child.children)
        if isinstance(child, str):
            found.append(child)
    return found


def shown(notes: list[str]) -> list[str]:
    """The notes of the layers visible by default (the others stay empty when off)."""
    assert all(n == "" for n, layer in zip(notes, LAYERS, strict=True) if not layer.default_visible)
    return [n for n, layer in zip(notes, LAYERS, strict=True) if layer.default_visible]


def by_id(component: Component, wanted: Any) -> Component:
    for child in component._traverse():
        if getattr(child, "id", None) == wanted:
            return child
    raise KeyError(wanted)


def render(app: Dash, **query: str) -> Component:
    with app.server.test_request_context("/"):
        return map_page.layout(**query)


def test_languages_have_the_same_keys() -> None:
    assert set(MESSAGES["zh-CN"]) == set(MESSAGES["en"])


@pytest.mark.parametrize(
    ("given", "code"),
    [(None, "zh-CN"), ("en", "en"), ("EN-us", "en"), ("zh", "zh-CN"), ("fr", "zh-CN")],
)
def test_normalize_language(given: str | None, code: str) -> None:
    assert normalize_language(given) == code


def test_layout_in_chinese_by_default(app: Dash) -> None:
    page = render(app)
    words = texts(page)
    assert "gridmap 网格化管理" in words
    assert [
        by_id(page, {"type": map_page.TOGGLE, "layer": i}).options[0]["label"] for i in layer_ids()
    ] == [
        "网格", "巡防缺口", "服务圈（步行等时圈）", "巡查覆盖", "无人看护街巷",
        "楼栋", "服务圈外楼栋", "走访逾期楼栋", "视频监控", "服务站点", "事件热力",
    ]  # fmt: skip
    assert "网格边界" in words  # legend (of the layers drawn at this zoom)
    assert by_id(page, "map-lang").data == "zh-CN"
    assert by_id(page, "map-message").className == "map-message hidden"


def test_layout_in_english(app: Dash) -> None:
    page = render(app, lang="en")
    assert "gridmap grid management" in texts(page)
    assert by_id(page, {"type": map_page.TOGGLE, "layer": "cameras"}).options[0]["label"] == (
        "Cameras"
    )
    assert by_id(page, "map-lang").data == "en"


def test_initial_view_fits_the_grids(app: Dash) -> None:
    page = render(app)
    view = MapView.from_store(by_id(page, "map-view").data)
    assert view.center == pytest.approx((120.05, 30.05))
    assert view.zoom == 12.1
    figure = by_id(page, "map-graph").figure
    assert figure["layout"]["map"]["style"]["sources"]["gridmap-basemap"]["tiles"] == [
        "http://localhost/tiles/basemap/{z}/{x}/{y}.pbf"
    ]


def test_empty_database_shows_a_friendly_message(db_url: str) -> None:
    page = render(create_app(db_url))
    message = by_id(page, "map-message")
    assert (message.children, message.className) == (t("map.empty", "zh-CN"), "map-message empty")


def test_unreachable_database_shows_an_error_not_a_traceback() -> None:
    app = create_app("postgresql://nobody@127.0.0.1:1/none")
    page = render(app, lang="en")
    message = by_id(page, "map-message")
    assert (message.children, message.className) == (t("map.error", "en"), "map-message error")
    with app.server.test_request_context("/"):
        figure, notes, _, text, css, *_ = map_page.redraw(
            DEFAULT_ON, None, TOGGLE_IDS, NOTE_IDS, MapView.around((120, 30), 14).to_store(), "en",
            ["", "map-message hidden"],
        )  # fmt: skip
    assert (text, css) == (t("map.error", "en"), "map-message error")
    # Only the buildings layer, hidden at this zoom, needs no database: it still says so.
    # The case layer keeps its (empty) place at the end for live updates.
    layers = [tr["meta"]["layer"] for tr in figure["data"]]
    assert layers == ["buildings", "cases", "cases", "cases"]
    assert shown(notes) == ["", "Zoom in to level 15 to show", "", "", ""]


def redraw(app: Dash, toggles: list, relayout: dict | None, view: MapView, lang: str) -> tuple:
    """The redraw callback's outputs, its figure (the plain dict it sends) as a Figure."""
    with app.server.test_request_context("/"):
        figure, *rest = map_page.redraw(
            toggles, relayout, TOGGLE_IDS, NOTE_IDS, view.to_store(), lang,
            ["", "map-message hidden"],
        )  # fmt: skip
    return (go.Figure(figure), *rest)


def layers_of(figure: Any) -> list[str]:
    """The layers drawn, in order (a layer may draw several traces)."""
    return list(dict.fromkeys(trace.meta["layer"] for trace in figure.data))


def test_redraw_draws_the_visible_layers_for_the_view(app: Dash) -> None:
    view = MapView((120.05, 30.05), 14.0, (119.9, 29.9, 120.6, 30.6))
    figure, notes, stored, message, css, status, legend, cases, points, drawn = redraw(
        app, DEFAULT_ON, None, view, "zh-CN"
    )
    assert layers_of(figure) == ["grids", "buildings", "cameras", "service_points", "cases"]
    assert len(figure.data[0].locations) == 4
    assert [len(tr.lat) for tr in figure.data[1:5]] == [0, 4, 3, 3]  # service points: halo too
    assert [tr.meta["role"] for tr in figure.data[5:]] == ["hexagons", "halo", "points"]
    assert shown(notes) == [
        "当前视图 4 个", "放大到 15 级以上显示", "当前视图 4 个", "当前视图 3 个",
        "0 件按六边形汇总，放大到 15 级显示单个事件",
    ]  # fmt: skip
    assert (message, css, status) == ("", "map-message hidden", "缩放 14.0")
    assert figure.layout.uirevision == "gridmap-map"
    assert stored == view.to_store()
    # The floating legend: the keys of the visible layers drawn at this zoom (buildings
    # from 15: none), top layer first; the case section (colour bar) shown, its single-case
    # key hidden below zoom 15.
    assert [section.id for section in legend] == [
        "map-legend-service_points", "map-legend-cameras", "map-legend-grids",
    ]  # fmt: skip
    assert (cases, points) == ("map-legend-section", "map-legend-points hidden")
    # What the figure holds, for a later toggle's Patch: layers on, kind, traces per layer.
    assert drawn == {
        "visible": ["grids", "buildings", "cameras", "service_points", "cases"],
        "kind": "party_service_center",
        "layers": [("grids", 1), ("buildings", 1), ("cameras", 1), ("service_points", 2),
                   ("cases", 3)],
    }  # fmt: skip


def test_service_circles_one_kind_at_a_time(app: Dash) -> None:
    view = MapView((120.05, 30.05), 14.0, (119.9, 29.9, 120.6, 30.6))
    toggles = [["on"] if i in ("service_circles", "cases") else [] for i in layer_ids()]
    with app.server.test_request_context("/"):
        out = map_page.redraw(
            toggles, None, TOGGLE_IDS, NOTE_IDS, view.to_store(), "zh-CN",
            ["", "map-message hidden"], None, "police_office",
        )  # fmt: skip
    legend = out[6]
    assert [section.id for section in legend] == ["map-legend-service_circles"]
    entries = legend[0].children[1].children
    assert [e.children[1].children for e in entries] == ["警务室服务圈 · 步行 15 分钟"]
    assert entries[0].children[0].style == {"--c": KIND_COLORS["police_office"]}
    # The chooser on the page: one kind, six options with their colours, party first.
    chooser = by_id(render(app), map_page.CIRCLE_KIND)
    assert chooser.value == "party_service_center"
    assert [o["value"] for o in chooser.options] == list(KIND_COLORS)
    assert len(set(KIND_COLORS.values())) == 6


def test_service_kind_colours_stay_apart_from_the_alarm_colours() -> None:
    from layers.uncovered_buildings import COLOR as UNCOVERED

    alarms = {UNCOVERED, *(c for _, c in HEAT_SCALE)}
    assert not alarms & set(KIND_COLORS.values())


def test_toggled_off_layers_are_not_drawn(app: Dash) -> None:
    view = MapView((120.05, 30.05), 14.0, (119.9, 29.9, 120.6, 30.6))
    on = {"grids", "service_points"}
    figure, notes, *_ = redraw(
        app, [["on"] if i in on else [] for i in layer_ids()], None, view, "en"
    )
    assert layers_of(figure) == ["grids", "service_points", "cases"]
    assert [len(tr.locations if tr.type == "choroplethmap" else tr.lat)
            for tr in figure.data[-3:]] == [0, 0, 0]  # fmt: skip
    assert dict(zip(layer_ids(), notes, strict=True)) == {
        i: {"grids": "4 in view", "service_points": "3 in view"}.get(i, "") for i in layer_ids()
    }


def test_redraw_follows_the_map_view(app: Dash) -> None:
    start = MapView((120.05, 30.05), 12.0, (119.9, 29.9, 120.6, 30.6))
    relayout = {
        "map.center": {"lon": 120.0225, "lat": 30.0225},
        "map.zoom": 16.2,
        "map.bearing": 0,
        "map.pitch": 0,
        "map._derived": {
            "coordinates": [[120.0, 30.045], [120.045, 30.045], [120.045, 30.0], [120.0, 30.0]]
        },
    }
    figure, notes, stored, *_ = redraw(app, DEFAULT_ON, relayout, start, "zh-CN")
    bbox = (120.0, 30.0, 120.045, 30.045)
    assert stored == {"center": (120.0225, 30.0225), "zoom": 16.2, "bbox": bbox}
    assert list(figure.data[0].locations) == [1]
    buildings = figure.data[1]
    assert [c[0] for c in buildings.customdata] == ["西南路2号", "西南路3号", "西南路1号"]
    assert shown(notes)[1] == "当前视图 3 个"


@pytest.mark.parametrize(
    ("relayout", "expected"),
    [
        (None, ((1.0, 2.0), 10.0, (0.0, 1.0, 2.0, 3.0))),
        ({"autosize": True}, ((1.0, 2.0), 10.0, (0.0, 1.0, 2.0, 3.0))),
        (
            {"map.center": {"lon": 5, "lat": 6}, "map.zoom": 11,
             "map._derived": {"coordinates": [[4, 7], [6, 7], [6, 5], [4, 5]]}},
            ((5.0, 6.0), 11.0, (4.0, 5.0, 6.0, 7.0)),
        ),
    ],
)  # fmt: skip
def test_view_from_relayout_data(relayout: dict | None, expected: tuple) -> None:
    view = MapView((1.0, 2.0), 10.0, (0.0, 1.0, 2.0, 3.0)).updated(relayout)
    assert (view.center, view.zoom, view.bbox) == expected


def test_view_from_zoom_only_estimates_the_box() -> None:
    view = MapView((1.0, 2.0), 10.0, (0.0, 1.0, 2.0, 3.0)).updated({"map.zoom": 12})
    assert view.zoom == 12 and view.center == (1.0, 2.0)
    assert view.bbox[0] < 1.0 < view.bbox[2] and view.bbox[1] < 2.0 < view.bbox[3]


def test_fit_zooms_to_the_extent() -> None:
    view = MapView.fit((120.0, 30.0, 120.1, 30.1))
    assert (view.center, view.zoom) == (pytest.approx((120.05, 30.05)), 12.1)
    assert view.bbox[0] < 120.0 and view.bbox[2] > 120.1


def test_draw_overlays_in_registry_order(app: Dash) -> None:
    from gridmap.db.engine import get_engine

    view = MapView((120.05, 30.05), 14.0, (119.9, 29.9, 120.6, 30.6))
    engine = get_engine(app.server.config["GRIDMAP_DATABASE_URL"])
    drawn = overlays.draw_overlays(engine, ["service_points", "grids"], view, "en")
    assert [tr.meta["layer"] for tr in drawn.traces] == [
        "grids",
        "service_points",
        "service_points",
        "cases",  # switched off: its three empty traces keep their place at the end
        "cases",
        "cases",
    ]
    assert drawn.error is None


@pytest.mark.parametrize(
    ("other", "covered"),
    [
        (MapView((1.0, 2.0), 10.0, (0.5, 1.5, 1.5, 2.5)), True),  # inside, same zoom
        (MapView((1.0, 2.0), 10.0, (0.0, 1.0, 2.0, 3.0)), True),  # the same view
        (MapView((1.0, 2.0), 10.5, (0.5, 1.5, 1.5, 2.5)), False),  # zoomed: other detail
        (MapView((1.9, 2.0), 10.0, (1.0, 1.5, 2.1, 2.5)), False),  # moved out on the east
    ],
)
def test_a_drawn_view_covers_views_inside_it_at_its_zoom(other: MapView, covered: bool) -> None:
    assert MapView((1.0, 2.0), 10.0, (0.0, 1.0, 2.0, 3.0)).covers(other) is covered


def test_the_maps_report_of_a_view_inside_the_drawn_one_redraws_nothing(app: Dash) -> None:
    from dash._callback_context import context_value
    from dash._utils import AttributeDict
    from dash.exceptions import PreventUpdate

    drawn = MapView((120.05, 30.05), 12.0, (119.9, 29.9, 120.6, 30.6))
    relayout = {
        "map.center": {"lon": 120.05, "lat": 30.05},
        "map.zoom": 12.0,
        "map._derived": {
            "coordinates": [[120.0, 30.1], [120.1, 30.1], [120.1, 30.0], [120.0, 30.0]]
        },
    }
    token = context_value.set(
        AttributeDict(triggered_inputs=[{"prop_id": "map-graph.relayoutData", "value": relayout}])
    )
    try:
        with pytest.raises(PreventUpdate):
            redraw(app, DEFAULT_ON, relayout, drawn, "zh-CN")
        moved = {**relayout, "map.zoom": 12.5}
        assert redraw(app, DEFAULT_ON, moved, drawn, "zh-CN")[2]["zoom"] == 12.5
    finally:
        context_value.reset(token)


def triggered(prop_id: str, value: Any = None) -> Any:
    """The callback context of an input ``prop_id`` that fired (reset it after)."""
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    return context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": value}]))


def apply(figure: dict, patch: Any) -> dict:
    """``figure`` with a Patch's Delete / Insert / Assign operations applied (as Dash's
    renderer does)."""
    data = list(figure["data"])
    layout = figure["layout"]
    for op in patch.to_plotly_json()["operations"]:
        where, kind = op["location"], op["operation"]
        if where == ["data"] and kind == "Insert":
            data.insert(op["params"]["index"], op["params"]["value"])
        elif where[0] == "data" and kind == "Delete":
            del data[where[1]]
        elif where == ["layout", "map", "style"] and kind == "Assign":
            layout = {**layout, "map": {**layout["map"], "style": op["params"]["value"]}}
        else:
            raise AssertionError(f"unexpected operation {op}")
    return {"data": data, "layout": layout}


def test_a_toggle_redraws_only_its_layer_in_place(app: Dash) -> None:
    """Cameras off, then on again: the Patch removes and puts back the cameras' traces in
    their place; the other layers are neither read nor sent. A layer drawn from tiles
    (buildings) changes the map's style too."""
    from dash._callback_context import context_value

    view = MapView((120.05, 30.05), 14.0, (119.9, 29.9, 120.6, 30.6))
    full = redraw(app, DEFAULT_ON, None, view, "zh-CN")
    figure = full[0].to_plotly_json()
    off = [[] if i == "cameras" else v for i, v in zip(layer_ids(), DEFAULT_ON, strict=True)]
    token = triggered('{"layer":"cameras","type":"map-layer-toggle"}.value', [])
    try:
        with app.server.test_request_context("/"):
            out = map_page.redraw(off, None, TOGGLE_IDS, NOTE_IDS, view.to_store(), "zh-CN",
                                  ["", "map-message hidden"], None, None, full[9],
                                  full[1])  # fmt: skip
            patch, notes, stored_view, drawn = out[0], out[1], out[2], out[9]
            ops = patch.to_plotly_json()["operations"]
            assert [op["operation"] for op in ops] == ["Delete"]  # the cameras' trace
            assert stored_view is no_update
            assert dict(zip(layer_ids(), notes, strict=True))["cameras"] == ""
            assert notes[0] == full[1][0]  # the grids' note as it was
            figure_off = apply(figure, patch)
            assert [tr["meta"]["layer"] for tr in figure_off["data"]] == [
                "grids", "buildings", "service_points", "service_points",
                "cases", "cases", "cases",
            ]  # fmt: skip
            assert figure_off["layout"] == figure["layout"]
            back = map_page.redraw(DEFAULT_ON, None, TOGGLE_IDS, NOTE_IDS, view.to_store(),
                                   "zh-CN", ["", "map-message hidden"], None, None, drawn,
                                   notes)  # fmt: skip
    finally:
        context_value.reset(token)
    again = apply(figure_off, back[0])
    assert [tr["meta"]["layer"] for tr in again["data"]] == [
        tr["meta"]["layer"] for tr in figure["data"]
    ]
    cameras = next(tr for tr in again["data"] if tr["meta"]["layer"] == "cameras")
    assert (
        cameras["lat"]
        == next(tr for tr in figure["data"] if tr["meta"]["layer"] == "cameras")["lat"]
    )
    assert back[9] == full[9] and back[1] == full[1]
    assert again["layout"]["map"]["style"] == figure["layout"]["map"]["style"]
    no_buildings = [
        [] if i == "buildings" else v for i, v in zip(layer_ids(), DEFAULT_ON, strict=True)
    ]
    token = triggered('{"layer":"buildings","type":"map-layer-toggle"}.value', [])
    try:
        with app.server.test_request_context("/"):
            out = map_page.redraw(no_buildings, None, TOGGLE_IDS, NOTE_IDS, view.to_store(),
                                  "zh-CN", ["", "map-message hidden"], None, None, full[9],
                                  full[1])  # fmt: skip
    finally:
        context_value.reset(token)
    styled = apply(figure, out[0])
    assert "gridmap-buildings" in figure["layout"]["map"]["style"]["sources"]
    assert "gridmap-buildings" not in styled["layout"]["map"]["style"]["sources"]


def test_a_move_redraws_only_the_layers_that_follow_the_view(app: Dash) -> None:
    """A zoom, with the city's top risk grids on: the Patch replaces the other layers'
    traces (the same figure as a fresh redraw of the new view), the risk grids' traces are
    neither read nor sent, each trace keeps its uid, and the view and status follow."""
    from dash._callback_context import context_value

    on = [["on"] if layer.default_visible or layer.id == "risk_gap" else [] for layer in LAYERS]
    view = MapView((120.05, 30.05), 12.0, (119.9, 29.9, 120.6, 30.6))
    full = redraw(app, on, None, view, "zh-CN")
    figure = full[0].to_plotly_json()
    assert "risk_gap" in layers_of(full[0])
    relayout = {"map.center": {"lon": 120.05, "lat": 30.05}, "map.zoom": 16.0}
    token = triggered("map-graph.relayoutData", relayout)
    try:
        with app.server.test_request_context("/"):
            out = map_page.redraw(on, relayout, TOGGLE_IDS, NOTE_IDS, view.to_store(), "zh-CN",
                                  ["", "map-message hidden"], None, None, full[9],
                                  full[1])  # fmt: skip
    finally:
        context_value.reset(token)
    patch, notes, stored_view, status = out[0], out[1], out[2], out[5]
    ops = patch.to_plotly_json()["operations"]
    risk = [k for k, tr in enumerate(figure["data"]) if tr["meta"]["layer"] == "risk_gap"]
    assert risk and all(op["location"][1:] != [k] for op in ops for k in risk)
    assert not any(
        op["operation"] == "Insert" and op["params"]["value"]["meta"]["layer"] == "risk_gap"
        for op in ops
    )
    moved = apply(figure, patch)
    fresh = redraw(app, on, None, MapView.from_store(stored_view), "zh-CN")[0].to_plotly_json()
    assert [tr["uid"] for tr in moved["data"]] == [tr["uid"] for tr in fresh["data"]]
    assert [tr.get("lat") or tr.get("locations") for tr in moved["data"]] == [
        tr.get("lat") or tr.get("locations") for tr in fresh["data"]
    ]
    assert stored_view["zoom"] == 16.0 and "16.0" in status
    assert dict(zip(layer_ids(), notes, strict=True))["risk_gap"] == full[1][1]


def test_a_filter_chosen_as_the_timer_ticks_redraws_the_cases(app: Dash) -> None:
    """A new time window reaches the live callback with a tick of its timer (the timer ticks
    every second): in one call fired by both, or in a tick's call sent while the filter's
    was under way (the browser then drops the filter's answer). Either reads the cases for
    the new window. Looking at the first trigger only (the tick) left the map on the old
    window while the filter showed the new one."""
    view = MapView((120.05, 30.05), 12.0, (119.9, 29.9, 120.6, 30.6))
    page = (view.to_store(), "zh-CN", DEFAULT_ON, TOGGLE_IDS)
    tick = {"prop_id": "map-live-tick.n_intervals", "value": 1}
    week = CaseChoice(window="7d").to_store()
    chosen = {"prop_id": "map-case-filter.data", "value": week}

    def live(fired: list[dict], choice: dict | None, state: dict | None) -> tuple:
        from dash._callback_context import context_value
        from dash._utils import AttributeDict

        token = context_value.set(AttributeDict(triggered_inputs=fired))
        try:
            with app.server.test_request_context("/"):
                return map_page.live_update(1, choice, state, *page)
        finally:
            context_value.reset(token)

    first = live([tick], None, None)
    assert first[0] is no_update  # the page's first call: the map came with its cases
    state = first[5]
    assert live([tick], None, state)[0] is no_update  # nothing new: nothing redrawn
    both = live([tick, chosen], week, state)
    operations = both[0].to_plotly_json()["operations"]
    assert [op["location"] for op in operations] == [["data", -3], ["data", -2], ["data", -1]]
    assert live([chosen], week, state)[0].to_plotly_json()["operations"] == operations
    alone = live([tick], week, state)  # the filter's own call dropped: the tick draws it
    assert alone[0].to_plotly_json()["operations"] == operations
    assert live([tick], week, alone[5])[0] is no_update  # drawn: the next tick redraws nothing
