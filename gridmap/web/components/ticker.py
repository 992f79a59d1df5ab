"""The ticker of the latest cases matching a filter (newest report first), each with its
category, grid and time; cases that were not in the previous list are highlighted (read by
:func:`gridmap.web.services.dashboard.read_latest`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from dash import html

from gridmap.access import current_user
from gridmap.access.policy import sees_single_cases
from gridmap.cases.filters import case_timezone, category_label, local_time
from gridmap.i18n import t
from gridmap.web.services.dashboard import TickerItem
from layers.cases import STATUS_COLORS


def grid_text(item: TickerItem, lang: str) -> tuple[str, str]:
    """(text, tooltip) of where a ticker line's case lies: its grid, else outside every
    grid, else no position at all."""
    if item.grid_name:
        return item.grid_name, item.grid_code or item.grid_name
    if item.located:
        return t("ticker.outside", lang), t("ticker.outside_hint", lang)
    return t("ticker.unlocated", lang), t("ticker.unlocated", lang)


def ticker_items(
    items: Sequence[TickerItem], lang: str, fresh: Collection[int] = ()
) -> list[html.Li] | html.Div:
    """The ticker's lines; ids in ``fresh`` get the highlight class. An account that sees
    case counts only (a planner) is told so instead of "no cases"."""
    if not items:
        if not sees_single_cases(current_user()):
            return html.Div(t("ticker.counts_only", lang), className="ticker-empty")
        return html.Div(t("ticker.empty", lang), className="ticker-empty")
    tz = case_timezone()
    lines = []
    for item in items:
        grid, where = grid_text(item, lang)
        category = category_label(item.category, lang)
        lines.append(
            html.Li(
                key=str(item.id),
                id=f"ticker-case-{item.id}",
                className="ticker-item fresh" if item.id in fresh else "ticker-item",
                children=[
                    html.Span(
                        className="ticker-dot",
                        style={"--c": STATUS_COLORS.get(item.status, "#64748b")},
                        title=t(f"case.status.{item.status}", lang),
                    ),
                    html.Div(
                        className="ticker-body",
                        children=[
                            html.Div(item.title, className="ticker-title"),
                            html.Div(
                                className="ticker-meta",
                                children=[
                                    html.Span(
                                        category, className="ticker-category", title=category
                                    ),
                                    html.Span(
                                        grid,
                                        className="ticker-grid"
                                        + ("" if item.grid_name else " outside"),
                                        title=where,
                                    ),
                                ],
                            ),
                        ],
                    ),
                    html.Div(
                        className="ticker-when",
                        children=[
                            html.Time(
                                local_time(item.reported_at, tz, "%H:%M"),
                                className="ticker-time",
                                title=local_time(item.reported_at, tz, "%Y-%m-%d %H:%M:%S"),
                            ),
                            html.Span(item.code, className="ticker-code"),
                        ],
                    ),
                ],
            )
        )
    return lines


def ticker_ids(items: Sequence[TickerItem]) -> list[int]:
    return [item.id for item in items]


def ticker_panel(prefix: str, lang: str, children: Any = None) -> html.Section:
    """The ticker's frame: a title and the list (id ``{prefix}-ticker``)."""
    return html.Section(
        className="ticker",
        children=[
            html.H3(t("ticker.title", lang), className="ticker-heading"),
            html.Ul(children or [], id=f"{prefix}-ticker", className="ticker-list"),
        ],
    )
