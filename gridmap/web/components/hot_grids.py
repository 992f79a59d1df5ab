"""The hottest grids: the grids with the most open cases in a window (ties: more new
today), named with their community (read by
:func:`gridmap.web.services.dashboard.read_hot_grids`)."""

from __future__ import annotations

from collections.abc import Sequence

from dash import html

from gridmap.i18n import t
from gridmap.web.services.dashboard import HotGrid


def hot_grid_items(items: Sequence[HotGrid], lang: str) -> list[html.Li] | html.Div:
    """The list's lines: rank, grid and community, open cases with a bar, new today."""
    if not items:
        return html.Div(t("wall.hot_empty", lang), className="hot-empty")
    top = max(item.open for item in items) or 1
    return [
        html.Li(
            id=f"hot-grid-{item.grid_id}",
            className="hot-grid",
            children=[
                html.Span(str(rank), className="hot-rank"),
                html.Div(
                    className="hot-body",
                    children=[
                        html.Div(item.name, className="hot-name"),
                        html.Div(f"{item.community} · {item.code}", className="hot-meta"),
                        html.Div(
                            html.Span(
                                className="hot-bar-fill",
                                style={"width": f"{100 * item.open / top:.0f}%"},
                            ),
                            className="hot-bar",
                        ),
                    ],
                ),
                html.Div(
                    className="hot-figures",
                    children=[
                        html.Span(
                            t("wall.hot_open", lang, count=f"{item.open:,}"), className="hot-open"
                        ),
                        html.Span(
                            t("wall.hot_new", lang, count=f"{item.new_today:,}"),
                            className="hot-new",
                        ),
                    ],
                ),
            ],
        )
        for rank, item in enumerate(items, start=1)
    ]
