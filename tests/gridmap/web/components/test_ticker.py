"""The ticker says where a case lies: its grid, outside every grid, or nowhere; a planner
(counts only) is told why it lists no case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dash import html
from flask import Flask, g

from gridmap.access import G_USER, Role, User
from gridmap.web.components.ticker import ticker_items
from gridmap.web.services.dashboard import TickerItem

AT = datetime(2026, 12, 6, 2, 7, tzinfo=UTC)


def item(case_id: int, grid: str | None, located: bool = True) -> TickerItem:
    return TickerItem(case_id, f"C{case_id}", "井盖缺失", "municipal", "new", 2, AT,
                      grid and f"G{case_id}", grid, located)  # fmt: skip


def places(lines: list[html.Li]) -> list[tuple[str, str, str]]:
    """(text, class, title) of each line's grid span."""
    spans = [c for line in lines for c in line._traverse() if isinstance(c, html.Span)]
    return [(s.children, s.className, s.title) for s in spans if "ticker-grid" in s.className]


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("zh-CN", [("桥北1网格", "ticker-grid", "G1"),
                   ("网格外", "ticker-grid outside", "事件位置不在任何网格内"),
                   ("未定位", "ticker-grid outside", "未定位")]),
        ("en", [("桥北1网格", "ticker-grid", "G1"),
                ("outside any grid", "ticker-grid outside", "The case lies outside every grid"),
                ("no location", "ticker-grid outside", "no location")]),
    ],
)  # fmt: skip
def test_ticker_says_outside_every_grid(lang: str, expected: list[tuple[str, str, str]]) -> None:
    lines = ticker_items([item(1, "桥北1网格"), item(2, None), item(3, None, False)], lang)
    assert places(lines) == expected


def test_a_planner_is_told_the_ticker_shows_counts_only() -> None:
    app = Flask(__name__)
    with app.test_request_context("/"):
        g.setdefault(G_USER, User(1, "planner", "规划分析员", Role.PLANNER))
        shown = ticker_items([], "zh-CN")
        assert shown.children == "您的账号只能查看事件统计（地图上的蜂窝），不显示单个事件。"
    with app.test_request_context("/"):
        g.setdefault(G_USER, User(2, "command", "值班员", Role.COMMAND))
        assert ticker_items([], "zh-CN").children == "当前筛选下暂无事件"
