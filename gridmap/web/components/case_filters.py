"""The case filter panel (time window, category, status, source) showing a
:class:`~gridmap.cases.filters.CaseChoice`.

Component ids are ``{prefix}-case-…`` so several pages can hold a panel each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import dcc, html

from gridmap.cases.filters import (
    CUSTOM_WINDOW,
    SOURCES,
    STATUS_GROUPS,
    STATUSES,
    WINDOWS,
    CaseChoice,
)
from gridmap.cases.taxonomy import get_taxonomy
from gridmap.errors import GridmapError
from gridmap.i18n import t
from gridmap.web.shell import dropdown_labels

#: The controls of a panel, by name: (component id suffix, property).
CONTROLS = {
    "window": ("case-window", "value"),
    "start": ("case-dates", "start_date"),
    "end": ("case-dates", "end_date"),
    "categories": ("case-categories", "value"),
    "group": ("case-status-group", "value"),
    "statuses": ("case-statuses", "value"),
    "sources": ("case-sources", "value"),
}


def category_options(lang: str) -> list[dict[str, str]]:
    """The taxonomy's categories as dropdown options labelled in ``lang``."""
    try:
        categories = get_taxonomy().categories
    except GridmapError:
        return []
    return [{"label": c.en if lang == "en" else c.zh, "value": c.slug} for c in categories]


def filter_panel(prefix: str, lang: str, choice: CaseChoice | None = None) -> html.Section:
    """The panel's controls showing ``choice`` (the default when None)."""
    choice = choice or CaseChoice()
    windows = [*WINDOWS, CUSTOM_WINDOW]

    def labelled(key: str, control: Any) -> html.Div:
        return html.Div(
            [html.Label(t(key, lang), className="filter-label"), control],
            className="filter-row",
        )

    def options(labels: str, values: Sequence[str]) -> list[dict[str, str]]:
        return [{"label": t(f"{labels}.{v}", lang), "value": v} for v in values]

    def pills(key: str, name: str, choices: list[dict[str, str]], value: str) -> html.Div:
        """Labelled pills ``{prefix}-case-{name}``, one per choice."""
        return labelled(
            key,
            dcc.RadioItems(
                id=f"{prefix}-case-{name}",
                options=choices,
                value=value,
                className="pill-group",
                inline=True,
            ),
        )

    def several(
        name: str, choices: list[dict[str, Any]], values: Sequence[str], hint: str
    ) -> dcc.Dropdown:
        """A multi-select ``{prefix}-case-{name}`` (empty: any) with the ``hint`` key."""
        return dcc.Dropdown(
            id=f"{prefix}-case-{name}",
            options=choices,
            value=list(values),
            multi=True,
            placeholder=t(hint, lang),
            labels=dropdown_labels(lang),
            className="filter-dropdown",
        )

    return html.Section(
        className="case-filters",
        children=[
            html.H2(t("filter.title", lang), className="panel-title"),
            pills("filter.window", "window", options("window", windows), choice.window),
            html.Div(
                dcc.DatePickerRange(
                    id=f"{prefix}-case-dates",
                    start_date=choice.start,
                    end_date=choice.end,
                    display_format="YYYY-MM-DD",
                    start_date_placeholder_text=t("filter.from", lang),
                    end_date_placeholder_text=t("filter.to", lang),
                    first_day_of_week=1,
                    clearable=True,
                ),
                id=f"{prefix}-case-dates-row",
                className="filter-row filter-dates"
                + ("" if choice.window == CUSTOM_WINDOW else " hidden"),
            ),
            labelled(
                "filter.category",
                several(
                    "categories", category_options(lang), choice.categories, "filter.category_all"
                ),
            ),
            pills(
                "filter.status",
                "status-group",
                options("status_group", ("all", *STATUS_GROUPS)),
                choice.group,
            ),
            html.Div(
                several(
                    "statuses",
                    options("case.status", STATUSES),
                    choice.statuses,
                    "filter.status_detail",
                ),
                className="filter-row",
            ),
            labelled(
                "filter.source",
                several(
                    "sources", options("case.source", SOURCES), choice.sources, "filter.source_all"
                ),
            ),
        ],
    )


def control_inputs(prefix: str) -> list[tuple[str, str]]:
    """(component id, property) of the panel's controls, in :data:`CONTROLS` order."""
    return [(f"{prefix}-{suffix}", prop) for suffix, prop in CONTROLS.values()]
