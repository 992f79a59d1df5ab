"""The case filter panel's dropdowns speak the page's language, their own words included."""

from __future__ import annotations

import pytest
from dash import dcc

from gridmap.web.components.case_filters import filter_panel
from gridmap.web.shell import DROPDOWN_LABELS, dropdown_labels

ZH = {
    "select_all": "全选",
    "deselect_all": "全不选",
    "selected_count": "已选 {num_selected} 项",
    "search": "搜索",
    "clear_search": "清除搜索",
    "clear_selection": "清除已选",
    "no_options_found": "没有匹配的选项",
}
EN = {
    "select_all": "Select all",
    "deselect_all": "Deselect all",
    "selected_count": "{num_selected} selected",
    "search": "Search",
    "clear_search": "Clear search",
    "clear_selection": "Clear selection",
    "no_options_found": "No options found",
}


def test_dropdown_labels_cover_every_label_dash_knows() -> None:
    """Every key of the installed dcc.Dropdown's ``labels`` prop is given (a Dash upgrade
    adding one fails here instead of showing English on the Chinese page)."""
    assert set(DROPDOWN_LABELS) == set(dcc.Dropdown.Labels.__annotations__)


@pytest.mark.parametrize(("lang", "labels"), [("zh-CN", ZH), ("en", EN)])
def test_every_filter_dropdown_has_the_pages_labels(lang: str, labels: dict[str, str]) -> None:
    assert dropdown_labels(lang) == labels
    dropdowns = [c for c in filter_panel("map", lang)._traverse() if isinstance(c, dcc.Dropdown)]
    assert [d.id for d in dropdowns] == ["map-case-categories", "map-case-statuses",
                                         "map-case-sources"]  # fmt: skip
    assert all(d.labels == labels for d in dropdowns)
