"""The grid detail panel: people, households, vulnerable groups, building units, cameras
online, open and overdue cases, patrol coverage and service coverage of one grid."""

from __future__ import annotations

from dash import html

from gridmap.i18n import t
from gridmap.settings import get_settings
from gridmap.web.services.lead.figures import GridFigures
from gridmap.web.services.lead.selection import GridRow

#: Most grid names a selection's summary lists.
NAMES_SHOWN = 8


def _pct(share: float | None, lang: str) -> str:
    return t("lead.not_computed", lang) if share is None else f"{100 * share:.1f}%"


def _row(key: str, value: str, lang: str, name: str) -> html.Div:
    return html.Div(
        className="lead-figure",
        children=[
            html.Dt(t(key, lang)),
            html.Dd(value, id=f"lead-fig-{name}"),
        ],
    )


def _figures(fig: GridFigures, lang: str) -> list[tuple[str, str, str]]:
    """(label key, value, id suffix) of each figure."""
    return [
        ("field.population", f"{fig.population:,}", "population"),
        ("field.households", f"{fig.households:,}", "households"),
        ("lead.elderly_alone", f"{fig.elderly_alone:,}", "elderly_alone"),
        ("lead.disabled", f"{fig.disabled:,}", "disabled"),
        ("lead.low_income", f"{fig.low_income:,}", "low_income"),
        ("lead.buildings", f"{fig.buildings:,}", "buildings"),
        ("lead.cameras_online", f"{fig.cameras_online:,} / {fig.cameras_total:,}", "cameras"),
        ("lead.cases_open", f"{fig.cases_open:,}", "cases_open"),
        ("lead.cases_overdue", f"{fig.cases_overdue:,}", "cases_overdue"),
        (
            "lead.patrol",
            _pct(fig.patrol_share, lang),
            "patrol",
        ),
        ("lead.service", _pct(fig.service_share, lang), "service"),
    ]


def grid_panel(row: GridRow | None, fig: GridFigures | None, lang: str) -> list:
    """The panel's children for a grid (a helpful note when there is none)."""
    if row is None or fig is None:
        return [html.P(t("lead.pick_grid", lang), className="lead-empty")]
    return [
        html.H2(row.grid_name, className="lead-detail-title", id="lead-detail-name"),
        html.P(
            f"{row.district_name} · {row.street_name} · {row.community_name} · {row.grid_code}",
            className="lead-detail-path",
        ),
        *_figure_list(fig, lang),
    ]


def selection_panel(rows: list[GridRow], fig: GridFigures | None, lang: str) -> list:
    """The panel's children for several grids selected together (a box or lasso on the
    map): how many, their names, and their figures added up (``fig`` None: too many grids
    to add up in one request — the count and names only)."""
    shown = rows[:NAMES_SHOWN]
    names = " · ".join(row.grid_name for row in shown) + (" …" if len(rows) > len(shown) else "")
    return [
        html.H2(
            t("lead.selection_title", lang, count=f"{len(rows):,}"),
            className="lead-detail-title",
            id="lead-detail-name",
        ),
        html.P(names, className="lead-detail-path", id="lead-detail-grids"),
        *(_figure_list(fig, lang) if fig is not None else []),
        html.P(t("lead.selection_hint", lang), className="lead-detail-note"),
    ]


def _figure_list(fig: GridFigures, lang: str) -> list:
    settings = get_settings()
    return [
        html.Dl([_row(k, v, lang, n) for k, v, n in _figures(fig, lang)], className="lead-figures"),
        html.P(
            t(
                "lead.figures_note",
                lang,
                window=settings.lead_patrol_window,
                minutes=f"{settings.lead_service_minutes:g}",
                kind=t(f"service.{settings.lead_service_kind}", lang),
            ),
            className="lead-detail-note",
        ),
    ]
