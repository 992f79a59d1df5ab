"""The case filter panel (time window, category, status, source) and what a choice in it
means: a :class:`CaseChoice` resolved into the layer context's time window and filters.

Component ids are ``{prefix}-case-…`` so several pages can hold a panel each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dash import dcc, html

from gridmap.cases.intake import SOURCES
from gridmap.cases.taxonomy import get_taxonomy
from gridmap.errors import GridmapError
from gridmap.i18n import t
from layers.cases import (
    CUSTOM_WINDOW,
    STATUS_GROUPS,
    STATUSES,
    WINDOWS,
    case_timezone,
    expand_statuses,
    time_window,
)

DEFAULT_WINDOW = "30d"
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


@dataclass(frozen=True)
class CaseChoice:
    """What the filter panel shows: a window key (+ dates for "custom"), categories, a
    status group ("all", "open", "closed") with exact statuses, and sources."""

    window: str = DEFAULT_WINDOW
    start: str | None = None
    end: str | None = None
    categories: tuple[str, ...] = ()
    group: str = "all"
    statuses: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=())

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> CaseChoice:
        """A choice from the panel's control values, in :data:`CONTROLS` order."""
        raw = dict(zip(CONTROLS, values, strict=True))
        return cls.from_store(raw)

    @classmethod
    def from_store(cls, data: Mapping[str, Any] | None) -> CaseChoice:
        """A choice from its stored dict (unknown values dropped; None: the default)."""
        data = data or {}
        window = data.get("window") or DEFAULT_WINDOW
        if window not in WINDOWS and window != CUSTOM_WINDOW:
            window = DEFAULT_WINDOW
        group = data.get("group") if data.get("group") in STATUS_GROUPS else "all"
        return cls(
            window=window,
            start=(data.get("start") or None),
            end=(data.get("end") or None),
            categories=tuple(str(c) for c in data.get("categories") or ()),
            group=group,
            statuses=tuple(s for s in data.get("statuses") or () if s in STATUSES),
            sources=tuple(s for s in data.get("sources") or () if s in SOURCES),
        )

    def to_store(self) -> dict[str, Any]:
        return asdict(self)

    def layer_args(self, now: datetime) -> dict[str, Any]:
        """``time_from``, ``time_to`` and ``filters`` for a LayerContext at ``now``."""
        time_from, time_to = time_window(self.window, now, case_timezone(), self.start, self.end)
        filters = {
            "categories": list(self.categories) or None,
            "statuses": expand_statuses(self.group, self.statuses),
            "sources": list(self.sources) or None,
        }
        return {"time_from": time_from, "time_to": time_to, "filters": filters}

    def day_start(self, now: datetime) -> datetime:
        """Today's local midnight (for "new today")."""
        local = now.astimezone(ZoneInfo(case_timezone()))
        return local.replace(hour=0, minute=0, second=0, microsecond=0)


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

    return html.Section(
        className="case-filters",
        children=[
            html.H2(t("filter.title", lang), className="panel-title"),
            labelled(
                "filter.window",
                dcc.RadioItems(
                    id=f"{prefix}-case-window",
                    options=[{"label": t(f"window.{w}", lang), "value": w} for w in windows],
                    value=choice.window,
                    className="pill-group",
                    inline=True,
                ),
            ),
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
                dcc.Dropdown(
                    id=f"{prefix}-case-categories",
                    options=category_options(lang),
                    value=list(choice.categories),
                    multi=True,
                    placeholder=t("filter.category_all", lang),
                    className="filter-dropdown",
                ),
            ),
            labelled(
                "filter.status",
                dcc.RadioItems(
                    id=f"{prefix}-case-status-group",
                    options=[
                        {"label": t(f"status_group.{g}", lang), "value": g}
                        for g in ("all", *STATUS_GROUPS)
                    ],
                    value=choice.group,
                    className="pill-group",
                    inline=True,
                ),
            ),
            html.Div(
                dcc.Dropdown(
                    id=f"{prefix}-case-statuses",
                    options=[{"label": t(f"case.status.{s}", lang), "value": s} for s in STATUSES],
                    value=list(choice.statuses),
                    multi=True,
                    placeholder=t("filter.status_detail", lang),
                    className="filter-dropdown",
                ),
                className="filter-row",
            ),
            labelled(
                "filter.source",
                dcc.Dropdown(
                    id=f"{prefix}-case-sources",
                    options=[{"label": t(f"case.source.{s}", lang), "value": s} for s in SOURCES],
                    value=list(choice.sources),
                    multi=True,
                    placeholder=t("filter.source_all", lang),
                    className="filter-dropdown",
                ),
            ),
        ],
    )


def control_inputs(prefix: str) -> list[tuple[str, str]]:
    """(component id, property) of the panel's controls, in :data:`CONTROLS` order."""
    return [(f"{prefix}-{suffix}", prop) for suffix, prop in CONTROLS.values()]
