"""The page shell: the scaffold the pages share, the graph configuration, the triggers."""

from __future__ import annotations

from dash import dcc, html
from dash._callback_context import context_value

from gridmap.web.shell import (
    GRAPH_CONFIG,
    dropdown_labels,
    graph_config,
    page_layout,
    triggered_id,
    triggered_ids,
)


def test_graph_config_changes_only_what_a_page_asks() -> None:
    wall = graph_config(displayModeBar=False, scrollZoom=False)
    assert wall == {"scrollZoom": False, "displaylogo": False, "responsive": True,
                    "displayModeBar": False}  # fmt: skip
    assert GRAPH_CONFIG == {"scrollZoom": True, "displaylogo": False, "responsive": True}


def test_triggered_id_outside_a_callback_is_none() -> None:
    token = context_value.set({})  # a test before this one may have left one set
    try:
        assert triggered_id() is None
        assert triggered_ids() == []
    finally:
        context_value.reset(token)


def test_triggered_ids_are_every_input_that_fired_together() -> None:
    from dash._utils import AttributeDict

    fired = [
        {"prop_id": "map-live-tick.n_intervals", "value": 4},
        {"prop_id": "map-case-filter.data", "value": {"window": "7d"}},
        {"prop_id": '{"layer":"cameras","type":"toggle"}.value', "value": []},
    ]
    token = context_value.set(AttributeDict(triggered_inputs=fired))
    try:
        assert triggered_id() == "map-live-tick"  # the first only
        assert triggered_ids() == [
            "map-live-tick",
            "map-case-filter",
            {"layer": "cameras", "type": "toggle"},
        ]
    finally:
        context_value.reset(token)


def test_page_layout_is_header_panel_area_then_stores() -> None:
    frame = page_layout(
        "en",
        "/x",
        page_class="x-page",
        panel=[html.P("p")],
        panel_class="x-panel",
        area=[html.P("a")],
        after=[html.Aside(id="x-detail")],
        stores=[dcc.Store(id="x-store")],
    )
    assert (frame.className, frame.lang) == ("app", "en")
    head, main, store = frame.children
    assert head.className == "app-header" and store.id == "x-store"
    assert [c.className for c in main.children[:2]] == ["x-panel", "map-area"]
    assert main.className == "x-page" and main.children[2].id == "x-detail"


def test_page_layout_dropdowns_speak_the_pages_language() -> None:
    """Every dropdown of a page gets the page's words for "Select All", "Search", …; one
    that chose its own keeps them."""
    own = {"search": "找"}
    frame = page_layout(
        "zh-CN",
        "/x",
        page_class="x-page",
        panel=[html.Div([dcc.Dropdown(id="x-kind", options=["a"])])],
        panel_class="x-panel",
        area=[dcc.Dropdown(id="x-own", options=["b"], labels=own)],
        after=[html.Aside(dcc.Dropdown(id="x-more", options=["c"], multi=True))],
    )
    found = {d.id: d.labels for d in frame._traverse() if isinstance(d, dcc.Dropdown)}
    assert found == {"x-kind": dropdown_labels("zh-CN"), "x-own": own,
                     "x-more": dropdown_labels("zh-CN")}  # fmt: skip
    assert dropdown_labels("zh-CN")["select_all"] == "全选"
